//! The live feed following export files that grow (`import::watch`): lines appended to a watched
//! file are imported exactly once, a line still being written waits for its newline, a bad
//! appended line is rejected with its line number, another file put at the same path is imported
//! from its first line, and a watcher killed in the middle of an appended file resumes without
//! loss or duplication. The looks are driven one at a time (`import::scan`, what the watcher and
//! the `discover` action run), so each test says exactly what a look saw; the crash test runs
//! `migrator import --watch` as a real process.

use crate::process::{migrator, signal, wait_for};
use orchestrator::clock::SystemClock;
use orchestrator::import::{FileReport, ImportOptions, Seen, scan};
use orchestrator::retry::RetryPolicy;
use orchestrator::store::Store;
use schema::entity::{import_file, workflow, workflow_history};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::{TestDb, on_both_backends};
use tokio_util::sync::CancellationToken;

const EXAMPLE: &str = include_str!("../../../docs/examples/correspondences.ndjson");

/// A valid correspondence line (without its newline) for A2 id `id`.
fn record(id: i64) -> String {
    let mut v: serde_json::Value = serde_json::from_str(EXAMPLE.lines().next().unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.insert("altinn2CorrespondenceId".into(), id.into());
    o.insert("sendersReference".into(), format!("ref-{id}").into());
    v.to_string()
}

/// Appends `text` to `path` (created if missing), as a live writer does.
fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.flush().unwrap();
}

/// Workflows, and history rows that created one (an item created twice would show here).
async fn items(conn: &DatabaseConnection) -> (u64, u64) {
    let created = workflow_history::Entity::find()
        .filter(workflow_history::Column::FromState.is_null())
        .count(conn)
        .await
        .unwrap();
    (workflow::Entity::find().count(conn).await.unwrap(), created)
}

async fn ledger(conn: &DatabaseConnection, path: &Path) -> Option<import_file::Model> {
    import_file::Entity::find_by_id(path.display().to_string()).one(conn).await.unwrap()
}

/// An inbox and the feed's memory between looks.
struct Inbox {
    store: Store,
    dir: tempfile::TempDir,
    seen: Seen,
}

