//! Opening the database: SQLite file or PostgreSQL URL, tuned for the engine, migrations applied.

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};
use sea_orm_migration::MigratorTrait;
use std::path::Path;
use std::time::Duration;

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
    /// Connecting failed.
    #[error("cannot connect to {target}")]
    Connect {
        /// Redacted target.
        target: String,
        /// Why.
        source: DbErr,
    },
    /// Migrations failed.
    #[error("cannot migrate {target}")]
    Migrate {
        /// Redacted target.
        target: String,
        /// Why.
        source: DbErr,
    },
}

/// True if `target` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres(target: &str) -> bool {
    target.starts_with("postgres://") || target.starts_with("postgresql://")
}

/// `target` with any password replaced by `***`, for messages.
pub fn redact(target: &str) -> String {
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

/// Opens `target` (a SQLite path or a PostgreSQL URL) and applies pending migrations.
///
/// SQLite gets WAL, `synchronous=NORMAL` (survives a process crash) and a busy timeout, and one
/// connection: the engine has one writer, and waiting in the pool is cheaper than SQLite's busy
/// sleeps. PostgreSQL gets a small pool.
pub async fn open(target: &str) -> Result<DatabaseConnection, DbOpenError> {
    let shown = redact(target);
    let mut opts = if is_postgres(target) {
        let mut o = ConnectOptions::new(target.to_string());
        o.max_connections(8).min_connections(1);
        o
    } else {
        let path = target.strip_prefix("sqlite://").unwrap_or(target);
        if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| DbOpenError::Dir { dir: dir.display().to_string(), source })?;
        }
        let mut o = ConnectOptions::new(format!("sqlite://{path}?mode=rwc"));
        o.max_connections(1).min_connections(1).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .statement_cache_capacity(256)
        });
        o
    };
    opts.sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(10));
    let db = Database::connect(opts)
        .await
        .map_err(|source| DbOpenError::Connect { target: shown.clone(), source })?;
    migrate(&db).await.map_err(|source| DbOpenError::Migrate { target: shown, source })?;
    Ok(db)
}

/// Applies pending migrations. Nodes starting together may race on a fresh database; the
/// statements are `IF NOT EXISTS`, so a loser simply tries again.
async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let mut tries = 0;
    loop {
        match schema::Migrator::up(db, None).await {
            Ok(()) => return Ok(()),
            Err(e) if tries < 5 && db.get_database_backend() == DbBackend::Postgres => {
                tries += 1;
                tracing::debug!(error = %e, tries, "migration raced another node; retrying");
                tokio::time::sleep(Duration::from_millis(100 * tries)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

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
}
