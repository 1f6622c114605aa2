//! The deploy kit in `deploy/`: the systemd units pass `systemd-analyze verify`, the Prometheus
//! config and rules pass `promtool` (and the rules' unit tests prove the alerts fire), the one-shot
//! unit counts exactly "window closed" and "paused" as success, the stop timeouts outlast the
//! shutdown deadline, the Grafana dashboard and the alerts use only the metric names of the
//! contract below, and the Kubernetes manifests say what they are. A check whose tool is not
//! installed prints that it skipped (`.ci/run` installs `promtool`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Every metric the daemons serve on `GET /metrics`: the contract `deploy/` is written against.
/// A file there that uses another name fails [`the_dashboard_and_the_alerts_use_only_contract_metrics`].
const METRICS: &[&str] = &[
    "migrator_transitions_total",
    "migrator_a3_requests_total",
    "migrator_a3_rate_limited_total",
    "migrator_a3_request_duration_seconds",
    "migrator_a3_concurrency",
    "migrator_step_duration_seconds",
    "migrator_leases_lost_total",
    "migrator_retries_scheduled_total",
    "migrator_schedule_runs_total",
    "migrator_items",
    "migrator_phase_items",
    "migrator_phase_window_open",
    "migrator_node_heartbeat_age_seconds",
    "migrator_node_heartbeat_timestamp_seconds",
    "migrator_build_info",
];

/// The histograms among [`METRICS`]: their series carry `_bucket`, `_sum` and `_count`.
const HISTOGRAMS: &[&str] = &["migrator_a3_request_duration_seconds", "migrator_step_duration_seconds"];

/// Where the daemon's binary is installed in the units (rewritten for `systemd-analyze verify`,
/// which insists that `ExecStart=` exists).
const INSTALLED_BINARY: &str = "/usr/local/bin/migrator";

/// The three units.
const UNITS: &[&str] = &["migrator.service", "migrator-phase@.service", "migrator-phase@.timer"];

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("deploy")
}

fn read(rel: &str) -> String {
    let path = deploy().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `name` on the PATH, if installed.
fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// Runs `c`: (success, stdout and stderr together).
fn run(mut c: Command) -> (bool, String) {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The value of `Key=` in a unit file (the last one, as systemd reads it).
fn unit_value<'a>(unit: &'a str, key: &str) -> Option<&'a str> {
    unit.lines().rev().find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

/// A duration written `45s`, `2m` or `30` (seconds).
fn seconds(text: &str) -> Duration {
    let text = text.trim().trim_matches('"');
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().unwrap_or_else(|_| panic!("not a duration: {text:?}"));
    match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n * 60),
        _ => panic!("unit of {text:?}"),
    }
}

/// `systemd-analyze verify` on the unit files in `dir`: exit 0 and nothing printed (it reports an
/// unknown key or a bad value as a warning and still exits 0). Returns what it printed otherwise.
fn verify_units(analyze: &Path, dir: &Path, units: &[&str]) -> Result<(), String> {
    let mut c = Command::new(analyze);
    c.arg("verify").arg("--man=no").args(units.iter().map(|u| dir.join(u))).env("SYSTEMD_LOG_COLOR", "0");
    let (ok, output) = run(c);
    if ok && output.trim().is_empty() { Ok(()) } else { Err(output) }
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let Some(analyze) = tool("systemd-analyze") else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
    // verify demands that ExecStart's binary exists: the copies run the binary under test.
    let tmp = tempfile::tempdir().unwrap();
    for unit in UNITS {
        let text = read(&format!("systemd/{unit}"));
        if unit.ends_with(".service") {
            let exec = unit_value(&text, "ExecStart").expect("ExecStart=");
            assert!(
                exec.starts_with(&format!("{INSTALLED_BINARY} --config /etc/migrator/migrator.toml run")),
                "{exec}"
            );
        }
        std::fs::write(tmp.path().join(unit), text.replace(INSTALLED_BINARY, crate::process::BIN)).unwrap();
    }
    if let Err(output) = verify_units(&analyze, tmp.path(), UNITS) {
        panic!("systemd-analyze verify {UNITS:?}:\n{output}");
    }

    // The check is honest: a misspelt key, a bad value and a missing binary each fail it.
    let service = std::fs::read_to_string(tmp.path().join("migrator.service")).unwrap();
    let broken = [
        ("misspelt key", service.replace("KillSignal=", "KilSignal=")),
        ("bad value", service.replace("Restart=on-failure", "Restart=sometimes")),
        ("missing binary", service.replace(crate::process::BIN, "/nonexistent/migrator")),
    ];
    for (what, text) in broken {
        assert_ne!(text, service, "{what}: nothing replaced");
        std::fs::write(tmp.path().join("broken.service"), text).unwrap();
        assert!(verify_units(&analyze, tmp.path(), &["broken.service"]).is_err(), "{what} passed verify");
    }
}

