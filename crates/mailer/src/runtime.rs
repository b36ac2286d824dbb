//! The same [`Mailer`] on an async runtime (feature `async`, with `smol`
//! or `async-std` for the runtime itself).

use crate::envelope::envelope;
use crate::{Error, Mailer};
use futures_util::io::AllowStdIo;
use mime_codec::OutgoingMessage;
use smtp_proto::{DeliveryReport, Direction, WireObserver};

/// Passes every byte to a boxed observer.
struct Forward(Box<dyn WireObserver>);

impl WireObserver for Forward {
    fn observe(&mut self, direction: Direction, tls: bool, bytes: &[u8]) {
        self.0.observe(direction, tls, bytes);
    }
}

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
    pub async fn send_on<R: smtp_futures::Runtime>(
        &self,
        message: OutgoingMessage,
    ) -> Result<DeliveryReport, Error> {
        let envelope = envelope(&message)?;
        let body = crate::mailer::message_body(self.signers(), message)?;
        let addresses = self.addresses()?;
        let mut builder = smtp_futures::Client::<R>::builder(self.client_config()?)
            .tls(self.tls_settings().clone())
            .connect_timeout(self.connect_timeout())
            .addresses(addresses);
        if let Some(observer) = self.make_observer() {
            builder = builder.observer(Forward(observer));
        }
        let context = self.context();
        let mut client = builder.connect(&context.host, context.port).await?;
        let result = client.send(&envelope, AllowStdIo::new(body)).await;
        // QUIT after a refusal too; a session that failed said it already.
        let _ = client.quit().await;
        Ok(result?)
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
}
