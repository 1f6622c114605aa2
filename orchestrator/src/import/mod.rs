//! `migrator import`: streams NDJSON exports (plain or gzip) into the store in batches, in constant
//! memory. Every line is validated; a bad line is reported by file and line with the reason,
//! written to a reject file, and never stops the good lines. Re-importing is safe: an unchanged
//! record changes nothing, events are deduplicated to the second, as A3 does.

pub mod line;
mod watch;

pub use watch::{Seen, scan, watch};

use crate::store::StoreError;
use crate::store::{EventRow, Intake, RecordRow, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use line::Line;
use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Import batch label of new workflows (`status` counts by it; `retry --batch` selects by it).
    pub batch: String,
    /// Lines per transaction (at most: the end of the file commits too).
    pub chunk: usize,
    /// Draw a progress bar.
    pub progress: bool,
    /// Where reject files and summaries go (next to the input if None).
    pub report_dir: Option<PathBuf>,
    /// A line longer than this many bytes is rejected (with its file and line) and not held in
    /// memory: at most this much of it is read into memory.
    pub max_line: usize,
}

/// The default longest line: 1 MiB, a hundred times the largest valid record's text fields.
pub const MAX_LINE: usize = 1 << 20;

/// The default lines per transaction. A transaction writes every page it dirties, and an index
/// that takes keys out of order (the claim-by-creation one, when an export is not in creation
/// order) dirties pages all over itself, so bigger ones write fewer bytes per line; its
/// memory is SQLite's page cache, which spills to the WAL, not the lines (they stream through).
/// On SQLite it holds the one connection, so a daemon's dispatcher waits for it: at the measured
/// rate this is a fraction of a second.
pub const CHUNK: usize = 20_000;

/// Parsed lines per message from the reader thread, and messages in flight: the lines held in
/// memory between reading and writing are at most their product.
const LINES_PER_MESSAGE: usize = 256;
const MESSAGES_IN_FLIGHT: usize = 8;

impl Default for ImportOptions {
    fn default() -> Self {
        Self { batch: "default".into(), chunk: CHUNK, progress: false, report_dir: None, max_line: MAX_LINE }
    }
}

/// Reads one line (up to and including `\n`) into `buf`, keeping at most `cap` bytes of it and
/// consuming the rest; returns the line's full length without its `\n`, or None at the end of
/// the input. Memory stays bounded by `cap` (plus the newline) whatever the input holds.
fn read_line_capped(r: &mut impl BufRead, buf: &mut Vec<u8>, cap: usize) -> std::io::Result<Option<usize>> {
    let mut total = 0;
    loop {
        let available = r.fill_buf()?;
        if available.is_empty() {
            return Ok((total > 0).then_some(total));
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        // Room for `cap` bytes of text and the newline.
        let room = (cap + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len();
        total += used;
        r.consume(used);
        if done {
            return Ok(Some(total - 1));
        }
    }
}

/// What importing one file did. `lines = correspondences + events + blank + rejected + skipped`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The file.
    pub file: String,
    /// Lines read.
    pub lines: u64,
    /// Lines skipped because an earlier run already imported them (live feed resume).
    pub skipped: u64,
    /// Good correspondence lines.
    pub correspondences: u64,
    /// Good event lines.
    pub events: u64,
    /// Blank lines.
    pub blank: u64,
    /// Bad lines.
    pub rejected: u64,
    /// Records written (new or changed before migration).
    pub records_written: u64,
    /// New workflows.
    pub workflows_created: u64,
    /// New events stored.
    pub events_stored: u64,
    /// Events already known (to the second): dropped.
    pub events_duplicate: u64,
    /// Synced items made SyncPending by new events.
    pub made_pending: u64,
    /// The reject file, when there were bad lines.
    pub reject_file: Option<String>,
    /// The first few bad lines, for the terminal.
    pub first_rejects: Vec<Reject>,
}

/// One bad line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// File.
    pub file: String,
    /// Line number (1-based).
    pub line: u64,
    /// Why.
    pub reason: String,
    /// The line (cut at 2,000 characters).
    pub text: String,
}

/// Import failures (not bad lines: those are reported, not errors).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read or a report written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] StoreError),
}

/// Files to import: the given files, and the export files (`*.ndjson`, `*.jsonl`, `*.gz` of those)
/// in the given directories, in name order.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ImportError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| ImportError::Io { path: p.display().to_string(), source })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && is_export(f))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// True for names the importer takes from a directory.
pub fn is_export(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let base = name.strip_suffix(".gz").unwrap_or(name);
    (base.ends_with(".ndjson") || base.ends_with(".jsonl")) && !base.ends_with(".rejects.ndjson")
}

/// A line as the reader thread hands it over: checked, and already in the rows it is stored as.
enum Parsed {
    Record(u64, RecordRow, Vec<EventRow>),
    Event(u64, EventRow),
    Blank(u64),
    Bad(Reject),
}

