//! The operations server (axum): `/healthz`, `/readyz`, Prometheus `/metrics`, the JSON API under
//! `/api/v1` and the dashboard at `/`. `migrator run` starts it beside the daemon (`[http] listen`,
//! default 127.0.0.1:9464, off with `""`); `migrator serve` runs it alone over a database whose
//! daemons run elsewhere.
//!
//! Reading needs nothing; every mutation (retry, cancel, phase pause/resume) needs the operator
//! token (`http.token_file` or `MIGRATOR__HTTP__TOKEN`), as a bearer header on the API or once
//! per browser session on the dashboard. Without a configured token the server is read-only.
//! Counts come from the store's counters, and what would cost a scan (per-phase counts and
//! estimates) from a snapshot refreshed in the background (`http.refresh`), so no request scans
//! `workflows`.

mod api;
mod auth;
pub mod bench;
mod dashboard;
mod problem;
mod scrape;
mod snapshot;

use crate::config::Settings;
use crate::phase::Phase;
use crate::store::Store;
use axum::Router;
use axum::routing::get;
use chrono_tz::Tz;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workers::a3::Secret;

pub(crate) use snapshot::Snapshot;

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The address could not be bound.
    #[error("cannot listen on {addr} (http.listen): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The token file could not be read.
    #[error(transparent)]
    Token(#[from] crate::config::ConfigError),
    /// The snapshot's read-only connection could not be opened.
    #[error(transparent)]
    Reader(#[from] crate::db::DbOpenError),
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct App(Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) store: Store,
    /// What the background snapshot reads through: on SQLite a read-only connection of its own,
    /// else the same store.
    pub(crate) reader: Store,
    pub(crate) phases: Vec<Phase>,
    pub(crate) tz: Tz,
    pub(crate) token: Option<Secret>,
    pub(crate) sessions: auth::Sessions,
    pub(crate) snapshot: Snapshot,
    /// Wakes the snapshot's refresh early.
    pub(crate) wake: tokio::sync::Notify,
    /// True in `migrator serve`: no engine runs in this process, so its metrics are only the
    /// database's.
    pub(crate) standalone: bool,
}

impl std::ops::Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// The address it listens on (the port is the real one when the config said 0).
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Waits until the server has stopped (after its cancellation token fired).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// Binds `listen` and serves `store` (the database `target` names) until `cancel` fires.
/// `standalone`: `migrator serve`.
pub async fn start(
    store: Store,
    target: &str,
    settings: &Settings,
    listen: SocketAddr,
    standalone: bool,
    cancel: CancellationToken,
) -> Result<Running, HttpError> {
    let token = settings.http.token()?;
    let reader = if store.backend() == sea_orm::DbBackend::Sqlite {
        let conn = crate::db::open_existing(target).await?;
        store.with_connection(conn)
    } else {
        store.clone()
    };
    let listener =
        TcpListener::bind(listen).await.map_err(|source| HttpError::Bind { addr: listen, source })?;
    let addr = listener.local_addr().map_err(|source| HttpError::Bind { addr: listen, source })?;
    scrape::install();
    let app = App(Arc::new(Inner {
        store,
        reader,
        phases: settings.phases.clone(),
        tz: settings.time_zone,
        token,
        sessions: auth::Sessions::default(),
        snapshot: Snapshot::default(),
        wake: tokio::sync::Notify::new(),
        standalone,
    }));
    tokio::spawn(snapshot::refresh(app.clone(), settings.http.refresh, cancel.clone()));
    let router = router(app);
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router).with_graceful_shutdown(cancel.cancelled_owned()).await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the operations server stopped");
        }
    });
    tracing::info!(%addr, "operations server listening");
    Ok(Running { addr, task })
}

/// Every route.
fn router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(scrape::metrics))
        .nest("/api/v1", api::routes())
        .merge(dashboard::routes())
        .with_state(app)
}

/// Ready when the database answers and its schema is this binary's.
async fn ready(axum::extract::State(app): axum::extract::State<App>) -> (axum::http::StatusCode, String) {
    use axum::http::StatusCode;
    use sea_orm_migration::MigratorTrait;
    let expected = schema::Migrator::migrations().len();
    match tokio::time::timeout(Duration::from_secs(5), app.store.applied_migrations()).await {
        Ok(Ok(n)) if n == expected => (StatusCode::OK, "ready\n".into()),
        Ok(Ok(n)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database has {n} of this binary's {expected} migrations (run `migrator migrate`)\n"),
        ),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("the database fails: {e}\n")),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the database did not answer within 5 s\n".into()),
    }
}
