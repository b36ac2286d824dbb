//! A pool of client connections to one server, for sending from many
//! threads at once.

use crate::client::{Blocking, Client};
use crate::{Error, TlsSettings};
use smtp_adapter::PoolCore;
use smtp_proto::{ClientConfig, DeliveryReport, Envelope};
use std::fmt;
use std::io::Read;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Connections to one server, reused across messages, at most
/// `max_connections` open and busy at once. Share it between threads by
/// reference (it is `Sync`), or use [`send_all`](Self::send_all).
///
/// [`send`](Self::send) takes an idle connection (or opens one), sends, and
/// puts the connection back when it is still usable; a connection whose
/// send failed mid-way is discarded, never reused. An idle connection the
/// server closed meanwhile (an idle timeout's 421) is noticed before use
/// and replaced.
///
/// ```no_run
/// use smtp_blocking::Pool;
/// use smtp_proto::{ClientConfig, Envelope, Host, Mailbox, Recipient, TlsPolicy};
///
/// let config = ClientConfig::new(Host::parse("client.example").unwrap()).with_tls(TlsPolicy::None);
/// let pool = Pool::new("127.0.0.1", 2525, config, 4);
/// let messages = (0..100).map(|i| {
///     let envelope = Envelope::new(Mailbox::parse("news@example.com").unwrap().into())
///         .with_recipient(Recipient::new(Mailbox::parse(&format!("user{i}@example.org")).unwrap()));
///     (envelope, format!("Subject: issue {i}\r\n\r\nHello\r\n").into_bytes())
/// });
/// let outcomes = pool.send_all(messages);
/// assert!(outcomes.iter().all(Result::is_ok));
/// pool.close();
/// ```
pub struct Pool {
    core: PoolCore<Client>,
    /// Connections busy right now (open or being opened).
    busy: Mutex<usize>,
    freed: Condvar,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt(f)
    }
}

/// Gives a connection slot back when dropped, even if a send panicked.
struct Permit<'a>(&'a Pool);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut busy = lock(&self.0.busy);
        *busy = busy.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

impl Pool {
    /// A pool to `host` (a name or an IP address; with TLS also the name the
    /// certificate must carry) on `port`, with at most `max_connections` (at
    /// least one) connections. Nothing is opened until the first send.
    pub fn new(host: &str, port: u16, config: ClientConfig, max_connections: usize) -> Pool {
        Pool {
            core: PoolCore::new(host, port, config, max_connections),
            busy: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// TLS settings for the configuration's [`TlsPolicy`](smtp_proto::TlsPolicy).
    pub fn with_tls(mut self, settings: TlsSettings) -> Pool {
        self.core.set_tls(settings);
        self
    }

    /// How long each connection attempt may take; 30 seconds by default.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Pool {
        self.core.set_connect_timeout(timeout);
        self
    }

    /// Connects to these addresses, in order, instead of looking the host
    /// name up; the name stays the TLS name (see
    /// [`ClientBuilder::addresses`](crate::ClientBuilder::addresses)).
    pub fn with_addresses(mut self, addresses: impl IntoIterator<Item = std::net::IpAddr>) -> Pool {
        self.core.set_addresses(addresses.into_iter().collect());
        self
    }

    /// Connections open and waiting for a message.
    pub fn idle_connections(&self) -> usize {
        self.core.idle_connections()
    }

    /// Sends one message over a pooled connection, waiting while
    /// `max_connections` are busy.
    pub fn send(&self, envelope: &Envelope, body: impl Read) -> Result<DeliveryReport, Error> {
        let _permit = self.acquire();
        let mut client = match self.take_idle() {
            Some(client) => client,
            None => self.core.open::<Blocking>()?,
        };
        let result = client.send(envelope, body);
        self.core.put_back(client);
        result
    }

    /// Sends every message over up to `max_connections` connections at
    /// once (one thread each), and returns the outcomes in the order given.
    pub fn send_all(
        &self,
        messages: impl IntoIterator<Item = (Envelope, Vec<u8>), IntoIter: Send>,
    ) -> Vec<Result<DeliveryReport, Error>> {
        let queue = Mutex::new(messages.into_iter().enumerate());
        let outcomes = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..self.core.max_connections() {
                scope.spawn(|| loop {
                    let next = lock(&queue).next();
                    let Some((index, (envelope, body))) = next else {
                        break;
                    };
                    let outcome = self.send(&envelope, &body[..]);
                    lock(&outcomes).push((index, outcome));
                });
            }
        });
        let mut outcomes = outcomes
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        outcomes.sort_by_key(|(index, _)| *index);
        outcomes.into_iter().map(|(_, outcome)| outcome).collect()
    }

    /// Says QUIT on every idle connection.
    pub fn close(&self) {
        for client in self.core.take_idle() {
            let _ = client.quit();
        }
    }

    fn acquire(&self) -> Permit<'_> {
        let mut busy = lock(&self.busy);
        while *busy >= self.core.max_connections() {
            busy = self
                .freed
                .wait(busy)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *busy += 1;
        Permit(self)
    }

    /// An idle connection still usable after reading what arrived while it
    /// waited (a 421, or the server closing).
    fn take_idle(&self) -> Option<Client> {
        loop {
            let mut client = self.core.pop_idle()?;
            client.take_what_arrived();
            if client.is_usable() {
                return Some(client);
            }
        }
    }
}

/// A panic while a lock was held left plain data, still right.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
