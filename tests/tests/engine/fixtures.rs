//! What several tests set up the same way: valid generated A2 records in the store, and the
//! Altinn 3 simulator with a client for it.

use altinn3_sim::{Faults, RunningSim, SimConfig, Simulator};
use orchestrator::generator::{Generator, GeneratorOptions};
use orchestrator::store::{RecordInput, Store};
use std::collections::BTreeMap;
use std::time::Duration;
use workers::a2::A2Correspondence;
use workers::a3::{A3Client, ClientConfig, Limit, Secret};

/// Imports `n` generated records with valid content and no later events; returns them.
pub(crate) async fn import_valid(store: &Store, n: usize) -> Vec<A2Correspondence> {
    let mut g = Generator::new(GeneratorOptions {
        invalid_rate: 0.0,
        later_event_rate: 0.0,
        ..GeneratorOptions::default()
    });
    let records: Vec<_> = (0..n).map(|_| g.record()).collect();
    let inputs: Vec<_> =
        records.iter().map(|r| RecordInput { record: r.clone(), batch: "p".into() }).collect();
    store.import_records(&inputs).await.unwrap();
    records
}

/// The simulator on a loopback port, accepting `token`, without faults.
pub(crate) async fn simulator(token: &str, seed: u64) -> RunningSim {
    Simulator::start(
        SimConfig { token: token.into(), seed, faults: Faults::default(), dialog_job: Default::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// A client for `sim` sending `token`, without rate limits.
pub(crate) fn client(sim: &RunningSim, token: &str) -> A3Client {
    A3Client::new(ClientConfig {
        base_url: sim.base_url.clone(),
        token: Secret::new(token),
        timeout: Duration::from_secs(5),
        limits: BTreeMap::new(),
        default_limit: Limit::default(),
    })
    .unwrap()
}

/// Migrates `conn` down through the migration named `name` (it and every newer one are undone),
/// as a downgrade to the schema before it would; counted by name, so a newer migration does not
/// change what a test undoes.
pub(crate) async fn migrate_down_through(conn: &sea_orm::DatabaseConnection, name: &str) {
    use sea_orm_migration::MigratorTrait;
    let all = schema::Migrator::migrations();
    let at = all.iter().position(|m| m.name() == name).unwrap_or_else(|| panic!("no migration {name}"));
    let steps = u32::try_from(all.len() - at).unwrap();
    schema::Migrator::down(conn, Some(steps)).await.unwrap();
}
