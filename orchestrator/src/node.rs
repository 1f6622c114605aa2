//! The `nodes` table: each dispatcher process registers, beats, and says when it stopped cleanly.

use crate::store::Store;
use schema::entity::node;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DbErr, EntityTrait};
use uuid::Uuid;

/// Registers a new node (this process) and returns its id.
pub async fn register(store: &Store) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    let now = store.clock().now_ms();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    node::ActiveModel {
        id: Set(id),
        hostname: Set(hostname),
        pid: Set(std::process::id() as i32),
        started_at: Set(now),
        last_heartbeat: Set(now),
        stopped_at: Set(None),
    }
    .insert(store.db())
    .await?;
    Ok(id)
}

/// Records a heartbeat.
pub async fn beat(store: &Store, id: Uuid) -> Result<(), DbErr> {
    node::Entity::update(node::ActiveModel {
        id: Set(id),
        last_heartbeat: Set(store.clock().now_ms()),
        ..Default::default()
    })
    .exec(store.db())
    .await
    .map(|_| ())
}

/// Records a clean stop.
pub async fn stopped(store: &Store, id: Uuid) -> Result<(), DbErr> {
    let now = store.clock().now_ms();
    node::Entity::update(node::ActiveModel {
        id: Set(id),
        last_heartbeat: Set(now),
        stopped_at: Set(Some(now)),
        ..Default::default()
    })
    .exec(store.db())
    .await
    .map(|_| ())
}
