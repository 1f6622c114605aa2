//! The client's metrics against a tiny server that answers each endpoint with a fixed status:
//! every request that reaches the server is counted once under its endpoint and status (in-call
//! retries included), 429s are counted apart, failed connections count as `error`, and the
//! pacer's new pace is set as a gauge. Recorded into a recorder local to the test's thread.

use super::*;
use crate::telemetry::{A3_CONCURRENCY, A3_RATE_LIMITED, A3_REQUEST_DURATION, A3_REQUESTS};
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;
use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters, gauges and histogram counts by `name{label=value,…}` (labels sorted).
#[derive(Default)]
struct Recorded(Mutex<BTreeMap<String, Arc<AtomicU64>>>);

/// A histogram that counts what it is given.
struct Observations(Arc<AtomicU64>);

impl HistogramFn for Observations {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl Recorded {
    fn slot(&self, key: &Key) -> Arc<AtomicU64> {
        let mut labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        self.0.lock().unwrap().entry(name).or_default().clone()
    }

    /// The value under `name{labels}`, if anything was recorded there.
    fn get(&self, name: &str, labels: &str) -> Option<u64> {
        self.0.lock().unwrap().get(&format!("{name}{{{labels}}}")).map(|v| v.load(Ordering::Relaxed))
    }

    /// Like [`Recorded::get`], 0 when nothing was recorded.
    fn count(&self, name: &str, labels: &str) -> u64 {
        self.get(name, labels).unwrap_or(0)
    }

    /// Every key of metric `name`.
    fn keys(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}{{");
        self.0.lock().unwrap().keys().filter(|k| k.starts_with(&prefix)).cloned().collect()
    }
}

impl Recorder for Recorded {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.slot(key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.slot(key))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Observations(self.slot(key))))
    }
}

/// Serves every endpoint with a fixed status and counts the requests per path.
async fn server() -> (String, Arc<Mutex<BTreeMap<String, u64>>>) {
    let hits: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let seen = hits.clone();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let seen = seen.clone();
        async move {
            let path = uri.path().trim_start_matches(&format!("/{BASE_PATH}/")).to_string();
            *seen.lock().unwrap().entry(path.clone()).or_default() += 1;
            match path.as_str() {
                "makemigratedcorrespondenceavailable" => {
                    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], r#"{"statuses":[]}"#)
                        .into_response()
                }
                "correspondence/syncStatusEvent" => {
                    (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "slow down").into_response()
                }
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}

fn client(base_url: String) -> A3Client {
    A3Client::new(ClientConfig {
        base_url,
        token: Secret::new("t"),
        timeout: Duration::from_secs(5),
        limits: BTreeMap::new(),
        default_limit: Limit::default(),
    })
    .unwrap()
}

#[tokio::test]
async fn every_request_is_counted_once_by_endpoint_and_status() {
    let recorded = Recorded::default();
    let _local = metrics::set_default_local_recorder(&recorded);
    let (base, hits) = server().await;
    let a3 = client(base);

    for _ in 0..2 {
        a3.make_available(&[]).await.unwrap();
    }
    // Six 429s in a row: each counted, none retried in the call, and the pacer slows down.
    let status = SyncStatusEventRequest { correspondence_id: Uuid::nil(), synced_status_events: Vec::new() };
    for _ in 0..6 {
        let e = a3.sync_status(&status).await.unwrap_err();
        assert!(matches!(e, Failure::RateLimited { .. }), "{e:?}");
    }
    // A 500 is retried in the call three times: four requests, each counted.
    let notification = SyncNotificationEventRequest {
        correspondence_id: Uuid::nil(),
        synced_notification_events: Vec::new(),
    };
    assert!(matches!(a3.sync_notification(&notification).await, Err(Failure::Retryable(_))));

    let requests = |labels: &str| recorded.count(A3_REQUESTS, labels);
    assert_eq!(requests("endpoint=make_available,status=200"), 2);
    assert_eq!(requests("endpoint=sync_status,status=429"), 6);
    assert_eq!(requests("endpoint=sync_notification,status=500"), 4);
    assert_eq!(recorded.keys(A3_REQUESTS).len(), 3, "{:?}", recorded.keys(A3_REQUESTS));
    assert_eq!(recorded.count(A3_RATE_LIMITED, "endpoint=sync_status"), 6);
    assert_eq!(recorded.keys(A3_RATE_LIMITED), ["migrator_a3_rate_limited_total{endpoint=sync_status}"]);

    // Our counts per endpoint are the server's, and each request has its latency.
    let served = hits.lock().unwrap().clone();
    for ep in Endpoint::ALL {
        let server_saw = served.get(ep.path()).copied().unwrap_or(0);
        let counted: u64 = recorded
            .keys(A3_REQUESTS)
            .iter()
            .filter(|k| k.contains(&format!("endpoint={},", ep.name())))
            .map(|k| recorded.0.lock().unwrap()[k].load(Ordering::Relaxed))
            .sum();
        assert_eq!(counted, server_saw, "{}", ep.name());
        let timed = recorded.count(A3_REQUEST_DURATION, &format!("endpoint={}", ep.name()));
        assert_eq!(timed, server_saw, "latencies of {}", ep.name());
    }

    // The sixth refusal judged the epoch: the pace it set is the gauge's value.
    let pace = a3.pace()[&Endpoint::SyncStatus].rate.expect("paced after six refusals in a row");
    let gauge = recorded.get(A3_CONCURRENCY, "endpoint=sync_status").expect("the pace was recorded");
    assert_eq!(f64::from_bits(gauge), pace);
    assert_eq!(recorded.keys(A3_CONCURRENCY).len(), 1, "unpaced endpoints have no gauge");
}

#[tokio::test]
async fn a_request_without_an_answer_counts_as_error() {
    let recorded = Recorded::default();
    let _local = metrics::set_default_local_recorder(&recorded);
    // A port that was free a moment ago: the connection is refused.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let a3 = client(format!("http://{addr}"));
    assert!(matches!(a3.make_available(&[]).await, Err(Failure::Retryable(_))));
    // The first try and three in-call retries.
    assert_eq!(recorded.count(A3_REQUESTS, "endpoint=make_available,status=error"), 4);
    assert_eq!(recorded.keys(A3_REQUESTS).len(), 1);
    assert!(recorded.keys(A3_RATE_LIMITED).is_empty());
    assert_eq!(recorded.count(A3_REQUEST_DURATION, "endpoint=make_available"), 4);
}
