//! The live feed: `migrator import --watch DIR` (or the daemon's `discover.watch`) imports the
//! export files in a directory as they land and follows them as they grow, each line exactly
//! once across restarts.
//!
//! **Files that grow.** A plain export (`.ndjson`, `.jsonl`) is append-only: a look imports its
//! complete lines after the ledger's resume point, up to the last `\n`. A last line without its
//! newline is still being written and waits for a later look (so an export that ends without a
//! newline keeps its last line from the feed; a one-shot `migrator import FILE` takes it). A file
//! renamed into place is just a file that grew from nothing at once: writers that produce whole
//! files should still create them under another name and rename them in.
//!
//! **Gzip files are whole-file only**: a `.gz` export is taken once its size held still from one
//! look to the next, or at once when it is closed after writing or renamed into place, and read
//! to its end. One that changes after it was imported counts as another file (below); appending
//! to a gzip file is not followed line by line.
//!
//! **The ledger** (`import_files`, one row per path) records, for each file, the lines safely
//! imported and — each time the feed caught up — the byte offset just past the last of them, the
//! number of lines before that offset, and a fingerprint of the file: its inode and a hash of the
//! first and the last 4 KiB before that offset. A look seeks to the offset (it never re-reads a
//! grown file from its start) and skips the lines a crash cut off after it: batches record their
//! line count as they commit, so a crash re-reads at most one batch, which re-import makes
//! harmless (an unchanged record changes nothing; events are deduplicated to the second).
//!
//! Why keyed by path and checked by fingerprint: the path is what the writer and the operator
//! name, and it survives a restore or a move to another disk; an inode alone does not (and is
//! reused once a file is deleted), and path plus size cannot work when the size grows with every
//! line. But a path can come to hold another file: renamed over the old one, deleted and created
//! again, truncated and rewritten. Such a file has another inode, or is shorter than the offset,
//! or differs in the bytes around it; the fingerprint then fails to match and the file is imported
//! again from its first line, with a warning — never skipped, and never applied twice, as the lines
//! it shares with the old file change nothing. The device number is left out of the fingerprint: it
//! can change across a remount (network filesystems), which would start every file over. Not
//! detected: an edit in place that keeps the inode, the size and both 4 KiB windows; the feed is
//! append-only by contract.
//!
//! **Notifications** (modify, close-after-write, rename into place, create) make a look at that
//! one file at once, where the platform has them; the poll looks at every file in the directory,
//! as the safety net. A file unchanged since the feed caught up with it (the same size, inode and
//! modification time) costs one `stat` per look and no query.

use super::{FileReport, ImportError, ImportOptions, Resume, expand, import_file, is_export};
use crate::store::{LedgerEntry, LedgerMark, Store};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The bytes at each end of a file's imported part that its fingerprint hashes.
const WINDOW: u64 = 4096;

/// What the feed saw of each file at its last look (a file unchanged since it caught up is not
/// looked into again; a gzip file is taken once its size held still).
#[derive(Debug, Default)]
pub struct Seen {
    files: HashMap<PathBuf, Look>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Look {
    size: u64,
    inode: u64,
    modified: Option<SystemTime>,
    /// Every complete line in the file at this size is imported.
    caught_up: bool,
}

impl Look {
    /// The file as `meta` shows it, not yet caught up with.
    fn of(meta: &std::fs::Metadata) -> Look {
        Look { size: meta.len(), inode: inode(meta), modified: meta.modified().ok(), caught_up: false }
    }

    /// The same file, not written to since.
    fn same(&self, other: &Look) -> bool {
        (self.size, self.inode, self.modified) == (other.size, other.inode, other.modified)
    }
}

/// Watches `dir` until `cancel`, importing new files and new lines; returns what it imported,
/// one report per file (per start from its first line).
pub async fn watch(
    store: &Store,
    dir: &Path,
    opts: &ImportOptions,
    poll: Duration,
    cancel: CancellationToken,
) -> Result<Vec<FileReport>, ImportError> {
    let mut done = Vec::new();
    let mut seen = Seen::default();
    let (tx, mut changed) = mpsc::unbounded_channel();
    let _notifications = notifications(dir, tx);
    loop {
        for r in scan(store, dir, opts, &mut seen, &cancel).await? {
            merge(&mut done, r);
        }
        let next_scan = tokio::time::sleep(poll);
        tokio::pin!(next_scan);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return Ok(done),
                () = &mut next_scan => break,
                Some((path, complete)) = changed.recv() => {
                    // All the files notified meanwhile, each once.
                    let mut paths = BTreeMap::from([(path, complete)]);
                    while let Ok((path, complete)) = changed.try_recv() {
                        *paths.entry(path).or_default() |= complete;
                    }
                    for (path, complete) in paths {
                        if cancel.is_cancelled() {
                            break;
                        }
                        if let Some(r) = look(store, &path, opts, &mut seen, complete).await? {
                            merge(&mut done, r);
                        }
                    }
                }
            }
        }
    }
}

