//! Opening the database: SQLite file or PostgreSQL URL, tuned for the engine. Writing commands
//! create it and apply migrations ([`open`]); reading commands open an existing, current one and
//! change nothing ([`open_existing`]).

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, RuntimeErr, sqlx};
use sea_orm_migration::MigratorTrait;
use std::path::Path;
use std::time::Duration;

/// How long one PostgreSQL connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a call waits for a free connection of the pool (every connection busy or being
/// re-established) before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// PostgreSQL's own bounds on a session: no statement runs longer than `statement_timeout`, and a
/// transaction left open by a client that went silent (killed, or cut off by the network) gives
/// its row locks back after `idle_in_transaction_session_timeout` instead of holding them until
/// TCP notices.
const PG_SESSION_BOUNDS: [(&str, &str); 2] =
    [("statement_timeout", "300s"), ("idle_in_transaction_session_timeout", "60s")];

/// What every "there is nothing to read" message ends with.
const CHECK_TARGET: &str = "check --db / database.url (read-only commands never create one)";

/// Failure to open or migrate the database. Messages never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum DbOpenError {
    /// The SQLite file's directory could not be created.
    #[error("cannot create directory {dir}")]
    Dir {
        /// The directory.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
    /// The target is neither a SQLite file path nor a PostgreSQL URL.
    #[error("not a database: {target:?} {why}: give a SQLite file path or a postgres:// URL")]
    BadTarget {
        /// What was given (redacted).
        target: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Connecting failed.
    #[error("cannot connect to {target}: {cause}")]
    Connect {
        /// Redacted target.
        target: String,
        /// Why, in words: connection refused, authentication failed, unknown database, …
        cause: String,
    },
    /// Migrations failed.
    #[error("cannot migrate {target}")]
    Migrate {
        /// Redacted target.
        target: String,
        /// Why.
        source: DbErr,
    },
    /// A reading command was given a SQLite path where there is no file.
    #[error("no database at {path}: {CHECK_TARGET}")]
    Missing {
        /// The path.
        path: String,
    },
    /// A reading command found a database the migrator never set up (no migration applied).
    #[error("no migrator database at {target} (it has none of the migrator's tables): {CHECK_TARGET}")]
    Empty {
        /// Redacted target.
        target: String,
    },
    /// A reading command found a database whose schema is older than this binary.
    #[error(
        "the database at {target} is older than this migrator ({pending} migration(s) pending, \
         from {first}); `migrator migrate` (or any writing command) upgrades it"
    )]
    Outdated {
        /// Redacted target.
        target: String,
        /// How many migrations are not applied.
        pending: usize,
        /// The first of them.
        first: String,
    },
    /// The schema version could not be read.
    #[error("cannot read the schema version of {target}")]
    Version {
        /// Redacted target.
        target: String,
        /// Why.
        source: DbErr,
    },
}

impl DbOpenError {
    /// True when a reading command found no usable database (missing, never set up, or older
    /// than this binary): nothing was created or changed. The CLI's `Exit::NoDatabase` (7).
    pub fn is_no_database(&self) -> bool {
        matches!(self, DbOpenError::Missing { .. } | DbOpenError::Empty { .. } | DbOpenError::Outdated { .. })
    }
}

/// Refuses what is neither a SQLite file path nor a `postgres://` / `postgresql://` URL, before
/// anything is created: an empty value would open a temporary database that vanishes with the
/// process, and `mysql://…` would become a file of that name.
pub fn check_target(target: &str) -> Result<(), DbOpenError> {
    let bad = |why| Err(DbOpenError::BadTarget { target: redact(target), why });
    if target.trim().is_empty() {
        return bad("is empty");
    }
    if is_postgres(target) {
        return Ok(());
    }
    if let Some((scheme, _)) = target.split_once("://")
        && scheme != "sqlite"
    {
        return bad("has a scheme the migrator does not speak (only postgres:// and postgresql://)");
    }
    if target.to_ascii_lowercase().starts_with("sqlite:") && !target.starts_with("sqlite://") {
        return bad("is a `sqlite:` form the migrator does not read (give the file path)");
    }
    if target.contains('=') && target.contains(char::is_whitespace) {
        return bad("looks like a key=value connection string (use a postgres:// URL)");
    }
    let path = sqlite_path(target);
    if path.trim().is_empty() {
        return bad("names no file");
    }
    if path == ":memory:" || path.contains("mode=memory") {
        return bad("is an in-memory database, which keeps nothing");
    }
    if path.ends_with('/') || Path::new(path).is_dir() {
        return bad("is a directory");
    }
    Ok(())
}