/// `migrator --help`'s exit-code table: (code, meaning).
fn exit_codes() -> Vec<(i32, String)> {
    let (ok, help) = run({
        let mut c = Command::new(crate::process::BIN);
        c.arg("--help");
        c
    });
    assert!(ok, "{help}");
    let table = help.split("Exit codes:").nth(1).expect("--help lists the exit codes");
    table
        .lines()
        .filter_map(|l| {
            let (code, meaning) = l.trim().split_once("  ")?;
            Some((code.parse().ok()?, meaning.trim().to_string()))
        })
        .collect()
}

#[test]
fn the_one_shot_unit_counts_window_closed_and_paused_as_success_and_nothing_else() {
    let codes = exit_codes();
    let code = |start: &str| {
        codes
            .iter()
            .find(|(_, meaning)| meaning.starts_with(start))
            .unwrap_or_else(|| panic!("no exit code means {start:?}: {codes:?}"))
            .0
    };
    let normal_nights: BTreeSet<i32> =
        [code("run --once: window closed"), code("run --once: phase paused")].into();
    let unit = read("systemd/migrator-phase@.service");
    let success: BTreeSet<i32> = unit_value(&unit, "SuccessExitStatus")
        .expect("SuccessExitStatus=")
        .split_whitespace()
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(success, normal_nights, "{codes:?}");
    for needs_someone in ["run --once: items became Failed", "run --once: Altinn 3 refused our credentials"] {
        assert!(!success.contains(&code(needs_someone)), "{needs_someone}");
    }
    assert_eq!(
        unit_value(&unit, "ExecStart"),
        Some(
            format!("{INSTALLED_BINARY} --config /etc/migrator/migrator.toml run --once --phase %i").as_str()
        )
    );
    // The cron job names the same codes: the ones a rerun would only repeat end the Job.
    let cronjob = read("kubernetes/cronjob.yaml");
    assert!(cronjob.contains("values: [2, 4, 5, 6, 8, 130]"), "{cronjob}");
}

#[test]
fn stop_timeouts_outlast_the_shutdown_grace_and_deadline() {
    let defaults = orchestrator::dispatcher::DispatcherConfig::default();
    let stop = defaults.shutdown_grace + defaults.shutdown_deadline;
    for unit in ["migrator.service", "migrator-phase@.service"] {
        let text = read(&format!("systemd/{unit}"));
        assert_eq!(unit_value(&text, "KillSignal"), Some("SIGTERM"), "{unit}");
        let timeout = seconds(unit_value(&text, "TimeoutStopSec").expect("TimeoutStopSec="));
        assert!(timeout > stop + Duration::from_secs(10), "{unit}: {timeout:?} vs grace + deadline {stop:?}");
    }
    // Kubernetes: against the grace and deadline its own config sets.
    let config = read("kubernetes/configmap.yaml");
    let key = |k: &str| {
        let line = config.lines().find(|l| l.trim_start().starts_with(&format!("{k} ="))).expect(k);
        seconds(line.split('=').nth(1).unwrap())
    };
    let stop = key("shutdown_grace") + key("shutdown_deadline");
    for file in ["kubernetes/deployment.yaml", "kubernetes/cronjob.yaml"] {
        let text = read(file);
        let line = text
            .lines()
            .find(|l| l.contains("terminationGracePeriodSeconds:"))
            .expect("terminationGracePeriodSeconds");
        let grace = seconds(line.split(':').nth(1).unwrap());
        assert!(grace > stop + Duration::from_secs(10), "{file}: {grace:?} vs grace + deadline {stop:?}");
    }
}

