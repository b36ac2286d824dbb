#![doc = include_str!("../../../docs/mailer.md")]
// No input may reach a panic: enforced outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

#[cfg(feature = "dkim")]
pub mod dkim;
mod envelope;
mod explain;
mod greeting;
mod mailer;
mod provider;
#[cfg(feature = "async")]
mod runtime;
mod sink;
mod stream;

pub use envelope::{ascii_domain, envelope, envelope_commands, envelope_mailbox, mailbox};
pub use explain::{reply_code, Context, Error, ErrorKind, Words};
pub use mailer::{
    Credentials, HostResolver, Mailer, MailerBuilder, MailerPool, Session, TokenProvider,
    DEFAULT_TIMEOUT,
};
pub use provider::{Provider, ProviderSettings, Security};
#[cfg(feature = "async")]
pub use runtime::{AsyncPool, AsyncSession};
pub use sink::LocalSink;
/// The async-std runtime, for [`Mailer::send_on`].
#[cfg(feature = "async-std")]
pub use smtp_async_std::AsyncStd;
pub use smtp_blocking::TlsSettings;
pub use smtp_proto::{DeliveryReport, RecipientStatus};
/// The smol runtime, for [`Mailer::send_on`].
#[cfg(feature = "smol")]
pub use smtp_smol::Smol;
pub use stream::{FileAttachments, MessageReader};