/// Parses and checks one line of `file` (number `n`), and turns a good one into its rows.
fn parse_line(
    file: &str,
    n: u64,
    buf: &[u8],
    length: usize,
    max_line: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Parsed {
    let bad =
        |reason: String, text: String| Parsed::Bad(Reject { file: file.to_string(), line: n, reason, text });
    if length > max_line {
        return bad(
            format!("line is {length} bytes, longer than the limit of {max_line} (import --max-line-bytes)"),
            cut(&String::from_utf8_lossy(buf)),
        );
    }
    let text = match std::str::from_utf8(buf) {
        Ok(text) => text,
        Err(e) => return bad(format!("not UTF-8: {e}"), cut(&String::from_utf8_lossy(buf))),
    };
    match line::parse(text, now) {
        Ok(Line::Correspondence(r)) => match RecordRow::split(*r) {
            Ok((row, events)) => Parsed::Record(n, row, events),
            Err(e) => bad(format!("cannot be stored: {e}"), cut(text)),
        },
        Ok(Line::Event(e)) => match EventRow::new(e.altinn2_correspondence_id, &e.body) {
            Ok(row) => Parsed::Event(n, row),
            Err(e) => bad(format!("cannot be stored: {e}"), cut(text)),
        },
        Ok(Line::Blank) => Parsed::Blank(n),
        Err(reason) => bad(reason, cut(text)),
    }
}

/// Where a resumed import starts: lines already imported, and how many of them were rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resume {
    /// Lines to skip (counted from the file's first line).
    pub lines: u64,
    /// Rejects among them (so the count stays right across a restart).
    pub rejected: u64,
    /// Plain files: start reading at this byte offset, the start of line `from_line + 1` (the
    /// live feed's resume point in a file that grows). A gzip stream is read from its start.
    pub from_byte: u64,
    /// Lines before `from_byte`.
    pub from_line: u64,
    /// Plain files: read no further than this byte offset (the live feed passes the end of the
    /// last complete line, so a line still being written is left for a later look).
    pub until_byte: Option<u64>,
}

