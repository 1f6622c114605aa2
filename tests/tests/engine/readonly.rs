//! Reading never writes, and a command needs only what it uses: the reading commands (`status`,
//! `stuck`, `show`, `failures`, `plan`, `runs`) open an existing, current database only and exit 7
//! without creating anything when there is none; `plan` works with a `token_file` this machine
//! lacks; a PostgreSQL connection error names its cause. And the edges of every command: a
//! `--db` that is no database is refused, output to a closed pipe is no error, logs follow
//! `RUST_LOG` in plain text.

use sea_orm_migration::MigratorTrait;
use std::path::Path;
use tests::{PG_ENV, TestDb, on_both_backends};
use uuid::Uuid;

/// `Exit::NoDatabase` in the CLI.
const NO_DATABASE: i32 = 7;

/// The reading commands, with the arguments they need.
const READERS: &[&[&str]] = &[&["status"], &["stuck"], &["show", "1"], &["failures"], &["plan"], &["runs"]];

/// The binary in `dir` (so no ./migrator.toml of the checkout is read) with `--db db`; returns
/// (exit code, stdout, stderr).
async fn migrator(
    dir: &Path,
    db: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let mut c = crate::process::migrator(db, args);
    c.current_dir(dir).env_remove("MIGRATOR_CONFIG").envs(env.iter().copied());
    crate::process::output(c).await
}

#[tokio::test]
async fn status_on_a_mistyped_path_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let parent = tmp.path().join("mistyped").join("data");
    let path = parent.join("migrator.sqlite");
    let (code, out, err) = migrator(tmp.path(), path.to_str().unwrap(), &["status"], &[]).await;
    assert_eq!(code, Some(NO_DATABASE), "stdout: {out}\nstderr: {err}");
    assert!(
        err.contains(&format!("no database at {}", path.display()))
            && err.contains("check --db / database.url (read-only commands never create one)"),
        "{err}"
    );
    assert!(!out.contains("0 items"), "{out}");
    assert!(!path.exists() && !parent.exists() && !tmp.path().join("mistyped").exists());
}

#[tokio::test]
async fn every_reading_command_refuses_a_missing_database() {
    let tmp = tempfile::tempdir().unwrap();
    let parent = tmp.path().join("nowhere");
    let path = parent.join("x.sqlite");
    for args in READERS {
        for json in [false, true] {
            let mut args = args.to_vec();
            if json {
                args.push("--json");
            }
            let (code, out, err) = migrator(tmp.path(), path.to_str().unwrap(), &args, &[]).await;
            assert_eq!(code, Some(NO_DATABASE), "{args:?}: stdout: {out}\nstderr: {err}");
            assert!(err.contains("no database at") && out.is_empty(), "{args:?}: {out} / {err}");
            assert!(!path.exists() && !parent.exists(), "{args:?} created {}", path.display());
        }
    }
    // The config's database.url is checked the same way.
    std::fs::write(tmp.path().join("migrator.toml"), "[database]\nurl = \"nowhere/y.sqlite\"\n").unwrap();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_migrator-under-test"));
    let out = c
        .current_dir(tmp.path())
        .arg("status")
        .env_remove("MIGRATOR_DB")
        .env_remove("MIGRATOR_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(NO_DATABASE));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database at nowhere/y.sqlite"));
    assert!(!parent.exists());
}

#[tokio::test]
async fn a_file_that_is_not_a_migrator_database_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("empty.sqlite");
    std::fs::write(&path, b"").unwrap();
    for args in READERS {
        let (code, out, err) = migrator(tmp.path(), path.to_str().unwrap(), args, &[]).await;
        assert_eq!(code, Some(NO_DATABASE), "{args:?}: stdout: {out}\nstderr: {err}");
        assert!(err.contains("no migrator database at") && err.contains("check --db"), "{err}");
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "a reading command wrote to the file");
}

/// A schema one migration behind the binary: reading commands say so and name the upgrade, which
/// `migrate` then does.
async fn an_older_schema_is_named_and_migrate_upgrades_it(db: &TestDb) {
    let tmp = tempfile::tempdir().unwrap();
    schema::Migrator::down(&db.conn, Some(1)).await.unwrap();
    let pending = schema::Migrator::get_pending_migrations(&db.conn).await.unwrap();
    assert_eq!(pending.len(), 1);
    for args in READERS {
        let (code, out, err) = migrator(tmp.path(), &db.target, args, &[]).await;
        assert_eq!(code, Some(NO_DATABASE), "{args:?}: stdout: {out}\nstderr: {err}");
        assert!(
            err.contains("is older than this migrator")
                && err.contains(pending[0].name())
                && err.contains("`migrator migrate`"),
            "{err}"
        );
    }
    assert_eq!(
        schema::Migrator::get_pending_migrations(&db.conn).await.unwrap().len(),
        1,
        "a reader migrated"
    );
    let (code, out, err) = migrator(tmp.path(), &db.target, &["migrate"], &[]).await;
    assert_eq!(code, Some(0), "{out} {err}");
    assert!(out.contains("schema up to date"), "{out}");
    assert!(schema::Migrator::get_pending_migrations(&db.conn).await.unwrap().is_empty());
    let (code, out, err) = migrator(tmp.path(), &db.target, &["status"], &[]).await;
    assert_eq!((code, out.as_str()), (Some(0), "0 items (0 leased)\n"), "{err}");
}
on_both_backends!(an_older_schema_is_named_and_migrate_upgrades_it);

