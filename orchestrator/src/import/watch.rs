//! The live feed: `migrator import --watch DIR` picks up export files as they land, each exactly
//! once across restarts. A ledger row per file records how many lines are safely imported; a
//! restart resumes after them (re-reading a few lines at most, which re-import makes harmless).
//!
//! Writers should create files under another name and rename them into place. A file renamed into
//! place, or closed after writing, is taken as soon as the filesystem says so (notifications, where
//! the platform has them); otherwise, as a guard, a file is only taken once its size has stayed the
//! same for one poll. The poll goes on beside the notifications, as the safety net.

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
    let (tx, mut landed) = tokio::sync::mpsc::unbounded_channel();
    let _notifications = notifications(dir, tx);
    loop {
        done.extend(scan(store, dir, opts, &mut sizes, &cancel).await?);
        tokio::select! {
            _ = cancel.cancelled() => return Ok(done),
            _ = tokio::time::sleep(poll) => {}
            Some(path) = landed.recv() => {
                // Complete: its size now counts as seen twice, so this look takes it.
                let mut complete = vec![path];
                while let Ok(more) = landed.try_recv() {
                    complete.push(more);
                }
                for path in complete {
                    if let Ok(meta) = std::fs::metadata(&path) {
                        sizes.insert(path, meta.len());
                    }
                }
            }
        }
    }
}

/// Filesystem notifications for `dir`: each file renamed into it or closed after writing is sent
/// to `complete`. None (polling alone) if the platform or the directory does not allow them.
fn notifications(
    dir: &Path,
    complete: tokio::sync::mpsc::UnboundedSender<PathBuf>,
) -> Option<notify::RecommendedWatcher> {
    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
    use notify::{EventKind, RecursiveMode, Watcher};
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let done = matches!(
            event.kind,
            EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
                | EventKind::Access(AccessKind::Close(AccessMode::Write))
        );
        // A rename's paths are (from, to): the file is at the last one.
        if let Some(path) = event.paths.last().filter(|_| done) {
            let _ = complete.send(path.clone());
        }
    };
    let started = notify::recommended_watcher(handler).and_then(|mut w| {
        w.watch(dir, RecursiveMode::NonRecursive)?;
        Ok(w)
    });
    match started {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "no filesystem notifications; polling only");
            None
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
