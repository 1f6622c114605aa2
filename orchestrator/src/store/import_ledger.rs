//! The live feed's ledger (`import_files`): a row per export file with how many of its lines are
//! safely imported, where in the file they end and which file that was, so a restart resumes
//! after them, a file that grows is taken up where it stopped, and another file put at the same
//! path is told apart (see `import::watch` for how the feed uses it).

use super::Store;
use super::StoreError;
use schema::entity::import_file;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// Where the feed stands with one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The feed caught up with the file at least once (every complete line then in it imported).
    pub finished: bool,
    /// Lines read and committed.
    pub lines_done: u64,
    /// Of those, lines rejected.
    pub rejected: u64,
    /// The byte offset just past the last complete line the feed caught up to (0: count lines
    /// from the start).
    pub bytes_done: u64,
    /// Lines before `bytes_done`.
    pub bytes_lines: u64,
    /// The file's fingerprint at `bytes_done` (None for rows from before fingerprints).
    pub fingerprint: Option<String>,
}

/// Where the feed caught up with a file: every line before `bytes` is imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerMark {
    /// Lines before `bytes`.
    pub lines: u64,
    /// Of those, lines rejected.
    pub rejected: u64,
    /// Byte offset just past the last imported line.
    pub bytes: u64,
    /// The file's size at this look.
    pub size: u64,
    /// The file's fingerprint at `bytes`.
    pub fingerprint: String,
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    /// Where the feed stands with the file at `path` (None if it never started on it).
    pub async fn ledger_entry(&self, path: &str) -> Result<Option<LedgerEntry>, StoreError> {
        let row = import_file::Entity::find_by_id(path.to_string()).one(self.db()).await?;
        Ok(row.map(|r| LedgerEntry {
            finished: r.finished_at.is_some(),
            lines_done: unsigned(r.lines_done),
            rejected: unsigned(r.rejected),
            bytes_done: unsigned(r.bytes_done),
            bytes_lines: unsigned(r.bytes_lines),
            fingerprint: r.fingerprint,
        }))
    }

    /// Records that the feed starts on `path` (of `size` bytes, with `fingerprint`) from its
    /// first line: a new file, or another file where the ledger's was (its counts start over).
    pub async fn ledger_begin(&self, path: &str, size: u64, fingerprint: &str) -> Result<(), StoreError> {
        use import_file::Column as C;
        let row = import_file::ActiveModel {
            path: Set(path.to_string()),
            size: Set(signed(size)),
            lines_done: Set(0),
            rejected: Set(0),
            started_at: Set(self.clock().now_ms()),
            finished_at: Set(None),
            bytes_done: Set(0),
            bytes_lines: Set(0),
            fingerprint: Set(Some(fingerprint.to_string())),
        };
        let reset = [
            C::Size,
            C::LinesDone,
            C::Rejected,
            C::StartedAt,
            C::FinishedAt,
            C::BytesDone,
            C::BytesLines,
            C::Fingerprint,
        ];
        import_file::Entity::insert(row)
            .on_conflict(OnConflict::column(C::Path).update_columns(reset).to_owned())
            .exec_without_returning(self.db())
            .await?;
        Ok(())
    }

    /// Records how far the import of `path` has safely got (after each batch).
    pub async fn ledger_progress(&self, path: &str, lines: u64, rejected: u64) -> Result<(), StoreError> {
        import_file::Entity::update_many()
            .col_expr(import_file::Column::LinesDone, Expr::value(signed(lines)))
            .col_expr(import_file::Column::Rejected, Expr::value(signed(rejected)))
            .filter(import_file::Column::Path.eq(path))
            .exec(self.db())
            .await?;
        Ok(())
    }

    /// Records that the feed caught up with `path` at `mark`.
    pub async fn ledger_caught_up(&self, path: &str, mark: &LedgerMark) -> Result<(), StoreError> {
        use import_file::Column as C;
        import_file::Entity::update_many()
            .col_expr(C::LinesDone, Expr::value(signed(mark.lines)))
            .col_expr(C::Rejected, Expr::value(signed(mark.rejected)))
            .col_expr(C::BytesDone, Expr::value(signed(mark.bytes)))
            .col_expr(C::BytesLines, Expr::value(signed(mark.lines)))
            .col_expr(C::Size, Expr::value(signed(mark.size)))
            .col_expr(C::Fingerprint, Expr::value(Some(mark.fingerprint.clone())))
            .col_expr(C::FinishedAt, Expr::value(Some(self.clock().now_ms())))
            .filter(C::Path.eq(path))
            .exec(self.db())
            .await?;
        Ok(())
    }
}
