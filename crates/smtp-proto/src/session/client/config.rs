//! What a client session is told before it connects: its name, TLS policy,
//! credentials, switches and timeouts.

use crate::sasl::ClientCredentials;
use crate::types::Host;
use std::time::Duration;

/// When the client uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsPolicy {
    /// Never: plaintext only (local sinks, tests).
    None,
    /// STARTTLS when the server offers it, plaintext otherwise (or when the
    /// server refuses it). Open to downgrade by an active attacker.
    Opportunistic,
    /// STARTTLS or fail: the session ends with
    /// [`ClientError::StartTlsUnavailable`](super::ClientError::StartTlsUnavailable)
    /// when the server does not offer it. The right choice for port 587.
    #[default]
    Required,
    /// TLS from the first byte (port 465): the adapter handshakes before the
    /// greeting and calls `tls_established` before feeding any byte.
    Implicit,
}

/// How long the client waits for each reply (RFC 5321 §4.5.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// The 220 greeting.
    pub greeting: Duration,
    /// The reply to EHLO or HELO.
    pub ehlo: Duration,
    /// The reply to STARTTLS, then the handshake.
    pub starttls: Duration,
    /// Each reply of an AUTH exchange.
    pub auth: Duration,
    /// The reply to MAIL (and to RSET).
    pub mail: Duration,
    /// Each reply to RCPT.
    pub rcpt: Duration,
    /// The reply to DATA.
    pub data_init: Duration,
    /// The reply to a BDAT chunk other than the last.
    pub data_block: Duration,
    /// The reply to the end of data (`.` or `BDAT ... LAST`).
    pub data_end: Duration,
    /// The reply to QUIT.
    pub quit: Duration,
}

impl Default for ClientTimeouts {
    /// The RFC 5321 §4.5.3.2 values (STARTTLS, AUTH and QUIT have none there:
    /// 2, 5 and 1 minutes).
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(m * 60);
        ClientTimeouts {
            greeting: min(5),
            ehlo: min(5),
            starttls: min(2),
            auth: min(5),
            mail: min(5),
            rcpt: min(5),
            data_init: min(2),
            data_block: min(3),
            data_end: min(10),
            quit: min(1),
        }
    }
}

/// How a [`ClientSession`](super::ClientSession) behaves.
///
/// ```
/// use smtp_proto::session::{ClientConfig, TlsPolicy};
/// use smtp_proto::Host;
///
/// let config = ClientConfig::new(Host::parse("client.example.org").unwrap())
///     .with_tls(TlsPolicy::Opportunistic)
///     .with_pipelining(false);
/// assert!(!config.allow_plaintext_auth);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The name sent with EHLO / HELO.
    pub helo_name: Host,
    /// When to use TLS.
    pub tls: TlsPolicy,
    /// Credentials for AUTH; `None` skips AUTH.
    pub credentials: Option<ClientCredentials>,
    /// Let a mechanism that shows the password (PLAIN, LOGIN, XOAUTH2) run
    /// over a plaintext connection. Off by default.
    pub allow_plaintext_auth: bool,
    /// Group commands when the server offers PIPELINING (RFC 2920).
    pub use_pipelining: bool,
    /// Send bodies with BDAT when the server offers CHUNKING and PIPELINING
    /// (RFC 3030). Without PIPELINING every chunk would wait for its reply,
    /// so bodies go with DATA, streamed, unless BINARYMIME needs BDAT (the
    /// body is then held and sent as one chunk).
    pub use_chunking: bool,
    /// Reply timeouts.
    pub timeouts: ClientTimeouts,
    /// Longest reply accepted, in lines.
    pub max_reply_lines: usize,
}

impl ClientConfig {
    /// Defaults: [`TlsPolicy::Required`], no credentials, pipelining and
    /// chunking on, RFC timeouts, replies up to 256 lines.
    pub fn new(helo_name: Host) -> ClientConfig {
        ClientConfig {
            helo_name,
            tls: TlsPolicy::default(),
            credentials: None,
            allow_plaintext_auth: false,
            use_pipelining: true,
            use_chunking: true,
            timeouts: ClientTimeouts::default(),
            max_reply_lines: crate::ReplyParser::DEFAULT_MAX_LINES,
        }
    }

    /// Sets the TLS policy.
    pub fn with_tls(mut self, tls: TlsPolicy) -> ClientConfig {
        self.tls = tls;
        self
    }

    /// Sets the AUTH credentials.
    pub fn with_credentials(mut self, credentials: ClientCredentials) -> ClientConfig {
        self.credentials = Some(credentials);
        self
    }

    /// Allows (or forbids) AUTH that shows a secret over plaintext.
    pub fn with_plaintext_auth(mut self, allow: bool) -> ClientConfig {
        self.allow_plaintext_auth = allow;
        self
    }

    /// Uses PIPELINING when offered (or never).
    pub fn with_pipelining(mut self, on: bool) -> ClientConfig {
        self.use_pipelining = on;
        self
    }

    /// Uses CHUNKING when offered (or never).
    pub fn with_chunking(mut self, on: bool) -> ClientConfig {
        self.use_chunking = on;
        self
    }

    /// Sets the timeouts.
    pub fn with_timeouts(mut self, timeouts: ClientTimeouts) -> ClientConfig {
        self.timeouts = timeouts;
        self
    }

    /// Sets the longest reply accepted, in lines.
    pub fn with_max_reply_lines(mut self, lines: usize) -> ClientConfig {
        self.max_reply_lines = lines;
        self
    }
}
