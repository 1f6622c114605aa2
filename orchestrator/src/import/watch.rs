//! The live feed: `migrator import --watch DIR` picks up export files as they land, each exactly
//! once across restarts. A ledger row per file records how many lines are safely imported; a
//! restart resumes after them (re-reading a few lines at most, which re-import makes harmless).
//!
//! Writers should create files under another name and rename them into place; as a guard, a file
//! is only taken once its size has stayed the same for one poll.

use super::{FileReport, ImportError, ImportOptions, expand, import_file};
use crate::store::Store;
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
        let entry = store.ledger_entry(&key).await?;
        let (lines_done, rejected_before) = (entry.lines_done, entry.rejected);
        if entry.finished {
            continue;
        }
        if lines_done == 0 {
            store.ledger_start(&key, size).await?;
        } else {
            tracing::info!(file = %key, lines_done, "resuming after a restart");
        }
        let resume = super::Resume { lines: lines_done, rejected: rejected_before };
        let result = import_file(store, &path, opts, resume, |lines, rejected| {
            let key = key.clone();
            async move { store.ledger_progress(&key, lines, rejected).await }
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
        store.ledger_finish(&key).await?;
        tracing::info!(file = %key, lines = report.lines, rejected = report.rejected, "imported");
        done.push(report);
    }
    Ok(done)
}
