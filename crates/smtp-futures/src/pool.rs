//! A pool of client connections to one server, for bulk sending.

use crate::client::Client;
use crate::runtime::Runtime;
use async_lock::Semaphore;
use futures_io::AsyncRead;
use futures_util::stream::{self, StreamExt as _};
use smtp_adapter::{Error, TlsSettings};
use smtp_proto::{ClientConfig, DeliveryReport, Envelope};
use std::fmt;
use std::sync::{Mutex, MutexGuard};
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
    host: String,
    port: u16,
    config: ClientConfig,
    tls: Option<TlsSettings>,
    connect_timeout: Duration,
    max_connections: usize,
    permits: Semaphore,
    idle: Mutex<Vec<Client<R>>>,
}

impl<R: Runtime> fmt::Debug for Pool<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("max_connections", &self.max_connections)
            .field("idle", &self.idle_connections())
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> Pool<R> {
    /// A pool to `host` (a name or an IP address; with TLS also the name
    /// the certificate must carry) on `port`, opening at most
    /// `max_connections` (at least one) connections. Nothing is opened
    /// until the first send.
    pub fn new(host: &str, port: u16, config: ClientConfig, max_connections: usize) -> Pool<R> {
        let max_connections = max_connections.max(1);
        Pool {
            host: host.to_owned(),
            port,
            config,
            tls: None,
            connect_timeout: Duration::from_secs(30),
            max_connections,
            permits: Semaphore::new(max_connections),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// TLS settings for the configuration's [`TlsPolicy`](smtp_proto::TlsPolicy).
    pub fn with_tls(mut self, settings: TlsSettings) -> Pool<R> {
        self.tls = Some(settings);
        self
    }

    /// How long each connection attempt may take; 30 seconds by default.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Pool<R> {
        self.connect_timeout = timeout;
        self
    }

    /// Connections open and waiting for a message.
    pub fn idle_connections(&self) -> usize {
        self.lock().len()
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
            None => self.open().await?,
        };
        let result = client.send(envelope, body).await;
        if client.is_usable() {
            self.lock().push(client);
        }
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
            .buffered(self.max_connections)
            .collect()
            .await
    }

    /// Says QUIT on every idle connection.
    pub async fn close(&self) {
        let idle = std::mem::take(&mut *self.lock());
        for client in idle {
            let _ = client.quit().await;
        }
    }

    async fn open(&self) -> Result<Client<R>, Error> {
        let mut builder =
            Client::<R>::builder(self.config.clone()).connect_timeout(self.connect_timeout);
        if let Some(tls) = &self.tls {
            builder = builder.tls(tls.clone());
        }
        builder.connect(&self.host, self.port).await
    }

    async fn take_idle(&self) -> Option<Client<R>> {
        loop {
            let mut client = self.lock().pop()?;
            client.take_what_arrived().await;
            if client.is_usable() {
                return Some(client);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Client<R>>> {
        // A panic while holding the lock left a plain list, still right.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
