//! `migrator migrate`: create the database if needed and bring its schema up to this version
//! (opening it for writing, as every writing command does, already did both; this reports the
//! result).

use super::Exit;
use super::output::print;
use crate::db;
use crate::store::Store;
use serde::Serialize;

/// The migrated database.
#[derive(Serialize)]
struct Migrated {
    /// The database, its password hidden.
    database: String,
    /// Migrations applied to it, in all.
    migrations_applied: usize,
}

/// Reports the schema of the database `target` names, which the caller opened for writing.
pub(super) async fn run(store: &Store, target: &str, json: bool) -> anyhow::Result<Exit> {
    let applied = store.applied_migrations().await?;
    print(json, &Migrated { database: db::redact(target), migrations_applied: applied }, render)?;
    Ok(Exit::Ok)
}

/// One line: which database, and how many migrations it has.
fn render(m: &Migrated) -> String {
    format!("database {}: schema up to date ({} migrations applied)\n", m.database, m.migrations_applied)
}
