//! What an IMAP server offers and the limits it enforces.

use std::time::Duration;

/// Server behaviour and limits. Every field has a documented default.
///
/// ```
/// use imap_proto::ImapConfig;
/// let config = ImapConfig::new("imap.example.com").with_starttls(true);
/// assert!(!config.allow_plaintext_auth);
/// assert_eq!(config.max_auth_failures, 3);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImapConfig {
    /// The name in the greeting.
    pub hostname: String,
    /// Offer STARTTLS (the adapter must have a certificate). Default: off.
    pub starttls: bool,
    /// Accept LOGIN and AUTHENTICATE PLAIN without TLS. Default: off —
    /// before TLS, LOGINDISABLED is advertised and both are refused.
    pub allow_plaintext_auth: bool,
    /// Longest command line (one line between literals), CRLF included.
    /// Default: 64 KiB.
    pub max_line: usize,
    /// Largest literal (an APPENDed message, say). A larger synchronizing
    /// literal is refused with `NO [TOOBIG]` before the client sends it; a
    /// larger non-synchronizing one ends the session. Default: 32 MiB.
    pub max_literal: u32,
    /// `BAD` responses before `BYE`. Default: 10.
    pub max_errors: usize,
    /// Refused logins before `BYE`. Default: 3.
    pub max_auth_failures: usize,
    /// How long the `NO` for a refused login is held back. Default: 2 s.
    pub auth_failure_delay: Duration,
    /// Autologout after this long without a command, in IDLE too
    /// (RFC 3501 §5.4 asks for at least 30 minutes). Default: 30 minutes.
    pub idle_timeout: Duration,
    /// How often the selected folder is checked for changes during IDLE.
    /// Default: 2 seconds.
    pub idle_poll: Duration,
    /// Most input held back while a login is decided or a refusal is
    /// delayed; past it `* BYE` and close. Default: 64 KiB.
    pub max_pending_input: usize,
    /// A FETCH answer is produced in steps of about this many octets (at
    /// least one message each); the next step waits until the driver has
    /// polled the last. Default: 1 MiB.
    pub fetch_batch: usize,
}

impl ImapConfig {
    /// The defaults listed on each field.
    pub fn new(hostname: &str) -> ImapConfig {
        ImapConfig {
            hostname: hostname.to_owned(),
            starttls: false,
            allow_plaintext_auth: false,
            max_line: 64 * 1024,
            max_literal: 32 * 1024 * 1024,
            max_errors: 10,
            max_auth_failures: 3,
            auth_failure_delay: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(30 * 60),
            idle_poll: Duration::from_secs(2),
            max_pending_input: 64 * 1024,
            fetch_batch: 1024 * 1024,
        }
    }
    /// Offers STARTTLS.
    pub fn with_starttls(mut self, on: bool) -> Self {
        self.starttls = on;
        self
    }
    /// Accepts passwords without TLS (tests on loopback only).
    pub fn with_plaintext_auth(mut self, on: bool) -> Self {
        self.allow_plaintext_auth = on;
        self
    }
    /// Sets the literal cap.
    pub fn with_max_literal(mut self, octets: u32) -> Self {
        self.max_literal = octets;
        self
    }
    /// Sets the line cap.
    pub fn with_max_line(mut self, octets: usize) -> Self {
        self.max_line = octets;
        self
    }
    /// Sets the refused-login delay.
    pub fn with_auth_failure_delay(mut self, delay: Duration) -> Self {
        self.auth_failure_delay = delay;
        self
    }
    /// Sets the autologout timer.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// Sets the FETCH step size.
    pub fn with_fetch_batch(mut self, octets: usize) -> Self {
        self.fetch_batch = octets;
        self
    }
    /// Sets the IDLE polling interval.
    pub fn with_idle_poll(mut self, every: Duration) -> Self {
        self.idle_poll = every;
        self
    }
}
