//! The Altinn 3 migration API client: bearer token, timeouts, a rate limit and a concurrency limit
//! per endpoint, and every failure classified. 429s set the endpoint's pace (see [`super::pacer`]:
//! a rate learnt from the share of refused calls, so random 429s do not slow it and a real limit
//! is kept to); the item itself waits for Retry-After, rescheduled by the engine. Transient
//! failures are retried in the call, as the real migration service did.

use super::failure::{Failure, classify_status, classify_transport, parse_retry_after};
use super::model::*;
use super::pacer::{PaceStats, Pacer, TOLERANCE, Verdict};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use uuid::Uuid;

/// The migration API's base path.
pub const BASE_PATH: &str = "correspondence/api/v1/migration";

/// A bearer token. It has no `Display`, and its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into().trim().to_string())
    }

    /// Reads a token from a file (trailing whitespace ignored). The error names the file, never
    /// its content.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<Self> {
        let token = std::fs::read_to_string(path).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot read token file {}: {e}", path.display()))
        })?;
        Ok(Self::new(token))
    }

    /// The token itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The six endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// POST attachment.
    Attachment,
    /// POST correspondence.
    Correspondence,
    /// POST makemigratedcorrespondenceavailable.
    MakeAvailable,
    /// POST correspondence/syncStatusEvent.
    SyncStatus,
    /// POST correspondence/syncNotificationEvent.
    SyncNotification,
    /// POST correspondence/syncForwardingEvent.
    SyncForwarding,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 6] = [
        Self::Attachment,
        Self::Correspondence,
        Self::MakeAvailable,
        Self::SyncStatus,
        Self::SyncNotification,
        Self::SyncForwarding,
    ];

    /// Path below the base path.
    pub fn path(self) -> &'static str {
        match self {
            Self::Attachment => "attachment",
            Self::Correspondence => "correspondence",
            Self::MakeAvailable => "makemigratedcorrespondenceavailable",
            Self::SyncStatus => "correspondence/syncStatusEvent",
            Self::SyncNotification => "correspondence/syncNotificationEvent",
            Self::SyncForwarding => "correspondence/syncForwardingEvent",
        }
    }

    /// Name in logs, errors and config.
    pub fn name(self) -> &'static str {
        match self {
            Self::Attachment => "attachment",
            Self::Correspondence => "correspondence",
            Self::MakeAvailable => "make_available",
            Self::SyncStatus => "sync_status",
            Self::SyncNotification => "sync_notification",
            Self::SyncForwarding => "sync_forwarding",
        }
    }
}

/// Limits for one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Limit {
    /// Calls per second (0 = unlimited).
    pub per_second: u32,
    /// Calls allowed in a burst above the rate.
    pub burst: u32,
    /// Calls in flight at once.
    pub concurrency: usize,
}

impl Default for Limit {
    fn default() -> Self {
        Self { per_second: 0, burst: 1, concurrency: 32 }
    }
}

/// How to reach A3.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Scheme, host and port, e.g. `https://platform.altinn.no` (the base path is added).
    pub base_url: String,
    /// Bearer token with scope `altinn:correspondence.migrate`.
    pub token: Secret,
    /// Timeout of one call.
    pub timeout: Duration,
    /// Limits per endpoint; missing ones use `default_limit`.
    pub limits: BTreeMap<Endpoint, Limit>,
    /// Limits of endpoints not in `limits`.
    pub default_limit: Limit,
}

/// One endpoint's limits: the configured rate and concurrency, and the pace learnt from 429s.
struct Gate {
    rate: Option<DefaultDirectRateLimiter>,
    /// Calls in flight, at most the configured concurrency.
    slots: Semaphore,
    /// When the next call may start (see [`Pacer`]).
    pacer: Mutex<Pacer>,
    /// The queue of calls waiting for the pace.
    turn: tokio::sync::Mutex<()>,
}

