//! What a server advertises and enforces.

use crate::framing::LineConfig;
use crate::types::{Mechanism, ParseOptions, Reply};
use crate::{BareLineEndingPolicy, UnstufferConfig};
use std::time::Duration;

/// Server behaviour: what it advertises, what it enforces, and its limits.
/// Every limit has the RFC 5321 default; builders change one thing each.
///
/// ```
/// use smtp_proto::ServerConfig;
/// let config = ServerConfig::new("mx.example.com")
///     .with_max_message_size(Some(10 << 20))
///     .with_starttls(true)
///     .with_require_tls(true);
/// assert!(config.pipelining);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The name in the greeting and the EHLO reply.
    pub hostname: String,
    /// Text after `hostname` in the 220 greeting.
    pub banner: String,
    /// Advertise and accept PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// Advertise 8BITMIME.
    pub eight_bit_mime: bool,
    /// Advertise SMTPUTF8 and accept UTF-8 addresses.
    pub smtputf8: bool,
    /// Advertise CHUNKING (BDAT) and BINARYMIME.
    pub chunking: bool,
    /// Advertise DSN.
    pub dsn: bool,
    /// Offer STARTTLS (the adapter must have a certificate).
    pub starttls: bool,
    /// Refuse MAIL and AUTH until TLS is in force (530 5.7.0).
    pub require_tls: bool,
    /// SASL mechanisms to offer (PLAIN, LOGIN, CRAM-MD5 are supported).
    /// Empty: no AUTH.
    pub auth_mechanisms: Vec<Mechanism>,
    /// Allow AUTH mechanisms that expose a password (PLAIN, LOGIN) without
    /// TLS. Off by default: AUTH is then not advertised before STARTTLS and
    /// such an AUTH gets 538 5.7.11.
    pub allow_plaintext_auth: bool,
    /// Refuse MAIL until the client has authenticated (530 5.7.0).
    pub require_auth: bool,
    /// Largest message in octets (advertised as SIZE, enforced on the SIZE
    /// parameter and on the bytes received). `None`: no limit (`SIZE` alone).
    pub max_message_size: Option<u64>,
    /// Most recipients per transaction; past it, 452 4.5.3.
    pub max_recipients: usize,
    /// Error replies allowed before 421 and close.
    pub max_errors: usize,
    /// Command line framing (length cap and bare LF).
    pub command_line: LineConfig,
    /// How DATA is un-stuffed: bare CR/LF policy and text line limit.
    pub data: UnstufferConfig,
    /// Command grammar leniency (SMTPUTF8 follows `smtputf8`).
    pub parse: ParseOptions,
    /// Refuse commands pipelined where RFC 2920 forbids it, or at all when
    /// PIPELINING is not advertised (554 5.5.0, then close).
    pub reject_early_talkers: bool,
    /// Wait this long before the greeting; a client that talks first is an
    /// early talker. `None`: greet at once.
    pub greeting_delay: Option<Duration>,
    /// Close an idle connection after this long (421 4.4.2); RFC 5321 §4.5.3.2.7
    /// asks for at least 5 minutes.
    pub idle_timeout: Duration,
    /// Most unprocessed input held while the application decides.
    pub max_pending_input: usize,
    /// The reply to VRFY.
    pub vrfy_reply: Reply,
}

impl ServerConfig {
    /// Defaults: PIPELINING, 8BITMIME, SMTPUTF8, CHUNKING, DSN and
    /// ENHANCEDSTATUSCODES advertised; no STARTTLS, no AUTH; 100 recipients,
    /// 10 errors, no size limit, 5 minutes idle.
    pub fn new(hostname: &str) -> ServerConfig {
        ServerConfig {
            hostname: hostname.to_owned(),
            banner: "ESMTP mailwire".to_owned(),
            pipelining: true,
            eight_bit_mime: true,
            smtputf8: true,
            chunking: true,
            dsn: true,
            starttls: false,
            require_tls: false,
            auth_mechanisms: Vec::new(),
            allow_plaintext_auth: false,
            require_auth: false,
            max_message_size: None,
            max_recipients: 100,
            max_errors: 10,
            command_line: LineConfig::COMMAND,
            data: UnstufferConfig::default(),
            parse: ParseOptions::strict(),
            reject_early_talkers: true,
            greeting_delay: None,
            idle_timeout: Duration::from_secs(300),
            max_pending_input: 256 * 1024,
            vrfy_reply: super::replies::vrfy_default(),
        }
    }

    /// Sets the size limit.
    pub fn with_max_message_size(mut self, limit: Option<u64>) -> Self {
        self.max_message_size = limit;
        self
    }
    /// Offers STARTTLS.
    pub fn with_starttls(mut self, on: bool) -> Self {
        self.starttls = on;
        self
    }
    /// Requires TLS before MAIL and AUTH.
    pub fn with_require_tls(mut self, on: bool) -> Self {
        self.require_tls = on;
        self
    }
    /// Offers these SASL mechanisms.
    pub fn with_auth(mut self, mechanisms: Vec<Mechanism>) -> Self {
        self.auth_mechanisms = mechanisms;
        self
    }
    /// Allows password mechanisms without TLS.
    pub fn with_plaintext_auth(mut self, on: bool) -> Self {
        self.allow_plaintext_auth = on;
        self
    }
    /// Requires AUTH before MAIL.
    pub fn with_require_auth(mut self, on: bool) -> Self {
        self.require_auth = on;
        self
    }
    /// Sets the recipient limit.
    pub fn with_max_recipients(mut self, n: usize) -> Self {
        self.max_recipients = n;
        self
    }
    /// Sets the error limit.
    pub fn with_max_errors(mut self, n: usize) -> Self {
        self.max_errors = n;
        self
    }
    /// Turns PIPELINING on or off.
    pub fn with_pipelining(mut self, on: bool) -> Self {
        self.pipelining = on;
        self
    }
    /// Turns CHUNKING/BINARYMIME on or off.
    pub fn with_chunking(mut self, on: bool) -> Self {
        self.chunking = on;
        self
    }
    /// Sets the idle timeout.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// Sets the greeting delay (early-talker detection).
    pub fn with_greeting_delay(mut self, delay: Option<Duration>) -> Self {
        self.greeting_delay = delay;
        self
    }
    /// Sets the command grammar leniency.
    pub fn with_parse_options(mut self, options: ParseOptions) -> Self {
        self.parse = options;
        self
    }
    /// Sets the policy for bare LF and bare CR in DATA.
    pub fn with_bare_line_endings(mut self, policy: BareLineEndingPolicy) -> Self {
        self.data.bare_lf = policy;
        self.data.bare_cr = policy;
        self
    }
    /// Turns early-talker and pipelining-violation checks on or off.
    pub fn with_reject_early_talkers(mut self, on: bool) -> Self {
        self.reject_early_talkers = on;
        self
    }
}
