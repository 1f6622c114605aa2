//! `migrator sim`: the Altinn 3 simulator as a standalone server; and the fault options it
//! shares with `demo`.

use super::Exit;
use super::signal::cancel_on_signal;
use anyhow::Context;
use clap::Args;
use std::time::Duration;

/// Faults the simulator injects.
#[derive(Debug, Args, Clone)]
pub struct FaultArgs {
    /// Share of calls answered 503 without being processed.
    #[arg(long, default_value_t = 0.0)]
    pub fail_5xx: f64,
    /// Share of calls answered 429 with Retry-After.
    #[arg(long, default_value_t = 0.0)]
    pub fail_429: f64,
    /// Retry-After given with a 429.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub retry_after: Duration,
    /// Share of calls whose connection is dropped (half before, half after processing).
    #[arg(long, default_value_t = 0.0)]
    pub drop: f64,
    /// Extra latency per call, drawn between 0 and this.
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub latency: Duration,
    /// A real rate limit: each endpoint takes this many calls per second (a token bucket) and
    /// answers the rest 429 with Retry-After (0 = none). Not random, unlike --fail-429.
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    pub rate_limit: f64,
    /// Calls the rate limit takes at once after a quiet spell (the bucket's size).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: u32,
}

/// A finite number of at least 0.
fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of at least 0")),
    }
}

impl FaultArgs {
    /// The simulator's faults.
    pub(super) fn faults(&self) -> altinn3_sim::Faults {
        altinn3_sim::Faults {
            error_5xx_rate: self.fail_5xx,
            rate_429: self.fail_429,
            retry_after: self.retry_after,
            drop_rate: self.drop,
            latency_min: Duration::ZERO,
            latency_max: self.latency,
            rate_limit: (self.rate_limit > 0.0).then_some(altinn3_sim::RateLimit {
                per_second: self.rate_limit,
                burst: self.rate_limit_burst,
            }),
        }
    }
}

/// `sim` options.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// The bearer token the simulator accepts.
    #[arg(long, env = "MIGRATOR_SIM_TOKEN", default_value = "dev-token", hide_env_values = true)]
    pub token: String,
    /// Seed for faults.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Faults.
    #[command(flatten)]
    pub faults: FaultArgs,
    /// How long after a migrate call with `makeAvailable: true` A3's background job creates the
    /// dialog (0: before the answer is sent).
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub dialog_job_delay: Duration,
    /// Answer `makeAvailable: true` as A3's Development environment does: the dialog is created
    /// in the call and its id answered (elsewhere A3 answers `dialogId: ""`).
    #[arg(long)]
    pub development: bool,
}

/// Serves the simulator on 127.0.0.1 until a signal.
pub(super) async fn run(args: &SimArgs) -> anyhow::Result<Exit> {
    let cfg = altinn3_sim::SimConfig {
        token: args.token.clone(),
        seed: args.seed,
        faults: args.faults.faults(),
        dialog_job: altinn3_sim::DialogJob { development: args.development, delay: args.dialog_job_delay },
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .context("cannot bind the simulator's port")?;
    let addr = listener.local_addr()?;
    eprintln!(
        "Altinn 3 simulator on http://{addr} (inventory: http://{addr}/sim/inventory); Ctrl-C stops it"
    );
    let cancel = cancel_on_signal()?;
    altinn3_sim::Simulator::new(cfg).serve(listener, cancel).await?;
    Ok(Exit::Ok)
}
