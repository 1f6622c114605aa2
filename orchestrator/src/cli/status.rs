//! `migrator status`: counts of items by state, in all and by import batch.

use super::Exit;
use super::output::{count_rows, print};
use crate::store::{StatusReport, Store};

/// Prints the counts.
pub(super) async fn run(store: &Store, json: bool) -> anyhow::Result<Exit> {
    let r = store.status().await?;
    print(json, &r, render)?;
    Ok(Exit::Ok)
}

/// The total and leased count, the counts by state, then each batch's counts by state.
fn render(r: &StatusReport) -> String {
    let mut out = format!("{} items ({} leased)\n", r.total, r.leased);
    out += &count_rows(r.by_state.iter().map(|(s, n)| (s, *n)), 12);
    for (batch, states) in &r.by_batch {
        out += &format!("batch {}\n", if batch.is_empty() { "(none)" } else { batch });
        out += &count_rows(states.iter().map(|(s, n)| (s, *n)), 12);
    }
    out
}
