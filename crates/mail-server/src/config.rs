//! The server's configuration: one TOML file (see docs/mail-server.md and
//! docs/examples/mailwire.toml), with command-line flags over it
//! ([`Overrides`]).
//!
//! Unknown keys are errors that name the key, and every error names the
//! line it is about. Relative paths in a file are relative to the file's
//! directory.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A value or key is wrong at this line.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file (or `flags`).
        path: String,
        /// The line (1-based; 0 when the value came from a flag).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// A size in bytes: an integer, or a string with a unit (`"512K"`,
/// `"25M"`, `"1G"`; powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl Size {
    /// Reads `"25M"` and the like.
    pub fn parse(text: &str) -> Result<Size, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?} is not a size (a number, then K, M, G or T)"))?;
        let factor: u64 = match unit.trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "K" | "KB" | "KIB" => 1 << 10,
            "M" | "MB" | "MIB" => 1 << 20,
            "G" | "GB" | "GIB" => 1 << 30,
            "T" | "TB" | "TIB" => 1 << 40,
            other => return Err(format!("{other:?} is not a size unit (K, M, G or T)")),
        };
        n.checked_mul(factor)
            .map(Size)
            .ok_or_else(|| format!("{text:?} is too large"))
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Size(n)),
            Raw::S(s) => Size::parse(&s).map_err(de::Error::custom),
        }
    }
}

/// A duration: seconds as an integer, or a string with a unit (`"30s"`,
/// `"5m"`, `"1h"`, `"2d"`); 0 means no bound where a bound may be off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub u64);

impl Seconds {
    /// Reads `"5m"` and the like.
    pub fn parse(text: &str) -> Result<Seconds, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?} is not a duration (a number, then s, m, h or d)"))?;
        let factor = match unit.trim() {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            other => return Err(format!("{other:?} is not a duration unit (s, m, h or d)")),
        };
        n.checked_mul(factor)
            .map(Seconds)
            .ok_or_else(|| format!("{text:?} is too long"))
    }

    /// As a bound: `None` for 0.
    pub fn bound(self) -> Option<Duration> {
        (self.0 > 0).then(|| Duration::from_secs(self.0))
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Seconds, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Seconds(n)),
            Raw::S(s) => Seconds::parse(&s).map_err(de::Error::custom),
        }
    }
}

/// Where the server listens. Each is `IP:PORT`; a listener not given is
/// not opened.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Listeners {
    /// Incoming mail (port 25): STARTTLS offered when there is a
    /// certificate.
    pub smtp: Option<SocketAddr>,
    /// Submission with STARTTLS (port 587): TLS and AUTH required.
    pub submission: Option<SocketAddr>,
    /// Submission with implicit TLS (port 465): AUTH required.
    pub submissions: Option<SocketAddr>,
    /// POP3 (port 110; STLS with a certificate), each user reading their
    /// own mailbox.
    pub pop3: Option<SocketAddr>,
    /// POP3 with implicit TLS (port 995).
    pub pop3s: Option<SocketAddr>,
    /// IMAP (port 143; STARTTLS with a certificate).
    pub imap: Option<SocketAddr>,
    /// IMAP with implicit TLS (port 993).
    pub imaps: Option<SocketAddr>,
}

/// The certificate for STARTTLS and implicit TLS.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain (PEM, leaf first).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

/// The default of `[limits] max_sessions` (chosen by the load benchmark
/// in docs/benchmarks.md: 1,000 clients at once on 2 CPUs).
pub const DEFAULT_MAX_SESSIONS: usize = 100;

