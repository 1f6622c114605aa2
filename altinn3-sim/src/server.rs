//! The HTTP server: routing as ASP.NET's pipeline orders it (routing → 404/405, `[Consumes]` → 415,
//! then authentication → 401, then model binding → 415/400, then the action), the rate limit, fault
//! injection, call counting, and the public [`Simulator`]/[`RunningSim`] handles.

use crate::bucket::{Buckets, retry_after_secs};
use crate::faults::{Fault, Injector, SimConfig};
use crate::inventory::{Inventory, SimItem, Tables};
use crate::problem::{self, Answer};
use crate::rates::{Endpoint, RateCounter, endpoint_of};
use crate::{attachment, auth, lock, make_available, migration, sync};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// State shared by all requests.
struct Shared {
    /// The expected bearer token (never logged, never echoed).
    token: String,
    /// Faults and their RNG.
    injector: Injector,
    /// The rate limit, if any.
    buckets: Option<Mutex<Buckets>>,
    /// The data.
    store: Mutex<Tables>,
    /// Calls per endpoint.
    rates: Mutex<BTreeMap<Endpoint, RateCounter>>,
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
        let buckets = cfg.faults.rate_limit.and_then(|l| Buckets::new(l, Instant::now())).map(Mutex::new);
        let shared = Shared {
            token: cfg.token,
            buckets,
            injector: Injector::new(cfg.faults, cfg.seed),
            store: Mutex::new(Tables { dialog_job: cfg.dialog_job, ..Tables::default() }),
            rates: Mutex::new(Endpoint::ALL.into_iter().map(|e| (e, RateCounter::default())).collect()),
        };
        Self { shared: Arc::new(shared) }
    }

    /// The HTTP routes (the API and GET `/sim/inventory`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/sim/inventory", get(inventory_handler))
            .fallback(api)
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
        inv.rate_limited = self.shared.buckets.as_ref().map(|b| lock(b).refused()).unwrap_or_default();
        for (ep, r) in lock(&self.shared.rates).iter() {
            inv.calls.insert(ep.name().to_string(), r.calls());
            inv.max_calls_per_second.insert(ep.name().to_string(), r.max_per_second());
            inv.active_ms.insert(ep.name().to_string(), r.active_ms());
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

/// `Content-Type` media type, lower-cased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// Media types `SystemTextJsonInputFormatter` reads.
fn is_json(m: &str) -> bool {
    m == "application/json" || m == "text/json" || (m.starts_with("application/") && m.ends_with("+json"))
}

fn respond(a: Answer) -> Response {
    let mut r = match &a.body {
        Some(b) => {
            let ct = if a.is_problem() {
                "application/problem+json; charset=utf-8"
            } else {
                "application/json; charset=utf-8"
            };
            (a.status, [(header::CONTENT_TYPE, ct)], b.to_string()).into_response()
        }
        None => a.status.into_response(),
    };
    for (k, v) in a.headers {
        if let Ok(v) = v.parse() {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

/// A response whose body fails at once: hyper closes the connection without a complete answer.
fn dropped() -> Response {
    let stream =
        futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("injected drop")) });
    Response::new(Body::from_stream(stream))
}

async fn api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    // Routing: unknown route → 404 with an empty body.
    let Some(ep) = endpoint_of(&path) else { return StatusCode::NOT_FOUND.into_response() };
    let ms = chrono::Utc::now().timestamp_millis();
    lock(&shared.rates).entry(ep).or_default().record(ms);
    if let Some(buckets) = &shared.buckets
        && let Err(wait) = lock(buckets).take(ep, Instant::now())
    {
        return respond(problem::too_many(retry_after_secs(wait), "Rate limit exceeded"));
    }
    let decision = shared.injector.decide();
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    match decision.fault {
        Some(Fault::Error5xx) => return respond(problem::unavailable()),
        Some(Fault::Rate429) => {
            return respond(problem::too_many(shared.injector.faults().retry_after_secs(), "Injected fault"));
        }
        Some(Fault::DropBefore) => return dropped(),
        _ => {}
    }
    if let Some(f) = decision.fault {
        tracing::debug!(fault = f.name(), endpoint = ep.name(), "injecting fault");
    }
    let answer = answer(&shared, ep, &method, &uri, &headers, &body);
    spawn_dialog_jobs(&shared);
    {
        let mut st = lock(&shared.store);
        *st.ledger.responses.entry(format!("{} {}", ep.name(), answer.status.as_u16())).or_insert(0) += 1;
    }
    if decision.fault == Some(Fault::DropAfter) {
        return dropped();
    }
    respond(answer)
}

/// Runs the dialog jobs the call enqueued after their delay, as Hangfire would, whether or not
/// the answer reaches the caller (`dialog_job`).
fn spawn_dialog_jobs(shared: &Arc<Shared>) {
    let (jobs, delay) = {
        let mut st = lock(&shared.store);
        (std::mem::take(&mut st.dialog_jobs), st.dialog_job.delay)
    };
    for cid in jobs {
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            crate::dialog_job::run(&mut lock(&shared.store), cid);
        });
    }
}

fn answer(
    shared: &Shared,
    ep: Endpoint,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let path = uri.path();
    // HTTP method constraint → 405 with `Allow` (all six are [HttpPost]).
    if method != Method::POST {
        return Answer::empty(StatusCode::METHOD_NOT_ALLOWED).with_header("allow", "POST");
    }
    let media = media_type(headers);
    // [Consumes("application/octet-stream")] (MigrationController.cs:66): another type → 415 at
    // routing (before auth); no Content-Type at all is accepted (upstream's own tests send none).
    if ep == Endpoint::Attachment && media.as_deref().is_some_and(|m| m != "application/octet-stream") {
        return Answer::empty(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    if let Err(a) = auth::check(headers, &shared.token) {
        return a;
    }
    // [FromBody] JSON: a type the JSON formatter cannot read (or none) → 415 ([ApiController]).
    if ep != Endpoint::Attachment && !media.as_deref().is_some_and(is_json) {
        return Answer::empty(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let mut store = lock(&shared.store);
    match ep {
        Endpoint::Attachment => attachment::handle(&mut store, path, uri.query(), body),
        Endpoint::Correspondence => migration::handle(&mut store, path, body),
        Endpoint::MakeAvailable => make_available::handle(&mut store, path, body),
        Endpoint::SyncStatus | Endpoint::SyncNotification | Endpoint::SyncForwarding => {
            sync::handle(&mut store, ep, path, body)
        }
    }
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
