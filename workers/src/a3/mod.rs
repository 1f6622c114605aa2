//! The Altinn 3 side: the migration API's models, its dedup rules, the client and its failure
//! classification.

pub mod client;
pub mod dedup;
pub mod failure;
pub mod model;
pub mod pacer;

pub use client::{A3Client, ClientConfig, Endpoint, Limit, Secret};
pub use failure::Failure;
pub use pacer::PaceStats;