/// Limits on clients and messages.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The largest message accepted (default 25M).
    pub max_message_size: Size,
    /// Recipients per message (default 100).
    pub max_recipients: usize,
    /// Connections served at once per listener (default 256).
    pub max_connections: usize,
    /// Connections at once from one address, IPv6 by /64 (default 16).
    pub max_connections_per_ip: usize,
    /// Sessions served at once per listener; while that many are served,
    /// new clients wait in the listen queue for their greeting instead of
    /// being refused, as at Postfix's process limit (default
    /// [`DEFAULT_MAX_SESSIONS`]; 0: no such wait, every connection up to
    /// `max_connections` is served at once).
    pub max_sessions: usize,
    /// A command line must be complete this long after its first byte
    /// (default 60s; 0: no bound).
    pub command_timeout: Seconds,
    /// The longest a connection may last (default 1h; 0: no bound).
    pub session_timeout: Seconds,
    /// The longest a client may stay silent (default 5m).
    pub idle_timeout: Seconds,
    /// Failed AUTH attempts from one address before its AUTH is refused
    /// for 15 minutes (default 5).
    pub auth_failures_per_ip: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: Size(25 << 20),
            max_recipients: 100,
            max_connections: 256,
            max_connections_per_ip: 16,
            max_sessions: DEFAULT_MAX_SESSIONS,
            command_timeout: Seconds(60),
            session_timeout: Seconds(3600),
            idle_timeout: Seconds(300),
            auth_failures_per_ip: 5,
        }
    }
}

/// Local domains, aliases, catch-alls and the default quota (users
/// themselves are in the users file): `mail_accounts`' table.
pub use mail_accounts::DirectoryConfig;
/// The `[filters]`, `[greylist]` and `[dnsbl]` tables: `mail_filter`'s.
pub use mail_filter::{DnsblConfig, FiltersConfig, GreylistConfig};

/// What DMARC's policy does to failing mail.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DmarcAction {
    /// Follow the sender's policy: `p=reject` refused with `550 5.7.26`,
    /// `p=quarantine` stored in the junk folder.
    #[default]
    Enforce,
    /// Only record the results.
    Report,
}

/// SPF, DKIM and DMARC on mail received on port 25.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Checks {
    /// Check and add `Authentication-Results` (default true).
    pub enabled: bool,
    /// `enforce` (default) or `report`.
    pub dmarc: DmarcAction,
    /// The DNS server to ask, `IP:PORT` (default: the system's resolver).
    pub dns: Option<SocketAddr>,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            enabled: true,
            dmarc: DmarcAction::Enforce,
            dns: None,
        }
    }
}

/// A DKIM signing key for outgoing mail of one domain.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DkimKey {
    /// The signing domain (`d=`): mail whose From is in it is signed.
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// The private key (PEM, RSA or Ed25519).
    pub key: PathBuf,
}

/// The delivery workers run inside the server.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// Deliver what the server queues, in the same process (default
    /// false: run `mailwire deliver` on the spool instead).
    pub enabled: bool,
    /// Concurrent deliveries (default 4).
    pub workers: usize,
    /// The DNS server for MX lookups, `IP:PORT` (default: the system's).
    pub dns: Option<SocketAddr>,
    /// The port MX hosts are reached on (default 25).
    pub mx_port: u16,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            enabled: false,
            workers: 4,
            dns: None,
            mx_port: 25,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The server's name: greeting, `Received:` fields,
    /// `Authentication-Results` (default `localhost`).
    #[serde(default = "default_hostname")]
    pub hostname: String,
    /// Where it listens.
    #[serde(default)]
    pub listeners: Listeners,
    /// The certificate.
    pub tls: Option<TlsFiles>,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
    /// The users file (`address:argon2-hash[:quota]` lines, written by
    /// `mailwire user add`).
    pub users_file: Option<PathBuf>,
    /// The root of the per-user mailboxes (default `./mailwire-mailboxes`).
    #[serde(default = "default_mailboxes")]
    pub mailboxes: PathBuf,
    /// The folder quarantined mail goes to (default `Junk`).
    #[serde(default = "default_junk")]
    pub junk_folder: String,
    /// Domains, aliases, catch-alls, default quota.
    #[serde(default)]
    pub directory: DirectoryConfig,
    /// SPF, DKIM and DMARC on incoming mail.
    #[serde(default)]
    pub checks: Checks,
    /// DKIM keys for outgoing mail, one `[[dkim]]` table each.
    #[serde(default)]
    pub dkim: Vec<DkimKey>,
    /// The spool for outgoing mail: a directory (SQLite) or a
    /// `postgres://` URL. Without it, submission is refused.
    pub spool: Option<String>,
    /// In-process delivery of the spool.
    #[serde(default)]
    pub delivery: Delivery,
    /// The Prometheus endpoint (`/metrics`, `/healthz`), `IP:PORT`.
    pub metrics: Option<SocketAddr>,
    /// The filters at the end of DATA.
    #[serde(default)]
    pub filters: FiltersConfig,
    /// Greylisting (off unless enabled).
    #[serde(default)]
    pub greylist: GreylistConfig,
    /// DNSBL lookups (off unless enabled).
    #[serde(default)]
    pub dnsbl: DnsblConfig,
    /// The Sender Rewriting Scheme for forwarded mail (off without a
    /// secret).
    #[serde(default)]
    pub srs: crate::forwarding::SrsConfig,
    /// Where each top-level key and table starts in the file, for errors
    /// found after parsing.
    #[serde(skip)]
    origin: Origin,
}

