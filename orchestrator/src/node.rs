//! A node is one dispatcher process: it registers on start (its id goes on every lease and schedule
//! firing it takes), beats while it runs, and says when it stopped cleanly. The rows live in the
//! store; this module knows who "this process" is.

use crate::store::{Store, StoreError};
use schema::NodeId;

/// Registers this process as a new node and returns its id.
pub async fn register(store: &Store) -> Result<NodeId, StoreError> {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    store.register_node(&hostname, std::process::id()).await
}

/// Records a heartbeat.
pub async fn beat(store: &Store, id: NodeId) -> Result<(), StoreError> {
    store.node_beat(id).await
}

/// Records a clean stop.
pub async fn stopped(store: &Store, id: NodeId) -> Result<(), StoreError> {
    store.node_stopped(id).await
}
