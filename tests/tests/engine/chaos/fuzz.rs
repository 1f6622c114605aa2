//! Import fuzzing: a generated export (correspondences, then later events) with lines mutated at
//! random by a seeded generator — truncated, a control byte put in, invalid UTF-8, a huge
//! number, a wrong type, a required field deleted, padded past `--max-line-bytes`, duplicated,
//! or a bit flipped anywhere but in the A2 id (which may or may not break the line) — imported
//! by the `migrator import` process. Every intact line is imported exactly once, every broken
//! line is reported by file and line, the exit code is 3 as documented, nothing panics, and a
//! second import of the same file changes nothing.

use super::{Rng, pick};
use crate::process::{migrator, output};
use orchestrator::generator::{GeneratorOptions, write_export};
use schema::entity::{a2_event, a2_record, workflow, workflow_history};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use std::collections::{BTreeMap, BTreeSet};
use tests::{TestDb, on_both_backends};

const ID_KEY: &str = "\"altinn2CorrespondenceId\":";

/// What became of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Unchanged (or a copy of an unchanged line).
    Intact,
    /// Always rejected.
    Broken,
    /// A bit flipped: rejected or not.
    Maybe,
}

/// The byte range of the A2 id's value in `line`.
fn id_span(line: &[u8]) -> (usize, usize) {
    let key = line.windows(ID_KEY.len()).position(|w| w == ID_KEY.as_bytes()).expect("an id") + ID_KEY.len();
    let end = key + line[key..].iter().take_while(|b| b.is_ascii_digit()).count();
    (key, end)
}

/// `line` with its id's value replaced by `with`.
fn replace_id(line: &[u8], with: &[u8]) -> Vec<u8> {
    let (start, end) = id_span(line);
    [&line[..start], with, &line[end..]].concat()
}

/// One mutation of `line` that always breaks it.
fn break_line(line: &[u8], max_line: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = line.to_vec();
    match rng.below(7) {
        // Cut short: the closing brace is gone (possibly mid-character).
        0 => out.truncate(1 + rng.index(line.len() - 2)),
        // A control character, which JSON allows nowhere unescaped.
        1 => out[rng.index(line.len())] = 1 + u8::try_from(rng.below(8)).unwrap(),
        // Bytes that are no UTF-8.
        2 => {
            let at = rng.index(line.len());
            out.splice(at..at, [0xFF, 0xC3, 0x28]);
        }
        // A number no i64 holds.
        3 => out = replace_id(line, b"123456789012345678901234567890"),
        // The wrong type.
        4 => {
            let wrong: [&[u8]; 5] = [b"\"twelve\"", b"true", b"null", b"[1]", b"1.5"];
            out = replace_id(line, wrong[rng.index(wrong.len())]);
        }
        // A required field deleted.
        5 => {
            let (start, end) = id_span(line);
            let comma = usize::from(line.get(end) == Some(&b','));
            out = [&line[..start - ID_KEY.len()], &line[end + comma..]].concat();
        }
        // Longer than the limit.
        _ => {
            let pad = format!("\"padding\":\"{}\",", "x".repeat(max_line + rng.index(3 * max_line)));
            out.splice(1..1, pad.into_bytes());
        }
    }
    out
}

/// A bit flipped outside the id, never making a newline.
fn flip_bit(line: &[u8], rng: &mut Rng) -> Vec<u8> {
    let (start, end) = id_span(line);
    let mut out = line.to_vec();
    loop {
        let at = rng.index(line.len());
        let flipped = line[at] ^ (1 << rng.below(8));
        if (start..end).contains(&at) || flipped == b'\n' {
            continue;
        }
        out[at] = flipped;
        return out;
    }
}

/// Per test: the file, each line's fate and A2 id, and the limit it is imported with.
struct Fuzzed {
    path: std::path::PathBuf,
    fates: Vec<(Fate, i64, bool)>,
    max_line: usize,
}

/// A generated export of `items` items and their later events in one file, about a fifth of
/// its lines mutated and a few duplicated.
fn fuzzed(dir: &std::path::Path, items: u64, seed: u64) -> Fuzzed {
    let opts = GeneratorOptions { seed, later_event_rate: 0.2, ..GeneratorOptions::default() };
    write_export(opts, dir, items, 1, 0.0).unwrap();
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let (corr, events) = (read("correspondences-0001.ndjson"), read("events-0001.ndjson"));
    let lines: Vec<(&[u8], bool)> = corr
        .split(|b| *b == b'\n')
        .map(|l| (l, true))
        .chain(events.split(|b| *b == b'\n').map(|l| (l, false)))
        .filter(|(l, _)| !l.is_empty())
        .collect();
    let max_line = (lines.iter().map(|(l, _)| l.len()).max().unwrap() * 2).max(16 << 10);
    let mut rng = Rng::new(seed);
    let (mut text, mut fates) = (Vec::new(), Vec::new());
    for (line, is_record) in lines {
        let id = std::str::from_utf8(&line[id_span(line).0..id_span(line).1]).unwrap().parse().unwrap();
        let (fate, bytes) = match rng.below(100) {
            0..12 => (Fate::Broken, break_line(line, max_line, &mut rng)),
            12..20 => (Fate::Maybe, flip_bit(line, &mut rng)),
            _ => (Fate::Intact, line.to_vec()),
        };
        let copies = if fate == Fate::Intact && rng.below(100) < 3 { 2 } else { 1 };
        for _ in 0..copies {
            text.extend_from_slice(&bytes);
            text.push(b'\n');
            fates.push((fate, id, is_record));
        }
    }
    let path = dir.join("fuzzed.ndjson");
    std::fs::write(&path, text).unwrap();
    Fuzzed { path, fates, max_line }
}

