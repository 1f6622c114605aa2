//! The live feed follows files that grow (an export appended to line by line), so the ledger
//! (`import_files`) says where in the file its imported lines end and which file that was:
//! - `bytes_done`: the byte offset just past the last imported complete line, `bytes_lines` the
//!   number of lines before it. A look seeks there instead of reading the file from its start,
//!   then skips `lines_done - bytes_lines` lines (those a crash cut off mid-segment).
//! - `fingerprint`: the file's inode and a hash of the first and last few KiB of its imported
//!   part, to tell the file the ledger counted in from another one put in its place.
//!
//! Rows from before: a finished file's lines all end at its size (the feed only took files whose
//! size held still); an unfinished one resumes by counting lines from the start, as it did; no
//! fingerprint means the file then at the path is trusted once and fingerprinted.

use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const COLUMNS: [(&str, &str); 3] = [
    ("bytes_done", "BIGINT NOT NULL DEFAULT 0"),
    ("bytes_lines", "BIGINT NOT NULL DEFAULT 0"),
    ("fingerprint", "TEXT"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let fresh = !manager.has_column("import_files", "bytes_done").await?;
        for (column, ty) in COLUMNS {
            if !manager.has_column("import_files", column).await? {
                db.execute_unprepared(&format!("ALTER TABLE import_files ADD COLUMN {column} {ty}")).await?;
            }
        }
        // Only saves reading: a row left at offset 0 resumes by counting its lines from the start.
        if fresh {
            db.execute_unprepared(
                "UPDATE import_files SET bytes_done = size, bytes_lines = lines_done WHERE finished_at IS NOT NULL",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (column, _) in COLUMNS {
            if manager.has_column("import_files", column).await? {
                let drop = format!("ALTER TABLE import_files DROP COLUMN {column}");
                manager.get_connection().execute_unprepared(&drop).await?;
            }
        }
        Ok(())
    }
}