/// Where a configuration came from, for error messages.
#[derive(Debug, Clone, Default, PartialEq)]
struct Origin {
    path: String,
    text: String,
}

fn default_hostname() -> String {
    "localhost".to_owned()
}

fn default_mailboxes() -> PathBuf {
    PathBuf::from("./mailwire-mailboxes")
}

fn default_junk() -> String {
    "Junk".to_owned()
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            hostname: default_hostname(),
            listeners: Listeners::default(),
            tls: None,
            limits: Limits::default(),
            users_file: None,
            mailboxes: default_mailboxes(),
            junk_folder: default_junk(),
            directory: DirectoryConfig::default(),
            checks: Checks::default(),
            dkim: Vec::new(),
            spool: None,
            delivery: Delivery::default(),
            metrics: None,
            filters: FiltersConfig::default(),
            greylist: GreylistConfig::default(),
            dnsbl: DnsblConfig::default(),
            srs: crate::forwarding::SrsConfig::default(),
            origin: Origin {
                path: "flags".to_owned(),
                text: String::new(),
            },
        }
    }
}

/// The flags `mailwire serve` lays over the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `--domain` (repeatable): added to the local domains.
    pub domains: Vec<String>,
    /// `--users-file`.
    pub users_file: Option<PathBuf>,
    /// `--mailboxes`.
    pub mailboxes: Option<PathBuf>,
    /// `--listen`: the port-25 listener.
    pub smtp: Option<SocketAddr>,
    /// `--submission`.
    pub submission: Option<SocketAddr>,
    /// `--submissions`.
    pub submissions: Option<SocketAddr>,
    /// `--spool`.
    pub spool: Option<String>,
    /// `--metrics`.
    pub metrics: Option<SocketAddr>,
    /// `--tls-cert` and `--tls-key`.
    pub tls: Option<TlsFiles>,
    /// `--max-size`.
    pub max_message_size: Option<u64>,
    /// `--dns`: for the checks and the delivery workers.
    pub dns: Option<SocketAddr>,
}

