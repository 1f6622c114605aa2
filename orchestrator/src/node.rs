//! A node is one dispatcher process: it registers on start (its id goes on every lease and schedule
//! firing it takes), beats while it runs (`Store::node_beat`), and says when it stopped cleanly
//! (`Store::node_stopped`). The rows live in the store; this module knows who "this process" is.

use crate::store::{Store, StoreError};
use schema::NodeId;

/// Registers this process as a new node and returns its id.
pub async fn register(store: &Store) -> Result<NodeId, StoreError> {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    store.register_node(&hostname, std::process::id()).await
}
