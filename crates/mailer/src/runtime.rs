//! The same [`Mailer`] on an async runtime (feature `async`, with `smol`
//! or `async-std` for the runtime itself): one message, a session of
//! several over one connection, and a pool shared by concurrent tasks.

use crate::envelope::envelope;
use crate::greeting::{self, Heard, SILENCE};
use crate::mailer::{message_body, Signers};
use crate::provider::Security;
use crate::{Error, Mailer};
use futures_util::future::{select, Either};
use futures_util::io::AllowStdIo;
use futures_util::AsyncRead;
use mime_codec::OutgoingMessage;
use smtp_futures::{Client, Runtime};
use smtp_proto::{DeliveryReport, Envelope};
use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

impl Mailer {
    /// [`send`](Mailer::send) on the async runtime `R` (`mailer::Smol`
    /// with the `smol` feature, `mailer::AsyncStd` with `async-std`). The
    /// message is encoded as it is read; a
    /// [`FileAttachments`](crate::FileAttachments) file would be read on
    /// the executor's thread, so send those with [`send`](Mailer::send) on
    /// a blocking thread instead. The same holds for DKIM signing
    /// ([`dkim`](crate::MailerBuilder::dkim)): the message is spooled to and
    /// hashed from a temporary file on the executor's thread before the
    /// connection opens.
    pub async fn send_on<R: Runtime>(
        &self,
        message: OutgoingMessage,
    ) -> Result<DeliveryReport, Error> {
        let mut session = self.session_on::<R>().await?;
        let result = session.send(message).await;
        // QUIT after a refusal too; a session that failed said it already.
        session.quit().await;
        result
    }

    /// Opens a connection on `R` for several messages in a row: the async
    /// form of [`session`](Mailer::session).
    pub async fn session_on<R: Runtime>(&self) -> Result<AsyncSession<R>, Error> {
        Ok(AsyncSession {
            client: Some(self.connect_on::<R>().await?),
            signers: self.signers().clone(),
        })
    }

    /// Opens a connection on `R`, set up (greeting, EHLO, TLS and login as
    /// configured): the async form of [`connect`](Mailer::connect).
    ///
    /// As there, a server that stays silent for two seconds on a connection
    /// meant to start in plaintext has its port looked into: when it
    /// speaks TLS from the first byte, the error is
    /// [`Error::ImplicitTlsPort`] at once instead of a greeting timeout.
    pub async fn connect_on<R: Runtime>(&self) -> Result<Client<R>, Error> {
        let addresses = self.addresses()?;
        let heard = Arc::new(AtomicBool::new(false));
        let context = self.context();
        let mut connecting = Client::<R>::builder(self.client_config()?)
            .tls(self.tls_settings().clone())
            .connect_timeout(self.connect_timeout())
            .addresses(addresses.iter().copied())
            .observer(Heard::new(&heard, self.make_observer()))
            .connect(&context.host, context.port);
        if context.security == Security::Tls {
            return Ok(connecting.await?);
        }
        let silence = pin!(R::sleep_until(Instant::now() + SILENCE));
        if let Either::Left((result, _)) = select(&mut connecting, silence).await {
            return Ok(result?);
        }
        if heard.load(Ordering::SeqCst) {
            return Ok(connecting.await?);
        }
        // The connection goes on while a second one looks into the port.
        let look = pin!(speaks_implicit_tls::<R>(self, &addresses));
        match select(&mut connecting, look).await {
            Either::Left((result, _)) => Ok(result?),
            Either::Right((true, _)) => Err(Error::ImplicitTlsPort {
                address: context.address(),
            }),
            Either::Right((false, _)) => Ok(connecting.await?),
        }
    }

    /// A pool on `R` of at most `max_connections` connections shared by
    /// concurrent tasks: the async form of [`pool`](Mailer::pool).
    /// Credentials are resolved now (an OAuth2 token is fetched once), and
    /// so is the server's name with a [`resolver`](crate::MailerBuilder::resolver).
    pub fn pool_on<R: Runtime>(&self, max_connections: usize) -> Result<AsyncPool<R>, Error> {
        let config = self.client_config()?;
        let addresses = self.addresses()?;
        let context = self.context();
        let pool =
            smtp_futures::Pool::<R>::new(&context.host, context.port, config, max_connections)
                .with_tls(self.tls_settings().clone())
                .with_connect_timeout(self.connect_timeout())
                .with_addresses(addresses);
        Ok(AsyncPool {
            pool,
            signers: self.signers().clone(),
        })
    }

    /// [`send_on`](Mailer::send_on) on smol.
    ///
    /// ```
    /// use mailer::LocalSink;
    /// use mime_codec::{Mailbox, MessageBuilder};
    ///
    /// let sink = LocalSink::start()?;
    /// let mailer = sink.mailer().build()?;
    /// let message = MessageBuilder::new()
    ///     .from(Mailbox::address_only("app@example.com")?)
    ///     .to(Mailbox::address_only("ops@example.com")?)
    ///     .text_body("from smol")
    ///     .build()?;
    /// let report = smol::block_on(mailer.send_async(message))?;
    /// assert_eq!(report.recipients.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "smol")]
    pub async fn send_async(&self, message: OutgoingMessage) -> Result<DeliveryReport, Error> {
        self.send_on::<smtp_smol::Smol>(message).await
    }

