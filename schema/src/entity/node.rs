//! `nodes`: every dispatcher process that ran, with its heartbeat.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One dispatcher process.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "nodes")]
pub struct Model {
    /// Node id (UUID v7, new per process start); leases carry it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Host name.
    pub hostname: String,
    /// Process id.
    pub pid: i32,
    /// Epoch ms.
    pub started_at: i64,
    /// Epoch ms of the last heartbeat.
    pub last_heartbeat: i64,
    /// Epoch ms of a clean stop; None if running or crashed.
    pub stopped_at: Option<i64>,
    /// Why the node stopped, when the database made it stop (see `status`).
    pub failure: Option<String>,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
