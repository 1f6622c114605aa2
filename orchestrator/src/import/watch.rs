//! The live feed: `migrator import --watch DIR` picks up export files as they land, each exactly
//! once across restarts. A ledger row per file records how many lines are safely imported; a
//! restart resumes after them (re-reading a few lines at most, which re-import makes harmless).
//!
//! Writers should create files under another name and rename them into place; as a guard, a file
//! is only taken once its size has stayed the same for one poll.

use super::{FileReport, ImportError, ImportOptions, expand, import_file};
use crate::store::Store;
use sea_orm::{ConnectionTrait, DbErr, Statement};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Watches `dir` until `cancel`, importing new files; returns the reports of the files it finished.
pub async fn watch(
    store: &Store,
    dir: &Path,
    opts: &ImportOptions,
    poll: Duration,
    cancel: CancellationToken,
) -> Result<Vec<FileReport>, ImportError> {
    let mut done = Vec::new();
    let mut sizes = HashMap::new();
    loop {
        done.extend(scan(store, dir, opts, &mut sizes, &cancel).await?);
        tokio::select! {
            _ = cancel.cancelled() => return Ok(done),
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// One look at `dir`: imports (or resumes) each file not yet finished whose size is the same as
/// at the previous look (`sizes` carries the sizes between looks). Used by `watch` and by the
/// scheduled `discover` action.
pub async fn scan(
    store: &Store,
    dir: &Path,
    opts: &ImportOptions,
    sizes: &mut HashMap<PathBuf, u64>,
    cancel: &CancellationToken,
) -> Result<Vec<FileReport>, ImportError> {
    let mut done = Vec::new();
    for path in expand(&[dir.to_path_buf()])? {
        if cancel.is_cancelled() {
            break;
        }
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            continue;
        }
        // Still being written? Wait for one look with the same size.
        if sizes.insert(path.clone(), size) != Some(size) {
            continue;
        }
        let key = path.display().to_string();
        let (finished, lines_done, rejected_before) = ledger_get(store, &key).await?;
        if finished {
            continue;
        }
        if lines_done == 0 {
            ledger_start(store, &key, size).await?;
        } else {
            tracing::info!(file = %key, lines_done, "resuming after a restart");
        }
        let resume = super::Resume { lines: lines_done, rejected: rejected_before };
        let result = import_file(store, &path, opts, resume, |lines, rejected| {
            let key = key.clone();
            async move { ledger_progress(store, &key, lines, rejected).await }
        })
        .await;
        let report = match result {
            Ok(r) => r,
            // A file that cannot be read (corrupt gzip, no permission, gone) must not stop
            // the feed: say so, and try it again next look.
            Err(ImportError::Io { path, source }) => {
                tracing::error!(file = %path, error = %source, "cannot import this file; will try again");
                continue;
            }
            Err(e) => return Err(e),
        };
        ledger_finish(store, &key).await?;
        tracing::info!(file = %key, lines = report.lines, rejected = report.rejected, "imported");
        done.push(report);
    }
    Ok(done)
}

fn stmt(store: &Store, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let backend = store.db().get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        let mut n = 0;
        sql.chars()
            .map(|c| {
                if c == '?' {
                    n += 1;
                    format!("${n}")
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        sql.to_string()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// (finished, lines done, rejected among them) for a file.
async fn ledger_get(store: &Store, path: &str) -> Result<(bool, u64, u64), DbErr> {
    let sql = "SELECT lines_done, rejected, finished_at FROM import_files WHERE path = ?";
    let row = store.db().query_one_raw(stmt(store, sql, vec![path.into()])).await?;
    Ok(match row {
        Some(r) => (
            r.try_get::<Option<i64>>("", "finished_at")?.is_some(),
            r.try_get::<i64>("", "lines_done")? as u64,
            r.try_get::<i64>("", "rejected")? as u64,
        ),
        None => (false, 0, 0),
    })
}

async fn ledger_start(store: &Store, path: &str, size: u64) -> Result<(), DbErr> {
    let now = store.clock().now_ms();
    store
        .db()
        .execute_raw(stmt(
            store,
            "INSERT INTO import_files (path, size, lines_done, rejected, started_at) VALUES (?, ?, 0, 0, ?) ON CONFLICT (path) DO NOTHING",
            vec![path.into(), (size as i64).into(), now.into()],
        ))
        .await
        .map(|_| ())
}

async fn ledger_progress(store: &Store, path: &str, lines: u64, rejected: u64) -> Result<(), DbErr> {
    store
        .db()
        .execute_raw(stmt(
            store,
            "UPDATE import_files SET lines_done = ?, rejected = ? WHERE path = ?",
            vec![(lines as i64).into(), (rejected as i64).into(), path.into()],
        ))
        .await
        .map(|_| ())
}

async fn ledger_finish(store: &Store, path: &str) -> Result<(), DbErr> {
    let now = store.clock().now_ms();
    store
        .db()
        .execute_raw(stmt(
            store,
            "UPDATE import_files SET finished_at = ? WHERE path = ?",
            vec![now.into(), path.into()],
        ))
        .await
        .map(|_| ())
}
