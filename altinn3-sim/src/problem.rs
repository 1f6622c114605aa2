//! A3's answers: 200 bodies, RFC 7807 problem details for upstream's `Error`s
//! (`Helpers/ProblemDetailsHelper.cs:29-52`), for model validation (`ProblemDetailsHelper.cs:54-99`,
//! wired in `Program.cs:113-116`), and for unhandled exceptions (`SlackExceptionNotificationHandler.cs:49-64`,
//! whose `detail` carries the exception message in Development — the simulator always fills it so
//! tests can see why A3 would fail), plus the bare 401/404/405/415 of ASP.NET's pipeline.

use crate::binding::ModelState;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

/// One of upstream's `Error` records (`Application/Errors.cs:5`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct A3Error {
    /// `ErrorCode`.
    pub code: u32,
    /// `Message`.
    pub message: &'static str,
    /// `StatusCode`.
    pub status: u16,
}

/// `CorrespondenceErrors.CorrespondenceNotFound` (`Errors.cs:8`).
pub(crate) const CORRESPONDENCE_NOT_FOUND: A3Error =
    A3Error { code: 1001, message: "The requested correspondence was not found", status: 404 };
/// `CorrespondenceErrors.MissingContent` (`Errors.cs:23`).
pub(crate) const MISSING_CONTENT: A3Error =
    A3Error { code: 1019, message: "The Content field must be provided for the correspondence", status: 400 };
/// `CorrespondenceErrors.MessageTitleEmpty` (`Errors.cs:24`).
pub(crate) const MESSAGE_TITLE_EMPTY: A3Error =
    A3Error { code: 1020, message: "Message title cannot be empty", status: 400 };
/// `CorrespondenceErrors.InvalidLanguage` (`Errors.cs:27`).
pub(crate) const INVALID_LANGUAGE: A3Error = A3Error {
    code: 1023,
    message: "Invalid language chosen. Supported languages is Norsk bokmål (nb), Nynorsk (nn) and English (en)",
    status: 400,
};
/// `AttachmentErrors.InvalidFileSize("2GB")` (`Errors.cs:72-73`, used at `MigrateAttachmentHandler.cs:28`).
pub(crate) const INVALID_FILE_SIZE: A3Error =
    A3Error { code: 2004, message: "File must have content and has a max file size of 2GB", status: 400 };

/// An HTTP answer before it becomes a response.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// Status code.
    pub status: StatusCode,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    /// 200 with a JSON body.
    pub(crate) fn ok(body: Value) -> Self {
        Self { status: StatusCode::OK, body: Some(body), headers: Vec::new() }
    }

    /// A status with no body (ASP.NET's bare 404/405/415/401).
    pub(crate) fn empty(status: StatusCode) -> Self {
        Self { status, body: None, headers: Vec::new() }
    }

    /// Adds a header.
    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Whether the body is problem details (content type `application/problem+json`).
    pub(crate) fn is_problem(&self) -> bool {
        self.status != StatusCode::OK
    }
}

fn trace_id() -> String {
    let u = uuid::Uuid::now_v7().simple().to_string();
    format!("00-{}-{}-00", &u[..32], &u[..16])
}

/// `(type, title)` by status (`ProblemDetailsHelper.cs:15-27`).
fn type_title(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("https://tools.ietf.org/html/rfc9110#section-15.5.1", "Bad Request"),
        401 => ("https://tools.ietf.org/html/rfc9110#section-15.5.2", "Unauthorized"),
        403 => ("https://tools.ietf.org/html/rfc9110#section-15.5.4", "Forbidden"),
        404 => ("https://tools.ietf.org/html/rfc9110#section-15.5.5", "Not Found"),
        409 => ("https://tools.ietf.org/html/rfc9110#section-15.5.10", "Conflict"),
        502 => ("https://tools.ietf.org/html/rfc9110#section-15.6.3", "Bad Gateway"),
        _ => ("https://tools.ietf.org/html/rfc9110#section-15.6.1", "Internal Server Error"),
    }
}

