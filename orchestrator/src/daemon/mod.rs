//! `migrator run`: the daemon (schedules + dispatcher + the Altinn 3 workers on one node, and a
//! warning in the log as failure groups grow), and `migrator run --once --phase NAME` for teams
//! that schedule from outside (systemd timers, Kubernetes CronJobs): work one phase until its
//! window closes or its work is done, then exit with a code that says which, or that items
//! failed on the way.
//!
//! The daemon sits above the scheduler: it supplies the bodies of the scheduled actions
//! ([`actions`]) that the scheduler hands its firings to.

pub mod actions;

use crate::config::Settings;
use crate::dispatcher::{Dispatcher, DispatcherConfig, RunReport, a3_dispatcher};
use crate::phase::{Phase, plan};
use crate::schedule::{self, Outcome, Scheduler, WindowCounts, once_schedule_name};
use crate::store::{FailureGroup, Store};
use actions::{ActionContext, Actions};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use workers::a3::{A3Client, ClientConfig};

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Database.
    #[error(transparent)]
    Db(#[from] crate::store::StoreError),
    /// A setting `run` needs is missing or unusable (the message names the key).
    #[error("{0}")]
    Setup(String),
    /// The database failed the same way again and again, so the run stopped: waiting would not
    /// help, someone has to fix the database.
    #[error("stopped: the database fails in a way waiting does not fix ({0}); fix it and start again")]
    DatabaseFailing(String),
}

/// How a `run --once` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnceEnd {
    /// The phase has no work left: exit 0.
    Done,
    /// The window closed (or was not open) with work left: exit 4.
    WindowClosed,
    /// The phase is paused: exit 5.
    Paused,
    /// A signal stopped it: exit 130.
    Interrupted,
    /// Altinn 3 refused our credentials (401/403): exit 8. The items it had taken went back
    /// untouched.
    CredentialsRefused,
}

impl From<OnceEnd> for Outcome {
    /// The outcome a `run --once` records.
    fn from(end: OnceEnd) -> Outcome {
        match end {
            OnceEnd::Done => Outcome::Ok,
            OnceEnd::WindowClosed => Outcome::WindowClosed,
            OnceEnd::Paused => Outcome::Paused,
            OnceEnd::Interrupted => Outcome::Interrupted,
            // `runs` shows it as the error it is: the run did no work.
            OnceEnd::CredentialsRefused => Outcome::Error(
                "Altinn 3 refused our credentials (401/403); check the A3 token and its scope".into(),
            ),
        }
    }
}

/// What a `run --once` records as its counts: a window's, and how it ended.
#[derive(Debug, Serialize)]
struct OnceCounts {
    #[serde(flatten)]
    window: WindowCounts,
    end: OnceEnd,
}

/// Failure groups a `run --once` report shows.
const TOP_REASONS: usize = 5;

/// What a `run --once` did.
#[derive(Debug, Clone, Serialize)]
pub struct OnceReport {
    /// The phase.
    pub phase: String,
    /// How it ended.
    pub end: OnceEnd,
    /// Items the phase's steps could advance at the start.
    pub work_at_start: u64,
    /// And at the end.
    pub work_at_end: u64,
    /// The dispatcher's counts (None if the window was closed or the phase paused at start).
    pub run: Option<RunReport>,
    /// Items that became Failed during the run.
    pub newly_failed: u64,
    /// Items that became Rejected during the run.
    pub newly_rejected: u64,
    /// The largest failure groups of the items that failed or were rejected during the run.
    pub top_reasons: Vec<FailureGroup>,
}

/// The A3 dispatcher as the config sets it up.
fn dispatcher(store: &Store, settings: &Settings, client: &A3Client, exit_when_idle: bool) -> Dispatcher {
    let a = &settings.altinn3;
    a3_dispatcher(
        store,
        dispatcher_config(settings, exit_when_idle),
        client,
        a.limit.concurrency,
        a.make_available_batch,
        // Relative attachment paths in the A2 data are relative to where the daemon runs.
        std::env::current_dir().unwrap_or_default(),
    )
}

/// The dispatcher settings from the config.
fn dispatcher_config(settings: &Settings, exit_when_idle: bool) -> DispatcherConfig {
    let n = &settings.node;
    DispatcherConfig {
        claim_batch: n.claim_batch,
        lease: n.lease,
        write_batch: n.write_batch,
        idle_poll: n.idle_poll,
        shutdown_grace: n.shutdown_grace,
        shutdown_deadline: n.shutdown_deadline,
        step_timeout: n.step_timeout,
        heartbeat: n.heartbeat,
        dead_after: n.dead_after,
        exit_when_idle,
        credentials_pause: settings.altinn3.credentials_pause,
        ..DispatcherConfig::default()
    }
}