impl Gate {
    fn pacer(&self) -> std::sync::MutexGuard<'_, Pacer> {
        self.pacer.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The A3 client. Cheap to clone.
#[derive(Clone)]
pub struct A3Client {
    http: reqwest::Client,
    base: String,
    /// Shared by every clone, so a new token reaches every step at once ([`A3Client::set_token`]).
    token: Arc<RwLock<Secret>>,
    gates: Arc<BTreeMap<Endpoint, Gate>>,
}

impl std::fmt::Debug for A3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("A3Client").field("base", &self.base).field("token", &self.token).finish()
    }
}

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the A3 HTTP client: {0}")]
pub struct ClientBuildError(String);

impl A3Client {
    /// A client for `cfg`.
    pub fn new(cfg: ClientConfig) -> Result<Self, ClientBuildError> {
        // One process-wide TLS provider (ring); installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ClientBuildError(e.to_string()))?;
        let gates = Endpoint::ALL
            .into_iter()
            .map(|ep| {
                let limit = cfg.limits.get(&ep).copied().unwrap_or(cfg.default_limit);
                let rate = NonZeroU32::new(limit.per_second).map(|r| {
                    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
                    RateLimiter::direct(Quota::per_second(r).allow_burst(burst))
                });
                let slots = Semaphore::new(limit.concurrency.max(1));
                let pacer = Mutex::new(Pacer::new(Instant::now()));
                let gate = Gate { rate, slots, pacer, turn: tokio::sync::Mutex::new(()) };
                (ep, gate)
            })
            .collect();
        let base = format!("{}/{BASE_PATH}", cfg.base_url.trim_end_matches('/'));
        Ok(Self { http, base, token: Arc::new(RwLock::new(cfg.token)), gates: Arc::new(gates) })
    }

    /// Sends `token` from now on, from this client and every clone of it (after A3 refused the
    /// old one and the operator put a new one in the token file).
    pub fn set_token(&self, token: Secret) {
        *self.token.write().unwrap_or_else(std::sync::PoisonError::into_inner) = token;
    }

