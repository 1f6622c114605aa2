//! The live feed's ledger (`import_files`): a row per export file with how many of its lines are
//! safely imported, so a restart resumes after them and a finished file is never taken again.

use super::Store;
use super::StoreError;
use schema::entity::import_file;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// Where the feed stands with one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Every line is done.
    pub finished: bool,
    /// Lines read and committed.
    pub lines_done: u64,
    /// Of those, lines rejected.
    pub rejected: u64,
}

impl Store {
    /// Where the feed stands with the file at `path` (all zero if it never started on it).
    pub async fn ledger_entry(&self, path: &str) -> Result<LedgerEntry, StoreError> {
        let row = import_file::Entity::find_by_id(path.to_string()).one(self.db()).await?;
        Ok(row
            .map(|r| LedgerEntry {
                finished: r.finished_at.is_some(),
                lines_done: u64::try_from(r.lines_done).unwrap_or(0),
                rejected: u64::try_from(r.rejected).unwrap_or(0),
            })
            .unwrap_or_default())
    }

    /// Records that the feed started on `path` (of `size` bytes); a second start is a no-op.
    pub async fn ledger_start(&self, path: &str, size: u64) -> Result<(), StoreError> {
        let row = import_file::ActiveModel {
            path: Set(path.to_string()),
            size: Set(i64::try_from(size).unwrap_or(i64::MAX)),
            lines_done: Set(0),
            rejected: Set(0),
            started_at: Set(self.clock().now_ms()),
            finished_at: Set(None),
        };
        import_file::Entity::insert(row)
            .on_conflict(OnConflict::column(import_file::Column::Path).do_nothing().to_owned())
            .exec_without_returning(self.db())
            .await?;
        Ok(())
    }

    /// Records how far the import of `path` has safely got.
    pub async fn ledger_progress(&self, path: &str, lines: u64, rejected: u64) -> Result<(), StoreError> {
        import_file::Entity::update_many()
            .col_expr(import_file::Column::LinesDone, Expr::value(i64::try_from(lines).unwrap_or(i64::MAX)))
            .col_expr(import_file::Column::Rejected, Expr::value(i64::try_from(rejected).unwrap_or(i64::MAX)))
            .filter(import_file::Column::Path.eq(path))
            .exec(self.db())
            .await?;
        Ok(())
    }

    /// Records that every line of `path` is done.
    pub async fn ledger_finish(&self, path: &str) -> Result<(), StoreError> {
        import_file::Entity::update_many()
            .col_expr(import_file::Column::FinishedAt, Expr::value(Some(self.clock().now_ms())))
            .filter(import_file::Column::Path.eq(path))
            .exec(self.db())
            .await?;
        Ok(())
    }
}
