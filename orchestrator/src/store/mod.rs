//! The durable store: every SQL statement of the engine, on SeaORM, for SQLite and PostgreSQL.
//! Nothing outside this module touches the connection.
//!
//! By job: `enqueue` (new items), `claim` (leasing due items), `transition` (writing the state
//! machine's decisions with fencing and history), `lease` (heartbeat, release, expired leases),
//! `counts` (item and throughput counters kept by those writes), `housekeeping` (sync sweep,
//! history pruning, statistics), `a2` (A2 records and events), `intake` (the import's bulk
//! writes of them, run through `intake_txn` on sqlx directly), `ops`
//! and `failures` (what operators ask), and one module per small table (`nodes`,
//! `schedule_runs`, `phase_controls`, `import_ledger`).
//!
//! The hot path (claim, apply, insert) is hand-written bulk SQL through one builder ([`Sql`]):
//! one statement claims a batch, one applies a batch of transitions and one inserts their history
//! rows. Everything else uses SeaORM's query builder and the entities in `schema`.

mod a2;
mod claim;
mod counts;
mod enqueue;
mod error;
mod failures;
mod history;
mod housekeeping;
mod import_ledger;
mod intake;
mod intake_txn;
mod items;
mod lease;
mod new_work;
mod nodes;
mod ops;
mod pages;
mod phase_controls;
mod schedule_runs;
mod selection;
mod sql;
mod staged;
mod transition;

pub use a2::{AddEventsReport, ImportReport, RecordInput};
pub use claim::Claim;
pub use counts::{COUNT_SLOTS, THROUGHPUT_RETENTION_MS};
pub use enqueue::NewItem;
pub use error::StoreError;
pub use failures::{FailureGroup, Failures, ReasonMatch};
pub use import_ledger::{LedgerEntry, LedgerMark};
pub use intake::{EventRow, Intake, IntakeReport, RecordRow};
pub use ops::{OperateReport, Origin, Selector, ShowItem, Skipped, StatusReport, StuckItem};
pub use pages::{ItemFilter, MAX_PAGE, Page};
pub use phase_controls::PhaseControl;
pub use schedule_runs::RunRecord;
pub use selection::{ClaimOrder, Selection};
pub(crate) use sql::Sql;
pub use transition::{Applied, ApplyReport, Fence};

use crate::clock::Clock;
use crate::retry::RetryPolicy;
use sea_orm::{DatabaseConnection, DbBackend, SqliteTransactionMode, TransactionOptions, TransactionTrait};
use std::sync::Arc;

/// Rows per bulk statement: well under SQLite's and PostgreSQL's parameter limits.
pub(crate) const CHUNK: usize = 1000;

/// A `COUNT(*)` read back as SQL's `i64`, as the `u64` the engine reports (a count is never
/// negative; a negative one would read as 0).
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The engine's handle on the database.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    /// Bumped whenever new work is announced (see `new_work`); shared by the store's clones.
    new_work: Arc<tokio::sync::watch::Sender<u64>>,
    /// The slot of the counters this store writes (see `counts`).
    slot: i32,
}

impl Store {
    /// A store over an open, migrated connection.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>, policy: RetryPolicy) -> Self {
        Self {
            db,
            clock,
            policy,
            new_work: Arc::new(tokio::sync::watch::Sender::new(0)),
            slot: rand::random_range(0..COUNT_SLOTS),
        }
    }

    /// The same store writing its counters to `slot` (taken modulo [`COUNT_SLOTS`]) instead of
    /// the one picked at random.
    pub fn with_count_slot(mut self, slot: i32) -> Self {
        self.slot = slot.rem_euclid(COUNT_SLOTS);
        self
    }

    /// The same database with another clock and retry policy.
    pub fn with_clock_and_policy(&self, clock: Arc<dyn Clock>, policy: RetryPolicy) -> Self {
        Self { db: self.db.clone(), clock, policy, new_work: self.new_work.clone(), slot: self.slot }
    }

    /// The same clock, policy and counter slot over another connection to the same database
    /// (a read-only one for background reads beside the writer).
    pub fn with_connection(&self, db: DatabaseConnection) -> Self {
        Self { db, ..self.clone() }
    }

    /// How many schema migrations the database has applied.
    pub async fn applied_migrations(&self) -> Result<usize, StoreError> {
        use sea_orm_migration::MigratorTrait;
        Ok(schema::Migrator::get_applied_migrations(&self.db).await?.len())
    }

    /// The connection: only the store's own modules use it.
    fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    pub(crate) fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn begin(&self) -> Result<sea_orm::DatabaseTransaction, StoreError> {
        // SQLite: take the write lock up front so the transaction never has to upgrade.
        let opts = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        if self.backend() == DbBackend::Sqlite {
            Ok(self.db.begin_with_options(opts).await?)
        } else {
            Ok(self.db.begin().await?)
        }
    }
}
