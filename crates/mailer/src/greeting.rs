//! A greeting that does not come: after a short silence, a second
//! connection tries TLS on the same port. If the server speaks TLS from the
//! first byte (implicit TLS, port 465 style), the user is told so at once
//! instead of after the whole greeting timeout.

use crate::explain::{Context, Error};
use crate::provider::Security;
use smtp_blocking::{Client, ClientBuilder, TlsSettings};
use smtp_proto::transcript::{Direction, WireObserver};
use smtp_proto::{ClientConfig, Host, TlsPolicy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// How long a silent server is waited for before the port is looked into.
pub(crate) const SILENCE: Duration = Duration::from_secs(2);

/// How long the look may take.
const LOOK: Duration = Duration::from_secs(3);

/// Records that the server said anything, and passes every byte on.
pub(crate) struct Heard {
    heard: Arc<AtomicBool>,
    inner: Option<Box<dyn WireObserver>>,
}

impl Heard {
    /// An observer that sets `heard` once the server says anything, and
    /// shows every byte to `inner`.
    pub(crate) fn new(heard: &Arc<AtomicBool>, inner: Option<Box<dyn WireObserver>>) -> Heard {
        Heard {
            heard: Arc::clone(heard),
            inner,
        }
    }
}

impl WireObserver for Heard {
    fn observe(&mut self, direction: Direction, tls: bool, bytes: &[u8]) {
        if direction == Direction::Received && !bytes.is_empty() {
            self.heard.store(true, Ordering::SeqCst);
        }
        if let Some(inner) = self.inner.as_mut() {
            inner.observe(direction, tls, bytes);
        }
    }
}

/// Connects with `builder` (`observer` sees the dialogue); when the
/// security mode starts in plaintext and the server stays silent, finds out
/// whether the port speaks implicit TLS.
pub(crate) fn connect(
    builder: ClientBuilder,
    observer: Option<Box<dyn WireObserver>>,
    target: &Context,
    addresses: &[std::net::IpAddr],
) -> Result<Client, Error> {
    let heard = Arc::new(AtomicBool::new(false));
    let builder = builder.observer(Heard::new(&heard, observer));
    if target.security == Security::Tls {
        return Ok(builder.connect(&target.host, target.port)?);
    }
    let (tx, rx) = mpsc::channel();
    let (host, port) = (target.host.clone(), target.port);
    // The connection runs on its own thread so that this one can look
    // into a silent port meanwhile; a caller that gives up exits.
    std::thread::spawn(move || {
        let _ = tx.send(builder.connect(&host, port));
    });
    match rx.recv_timeout(SILENCE) {
        Ok(result) => return Ok(result?),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            return Err(smtp_blocking::Error::closed_during_setup(unknown_peer()).into())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {}
    }
    if !heard.load(Ordering::SeqCst) && speaks_implicit_tls(target, addresses) {
        return Err(Error::ImplicitTlsPort {
            address: target.address(),
        });
    }
    match rx.recv() {
        Ok(result) => Ok(result?),
        Err(_) => Err(smtp_blocking::Error::closed_during_setup(unknown_peer()).into()),
    }
}

fn unknown_peer() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([0, 0, 0, 0], 0))
}

/// The configuration of the look: implicit TLS, nothing but EHLO and
/// QUIT, each bounded by [`LOOK`].
pub(crate) fn look_config() -> Option<ClientConfig> {
    let name = Host::parse("localhost").ok()?;
    let mut config = ClientConfig::new(name).with_tls(TlsPolicy::Implicit);
    config.timeouts.greeting = LOOK;
    config.timeouts.ehlo = LOOK;
    config.timeouts.quit = LOOK;
    Some(config)
}

/// TLS for the look: the certificate is not checked, as nothing but EHLO
/// and QUIT crosses it.
pub(crate) fn look_tls() -> TlsSettings {
    TlsSettings::new().dangerous_accept_invalid_certs()
}

/// How long the look may take to connect.
pub(crate) const LOOK_CONNECT: Duration = LOOK;

/// Whether the look's outcome shows a TLS handshake that passed.
pub(crate) fn handshake_passed<T>(result: &Result<T, smtp_blocking::Error>) -> bool {
    match result {
        Ok(_) => true,
        // The handshake itself failed, or no connection: not implicit TLS.
        Err(
            smtp_blocking::Error::Tls { .. }
            | smtp_blocking::Error::Connect { .. }
            | smtp_blocking::Error::Resolve { .. }
            | smtp_blocking::Error::Io { .. },
        ) => false,
        // The handshake passed; what failed came after it.
        Err(_) => true,
    }
}

/// A TLS handshake on a second connection succeeds.
fn speaks_implicit_tls(target: &Context, addresses: &[std::net::IpAddr]) -> bool {
    let Some(config) = look_config() else {
        return false;
    };
    let result = Client::builder(config)
        .tls(look_tls())
        .connect_timeout(LOOK_CONNECT)
        .addresses(addresses.iter().copied())
        .connect(&target.host, target.port);
    let passed = handshake_passed(&result);
    if let Ok(client) = result {
        let _ = client.quit();
    }
    passed
}