impl Inbox {
    fn new(db: &TestDb) -> Inbox {
        let store = Store::new(db.conn.clone(), Arc::new(SystemClock), RetryPolicy::default());
        Inbox { store, dir: tempfile::tempdir().unwrap(), seen: Seen::default() }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// One look at every file, as the watcher's poll makes it.
    async fn look(&mut self) -> Vec<FileReport> {
        let opts = ImportOptions { chunk: 2, ..ImportOptions::default() };
        scan(&self.store, self.dir.path(), &opts, &mut self.seen, &CancellationToken::new()).await.unwrap()
    }

    /// A new process: the feed's memory is gone, the ledger stays.
    fn restart(&mut self) {
        self.seen = Seen::default();
    }

    async fn has(&self, id: i64) -> bool {
        self.store.show(&id.to_string()).await.unwrap().is_some()
    }
}

/// (lines skipped as done before, last line read, correspondences imported) of a look's report.
fn counted(r: &FileReport) -> (u64, u64, u64) {
    (r.skipped, r.lines, r.correspondences)
}

async fn appended_lines_are_imported_once_and_a_partial_line_waits(db: &TestDb) {
    let mut inbox = Inbox::new(db);
    let live = inbox.file("live.ndjson");
    append(&live, &format!("{}\n{}\n", record(1), record(2)));
    let r = inbox.look().await;
    assert_eq!(r.iter().map(counted).collect::<Vec<_>>(), [(0, 2, 2)]);
    assert!(inbox.look().await.is_empty(), "nothing new, nothing imported");

    // A line, and the first half of the next: the half waits for its newline.
    let fourth = record(4);
    let (head, tail) = fourth.split_at(fourth.len() / 2);
    append(&live, &format!("{}\n{head}", record(3)));
    let r = inbox.look().await;
    assert_eq!(r.iter().map(counted).collect::<Vec<_>>(), [(2, 3, 1)], "only the complete line");
    assert!(inbox.has(3).await && !inbox.has(4).await);
    assert!(inbox.look().await.is_empty(), "the partial line waits");
    inbox.restart();
    assert!(inbox.look().await.is_empty(), "the partial line waits after a restart too");
    let row = ledger(&db.conn, &live).await.unwrap();
    assert_eq!((row.lines_done, row.bytes_lines), (3, 3));
    let size = std::fs::metadata(&live).unwrap().len();
    assert_eq!(u64::try_from(row.bytes_done).unwrap(), size - u64::try_from(head.len()).unwrap());

    append(&live, &format!("{tail}\n"));
    let r = inbox.look().await;
    assert_eq!(r.iter().map(counted).collect::<Vec<_>>(), [(3, 4, 1)], "the line, once it is whole");
    assert!(inbox.has(4).await);
    assert!(r[0].first_rejects.is_empty(), "{:?}", r[0].first_rejects);

    // More lines after a restart: only they are imported.
    inbox.restart();
    append(&live, &format!("{}\n{}\n{}\n", record(5), record(6), record(7)));
    let r = inbox.look().await;
    assert_eq!(r.iter().map(counted).collect::<Vec<_>>(), [(4, 7, 3)]);
    assert!(inbox.look().await.is_empty());
    assert_eq!(items(&db.conn).await, (7, 7), "every line once");
    let row = ledger(&db.conn, &live).await.unwrap();
    assert_eq!((row.lines_done, row.rejected), (7, 0));
    assert_eq!(row.bytes_done, i64::try_from(std::fs::metadata(&live).unwrap().len()).unwrap());
}
on_both_backends!(appended_lines_are_imported_once_and_a_partial_line_waits);

async fn a_bad_appended_line_is_rejected_with_its_line_number(db: &TestDb) {
    let mut inbox = Inbox::new(db);
    let live = inbox.file("live.ndjson");
    append(&live, &format!("{}\n{}\n", record(1), record(2)));
    inbox.look().await;
    append(&live, &format!("{{not json\n{}\n", record(4)));
    let r = inbox.look().await;
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].skipped, r[0].lines, r[0].correspondences, r[0].rejected), (2, 4, 1, 1));
    assert_eq!(r[0].first_rejects.len(), 1);
    assert_eq!(r[0].first_rejects[0].line, 3, "numbered from the file's first line");
    assert!(r[0].first_rejects[0].file.ends_with("live.ndjson"));
    assert!(inbox.has(4).await, "the line after it went through");

    // Another one later, after a restart: the reject file keeps both.
    inbox.restart();
    append(&live, &format!("{}\n{{\"altinn2CorrespondenceId\": 6}}\n{}\n", record(5), record(7)));
    let r = inbox.look().await;
    assert_eq!((r[0].skipped, r[0].lines, r[0].correspondences, r[0].rejected), (4, 7, 2, 1));
    assert_eq!(r[0].first_rejects[0].line, 6);
    let rejects = std::fs::read_to_string(r[0].reject_file.as_ref().unwrap()).unwrap();
    let lines: Vec<u64> = rejects
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 6]);
    assert_eq!(ledger(&db.conn, &live).await.unwrap().rejected, 2);
    assert_eq!(items(&db.conn).await, (5, 5));
}
on_both_backends!(a_bad_appended_line_is_rejected_with_its_line_number);

/// A file renamed over the one the ledger counted, or truncated and written again, is another
/// file: imported from its first line (not skipped), and the lines it shares with the old one
/// change nothing.
async fn a_file_put_in_place_of_another_is_imported_from_its_first_line(db: &TestDb) {
    let mut inbox = Inbox::new(db);
    let live = inbox.file("live.ndjson");
    append(&live, &format!("{}\n{}\n{}\n", record(1), record(2), record(3)));
    inbox.look().await;

    let staged = inbox.file(".next.tmp");
    append(&staged, &format!("{}\n{}\n", record(3), record(4)));
    std::fs::rename(&staged, &live).unwrap();
    let r = inbox.look().await;
    assert_eq!(r.iter().map(counted).collect::<Vec<_>>(), [(0, 2, 2)], "renamed over: from line 1");
    assert_eq!(items(&db.conn).await, (4, 4), "the shared line created nothing");

    // Truncated in place and written again, shorter than what the ledger counted.
    std::fs::write(&live, format!("{}\n", record(5))).unwrap();
    let r = inbox.look().await;
    assert_eq!(r.iter().map(counted).collect::<Vec<_>>(), [(0, 1, 1)], "truncated: from line 1");

    // Truncated and written again past the old length, the same lines at its start.
    let longer = format!("{}\n{}\n{}\n", record(5), record(60), record(70));
    std::fs::write(&live, &longer).unwrap();
    let r = inbox.look().await;
    assert_eq!(r.iter().map(counted).collect::<Vec<_>>(), [(1, 3, 2)], "grown: after line 1");
    // Rewritten in place with another first line.
    std::fs::write(&live, longer.replace(&record(5), &record(80))).unwrap();
    let r = inbox.look().await;
    assert_eq!(r.iter().map(counted).collect::<Vec<_>>(), [(0, 3, 3)], "rewritten: from line 1");
    assert_eq!(items(&db.conn).await, (8, 8));
}
on_both_backends!(a_file_put_in_place_of_another_is_imported_from_its_first_line);