/// Problem details for an upstream `Error`: `code` is `CORR-` and the code in five digits, `errorCode`
/// the number (`ProblemDetailsHelper.cs:31-46`).
pub(crate) fn error(e: A3Error) -> Answer {
    let (ty, title) = type_title(e.status);
    let body = json!({
        "type": ty,
        "title": title,
        "status": e.status,
        "detail": e.message,
        "code": format!("CORR-{:05}", e.code),
        "errorCode": e.code,
        "traceId": trace_id(),
    });
    Answer {
        status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        body: Some(body),
        headers: Vec::new(),
    }
}

/// Validation problem details: `validationErrors` (one per message, paths with `/`) and the
/// backwards-compatible `errors` dictionary (`ProblemDetailsHelper.cs:56-87`).
pub(crate) fn validation(ms: &ModelState) -> Answer {
    let mut errors: Map<String, Value> = Map::new();
    let mut list = Vec::new();
    for (k, m) in &ms.errors {
        if let Some(Value::Array(a)) = errors.get_mut(k) {
            a.push(json!(m));
        } else {
            errors.insert(k.clone(), json!([m]));
        }
        list.push(json!({ "code": "CORR.VLD-00000", "title": m, "paths": [k.replace('.', "/")] }));
    }
    let (ty, title) = type_title(400);
    let body = json!({
        "type": ty,
        "title": title,
        "status": 400,
        "detail": "One or more validation errors occurred.",
        "code": "STD-00000",
        "validationErrors": list,
        "errors": errors,
        "traceId": trace_id(),
    });
    Answer { status: StatusCode::BAD_REQUEST, body: Some(body), headers: Vec::new() }
}

/// 500 for an exception A3 does not handle; `detail` says what would have thrown.
pub(crate) fn internal(detail: impl Into<String>, path: &str) -> Answer {
    let (ty, title) = type_title(500);
    let body = json!({
        "type": ty,
        "title": title,
        "status": 500,
        "detail": detail.into(),
        "instance": path,
        "traceId": trace_id(),
    });
    Answer { status: StatusCode::INTERNAL_SERVER_ERROR, body: Some(body), headers: Vec::new() }
}

/// 401 of the JwtBearer handler: empty body, `WWW-Authenticate: Bearer` (with `error="invalid_token"`
/// when a token was sent but rejected).
pub(crate) fn unauthorized(token_sent: bool) -> Answer {
    let challenge = if token_sent { "Bearer error=\"invalid_token\"" } else { "Bearer" };
    Answer::empty(StatusCode::UNAUTHORIZED).with_header("www-authenticate", challenge)
}

/// The simulator's own 503 (a fault, not A3 behaviour).
pub(crate) fn unavailable() -> Answer {
    let body = json!({ "type": "https://tools.ietf.org/html/rfc9110#section-15.6.4", "title": "Service Unavailable", "status": 503, "detail": "Injected fault" });
    Answer { status: StatusCode::SERVICE_UNAVAILABLE, body: Some(body), headers: Vec::new() }
}

/// The simulator's own 429 with `Retry-After` (a fault, or the rate limit: `detail` says which).
pub(crate) fn too_many(retry_after_secs: u64, detail: &str) -> Answer {
    let body = json!({ "type": "https://tools.ietf.org/html/rfc6585#section-4", "title": "Too Many Requests", "status": 429, "detail": detail });
    Answer {
        status: StatusCode::TOO_MANY_REQUESTS,
        body: Some(body),
        headers: vec![("retry-after", retry_after_secs.to_string())],
    }
}

/// The message of a `DbUpdateException` from PostgreSQL, as an unhandled exception shows it.
pub(crate) fn db_update_exception(inner: &str) -> String {
    format!(
        "An error occurred while saving the entity changes. See the inner exception for details. ({inner})"
    )
}
