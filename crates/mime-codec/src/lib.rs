//! Build and parse MIME messages (RFC 5322, 2045–2049, 2047, 2231), with no I/O.
//!
//! * [`MessageBuilder`] lays out headers, text and HTML bodies, inline images and attachments,
//!   picks a transfer encoding per part, and yields an [`OutgoingMessage`]: its SMTP
//!   [`Envelope`], its size, whether it needs 8BITMIME or SMTPUTF8, and its bytes as a stream of
//!   chunks so that a large attachment is never held whole.
//! * [`Message::parse`] reads a message into a tree of [`Part`]s borrowed from the input, with
//!   helpers for the text and HTML bodies, attachments and inline parts. It never panics.
//!
//! The crate reads no clock and no randomness: the caller passes the [`DateTime`] and the
//! entropy for the Message-ID. See `docs/mime-codec.md` for a guide.
//!
//! ```
//! use mime_codec::{Mailbox, Message, MessageBuilder};
//! let bytes = MessageBuilder::new()
//!     .from(Mailbox::new("Ann", "ann@example.com")?)
//!     .to(Mailbox::address_only("bob@example.com")?)
//!     .subject("Grüße")
//!     .text_body("Hallo!")
//!     .build()?
//!     .to_vec();
//! let parsed = Message::parse(&bytes);
//! assert_eq!(parsed.subject().as_deref(), Some("Grüße"));
//! assert_eq!(parsed.text_body().unwrap().text, "Hallo!");
//! # Ok::<(), mime_codec::BuildError>(())
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod address;
pub mod base64;
mod builder;
pub mod charset;
mod content_type;
mod date;
mod defect;
mod envelope_address;
mod error;
mod fold;
mod header;
mod media_type;
mod message;
mod multipart;
mod output;
pub mod qp;
pub mod rfc2047;
pub mod rfc2231;
pub mod structure;
mod transfer;

pub use address::{parse_address_list, Address, Mailbox};
pub use builder::{Attachment, MessageBuilder, RawPart};
pub use charset::{CharsetStatus, DecodedText};
pub use content_type::{ContentDisposition, ContentType, TransferEncoding};
pub use date::{rfc3339_utc, DateTime};
pub use defect::Defect;
pub use envelope_address::{EnvelopeAddress, EnvelopeDomain};
pub use error::BuildError;
pub use header::Header;
pub use media_type::guess_content_type;
pub use message::{Body, LeafParts, Message, ParseLimits, Part};
pub use output::{Chunks, Envelope, OutgoingMessage};

#[cfg(doctest)]
#[doc = include_str!("../../../docs/mime-codec.md")]
struct GuideExamples;