/// Items, records, events and history rows.
async fn counts(conn: &DatabaseConnection) -> [u64; 4] {
    [
        workflow::Entity::find().count(conn).await.unwrap(),
        a2_record::Entity::find().count(conn).await.unwrap(),
        a2_event::Entity::find().count(conn).await.unwrap(),
        workflow_history::Entity::find().count(conn).await.unwrap(),
    ]
}

/// Imports the file with the `migrator` process; its one report.
async fn import(db: &TestDb, f: &Fuzzed) -> (serde_json::Value, String) {
    let max = f.max_line.to_string();
    let path = f.path.to_str().unwrap();
    let args = ["--json", "import", "--chunk", "97", "--max-line-bytes", max.as_str(), path];
    let (code, stdout, stderr) = output(migrator(&db.target, &args)).await;
    assert!(!stderr.contains("panicked"), "the import panicked:\n{stderr}");
    assert_eq!(code, Some(3), "exit 3: some lines rejected\n{stdout}\n{stderr}");
    let reports: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    (reports[0].clone(), stderr)
}

async fn fuzzed_import_takes_every_intact_line_once_and_reports_every_broken_one(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let f = fuzzed(dir.path(), pick(2_000, 80_000), 0xF022);
    let (r, _) = import(db, &f).await;
    let n = |k: &str| r[k].as_u64().unwrap();
    let lines = f.fates.len() as u64;
    assert_eq!(n("lines"), lines, "{r}");
    assert_eq!(n("correspondences") + n("events") + n("rejected") + n("blank"), lines, "{r}");

    // Every broken line reported by file and line; nothing else but flipped lines.
    let rejects: Vec<serde_json::Value> = std::fs::read_to_string(r["reject_file"].as_str().unwrap())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut reported = BTreeSet::new();
    for x in &rejects {
        assert_eq!(x["file"], f.path.display().to_string(), "{x}");
        assert!(!x["reason"].as_str().unwrap().is_empty(), "{x}");
        assert!(reported.insert(x["line"].as_u64().unwrap()), "a line reported twice: {x}");
    }
    let fate_of = |line: u64| f.fates[usize::try_from(line - 1).unwrap()].0;
    let by_fate = |want: Fate| (1..=lines).filter(|&l| fate_of(l) == want).collect::<BTreeSet<_>>();
    let (broken, maybe) = (by_fate(Fate::Broken), by_fate(Fate::Maybe));
    let unreported: Vec<_> = broken.difference(&reported).collect();
    assert!(unreported.is_empty(), "broken lines not reported: {unreported:?}");
    let wrongly: Vec<_> = reported.iter().filter(|l| fate_of(**l) == Fate::Intact).collect();
    assert!(wrongly.is_empty(), "intact lines rejected: {wrongly:?}");
    assert_eq!(n("rejected"), rejects.len() as u64);

    // Every intact record line's item imported once; no item out of a line that always breaks.
    let ids_of = |want: &[Fate]| -> BTreeSet<i64> {
        f.fates.iter().filter(|(fate, _, rec)| *rec && want.contains(fate)).map(|(_, id, _)| *id).collect()
    };
    let items: BTreeSet<i64> =
        workflow::Entity::find().all(&db.conn).await.unwrap().into_iter().map(|w| w.a2_id).collect();
    let intact = ids_of(&[Fate::Intact]);
    let missing: Vec<_> = intact.difference(&items).collect();
    assert!(missing.is_empty(), "intact lines not imported: {missing:?}");
    let possible = ids_of(&[Fate::Intact, Fate::Maybe]);
    let unexpected: Vec<_> = items.difference(&possible).collect();
    assert!(unexpected.is_empty(), "items out of broken lines: {unexpected:?}");
    let created = workflow_history::Entity::find()
        .filter(workflow_history::Column::FromState.is_null())
        .count(&db.conn)
        .await
        .unwrap();
    assert_eq!(created, items.len() as u64, "no item created twice");
    let before = counts(&db.conn).await;
    assert_eq!(before[1], items.len() as u64, "one record per item");
    assert_eq!(n("workflows_created"), items.len() as u64);
    assert_eq!(before[2], n("events_stored"), "{r}");
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for x in &rejects {
        let reason = x["reason"].as_str().unwrap();
        let kind = reason.chars().take(24).map(|c| if c.is_ascii_digit() { '#' } else { c });
        *tally.entry(kind.collect()).or_default() += 1;
    }
    eprintln!(
        "fuzzed import: {lines} lines, {} broken, {} bit-flipped ({} of them rejected), {} items; \
         reasons {tally:?}",
        broken.len(),
        maybe.len(),
        reported.intersection(&maybe).count(),
        items.len()
    );

    // The same file again changes nothing, and reports as many lines.
    let (again, _) = import(db, &f).await;
    let m = |k: &str| again[k].as_u64().unwrap();
    assert_eq!(
        (m("rejected"), m("records_written"), m("workflows_created"), m("events_stored")),
        (n("rejected"), 0, 0, 0),
        "{again}"
    );
    assert_eq!(counts(&db.conn).await, before, "re-import is idempotent");
}
on_both_backends!(fuzzed_import_takes_every_intact_line_once_and_reports_every_broken_one);
