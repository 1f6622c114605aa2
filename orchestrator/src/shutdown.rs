//! SIGINT / SIGTERM → a cancellation token. A second signal exits at once.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Cancels `token` on the first SIGINT or SIGTERM; exits the process with 130 on the second.
pub fn install(token: CancellationToken) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        for n in 0.. {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            if n == 0 {
                tracing::info!("signal received: stopping claims, finishing in-flight items");
                token.cancel();
            } else {
                tracing::warn!("second signal: exiting now; leases expire and items are claimed again");
                std::process::exit(i32::from(crate::cli::Exit::Signal.code()));
            }
        }
    });
    Ok(())
}
