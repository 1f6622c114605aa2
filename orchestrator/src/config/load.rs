//! Reading the configuration: the built-in defaults, then the file, then the environment, into
//! the raw form (a token written in the file is refused here), then checked into [`Settings`].

use super::check::check;
use super::raw::Raw;
use super::{ConfigError, ConfigIssue, Settings};
use std::collections::HashMap;
use std::path::Path;

impl Settings {
    /// Loads `file` (if given) over the defaults, then `env` (the process environment if None)
    /// over that.
    pub fn load(file: Option<&Path>, env: Option<HashMap<String, String>>) -> Result<Settings, ConfigError> {
        Self::load_with(file, env, true)
    }

    /// Like [`Settings::load`], but the A3 token is neither read nor checked (`altinn3.token`
    /// and `altinn3.token_file` are ignored; `token` is None): for commands that never call
    /// Altinn 3, so a `token_file` this machine lacks does not stop them.
    pub fn load_without_token(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
    ) -> Result<Settings, ConfigError> {
        Self::load_with(file, env, false)
    }

    fn load_with(
        file: Option<&Path>,
        env: Option<HashMap<String, String>>,
        with_token: bool,
    ) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            let file_error =
                |problem: String| ConfigError::File { path: path.display().to_string(), problem };
            let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
            // Secrets do not belong in a file that is copied around and checked in.
            let only_file = config::Config::builder()
                .add_source(config::File::from_str(&text, config::FileFormat::Toml))
                .build()
                .map_err(|e| file_error(e.to_string()))?;
            // Every value of the wrong type and every unknown key, all at once (the config crate
            // would coerce `true` or `2.9` into a count, and stop at the first error).
            let issues = strict_types(&text);
            if !issues.is_empty() {
                return Err(ConfigError::Invalid(issues));
            }
            if only_file.get::<config::Value>("http.token").is_ok() {
                return Err(ConfigError::Invalid(vec![ConfigIssue {
                    key: "http.token".into(),
                    problem: "the token may not be written in the config file; set MIGRATOR__HTTP__TOKEN or http.token_file".into(),
                }]));
            }
            if only_file.get::<config::Value>("altinn3.token").is_ok() {
                return Err(ConfigError::Invalid(vec![ConfigIssue {
                    key: "altinn3.token".into(),
                    problem: "the token may not be written in the config file; set MIGRATOR__ALTINN3__TOKEN or altinn3.token_file".into(),
                }]));
            }
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        builder =
            builder.add_source(config::Environment::with_prefix("MIGRATOR").separator("__").source(env));
        let merged = builder
            .build()
            .map_err(|e| ConfigError::File { path: "environment".into(), problem: e.to_string() })?;
        let mut raw: Raw = serde_path_to_error::deserialize(merged).map_err(|e| {
            let key = e.path().to_string();
            let problem = e.inner().to_string();
            // The config crate sometimes names the key itself; keep the message short.
            let problem = problem.split(" for key `").next().unwrap_or(&problem).to_string();
            ConfigError::Invalid(vec![ConfigIssue {
                key: if key == "." { "(top level)".into() } else { key },
                problem,
            }])
        })?;
        if !with_token {
            raw.altinn3.token = None;
            raw.altinn3.token_file = None;
        }
        check(raw)
    }
}

/// Checks each value of the file on its own against the raw form, strictly (TOML's own types, no
/// coercion), and returns one issue per bad value or unknown key. Missing fields are not judged
/// here: a value checked alone lacks its siblings; the full load reports those.
fn strict_types(text: &str) -> Vec<ConfigIssue> {
    let Ok(table) = text.parse::<toml::Table>() else {
        // Not TOML: the config crate's own parse says where.
        return Vec::new();
    };
    let mut leaves = Vec::new();
    collect_leaves(&table, &mut Vec::new(), &mut leaves);
    let mut issues = Vec::new();
    for (path, value) in leaves {
        let mut single = value;
        for key in path.iter().rev() {
            let mut t = toml::Table::new();
            t.insert(key.clone(), single);
            single = toml::Value::Table(t);
        }
        if let Err(e) = serde_path_to_error::deserialize::<_, Raw>(single) {
            let problem = e.inner().to_string();
            if problem.starts_with("missing field") {
                continue;
            }
            // An unknown key is named by itself (`[nodes]`, not every value under it).
            let unknown = problem.strip_prefix("unknown field `").and_then(|r| r.split('`').next());
            let end = unknown.and_then(|u| path.iter().position(|p| p == u)).map_or(path.len(), |i| i + 1);
            let key = path[..end].join(".");
            if !issues.iter().any(|i: &ConfigIssue| i.key == key) {
                issues.push(ConfigIssue { key, problem });
            }
        }
    }
    issues
}

/// Every value that is not a table, with the keys that lead to it.
fn collect_leaves(table: &toml::Table, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, toml::Value)>) {
    for (key, value) in table {
        path.push(key.clone());
        match value {
            toml::Value::Table(inner) if !inner.is_empty() => collect_leaves(inner, path, out),
            other => out.push((path.clone(), other.clone())),
        }
        path.pop();
    }
}
