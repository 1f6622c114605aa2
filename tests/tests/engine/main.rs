//! The engine's integration tests: one binary, one module per concern.

mod altinn3;
mod chaos;
mod contract;
mod counts;
mod credentials;
mod damage;
mod dashboard;
mod deploy;
mod failures;
mod feed;
mod first_start;
mod fixtures;
mod http_api;
mod import;
mod live;
mod metrics;
mod operators;
mod orchestration;
mod process;
mod proxy;
mod rate_limit;
mod readonly;
mod retries;
mod store;