/// The A3 client from the config; the error names the missing key.
pub fn client(settings: &Settings) -> Result<A3Client, DaemonError> {
    let a = &settings.altinn3;
    let base_url = a.base_url.clone().ok_or_else(|| {
        DaemonError::Setup(
            "altinn3.base_url is not set (in migrator.toml or MIGRATOR__ALTINN3__BASE_URL)".into(),
        )
    })?;
    let token = a.token.clone().ok_or_else(|| {
        DaemonError::Setup(
            "altinn3.token is not set: set MIGRATOR__ALTINN3__TOKEN or altinn3.token_file".into(),
        )
    })?;
    A3Client::new(ClientConfig {
        base_url,
        token,
        timeout: a.timeout,
        limits: Default::default(),
        default_limit: a.limit,
    })
    .map_err(|e| DaemonError::Setup(format!("altinn3: {e}")))
}

/// What the daemon does when a pause for refused credentials ends: with the token from
/// `altinn3.token_file`, read the file again and send what it holds now, so an operator fixes
/// the token without a restart. (A token from the environment cannot change.)
fn token_reloader(settings: &Settings, client: &A3Client) -> Option<crate::dispatcher::OnResume> {
    let path = settings.altinn3.token_file.clone()?;
    let client = client.clone();
    Some(Arc::new(move || match workers::a3::Secret::from_file(&path) {
        Ok(token) if !token.expose().is_empty() => client.set_token(token),
        Ok(_) => tracing::warn!(file = %path.display(), "the token file is empty; keeping the token"),
        // The message names the file, never its content.
        Err(e) => tracing::warn!(error = %e, "cannot read the token file again; keeping the token"),
    }))
}

/// The daemon: the scheduler and the dispatcher on one node, until `cancel`.
pub async fn run(
    store: Store,
    settings: &Settings,
    cancel: CancellationToken,
) -> Result<RunReport, DaemonError> {
    let client = client(settings)?;
    let node = crate::node::register(&store).await?;
    let ctx = ActionContext {
        phases: settings.phases.clone(),
        inbox: settings.inbox.clone(),
        history_retention: settings.history_retention,
        poll: settings.node.scheduler_poll,
        dead_after: settings.node.dead_after,
        ..ActionContext::default()
    };
    let actions = Arc::new(Actions::new(store.clone(), ctx));
    let scheduler =
        Scheduler::new(store.clone(), node, settings.schedules.clone(), actions, settings.node.dead_after);
    let sched = tokio::spawn(scheduler.drive(settings.node.scheduler_poll, cancel.clone()));
    let watch = tokio::spawn(crate::failure_watch::run(
        store.clone(),
        // Between 5 and 10 s: a group query per node and poll must stay cheap.
        settings
            .node
            .scheduler_poll
            .clamp(std::time::Duration::from_secs(5), std::time::Duration::from_secs(10)),
        cancel.clone(),
    ));
    // The live feed in the daemon (`discover.watch`): files are imported as they land, and the
    // import's new items wake the dispatcher at once (see `store::new_work`).
    let feed = settings.inbox.clone().zip(settings.inbox_watch).map(|(dir, poll)| {
        let (store, cancel) = (store.clone(), cancel.clone());
        tokio::spawn(async move {
            let opts = crate::import::ImportOptions::default();
            if let Err(e) = crate::import::watch(&store, &dir, &opts, poll, cancel).await {
                tracing::error!(dir = %dir.display(), error = %e, "the live feed stopped");
            }
        })
    });
    if settings.phases.is_empty() {
        tracing::warn!("no phases configured: every item is worked on, all the time");
    }
    let mut dispatcher =
        dispatcher(&store, settings, &client, false).with_phases(settings.phases.clone()).with_node(node);
    if let Some(reload) = token_reloader(settings, &client) {
        dispatcher = dispatcher.on_credentials_resume(reload);
    }
    let report = dispatcher.drive(cancel.clone()).await;
    cancel.cancel();
    let failure = report.as_ref().ok().and_then(|r| r.db_failure.clone());
    // Bounded like the dispatcher's own wind-down: the database may be gone. When that wind-down
    // was cut short, the database did not answer within the whole deadline already: waiting for
    // it a second time would make the bound grace + 2 × deadline (21 s measured with the
    // database black-holed, where the README promises grace + deadline).
    // Why the database stopped the node is worth the deadline even so: that database answers.
    let cut_short = report.as_ref().is_ok_and(|r| r.cut_short);
    let deadline = if cut_short && failure.is_none() {
        std::time::Duration::ZERO
    } else {
        settings.node.shutdown_deadline
    };
    let rest = async {
        let _ = sched.await;
        let _ = watch.await;
        if let Some(feed) = feed {
            let _ = feed.await;
        }
        match &failure {
            Some(why) => store.node_failed(node, why).await,
            None => store.node_stopped(node).await,
        }
    };
    match tokio::time::timeout(deadline, rest).await {
        Ok(Err(e)) if failure.is_some() => tracing::error!(error = %e, "cannot record why the node stopped"),
        Ok(stopped) => stopped?,
        Err(_) => tracing::error!("shutdown deadline passed: the node could not record its stop"),
    }
    let report = report?;
    match report.db_failure {
        Some(why) => Err(DaemonError::DatabaseFailing(why)),
        None => Ok(report),
    }
}