/// Filesystem notifications for `dir`: each export file written to, created, closed after
/// writing or renamed into it is sent to `changed`, with whether it is complete (closed or
/// renamed: a gzip file is taken at once). None (polling alone) if the platform or the directory
/// does not allow them.
fn notifications(
    dir: &Path,
    changed: mpsc::UnboundedSender<(PathBuf, bool)>,
) -> Option<notify::RecommendedWatcher> {
    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
    use notify::{EventKind, RecursiveMode, Watcher};
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let complete = matches!(
            event.kind,
            EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
                | EventKind::Access(AccessKind::Close(AccessMode::Write))
        );
        let grew = matches!(
            event.kind,
            EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) | EventKind::Create(_)
        );
        // A rename's paths are (from, to): the file is at the last one. The feed's own reject
        // files and summaries land here too; they are not exports.
        if let Some(path) = event.paths.last().filter(|p| (complete || grew) && is_export(p)) {
            let _ = changed.send((path.clone(), complete));
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

/// One look at every export file in `dir` (`seen` carries what the looks before saw). Used by
/// `watch` and by the scheduled `discover` action.
pub async fn scan(
    store: &Store,
    dir: &Path,
    opts: &ImportOptions,
    seen: &mut Seen,
    cancel: &CancellationToken,
) -> Result<Vec<FileReport>, ImportError> {
    let mut done = Vec::new();
    let files = expand(&[dir.to_path_buf()])?;
    let present: HashSet<&PathBuf> = files.iter().collect();
    seen.files.retain(|p, _| present.contains(p));
    for path in &files {
        if cancel.is_cancelled() {
            break;
        }
        done.extend(look(store, path, opts, seen, false).await?);
    }
    Ok(done)
}

/// One look at the file at `path` (`complete`: the platform said it was closed after writing or
/// renamed into place): imports what is new in it, if anything.
async fn look(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    seen: &mut Seen,
    complete: bool,
) -> Result<Option<FileReport>, ImportError> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(None) };
    if !meta.is_file() || meta.len() == 0 {
        return Ok(None);
    }
    let now = Look::of(&meta);
    let gzip = path.extension().is_some_and(|e| e == "gz");
    let before = seen.files.get(path).copied();
    let unchanged = before.is_some_and(|b| b.same(&now));
    if unchanged && before.is_some_and(|b| b.caught_up) {
        return Ok(None);
    }
    if gzip && !unchanged && !complete {
        // Still being written? Wait for one look that finds it the same.
        seen.files.insert(path.to_path_buf(), now);
        return Ok(None);
    }
    match follow(store, path, opts, now.size, now.inode, gzip).await {
        Ok(report) => {
            seen.files.insert(path.to_path_buf(), Look { caught_up: true, ..now });
            Ok(report)
        }
        // A file that cannot be read (corrupt gzip, no permission, gone) must not stop the
        // feed: say so, and try it again next look.
        Err(ImportError::Io { path: shown, source }) => {
            tracing::error!(file = %shown, error = %source, "cannot import this file; will try again");
            seen.files.remove(path);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Imports the complete lines of `path` (`size` bytes, `inode`) the ledger does not count yet,
/// and records where the feed caught up.
async fn follow(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    size: u64,
    inode: u64,
    gzip: bool,
) -> Result<Option<FileReport>, ImportError> {
    let key = path.display().to_string();
    let io = |source| ImportError::Io { path: key.clone(), source };
    let mut resume = Resume::default();
    match store.ledger_entry(&key).await? {
        Some(e) if same_file(path, &e, size, inode, gzip).map_err(io)? => {
            if gzip && e.finished {
                return Ok(None);
            }
            if e.lines_done > e.bytes_lines {
                tracing::info!(file = %key, lines_done = e.lines_done, "resuming after a restart");
            }
            resume = Resume {
                lines: e.lines_done,
                rejected: e.rejected,
                from_byte: e.bytes_done,
                from_line: e.bytes_lines,
                until_byte: None,
            };
        }
        other => {
            if let Some(e) = other {
                tracing::warn!(
                    file = %key,
                    lines_done = e.lines_done,
                    "not the file the ledger counted (replaced, truncated or rewritten): importing it \
                     from its first line again; the lines it shares with the old file change nothing"
                );
            }
            store.ledger_begin(&key, size, &fingerprint(path, inode, 0).map_err(io)?).await?;
        }
    }
    let end = if gzip {
        size
    } else {
        // Up to the last newline: a line without one is still being written.
        let Some(end) = last_line_end(path, resume.from_byte, size).map_err(io)? else {
            return Ok(None);
        };
        resume.until_byte = Some(end);
        end
    };
    let report = import_file(store, path, opts, resume, |lines, rejected| {
        let key = key.clone();
        async move { store.ledger_progress(&key, lines, rejected).await }
    })
    .await?;
    let mark = LedgerMark {
        lines: report.lines,
        rejected: resume.rejected + report.rejected,
        bytes: end,
        size,
        fingerprint: fingerprint(path, inode, end).map_err(io)?,
    };
    store.ledger_caught_up(&key, &mark).await?;
    if resume.lines == 0 {
        tracing::info!(file = %key, lines = report.lines, rejected = mark.rejected, "imported");
    } else {
        // A file followed line by line would fill the log at info.
        tracing::debug!(file = %key, lines = report.lines, rejected = mark.rejected, "imported appended lines");
    }
    Ok(Some(report))
}

/// Is the file at `path` the one `entry` counted, grown or not?
fn same_file(path: &Path, entry: &LedgerEntry, size: u64, inode: u64, gzip: bool) -> std::io::Result<bool> {
    if size < entry.bytes_done || (gzip && entry.finished && size != entry.bytes_done) {
        return Ok(false);
    }
    match &entry.fingerprint {
        Some(known) => Ok(*known == fingerprint(path, inode, entry.bytes_done)?),
        // A row from before fingerprints: trusted, if its lines end where a line ends.
        None => Ok(gzip || entry.bytes_done == 0 || {
            let mut last = [0u8];
            let mut f = std::fs::File::open(path)?;
            f.seek(SeekFrom::Start(entry.bytes_done - 1))?;
            f.read_exact(&mut last)?;
            last[0] == b'\n'
        }),
    }
}

/// `inode:hash` of the file at `path` up to byte `upto`: the hash (FNV-1a, stable across
/// versions and platforms) covers the first and the last [`WINDOW`] bytes before `upto`.
fn fingerprint(path: &Path, inode: u64, upto: u64) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let n = upto.min(WINDOW);
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for start in [0, upto - n] {
        let mut buf = Vec::new();
        f.seek(SeekFrom::Start(start))?;
        (&mut f).take(n).read_to_end(&mut buf)?;
        if buf.len() as u64 != n {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file shrank"));
        }
        for b in buf {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(format!("{inode}:{hash:016x}"))
}

/// The byte offset just past the last `\n` in `path` between `from` and `size`, if there is one.
fn last_line_end(path: &Path, from: u64, size: u64) -> std::io::Result<Option<u64>> {
    const CHUNK: u64 = 1 << 16;
    let mut f = std::fs::File::open(path)?;
    let mut end = size;
    let mut buf = Vec::new();
    while end > from {
        let start = end.saturating_sub(CHUNK).max(from);
        buf.clear();
        f.seek(SeekFrom::Start(start))?;
        (&mut f).take(end - start).read_to_end(&mut buf)?;
        if let Some(i) = buf.iter().rposition(|b| *b == b'\n') {
            return Ok(Some(start + i as u64 + 1));
        }
        end = start;
    }
    Ok(None)
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// Adds `r` to the report of the same file in `done` when it continues it, else adds it apart.
fn merge(done: &mut Vec<FileReport>, r: FileReport) {
    let Some(d) = done.iter_mut().rev().find(|d| d.file == r.file).filter(|d| d.lines == r.skipped) else {
        done.push(r);
        return;
    };
    d.lines = r.lines;
    d.correspondences += r.correspondences;
    d.events += r.events;
    d.blank += r.blank;
    d.rejected += r.rejected;
    d.records_written += r.records_written;
    d.workflows_created += r.workflows_created;
    d.events_stored += r.events_stored;
    d.events_duplicate += r.events_duplicate;
    d.made_pending += r.made_pending;
    if r.reject_file.is_some() {
        d.reject_file = r.reject_file;
    }
    let room = 10usize.saturating_sub(d.first_rejects.len());
    d.first_rejects.extend(r.first_rejects.into_iter().take(room));
}

#[cfg(test)]
mod tests {
    use super::{fingerprint, last_line_end};
    use std::io::Write;

    #[test]
    fn only_complete_lines_are_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.ndjson");
        std::fs::write(&path, "one\ntwo\nthr").unwrap();
        assert_eq!(last_line_end(&path, 0, 11).unwrap(), Some(8));
        assert_eq!(last_line_end(&path, 8, 11).unwrap(), None, "a partial line waits");
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"ee\n").unwrap();
        assert_eq!(last_line_end(&path, 8, 14).unwrap(), Some(14));
        // Longer than a read chunk.
        std::fs::write(&path, format!("x\n{}", "y".repeat(200_000))).unwrap();
        assert_eq!(last_line_end(&path, 0, 200_002).unwrap(), Some(2));
    }

    #[test]
    fn a_fingerprint_tells_another_file_from_a_grown_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.ndjson");
        std::fs::write(&path, "one\ntwo\n").unwrap();
        let at_8 = fingerprint(&path, 1, 8).unwrap();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"three\n").unwrap();
        assert_eq!(fingerprint(&path, 1, 8).unwrap(), at_8, "grown");
        assert_ne!(fingerprint(&path, 2, 8).unwrap(), at_8, "another inode");
        std::fs::write(&path, "one\ntwx\nthree\n").unwrap();
        assert_ne!(fingerprint(&path, 1, 8).unwrap(), at_8, "rewritten");
        std::fs::write(&path, "one\n").unwrap();
        assert!(fingerprint(&path, 1, 8).is_err(), "shorter than the offset");
    }
}
