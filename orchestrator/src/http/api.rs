//! The JSON API under `/api/v1`: what `status`, `plan`, `failures`, `stuck`, `show`, `runs` print,
//! as the same values (`--json` and the API agree), lists paged by keyset (`after` / `before`
//! cursors from the previous page's `next`), and the operator actions behind the bearer token.
//!
//! | | |
//! |---|---|
//! | `GET status` | counts by state and import batch (from the counters) |
//! | `GET phases` | each phase's plan and ETA (the background snapshot, with its age) |
//! | `GET failures?since=1h&limit=50` | Failed and Rejected items grouped by reason |
//! | `GET items?state=&reason=&batch=&after=&limit=` | items, in id order |
//! | `GET items/{id or a2:N}` | one item with its history |
//! | `GET stuck?older_than=10m&after=&limit=` | expired leases and items that do not move |
//! | `GET runs?schedule=&before=&limit=` | schedule runs, newest first |
//! | `GET nodes` | nodes and their heartbeats |
//! | `POST retry`, `POST cancel` | body `{"keys":[…], "state":…, "batch":…, "reason":…}` |
//! | `POST phases/{name}/pause`, `…/resume` | a phase's switch, on every node |

use super::App;
use super::problem::Problem;
use crate::state_machine::Event;
use crate::store::{ItemFilter, OperateReport, Origin, PhaseControl, ReasonMatch, Selection, Selector};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use schema::WorkflowState;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

type Answer = Result<Json<Value>, Problem>;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/status", get(status))
        .route("/phases", get(phases))
        .route("/failures", get(failures))
        .route("/items", get(items))
        .route("/items/{key}", get(item))
        .route("/stuck", get(stuck))
        .route("/runs", get(runs))
        .route("/nodes", get(nodes))
        .route("/retry", post(retry))
        .route("/cancel", post(cancel))
        .route("/phases/{name}/pause", post(pause))
        .route("/phases/{name}/resume", post(resume))
}

fn to_json(v: impl serde::Serialize) -> Answer {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| Problem::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// A duration parameter (`10m`, `1h`), named in the error.
pub(super) fn duration(name: &str, text: &str) -> Result<Duration, Problem> {
    humantime::parse_duration(text)
        .map_err(|e| Problem::bad_request(format!("`{name}`: {text:?} is not a duration ({e})")))
}

/// A state parameter.
pub(super) fn state(text: &str) -> Result<WorkflowState, Problem> {
    text.parse().map_err(|e| Problem::bad_request(format!("`state`: {e}")))
}

async fn status(State(app): State<App>) -> Answer {
    to_json(app.store.status().await?)
}

async fn phases(State(app): State<App>) -> Answer {
    match app.snapshot.phases() {
        Some(view) => to_json(&*view),
        None => Ok(Json(
            json!({ "computed_at": null, "phases": [], "error": "the first snapshot is being computed" }),
        )),
    }
}

#[derive(Deserialize)]
struct FailuresQuery {
    since: Option<String>,
    limit: Option<usize>,
}

async fn failures(State(app): State<App>, Query(q): Query<FailuresQuery>) -> Answer {
    let since = match q.since.as_deref() {
        Some(s) => Some(app.store.clock().now_ms() - crate::clock::millis(duration("since", s)?)),
        None => None,
    };
    to_json(app.store.failures(&Selection::all(), since, Some(q.limit.unwrap_or(100))).await?)
}

#[derive(Deserialize)]
struct ItemsQuery {
    state: Option<String>,
    reason: Option<String>,
    batch: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
}

async fn items(State(app): State<App>, Query(q): Query<ItemsQuery>) -> Answer {
    let filter =
        ItemFilter { state: q.state.as_deref().map(state).transpose()?, reason: q.reason, batch: q.batch };
    let after = q
        .after
        .as_deref()
        .map(|a| {
            uuid::Uuid::parse_str(a)
                .map_err(|_| Problem::bad_request(format!("`after`: {a:?} is not a cursor of this list")))
        })
        .transpose()?;
    to_json(app.store.items_page(&filter, after, q.limit.unwrap_or(100)).await?)
}

/// `items/{key}`: a workflow id, or `a2:<id>`.
async fn item(State(app): State<App>, Path(key): Path<String>) -> Answer {
    let lookup = match key.strip_prefix("a2:") {
        Some(n) if n.parse::<i64>().is_ok() => n.to_string(),
        Some(n) => return Err(Problem::bad_request(format!("{n:?} is not an A2 id"))),
        None if uuid::Uuid::parse_str(&key).is_ok() => key.clone(),
        None => return Err(Problem::bad_request(format!("{key:?} is neither a workflow id nor a2:<A2 id>"))),
    };
    match app.store.show(&lookup).await? {
        Some(item) => to_json(item),
        None => Err(Problem::not_found(format!("no item {key}"))),
    }
}

#[derive(Deserialize)]
struct StuckQuery {
    older_than: Option<String>,
    after: Option<String>,
    limit: Option<u64>,
}

async fn stuck(State(app): State<App>, Query(q): Query<StuckQuery>) -> Answer {
    let older = duration("older_than", q.older_than.as_deref().unwrap_or("10m"))?;
    to_json(
        app.store
            .stalled_page(crate::clock::millis(older), q.after.as_deref(), q.limit.unwrap_or(100))
            .await?,
    )
}

#[derive(Deserialize)]
struct RunsQuery {
    schedule: Option<String>,
    before: Option<i64>,
    limit: Option<u64>,
}

async fn runs(State(app): State<App>, Query(q): Query<RunsQuery>) -> Answer {
    to_json(app.store.runs_page(q.schedule.as_deref(), q.before, q.limit.unwrap_or(100)).await?)
}

async fn nodes(State(app): State<App>) -> Answer {
    to_json(app.store.nodes(24 * 3600 * 1000, 1000).await?)
}

/// The body of `retry` and `cancel`: at least one of them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Selecting {
    #[serde(default)]
    pub(super) keys: Vec<String>,
    pub(super) state: Option<String>,
    pub(super) batch: Option<String>,
    /// A failure group's key, or a part of it that matches one group only.
    pub(super) reason: Option<String>,
}

