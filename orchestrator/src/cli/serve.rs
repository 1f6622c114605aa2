//! `migrator serve`: the operations server alone (health, metrics, the JSON API, the dashboard)
//! over a database whose daemons run elsewhere. It opens an existing, current database only and
//! writes nothing but what an operator asks for with the token.

use super::Exit;
use super::signal::cancel_on_signal;
use crate::config::Settings;
use crate::store::Store;
use clap::Args;
use std::net::SocketAddr;

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port [default: `http.listen` from the config, else 127.0.0.1:9464].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

/// Serves until a signal.
pub(super) async fn run(
    store: Store,
    target: &str,
    settings: Settings,
    args: ServeArgs,
) -> anyhow::Result<Exit> {
    let Some(listen) = args.listen.or(settings.http.listen) else {
        anyhow::bail!("http.listen is \"\" (off): give --listen ADDR to serve");
    };
    let cancel = cancel_on_signal()?;
    let server = crate::http::start(store, target, &settings, listen, true, cancel.clone()).await?;
    eprintln!(
        "serving http://{} ({}); Ctrl-C stops",
        server.addr,
        if settings.http.token()?.is_some() {
            "operator actions need the token"
        } else {
            "read-only: no http token configured"
        }
    );
    server.stopped().await;
    Ok(Exit::Ok)
}
