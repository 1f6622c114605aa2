//! The migrator's database: SeaORM entities, the state enum, and the migrations that create them.
//!
//! Times are stored as epoch milliseconds (`i64`) on both backends: comparisons in the claim query
//! stay exact and cheap on SQLite (where a text timestamp would compare lexically) and identical on
//! PostgreSQL. The CLI renders them as RFC 3339.

pub mod entity;
mod id;
mod lifecycle;
pub mod migration;
pub mod packed;
pub mod reason;
mod state;

pub use id::{A2Id, ClaimId, NodeId, WorkflowId};
pub use lifecycle::{LIFECYCLE, Rest, Stage, StepKind};
pub use migration::Migrator;
pub use state::{ParseStateError, WorkflowState};
