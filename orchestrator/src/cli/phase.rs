//! `migrator phase pause|resume NAME`: stop or restart claiming for a phase on every node.

use super::Exit;
use super::output::print;
use crate::config::Settings;
use crate::phase::PhaseControl;
use crate::store::{Origin, Store};
use clap::{Args, Subcommand};

/// `phase` options.
#[derive(Debug, Args)]
pub struct PhaseArgs {
    /// pause or resume.
    #[command(subcommand)]
    pub action: PhaseAction,
}

/// `phase` actions.
#[derive(Debug, Subcommand)]
pub enum PhaseAction {
    /// Stop claiming for the phase (in-flight items finish).
    Pause {
        /// Phase name.
        name: String,
    },
    /// Claim for the phase again.
    Resume {
        /// Phase name.
        name: String,
    },
}

/// Pauses or resumes a phase the configuration names; any other name is an error.
pub(super) async fn run(
    store: &Store,
    settings: &Settings,
    args: PhaseArgs,
    json: bool,
) -> anyhow::Result<Exit> {
    let (name, pause) = match &args.action {
        PhaseAction::Pause { name } => (name, true),
        PhaseAction::Resume { name } => (name, false),
    };
    if !settings.phases.iter().any(|p| &p.name == name) {
        let known: Vec<&str> = settings.phases.iter().map(|p| p.name.as_str()).collect();
        anyhow::bail!("no phase named \"{name}\" in the configuration (phases: {})", known.join(", "));
    }
    let c = store.set_paused(name, pause, Origin::Cli).await?;
    print(json, &c, render)?;
    Ok(Exit::Ok)
}

/// `phase NAME paused` or `… resumed`.
fn render(c: &PhaseControl) -> String {
    format!("phase {} {}\n", c.phase, if c.paused { "paused" } else { "resumed" })
}
