//! The message content: DATA dot-stuffing and un-stuffing, and BDAT chunks.
//!
//! With DATA (RFC 5321 §4.5.2) the content travels as lines ended by
//! CR LF `.` CR LF, and a line that starts with `.` gets one more in front.
//! The sender uses a [`DotStuffer`] (or [`dot_stuff`]); the receiver a
//! [`DotUnstuffer`], which ends DATA *only* on CR LF `.` CR LF. Bare CR and
//! bare LF never end DATA nor start a line, whatever
//! [`BareLineEndingPolicy`] is in force, so a message cannot be smuggled past
//! a peer that reads line endings differently.
//!
//! With BDAT (RFC 3030) each chunk is counted instead: [`write_bdat`] on the
//! sending side, [`BdatChunk`] on the receiving side.
//!
//! ```
//! use smtp_proto::data::{dot_stuff, DotUnstuffer, UnstufferConfig};
//!
//! let body = b"Hello\r\n.\r\nStill the same message\r\n";
//! let wire = dot_stuff(body);
//! assert_eq!(wire, b"Hello\r\n..\r\nStill the same message\r\n.\r\n");
//!
//! let mut receiver = DotUnstuffer::new(UnstufferConfig::default());
//! let mut content = Vec::new();
//! assert!(receiver.feed(&wire, &mut content).done);
//! assert_eq!(content, body);
//! ```

mod bdat;
mod stuff;
mod unstuff;

pub use bdat::{write_bdat, BdatChunk};
pub use stuff::{dot_stuff, DotStuffer};
pub use unstuff::{
    BareLineEndingPolicy, DataViolation, DotUnstuffer, UnstuffProgress, UnstufferConfig,
};