    /// Uploads one attachment; A3 answers with its id (the same id again for a known A2 attachment id).
    pub async fn upload_attachment(
        &self,
        query: &AttachmentUploadQuery,
        bytes: Vec<u8>,
    ) -> Result<Uuid, Failure> {
        self.call(Endpoint::Attachment, |rb| {
            rb.query(query)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes.clone())
        })
        .await
    }

    /// Migrates one correspondence.
    pub async fn migrate(
        &self,
        body: &MigrateCorrespondenceExt,
    ) -> Result<MigrateCorrespondenceResponse, Failure> {
        self.call(Endpoint::Correspondence, |rb| rb.json(body)).await
    }

    /// Makes migrated correspondences available (creates their dialogs, silently).
    pub async fn make_available(&self, ids: &[Uuid]) -> Result<MakeAvailableResponse, Failure> {
        let body = MakeAvailableRequest {
            correspondence_ids: Some(ids.to_vec()),
            create_events: false,
            ..MakeAvailableRequest::default()
        };
        self.call(Endpoint::MakeAvailable, |rb| rb.json(&body)).await
    }

    /// Replays status events.
    pub async fn sync_status(&self, body: &SyncStatusEventRequest) -> Result<Uuid, Failure> {
        self.call(Endpoint::SyncStatus, |rb| rb.json(body)).await
    }

    /// Replays notification events.
    pub async fn sync_notification(&self, body: &SyncNotificationEventRequest) -> Result<Uuid, Failure> {
        self.call(Endpoint::SyncNotification, |rb| rb.json(body)).await
    }

    /// Replays forwarding events.
    pub async fn sync_forwarding(&self, body: &SyncForwardingEventRequest) -> Result<Uuid, Failure> {
        self.call(Endpoint::SyncForwarding, |rb| rb.json(body)).await
    }

    /// One call with the real migration service's HTTP retries: a transient failure is tried
    /// again at once after 100, 200 and 400 ms, so one 503 does not cost the item a whole attempt.
    /// Safe because every A3 call is idempotent.
    async fn call<T: DeserializeOwned>(
        &self,
        ep: Endpoint,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<T, Failure> {
        let mut pause = Duration::from_millis(100);
        for _ in 0..3 {
            match self.call_once(ep, &build).await {
                Err(Failure::Retryable(e)) => {
                    tracing::debug!(endpoint = ep.name(), error = %e, "retrying at once");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                other => return other,
            }
        }
        self.call_once(ep, &build).await
    }

    /// What each endpoint's pacer is doing.
    pub fn pace(&self) -> BTreeMap<Endpoint, PaceStats> {
        self.gates.iter().map(|(ep, gate)| (*ep, gate.pacer().stats())).collect()
    }

    /// One call through the endpoint's gate (concurrency, configured rate, learnt pace), classified.
    async fn call_once<T: DeserializeOwned>(
        &self,
        ep: Endpoint,
        build: &impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<T, Failure> {
        let gate = &self.gates[&ep];
        let _slot = gate.slots.acquire().await.map_err(|_| Failure::Retryable("client closed".into()))?;
        if let Some(rate) = &gate.rate {
            rate.until_ready().await;
        }
        let ticket = {
            // One caller at a time waits for the pace (a fair queue), so it wakes no herd.
            let _turn = gate.turn.lock().await;
            loop {
                let asked = gate.pacer().start(Instant::now());
                match asked {
                    Ok(ticket) => break ticket,
                    Err(later) => tokio::time::sleep_until(later.into()).await,
                }
            }
        };
        let result = self.send::<T>(ep, build).await;
        let verdict = match &result {
            Ok(_) | Err(Failure::Invalid(_) | Failure::Permanent(_)) => Verdict::Accepted,
            Err(Failure::RateLimited { retry_after, .. }) => Verdict::Refused(*retry_after),
            Err(Failure::Retryable(_) | Failure::Refused(_)) => Verdict::Neutral,
        };
        let (before, after) = {
            let mut pacer = gate.pacer();
            let before = pacer.stats();
            pacer.end(ticket, verdict, Instant::now());
            (before, pacer.stats())
        };
        if after.rate != before.rate
            && let Some(rate) = after.rate
        {
            crate::telemetry::pace(ep.name(), rate);
        }
        if after.decreases > before.decreases {
            tracing::info!(
                endpoint = ep.name(),
                calls_per_second = after.rate.unwrap_or_default(),
                "A3 refused more than {:.0}% of our calls; slowing down",
                TOLERANCE * 100.0
            );
        }
        result
    }

    /// One HTTP request, counted once in the metrics whatever its end (see [`crate::telemetry`]):
    /// by its status once an answer came, as `error` if none did.
    async fn send<T: DeserializeOwned>(
        &self,
        ep: Endpoint,
        build: &impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<T, Failure> {
        let url = format!("{}/{}", self.base, ep.path());
        let token = self.token.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let rb = build(self.http.post(&url)).bearer_auth(token.expose());
        let sent = Instant::now();
        let resp = match rb.send().await {
            Ok(resp) => resp,
            Err(e) => {
                crate::telemetry::request(ep.name(), None, sent.elapsed());
                return Err(classify_transport(ep.name(), &e));
            }
        };
        let status = resp.status();
        let result = if status.is_success() {
            resp.json::<T>().await.map_err(|e| classify_transport(ep.name(), &e))
        } else {
            let retry_after = parse_retry_after(
                resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()),
            );
            let body = resp.text().await.unwrap_or_default();
            Err(classify_status(ep.name(), status.as_u16(), retry_after, &body))
        };
        crate::telemetry::request(ep.name(), Some(status.as_u16()), sent.elapsed());
        result
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
