//! A loopback TCP proxy for outages: connections pass through to an upstream until
//! [`Proxy::drop_connections`] closes the open ones (a short network drop: replies in flight are
//! lost, new connections work) or [`Proxy::cut`] closes them and refuses new ones for good (the
//! database is gone, as far as the process under test can tell).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A running proxy.
pub(crate) struct Proxy {
    /// Where it listens (127.0.0.1).
    pub(crate) port: u16,
    cut: CancellationToken,
    /// Cancelled to close the connections open now; replaced by a fresh one for the next.
    open: Arc<Mutex<CancellationToken>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let cut = CancellationToken::new();
        let open = Arc::new(Mutex::new(cut.child_token()));
        let stop = cut.clone();
        let current = open.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    // Returning drops the listener: new connections are refused.
                    _ = stop.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut client, _)) = accepted else { continue };
                let stop = current.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
        Proxy { port, cut, open }
    }

    /// A proxy in front of the test's PostgreSQL server, and the test database's URL through it.
    pub(crate) async fn in_front_of(db: &tests::TestDb) -> (Proxy, String) {
        let proxy = Proxy::start("127.0.0.1:5432".parse().expect("address")).await;
        let via = db.target.replace("@127.0.0.1:5432/", &format!("@127.0.0.1:{}/", proxy.port));
        assert_ne!(via, db.target, "the test database is reached through the proxy");
        (proxy, via)
    }

    /// Closes every open connection (what is in flight is lost); new ones go through.
    pub(crate) fn drop_connections(&self) {
        let mut open = self.open.lock().unwrap();
        open.cancel();
        *open = self.cut.child_token();
    }

    /// Closes every connection and refuses new ones, for good.
    pub(crate) fn cut(&self) {
        self.cut.cancel();
    }
}
