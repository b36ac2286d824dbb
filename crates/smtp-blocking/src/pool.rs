//! A pool of client connections to one server, for sending from many
//! threads at once.

use crate::client::Client;
use crate::{Error, TlsSettings};
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
    host: String,
    port: u16,
    config: ClientConfig,
    tls: Option<TlsSettings>,
    connect_timeout: Duration,
    max_connections: usize,
    /// Connections busy right now (open or being opened).
    busy: Mutex<usize>,
    freed: Condvar,
    idle: Mutex<Vec<Client>>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("max_connections", &self.max_connections)
            .field("idle", &self.idle_connections())
            .finish_non_exhaustive()
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
            host: host.to_owned(),
            port,
            config,
            tls: None,
            connect_timeout: Duration::from_secs(30),
            max_connections: max_connections.max(1),
            busy: Mutex::new(0),
            freed: Condvar::new(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// TLS settings for the configuration's [`TlsPolicy`](smtp_proto::TlsPolicy).
    pub fn with_tls(mut self, settings: TlsSettings) -> Pool {
        self.tls = Some(settings);
        self
    }

    /// How long each connection attempt may take; 30 seconds by default.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Pool {
        self.connect_timeout = timeout;
        self
    }

    /// Connections open and waiting for a message.
    pub fn idle_connections(&self) -> usize {
        lock(&self.idle).len()
    }

    /// Sends one message over a pooled connection, waiting while
    /// `max_connections` are busy.
    pub fn send(&self, envelope: &Envelope, body: impl Read) -> Result<DeliveryReport, Error> {
        let _permit = self.acquire();
        let mut client = match self.take_idle() {
            Some(client) => client,
            None => self.open()?,
        };
        let result = client.send(envelope, body);
        if client.is_usable() {
            lock(&self.idle).push(client);
        }
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
            for _ in 0..self.max_connections {
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
        let idle = std::mem::take(&mut *lock(&self.idle));
        for client in idle {
            let _ = client.quit();
        }
    }

    fn acquire(&self) -> Permit<'_> {
        let mut busy = lock(&self.busy);
        while *busy >= self.max_connections {
            busy = self
                .freed
                .wait(busy)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *busy += 1;
        Permit(self)
    }

    fn open(&self) -> Result<Client, Error> {
        let mut builder =
            Client::builder(self.config.clone()).connect_timeout(self.connect_timeout);
        if let Some(tls) = &self.tls {
            builder = builder.tls(tls.clone());
        }
        builder.connect(&self.host, self.port)
    }

    /// An idle connection still usable after reading what arrived while it
    /// waited (a 421, or the server closing).
    fn take_idle(&self) -> Option<Client> {
        loop {
            let mut client = lock(&self.idle).pop()?;
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
