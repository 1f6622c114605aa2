//! What can go wrong in the store, split by whose problem it is: the caller's request (exit code 2
//! at the CLI, 400 over HTTP), data already stored that no longer reads back, or the database.

use sea_orm::DbErr;

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
}

impl StoreError {
    /// True when the caller asked for something that cannot be done (not a failure of the
    /// database or its data).
    pub fn is_invalid_request(&self) -> bool {
        matches!(self, StoreError::Invalid(_))
    }
}

impl From<schema::ParseStateError> for StoreError {
    fn from(e: schema::ParseStateError) -> Self {
        StoreError::Data(e.to_string())
    }
}
