//! The import transaction: sqlx's own transaction, on the pool sea-orm opened.
//!
//! sea-orm runs a statement by cloning every value in it first, and the import's statements
//! carry each record's JSON. That clone was most of the runtime thread's work per line, and on
//! SQLite the database's worker thread waits for it, since the two take turns on each statement.
//! Here a statement's values move into the driver instead. The statements themselves are built
//! as everywhere else in the store (sea-query values in a sea-orm [`Statement`]); only running
//! them goes straight to sqlx, and its errors come back as the `DbErr`s sea-orm would give, so
//! [`StoreError::is_transient`] reads them alike.

use super::StoreError;
use sea_orm::{ConnAcquireErr, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement, sqlx};
use sea_query_sqlx::SqlxValues;
use uuid::Uuid;

/// One open import transaction. Dropped without [`IntakeTxn::commit`], it rolls back.
pub(super) enum IntakeTxn {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// A statement as sqlx takes it: its text, and its values moved out.
fn parts(s: Statement) -> (sqlx::AssertSqlSafe<String>, SqlxValues) {
    (sqlx::AssertSqlSafe(s.sql), SqlxValues(s.values.unwrap_or(sea_orm::Values(Vec::new()))))
}

fn exec_err(e: sqlx::Error) -> StoreError {
    DbErr::Exec(RuntimeErr::SqlxError(e.into())).into()
}

fn query_err(e: sqlx::Error) -> StoreError {
    DbErr::Query(RuntimeErr::SqlxError(e.into())).into()
}

impl IntakeTxn {
    /// Begins on `db`'s pool. SQLite takes the write lock up front (`BEGIN IMMEDIATE`), as the
    /// store's other transactions do, so the transaction never has to upgrade.
    pub(super) async fn begin(db: &DatabaseConnection) -> Result<Self, StoreError> {
        let began = match db.get_database_backend() {
            DbBackend::Sqlite => {
                db.get_sqlite_connection_pool().begin_with("BEGIN IMMEDIATE").await.map(Self::Sqlite)
            }
            _ => db.get_postgres_connection_pool().begin().await.map(Self::Postgres),
        };
        began.map_err(|e| match e {
            sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout).into(),
            sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed).into(),
            e => DbErr::Conn(RuntimeErr::SqlxError(e.into())).into(),
        })
    }

    /// Runs `s`; returns the rows it changed.
    pub(super) async fn execute(&mut self, s: Statement) -> Result<u64, StoreError> {
        let (sql, values) = parts(s);
        let done = match self {
            Self::Sqlite(t) => {
                sqlx::query_with(sql, values).execute(&mut **t).await.map(|r| r.rows_affected())
            }
            Self::Postgres(t) => {
                sqlx::query_with(sql, values).execute(&mut **t).await.map(|r| r.rows_affected())
            }
        };
        done.map_err(exec_err)
    }

    /// Runs `statements` in order, and `work` while the first of them runs; returns each
    /// statement's changed-row count, and what `work` made. The first poll hands the statement
    /// to the driver (on SQLite, to the database's own thread), so `work` overlaps it.
    pub(super) async fn execute_all_while<R>(
        &mut self,
        statements: Vec<Statement>,
        work: impl FnOnce() -> R,
    ) -> Result<(Vec<u64>, R), StoreError> {
        let mut counts = Vec::with_capacity(statements.len());
        let mut statements = statements.into_iter();
        let made = match statements.next() {
            Some(first) => {
                let (n, made) = futures::join!(self.execute(first), async { work() });
                counts.push(n?);
                made
            }
            None => work(),
        };
        for s in statements {
            counts.push(self.execute(s).await?);
        }
        Ok((counts, made))
    }

    /// Runs `s`, which returns one integer column; returns its values.
    pub(super) async fn integers(&mut self, s: Statement) -> Result<Vec<i64>, StoreError> {
        let (sql, values) = parts(s);
        let rows = match self {
            Self::Sqlite(t) => sqlx::query_scalar_with(sql, values).fetch_all(&mut **t).await,
            Self::Postgres(t) => sqlx::query_scalar_with(sql, values).fetch_all(&mut **t).await,
        };
        rows.map_err(query_err)
    }

    /// Runs `s`, which returns a UUID and an integer per row; returns the pairs.
    pub(super) async fn uuid_integer_pairs(&mut self, s: Statement) -> Result<Vec<(Uuid, i64)>, StoreError> {
        let (sql, values) = parts(s);
        let rows = match self {
            Self::Sqlite(t) => sqlx::query_as_with(sql, values).fetch_all(&mut **t).await,
            Self::Postgres(t) => sqlx::query_as_with(sql, values).fetch_all(&mut **t).await,
        };
        rows.map_err(query_err)
    }

    /// Commits.
    pub(super) async fn commit(self) -> Result<(), StoreError> {
        let done = match self {
            Self::Sqlite(t) => t.commit().await,
            Self::Postgres(t) => t.commit().await,
        };
        done.map_err(exec_err)
    }
}
