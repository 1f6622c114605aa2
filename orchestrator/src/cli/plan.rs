//! `migrator plan`: the planners' dry run. Per phase: items by state, how many remain, and when
//! they will be done at the phase's rate inside its windows, in the configured time zone.

use super::Exit;
use super::output::{count_rows, print};
use crate::clock::format_ms;
use crate::config::Settings;
use crate::phase::WindowState;
use crate::phase::plan::PhasePlan;
use crate::store::Store;
use chrono_tz::Tz;
use clap::Args;
use std::time::Duration;

/// `plan` options.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Only this phase.
    #[arg(long)]
    pub phase: Option<String>,
}

/// Plans every configured phase, or the one `--phase` names (an unknown name is an error).
pub(super) async fn run(
    store: &Store,
    settings: &Settings,
    args: PlanArgs,
    json: bool,
) -> anyhow::Result<Exit> {
    let only = args.phase.as_deref();
    let paused = store.paused_phases().await?;
    let mut plans = Vec::new();
    for p in settings.phases.iter().filter(|p| only.is_none_or(|o| o == p.name)) {
        plans.push(
            crate::phase::plan::plan_phase(store, p, paused.contains(&p.name), settings.time_zone).await?,
        );
    }
    if let Some(o) = only
        && plans.is_empty()
    {
        anyhow::bail!("no phase named \"{o}\" in the configuration");
    }
    print(json, &plans, |plans| render(plans, settings.time_zone))?;
    Ok(Exit::Ok)
}

/// Each phase: its steps, order and window (open or closed until when, in `tz`), counts by
/// state, what remains, the rates, and the estimate or why there is none.
fn render(plans: &[PhasePlan], tz: Tz) -> String {
    let local = |ms: i64| {
        use chrono::TimeZone;
        tz.timestamp_millis_opt(ms)
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_else(|| format_ms(ms))
    };
    let mut out = String::new();
    if plans.is_empty() {
        out += "no phases configured (add [phases.NAME] to migrator.toml)\n";
    }
    for p in plans {
        out += &format!(
            "phase {}{}: steps {}, order {}, window {} ({})\n",
            p.phase,
            if p.paused { " (PAUSED)" } else { "" },
            p.steps.join(", "),
            p.order,
            p.window,
            match p.window_now {
                WindowState::Open(Some(t)) => format!("open until {}", local(t)),
                WindowState::Open(None) => "open".into(),
                WindowState::Closed(Some(t)) => format!("closed until {}", local(t)),
                WindowState::Closed(None) => "never opens again".into(),
            }
        );
        out += &count_rows(p.by_state.iter().map(|(s, n)| (s, *n)), 12);
        out += &format!(
            "  {:<16} {:>12}\n  remaining        {:>12}  ({} ready for its steps now)\n",
            "total", p.total, p.remaining, p.ready
        );
        let rate = |r: Option<f64>| r.map(|r| format!("{r:.2}/s")).unwrap_or("-".into());
        out += &format!(
            "  rate             configured {}, measured {}\n",
            rate(p.rate_configured),
            rate(p.rate_measured)
        );
        match (&p.no_estimate, &p.finishes_local, p.work_secs) {
            (Some(why), _, _) => out += &format!("  estimate         none: {why}\n"),
            (None, Some(at), Some(secs)) => {
                // `as` saturates: a work estimate is a finite, non-negative number of seconds
                // (remaining items / a positive rate); rounded up to whole seconds for display.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let whole_secs = secs.ceil() as u64;
                out += &format!(
                    "  estimate         {} of work, {} window(s), done {} (in the window from {})\n",
                    humantime::format_duration(Duration::from_secs(whole_secs)),
                    p.windows_needed.unwrap_or(0),
                    at,
                    p.finishing_window.as_deref().unwrap_or("-")
                )
            }
            _ => {}
        }
    }
    out
}
