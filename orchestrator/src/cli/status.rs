//! `migrator status`: counts of items by state, in all and by import batch; and, first, any node
//! the database stopped (exit 1 while the database has not been seen working since).

use super::Exit;
use super::output::{count_rows, print};
use crate::store::{StatusReport, Store};

/// Prints the counts.
pub(super) async fn run(store: &Store, json: bool) -> anyhow::Result<Exit> {
    let r = store.status().await?;
    print(json, &r, render)?;
    Ok(if r.stopped_by_database.is_empty() { Exit::Ok } else { Exit::Error })
}

/// The total and leased count, the counts by state, then each batch's counts by state.
fn render(r: &StatusReport) -> String {
    let mut out = String::new();
    for n in &r.stopped_by_database {
        let at = n.stopped_at.map_or_else(|| "?".into(), crate::clock::format_ms);
        out += &format!(
            "! the database stopped node {} (pid {}) at {at}: {}\n",
            n.hostname,
            n.pid,
            n.failure.as_deref().unwrap_or("")
        );
    }
    out += &format!("{} items ({} leased)\n", r.total, r.leased);
    out += &count_rows(r.by_state.iter().map(|(s, n)| (s, *n)), 12);
    for (batch, states) in &r.by_batch {
        out += &format!("batch {}\n", if batch.is_empty() { "(none)" } else { batch });
        out += &count_rows(states.iter().map(|(s, n)| (s, *n)), 12);
    }
    out
}