impl App {
    /// Applies an operator event to the items `sel` selects, recorded as coming from HTTP (the
    /// API and the dashboard's forms both act through here).
    pub(super) async fn operate(&self, sel: Selecting, event: Event) -> Result<OperateReport, Problem> {
        let reason = match sel.reason.as_deref() {
            None => None,
            Some(text) => match self.store.resolve_reason(text).await? {
                ReasonMatch::Exact(k) | ReasonMatch::Unique(k) => Some(k),
                ReasonMatch::Ambiguous(keys) => {
                    return Err(Problem::bad_request(format!(
                        "`reason` {text:?} matches {} groups: {}",
                        keys.len(),
                        keys.join(" ; ")
                    )));
                }
                ReasonMatch::NoMatch => {
                    return Err(Problem::not_found(format!("no failure group matches {text:?}")));
                }
            },
        };
        let selector = Selector {
            keys: sel.keys,
            state: sel.state.as_deref().map(state).transpose()?,
            batch: sel.batch,
            reason,
        };
        let report = self.store.operate(&selector, event, Origin::Http).await?;
        // The overview's failure groups come from the snapshot: show the change at once.
        self.refresh_soon();
        Ok(report)
    }

    /// Pauses or resumes a configured phase, recorded as coming from HTTP.
    pub(super) async fn switch_phase(&self, name: &str, paused: bool) -> Result<PhaseControl, Problem> {
        if !self.phases.iter().any(|p| p.name == name) {
            return Err(Problem::not_found(format!("no phase named {name:?} in the configuration")));
        }
        let c = self.store.set_paused(name, paused, Origin::Http).await?;
        self.refresh_soon();
        Ok(c)
    }
}

/// The selection in a mutation's body, read only after the token was checked (so a request
/// without the token gets 401 whatever its body).
fn selecting(body: &[u8]) -> Result<Selecting, Problem> {
    serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("the body is not a selection: {e}")))
}

async fn retry(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Answer {
    app.require_bearer(&headers)?;
    to_json(app.operate(selecting(&body)?, Event::OperatorRetry).await?)
}

async fn cancel(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Answer {
    app.require_bearer(&headers)?;
    to_json(app.operate(selecting(&body)?, Event::OperatorCancel).await?)
}

async fn pause(State(app): State<App>, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    app.require_bearer(&headers)?;
    to_json(app.switch_phase(&name, true).await?)
}

async fn resume(State(app): State<App>, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    app.require_bearer(&headers)?;
    to_json(app.switch_phase(&name, false).await?)
}
