//! A loopback TCP proxy for outages: connections pass through to an upstream until
//! [`Proxy::drop_connections`] closes the open ones (a short network drop: replies in flight are
//! lost, new connections work), [`Proxy::refuse`] closes them and refuses new ones until
//! [`Proxy::restore`] (the database is down), [`Proxy::black_hole`] silences them (a firewall
//! that lost its state: see there), or [`Proxy::cut`] closes them and refuses new ones for good
//! (the database is gone, as far as the process under test can tell).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forward both ways.
    Pass,
    /// No listener (connecting is refused); open connections closed.
    Refuse,
    /// Open connections forward nothing, ever; new ones are accepted and wait for the end.
    BlackHole,
}

/// A running proxy.
pub(crate) struct Proxy {
    /// Where it listens (127.0.0.1).
    pub(crate) port: u16,
    cut: CancellationToken,
    /// Cancelled to close the connections open now; replaced by a fresh one for the next.
    open: Arc<Mutex<CancellationToken>>,
    mode: watch::Sender<Mode>,
}

/// A listener on `port` (0: any free one), with SO_REUSEADDR so that the same port can be listened
/// on again after a refusal.
fn listen(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    socket.listen(1024)
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        let mut listener = listen(0).expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let cut = CancellationToken::new();
        let open = Arc::new(Mutex::new(cut.child_token()));
        let (mode, mut modes) = watch::channel(Mode::Pass);
        let stop = cut.clone();
        let current = open.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    // Returning drops the listener: new connections are refused.
                    _ = stop.cancelled() => return,
                    _ = until(&mut modes, |m| m == Mode::Refuse) => None,
                    accepted = listener.accept() => Some(accepted),
                };
                let Some(accepted) = accepted else {
                    drop(listener);
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = until(&mut modes, |m| m != Mode::Refuse) => {}
                    }
                    listener = relisten(port).await;
                    continue;
                };
                let Ok((client, _)) = accepted else { continue };
                let drop_now = current.lock().unwrap().clone();
                tokio::spawn(forward(client, upstream, drop_now, stop.clone(), modes.clone()));
            }
        });
        Proxy { port, cut, open, mode }
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

    /// Closes every open connection and refuses new ones (nothing listens on the port) until
    /// [`Proxy::restore`].
    pub(crate) fn refuse(&self) {
        self.mode.send_replace(Mode::Refuse);
    }

    /// A black hole until [`Proxy::restore`]: the connections open now forward nothing more, in
    /// either direction, and stay open on the client's side for as long as the proxy lives — as
    /// when a firewall or NAT between the two loses its state: the client hears nothing, no
    /// reset, no close. (The server's side is closed, as its keepalive would close it in the
    /// end, so the server does not hold the client's locks.) Connections made during the
    /// outage are accepted and wait for its end, then go through (a connect retried until the
    /// path is back).
    pub(crate) fn black_hole(&self) {
        self.mode.send_replace(Mode::BlackHole);
    }

    /// New connections go through again (those black-holed stay silent).
    pub(crate) fn restore(&self) {
        self.mode.send_replace(Mode::Pass);
    }

    /// Closes every connection and refuses new ones, for good.
    pub(crate) fn cut(&self) {
        self.cut.cancel();
    }
}

impl Drop for Proxy {
    /// Closes everything, the black-holed connections too.
    fn drop(&mut self) {
        self.cut.cancel();
    }
}

/// Listens on `port` again; the port was ours a moment ago.
async fn relisten(port: u16) -> tokio::net::TcpListener {
    let start = Instant::now();
    loop {
        match listen(port) {
            Ok(l) => return l,
            Err(e) if start.elapsed() > Duration::from_secs(10) => panic!("listen on {port} again: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// One connection through the proxy, as the mode says.
async fn forward(
    mut client: TcpStream,
    upstream: SocketAddr,
    drop_now: CancellationToken,
    stop: CancellationToken,
    mut modes: watch::Receiver<Mode>,
) {
    // Made during a black hole: wait for its end, as a retried connect would.
    tokio::select! {
        _ = drop_now.cancelled() => return,
        m = until(&mut modes, |m| m != Mode::BlackHole) => if m != Some(Mode::Pass) { return },
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    tokio::select! {
        _ = drop_now.cancelled() => {}
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        m = until(&mut modes, |m| m != Mode::Pass) => {
            if m == Some(Mode::BlackHole) {
                drop(server);
                // Silent for good: the client is held open, unread, until the proxy goes.
                stop.cancelled().await;
            }
        }
    }
}

/// The mode once it satisfies `f` (None when the proxy is gone).
async fn until(modes: &mut watch::Receiver<Mode>, f: impl Fn(Mode) -> bool) -> Option<Mode> {
    modes.wait_for(|m| f(*m)).await.ok().map(|m| *m)
}