/// True if `target` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres(target: &str) -> bool {
    target.starts_with("postgres://") || target.starts_with("postgresql://")
}

/// `target` with any password replaced by `***`, for messages.
pub fn redact(target: &str) -> String {
    if !target.contains("://") && target.contains('=') {
        // A key=value connection string: mask every password value.
        return target
            .split_whitespace()
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.to_ascii_lowercase().ends_with("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    let (main, query) = match target.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (target, None),
    };
    let mut out = main.to_string();
    if let Some((scheme, rest)) = main.split_once("://")
        && let Some((creds, host)) = rest.rsplit_once('@')
    {
        out = match creds.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://{creds}@{host}"),
        };
    }
    if let Some(q) = query {
        let params: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{out}?{}", params.join("&"));
    }
    out
}

/// Opens `target` (a SQLite path or a PostgreSQL URL), creating a SQLite file and its directory
/// if missing, and applies pending migrations. For commands that write.
///
/// SQLite gets WAL, `synchronous=NORMAL` (survives a process crash) and a busy timeout, and one
/// connection: the engine has one writer, and waiting in the pool is cheaper than SQLite's busy
/// sleeps. PostgreSQL gets a small pool.
pub async fn open(target: &str) -> Result<DatabaseConnection, DbOpenError> {
    check_target(target)?;
    let db = connect(target, false).await?;
    migrate(&db, target).await.map_err(|source| DbOpenError::Migrate { target: redact(target), source })?;
    Ok(db)
}

/// Opens an existing database whose schema is current, and changes nothing: no file, directory,
/// table or migration is created (a SQLite file is opened read-only). For commands that only
/// read; a missing, never set up or outdated database is an error ([`DbOpenError::is_no_database`]).
pub async fn open_existing(target: &str) -> Result<DatabaseConnection, DbOpenError> {
    existing(target, true).await
}

/// Like [`open_existing`], but writable: `migrator serve` never creates or migrates a database,
/// yet writes the operator actions it is asked for.
pub async fn open_current(target: &str) -> Result<DatabaseConnection, DbOpenError> {
    existing(target, false).await
}

async fn existing(target: &str, read_only: bool) -> Result<DatabaseConnection, DbOpenError> {
    check_target(target)?;
    if !is_postgres(target) {
        let path = sqlite_path(target);
        if !Path::new(path).is_file() {
            return Err(DbOpenError::Missing { path: path.to_string() });
        }
    }
    let db = connect(target, read_only).await?;
    let shown = redact(target);
    let all = schema::Migrator::get_migration_with_status_read_only(&db)
        .await
        .map_err(|source| DbOpenError::Version { target: shown.clone(), source })?;
    let pending: Vec<String> = all
        .iter()
        .filter(|m| m.status() == sea_orm_migration::MigrationStatus::Pending)
        .map(|m| m.name().to_string())
        .collect();
    if pending.len() == all.len() && !all.is_empty() {
        return Err(DbOpenError::Empty { target: shown });
    }
    if let Some(first) = pending.first() {
        return Err(DbOpenError::Outdated { target: shown, pending: pending.len(), first: first.clone() });
    }
    Ok(db)
}

fn sqlite_path(target: &str) -> &str {
    target.strip_prefix("sqlite://").unwrap_or(target)
}

