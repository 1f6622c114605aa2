//! The production dispatcher: the three Altinn 3 steps on one dispatcher. Here, below both the
//! daemon and the demo, so neither reaches into the other for it; the caller says where relative
//! attachment paths are resolved.

use super::{Dispatcher, DispatcherConfig};
use crate::store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workers::a3::A3Client;
use workers::make_available::MakeAvailableStep;
use workers::migrate::MigrateStep;
use workers::sync::SyncStep;

/// A dispatcher with the three Altinn 3 steps: migrate and sync with `concurrency` items each,
/// make-available in calls of `batch` ids; attachment files are read relative to
/// `attachment_root`. A make-available call waits at most 5 ms for more ids: a claimed batch's
/// items reach it within microseconds of each other, so longer only delays a lone live item
/// (20 ms of a live item's ~100 ms before).
pub fn a3_dispatcher(
    store: &Store,
    cfg: DispatcherConfig,
    client: &A3Client,
    concurrency: usize,
    batch: usize,
    attachment_root: PathBuf,
) -> Dispatcher {
    Dispatcher::new(store.clone(), cfg)
        .with_step(Arc::new(MigrateStep::new(client.clone(), attachment_root)), concurrency)
        .with_step(
            Arc::new(MakeAvailableStep::new(client.clone(), batch, Duration::from_millis(5))),
            batch * 2,
        )
        .with_step(Arc::new(SyncStep::new(client.clone())), concurrency)
}