/// Imports one file, skipping what `resume` says is done; `progress_cb` is told how many lines
/// are safely in the database after each batch, and how many were rejected (the live feed's
/// resume point).
pub async fn import_file<F, Fut>(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    resume: Resume,
    mut progress_cb: F,
) -> Result<FileReport, ImportError>
where
    F: FnMut(u64, u64) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let skip = resume.lines;
    let shown = path.display().to_string();
    let io = |source| ImportError::Io { path: shown.clone(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let gzip = shown.ends_with(".gz");
    let first_line = if gzip { 0 } else { resume.from_line };
    let reader: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(resume.from_byte)).map_err(io)?;
        match resume.until_byte {
            Some(end) => Box::new(file.take(end.saturating_sub(resume.from_byte))),
            None => Box::new(file),
        }
    };
    let report_dir =
        opts.report_dir.clone().unwrap_or_else(|| path.parent().map(Path::to_path_buf).unwrap_or_default());
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("import").to_string();
    let reject_path = report_dir.join(format!("{name}.rejects.ndjson"));
    let summary_path = report_dir.join(format!("{name}.import.json"));

    // Reading, parsing and serialising run on a blocking thread, a few messages ahead of the
    // database (which works on its own thread meanwhile).
    let (tx, mut rx) = mpsc::channel::<Vec<Parsed>>(MESSAGES_IN_FLIGHT);
    let max_line = opts.max_line.max(1);
    let file_name = shown.clone();
    let reader_task = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut r = BufReader::with_capacity(1 << 16, reader);
        let mut buf = Vec::with_capacity(4096);
        let mut n = first_line;
        let mut out = Vec::with_capacity(LINES_PER_MESSAGE);
        let now = chrono::Utc::now();
        loop {
            buf.clear();
            let Some(length) = read_line_capped(&mut r, &mut buf, max_line)? else {
                break;
            };
            n += 1;
            if n <= skip {
                continue;
            }
            out.push(parse_line(&file_name, n, &buf, length, max_line, now));
            if out.len() >= LINES_PER_MESSAGE
                && tx
                    .blocking_send(std::mem::replace(&mut out, Vec::with_capacity(LINES_PER_MESSAGE)))
                    .is_err()
            {
                return Ok(());
            }
        }
        if !out.is_empty() {
            let _ = tx.blocking_send(out);
        }
        Ok(())
    });

    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {prefix} {pos} lines {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(name.clone());
    if !opts.progress {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let mut report = FileReport { file: shown.clone(), skipped: skip, lines: skip, ..FileReport::default() };
    let rejected_before = resume.rejected;
    let mut rejects: Option<std::io::BufWriter<std::fs::File>> = None;
    let chunk = opts.chunk.max(1);
    // The open transaction, and the lines read since the last commit.
    let mut intake: Option<Intake<'_>> = None;
    let mut pending_lines = 0usize;
    let mut last_line = report.lines;
    loop {
        let message = rx.recv().await;
        let end = message.is_none();
        for p in message.into_iter().flatten() {
            match p {
                Parsed::Record(n, row, events) => {
                    last_line = n;
                    report.correspondences += 1;
                    open(store, &mut intake, &opts.batch).await?.record(row, events).await?;
                }
                Parsed::Event(n, row) => {
                    last_line = n;
                    report.events += 1;
                    open(store, &mut intake, &opts.batch).await?.event(row).await?;
                }
                Parsed::Blank(n) => {
                    last_line = n;
                    report.blank += 1;
                }
                Parsed::Bad(rej) => {
                    last_line = rej.line;
                    report.rejected += 1;
                    let w = match &mut rejects {
                        Some(w) => w,
                        None => {
                            std::fs::create_dir_all(&report_dir).map_err(io)?;
                            // A resumed file appends to the rejects of the run before.
                            let f = std::fs::OpenOptions::new()
                                .create(true)
                                .append(skip > 0)
                                .write(true)
                                .truncate(skip == 0)
                                .open(&reject_path)
                                .map_err(io)?;
                            rejects.insert(std::io::BufWriter::new(f))
                        }
                    };
                    let json = serde_json::to_string(&rej).unwrap_or_default();
                    writeln!(w, "{json}").map_err(io)?;
                    tracing::debug!(file = %rej.file, line = rej.line, reason = %rej.reason, "bad line");
                    if report.first_rejects.len() < 10 {
                        report.first_rejects.push(rej);
                    }
                }
            }
            pending_lines += 1;
            if pending_lines >= chunk {
                commit(&mut intake, &mut report).await?;
                pending_lines = 0;
                report.lines = last_line;
                bar.set_position(last_line);
                // The rejects of these lines are on disk before the ledger says they are done.
                if let Some(w) = &mut rejects {
                    w.flush().map_err(io)?;
                }
                progress_cb(last_line, rejected_before + report.rejected).await?;
            }
        }
        if end {
            break;
        }
    }
    if pending_lines > 0 {
        commit(&mut intake, &mut report).await?;
        report.lines = last_line;
        bar.set_position(last_line);
        if let Some(w) = &mut rejects {
            w.flush().map_err(io)?;
        }
        progress_cb(last_line, rejected_before + report.rejected).await?;
    }
    reader_task.await.map_err(|e| io(std::io::Error::other(e.to_string())))?.map_err(io)?;
    bar.finish_and_clear();
    if let Some(mut w) = rejects {
        w.flush().map_err(io)?;
        report.reject_file = Some(reject_path.display().to_string());
    }
    std::fs::create_dir_all(&report_dir).map_err(io)?;
    let summary = serde_json::to_string_pretty(&report).unwrap_or_default();
    std::fs::write(&summary_path, summary).map_err(io)?;
    Ok(report)
}

/// The open transaction, opened if there is none.
async fn open<'a, 's>(
    store: &'s Store,
    intake: &'a mut Option<Intake<'s>>,
    batch: &str,
) -> Result<&'a mut Intake<'s>, StoreError> {
    if intake.is_none() {
        *intake = Some(store.intake(batch).await?);
    }
    Ok(intake.as_mut().expect("opened above"))
}

/// Commits the open transaction, if any, into `report`.
async fn commit(intake: &mut Option<Intake<'_>>, report: &mut FileReport) -> Result<(), StoreError> {
    if let Some(open) = intake.take() {
        let r = open.commit().await?;
        report.records_written += r.records_written;
        report.workflows_created += r.workflows_created;
        report.events_stored += r.events_inserted;
        report.events_duplicate += r.events_duplicate;
        report.made_pending += r.made_pending;
    }
    Ok(())
}

fn cut(text: &str) -> String {
    let t = text.trim_end_matches(['\n', '\r']);
    t.chars().take(2000).collect()
}

#[cfg(test)]
mod tests {
    use super::read_line_capped;
    use std::io::BufReader;

    #[test]
    fn lines_are_read_whole_but_kept_only_up_to_the_cap() {
        // A tiny buffer, so lines span several fills.
        let mut r = BufReader::with_capacity(3, &b"ab\nabcdefgh\nx"[..]);
        let mut buf = Vec::new();
        let mut next = |buf: &mut Vec<u8>| {
            buf.clear();
            read_line_capped(&mut r, buf, 4).unwrap()
        };
        assert_eq!((next(&mut buf), buf.as_slice()), (Some(2), &b"ab\n"[..]), "the newline is not counted");
        assert_eq!((next(&mut buf), buf.as_slice()), (Some(8), &b"abcde"[..]), "8 bytes long, 4 (+1) kept");
        assert_eq!((next(&mut buf), buf.as_slice()), (Some(1), &b"x"[..]), "a last line without newline");
        assert_eq!(next(&mut buf), None);
    }
}