/// The pool, without migrations; `read_only` never creates anything.
async fn connect(target: &str, read_only: bool) -> Result<DatabaseConnection, DbOpenError> {
    let shown = redact(target);
    let mut opts = if is_postgres(target) {
        // The pool retries a refused connection until its acquire timeout and then says only
        // "pool timed out"; one direct attempt first fails fast and names the cause.
        probe_postgres(target)
            .await
            .map_err(|cause| DbOpenError::Connect { target: shown.clone(), cause })?;
        let mut o = ConnectOptions::new(target.to_string());
        // A small statement cache per connection: the hot path's bulk statements have one text
        // per row count, so the default 100 filled with 1,000-row statements on each of the 8
        // connections, and peak RSS grew with the length of a run (`bench`: 50 MiB at 100k
        // items, 64 at 1M, 107 at 10M). PostgreSQL plans these statements afresh each time
        // anyway; a miss costs one more message.
        o.max_connections(8)
            .min_connections(1)
            .map_sqlx_postgres_opts(|o| o.options(PG_SESSION_BOUNDS).statement_cache_capacity(16));
        o
    } else {
        let path = sqlite_path(target);
        let mut o = if read_only {
            ConnectOptions::new(format!("sqlite://{path}?mode=ro"))
        } else {
            if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|source| DbOpenError::Dir { dir: dir.display().to_string(), source })?;
            }
            ConnectOptions::new(format!("sqlite://{path}?mode=rwc"))
        };
        o.max_connections(1).min_connections(1).map_sqlx_sqlite_opts(move |o| {
            // A read-only connection leaves the journal mode as the file has it (WAL when the
            // migrator made it): setting it is a write.
            let o = if read_only { o } else { o.journal_mode(SqliteJournalMode::Wal) };
            // 16 KiB pages (SQLite's default is 4): a new file gets them, an existing one keeps
            // its own. Import appends most of what it writes, and every page costs SQLite a few
            // system calls on its way through the WAL to the file (the import's writer spent
            // half its time in the kernel): 1M lines imported in 22.8–25.7 s instead of
            // 30.8–31.4, the file 6% smaller. `bench` ran alike at 100k and 1M items (the claim
            // and completion touch a page per item either way). 32 KiB was no faster, 64 KiB
            // slower (BENCHMARKS.md, "Session of 2026-12-01 (night)").
            let o = if read_only { o } else { o.page_size(16 * 1024) };
            // An 8 MiB page cache (the default is 2 MiB) holds the index pages the claim, the
            // completion and the history touch again and again. Larger bought no speed once
            // every statement looks items up by key (`bench` at 100k and 1M items: 8, 16 and
            // 32 MiB ran alike) and only grew the process: 32 MiB took 103 MiB peak at 1M items,
            // 8 MiB 79. Not mmap: mapped pages would count as resident memory for as much of a
            // 10M-item file as the engine touches.
            o.synchronous(SqliteSynchronous::Normal)
                .pragma("cache_size", "-8192")
                .busy_timeout(Duration::from_secs(30))
                .statement_cache_capacity(256)
        });
        o
    };
    opts.sqlx_logging(false).acquire_timeout(ACQUIRE_TIMEOUT).connect_timeout(CONNECT_TIMEOUT);
    Database::connect(opts).await.map_err(|e| DbOpenError::Connect { target: shown, cause: db_cause(&e) })
}

/// One direct connection to `target`, closed again; the cause in words if it fails.
async fn probe_postgres(target: &str) -> Result<(), String> {
    use sqlx::Connection;
    use sqlx::postgres::{PgConnectOptions, PgConnection};
    let opts: PgConnectOptions = target.parse().map_err(|e| cause(&e))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&opts)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(cause(&e)),
        Err(_) => Err(format!(
            "no answer within {}s (host unreachable, or a firewall dropping the connection?)",
            CONNECT_TIMEOUT.as_secs()
        )),
    }
}

fn db_cause(e: &DbErr) -> String {
    match e {
        DbErr::Conn(RuntimeErr::SqlxError(e)) => cause(e),
        other => other.to_string(),
    }
}

/// A connection error in an operator's words: refused, host not found, authentication failed,
/// unknown database; otherwise the driver's own message.
fn cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => {
            let text = io.to_string();
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                format!(
                    "connection refused: nothing listens there (is PostgreSQL running, is the port right?) ({text})"
                )
            } else if io.kind() == std::io::ErrorKind::TimedOut {
                format!("connection timed out ({text})")
            } else if ["lookup address", "not known", "No such host", "nodename nor servname"]
                .iter()
                .any(|m| text.contains(m))
            {
                format!("host not found ({text})")
            } else {
                text
            }
        }
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                "28P01" | "28000" => format!("authentication failed: {} (SQLSTATE {code})", d.message()),
                "3D000" => format!("unknown database: {} (SQLSTATE {code})", d.message()),
                _ => format!("{} (SQLSTATE {code})", d.message()),
            }
        }
        sqlx::Error::Tls(t) => format!("TLS: {t}"),
        sqlx::Error::Configuration(c) => format!("invalid database URL: {c}"),
        sqlx::Error::PoolTimedOut => "no connection within the timeout".into(),
        other => other.to_string(),
    }
}

