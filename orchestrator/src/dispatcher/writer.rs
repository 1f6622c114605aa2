//! The single writer: commits finished outcomes in batches (by size, or after a few milliseconds),
//! so the hot path makes no per-item round trip. Items whose next step is due now go straight on
//! to it under the lease they hold (see `chain`).

use super::Stats;
use super::chain::{Chain, Reserved, next_item};
use super::held::Hold;
use crate::clock::millis_u64;
use crate::store::{Applied, Fence};
use schema::WorkflowId;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use workers::WorkItem;

/// A finished item on its way to the database: its outcome, the item as its step saw it, and the
/// lane it ran in. The hold is the item's lease and in-flight room, let go once the outcome is
/// committed (or given up on).
pub(super) struct Finished {
    pub applied: Applied,
    pub item: WorkItem,
    pub lane: usize,
    pub slot: Hold,
}

/// Writer settings.
#[derive(Debug, Clone, Copy)]
pub(super) struct WriterConfig {
    pub max_batch: usize,
    pub linger: Duration,
}

/// Runs until every sender is gone, then returns after the last commit.
/// It commits with the run's store, as its node, under its health (all three held by `chain`).
pub(super) async fn run(
    mut rx: mpsc::Receiver<Finished>,
    cfg: WriterConfig,
    stats: Arc<Stats>,
    wake: Arc<Notify>,
    chain: Arc<Chain>,
) {
    let mut buf: Vec<Finished> = Vec::with_capacity(cfg.max_batch);
    while let Some(first) = rx.recv().await {
        buf.push(first);
        while buf.len() < cfg.max_batch {
            match rx.try_recv() {
                Ok(f) => buf.push(f),
                Err(_) => break,
            }
        }
        if buf.len() < cfg.max_batch && !cfg.linger.is_zero() {
            let deadline = tokio::time::Instant::now() + cfg.linger;
            while buf.len() < cfg.max_batch {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(f)) => buf.push(f),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        commit(&mut buf, &stats, &chain).await;
        wake.notify_one();
    }
}

/// Commits `buf`. A database error is retried with backoff for as long as the node runs: the
/// outcomes are not lost, and nothing else can progress without the database anyway (an error
/// that repeats without passing stops the run, see `health`). Once the node
/// is stopping, a few more tries are made; after that the outcomes are dropped and the items run
/// again when their leases expire (steps are idempotent).
async fn commit(buf: &mut Vec<Finished>, stats: &Stats, chain: &Arc<Chain>) {
    let (store, node, health) = (&chain.store, chain.node, &chain.health);
    // The same item twice in one batch (re-claimed by this node after its lease lapsed, or
    // cancelled, retried and claimed again while the first run was still going): the first
    // outcome is applied, the later one is dropped like any result whose lease was lost.
    let mut seen = HashSet::with_capacity(buf.len());
    let mut batch: Vec<Applied> = Vec::with_capacity(buf.len());
    // Room in the next lane for each of `batch`'s items that can go straight on.
    let mut reserved: Vec<Option<Reserved>> = Vec::with_capacity(buf.len());
    let mut from: Vec<usize> = Vec::with_capacity(buf.len());
    for (i, f) in buf.iter().enumerate() {
        if seen.insert(f.applied.id) {
            batch.push(f.applied.clone());
            reserved.push(chain.reserve(f.lane, &f.applied.transition));
            from.push(i);
        } else {
            stats.lease_lost.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut delay = Duration::from_millis(50);
    let mut tries_while_stopping = 0;
    let mut committed = HashSet::new();
    // Whether a try failed: its commit may have gone through with only the reply lost.
    let mut failed_before = false;
    loop {
        // Kept leases last a whole lease from this try on.
        let until = chain.lease_until();
        for (a, r) in batch.iter_mut().zip(&reserved) {
            a.chain_until = r.as_ref().map(|_| until);
        }
        let started = std::time::Instant::now();
        match health.call("committing", store.apply(&batch, Fence::Lease(node), Some(node))).await {
            Ok(report) => {
                tracing::debug!(items = batch.len(), ms = millis_u64(started.elapsed()), "committed");
                committed = report.committed.into_iter().collect::<HashSet<_>>();
                for a in &batch {
                    if committed.contains(&a.id) {
                        stats.count(&a.transition);
                    }
                }
                stats.lease_lost.fetch_add(report.lost.len() as u64, Ordering::Relaxed);
                if !report.lost.is_empty() {
                    tracing::warn!(lost = report.lost.len(), "lease lost: results dropped");
                    if failed_before {
                        release_kept_leases(chain, &batch, &report.lost);
                    }
                }
                break;
            }
            Err(e) => {
                failed_before = true;
                stats.commit_errors.fetch_add(1, Ordering::Relaxed);
                if health.stopping().is_cancelled() {
                    tries_while_stopping += 1;
                    // Stopped because commits fail the same way: more tries only delay the stop.
                    if tries_while_stopping > 3 || health.failure().is_some() {
                        tracing::error!(items = batch.len(), error = %e, "commit gave up at shutdown; items run again after their leases expire");
                        break;
                    }
                }
                tracing::warn!(error = %e, items = batch.len(), retry_in_ms = millis_u64(delay), "commit failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    // Chained items are held again for their next step before their old holds go with `buf`.
    let mut finished: Vec<Option<Finished>> = buf.drain(..).map(Some).collect();
    let mut onward = Vec::new();
    let mut old_holds = Vec::new();
    for ((a, r), i) in batch.iter().zip(reserved).zip(from) {
        let Some(r) = r else { continue };
        if !committed.contains(&a.id) {
            continue;
        }
        if let Some(f) = finished[i].take() {
            onward.push((next_item(f.item, a), f.slot.claim(), r));
            old_holds.push(f.slot);
        }
    }
    chain.pass_on(onward);
    drop(old_holds);
}

/// After a failed try, the items a later try finds fenced off may be the failed try's own work:
/// its commit went through and only the reply was lost, so their results are in and, for those
/// that were to go straight on, their leases were kept (same node, same claim) for a next step
/// that this node, believing the results dropped, will never feed. Their leases are released
/// (retried until they would lapse), so any node claims them again at once instead of after a
/// whole lease. An item another node holds now is not touched.
fn release_kept_leases(chain: &Arc<Chain>, batch: &[Applied], lost: &[WorkflowId]) {
    let lost: HashSet<_> = lost.iter().collect();
    let ids: Arc<[_]> =
        batch.iter().filter(|a| a.chain_until.is_some() && lost.contains(&a.id)).map(|a| a.id).collect();
    if ids.is_empty() {
        return;
    }
    let chain = chain.clone();
    tokio::spawn(async move { chain.release("items a lost commit reply may have kept", ids).await });
}
