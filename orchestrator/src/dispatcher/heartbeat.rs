//! The node's heartbeat, in its own task so a busy claim loop or a slow commit cannot delay it.
//! Every beat it says the node is alive and frees the leases of nodes that are not (silent for
//! `dead_after`, or stopped): a killed node's items are taken again within seconds, not a whole
//! lease later. Every third of the lease it extends the leases of the items it holds in memory
//! (see `held`), so slow steps keep their items.

use super::health::Health;
use super::held::Held;
use crate::clock::millis;
use crate::store::Store;
use crate::telemetry;
use schema::NodeId;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the heartbeat does what.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    /// Between beats.
    pub(super) beat: Duration,
    /// Lease length: renewed every third of it.
    pub(super) lease: Duration,
    /// A node silent this long is dead.
    pub(super) dead_after: Duration,
}

/// Beats until `stop`.
pub(super) async fn beat(
    store: Store,
    node: NodeId,
    held: Arc<Held>,
    health: Arc<Health>,
    timing: Timing,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(timing.beat.min(timing.lease / 3));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut renewed = tokio::time::Instant::now();
    // Since when this node's own beats have all gone through. After an outage every other node's
    // heartbeat looks old too (they could not write either): only a node that has been beating
    // for `dead_after` itself may judge others dead.
    let mut beating_since = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        // Leases first: they are what a slow database must not cost.
        if renewed.elapsed() >= timing.lease / 3 {
            renewed = tokio::time::Instant::now();
            if let Err(e) = health.call("renewing leases", store.renew(node, &held.ids(), timing.lease)).await
            {
                tracing::warn!(error = %e, "lease renewal failed");
            }
        }
        if let Err(e) = health.call("beating", store.node_beat(node)).await {
            tracing::warn!(error = %e, "heartbeat failed");
            beating_since = tokio::time::Instant::now();
            continue;
        }
        telemetry::heartbeat();
        if beating_since.elapsed() < timing.dead_after {
            continue;
        }
        let now = store.clock().now_ms();
        // Only nodes that died within the last lease can still hold a lease that has not lapsed.
        let alive_since = now - millis(timing.dead_after);
        let died_since = alive_since - millis(timing.lease);
        match health
            .call("freeing dead nodes' leases", store.release_dead_nodes(node, alive_since, died_since))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::warn!(released = n, "freed the leases of nodes that stopped beating"),
            Err(e) => tracing::warn!(error = %e, "cannot free the leases of dead nodes"),
        }
    }
}