impl ServerConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
        let config = ServerConfig::load_unchecked(path)?;
        config.check()?;
        Ok(config)
    }

    /// Reads a configuration file, checking each key but not yet the rules
    /// across keys, for flags to complete it ([`apply`](Self::apply) checks
    /// them).
    pub fn load_unchecked(path: &Path) -> Result<ServerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = ServerConfig::parse_unchecked(&text, &path.display().to_string())?;
        if let Some(dir) = path.parent() {
            config.resolve_paths(dir);
        }
        Ok(config)
    }

    /// Parses and checks configuration text; `name` is what errors call
    /// it (a file name). Paths stay as written.
    pub fn parse(text: &str, name: &str) -> Result<ServerConfig, ConfigError> {
        let config = ServerConfig::parse_unchecked(text, name)?;
        config.check()?;
        Ok(config)
    }

    fn parse_unchecked(text: &str, name: &str) -> Result<ServerConfig, ConfigError> {
        let mut config: ServerConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |span| line_at(text, span.start));
            ConfigError::Invalid {
                path: name.to_owned(),
                line,
                message: e.message().trim().to_owned(),
            }
        })?;
        config.origin = Origin {
            path: name.to_owned(),
            text: text.to_owned(),
        };
        Ok(config)
    }

    /// Paths in the file are relative to its directory.
    fn resolve_paths(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        if let Some(tls) = &mut self.tls {
            fix(&mut tls.cert);
            fix(&mut tls.key);
        }
        if let Some(users) = &mut self.users_file {
            fix(users);
        }
        fix(&mut self.mailboxes);
        for key in &mut self.dkim {
            fix(&mut key.key);
        }
        if let Some(database) = &mut self.greylist.database {
            fix(database);
        }
        if let Some(spool) = &mut self.spool {
            let is_url = spool.contains("://");
            let path = spool.strip_prefix("sqlite:").unwrap_or(spool);
            if !is_url && Path::new(path).is_relative() {
                *spool = dir.join(path).display().to_string();
            }
        }
    }

    /// Lays the flags over the file, then checks the result again.
    pub fn apply(&mut self, flags: &Overrides) -> Result<(), ConfigError> {
        if let Some(hostname) = &flags.hostname {
            self.hostname.clone_from(hostname);
        }
        for domain in &flags.domains {
            if !self
                .directory
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
            {
                self.directory.domains.push(domain.clone());
            }
        }
        if flags.users_file.is_some() {
            self.users_file.clone_from(&flags.users_file);
        }
        if let Some(dir) = &flags.mailboxes {
            self.mailboxes.clone_from(dir);
        }
        if flags.smtp.is_some() {
            self.listeners.smtp = flags.smtp;
        }
        if flags.submission.is_some() {
            self.listeners.submission = flags.submission;
        }
        if flags.submissions.is_some() {
            self.listeners.submissions = flags.submissions;
        }
        if flags.spool.is_some() {
            self.spool.clone_from(&flags.spool);
        }
        if flags.metrics.is_some() {
            self.metrics = flags.metrics;
        }
        if flags.tls.is_some() {
            self.tls.clone_from(&flags.tls);
        }
        if let Some(size) = flags.max_message_size {
            self.limits.max_message_size = Size(size);
        }
        if flags.dns.is_some() {
            self.checks.dns = flags.dns;
            self.delivery.dns = flags.dns;
        }
        self.check()
    }

    /// The rules across keys, each error naming the line of the key.
    fn check(&self) -> Result<(), ConfigError> {
        let l = &self.listeners;
        if l.smtp.is_none() && l.submission.is_none() && l.submissions.is_none() {
            return Err(self.invalid(
                "listeners",
                None,
                "no SMTP listener: give [listeners] smtp, submission or submissions",
            ));
        }
        if self.tls.is_none() {
            for (key, given) in [
                ("submission", l.submission.is_some()),
                ("submissions", l.submissions.is_some()),
                ("pop3s", l.pop3s.is_some()),
                ("imaps", l.imaps.is_some()),
            ] {
                if given {
                    return Err(self.invalid(
                        "listeners",
                        Some(key),
                        &format!("the {key} listener needs a certificate: add [tls] cert and key"),
                    ));
                }
            }
        }
        if (l.submission.is_some() || l.submissions.is_some()) && self.spool.is_none() {
            return Err(self.invalid(
                "listeners",
                Some(if l.submission.is_some() {
                    "submission"
                } else {
                    "submissions"
                }),
                "submission needs a spool for the mail it accepts: add spool = \"DIR\"",
            ));
        }
        if let Some(quota) = &self.directory.default_quota {
            if mail_accounts::parse_quota(quota).is_none() {
                return Err(self.invalid(
                    "directory",
                    Some("default_quota"),
                    &format!("{quota:?} is not a size such as 500M, 2G or 1048576"),
                ));
            }
        }
        // The users' own domains are local too, so a users file is enough.
        if self.directory.domains.is_empty() && self.users_file.is_none() {
            return Err(self.invalid(
                "directory",
                Some("domains"),
                "no local domain: give [directory] domains = [\"example.com\"] or a users_file",
            ));
        }
        if self.srs.secret.is_some() && self.srs.secret_file.is_some() {
            return Err(self.invalid(
                "srs",
                Some("secret_file"),
                "give the SRS secret once: secret or secret_file, not both",
            ));
        }
        if self.limits.max_connections == 0 || self.limits.max_connections_per_ip == 0 {
            return Err(self.invalid("limits", None, "connection limits must be at least 1"));
        }
        if self.limits.max_recipients == 0 {
            return Err(self.invalid(
                "limits",
                Some("max_recipients"),
                "max_recipients must be at least 1",
            ));
        }
        if self.junk_folder.is_empty()
            || self.junk_folder.contains(['/', '\\', '\0'])
            || self.junk_folder.starts_with('.')
        {
            return Err(self.invalid(
                "",
                Some("junk_folder"),
                "junk_folder must be a plain folder name",
            ));
        }
        for key in &self.dkim {
            if key.domain.is_empty() || key.selector.is_empty() {
                return Err(self.invalid(
                    "dkim",
                    Some("domain"),
                    "a [[dkim]] key needs a domain and a selector",
                ));
            }
        }
        if self.delivery.enabled && self.spool.is_none() {
            return Err(self.invalid(
                "delivery",
                Some("enabled"),
                "delivery needs a spool: add spool = \"DIR\"",
            ));
        }
        Ok(())
    }

    /// An error about `key` in `[table]` (`""` for the top level).
    fn invalid(&self, table: &str, key: Option<&str>, message: &str) -> ConfigError {
        ConfigError::Invalid {
            path: self.origin.path.clone(),
            line: line_of(&self.origin.text, table, key),
            message: message.to_owned(),
        }
    }
}