/// Applies pending migrations under a lock, so any number of processes started together on a
/// fresh database migrate it once: the first takes the lock and migrates, the others wait for it
/// and then find nothing pending. (Without it, two processes both applied the first migration and
/// one died on `UNIQUE constraint failed: seaql_migrations.version`.)
///
/// PostgreSQL: a session advisory lock, on a connection of its own so it is held across the
/// pool's connections, and released when that connection closes (also when the process dies).
/// SQLite: an exclusive `flock` on the database file, released when the file is closed; SQLite's
/// own locks are `fcntl` locks, which `flock` does not touch.
async fn migrate(db: &DatabaseConnection, target: &str) -> Result<(), DbErr> {
    let locked = |e: &dyn std::fmt::Display| DbErr::Custom(format!("cannot take the migration lock: {e}"));
    if is_postgres(target) {
        use sqlx::Connection;
        use sqlx::postgres::{PgConnectOptions, PgConnection};
        let opts: PgConnectOptions = target.parse().map_err(|e| locked(&cause(&e)))?;
        let mut lock = PgConnection::connect_with(&opts).await.map_err(|e| locked(&cause(&e)))?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut lock)
            .await
            .map_err(|e| locked(&cause(&e)))?;
        let migrated = schema::Migrator::up(db, None).await;
        // Closing the session releases the lock.
        let _ = lock.close().await;
        return migrated;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(sqlite_path(target))
        .map_err(|e| locked(&e))?;
    let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| locked(&e))?
        .map_err(|e| locked(&e))?;
    let migrated = schema::Migrator::up(db, None).await;
    drop(file);
    migrated
}

/// The advisory lock key of migrations ("migrator" in ASCII): one per database.
const MIGRATION_LOCK: i64 = 0x6d69_6772_6174_6f72;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            redact("postgres://u@h/db?password=x&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(redact("data/x.sqlite"), "data/x.sqlite");
        assert!(is_postgres("postgresql://x") && !is_postgres("data/x.sqlite"));
    }

    #[test]
    fn only_sqlite_paths_and_postgres_urls_are_databases() {
        let dir = tempfile::tempdir().unwrap();
        let a_dir = dir.path().display().to_string();
        let cases: [(&str, Option<&str>); 14] = [
            ("data/migrator.sqlite", None),
            ("/var/lib/migrator/m.db", None),
            ("sqlite://data/m.sqlite", None),
            ("postgres://u@h/db", None),
            ("postgresql://u:pw@h:5432/db", None),
            ("", Some("is empty")),
            ("   ", Some("is empty")),
            ("mysql://root@127.0.0.1/x", Some("has a scheme the migrator does not speak")),
            ("sqlite://", Some("names no file")),
            (":memory:", Some("keeps nothing")),
            ("sqlite::memory:", Some("`sqlite:` form")),
            ("host=h user=u password=pw dbname=d", Some("key=value connection string")),
            ("data/", Some("is a directory")),
            (&a_dir, Some("is a directory")),
        ];
        for (target, want) in cases {
            match (check_target(target), want) {
                (Ok(()), None) => {}
                (Err(e), Some(why)) => {
                    let text = e.to_string();
                    assert!(
                        text.contains(why) && text.contains("give a SQLite file path"),
                        "{target:?}: {text}"
                    );
                }
                (got, want) => panic!("{target:?}: got {got:?}, wanted {want:?}"),
            }
        }
        // The password never shows in the refusal.
        for target in ["mysql://u:secret@h/x", "host=h password=secret dbname=d"] {
            let e = check_target(target).unwrap_err().to_string();
            assert!(!e.contains("secret"), "{e}");
        }
    }
}