/// Every reading command answers on an existing database (SQLite opened read-only, so a write
/// would fail).
async fn reading_commands_read_an_existing_database(db: &TestDb) {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = migrator(tmp.path(), &db.target, &["show", "1"], &[]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no item with workflow id or A2 id `1`"), "{err}");
    for args in READERS.iter().filter(|a| a[0] != "show") {
        let (code, out, err) = migrator(tmp.path(), &db.target, args, &[]).await;
        assert_eq!(code, Some(0), "{args:?}: stdout: {out}\nstderr: {err}");
    }
}
on_both_backends!(reading_commands_read_an_existing_database);

#[tokio::test]
async fn plan_does_not_read_the_token_file() {
    let db = TestDb::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("migrator.toml"),
        "[altinn3]\nbase_url = \"https://platform.tt02.altinn.no\"\ntoken_file = \"/nonexistent/a3-token\"\n\
         [phases.p]\nsteps = [\"migrate\"]\n",
    )
    .unwrap();
    let (code, out, err) = migrator(tmp.path(), &db.target, &["plan"], &[]).await;
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    assert!(out.contains("phase p"), "{out}");
    // The config was read: `run`, which needs the token, still refuses the missing file.
    let (code, _, err) = migrator(tmp.path(), &db.target, &["run", "--once", "--phase", "p"], &[]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("altinn3.token_file"), "{err}");
    db.finish().await;
}

/// Needs no server: nothing listens on port 1.
#[tokio::test]
async fn postgres_on_a_closed_port_names_the_refusal() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [&["status"][..], &["migrate"][..]] {
        let (code, out, err) =
            migrator(tmp.path(), "postgres://postgres:s3cret@127.0.0.1:1/migrator", args, &[]).await;
        assert_eq!(code, Some(1), "{args:?}: stdout: {out}\nstderr: {err}");
        assert!(err.contains("cannot connect to postgres://postgres:***@127.0.0.1:1/migrator"), "{err}");
        assert!(err.contains("refused") && !err.contains("timed out"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}

#[tokio::test]
async fn postgres_names_an_unknown_database() {
    let Ok(admin_url) = std::env::var(PG_ENV) else {
        eprintln!("SKIPPED (PostgreSQL): postgres_names_an_unknown_database: set {PG_ENV} to run it");
        return;
    };
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin_url);
    let target = format!("{base}/migrator_missing_{}", Uuid::now_v7().simple());
    let tmp = tempfile::tempdir().unwrap();
    // A writing command does not create a PostgreSQL database either: it names the problem.
    for args in [&["status"][..], &["migrate"][..]] {
        let (code, out, err) = migrator(tmp.path(), &target, args, &[]).await;
        assert_eq!(code, Some(1), "{args:?}: stdout: {out}\nstderr: {err}");
        assert!(err.contains("unknown database") && err.contains("does not exist"), "{err}");
    }
}

/// A `--db` that names no database is refused with exit 2, by reading and writing commands alike,
/// before anything is created (an empty value used to import into a temporary database that
/// vanished; `mysql://…` became a file of that name).
#[tokio::test]
async fn a_db_that_is_no_database_is_refused_before_anything_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    for target in ["", "mysql://root:hunter2@127.0.0.1/x", ":memory:", "sqlite://"] {
        for command in [&["migrate"][..], &["status"][..]] {
            let (code, out, err) = migrator(tmp.path(), target, command, &[]).await;
            assert_eq!(code, Some(2), "{target:?} {command:?}\nstdout: {out}\nstderr: {err}");
            assert!(err.contains("not a database") && err.contains("give a SQLite file path"), "{err}");
            assert!(!err.contains("hunter2"), "the password is never shown: {err}");
        }
    }
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing was created: {left:?}");
}

/// `migrator status --json | true`: the reader is gone before the output is written. The command
/// did its work; that is exit 0, not a panic (101).
#[tokio::test]
async fn output_to_a_closed_pipe_is_not_an_error() {
    let db = TestDb::sqlite().await;
    for json in [true, false] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut c =
            crate::process::migrator(&db.target, if json { &["status", "--json"] } else { &["status"] });
        c.stdout(writer);
        let (code, _, err) = crate::process::output(c).await;
        assert_eq!(code, Some(0), "json={json}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    db.finish().await;
}

/// Logs follow `RUST_LOG` when `MIGRATOR_LOG` is not set, and carry no colour codes when stderr
/// is not a terminal (a file, a pipe, a journal).
#[tokio::test]
async fn logs_follow_rust_log_in_plain_text() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("bench.sqlite");
    let mut c = crate::process::migrator(db.to_str().unwrap(), &["bench", "--items", "10"]);
    c.env_remove("MIGRATOR_LOG").env("RUST_LOG", "info");
    let (code, out, err) = crate::process::output(c).await;
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(err.contains("INFO") && err.contains("dispatcher started"), "RUST_LOG=info is honoured: {err}");
    assert!(!err.contains('\u{1b}'), "no ANSI escape codes: {err:?}");
}
