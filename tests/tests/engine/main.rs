//! The engine's integration tests: one binary, one module per concern.

mod altinn3;
mod import;
mod operators;
mod process;
mod retries;
mod store;
