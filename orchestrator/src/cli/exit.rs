//! Every exit code `migrator` returns, in one place. `--help` lists them from here and the
//! README's "Exit codes" table is checked against them.

use crate::daemon::{OnceEnd, OnceReport};

/// How the process ends. Several situations share a code (2); [`Exit::code`] is the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what it was asked; `run --once`: the phase's work is done. Also
    /// `--help` and `--version`.
    Ok,
    /// 1: an error (printed as `error: …` on stderr), the demo's verification failed, or (`status`)
    /// the database stopped a node and has not been seen working since.
    Error,
    /// 2: the command line is wrong (unknown option, missing or bad value; clap prints why).
    Usage,
    /// 2: `retry` / `cancel` were given an id that does not exist, or a `--reason` that matches
    /// no failure group or more than one.
    NotFound,
    /// 3: `import` rejected some lines (see the reject files).
    ImportRejects,
    /// 4: `run --once`: the phase's window closed (or was not open) with work left.
    WindowClosed,
    /// 5: `run --once`: the phase is paused.
    Paused,
    /// 6: `run --once`: items became Failed during the run, whatever else happened (except a
    /// signal or refused credentials).
    NewFailures,
    /// 7: a reading command found no database to read: none at the path, none of the
    /// migrator's tables, or a schema older than this binary. Nothing was created or changed.
    NoDatabase,
    /// 8: `run --once`: Altinn 3 refused our credentials (401/403); the run stopped and the
    /// items it had taken went back untouched.
    CredentialsRefused,
    /// 130: stopped by SIGINT / SIGTERM (`run --once`; and any command on a second signal).
    Signal,
}

impl Exit {
    /// Every exit, in code order.
    pub const ALL: [Exit; 11] = [
        Exit::Ok,
        Exit::Error,
        Exit::Usage,
        Exit::NotFound,
        Exit::ImportRejects,
        Exit::WindowClosed,
        Exit::Paused,
        Exit::NewFailures,
        Exit::NoDatabase,
        Exit::CredentialsRefused,
        Exit::Signal,
    ];

    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::Usage | Exit::NotFound => 2,
            Exit::ImportRejects => 3,
            Exit::WindowClosed => 4,
            Exit::Paused => 5,
            Exit::NewFailures => 6,
            Exit::NoDatabase => 7,
            Exit::CredentialsRefused => 8,
            Exit::Signal => 130,
        }
    }

    /// The code for a command that ended in `error`: the caller's request (a store
    /// [`StoreError::Invalid`](crate::store::StoreError), a `--db` that names no database) is a
    /// usage error, anything else an error.
    pub fn of_error(error: &anyhow::Error) -> Exit {
        let invalid = error.chain().any(|e| {
            e.downcast_ref::<crate::store::StoreError>().is_some_and(|s| s.is_invalid_request())
                || matches!(
                    e.downcast_ref::<crate::db::DbOpenError>(),
                    Some(crate::db::DbOpenError::BadTarget { .. })
                )
        });
        if invalid { Exit::Usage } else { Exit::Error }
    }

    /// When the code is returned, in a few words (`--help` and the README's table).
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "done",
            Exit::Error => {
                "error; demo: verification failed; status: the database stopped a node and has not been seen working since"
            }
            Exit::Usage => {
                "wrong command line, or a request that cannot be carried out (e.g. an id that is neither a UUID nor an A2 id, a --db that is no database)"
            }
            Exit::NotFound => "retry/cancel: id not found, or --reason matches no group or several",
            Exit::ImportRejects => "import: some lines rejected",
            Exit::WindowClosed => "run --once: window closed (or not open) with work left",
            Exit::Paused => "run --once: phase paused",
            Exit::NewFailures => "run --once: items became Failed during the run",
            Exit::NoDatabase => "reading command: no (current) database to read",
            Exit::CredentialsRefused => {
                "run --once: Altinn 3 refused our credentials (401/403); items put back untouched"
            }
            Exit::Signal => "stopped by a signal",
        }
    }

    /// The exit of a `run --once`: 130 after a signal, else 8 when A3 refused our credentials
    /// (nothing else can go on until the token is fixed), else 6 when items became Failed, else
    /// by how the phase ended.
    pub fn of_once(r: &OnceReport) -> Exit {
        match r.end {
            OnceEnd::Interrupted => Exit::Signal,
            OnceEnd::CredentialsRefused => Exit::CredentialsRefused,
            _ if r.newly_failed > 0 => Exit::NewFailures,
            OnceEnd::Done => Exit::Ok,
            OnceEnd::WindowClosed => Exit::WindowClosed,
            OnceEnd::Paused => Exit::Paused,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

/// The "Exit codes" section of `--help`.
pub(super) fn help() -> String {
    let mut out = String::from("Exit codes:\n");
    for e in Exit::ALL {
        out += &format!("  {:>3}  {}\n", e.code(), e.meaning());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_requests_are_usage_errors_and_the_rest_errors() {
        use crate::store::StoreError;
        let invalid = anyhow::Error::new(StoreError::Invalid("bad id".into())).context("retry");
        assert_eq!(Exit::of_error(&invalid), Exit::Usage);
        let data = anyhow::Error::new(StoreError::Data("unknown state".into()));
        assert_eq!(Exit::of_error(&data), Exit::Error);
        assert_eq!(Exit::of_error(&anyhow::anyhow!("disk full")), Exit::Error);
    }

    #[test]
    fn the_readme_table_lists_every_exit() {
        let readme = include_str!("../../../README.md");
        let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `")).collect();
        for e in Exit::ALL {
            let row = format!("| `{}` | {} |", e.code(), e.meaning());
            assert!(rows.contains(&row.as_str()), "README lacks the row {row}");
        }
        // And no code the enum does not know.
        for row in rows {
            let Some(code) = row.strip_prefix("| `").and_then(|r| r.split('`').next()) else { continue };
            if let Ok(code) = code.parse::<u8>() {
                assert!(
                    Exit::ALL.iter().any(|e| e.code() == code),
                    "README lists exit {code}, the enum does not"
                );
            }
        }
    }

    #[test]
    fn a_run_once_exits_by_its_end_unless_items_failed_or_a_signal_stopped_it() {
        let once = |end, newly_failed| OnceReport {
            phase: "p".into(),
            end,
            work_at_start: 0,
            work_at_end: 0,
            run: None,
            newly_failed,
            newly_rejected: 0,
            top_reasons: Vec::new(),
        };
        let ends = [
            (OnceEnd::Done, 0, 6),
            (OnceEnd::WindowClosed, 4, 6),
            (OnceEnd::Paused, 5, 6),
            (OnceEnd::Interrupted, 130, 130),
            (OnceEnd::CredentialsRefused, 8, 8),
        ];
        for (end, clean, with_failures) in ends {
            assert_eq!(Exit::of_once(&once(end, 0)).code(), clean, "{end:?}");
            assert_eq!(Exit::of_once(&once(end, 3)).code(), with_failures, "{end:?}");
        }
    }

    #[test]
    fn help_lists_every_exit() {
        use clap::CommandFactory;
        let help = super::super::Cli::command().render_long_help().to_string();
        for e in Exit::ALL {
            assert!(help.contains(&format!("{:>3}  {}", e.code(), e.meaning())), "{help}");
        }
    }
}
