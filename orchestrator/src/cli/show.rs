//! `migrator show`: one item, by workflow id or A2 id, and its full history.

use super::Exit;
use super::output::print;
use crate::clock::format_ms;
use crate::store::{ShowItem, Store};
use clap::Args;

/// `show` options.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Workflow id (UUID) or A2 id (integer).
    pub key: String,
}

/// Prints the item; an unknown key is an error.
pub(super) async fn run(store: &Store, args: ShowArgs, json: bool) -> anyhow::Result<Exit> {
    let Some(found) = store.show(&args.key).await? else {
        anyhow::bail!("no item with workflow id or A2 id `{}`", args.key);
    };
    print(json, &found, render)?;
    Ok(Exit::Ok)
}

/// The item's fields, one a line, then its history oldest first.
fn render(found: &ShowItem) -> String {
    let i = &found.item;
    let mut out = format!(
        "workflow {}\n  a2 id      {}\n  batch      {}\n  state      {}{}\n  attempt    {}\n  next run   {}\n  lease      {}\n  a3 id      {}\n  dialog id  {}\n  last error {}\n  reason     {}\nhistory\n",
        i.id,
        i.a2_id,
        i.batch,
        i.state,
        i.resume_state.map(|s| format!(" (stopped at {s})")).unwrap_or_default(),
        i.attempt,
        format_ms(i.next_run_at),
        i.lease_owner
            .map(|o| format!("{o} until {}", format_ms(i.lease_until.unwrap_or(0))))
            .unwrap_or("-".into()),
        i.a3_correspondence_id.map(|u| u.to_string()).unwrap_or("-".into()),
        i.dialog_id.map(|u| u.to_string()).unwrap_or("-".into()),
        i.last_error.as_deref().unwrap_or("-"),
        i.reason.as_deref().unwrap_or("-"),
    );
    for h in &found.history {
        out += &format!(
            "  {} {:>14} -> {:<14} attempt={} node={}{}\n",
            format_ms(h.at),
            h.from_state.map(|s| s.to_string()).unwrap_or("-".into()),
            h.to_state,
            h.attempt,
            h.node.map(|n| n.to_string()).unwrap_or("-".into()),
            h.error.as_deref().map(|e| format!(" {e}")).unwrap_or_default()
        );
    }
    out
}
