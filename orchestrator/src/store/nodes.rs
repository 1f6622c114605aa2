//! The `nodes` table: each dispatcher process registers, beats, and says when it stopped cleanly.
//! Leases and schedule firings carry the node id; rescue reads the heartbeats.

use super::Store;
use super::StoreError;
use schema::NodeId;
use schema::entity::node;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

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
            failure: Set(None),
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

    /// Records that `node` stopped because the database failed (`why`), for `status`.
    pub async fn node_failed(&self, node: NodeId, why: &str) -> Result<(), StoreError> {
        let now = self.clock().now_ms();
        node::Entity::update(node::ActiveModel {
            id: Set(node.get()),
            stopped_at: Set(Some(now)),
            failure: Set(Some(why.to_string())),
            ..Default::default()
        })
        .exec(self.db())
        .await?;
        Ok(())
    }

    /// Nodes the database stopped that no healthy node has beaten after: the database has not
    /// been seen working since they stopped. Newest first.
    pub async fn unresolved_node_failures(&self) -> Result<Vec<node::Model>, StoreError> {
        let healthy = node::Entity::find()
            .filter(node::Column::Failure.is_null())
            .order_by_desc(node::Column::LastHeartbeat)
            .one(self.db())
            .await?
            .map_or(i64::MIN, |n| n.last_heartbeat);
        Ok(node::Entity::find()
            .filter(node::Column::Failure.is_not_null())
            .filter(node::Column::StoppedAt.gt(healthy))
            .order_by_desc(node::Column::StoppedAt)
            .all(self.db())
            .await?)
    }
}
