//! Migrations, applied automatically at start-up (`Migrator::up`); each is safe to run twice.

use sea_orm_migration::prelude::*;

mod m20261127_000001_init;
mod m20261127_000002_import_files;
mod m20261127_000003_phases;
mod m20261201_000004_failure_reasons;
mod m20261201_000005_import_batch;
mod m20261201_000006_liveness;
mod m20261202_000007_item_counts;
mod m20261202_000008_operators;
mod m20261203_000009_hot_indexes;
mod m20261203_000010_import_offsets;
mod m20261203_000011_record_indexes;
mod m20261204_000012_packed_payloads;

/// The ordered list of migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_init::Migration),
            Box::new(m20261127_000002_import_files::Migration),
            Box::new(m20261127_000003_phases::Migration),
            Box::new(m20261201_000004_failure_reasons::Migration),
            Box::new(m20261201_000005_import_batch::Migration),
            Box::new(m20261201_000006_liveness::Migration),
            Box::new(m20261202_000007_item_counts::Migration),
            Box::new(m20261202_000008_operators::Migration),
            Box::new(m20261203_000009_hot_indexes::Migration),
            Box::new(m20261203_000010_import_offsets::Migration),
            Box::new(m20261203_000011_record_indexes::Migration),
            Box::new(m20261204_000012_packed_payloads::Migration),
        ]
    }
}
