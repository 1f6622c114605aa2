//! The engine's metrics, through the `metrics` facade: their names (a contract with the alert
//! rules and the dashboard), their help texts ([`describe`], which also describes the A3
//! client's, `workers::telemetry`) and the recording calls the dispatcher and the scheduler make.
//! Without an installed recorder every call is a no-op. The store records its own (transitions,
//! leases lost, items by state); they are not here.
//!
//! At the bottom of the module picture: it uses nothing of this crate, so anything may record.

use metrics::Unit;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use workers::StepKind;

/// How long one step run took, by `step`.
pub const STEP_DURATION: &str = "migrator_step_duration_seconds";
/// Schedule firings (and `run --once` runs) that ended, by `schedule` and `outcome`.
pub const SCHEDULE_RUNS: &str = "migrator_schedule_runs_total";
/// When this process last beat its heartbeat, unix seconds.
pub const HEARTBEAT: &str = "migrator_node_heartbeat_timestamp_seconds";
/// 1, with this binary's `version`.
pub const BUILD_INFO: &str = "migrator_build_info";

/// Describes every metric this process records (the engine's and the A3 client's) to the
/// installed recorder, and sets [`BUILD_INFO`]. Call once, after installing the recorder.
pub fn describe() {
    workers::telemetry::describe();
    metrics::describe_histogram!(
        STEP_DURATION,
        Unit::Seconds,
        "Time one worker step run took on this node (including its calls to Altinn 3, its in-call \
         retries and a timeout or panic), by step"
    );
    metrics::describe_counter!(
        SCHEDULE_RUNS,
        Unit::Count,
        "Schedule firings and `run --once` runs this node finished or skipped, by schedule and \
         outcome (the stored outcome without its detail: ok, window closed, paused, interrupted, \
         error, skipped)"
    );
    metrics::describe_gauge!(
        HEARTBEAT,
        Unit::Seconds,
        "Unix time of this process's last heartbeat the database took"
    );
    metrics::describe_gauge!(BUILD_INFO, "Always 1; the version label is this binary's version");
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// Records a step run of `step` that took `took`. Allocation-free: the labels are static.
pub(crate) fn step_finished(step: StepKind, took: Duration) {
    let histogram = match step {
        StepKind::Migrate => metrics::histogram!(STEP_DURATION, "step" => "migrate"),
        StepKind::MakeAvailable => metrics::histogram!(STEP_DURATION, "step" => "make_available"),
        StepKind::Sync => metrics::histogram!(STEP_DURATION, "step" => "sync"),
    };
    histogram.record(took);
}

/// Records the end of a firing of `schedule` with `outcome` (the stored outcome's kind).
pub(crate) fn schedule_run(schedule: &str, outcome: &'static str) {
    metrics::counter!(SCHEDULE_RUNS, "schedule" => schedule.to_string(), "outcome" => outcome).increment(1);
}

/// Records that this process's heartbeat just went through.
pub(crate) fn heartbeat() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    metrics::gauge!(HEARTBEAT).set(now.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString};
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    /// Keys recorded (`name{label=value,…}`) with how often each was touched.
    #[derive(Default)]
    struct Keys(Mutex<BTreeMap<String, Arc<AtomicU64>>>);

    impl Keys {
        fn touch(&self, key: &Key) -> Arc<AtomicU64> {
            let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            let slot = self.0.lock().unwrap().entry(name).or_default().clone();
            slot.fetch_add(1, Ordering::Relaxed);
            slot
        }

        fn touched(&self) -> BTreeMap<String, u64> {
            self.0.lock().unwrap().iter().map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed))).collect()
        }
    }

    impl Recorder for Keys {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            self.touch(key);
            Counter::noop()
        }

        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            self.touch(key);
            Gauge::noop()
        }

        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            self.touch(key);
            Histogram::noop()
        }
    }

    #[test]
    fn step_labels_are_the_step_names() {
        let keys = Keys::default();
        metrics::with_local_recorder(&keys, || {
            for step in StepKind::ALL {
                step_finished(step, Duration::from_millis(3));
            }
        });
        let want: BTreeMap<String, u64> =
            StepKind::ALL.iter().map(|s| (format!("{STEP_DURATION}{{step={}}}", s.as_str()), 1)).collect();
        assert_eq!(keys.touched(), want);
    }

    #[test]
    fn describe_sets_the_build_info() {
        let keys = Keys::default();
        metrics::with_local_recorder(&keys, || {
            describe();
            schedule_run("window:night", "ok");
            heartbeat();
        });
        let touched = keys.touched();
        let version = format!("{BUILD_INFO}{{version={}}}", env!("CARGO_PKG_VERSION"));
        assert!(touched.contains_key(&version), "{touched:?}");
        assert!(touched.contains_key(&format!("{SCHEDULE_RUNS}{{schedule=window:night,outcome=ok}}")));
        assert!(touched.contains_key(&format!("{HEARTBEAT}{{}}")));
    }
}
