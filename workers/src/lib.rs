//! The steps that advance a correspondence, and the contract between them and the dispatcher.
//!
//! A step is given one claimed item and answers with a [`StepOutcome`]; it knows nothing of leases,
//! retries or the database. The dispatcher (in `orchestrator`) turns outcomes into transitions.
//! The Altinn 3 HTTP steps arrive in their own modules; [`noop`] holds the in-process steps used by
//! `migrator bench` and the engine's tests.

pub mod noop;
mod step;

pub use step::{Step, StepKind, StepOutcome, WorkItem};
