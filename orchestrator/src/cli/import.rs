//! `migrator import`: A2 export files (NDJSON, optionally gzip) into the database, given as
//! paths or watched for in a directory (the live feed). Exits 3 when lines were rejected.

use super::Exit;
use super::output::print;
use super::signal::cancel_on_signal;
use crate::import::{FileReport, ImportOptions};
use crate::store::Store;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// `import` options.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or directories (directories: their *.ndjson, *.jsonl and .gz files, in name order).
    #[arg(required_unless_present = "watch")]
    pub paths: Vec<PathBuf>,
    /// Watch this directory and import each new file once (the live feed); runs until stopped.
    #[arg(long, conflicts_with = "paths")]
    pub watch: Option<PathBuf>,
    /// How often the watched directory is looked at.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub poll: Duration,
    /// Import batch label stored on new items (`status` counts by it; `retry`/`cancel --batch`
    /// select by it). The config's phases select items by date, owner and resource, not by it.
    /// A number is refused: `--batch` was lines per transaction before it became the label
    /// (that is `--chunk` now), and an old script must not label its items "500".
    #[arg(long, default_value = "default", value_parser = batch_label)]
    pub batch: String,
    /// Lines per transaction (bigger ones write fewer bytes per line; on SQLite a transaction
    /// holds the database's one writer for its duration).
    #[arg(long, default_value_t = crate::import::CHUNK)]
    pub chunk: usize,
    /// Longest line in bytes: a longer one is rejected with its file and line (and never held
    /// in memory whole).
    #[arg(long, default_value_t = crate::import::MAX_LINE)]
    pub max_line_bytes: usize,
    /// Where reject files and summaries go (default: next to each input file).
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
}

/// An import batch label: any text but a bare number (see [`ImportArgs::batch`]).
fn batch_label(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("the batch label is empty".into())
    } else if s.trim().bytes().all(|b| b.is_ascii_digit()) {
        Err(format!("`{s}` is a number: lines per transaction are `--chunk {s}`; a batch label needs a name"))
    } else {
        Ok(s.to_string())
    }
}

/// Imports the files (or watches until a signal), then refreshes the planner's statistics.
pub(super) async fn run(store: Store, args: ImportArgs, json: bool) -> anyhow::Result<Exit> {
    use std::io::IsTerminal;
    let opts = ImportOptions {
        batch: args.batch,
        chunk: args.chunk,
        progress: !json && std::io::stderr().is_terminal(),
        report_dir: args.report_dir,
        max_line: args.max_line_bytes,
    };
    let reports = if let Some(dir) = &args.watch {
        let cancel = cancel_on_signal()?;
        eprintln!(
            "watching {} (every {}); Ctrl-C stops",
            dir.display(),
            humantime::format_duration(args.poll)
        );
        crate::import::watch(&store, dir, &opts, args.poll, cancel).await?
    } else {
        let mut out = Vec::new();
        for path in crate::import::expand(&args.paths)? {
            out.push(
                crate::import::import_file(&store, &path, &opts, Default::default(), |_, _| async { Ok(()) })
                    .await?,
            );
        }
        out
    };
    store.analyze().await?;
    let rejected: u64 = reports.iter().map(|r| r.rejected).sum();
    print(json, &reports, |reports| render(reports))?;
    Ok(if rejected > 0 { Exit::ImportRejects } else { Exit::Ok })
}

/// One line per file (what it held, what was written, what was rejected and where the reject
/// file is), then its first rejected lines.
fn render(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for r in reports {
        out += &format!(
            "{}: {} lines: {} correspondences ({} written, {} new items), {} event lines; events stored {}, duplicates dropped {}; {} items made sync-pending; {} lines rejected{}\n",
            r.file,
            r.lines,
            r.correspondences,
            r.records_written,
            r.workflows_created,
            r.events,
            r.events_stored,
            r.events_duplicate,
            r.made_pending,
            r.rejected,
            r.reject_file.as_deref().map(|f| format!(" (see {f})")).unwrap_or_default()
        );
        for x in &r.first_rejects {
            out += &format!("  {}:{}: {}\n", x.file, x.line, x.reason);
        }
    }
    out
}
