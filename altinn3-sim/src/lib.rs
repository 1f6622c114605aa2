//! A simulator of Altinn 3 Correspondence's migration API, written from Altinn's own source
//! (`Altinn/altinn-correspondence` at commit 0c94adb583c88d2c52074c42e4ca6b555d1de887, the last
//! with the migration code) and independently of the client, so that a client's misreading of the
//! contract shows up as a test failure.
//!
//! It answers as A3 does — 200 bodies in A3's shapes, 400 with ASP.NET/Altinn problem details,
//! 500 where A3's database constraints or null dereferences throw, 401/404/405/415 from the
//! pipeline — and records what A3 would store silently although a correct client never sends it
//! (`violations` in the [`Inventory`]). Every rule cites the upstream file and line it comes from.
//!
//! Routes: POST `/correspondence/api/v1/migration/{attachment, correspondence,
//! makemigratedcorrespondenceavailable, correspondence/syncStatusEvent,
//! correspondence/syncNotificationEvent, correspondence/syncForwardingEvent}` (case-insensitive,
//! as ASP.NET routes), each needing `Authorization: Bearer <token>`; GET `/sim/inventory` without
//! auth and without faults. Faults (latency, 503, 429, dropped connections) come from a seeded RNG;
//! a token bucket per endpoint can stand for a real rate limit (429 with Retry-After when empty).

mod attachment;
mod auth;
mod binding;
mod bucket;
mod correspondence;
mod db;
mod dialog_job;
mod enums;
mod events;
mod faults;
mod history;
mod inventory;
mod item;
pub mod keys;
mod make_available;
mod migration;
mod problem;
mod rates;
mod server;
mod sync;
pub mod timestamp;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_events;

pub use bucket::RateLimit;
pub use dialog_job::DialogJob;
pub use faults::{FaultCounts, Faults, SimConfig};
pub use inventory::{
    EventCounts, Inventory, SimAttachment, SimDeleteEvent, SimForwarding, SimItem, SimNotification,
    SimStatusEvent,
};
pub use rates::Endpoint;
pub use server::{RunningSim, Simulator};

/// Locks a mutex, recovering from poisoning (a panicked request must not stop the simulator).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
