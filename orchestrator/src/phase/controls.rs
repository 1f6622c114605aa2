//! Run-time switches: `migrator phase pause|resume NAME` writes a row every node reads on each
//! claim cycle, so a pause takes effect everywhere within one cycle and survives restarts. The row
//! lives in the store (`Store::set_paused`).

use crate::store::{Store, StoreError};
use std::collections::HashSet;

pub use crate::store::PhaseControl;

/// Pauses or resumes `phase` (it need not be running).
pub async fn set_paused(store: &Store, phase: &str, paused: bool) -> Result<PhaseControl, StoreError> {
    store.set_paused(phase, paused).await
}

/// The paused phases.
pub async fn paused(store: &Store) -> Result<HashSet<String>, StoreError> {
    store.paused_phases().await
}
