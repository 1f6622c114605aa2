//! SIGINT / SIGTERM → a cancellation token, for the commands that run until stopped (`run`,
//! `import --watch`, `sim`, `demo`, `bench`). A second signal exits at once with
//! [`Exit::Signal`]; that exit is a CLI decision, which is why this lives here and not in the
//! engine.

use super::Exit;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGINT or SIGTERM; the second exits the process with 130.
pub(super) fn cancel_on_signal() -> std::io::Result<CancellationToken> {
    let token = CancellationToken::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let cancel = token.clone();
    tokio::spawn(async move {
        for n in 0.. {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            if n == 0 {
                tracing::info!("signal received: stopping claims, finishing in-flight items");
                cancel.cancel();
            } else {
                tracing::warn!("second signal: exiting now; leases expire and items are claimed again");
                std::process::exit(i32::from(Exit::Signal.code()));
            }
        }
    });
    Ok(token)
}