/// One phase until its window closes, it is paused, or its work is done. Recorded as a firing
/// of `once:<phase>` (what `plan` measures throughput from).
pub async fn run_once(
    store: Store,
    settings: &Settings,
    phase_name: &str,
    cancel: CancellationToken,
) -> Result<OnceReport, DaemonError> {
    let phase: Phase = settings.phases.iter().find(|p| p.name == phase_name).cloned().ok_or_else(|| {
        let known: Vec<&str> = settings.phases.iter().map(|p| p.name.as_str()).collect();
        DaemonError::Setup(format!(
            "no phase named {phase_name:?} in the configuration (phases: {})",
            known.join(", ")
        ))
    })?;
    let work_at_start = plan::ready_work(&store, &phase).await?;
    let stop_reason = |paused: bool| if paused { OnceEnd::Paused } else { OnceEnd::WindowClosed };
    let blocked = |store: Store, phase: Phase| async move {
        let paused = store.paused_phases().await?.contains(&phase.name);
        let closed = !phase.window.is_open(store.clock().now_ms());
        Ok::<_, crate::store::StoreError>((paused || closed).then_some(paused))
    };
    if let Some(paused) = blocked(store.clone(), phase.clone()).await? {
        return Ok(OnceReport {
            phase: phase.name,
            end: stop_reason(paused),
            work_at_start,
            work_at_end: work_at_start,
            run: None,
            newly_failed: 0,
            newly_rejected: 0,
            top_reasons: Vec::new(),
        });
    }
    let client = client(settings)?;
    let node = crate::node::register(&store).await?;
    let started = store.clock().now_ms();
    let firing = schedule::claim_run(&store, &once_schedule_name(&phase.name), started, node).await?;

    // Watch the window and the pause switch; either stops the dispatcher (gracefully).
    let stop = cancel.child_token();
    let watch_stop = stop.clone();
    let (watch_store, watch_phase, poll) = (store.clone(), phase.clone(), settings.node.idle_poll);
    let watcher = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = watch_stop.cancelled() => return None,
                _ = tokio::time::sleep(poll) => {}
            }
            match blocked(watch_store.clone(), watch_phase.clone()).await {
                Ok(Some(paused)) => {
                    watch_stop.cancel();
                    return Some(stop_reason(paused));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot check the window; checking again"),
            }
        }
    });
    let dispatcher =
        dispatcher(&store, settings, &client, true).with_phases(vec![phase.clone()]).with_node(node);
    let report = dispatcher.drive(stop.clone()).await;
    stop.cancel();
    let stopped_by = watcher.await.ok().flatten();
    let report = match report {
        Ok(RunReport { db_failure: Some(why), .. }) => {
            let record = store.node_failed(node, &why);
            if let Err(e) =
                tokio::time::timeout(settings.node.shutdown_deadline, record).await.unwrap_or(Ok(()))
            {
                tracing::error!(error = %e, "cannot record why the node stopped");
            }
            return Err(DaemonError::DatabaseFailing(why));
        }
        Ok(r) => {
            store.node_stopped(node).await?;
            r
        }
        Err(e) => {
            store.node_stopped(node).await?;
            if let Some(id) = firing {
                let outcome = Outcome::Error(e.to_string());
                crate::telemetry::schedule_run(&once_schedule_name(&phase.name), outcome.kind());
                schedule::finish_run(&store, id, &outcome.to_string(), &json!({})).await?;
            }
            return Err(e.into());
        }
    };
    let work_at_end = plan::ready_work(&store, &phase).await?;
    let end = match stopped_by {
        _ if cancel.is_cancelled() => OnceEnd::Interrupted,
        _ if report.credentials_refused.is_some() => OnceEnd::CredentialsRefused,
        Some(end) => end,
        None => OnceEnd::Done,
    };
    if let Some(id) = firing {
        let window =
            WindowCounts::new(&phase.name, work_at_start, work_at_end, report.elapsed_ms as f64 / 1000.0);
        let counts = serde_json::to_value(OnceCounts { window, end }).unwrap_or_default();
        let outcome = Outcome::from(end);
        crate::telemetry::schedule_run(&once_schedule_name(&phase.name), outcome.kind());
        schedule::finish_run(&store, id, &outcome.to_string(), &counts).await?;
    }
    // The same grouping as `migrator failures`, over the items that failed since the start.
    // Only this phase's items: other phases or nodes may be failing items at the same time.
    let failures = store.failures(&phase.selection, Some(started), Some(TOP_REASONS)).await?;
    let counts = store.failure_counts(&phase.selection, Some(started)).await?;
    let newly_failed = counts.get(&schema::WorkflowState::Failed).copied().unwrap_or(0);
    let newly_rejected = counts.get(&schema::WorkflowState::Rejected).copied().unwrap_or(0);
    if newly_failed > 0 {
        tracing::warn!(newly_failed, newly_rejected, "items failed during the run: see `migrator failures`");
    }
    Ok(OnceReport {
        phase: phase.name,
        end,
        work_at_start,
        work_at_end,
        run: Some(report),
        newly_failed,
        newly_rejected,
        top_reasons: failures.groups,
    })
}
