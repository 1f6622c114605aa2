//! The metrics the Altinn 3 client records, through the `metrics` facade: their names (a contract
//! with the alert rules and the dashboard), their help texts, and the recording calls. Kept apart
//! from the client so the names live in one place and whoever installs a recorder (the
//! orchestrator's `/metrics`) can describe them; without a recorder every call is a no-op.
//!
//! Label values are `&'static str` (endpoint names, status codes from [`status_label`]), so a
//! request allocates no `String` for its metrics.

use metrics::Unit;
use std::time::Duration;

/// Every HTTP request the client sends, by `endpoint` and `status` (the code, or `error` when no
/// answer came).
pub const A3_REQUESTS: &str = "migrator_a3_requests_total";
/// 429 answers, by `endpoint`.
pub const A3_RATE_LIMITED: &str = "migrator_a3_rate_limited_total";
/// Request latency, by `endpoint`.
pub const A3_REQUEST_DURATION: &str = "migrator_a3_request_duration_seconds";
/// The pace the adaptive pacer allows an endpoint, by `endpoint`.
pub const A3_CONCURRENCY: &str = "migrator_a3_concurrency";

/// The `status` of a request that got no HTTP answer (connection failed, timed out, cut off
/// before the status line).
pub const NO_ANSWER: &str = "error";

/// Describes the client's metrics to the installed recorder (help text and unit).
pub fn describe() {
    metrics::describe_counter!(
        A3_REQUESTS,
        Unit::Count,
        "HTTP requests sent to Altinn 3, each attempt once (in-call retries included), by endpoint \
         and status (the HTTP status code, or \"error\" when no answer came)"
    );
    metrics::describe_counter!(A3_RATE_LIMITED, Unit::Count, "429 answers from Altinn 3, by endpoint");
    metrics::describe_histogram!(
        A3_REQUEST_DURATION,
        Unit::Seconds,
        "Time from sending a request to Altinn 3 to having read its answer (or given up), by endpoint"
    );
    metrics::describe_gauge!(
        A3_CONCURRENCY,
        Unit::CountPerSecond,
        "Calls per second the adaptive pacer lets an endpoint start, learnt from 429s; set on every \
         change of pace, absent while the endpoint has never been paced"
    );
}

/// Records one request to `endpoint` answered with HTTP `status` (None: no answer) after `took`.
pub(crate) fn request(endpoint: &'static str, status: Option<u16>, took: Duration) {
    let label = status.map_or(NO_ANSWER, status_label);
    metrics::counter!(A3_REQUESTS, "endpoint" => endpoint, "status" => label).increment(1);
    if status == Some(429) {
        metrics::counter!(A3_RATE_LIMITED, "endpoint" => endpoint).increment(1);
    }
    metrics::histogram!(A3_REQUEST_DURATION, "endpoint" => endpoint).record(took);
}

/// Records `endpoint`'s new pace in calls per second.
pub(crate) fn pace(endpoint: &'static str, calls_per_second: f64) {
    metrics::gauge!(A3_CONCURRENCY, "endpoint" => endpoint).set(calls_per_second);
}

/// Every three-digit code, back to back: `"100101102…999"`, built at compile time so a status
/// label is a `&'static str` slice of it.
static CODES: [u8; 2700] = codes();

const fn codes() -> [u8; 2700] {
    let mut out = [0u8; 2700];
    let mut at = 0;
    let mut hundreds = b'1';
    while hundreds <= b'9' {
        let mut tens = b'0';
        while tens <= b'9' {
            let mut units = b'0';
            while units <= b'9' {
                out[at] = hundreds;
                out[at + 1] = tens;
                out[at + 2] = units;
                at += 3;
                units += 1;
            }
            tens += 1;
        }
        hundreds += 1;
    }
    out
}

/// The `status` label of an HTTP status code: its three digits, without allocating (codes
/// outside 100..=999 cannot come from an HTTP answer; they read as [`NO_ANSWER`]).
pub fn status_label(code: u16) -> &'static str {
    let Some(offset) = code.checked_sub(100).map(usize::from).filter(|o| *o < 900) else {
        return NO_ANSWER;
    };
    let at = offset * 3;
    std::str::from_utf8(&CODES[at..at + 3]).unwrap_or(NO_ANSWER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_are_the_codes_digits() {
        for code in 100..=999u16 {
            assert_eq!(status_label(code), code.to_string());
        }
        assert_eq!(status_label(429), "429");
        assert_eq!(status_label(99), NO_ANSWER);
        assert_eq!(status_label(1000), NO_ANSWER);
        assert_eq!(status_label(0), NO_ANSWER);
    }
}