    /// [`session_on`](Mailer::session_on) on smol.
    ///
    /// ```
    /// use mailer::LocalSink;
    /// use mime_codec::{Mailbox, MessageBuilder};
    ///
    /// let sink = LocalSink::start()?;
    /// let mailer = sink.mailer().build()?;
    /// smol::block_on(async {
    ///     let mut session = mailer.session_async().await?;
    ///     for i in 0..3 {
    ///         let message = MessageBuilder::new()
    ///             .from(Mailbox::address_only("app@example.com")?)
    ///             .to(Mailbox::address_only("ops@example.com")?)
    ///             .subject(format!("report {i}"))
    ///             .text_body("ok")
    ///             .build()?;
    ///         session.send(message).await?;
    ///     }
    ///     session.quit().await;
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "smol")]
    pub async fn session_async(&self) -> Result<AsyncSession<smtp_smol::Smol>, Error> {
        self.session_on::<smtp_smol::Smol>().await
    }

    /// [`pool_on`](Mailer::pool_on) on smol.
    ///
    /// ```
    /// use mailer::LocalSink;
    /// use mime_codec::{Mailbox, MessageBuilder};
    ///
    /// let sink = LocalSink::start()?;
    /// let pool = sink.mailer().build()?.pool_async(4)?;
    /// let reports = smol::block_on(futures_util::future::join_all((0..8).map(|i| {
    ///     let message = MessageBuilder::new()
    ///         .from(Mailbox::address_only("app@example.com").unwrap())
    ///         .to(Mailbox::address_only("ops@example.com").unwrap())
    ///         .subject(format!("report {i}"))
    ///         .text_body("ok")
    ///         .build()
    ///         .unwrap();
    ///     pool.send(message)
    /// })));
    /// assert!(reports.iter().all(Result::is_ok));
    /// smol::block_on(pool.close());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "smol")]
    pub fn pool_async(&self, max_connections: usize) -> Result<AsyncPool<smtp_smol::Smol>, Error> {
        self.pool_on::<smtp_smol::Smol>(max_connections)
    }
}

/// A TLS handshake on a second connection succeeds (see
/// [`Mailer::connect_on`]).
async fn speaks_implicit_tls<R: Runtime>(mailer: &Mailer, addresses: &[std::net::IpAddr]) -> bool {
    let Some(config) = greeting::look_config() else {
        return false;
    };
    let context = mailer.context();
    let result = Client::<R>::builder(config)
        .tls(greeting::look_tls())
        .connect_timeout(greeting::LOOK_CONNECT)
        .addresses(addresses.iter().copied())
        .connect(&context.host, context.port)
        .await;
    let passed = greeting::handshake_passed(&result);
    if let Ok(client) = result {
        let _ = client.quit().await;
    }
    passed
}

/// One connection on the runtime `R` for several messages: see
/// [`Mailer::session_on`]. Say [`quit`](Self::quit) when done; a session
/// dropped without it says QUIT from a task spawned on `R`.
pub struct AsyncSession<R: Runtime> {
    client: Option<Client<R>>,
    signers: Signers,
}

impl<R: Runtime> fmt::Debug for AsyncSession<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncSession")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> AsyncSession<R> {
    /// Sends one message over this connection.
    pub async fn send(&mut self, message: OutgoingMessage) -> Result<DeliveryReport, Error> {
        let envelope = envelope(&message)?;
        let body = message_body(&self.signers, message)?;
        self.send_body(&envelope, AllowStdIo::new(body)).await
    }

    /// Sends a body already encoded (any `AsyncRead`) with `envelope`.
    pub async fn send_body(
        &mut self,
        envelope: &Envelope,
        body: impl AsyncRead + Unpin,
    ) -> Result<DeliveryReport, Error> {
        let Some(client) = self.client.as_mut() else {
            return Err(Error::Settings("the session is closed".into()));
        };
        Ok(client.send(envelope, body).await?)
    }

    /// The connection's client (capabilities, TLS details).
    pub fn client(&self) -> Option<&Client<R>> {
        self.client.as_ref()
    }

    /// Says QUIT and closes (waiting for the reply, bounded by the QUIT
    /// timeout).
    pub async fn quit(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.quit().await;
        }
    }
}

impl<R: Runtime> Drop for AsyncSession<R> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            R::spawn(async move {
                let _ = client.quit().await;
            });
        }
    }
}

/// Connections on the runtime `R` shared by concurrent tasks: see
/// [`Mailer::pool_on`]. Share it by reference (it is `Sync`) or in an
/// `Arc`.
pub struct AsyncPool<R: Runtime> {
    pool: smtp_futures::Pool<R>,
    signers: Signers,
}

impl<R: Runtime> fmt::Debug for AsyncPool<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncPool")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> AsyncPool<R> {
    /// Sends `message` over a pooled connection, waiting while every
    /// connection is busy.
    pub async fn send(&self, message: OutgoingMessage) -> Result<DeliveryReport, Error> {
        let envelope = envelope(&message)?;
        let body = message_body(&self.signers, message)?;
        self.send_body(&envelope, AllowStdIo::new(body)).await
    }

    /// Sends a body already encoded (any `AsyncRead`) with `envelope`.
    pub async fn send_body(
        &self,
        envelope: &Envelope,
        body: impl AsyncRead + Unpin,
    ) -> Result<DeliveryReport, Error> {
        Ok(self.pool.send(envelope, body).await?)
    }

    /// Connections open and waiting for a message.
    pub fn idle_connections(&self) -> usize {
        self.pool.idle_connections()
    }

    /// Says QUIT on every idle connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
