//! What a POP3 server offers and the limits it enforces.

use std::time::Duration;

/// Server behaviour and limits. Every field has a documented default; each
/// builder changes one thing.
///
/// ```
/// use pop3_proto::Pop3Config;
/// use std::time::Duration;
///
/// let config = Pop3Config::new("pop.example.com").with_stls(true);
/// assert!(!config.allow_plaintext_auth);
/// assert_eq!(config.idle_timeout, Duration::from_secs(600));
/// assert_eq!(config.max_auth_failures, 3);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Pop3Config {
    /// The name in the greeting and the sign-off.
    pub hostname: String,
    /// Offer STLS (RFC 2595). The adapter must have a certificate.
    /// Default: off.
    pub stls: bool,
    /// Accept USER/PASS and AUTH PLAIN without TLS. Default: off — before
    /// TLS they are refused with `-ERR [AUTH]` and not advertised in CAPA.
    pub allow_plaintext_auth: bool,
    /// Offer USER/PASS. Default: on.
    pub user_pass: bool,
    /// Offer SASL PLAIN (RFC 5034). Default: on.
    pub sasl_plain: bool,
    /// Longest command line in octets, CRLF included. Default: 255
    /// (RFC 2449 §4).
    pub max_command_line: usize,
    /// Longest SASL response line (and AUTH command with an initial
    /// response) in octets, CRLF included. Default: 8192.
    pub max_sasl_line: usize,
    /// `-ERR` replies the session sends on its own (unknown command, bad
    /// syntax, wrong state, no such message) before it closes. Default: 10.
    pub max_errors: usize,
    /// Refused logins before the session closes. Default: 3.
    pub max_auth_failures: usize,
    /// How long the `-ERR` for a refused login is held back; commands
    /// received meanwhile wait. Default: 2 seconds.
    pub auth_failure_delay: Duration,
    /// Close after this long without a command (RFC 1939 §3 asks for at
    /// least 10 minutes). Default: 10 minutes.
    pub idle_timeout: Duration,
    /// Most unprocessed input held while the application decides or a
    /// refused login is being delayed; past it the session closes.
    /// Default: 64 KiB.
    pub max_pending_input: usize,
    /// Advertised as `IMPLEMENTATION` in CAPA. Default: `mailwire`.
    pub implementation: String,
}

impl Pop3Config {
    /// The defaults listed on each field.
    pub fn new(hostname: &str) -> Pop3Config {
        Pop3Config {
            hostname: hostname.to_owned(),
            stls: false,
            allow_plaintext_auth: false,
            user_pass: true,
            sasl_plain: true,
            max_command_line: 255,
            max_sasl_line: 8192,
            max_errors: 10,
            max_auth_failures: 3,
            auth_failure_delay: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(600),
            max_pending_input: 64 * 1024,
            implementation: "mailwire".to_owned(),
        }
    }

    /// Offers STLS.
    pub fn with_stls(mut self, on: bool) -> Self {
        self.stls = on;
        self
    }
    /// Accepts passwords without TLS (for tests on loopback only).
    pub fn with_plaintext_auth(mut self, on: bool) -> Self {
        self.allow_plaintext_auth = on;
        self
    }
    /// Offers USER/PASS.
    pub fn with_user_pass(mut self, on: bool) -> Self {
        self.user_pass = on;
        self
    }
    /// Offers SASL PLAIN.
    pub fn with_sasl_plain(mut self, on: bool) -> Self {
        self.sasl_plain = on;
        self
    }
    /// Sets the number of `-ERR` replies before close.
    pub fn with_max_errors(mut self, n: usize) -> Self {
        self.max_errors = n;
        self
    }
    /// Sets the number of refused logins before close.
    pub fn with_max_auth_failures(mut self, n: usize) -> Self {
        self.max_auth_failures = n;
        self
    }
    /// Sets the delay of each refused login.
    pub fn with_auth_failure_delay(mut self, delay: Duration) -> Self {
        self.auth_failure_delay = delay;
        self
    }
    /// Sets the idle timeout.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// Sets the command line cap.
    pub fn with_max_command_line(mut self, octets: usize) -> Self {
        self.max_command_line = octets;
        self
    }
}
