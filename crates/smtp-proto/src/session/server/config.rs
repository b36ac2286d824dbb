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
    /// Most unprocessed input held while the application decides (or while
    /// a failed AUTH's reply is held back).
    pub max_pending_input: usize,
    /// The reply to VRFY.
    pub vrfy_reply: Reply,
    /// A command line (or SASL response line) must be complete this long
    /// after its first byte arrived, else 421 4.4.2 and close. The idle timer
    /// restarts on every byte, so without this a client sending one byte a
    /// second would hold the connection forever. `None`: no bound.
    pub command_timeout: Option<Duration>,
    /// The longest a session may last, whatever it does (a client sending
    /// NOOP every four minutes, or a body at the rate floor), else 421 4.4.2
    /// and close. `None`: no bound.
    pub session_lifetime: Option<Duration>,
    /// The slowest a message body (DATA or BDAT) may arrive: each window of
    /// `per` from the body's start must bring at least `octets`, else
    /// 421 4.4.2 and close. `None`: no floor.
    pub min_body_rate: Option<MinimumRate>,
    /// Failed AUTH attempts (a 5yz answer to an AUTH decision, a cancelled
    /// or malformed exchange) allowed before 421 4.7.0 and close. Each also
    /// counts toward `max_errors`. `None`: no bound.
    pub max_auth_failures: Option<usize>,
    /// How long the reply to the first failed AUTH is held back; it doubles
    /// with each further failure, up to [`MAX_AUTH_FAILURE_DELAY`]. While a
    /// reply is held, input is buffered (up to `max_pending_input`), not
    /// read. Zero: no delay.
    pub auth_failure_delay: Duration,
    /// Octets of refused message content read and dropped so that the
    /// client reads the refusal in step: the rest of a refused BDAT chunk
    /// (refused at once, from its declared size), or DATA content after it
    /// passed `max_message_size` or broke the line-ending rules. Past this
    /// the session replies and closes (421 4.7.0) instead of waiting for the
    /// rest.
    pub max_discard: u64,
}

/// The longest a failed AUTH's reply is held back, however many failures
/// came before (with no `max_auth_failures` the doubling would otherwise
/// grow without bound).
pub const MAX_AUTH_FAILURE_DELAY: Duration = Duration::from_secs(60);

/// A floor on how fast data must arrive: at least `octets` in each `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinimumRate {
    /// Octets that must arrive in each window.
    pub octets: u64,
    /// The window.
    pub per: Duration,
}

impl MinimumRate {
    /// At least `octets` in each `per`.
    pub fn new(octets: u64, per: Duration) -> MinimumRate {
        MinimumRate { octets, per }
    }
}

impl ServerConfig {
    /// Defaults: PIPELINING, 8BITMIME, SMTPUTF8, CHUNKING, DSN and
    /// ENHANCEDSTATUSCODES advertised; no STARTTLS, no AUTH; 100 recipients,
    /// 10 errors, no size limit, 5 minutes idle.
    ///
    /// Bounds against slow or hostile clients, and why these values:
    /// - `command_timeout` 60 s: an honest client sends a command line (at
    ///   most 512 octets) in one segment; a minute covers a stalled TCP
    ///   retransmission and a person typing in telnet, while a client
    ///   trickling a byte a second is closed after a minute, not after
    ///   512 × 5 minutes.
    /// - `session_lifetime` 1 hour: enough for a relay to hand over a long
    ///   queue on one connection, or for a 25 MB message at 60 kbit/s; a
    ///   client that needs longer gets a transient 421 and reconnects.
    /// - `min_body_rate` 1024 octets per 60 s: 17 octets a second is far
    ///   below any real link, even a congested one, yet a body trickled a
    ///   byte a second is closed within a minute.
    /// - `max_auth_failures` 3 and `auth_failure_delay` 2 s (then 4 s, 8 s):
    ///   a user who mistypes a password retries at once; a guesser gets three
    ///   guesses per connection, about one every 5 seconds, and the
    ///   [`AuthFailed`](super::ServerEvent::AuthFailed) event lets the
    ///   application throttle the address across connections.
    /// - `max_discard` 1 MiB: lets a client whose message is slightly too
    ///   big read a clean 552 and bounce the message (rather than retrying a
    ///   dropped connection forever), without reading a gigabyte for it.
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
            command_timeout: Some(Duration::from_secs(60)),
            session_lifetime: Some(Duration::from_secs(3600)),
            min_body_rate: Some(MinimumRate::new(1024, Duration::from_secs(60))),
            max_auth_failures: Some(3),
            auth_failure_delay: Duration::from_secs(2),
            max_discard: 1 << 20,
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
    /// Sets how long a command line may take from its first byte.
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = Some(timeout);
        self
    }
    /// No bound on how long a command line may take (the idle timer still
    /// runs between bytes).
    pub fn without_command_timeout(mut self) -> Self {
        self.command_timeout = None;
        self
    }
    /// Sets the longest a session may last.
    pub fn with_session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = Some(lifetime);
        self
    }
    /// No bound on how long a session may last.
    pub fn without_session_lifetime(mut self) -> Self {
        self.session_lifetime = None;
        self
    }
    /// Sets the slowest a message body may arrive.
    pub fn with_min_body_rate(mut self, rate: MinimumRate) -> Self {
        self.min_body_rate = Some(rate);
        self
    }
    /// No floor on how fast a message body must arrive (the idle timer still
    /// runs between bytes).
    pub fn without_min_body_rate(mut self) -> Self {
        self.min_body_rate = None;
        self
    }
    /// Sets how many failed AUTH attempts close the session.
    pub fn with_max_auth_failures(mut self, n: usize) -> Self {
        self.max_auth_failures = Some(n);
        self
    }
    /// No bound on failed AUTH attempts (each still counts as an error and
    /// is still delayed).
    pub fn without_max_auth_failures(mut self) -> Self {
        self.max_auth_failures = None;
        self
    }
    /// Sets the delay before the reply to the first failed AUTH.
    pub fn with_auth_failure_delay(mut self, delay: Duration) -> Self {
        self.auth_failure_delay = delay;
        self
    }
    /// Sets how much refused content is read and dropped before closing.
    pub fn with_max_discard(mut self, octets: u64) -> Self {
        self.max_discard = octets;
        self
    }
}