#[test]
fn promtool_accepts_the_config_and_the_rules_and_the_alerts_fire_on_their_tests() {
    let Some(promtool) = tool("promtool") else {
        eprintln!("skipped: promtool is not installed (Debian package prometheus)");
        return;
    };
    let dir = deploy().join("prometheus");
    let promtool_in = |dir: &Path, args: &[&str]| {
        let mut c = Command::new(&promtool);
        c.current_dir(dir).args(args);
        run(c)
    };
    for args in [
        &["check", "config", "prometheus.yml"][..],
        &["check", "rules", "alerts.yml"],
        &["test", "rules", "alerts.test.yml"],
    ] {
        let (ok, output) = promtool_in(&dir, args);
        assert!(ok, "promtool {args:?}:\n{output}");
    }

    // The unit tests are honest: a node-silent alert that waits far longer fails them.
    let tmp = tempfile::tempdir().unwrap();
    let alerts = read("prometheus/alerts.yml");
    let lax = alerts.replace(
        "min by (node) (migrator_node_heartbeat_age_seconds) > 120",
        "min by (node) (migrator_node_heartbeat_age_seconds) > 100000",
    );
    assert_ne!(lax, alerts);
    std::fs::write(tmp.path().join("alerts.yml"), lax).unwrap();
    std::fs::write(tmp.path().join("alerts.test.yml"), read("prometheus/alerts.test.yml")).unwrap();
    let (ok, output) = promtool_in(tmp.path(), &["test", "rules", "alerts.test.yml"]);
    assert!(!ok && output.contains("MigratorNodeSilent"), "{output}");
}

/// The `migrator_…` names in a PromQL expression, a histogram's series reduced to its name.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("migrator_") {
        let before = rest[..at].chars().next_back();
        let after = &rest[at..];
        let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            let name = &after[..len];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|s| name.strip_suffix(s))
                .find(|b| HISTOGRAMS.contains(b))
                .unwrap_or(name);
            names.push(base.to_string());
        }
        rest = &after[len..];
    }
    names
}

/// Every string under an `expr`, `query` or `definition` key, anywhere in the dashboard.
fn queries(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match v {
                    serde_json::Value::String(s)
                        if ["expr", "query", "definition"].contains(&key.as_str()) =>
                    {
                        out.push(s.clone());
                    }
                    _ => queries(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| queries(v, out)),
        _ => {}
    }
}

/// The `expr:` of every rule in a Prometheus rule file, one-line or block (`|`).
fn rule_exprs(yaml: &str) -> Vec<String> {
    fn indent(l: &str) -> usize {
        l.len() - l.trim_start().len()
    }
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(value) = line.trim_start().strip_prefix("expr:") else { continue };
        let value = value.trim();
        if value.starts_with('|') || value.starts_with('>') {
            let block: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || indent(l) > indent(line))
                .copied()
                .collect();
            exprs.push(block.join("\n"));
        } else {
            exprs.push(value.to_string());
        }
    }
    exprs
}

fn assert_contract(file: &str, exprs: &[String]) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for expr in exprs {
        for name in metric_names(expr) {
            assert!(
                METRICS.contains(&name.as_str()),
                "{file}: {name} is no metric of the contract, in: {expr}"
            );
            used.insert(name);
        }
    }
    used
}

