//! Export files on disk: correspondences and later events as NDJSON, with a share of lines broken
//! the ways real exports break.

use super::{Generator, GeneratorOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What `write_export` wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    /// Files written.
    pub files: Vec<String>,
    /// Correspondence lines (good ones).
    pub correspondences: u64,
    /// Event lines (good ones).
    pub events: u64,
    /// Deliberately broken lines.
    pub bad_lines: u64,
}

/// Writes `items` correspondences as export files under `dir` (`correspondences-NNNN.ndjson`,
/// `files` of them) and their later events (`events-NNNN.ndjson`), with a share `bad_line_rate`
/// of broken lines (cut JSON, a missing field, a mistyped field, an impossible date), streaming.
pub fn write_export(
    opts: GeneratorOptions,
    dir: &std::path::Path,
    items: u64,
    files: u64,
    bad_line_rate: f64,
) -> std::io::Result<ExportReport> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut g = Generator::new(opts);
    let mut bad = StdRng::seed_from_u64(opts.seed ^ 0x5eed);
    let mut report = ExportReport::default();
    let files = files.max(1);
    let per_file = items.div_ceil(files);
    let mut written = 0;
    for f in 0..files {
        let cpath = dir.join(format!("correspondences-{:04}.ndjson", f + 1));
        let epath = dir.join(format!("events-{:04}.ndjson", f + 1));
        let mut cw = std::io::BufWriter::new(std::fs::File::create(&cpath)?);
        let mut ew = std::io::BufWriter::new(std::fs::File::create(&epath)?);
        let mut n = 0;
        while n < per_file && written < items {
            let rec = g.record();
            let later = g.later_events(&rec);
            let line = serde_json::to_string(&rec).map_err(std::io::Error::other)?;
            if bad.random_bool(bad_line_rate.clamp(0.0, 1.0)) {
                writeln!(cw, "{}", break_line(&line, &mut bad))?;
                report.bad_lines += 1;
            } else {
                writeln!(cw, "{line}")?;
                report.correspondences += 1;
            }
            for e in later {
                writeln!(ew, "{}", serde_json::to_string(&e).map_err(std::io::Error::other)?)?;
                report.events += 1;
            }
            n += 1;
            written += 1;
        }
        cw.flush()?;
        ew.flush()?;
        report.files.push(cpath.display().to_string());
        report.files.push(epath.display().to_string());
    }
    Ok(report)
}

/// One of the ways real exports break.
pub(super) fn break_line(line: &str, rng: &mut StdRng) -> String {
    match rng.random_range(0..4) {
        0 => {
            // Cut mid-line (on a character boundary: the text is UTF-8).
            let mut at = line.len() / 2;
            while !line.is_char_boundary(at) {
                at -= 1;
            }
            line[..at].to_string()
        }
        1 => line.replacen("\"recipient\":", "\"recipientX\":", 1),
        2 => line.replacen("\"partyId\":", "\"partyId\":\"not a number\",\"x\":", 1),
        _ => {
            // An impossible date: 30 February.
            match line.find("\"created\":\"") {
                Some(i) => {
                    let start = i + "\"created\":\"".len();
                    format!("{}2023-02-30{}", &line[..start], &line[start + 10..])
                }
                None => "{".into(),
            }
        }
    }
}