/// The line (1-based) of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count() + 1)
}

/// The line where `key` is set in `[table]` (or where the table starts
/// when the key is not there, or `table.key = …` / `[table]` is written in
/// another form); 0 when neither is in the text (the value came from a
/// default or a flag).
fn line_of(text: &str, table: &str, key: Option<&str>) -> usize {
    let mut current = String::new();
    let mut table_line = 0;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            current = header
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            if current == table && table_line == 0 {
                table_line = n + 1;
            }
            continue;
        }
        let Some((lhs, _)) = trimmed.split_once('=') else {
            continue;
        };
        let lhs = lhs.trim();
        let full = if current.is_empty() {
            lhs.to_owned()
        } else {
            format!("{current}.{lhs}")
        };
        let wanted = match (table, key) {
            ("", Some(key)) => key.to_owned(),
            (table, Some(key)) => format!("{table}.{key}"),
            (table, None) => table.to_owned(),
        };
        if full == wanted || (key.is_none() && full.starts_with(&format!("{table}."))) {
            return n + 1;
        }
    }
    table_line
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MINIMAL: &str =
        "[listeners]\nsmtp = \"127.0.0.1:2525\"\n[directory]\ndomains = [\"example.com\"]\n";

    fn error(text: &str) -> (usize, String) {
        match ServerConfig::parse(text, "t.toml") {
            Err(ConfigError::Invalid { line, message, .. }) => (line, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn a_minimal_file_gets_the_defaults() {
        let c = ServerConfig::parse(MINIMAL, "t.toml").unwrap();
        assert_eq!(c.listeners.smtp, Some("127.0.0.1:2525".parse().unwrap()));
        assert_eq!(c.limits.max_message_size, Size(25 << 20));
        assert!(c.checks.enabled);
        assert_eq!(c.junk_folder, "Junk");
        assert_eq!(c.limits.max_sessions, DEFAULT_MAX_SESSIONS);
        let none = ServerConfig::parse(&format!("{MINIMAL}[limits]\nmax_sessions = 0\n"), "t.toml");
        assert_eq!(none.unwrap().limits.max_sessions, 0);
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let (line, message) = error(&format!("{MINIMAL}[limits]\nmax_mesage_size = 10\n"));
        assert_eq!(line, 6, "{message}");
        assert!(message.contains("max_mesage_size"), "{message}");
        let (line, message) = error(&format!("hostnam = \"x\"\n{MINIMAL}"));
        assert_eq!(line, 1);
        assert!(message.contains("hostnam"), "{message}");
    }

    #[test]
    fn a_bad_value_names_its_line() {
        let (line, message) = error(&format!("{MINIMAL}[limits]\nmax_message_size = \"12Q\"\n"));
        assert_eq!(line, 6);
        assert!(message.contains("size unit"), "{message}");
        let (line, _) =
            error("[listeners]\nsmtp = \"localhost\"\n[directory]\ndomains = [\"a.example\"]\n");
        assert_eq!(line, 2);
    }

    #[test]
    fn rules_across_keys_name_the_line_of_the_key() {
        let (line, message) = error(
            "spool = \"q\"\n[directory]\ndomains = [\"a.example\"]\n[listeners]\nsmtp = \"127.0.0.1:25\"\nsubmission = \"127.0.0.1:587\"\n",
        );
        assert_eq!(line, 6, "{message}");
        assert!(message.contains("certificate"), "{message}");
        let (line, message) =
            error("[listeners]\nsmtp = \"127.0.0.1:25\"\n[directory]\ndomains = []\n");
        assert_eq!(line, 4, "{message}");
        assert!(message.contains("no local domain"));
    }

    #[test]
    fn flags_lay_over_the_file() {
        let mut c = ServerConfig::parse(MINIMAL, "t.toml").unwrap();
        c.apply(&Overrides {
            domains: vec!["other.example".into(), "EXAMPLE.com".into()],
            smtp: Some("127.0.0.1:25".parse().unwrap()),
            max_message_size: Some(1000),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(c.directory.domains, ["example.com", "other.example"]);
        assert_eq!(c.listeners.smtp, Some("127.0.0.1:25".parse().unwrap()));
        assert_eq!(c.limits.max_message_size, Size(1000));
        // A flag that breaks a rule is refused like the file would be.
        let err = c
            .apply(&Overrides {
                submission: Some("127.0.0.1:587".parse().unwrap()),
                ..Overrides::default()
            })
            .unwrap_err();
        assert!(err.to_string().contains("certificate"), "{err}");
    }

    proptest! {
        #[test]
        fn sizes_and_durations_round_trip(n in 0u64..1_000_000, unit in 0usize..4) {
            let (s, f) = [("", 1u64), ("K", 1024), ("M", 1 << 20), ("G", 1 << 30)][unit];
            prop_assert_eq!(Size::parse(&format!("{n}{s}")), Ok(Size(n * f)));
            let (s, f) = [("", 1u64), ("s", 1), ("m", 60), ("h", 3600)][unit];
            prop_assert_eq!(Seconds::parse(&format!("{n}{s}")), Ok(Seconds(n * f)));
        }

        #[test]
        fn any_text_parses_or_fails_with_a_line_inside_it(text in "[ -~\n]{0,200}") {
            if let Err(ConfigError::Invalid { line, .. }) = ServerConfig::parse(&text, "t") {
                prop_assert!(line <= text.lines().count() + 1);
            }
        }
    }
}
