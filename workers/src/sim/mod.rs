//! The Altinn 3 simulator: an HTTP server that answers the migration API as the real A3 does
//! (validation, 500 traps, idempotency by A2 id, event dedup to the second, make-available with one
//! status per id), injects faults (latency, 503, 429, dropped connections) from a seeded RNG, and
//! reports what it holds and what it saw as an [`Inventory`] (also at GET `/sim/inventory`).
//!
//! Routes: POST `/correspondence/api/v1/migration/{attachment, correspondence,
//! makemigratedcorrespondenceavailable, correspondence/syncStatusEvent,
//! correspondence/syncNotificationEvent, correspondence/syncForwardingEvent}` (paths match
//! case-insensitively, as ASP.NET routes do), each needing `Authorization: Bearer <token>`; and
//! GET `/sim/inventory` without auth and without faults.

mod faults;
mod handlers;
mod problem;
mod rates;
mod state;
mod traps;

#[cfg(test)]
mod tests;

pub use faults::{FaultCounts, Faults, SimConfig};
pub use state::{EventCounts, Inventory, SimItem};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use faults::Injector;
use rates::{Endpoint, RateCounter};
use state::{Store, lock};

/// State shared by all requests.
pub(crate) struct Shared {
    /// The expected bearer token (never logged, never echoed).
    token: String,
    /// Faults and their RNG.
    injector: Injector,
    /// The data.
    store: Mutex<Store>,
    /// Calls per endpoint.
    rates: Mutex<BTreeMap<Endpoint, RateCounter>>,
}

impl Shared {
    /// Counts one call of `ep`, arriving now.
    fn record_call(&self, ep: Endpoint) {
        let second = chrono::Utc::now().timestamp();
        lock(&self.rates).entry(ep).or_default().record(second);
    }
}

/// The simulator: a cheaply cloneable handle to its shared state.
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("faults", self.shared.injector.faults()).finish_non_exhaustive()
    }
}

impl Simulator {
    /// A simulator with empty state.
    pub fn new(cfg: SimConfig) -> Self {
        let shared = Shared {
            token: cfg.token,
            injector: Injector::new(cfg.faults, cfg.seed),
            store: Mutex::new(Store::default()),
            rates: Mutex::new(Endpoint::ALL.into_iter().map(|e| (e, RateCounter::default())).collect()),
        };
        Self { shared: Arc::new(shared) }
    }

    /// The HTTP routes (the API and GET `/sim/inventory`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/sim/inventory", get(inventory_handler))
            .fallback(handlers::api)
            .with_state(self.shared.clone())
    }

    /// Serves on `listener` until `shutdown` is cancelled (then finishes in-flight requests).
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
        axum::serve(listener, self.router()).with_graceful_shutdown(shutdown.cancelled_owned()).await
    }

    /// Binds `addr` (use `127.0.0.1:0` for an ephemeral port) and serves in a background task.
    pub async fn start(cfg: SimConfig, addr: SocketAddr) -> std::io::Result<RunningSim> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let sim = Simulator::new(cfg);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(sim.clone().serve(listener, shutdown.clone()));
        tracing::info!(%addr, "A3 simulator listening");
        Ok(RunningSim { addr, base_url: format!("http://{addr}"), sim, shutdown, task })
    }

    /// What the simulator holds and saw.
    pub fn inventory(&self) -> Inventory {
        let mut inv = lock(&self.shared.store).inventory();
        inv.faults_injected = self.shared.injector.counts();
        for (ep, r) in lock(&self.shared.rates).iter() {
            inv.calls.insert(ep.name().to_string(), r.calls());
            inv.max_calls_per_second.insert(ep.name().to_string(), r.max_per_second());
        }
        inv
    }

    /// The correspondence with A2 id `a2_id`, if migrated.
    pub fn item(&self, a2_id: i64) -> Option<SimItem> {
        lock(&self.shared.store).item(a2_id)
    }
}

async fn inventory_handler(State(shared): State<Arc<Shared>>) -> axum::Json<Inventory> {
    axum::Json(Simulator { shared }.inventory())
}

/// A simulator serving in the background (from [`Simulator::start`]).
#[derive(Debug)]
pub struct RunningSim {
    /// The bound address.
    pub addr: SocketAddr,
    /// `http://<addr>`, without a trailing slash: the client's base URL.
    pub base_url: String,
    /// The simulator (for its inventory).
    pub sim: Simulator,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningSim {
    /// Stops serving: waits up to 5 s for in-flight requests, then aborts.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let mut task = self.task;
        match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "A3 simulator stopped with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "A3 simulator task failed"),
            Err(_) => {
                tracing::warn!("A3 simulator did not stop within 5 s; aborting it");
                task.abort();
            }
        }
    }
}
