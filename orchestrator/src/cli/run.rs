//! `migrator run`: the daemon until stopped, or `run --once --phase NAME`: one phase until its
//! work is done or its window closes, with an exit code that says which (see [`Exit::of_once`]).
//! The only command that reads the A3 token.

use super::output::print;
use super::signal::cancel_on_signal;
use super::{Exit, failures};
use crate::config::{LogFormat, Settings};
use crate::daemon::{OnceEnd, OnceReport};
use crate::dispatcher::RunReport;
use crate::store::Store;
use clap::Args;

/// `run` options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Work one phase and exit (see `--phase`).
    #[arg(long, requires = "phase")]
    pub once: bool,
    /// The phase for `--once`.
    #[arg(long, requires = "once")]
    pub phase: Option<String>,
}

/// Runs the daemon, or one phase with `--once`, until done or a signal.
pub(super) async fn run(
    store: Store,
    target: &str,
    settings: Settings,
    args: RunArgs,
    json: bool,
) -> anyhow::Result<Exit> {
    let cancel = cancel_on_signal()?;
    if let Some(phase) = args.phase.as_deref().filter(|_| args.once) {
        let r = crate::daemon::run_once(store, &settings, phase, cancel).await?;
        print(json, &r, render_once)?;
        return Ok(Exit::of_once(&r));
    }
    // The operations server lives as long as the daemon: the same cancellation stops both.
    let server = match settings.http.listen {
        Some(listen) => {
            Some(crate::http::start(store.clone(), target, &settings, listen, false, cancel.clone()).await?)
        }
        None => None,
    };
    let http = server.as_ref().map(|s| s.addr.to_string()).unwrap_or_else(|| "off".into());
    // Plain text beside the logs only when they are plain: a log shipper reading JSON lines
    // gets this line as a log event instead.
    let (phases, schedules) = (settings.phases.len(), settings.schedules.len());
    match settings.log {
        LogFormat::Plain => {
            eprintln!("migrator running: {phases} phases, {schedules} schedules, http {http}; Ctrl-C stops")
        }
        LogFormat::Json => tracing::info!(phases, schedules, http, "migrator running"),
    }
    let r = crate::daemon::run(store, &settings, cancel.clone()).await;
    cancel.cancel();
    if let Some(s) = server {
        s.stopped().await;
    }
    let r = r?;
    print(json, &r, render)?;
    Ok(if r.cut_short { Exit::Error } else { Exit::Ok })
}

/// What the daemon did before it stopped.
fn render(r: &RunReport) -> String {
    let cut_short = if r.cut_short {
        "; the database did not answer within the shutdown deadline: unfinished items stay leased until their leases lapse"
    } else {
        ""
    };
    format!("stopped: {} transitions, {} released{cut_short}\n", r.transitions, r.released)
}

/// How the phase ended, its work at the start and the end, the transitions, and the items that
/// failed during the run.
fn render_once(r: &OnceReport) -> String {
    format!(
        "phase {}: {} ({} items needed its steps at the start, {} now){}\n",
        r.phase,
        match r.end {
            OnceEnd::Done => "done",
            OnceEnd::WindowClosed => "window closed",
            OnceEnd::Paused => "paused",
            OnceEnd::Interrupted => "stopped by a signal",
            OnceEnd::CredentialsRefused => "stopped: Altinn 3 refused our credentials",
        },
        r.work_at_start,
        r.work_at_end,
        r.run
            .as_ref()
            .map(|x| format!("; {} transitions in {:.1}s", x.transitions, x.elapsed_ms as f64 / 1000.0))
            .unwrap_or_default()
    ) + &once_refused(r)
        + &once_failures(r)
}

/// What `run --once` prints when Altinn 3 refused our credentials: the refusal and how many
/// items went back untouched.
fn once_refused(r: &OnceReport) -> String {
    let Some(run) = r.run.as_ref().filter(|_| r.end == OnceEnd::CredentialsRefused) else {
        return String::new();
    };
    format!(
        "{}\n{} items were put back untouched (no attempt counted); check the A3 token and its \
         scope, then run again\n",
        run.credentials_refused.as_deref().unwrap_or("401/403 from Altinn 3"),
        run.put_back,
    )
}

/// What `run --once` prints about the items that failed during it.
fn once_failures(r: &OnceReport) -> String {
    if r.newly_failed + r.newly_rejected == 0 {
        return String::new();
    }
    format!(
        "{} items became Failed and {} Rejected during the run; the largest groups:\n{}\
         see them all with `migrator failures --since <run length>`\n",
        r.newly_failed,
        r.newly_rejected,
        failures::render_groups(&r.top_reasons)
    )
}
