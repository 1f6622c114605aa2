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
    /// Size in bytes at the last look that imported from it.
    pub size: i64,
    /// Lines read and committed so far.
    pub lines_done: i64,
    /// Of those, lines rejected (reported, not imported).
    pub rejected: i64,
    /// Epoch ms.
    pub started_at: i64,
    /// Epoch ms: when the feed last caught up with the file (every complete line then in it
    /// imported); None until it first did. A file that grows is taken up again after it.
    pub finished_at: Option<i64>,
    /// The byte offset just past the last complete line imported (0: unknown, count lines from
    /// the start).
    pub bytes_done: i64,
    /// Lines before `bytes_done` (`lines_done` may be ahead of it by what a crash cut short).
    pub bytes_lines: i64,
    /// `inode:hash` of the file the ledger counted in (the hash over the first and last few KiB
    /// before `bytes_done`): another file put at the same path does not match. None for rows
    /// from before fingerprints.
    pub fingerprint: Option<String>,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
