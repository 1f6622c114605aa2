//! `migrator retry` and `migrator cancel`: the operator actions on selected items (by key,
//! state, import batch or failure group).

use super::output::print;
use super::{Exit, failures};
use crate::state_machine::Event;
use crate::store::{OperateReport, Origin, Selector, Store};
use anyhow::Context;
use clap::Args;
use schema::WorkflowState;

/// Which items an operator command acts on.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Workflow ids or A2 ids.
    pub keys: Vec<String>,
    /// Only items in this state.
    #[arg(long)]
    pub state: Option<WorkflowState>,
    /// Only items of this import batch (`import --batch`).
    #[arg(long)]
    pub batch: Option<String>,
    /// Only the Failed and Rejected items of this failure group: its reason key as `migrator
    /// failures` prints it, or a part of it that matches one group only.
    #[arg(long)]
    pub reason: Option<String>,
}

/// Applies `event` (operator retry or cancel) to the selected items. Exits 2 when a key was not
/// found or `--reason` names no group or several.
pub(super) async fn run(store: &Store, sel: SelectArgs, event: Event, json: bool) -> anyhow::Result<Exit> {
    let reason = match &sel.reason {
        Some(text) => match failures::resolve(store, text).await? {
            Ok(key) => Some(key),
            Err(why) => {
                eprintln!("error: {why}");
                return Ok(Exit::NotFound);
            }
        },
        None => None,
    };
    let selector = Selector { keys: sel.keys, state: sel.state, batch: sel.batch, reason: reason.clone() };
    let verb = event.name().trim_start_matches("operator_").to_string();
    let r = store.operate(&selector, event, Origin::Cli).await.with_context(|| format!("{verb} failed"))?;
    print(json, &r, |r| render(r, &verb, reason.as_deref()))?;
    Ok(if r.not_found.is_empty() { Exit::Ok } else { Exit::NotFound })
}

/// How many changed (`verb`: retry or cancel), the failure group `--reason` named, then each
/// skipped item and each key not found.
fn render(r: &OperateReport, verb: &str, reason: Option<&str>) -> String {
    let mut out = format!("{verb}: {} changed, {} skipped\n", r.changed, r.skipped.len());
    if let Some(key) = reason {
        out += &format!("  failure group: {key}\n");
    }
    for s in &r.skipped {
        out += &format!("  skipped {} a2={} ({}): {}\n", s.id, s.a2_id, s.state, s.reason);
    }
    for k in &r.not_found {
        out += &format!("  not found: {k}\n");
    }
    out
}
