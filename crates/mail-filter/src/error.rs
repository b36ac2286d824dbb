//! Why a filter could not decide.

use std::io;
use std::time::Duration;

/// Why a filter gave no verdict (the chain applies its failure policy), or
/// why a filter could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The scanner could not be reached.
    #[error("{scanner}: cannot connect to {address}: {source}")]
    Connect {
        /// The filter's name.
        scanner: String,
        /// Where it was asked.
        address: String,
        /// The socket's error.
        source: io::Error,
    },
    /// The exchange did not finish before the deadline.
    #[error("{scanner}: no answer within {after:?}")]
    Timeout {
        /// The filter's name.
        scanner: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// Reading the message or talking to the scanner failed.
    #[error("{scanner}: {source}")]
    Io {
        /// The filter's name.
        scanner: String,
        /// The error.
        source: io::Error,
    },
    /// The scanner's reply is longer than the filter reads.
    #[error("{scanner}: the reply is longer than {limit} bytes")]
    ReplyTooLarge {
        /// The filter's name.
        scanner: String,
        /// The bound.
        limit: usize,
    },
    /// The scanner's reply could not be understood.
    #[error("{scanner}: unexpected reply: {detail}")]
    Protocol {
        /// The filter's name.
        scanner: String,
        /// What was wrong.
        detail: String,
    },
    /// The scanner answered with an error of its own.
    #[error("{scanner}: the scanner failed: {message}")]
    Scanner {
        /// The filter's name.
        scanner: String,
        /// Its message.
        message: String,
    },
    /// The message is larger than the scanner is allowed to receive.
    #[error("{scanner}: the message ({size} bytes) is larger than {limit} bytes")]
    TooLarge {
        /// The filter's name.
        scanner: String,
        /// The message's size.
        size: u64,
        /// The configured bound.
        limit: u64,
    },
    /// The configuration is invalid (a bad pattern, address or header name).
    #[error("invalid filter configuration: {0}")]
    Config(String),
}

impl FilterError {
    /// A short label for metrics and the failure header: `connect`,
    /// `timeout`, `io`, `reply-too-large`, `protocol`, `scanner`,
    /// `too-large`, `config`.
    pub fn kind(&self) -> &'static str {
        match self {
            FilterError::Connect { .. } => "connect",
            FilterError::Timeout { .. } => "timeout",
            FilterError::Io { .. } => "io",
            FilterError::ReplyTooLarge { .. } => "reply-too-large",
            FilterError::Protocol { .. } => "protocol",
            FilterError::Scanner { .. } => "scanner",
            FilterError::TooLarge { .. } => "too-large",
            FilterError::Config(_) => "config",
        }
    }
}
