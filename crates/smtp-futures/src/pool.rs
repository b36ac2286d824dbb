//! A pool of client connections to one server, for bulk sending.

use crate::client::{Client, Connector};
use crate::runtime::Runtime;
use async_lock::Semaphore;
use futures_io::AsyncRead;
use futures_util::stream::{self, StreamExt as _};
use smtp_adapter::{Error, PoolCore, TlsSettings};
use smtp_proto::{ClientConfig, DeliveryReport, Envelope};
use std::fmt;
use std::time::Duration;

/// Connections to one server, reused across messages, at most
/// `max_connections` open and busy at once.
///
/// [`send`](Self::send) takes an idle connection (or opens one), sends, and
/// puts the connection back when it is still usable; a connection whose
/// send failed, or whose send future was dropped half-way, is discarded, so
/// a cancelled send never leaves a half-written command on a connection
/// another message reuses. [`send_all`](Self::send_all) sends many messages
/// over up to `max_connections` connections at once.
pub struct Pool<R: Runtime> {
    core: PoolCore<Client<R>>,
    permits: Semaphore,
}

impl<R: Runtime> fmt::Debug for Pool<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt(f)
    }
}

impl<R: Runtime> Pool<R> {
    /// A pool to `host` (a name or an IP address; with TLS also the name
    /// the certificate must carry) on `port`, opening at most
    /// `max_connections` (at least one) connections. Nothing is opened
    /// until the first send.
    pub fn new(host: &str, port: u16, config: ClientConfig, max_connections: usize) -> Pool<R> {
        let core = PoolCore::new(host, port, config, max_connections);
        let permits = Semaphore::new(core.max_connections());
        Pool { core, permits }
    }

    /// TLS settings for the configuration's [`TlsPolicy`](smtp_proto::TlsPolicy).
    pub fn with_tls(mut self, settings: TlsSettings) -> Pool<R> {
        self.core.set_tls(settings);
        self
    }

    /// How long each connection attempt may take; 30 seconds by default.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Pool<R> {
        self.core.set_connect_timeout(timeout);
        self
    }

    /// Connects to these addresses, in order, instead of looking the host
    /// name up; the name stays the TLS name (see
    /// [`ClientBuilder::addresses`](crate::ClientBuilder::addresses)).
    pub fn with_addresses(
        mut self,
        addresses: impl IntoIterator<Item = std::net::IpAddr>,
    ) -> Pool<R> {
        self.core.set_addresses(addresses.into_iter().collect());
        self
    }

    /// Connections open and waiting for a message.
    pub fn idle_connections(&self) -> usize {
        self.core.idle_connections()
    }

    /// Sends one message over a pooled connection (waiting for one while
    /// `max_connections` are busy). An idle connection the server has
    /// closed meanwhile is noticed before it is used, and replaced.
    pub async fn send(
        &self,
        envelope: &Envelope,
        body: impl AsyncRead + Unpin,
    ) -> Result<DeliveryReport, Error> {
        let _permit = self.permits.acquire().await;
        let mut client = match self.take_idle().await {
            Some(client) => client,
            None => self.core.open::<Connector<R>>().await?,
        };
        let result = client.send(envelope, body).await;
        self.core.put_back(client);
        result
    }

    /// Sends every message, up to `max_connections` at once, and returns
    /// the outcomes in the order given.
    pub async fn send_all(
        &self,
        messages: impl IntoIterator<Item = (Envelope, Vec<u8>)>,
    ) -> Vec<Result<DeliveryReport, Error>> {
        stream::iter(messages)
            .map(|(envelope, body)| async move { self.send(&envelope, &body[..]).await })
            .buffered(self.core.max_connections())
            .collect()
            .await
    }

    /// Says QUIT on every idle connection.
    pub async fn close(&self) {
        for client in self.core.take_idle() {
            let _ = client.quit().await;
        }
    }

    /// An idle connection still usable after reading what arrived while it
    /// waited (a 421, or the server closing).
    async fn take_idle(&self) -> Option<Client<R>> {
        loop {
            let mut client = self.core.pop_idle()?;
            client.take_what_arrived().await;
            if client.is_usable() {
                return Some(client);
            }
        }
    }
}
