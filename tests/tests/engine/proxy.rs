//! A loopback TCP proxy for outages: connections pass through to an upstream until [`Proxy::cut`],
//! which closes every open connection and refuses new ones (the database is gone, as far as the
//! process under test can tell).

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A running proxy.
pub(crate) struct Proxy {
    /// Where it listens (127.0.0.1).
    pub(crate) port: u16,
    cut: CancellationToken,
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let cut = CancellationToken::new();
        let stop = cut.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    // Returning drops the listener: new connections are refused.
                    _ = stop.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut client, _)) = accepted else { continue };
                let stop = stop.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        Proxy { port, cut }
    }

    /// Closes every connection and refuses new ones, for good.
    pub(crate) fn cut(&self) {
        self.cut.cancel();
    }
}