#[test]
fn the_dashboard_and_the_alerts_use_only_contract_metrics() {
    assert_eq!(
        metric_names("sum(rate(migrator_step_duration_seconds_bucket{x=\"migrator_no\"}[5m]))"),
        ["migrator_step_duration_seconds", "migrator_no"]
    );
    assert_eq!(metric_names("xmigrator_items + migrator_items_count"), ["migrator_items_count"]);

    let dashboard: serde_json::Value =
        serde_json::from_str(&read("grafana/migrator-dashboard.json")).expect("the dashboard is JSON");
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "schemaVersion");
    let variables = dashboard["templating"]["list"].as_array().expect("templating");
    assert!(
        variables
            .iter()
            .any(|v| v["name"] == "datasource" && v["type"] == "datasource" && v["query"] == "prometheus"),
        "a datasource variable"
    );
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for panel in panels {
        assert!(ids.insert(panel["id"].as_u64().expect("panel id")), "panel ids are unique");
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{}", panel["title"]);
        let targets =
            panel["targets"].as_array().unwrap_or_else(|| panic!("{} has no targets", panel["title"]));
        assert!(!targets.is_empty() && targets.iter().all(|t| t["expr"].is_string()), "{}", panel["title"]);
    }
    let mut exprs = Vec::new();
    queries(&dashboard, &mut exprs);
    assert!(exprs.len() >= 20, "{exprs:?}");
    let used = assert_contract("migrator-dashboard.json", &exprs);
    let unused: Vec<_> = METRICS.iter().filter(|m| !used.contains(**m)).collect();
    assert!(unused.is_empty(), "the dashboard shows no panel over {unused:?}");

    let alerts = read("prometheus/alerts.yml");
    let exprs = rule_exprs(&alerts);
    let rules: Vec<&str> = alerts.split("- alert: ").skip(1).collect();
    assert!(rules.len() >= 8 && exprs.len() == rules.len(), "{} rules, {} exprs", rules.len(), exprs.len());
    assert_contract("alerts.yml", &exprs);
    for rule in rules {
        let name = rule.lines().next().unwrap();
        for key in ["expr:", "for:", "severity:", "summary:", "description:"] {
            assert!(rule.contains(key), "alert {name} lacks {key}");
        }
    }
    // The rules' unit tests feed only series of the contract (and `up`).
    let tests = read("prometheus/alerts.test.yml");
    let series: Vec<String> =
        tests.lines().filter_map(|l| l.trim().strip_prefix("- series:")).map(str::to_string).collect();
    assert!(series.len() >= 10);
    assert_contract("alerts.test.yml", &series);
}

#[test]
fn the_kubernetes_manifests_name_their_kind_and_agree_with_each_other() {
    let dir = deploy().join("kubernetes");
    let mut kinds = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!text.contains('\t'), "{file}: a tab (YAML indents with spaces)");
        assert!(text.lines().any(|l| l.starts_with("apiVersion: ")), "{file}: no apiVersion");
        assert!(!text.lines().any(|l| l == "kind: Namespace"), "{file}: the set is namespace-free");
        let kind =
            text.lines().find_map(|l| l.strip_prefix("kind: ")).unwrap_or_else(|| panic!("{file}: no kind"));
        kinds.insert(format!("{file}: {kind}"));
    }
    let expected = [
        "configmap.yaml: ConfigMap",
        "cronjob.yaml: CronJob",
        "deployment.yaml: Deployment",
        "secret.example.yaml: Secret",
        "service.yaml: Service",
    ];
    assert_eq!(kinds, expected.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());

    let config = read("kubernetes/configmap.yaml");
    assert!(config.contains("listen = \"0.0.0.0:9464\""), "a pod must be reachable");
    let deployment = read("kubernetes/deployment.yaml");
    for needed in [
        "replicas: 2",
        "path: /healthz",
        "path: /readyz",
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
        "name: MIGRATOR__DATABASE__URL",
        "secretName: migrator-secrets",
        "name: migrator-config",
        "containerPort: 9464",
        "args: [\"--config\", \"/etc/migrator/migrator.toml\", \"run\"]",
    ] {
        assert!(deployment.contains(needed), "deployment.yaml lacks {needed}");
    }
    // The token files the config names are the ones the Secret mounts.
    for token in ["/run/secrets/migrator/a3-token", "/run/secrets/migrator/http-token"] {
        assert!(config.contains(&format!("token_file = \"{token}\"")), "{token}");
        let (mount, file) = token.rsplit_once('/').unwrap();
        assert!(
            deployment.contains(&format!("mountPath: {mount}"))
                && deployment.contains(&format!("path: {file}"))
        );
        assert!(read("kubernetes/secret.example.yaml").contains(&format!("{file}:")), "{file}");
    }
    let cronjob = read("kubernetes/cronjob.yaml");
    for needed in ["concurrencyPolicy: Forbid", "restartPolicy: Never", "\"run\", \"--once\", \"--phase\""] {
        assert!(cronjob.contains(needed), "cronjob.yaml lacks {needed}");
    }
    let service = read("kubernetes/service.yaml");
    assert!(
        service.contains("prometheus.io/scrape: \"true\"")
            && service.contains("prometheus.io/port: \"9464\"")
    );
}