/// `migrator import --watch` killed (SIGKILL) while it imports a large append, more lines
/// appended while it is down (the last one half written), then started again: every line is
/// imported, none twice, and the second run starts where the ledger says the first one stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_killed_in_the_middle_of_an_appended_file_resumes_without_loss_or_duplication() {
    use orchestrator::generator::{GeneratorOptions, write_export};
    const FIRST: u64 = 30_000;
    const MORE: u64 = 50;
    let db = TestDb::sqlite().await;
    let staging = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    let live = inbox.path().join("live.ndjson");
    let exported = |first_id: i64, n: u64| {
        let dir = staging.path().join(first_id.to_string());
        let opts = GeneratorOptions { first_id, later_event_rate: 0.0, ..GeneratorOptions::default() };
        write_export(opts, &dir, n, 1, 0.0).unwrap();
        std::fs::read_to_string(dir.join("correspondences-0001.ndjson")).unwrap()
    };
    let dir = inbox.path().display().to_string();
    let args = ["--json", "import", "--watch", dir.as_str(), "--poll", "100ms", "--chunk", "500"];

    let mut first = migrator(&db.target, &args).spawn().unwrap();
    append(&live, &exported(1, FIRST));
    let start = Instant::now();
    loop {
        let row = ledger(&db.conn, &live).await;
        if row.as_ref().is_some_and(|r| r.lines_done > 0) {
            break;
        }
        assert!(first.try_wait().unwrap().is_none(), "the watcher stopped by itself");
        assert!(start.elapsed() < Duration::from_secs(120), "no progress: {row:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(&first, nix::sys::signal::Signal::SIGKILL);
    wait_for(first, Duration::from_secs(10));
    let at_kill = ledger(&db.conn, &live).await.unwrap();
    let done_at_kill = u64::try_from(at_kill.lines_done).unwrap();
    assert!(done_at_kill < FIRST && at_kill.finished_at.is_none(), "killed mid-file at line {done_at_kill}");

    // While it is down: more lines, one at a time, the last one half written.
    let more = exported(9_000_000, MORE + 1);
    let mut more: Vec<&str> = more.lines().collect();
    let last = more.pop().unwrap();
    for line in more {
        append(&live, &format!("{line}\n"));
    }
    let (head, tail) = last.split_at(last.len() / 2);
    append(&live, head);

    let second = migrator(&db.target, &args).spawn().unwrap();
    let wait_until = |lines: u64| {
        let (conn, live) = (db.conn.clone(), live.clone());
        async move {
            let start = Instant::now();
            loop {
                let row = ledger(&conn, &live).await.unwrap();
                if row.finished_at.is_some() && u64::try_from(row.lines_done).unwrap() == lines {
                    return;
                }
                assert!(start.elapsed() < Duration::from_secs(120), "not at line {lines}: {row:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_until(FIRST + MORE).await;
    let whole = FIRST + MORE + 1;
    append(&live, &format!("{tail}\n"));
    wait_until(whole).await;
    signal(&second, nix::sys::signal::Signal::SIGTERM);
    let (status, stdout, stderr) = wait_for(second, Duration::from_secs(15));
    assert!(status.success(), "{stderr}");

    let reports: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(reports.as_array().map(Vec::len), Some(1), "one report for the file: {stdout}");
    let n = |field: &str| reports[0][field].as_u64().unwrap();
    assert_eq!(n("skipped"), done_at_kill, "started where the ledger said the first run stopped");
    assert_eq!((n("lines"), n("correspondences"), n("rejected")), (whole, whole - done_at_kill, 0));
    assert_eq!(items(&db.conn).await, (whole, whole), "every line once");
    db.finish().await;
}
