//! `migrator bench --http`: how long the operations server takes to answer on the database as
//! it is (run it on a 10M-item database): the server is started in-process on a free loopback
//! port, and each of `/api/v1/status`, `/metrics` and the overview `/` is fetched `rounds` times
//! in a row over real HTTP after one unmeasured fetch. The background phase snapshot is computed
//! first, and its own time is reported beside (it is what a refresh costs, off the request path).

use super::HttpError;
use crate::config::Settings;
use crate::store::Store;
use serde::Serialize;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The pages measured.
const PATHS: [&str; 3] = ["/api/v1/status", "/metrics", "/"];

/// One page's answer times.
#[derive(Debug, Clone, Serialize)]
pub struct PageLatency {
    /// The path.
    pub path: String,
    /// Measured fetches.
    pub requests: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
    /// Bytes of the last answer.
    pub bytes: usize,
}

/// What `bench --http` measured.
#[derive(Debug, Clone, Serialize)]
pub struct HttpBenchReport {
    /// Items in the database.
    pub items: u64,
    /// How long the first phase snapshot took to compute (ms).
    pub snapshot_ms: u64,
    /// Per page.
    pub pages: Vec<PageLatency>,
}

/// Errors of the HTTP bench.
#[derive(Debug, thiserror::Error)]
pub enum HttpBenchError {
    /// The server did not start.
    #[error(transparent)]
    Server(#[from] HttpError),
    /// A fetch failed.
    #[error("fetching {path}: {why}")]
    Fetch {
        /// The path.
        path: String,
        /// Why.
        why: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Serves `store` (the database `target` names) in-process and measures `rounds` fetches of each page.
pub async fn measure(
    store: Store,
    target: &str,
    settings: &Settings,
    rounds: usize,
) -> Result<HttpBenchReport, HttpBenchError> {
    let items = store.status().await?.total;
    let cancel = CancellationToken::new();
    let addr = "127.0.0.1:0".parse().expect("a literal address");
    let server = super::start(store, target, settings, addr, true, cancel.clone()).await?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let fetch = |path: &'static str| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let r = http
                .get(&url)
                .send()
                .await
                .map_err(|e| HttpBenchError::Fetch { path: path.into(), why: e.to_string() })?;
            if !r.status().is_success() {
                return Err(HttpBenchError::Fetch { path: path.into(), why: r.status().to_string() });
            }
            let body = r
                .bytes()
                .await
                .map_err(|e| HttpBenchError::Fetch { path: path.into(), why: e.to_string() })?;
            Ok::<usize, HttpBenchError>(body.len())
        }
    };
    // The first snapshot: wait for it, so the pages are measured as they are in steady state.
    let snapshot_ms = loop {
        let phases: serde_json::Value = http
            .get(format!("{base}/api/v1/phases"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| HttpBenchError::Fetch { path: "/api/v1/phases".into(), why: e.to_string() })?
            .json()
            .await
            .map_err(|e| HttpBenchError::Fetch { path: "/api/v1/phases".into(), why: e.to_string() })?;
        if let Some(took) = phases.get("took_ms").and_then(serde_json::Value::as_u64) {
            break took;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut pages = Vec::new();
    for path in PATHS {
        fetch(path).await?;
        let mut times = Vec::with_capacity(rounds);
        let mut bytes = 0;
        for _ in 0..rounds {
            let started = Instant::now();
            bytes = fetch(path).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let last = times.len().saturating_sub(1);
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "an index into a short list"
            )]
            let i = ((last as f64) * q).round() as usize;
            times.get(i).copied().unwrap_or(0.0)
        };
        pages.push(PageLatency {
            path: path.into(),
            requests: times.len(),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: times.last().copied().unwrap_or(0.0),
            bytes,
        });
    }
    cancel.cancel();
    server.stopped().await;
    Ok(HttpBenchReport { items, snapshot_ms, pages })
}
