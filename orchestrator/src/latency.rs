//! The live-latency benchmark (`migrator latency`): how long a fresh A2 item takes from being
//! written to the inbox to having its dialog, with the live phase as it is deployed. One or more
//! daemons (`daemon::run`, default settings, the first owning the inbox with `discover.watch`)
//! work against the simulator on a loopback port. Items are written one at a time, and the next
//! only once the last has its dialog, so each is measured on an idle system (after one unmeasured
//! item, while the daemons start):
//! - [`Feed::Append`] (the default): each item is a line appended to one export file in the inbox
//!   (flushed at once), as a live export is written; measured from the line's write.
//! - [`Feed::Rename`]: each item is a file of its own renamed into the inbox, as batch exports are
//!   delivered; measured from the rename. Kept beside the other because the two paths differ
//!   (a look into a grown file against a new file) and this machine is too noisy to compare
//!   figures from different sittings.
//!
//! The time is the item's history row for DialogCreated minus the moment of the write, both on
//! this machine's clock.

use crate::config::Settings;
use crate::generator::{Generator, GeneratorOptions};
use crate::store::Store;
use altinn3_sim::{Faults, SimConfig, Simulator};
use schema::WorkflowState;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct LatencyOptions {
    /// Items, one at a time.
    pub items: usize,
    /// Daemons sharing the database (more than one only makes sense on PostgreSQL).
    pub nodes: usize,
    /// Generator seed.
    pub seed: u64,
    /// How items reach the inbox.
    pub feed: Feed,
}

/// How the benchmark writes items to the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feed {
    /// Each item a line appended to one export file.
    Append,
    /// Each item a file renamed into the inbox.
    Rename,
}

/// Latencies from the write to the inbox to DialogCreated, in milliseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LatencyReport {
    /// Items measured.
    pub items: usize,
    /// Daemons.
    pub nodes: usize,
    /// How the items were written.
    pub feed: Feed,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// The benchmark failed to set up or an item did not arrive.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LatencyError(String);

fn fail(what: &str) -> impl FnOnce(String) -> LatencyError + '_ {
    move |e| LatencyError(format!("{what}: {e}"))
}

/// Runs the benchmark on the (empty) database at `target`; `open` opens one store on it per
/// daemon.
pub async fn measure<F, Fut>(open: F, opts: LatencyOptions) -> Result<LatencyReport, LatencyError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Store, String>>,
{
    let work = std::env::temp_dir().join(format!("migrator-latency-{}", uuid::Uuid::now_v7().simple()));
    let inbox = work.join("inbox");
    std::fs::create_dir_all(&inbox).map_err(|e| fail("cannot create the inbox")(e.to_string()))?;
    let token = format!("latency-{}", uuid::Uuid::now_v7().simple());
    let token_file = work.join("token");
    std::fs::write(&token_file, &token).map_err(|e| fail("cannot write the token file")(e.to_string()))?;
    let sim_cfg =
        SimConfig { token, seed: opts.seed, faults: Faults::default(), dialog_job: Default::default() };
    let addr = "127.0.0.1:0".parse().map_err(|e: std::net::AddrParseError| LatencyError(e.to_string()))?;
    let sim = Simulator::start(sim_cfg, addr)
        .await
        .map_err(|e| fail("cannot start the simulator")(e.to_string()))?;

    let cancel = CancellationToken::new();
    let mut daemons = Vec::new();
    for n in 0..opts.nodes.max(1) {
        let mut env = HashMap::from([
            ("MIGRATOR__ALTINN3__BASE_URL".to_string(), sim.base_url.clone()),
            ("MIGRATOR__ALTINN3__TOKEN_FILE".to_string(), token_file.display().to_string()),
        ]);
        if n == 0 {
            env.insert("MIGRATOR__DISCOVER__INBOX".into(), inbox.display().to_string());
            env.insert("MIGRATOR__DISCOVER__WATCH".into(), "true".into());
        }
        let settings = Settings::load(None, Some(env)).map_err(|e| fail("settings")(e.to_string()))?;
        let store = open().await.map_err(fail("cannot open the database"))?;
        let cancel = cancel.clone();
        daemons.push(tokio::spawn(async move { crate::daemon::run(store, &settings, cancel).await }));
    }
    let store = open().await.map_err(fail("cannot open the database"))?;
    let measured = items_one_at_a_time(&store, &inbox, opts).await;
    cancel.cancel();
    for d in daemons {
        let _ = d.await;
    }
    sim.stop().await;
    let _ = std::fs::remove_dir_all(&work);
    let mut ms = measured?;
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        // `q` is in 0..=1 and `ms` is not empty: the index is in range.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1;
        ms[i]
    };
    Ok(LatencyReport {
        items: ms.len(),
        nodes: opts.nodes.max(1),
        feed: opts.feed,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: ms.last().copied().unwrap_or_default(),
    })
}

/// Writes each item to `inbox` as `opts.feed` says, waits for its dialog, and returns the
/// latencies in milliseconds.
async fn items_one_at_a_time(
    store: &Store,
    inbox: &Path,
    opts: LatencyOptions,
) -> Result<Vec<f64>, LatencyError> {
    let mut generator = Generator::new(GeneratorOptions {
        seed: opts.seed,
        invalid_rate: 0.0,
        ..GeneratorOptions::default()
    });
    let io = |e: std::io::Error| LatencyError(e.to_string());
    let mut export = match opts.feed {
        Feed::Append => {
            let f = std::fs::File::options().create(true).append(true).open(inbox.join("live.ndjson"));
            Some(std::io::BufWriter::new(f.map_err(io)?))
        }
        Feed::Rename => None,
    };
    let mut out = Vec::with_capacity(opts.items);
    // Item 0 only warms up (the daemons may still be starting): it is not measured.
    for i in 0..=opts.items {
        let record = generator.record();
        let line = serde_json::to_string(&record).map_err(|e| LatencyError(e.to_string()))? + "\n";
        let written = match &mut export {
            Some(export) => {
                let written = epoch_ms_now();
                export.write_all(line.as_bytes()).map_err(io)?;
                export.flush().map_err(io)?;
                written
            }
            None => {
                let (tmp, file) =
                    (inbox.join(format!(".{i}.tmp")), inbox.join(format!("live-{i:06}.ndjson")));
                std::fs::write(&tmp, &line).map_err(io)?;
                let renamed = epoch_ms_now();
                std::fs::rename(&tmp, &file).map_err(io)?;
                renamed
            }
        };
        let key = record.altinn2_correspondence_id.to_string();
        let waited = Instant::now();
        let at = loop {
            let shown = store.show(&key).await.map_err(|e| LatencyError(e.to_string()))?;
            let dialog = shown.and_then(|s| {
                s.history.iter().find(|h| h.to_state == WorkflowState::DialogCreated).map(|h| h.at)
            });
            if let Some(at) = dialog {
                break at;
            }
            if waited.elapsed() > Duration::from_secs(30) {
                return Err(LatencyError(format!("item {key} has no dialog 30 s after it was written")));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        if i > 0 {
            // Milliseconds since the epoch fit an f64 exactly.
            #[allow(clippy::cast_precision_loss)]
            out.push((at - written) as f64);
        }
    }
    Ok(out)
}

fn epoch_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
