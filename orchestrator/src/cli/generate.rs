//! `migrator generate`: realistic A2 export files, from the generator the demo uses.

use super::Exit;
use super::output::print;
use crate::generator::{ExportReport, GeneratorOptions};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

/// `generate` options.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Correspondences to write, in A2-id order: their creation dates rise with the id across
    /// 2019–2025, as in Altinn 2 (which gives out the id when a correspondence is created).
    #[arg(long, default_value_t = 10_000)]
    pub items: u64,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Split into this many files.
    #[arg(long, default_value_t = 1)]
    pub files: u64,
    /// Seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// First A2 id.
    #[arg(long, default_value_t = 1_000_000)]
    pub first_id: i64,
    /// Share of broken lines (bad JSON, missing or mistyped field, impossible date).
    #[arg(long, default_value_t = 0.001)]
    pub bad_lines: f64,
    /// Share of items with invalid content (rejected at migration, not at import).
    #[arg(long, default_value_t = 0.01)]
    pub invalid: f64,
    /// Share of items with later events.
    #[arg(long, default_value_t = 0.1)]
    pub later_events: f64,
}

/// Writes the files; needs no database.
pub(super) fn run(args: &GenerateArgs, json: bool) -> anyhow::Result<Exit> {
    let opts = GeneratorOptions {
        seed: args.seed,
        first_id: args.first_id,
        invalid_rate: args.invalid,
        later_event_rate: args.later_events,
        count: Some(args.items),
    };
    let r = crate::generator::write_export(opts, &args.out, args.items, args.files, args.bad_lines)
        .with_context(|| format!("cannot write to {}", args.out.display()))?;
    print(json, &r, |r| render(r, &args.out))?;
    Ok(Exit::Ok)
}

/// What was written, and where.
fn render(r: &ExportReport, out: &Path) -> String {
    format!(
        "wrote {} correspondences, {} events, {} broken lines into {} files under {}\n",
        r.correspondences,
        r.events,
        r.bad_lines,
        r.files.len(),
        out.display()
    )
}
