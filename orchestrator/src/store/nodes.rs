//! The `nodes` table: each dispatcher process registers, beats, and says when it stopped cleanly.
//! Leases and schedule firings carry the node id; rescue reads the heartbeats.

use super::Store;
use super::StoreError;
use schema::NodeId;
use schema::entity::node;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

impl Store {
    /// Registers a new node (this process on `hostname`) and returns its id.
    pub async fn register_node(&self, hostname: &str, pid: u32) -> Result<NodeId, StoreError> {
        let id = NodeId::new();
        let now = self.clock().now_ms();
        node::ActiveModel {
            id: Set(id.get()),
            hostname: Set(hostname.to_string()),
            pid: Set(i32::try_from(pid).unwrap_or(i32::MAX)),
            started_at: Set(now),
            last_heartbeat: Set(now),
            stopped_at: Set(None),
        }
        .insert(self.db())
        .await?;
        Ok(id)
    }

    /// Records a heartbeat of `node`.
    pub async fn node_beat(&self, node: NodeId) -> Result<(), StoreError> {
        node::Entity::update(node::ActiveModel {
            id: Set(node.get()),
            last_heartbeat: Set(self.clock().now_ms()),
            ..Default::default()
        })
        .exec(self.db())
        .await?;
        Ok(())
    }

    /// Records a clean stop of `node`.
    pub async fn node_stopped(&self, node: NodeId) -> Result<(), StoreError> {
        let now = self.clock().now_ms();
        node::Entity::update(node::ActiveModel {
            id: Set(node.get()),
            last_heartbeat: Set(now),
            stopped_at: Set(Some(now)),
            ..Default::default()
        })
        .exec(self.db())
        .await?;
        Ok(())
    }
}
