//! Every failure of a call to Altinn 3, classified: retry it, slow down, stop, or (our
//! credentials refused) pause the run.

use super::model::ProblemDetails;
use crate::StepOutcome;
use std::time::Duration;

/// What went wrong with a call, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// Transient (timeout, connection, 408, 5xx): retry later.
    #[error("{0}")]
    Retryable(String),
    /// 401/403: A3 refuses our credentials (a wrong or expired token, or one without the
    /// migrate scope). It says nothing about the item, and every other item would get the same
    /// answer: the engine puts the item back without counting an attempt and pauses the work.
    #[error("{0}")]
    Refused(String),
    /// 429: wait at least `retry_after`, and slow the endpoint down.
    #[error("{error} (retry after {}s)", retry_after.as_secs())]
    RateLimited {
        /// What A3 said.
        error: String,
        /// How long A3 asked us to wait.
        retry_after: Duration,
    },
    /// Will not succeed by retrying (404, other 4xx).
    #[error("{0}")]
    Permanent(String),
    /// A3 says the content is invalid (400): the item is rejected with the reason.
    #[error("{0}")]
    Invalid(String),
}

impl From<Failure> for StepOutcome {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Retryable(e) => StepOutcome::Retryable(e),
            Failure::Refused(e) => StepOutcome::Refused(e),
            Failure::RateLimited { error, retry_after } => StepOutcome::RateLimited { error, retry_after },
            Failure::Permanent(e) => StepOutcome::Permanent(e),
            Failure::Invalid(e) => StepOutcome::Invalid(e),
        }
    }
}

/// Retry-After when A3 gives none.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Classifies a non-2xx answer. `body` is the response text (problem details when A3 sent them).
pub fn classify_status(endpoint: &str, status: u16, retry_after: Option<Duration>, body: &str) -> Failure {
    let detail = serde_json::from_str::<ProblemDetails>(body)
        .ok()
        .map(|p| p.summary())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| body.chars().take(300).collect());
    let msg = format!("{endpoint}: HTTP {status}{}{detail}", if detail.is_empty() { "" } else { ": " });
    match status {
        400 | 422 => Failure::Invalid(msg),
        429 => Failure::RateLimited { error: msg, retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER) },
        401 | 403 => Failure::Refused(format!("{msg} (check the A3 token and its scope)")),
        408 | 425 => Failure::Retryable(msg),
        500..=599 => Failure::Retryable(msg),
        _ => Failure::Permanent(msg),
    }
}

/// Classifies a transport error (no HTTP answer, or an answer cut off).
pub fn classify_transport(endpoint: &str, e: &reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "answer cut off or unreadable"
    } else {
        "request failed"
    };
    // reqwest's message names the URL (never the token, which travels in a header).
    Failure::Retryable(format!("{endpoint}: {kind}: {e}"))
}

/// Parses a Retry-After header given in seconds (the HTTP-date form is treated as absent).
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value.and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        let problem =
            r#"{"type":"x","title":"Validation failed","status":400,"errors":{"messageTitle":["too long"]}}"#;
        let cases: &[(u16, Option<u64>, &str, &str)] = &[
            (400, None, problem, "invalid"),
            (422, None, "", "invalid"),
            (401, None, "", "refused"),
            (403, None, "", "refused"),
            (404, None, "", "permanent"),
            (405, None, "", "permanent"),
            (408, None, "", "retryable"),
            (409, None, "", "permanent"),
            (429, Some(7), "", "rate_limited:7"),
            (429, None, "", "rate_limited:1"),
            (500, None, "", "retryable"),
            (502, None, "", "retryable"),
            (503, None, "", "retryable"),
            (504, None, "", "retryable"),
        ];
        for (status, after, body, want) in cases {
            let got = match classify_status("correspondence", *status, after.map(Duration::from_secs), body) {
                Failure::Retryable(_) => "retryable".to_string(),
                Failure::Refused(_) => "refused".to_string(),
                Failure::RateLimited { retry_after, .. } => format!("rate_limited:{}", retry_after.as_secs()),
                Failure::Permanent(_) => "permanent".to_string(),
                Failure::Invalid(_) => "invalid".to_string(),
            };
            assert_eq!(&got, want, "HTTP {status}");
        }
        let Failure::Invalid(msg) = classify_status("correspondence", 400, None, problem) else { panic!() };
        assert!(msg.contains("Validation failed") && msg.contains("messageTitle: too long"), "{msg}");
        // A refusal names the endpoint, the status and what to do; the step turns it into the
        // outcome that pauses the run instead of spending the item's attempts.
        let refused = classify_status("make_available", 403, None, "");
        let Failure::Refused(msg) = &refused else { panic!("{refused:?}") };
        assert_eq!(msg, "make_available: HTTP 403 (check the A3 token and its scope)");
        assert!(matches!(StepOutcome::from(refused), StepOutcome::Refused(_)));
    }

    #[test]
    fn retry_after_header() {
        assert_eq!(parse_retry_after(Some(" 3 ")), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT")), None);
        assert_eq!(parse_retry_after(None), None);
    }

    #[tokio::test]
    async fn transport_errors_are_retryable() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Nothing listens on port 1: a connection error.
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        let e = client.get("http://127.0.0.1:1/").send().await.unwrap_err();
        assert!(
            matches!(classify_transport("attachment", &e), Failure::Retryable(m) if m.contains("connection failed"))
        );
        // A listener that never answers: a timeout.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _hold = tokio::spawn(async move {
            let (_sock, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
        });
        let quick = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
        let e = quick.get(format!("http://{addr}/")).send().await.unwrap_err();
        assert!(
            matches!(classify_transport("attachment", &e), Failure::Retryable(m) if m.contains("timed out"))
        );
    }
}
