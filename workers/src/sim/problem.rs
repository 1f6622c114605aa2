//! The simulator's error answers, written as A3 writes them: RFC 7807 problem details
//! (`application/problem+json`), never echoing the token.

use crate::a3::model::ProblemDetails;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

/// An error answer of the simulated API.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400: invalid content.
    #[error("bad request: {detail}")]
    BadRequest {
        /// What is wrong.
        detail: String,
        /// By field.
        errors: BTreeMap<String, Vec<String>>,
    },
    /// 401: missing or wrong bearer token.
    #[error("unauthorized")]
    Unauthorized,
    /// 404: unknown correspondence.
    #[error("not found: {0}")]
    NotFound(String),
    /// 415: a JSON endpoint called without a JSON content type.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 413: the body is over the simulator's limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 500: one of A3's traps (the detail stays in the inventory's violations, as in A3's logs).
    #[error("internal server error")]
    Internal,
    /// 503: injected.
    #[error("service unavailable")]
    Unavailable,
    /// 429: injected.
    #[error("too many requests")]
    TooManyRequests {
        /// `Retry-After`, seconds.
        retry_after_secs: u64,
    },
}

impl ApiError {
    /// 400 with one field error.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::BadRequest {
            detail: "One or more validation errors occurred.".into(),
            errors: BTreeMap::from([(field.to_string(), vec![message])]),
        }
    }

    /// 400 with a detail and no field errors.
    pub(crate) fn bad(detail: impl Into<String>) -> Self {
        Self::BadRequest { detail: detail.into(), errors: BTreeMap::new() }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn problem(&self) -> ProblemDetails {
        let status = self.status();
        let (kind, detail, errors) = match self {
            Self::BadRequest { detail, errors } => {
                ("https://tools.ietf.org/html/rfc9110#section-15.5.1", Some(detail.clone()), errors.clone())
            }
            Self::Unauthorized => {
                ("https://tools.ietf.org/html/rfc9110#section-15.5.2", None, BTreeMap::new())
            }
            Self::NotFound(d) => {
                ("https://tools.ietf.org/html/rfc9110#section-15.5.5", Some(d.clone()), BTreeMap::new())
            }
            Self::UnsupportedMediaType => {
                ("https://tools.ietf.org/html/rfc9110#section-15.5.16", None, BTreeMap::new())
            }
            Self::PayloadTooLarge => {
                ("https://tools.ietf.org/html/rfc9110#section-15.5.14", None, BTreeMap::new())
            }
            Self::Internal => (
                "https://tools.ietf.org/html/rfc9110#section-15.6.1",
                Some("An error occurred while processing your request.".to_string()),
                BTreeMap::new(),
            ),
            Self::Unavailable => {
                ("https://tools.ietf.org/html/rfc9110#section-15.6.4", None, BTreeMap::new())
            }
            Self::TooManyRequests { .. } => {
                ("https://tools.ietf.org/html/rfc6585#section-4", None, BTreeMap::new())
            }
        };
        ProblemDetails {
            kind: Some(kind.to_string()),
            title: Some(status.canonical_reason().unwrap_or("Error").to_string()),
            status: Some(status.as_u16()),
            detail,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match self {
            Self::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            _ => {}
        }
        resp
    }
}
