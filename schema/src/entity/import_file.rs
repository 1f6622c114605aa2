//! `import_files`: the live feed's ledger, one row per export file: how many of its lines are
//! safely imported, so a restart resumes after them and a finished file is never taken again.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One export file the feed has started on.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "import_files")]
pub struct Model {
    /// The file's path as the feed saw it (its identity).
    #[sea_orm(primary_key, auto_increment = false)]
    pub path: String,
    /// Size in bytes when the import started.
    pub size: i64,
    /// Lines read and committed so far.
    pub lines_done: i64,
    /// Of those, lines rejected (reported, not imported).
    pub rejected: i64,
    /// Epoch ms.
    pub started_at: i64,
    /// Epoch ms; None until every line is done.
    pub finished_at: Option<i64>,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
