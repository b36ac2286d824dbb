//! A pool's bookkeeping, the same for every adapter: where to connect,
//! with which options, how many connections at most, and the idle
//! connections waiting for a message. The adapter adds only how to wait
//! for a free slot (a condition variable, an async semaphore) and how to
//! send.

use crate::{ClientBuilder, Connect, TlsSettings, DEFAULT_CONNECT_TIMEOUT};
use smtp_proto::ClientConfig;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// What a client connection must tell the pool about itself.
pub trait Pooled {
    /// The connection can take another message.
    fn is_usable(&self) -> bool;
}

/// The server, the connection options and the idle connections of a pool
/// of clients `C`.
pub struct PoolCore<C> {
    host: String,
    port: u16,
    config: ClientConfig,
    tls: Option<TlsSettings>,
    connect_timeout: Duration,
    addresses: Vec<IpAddr>,
    max_connections: usize,
    idle: Mutex<Vec<C>>,
}

impl<C> fmt::Debug for PoolCore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("max_connections", &self.max_connections)
            .field("idle", &self.idle_connections())
            .finish_non_exhaustive()
    }
}

impl<C> PoolCore<C> {
    /// A pool to `host` on `port`, with at most `max_connections` (at least
    /// one) connections and none open yet.
    pub fn new(host: &str, port: u16, config: ClientConfig, max_connections: usize) -> Self {
        PoolCore {
            host: host.to_owned(),
            port,
            config,
            tls: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            addresses: Vec::new(),
            max_connections: max_connections.max(1),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// TLS settings for the connections opened from now on.
    pub fn set_tls(&mut self, settings: TlsSettings) {
        self.tls = Some(settings);
    }

    /// How long each connection attempt may take.
    pub fn set_connect_timeout(&mut self, timeout: Duration) {
        self.connect_timeout = timeout;
    }

    /// The addresses to connect to instead of looking the host name up
    /// (see [`ClientBuilder::addresses`]).
    pub fn set_addresses(&mut self, addresses: Vec<IpAddr>) {
        self.addresses = addresses;
    }

    /// The most connections open and busy at once.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Connections open and waiting for a message.
    pub fn idle_connections(&self) -> usize {
        self.lock().len()
    }

    /// Opens a new connection with the pool's options: `K::connect`'s
    /// output (a client, or a future of one).
    pub fn open<K: Connect>(&self) -> K::Output {
        let mut builder = ClientBuilder::<K>::new(self.config.clone())
            .connect_timeout(self.connect_timeout)
            .addresses(self.addresses.iter().copied());
        if let Some(tls) = &self.tls {
            builder = builder.tls(tls.clone());
        }
        builder.connect(&self.host, self.port)
    }

    /// The most recently used idle connection, if any. The caller reads
    /// what arrived on it while it waited and asks again when it is no
    /// longer usable.
    pub fn pop_idle(&self) -> Option<C> {
        self.lock().pop()
    }

    /// Every idle connection, taken out of the pool (to say QUIT on each).
    pub fn take_idle(&self) -> Vec<C> {
        std::mem::take(&mut *self.lock())
    }

    /// Puts a connection back after a send, when it can take another
    /// message; one that failed mid-way is dropped, never reused.
    pub fn put_back(&self, client: C)
    where
        C: Pooled,
    {
        if client.is_usable() {
            self.lock().push(client);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<C>> {
        // A panic while holding the lock left a plain list, still right.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_proto::Host;

    struct Conn(bool);

    impl Pooled for Conn {
        fn is_usable(&self) -> bool {
            self.0
        }
    }

    #[test]
    fn only_usable_connections_go_back() {
        let config = ClientConfig::new(Host::parse("client.test").unwrap());
        let pool = PoolCore::new("127.0.0.1", 25, config, 0);
        assert_eq!(pool.max_connections(), 1);
        pool.put_back(Conn(false));
        assert_eq!(pool.idle_connections(), 0);
        pool.put_back(Conn(true));
        pool.put_back(Conn(true));
        assert_eq!(pool.idle_connections(), 2);
        assert!(pool.pop_idle().is_some());
        assert_eq!(pool.take_idle().len(), 1);
        assert!(pool.pop_idle().is_none());
    }
}
