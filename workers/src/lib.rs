//! The steps that advance a correspondence, and what they need: the A2 input model, the Altinn 3
//! API (models, dedup rules, client), and the Altinn 3 simulator used by the demo and the tests.
//!
//! A step is given one claimed item and answers with a [`StepOutcome`]; it knows nothing of leases,
//! retries or the database. The dispatcher (in `orchestrator`) turns outcomes into transitions.
//! [`noop`] holds the in-process steps used by `migrator bench` and the engine's tests;
//! [`telemetry`] the metrics the A3 client records.

pub mod a2;
pub mod a3;
pub mod make_available;
pub mod migrate;
pub mod noop;
mod step;
pub mod sync;
pub mod telemetry;
pub mod validation;

pub use step::{Inputs, PendingEvent, Step, StepKind, StepOutcome, WorkItem};
