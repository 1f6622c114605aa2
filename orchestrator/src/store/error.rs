//! What can go wrong in the store, split by whose problem it is: the caller's request (exit code 2
//! at the CLI, 400 over HTTP), data already stored that no longer reads back, or the database.

use sea_orm::{DbErr, RuntimeErr, sqlx};

/// A store error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request cannot be carried out as asked (an id that is neither a UUID nor an A2 id, a
    /// selection of every item): the caller's input, not the database.
    #[error("{0}")]
    Invalid(String),
    /// A stored value does not read back (an unknown state name written by a newer version, a
    /// value that cannot be serialised): the database answered, the data is wrong.
    #[error("stored data cannot be read: {0}")]
    Data(String),
    /// The database failed (connection, constraint, timeout).
    #[error(transparent)]
    Database(#[from] DbErr),
    /// The database did not answer within the caller's bound (a black-holed network, a stalled
    /// server): the call was given up, and may or may not have happened.
    #[error("the database did not answer within {}s", .0.as_secs())]
    NoAnswer(std::time::Duration),
}

impl StoreError {
    /// True when the caller asked for something that cannot be done (not a failure of the
    /// database or its data).
    pub fn is_invalid_request(&self) -> bool {
        matches!(self, StoreError::Invalid(_))
    }
}

impl StoreError {
    /// True when trying again can succeed without anyone fixing anything: the database could not
    /// be reached or answered "not now" (connection lost or refused, pool timed out, a deadlock or
    /// serialization failure, PostgreSQL shutting down or out of resources, SQLite busy). False
    /// when it answered that what was asked fails (a corrupt file, a missing table, a full disk,
    /// no permission): that answer repeats until someone acts.
    pub fn is_transient(&self) -> bool {
        let e = match self {
            StoreError::Database(e) => e,
            StoreError::NoAnswer(_) => return true,
            StoreError::Invalid(_) | StoreError::Data(_) => return false,
        };
        let sqlx_error = match e {
            DbErr::ConnectionAcquire(_) => return true,
            DbErr::Conn(RuntimeErr::SqlxError(e))
            | DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
            DbErr::Conn(_) => return true,
            _ => return false,
        };
        match sqlx_error.as_ref() {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(d) => d.code().is_some_and(|code| transient_code(&code)),
            _ => false,
        }
    }
}

impl StoreError {
    /// True when the database reports itself damaged (SQLite: CORRUPT, NOTADB; PostgreSQL:
    /// data or index corrupted). That never passes, and working on means working on damaged data.
    pub fn is_corruption(&self) -> bool {
        let StoreError::Database(
            DbErr::Conn(RuntimeErr::SqlxError(e))
            | DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e)),
        ) = self
        else {
            return false;
        };
        let sqlx::Error::Database(d) = e.as_ref() else { return false };
        d.code().is_some_and(|code| match code.len() {
            5 => code == "XX001" || code == "XX002",
            _ => code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 11 | 26)),
        })
    }
}

/// PostgreSQL SQLSTATE classes 08 (connection), 40 (rollback: deadlock, serialization), 53
/// (resources), 57 (operator intervention: shutdown, cancel) and 58 (system); SQLite's BUSY (5)
/// and LOCKED (6), with their extended codes.
/// A SQLSTATE always has five characters (some all digits, like 40001); SQLite's codes, extended
/// ones included, have at most four digits.
fn transient_code(code: &str) -> bool {
    if code.len() == 5 {
        return ["08", "40", "53", "57", "58"].iter().any(|class| code.starts_with(class));
    }
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

impl From<schema::ParseStateError> for StoreError {
    fn from(e: schema::ParseStateError) -> Self {
        StoreError::Data(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_that_pass_are_transient_and_answers_that_repeat_are_not() {
        for code in ["40P01", "40001", "08006", "57P01", "53300", "5", "6", "517", "262"] {
            assert!(transient_code(code), "{code}");
        }
        // SQLite: CORRUPT, NOTADB, FULL, READONLY, IOERR; PostgreSQL: undefined table, disk full
        // is 53100 (a resource: it may pass), syntax error.
        for code in ["11", "26", "13", "8", "10", "42P01", "42601", "XX001"] {
            assert!(!transient_code(code), "{code}");
        }
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let refused = StoreError::Database(DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(refused))));
        assert!(refused.is_transient());
        assert!(!StoreError::Data("x".into()).is_transient());
        assert!(StoreError::NoAnswer(std::time::Duration::from_secs(30)).is_transient());
        assert!(!StoreError::Database(DbErr::Custom("no such table: workflows".into())).is_transient());
    }
}
