//! What the daemon does when one of its schedules fires: the bodies of the actions (open a
//! phase's window, discover export files, sweep pending sync events, rescue, prune, report).
//! They live here, above `schedule`, because they reach into phases, imports and the store; the
//! scheduler only decides and claims firings and hands each to [`Actions`].

use crate::clock::millis;
use crate::import::ImportOptions;
use crate::phase::{Phase, Window, plan};
use crate::schedule::{Action, ActionRunner, WindowCounts};
use crate::store::Store;
use crate::store::StoreError;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What actions need besides the store.
#[derive(Debug, Default)]
pub struct ActionContext {
    /// The configured phases (for open-window).
    pub phases: Vec<Phase>,
    /// Where `discover` finds export files.
    pub inbox: Option<PathBuf>,
    /// How `discover` imports them.
    pub import: ImportOptions,
    /// How long finished items keep their full history.
    pub history_retention: Duration,
    /// How often a long firing (open-window) looks at the clock and the work left.
    pub poll: Duration,
    /// A node without a heartbeat for this long is dead: rescue closes its firings.
    pub dead_after: Duration,
    /// What the `discover` firings before saw of the inbox's files (see `import::Seen`).
    pub seen: tokio::sync::Mutex<crate::import::Seen>,
}

/// The daemon's [`ActionRunner`]: does each action against one store.
#[derive(Debug)]
pub struct Actions {
    store: Store,
    ctx: ActionContext,
}

impl Actions {
    /// The actions on `store` with `ctx`.
    pub fn new(store: Store, ctx: ActionContext) -> Self {
        Actions { store, ctx }
    }
}

#[async_trait::async_trait]
impl ActionRunner for Actions {
    async fn execute(
        &self,
        action: &Action,
        fire_time: i64,
        cancel: &CancellationToken,
    ) -> Result<serde_json::Value, String> {
        let (store, ctx) = (&self.store, &self.ctx);
        let db = |e: StoreError| e.to_string();
        match action {
            Action::OpenWindow(name) => open_window(store, ctx, name, fire_time, cancel).await,
            Action::Discover => {
                let dir = ctx.inbox.as_ref().ok_or("no inbox directory configured (discover.inbox)")?;
                // One scan at a time on this node (two discover schedules must not race on a file).
                let mut seen = ctx.seen.lock().await;
                let reports = crate::import::scan(store, dir, &ctx.import, &mut seen, cancel).await;
                drop(seen);
                let reports = reports.map_err(|e| e.to_string())?;
                Ok(json!({
                    "files": reports.len(),
                    "lines": reports.iter().map(|r| r.lines).sum::<u64>(),
                    "new_items": reports.iter().map(|r| r.workflows_created).sum::<u64>(),
                    "rejected": reports.iter().map(|r| r.rejected).sum::<u64>(),
                }))
            }
            Action::SyncSweep => Ok(json!({ "made_pending": store.sync_sweep().await.map_err(db)? })),
            Action::Rescue => {
                let released = store.release_expired().await.map_err(db)?;
                let alive_since = store.clock().now_ms() - millis(ctx.dead_after);
                let abandoned = crate::schedule::abandon_dead_runs(store, alive_since).await.map_err(db)?;
                Ok(json!({ "leases_released": released, "runs_abandoned": abandoned }))
            }
            Action::Prune => {
                let before = store.clock().now_ms() - millis(ctx.history_retention);
                let deleted = store.prune_history(before).await.map_err(db)?;
                Ok(json!({ "history_rows_deleted": deleted, "before": before }))
            }
            Action::Report => {
                let s = store.status().await.map_err(db)?;
                Ok(json!({ "total": s.total, "leased": s.leased, "by_state": s.by_state }))
            }
        }
    }
}

/// Keeps phase `name`'s window firing at `fire_time` going until the window closes, its work
/// is done or this node stops; counts the work at open and at close.
async fn open_window(
    store: &Store,
    ctx: &ActionContext,
    name: &str,
    fire_time: i64,
    cancel: &CancellationToken,
) -> Result<serde_json::Value, String> {
    let db = |e: StoreError| e.to_string();
    let phase = ctx.phases.iter().find(|p| p.name == name).ok_or(format!("no phase named {name:?}"))?;
    let Window::Scheduled { duration, .. } = &phase.window else {
        return Err(format!("phase {name:?} is always on; it has no window to open"));
    };
    let close = fire_time + millis(*duration);
    let opened = store.clock().now_ms();
    let at_open = plan::ready_work(store, phase).await.map_err(db)?;
    let mut left = at_open;
    let mut interrupted = false;
    loop {
        let now = store.clock().now_ms();
        if now >= close || left == 0 {
            break;
        }
        let nap = ctx.poll.min(Duration::from_millis(u64::try_from(close - now).unwrap_or(0)));
        tokio::select! {
            _ = cancel.cancelled() => { interrupted = true; }
            _ = tokio::time::sleep(nap) => {}
        }
        left = plan::ready_work(store, phase).await.map_err(db)?;
        if interrupted {
            break;
        }
    }
    let secs = (store.clock().now_ms() - opened).max(0) as f64 / 1000.0;
    let counts =
        serde_json::to_value(WindowCounts::new(name, at_open, left, secs)).map_err(|e| e.to_string())?;
    if interrupted { Err(format!("interrupted: this node stopped; {counts}")) } else { Ok(counts) }
}
