//! The node's heartbeat: while the dispatcher runs, it says the node is alive and extends the
//! leases of the items it holds in memory (see `held`), every third of the lease, so slow steps keep their items while
//! a killed node's leases lapse within one lease. Its own task, so a busy claim loop or a slow
//! commit cannot delay it.

use super::held::Held;
use crate::node;
use crate::store::Store;
use schema::NodeId;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Beats the node's heartbeat and extends the leases of the items it holds in memory, every
/// third of the lease, until `stop`.
pub(super) async fn beat(
    store: Store,
    node: NodeId,
    held: Arc<Held>,
    lease: Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = node::beat(&store, node).await {
            tracing::warn!(error = %e, "heartbeat failed");
        }
        if let Err(e) = store.renew(node, &held.ids(), lease).await {
            tracing::warn!(error = %e, "lease renewal failed");
        }
    }
}
