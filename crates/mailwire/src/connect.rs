//! What `send` and `probe` share: where to connect and how (a server or a
//! provider preset, the security mode, TLS trust), the credentials, the
//! transcript, and the translation of a failure into plain words and an
//! exit code.

use crate::greeting::{self, Connected};
use crate::providers::{self, Provider};
use crate::Failure;
use anyhow::anyhow;
use clap::{Args, ValueEnum};
use smtp_blocking::{Client, Error, TlsFailure, TlsSettings};
use smtp_proto::sasl::ClientCredentials;
use smtp_proto::transcript::{Transcript, WireObserver};
use smtp_proto::{AuthFailure, ClientConfig, ClientError, Host, Phase, Reply, Secret, TlsPolicy};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable holding the password for `--user`.
pub(crate) const PASSWORD_ENV: &str = "MAILWIRE_PASSWORD";

/// How the connection to the server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Security {
    /// Implicit TLS from the first byte (port 465).
    Tls,
    /// Plaintext, then STARTTLS, which must succeed (port 587).
    Starttls,
    /// STARTTLS when the server offers it, plaintext otherwise (port 25).
    StarttlsOpportunistic,
    /// No encryption at all (local sinks and tests).
    None,
}

impl Security {
    /// The usual port of each mode.
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Security::Tls => 465,
            Security::Starttls => 587,
            Security::StarttlsOpportunistic | Security::None => 25,
        }
    }

    /// The usual mode of a port: 465 is implicit TLS, 25 opportunistic
    /// STARTTLS, anything else (587 first) required STARTTLS.
    pub(crate) fn for_port(port: u16) -> Security {
        match port {
            465 => Security::Tls,
            25 => Security::StarttlsOpportunistic,
            _ => Security::Starttls,
        }
    }

    pub(crate) fn policy(self) -> TlsPolicy {
        match self {
            Security::Tls => TlsPolicy::Implicit,
            Security::Starttls => TlsPolicy::Required,
            Security::StarttlsOpportunistic => TlsPolicy::Opportunistic,
            Security::None => TlsPolicy::None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Security::Tls => "implicit TLS",
            Security::Starttls => "STARTTLS, required",
            Security::StarttlsOpportunistic => "STARTTLS when offered",
            Security::None => "no encryption",
        }
    }
}

/// The flags that say where and how to connect; shared by `send` and
/// `probe`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnectArgs {
    /// A provider preset (gmail, outlook, qq, 163, 126, yahoo, icloud): its
    /// server, port and security.
    #[arg(long, conflicts_with = "server")]
    pub(crate) provider: Option<String>,
    /// How to secure the connection; by default from the port (465: tls,
    /// 25: starttls-opportunistic, otherwise starttls) or the preset.
    #[arg(long, value_enum)]
    pub(crate) security: Option<Security>,
    /// The user to log in as. The password comes from the MAILWIRE_PASSWORD
    /// environment variable or, on a terminal, a prompt; never a flag.
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// Log in with XOAUTH2, the access token read from this environment
    /// variable (needs --user).
    #[arg(long, value_name = "VAR", requires = "user")]
    pub(crate) oauth_token_env: Option<String>,
    /// Also trust the certificates in this PEM file, beside the public
    /// roots: a private CA, or the server's own self-signed certificate.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Trust only the certificates in this PEM file (the public roots are
    /// not used).
    #[arg(long, value_name = "FILE", conflicts_with = "ca_file")]
    pub(crate) ca_file_only: Option<PathBuf>,
    /// Log in even over an unencrypted connection: with --security none, or
    /// when opportunistic STARTTLS did not happen (which someone on the path
    /// can cause). Without it, no credentials cross a plaintext connection.
    #[arg(long)]
    pub(crate) allow_plaintext_auth: bool,
    /// DANGEROUS: do not check the server's certificate (anyone on the path
    /// can then read the mail and the password).
    #[arg(long)]
    pub(crate) dangerous_accept_invalid_certs: bool,
    /// Seconds to wait for the connection and for each reply before the
    /// message body (the body keeps RFC 5321's limits).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub(crate) timeout: u64,
    /// The name to give in EHLO; by default this machine's host name.
    #[arg(long)]
    pub(crate) helo: Option<String>,
}

/// Where to connect, resolved from the flags.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) security: Security,
    /// The provider, by preset or recognised from the host name.
    pub(crate) provider: Option<&'static Provider>,
    /// Certificates to trust were given (--ca-file or --ca-file-only): the
    /// advice after a refused certificate is then not to give them.
    pub(crate) ca_given: bool,
    /// --user was given: the advice after a 530 is then not to give it.
    pub(crate) user_given: bool,
}

impl Target {
    /// From `--server HOST[:PORT]` (or `None`) and the connect flags;
    /// `Ok(None)` when neither a server nor a provider was given.
    pub(crate) fn resolve(
        server: Option<&str>,
        args: &ConnectArgs,
    ) -> Result<Option<Target>, Failure> {
        if let Some(name) = &args.provider {
            let provider = providers::by_name(name).ok_or_else(|| {
                Failure::usage(anyhow!(
                    "unknown provider {name:?}; known: {}",
                    providers::names()
                ))
            })?;
            let security = args.security.unwrap_or(provider.security);
            // The preset's port fits its own mode; another mode gets that
            // mode's usual port.
            let port = if security == provider.security {
                provider.port
            } else {
                security.default_port()
            };
            return Ok(Some(Target {
                host: provider.host.to_owned(),
                port,
                security,
                provider: Some(provider),
                ca_given: args.ca_given(),
                user_given: args.user.is_some(),
            }));
        }
        let Some(server) = server else {
            return Ok(None);
        };
        let (host, port) = split_host_port(server)?;
        let (port, security) = match (port, args.security) {
            (Some(port), Some(security)) => (port, security),
            (Some(port), None) => (port, Security::for_port(port)),
            (None, Some(security)) => (security.default_port(), security),
            (None, None) => (587, Security::Starttls),
        };
        Ok(Some(Target {
            provider: providers::by_host(&host),
            host,
            port,
            security,
            ca_given: args.ca_given(),
            user_given: args.user.is_some(),
        }))
    }

    pub(crate) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Splits `host[:port]` and `[v6]:port`.
pub(crate) fn split_host_port(server: &str) -> Result<(String, Option<u16>), Failure> {
    let bad = || Failure::usage(anyhow!("bad server address {server:?}"));
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| Failure::usage(anyhow!("bad port in {server:?}")))
    };
    if let Some(rest) = server.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        return match tail.strip_prefix(':') {
            Some(p) => Ok((host.to_owned(), Some(port(p)?))),
            None if tail.is_empty() => Ok((host.to_owned(), None)),
            None => Err(bad()),
        };
    }
    match server.rsplit_once(':') {
        Some((host, p)) if !host.contains(':') && !host.is_empty() => {
            Ok((host.to_owned(), Some(port(p)?)))
        }
        _ if server.is_empty() => Err(bad()),
        _ => Ok((server.to_owned(), None)),
    }
}

impl ConnectArgs {
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }

    fn ca_given(&self) -> bool {
        self.ca_file.is_some() || self.ca_file_only.is_some()
    }

    /// The TLS trust settings.
    pub(crate) fn tls_settings(&self) -> Result<TlsSettings, Failure> {
        let mut settings = TlsSettings::new();
        if let Some(path) = &self.ca_file {
            settings = settings
                .with_ca_file(path)
                .map_err(|e| Failure::usage(anyhow!(e)))?;
        }
        if let Some(path) = &self.ca_file_only {
            settings = settings
                .with_ca_file_only(path)
                .map_err(|e| Failure::usage(anyhow!(e)))?;
        }
        if self.dangerous_accept_invalid_certs {
            eprintln!(
                "mailwire: WARNING: --dangerous-accept-invalid-certs: the server's certificate is \
                 not checked; anyone on the path can read this session"
            );
            settings = settings.dangerous_accept_invalid_certs();
        }
        Ok(settings)
    }

    /// The credentials for `--user`: an OAuth2 token from the named variable,
    /// or the password from MAILWIRE_PASSWORD or a prompt.
    pub(crate) fn credentials(
        &self,
        target: Option<&Target>,
    ) -> Result<Option<ClientCredentials>, Failure> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        if let Some(var) = &self.oauth_token_env {
            let token = std::env::var(var).map_err(|_| {
                Failure::usage(anyhow!(
                    "--oauth-token-env {var}: the environment variable {var} is not set"
                ))
            })?;
            return Ok(Some(ClientCredentials::OAuth2 {
                username: user.clone(),
                token: Secret::new(token),
            }));
        }
        let password = match std::env::var(PASSWORD_ENV) {
            Ok(password) => password,
            Err(_) if std::io::stdin().is_terminal() => {
                if let Some(p) = target.and_then(|t| t.provider) {
                    eprintln!("mailwire: note: {}", p.password_hint);
                }
                rpassword::prompt_password(format!("Password for {user}: ")).map_err(|e| {
                    Failure::usage(anyhow!(
                        "could not read the password from the terminal: {e}"
                    ))
                })?
            }
            Err(_) => {
                return Err(Failure::usage(anyhow!(
                    "--user needs a password: set {PASSWORD_ENV} in the environment (or run on a \
                     terminal to be asked)"
                )))
            }
        };
        Ok(Some(ClientCredentials::Password {
            username: user.clone(),
            password: Secret::new(password),
        }))
    }

    /// The client configuration for `target`, with credentials.
    pub(crate) fn client_config(
        &self,
        security: Security,
        credentials: Option<ClientCredentials>,
    ) -> Result<ClientConfig, Failure> {
        let helo = match &self.helo {
            Some(name) => Host::parse(name)
                .map_err(|e| Failure::usage(anyhow!("bad --helo {name:?}: {e}")))?,
            None => machine_name()?,
        };
        let mut config = ClientConfig::new(helo).with_tls(security.policy());
        // The setup and envelope steps wait --timeout; the body and its
        // final reply keep RFC 5321's longer limits (a big message takes
        // time to check).
        let each = self.timeout();
        let t = &mut config.timeouts;
        for step in [
            &mut t.greeting,
            &mut t.ehlo,
            &mut t.starttls,
            &mut t.auth,
            &mut t.mail,
            &mut t.rcpt,
            &mut t.quit,
        ] {
            *step = each;
        }
        if let Some(credentials) = credentials {
            config = config.with_credentials(credentials);
        }
        Ok(config.with_plaintext_auth(self.allow_plaintext_auth))
    }
}

/// This machine's host name, as other clients say in EHLO; `localhost`
/// when it has none that is a valid domain.
fn machine_name() -> Result<Host, Failure> {
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    Host::parse(name.trim_end_matches('.'))
        .or_else(|_| Host::parse("localhost"))
        .map_err(|e| Failure::other(anyhow!("no name for EHLO: {e}; give one with --helo")))
}

/// Opens a session to `target` (greeting, EHLO, TLS, AUTH as configured),
/// with the dialogue on stderr when `transcript` is set.
pub(crate) fn open(
    target: &Target,
    config: ClientConfig,
    tls: TlsSettings,
    timeout: Duration,
    transcript: bool,
) -> Result<Client, Failure> {
    if transcript {
        eprintln!(
            "=== Trying {} ({})...",
            target.address(),
            target.security.name()
        );
    }
    let builder = Client::builder(config).tls(tls).connect_timeout(timeout);
    let observer: Option<Box<dyn WireObserver>> = if transcript {
        Some(Box::new(Transcript::client(|line| eprintln!("{line}"))))
    } else {
        None
    };
    match greeting::connect(builder, observer, target) {
        Connected::Done(result) => result.map_err(|e| explain(&e, target)),
        Connected::ImplicitTls(failure) => Err(failure),
    }
}

/// Turns a client error into words for a person (with the provider's hint
/// when the login failed) and the exit code of the phase that failed.
pub(crate) fn explain(error: &Error, target: &Target) -> Failure {
    let at = target.address();
    let hint = |generic: &str| -> String {
        match target.provider {
            Some(p) => p.password_hint.to_owned(),
            None => generic.to_owned(),
        }
    };
    match error {
        Error::Resolve { .. } => Failure::connect(anyhow!(
            "{error}: check the server name, and that this machine can resolve names"
        )),
        Error::Connect { source, .. } => {
            let advice = match source.kind() {
                std::io::ErrorKind::ConnectionRefused => format!(
                    "nothing listens on port {} there: check the port (465 for implicit TLS, 587 \
                     for STARTTLS)",
                    target.port
                ),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => format!(
                    "no answer at all: a firewall, your network or your ISP/cloud provider \
                     probably blocks port {} (port 25 often is); try 587 or 465",
                    target.port
                ),
                _ => "check the address and your network".to_owned(),
            };
            Failure::connect(anyhow!("{error}: {advice}"))
        }
        Error::NoGreeting { .. } => Failure::connect(anyhow!(
            "wrong security mode for this port? {error} (port {} was tried with {})",
            target.port,
            target.security.name()
        )),
        Error::Tls { kind, .. } => {
            if *kind == TlsFailure::NotTls {
                return Failure::tls(anyhow!(
                    "wrong security mode for this port: {at} answered in plaintext where a TLS \
                     handshake should start, so it expects STARTTLS; use --security starttls \
                     (implicit TLS is usually port 465)"
                ));
            }
            Failure::tls(anyhow!("{error}: {}", tls_advice(*kind, target)))
        }
        Error::TlsConfig { .. } | Error::TlsNotConfigured { .. } => {
            Failure::usage(anyhow!("{error}"))
        }
        Error::Session { error: e, .. } => match e.as_ref() {
            ClientError::AuthFailed { reply, kind, .. } => {
                let why = match kind {
                    AuthFailure::InvalidCredentials | AuthFailure::MechanismTooWeak => {
                        hint(kind.explanation())
                    }
                    other => other.explanation().to_owned(),
                };
                let said = reply.text();
                let said = said.trim();
                let said = if said.is_empty() {
                    String::new()
                } else {
                    format!(", saying \"{said}\"")
                };
                Failure::auth(anyhow!(
                    "the server at {at} rejected the login ({}{said}): {why}",
                    reply_code(reply)
                ))
            }
            ClientError::AuthUnavailable { .. } => Failure::auth(anyhow!("{at}: {e}")),
            ClientError::AuthNeedsTls | ClientError::StartTlsMissingForAuth => {
                Failure::tls(anyhow!(
                    "{at}: {e}; use --security starttls (587) or tls (465) to insist on \
                     encryption, or --allow-plaintext-auth if this network is trusted"
                ))
            }
            ClientError::StartTlsUnavailable
            | ClientError::StartTlsRefused(_)
            | ClientError::PlaintextAfterStartTls => Failure::tls(anyhow!(
                "{at}: {e} (use --security tls for port 465, or --security none only for a local \
                 sink)"
            )),
            ClientError::Rejected { phase, .. }
            | ClientError::Timeout { phase }
            | ClientError::ConnectionClosed { phase }
            | ClientError::ServiceClosing { phase, .. }
                if matches!(
                    phase,
                    Phase::Greeting | Phase::Ehlo | Phase::Helo | Phase::StartTls
                ) =>
            {
                Failure::connect(anyhow!("{error}"))
            }
            ClientError::MessageTooBig { .. }
            | ClientError::ExtensionMissing(_)
            | ClientError::Rejected { .. } => Failure::rejected(anyhow!("{error}")),
            _ => Failure::other(anyhow!("{error}")),
        },
        Error::Rejected { report, .. } => match report.mail_reply.as_ref() {
            Some(reply) if reply.code().get() == 530 => {
                let advice = if reply.text().to_ascii_uppercase().contains("STARTTLS") {
                    "it wants TLS first: use --security starttls (587) or tls (465)"
                } else if target.user_given {
                    "it wants a login first, and the one given did not satisfy it"
                } else {
                    "it wants a login first: give --user NAME (the password comes from \
                     MAILWIRE_PASSWORD or a prompt)"
                };
                Failure::rejected(anyhow!("{error}: {advice}"))
            }
            _ => Failure::rejected(anyhow!("{error}")),
        },
        _ => Failure::other(anyhow!("{error}")),
    }
}

/// What to do about a failed handshake, never the flag already given.
fn tls_advice(kind: TlsFailure, target: &Target) -> String {
    let host = &target.host;
    let look = format!(
        "see what it sends with `mailwire probe {} --security {}`",
        target.address(),
        match target.security {
            Security::Tls => "tls",
            _ => "starttls",
        }
    );
    match kind {
        TlsFailure::Untrusted if target.ca_given => format!(
            "the file given with --ca-file holds neither the certificate the server presents \
             nor the CA that issued it (an intermediate CA missing from the server's chain, \
             or the wrong file); {look}"
        ),
        TlsFailure::Untrusted => format!(
            "if this is a private server, give its CA certificate (or its own self-signed \
             certificate) with --ca-file; {look}"
        ),
        TlsFailure::NameMismatch => format!(
            "connect by a name the certificate carries (`mailwire probe` lists them) instead \
             of {host}, or have the server's certificate reissued for {host}"
        ),
        TlsFailure::Expired => "check this machine's date and time (`date -u`); if they are \
             right, the server's administrator must renew the certificate"
            .to_owned(),
        TlsFailure::Certificate => {
            format!("the server's administrator must fix its certificate; {look}")
        }
        TlsFailure::Incompatible => "the server speaks only old TLS (1.0/1.1) or old \
             ciphers, which this tool refuses; ask for the server to be upgraded"
            .to_owned(),
        TlsFailure::Refused => format!("{look}; the server's log says why"),
        TlsFailure::Interrupted => format!(
            "a firewall or filter may cut TLS on port {}, or the server is overloaded; try \
             again, or try the other mode (465 implicit TLS, 587 STARTTLS)",
            target.port
        ),
        _ => look,
    }
}

/// `535 5.7.8`: a reply's code and enhanced status.
pub(crate) fn reply_code(reply: &Reply) -> String {
    match reply.enhanced() {
        Some(status) => format!("{} {status}", reply.code().get()),
        None => reply.code().get().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_proto::{EnhancedStatus, Mechanism, ReplyCode};

    fn target(server: &str, args: &[&str]) -> Option<Target> {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            /// `--provider` conflicts with it.
            #[arg(long)]
            server: Option<String>,
            #[command(flatten)]
            connect: ConnectArgs,
        }
        let cli = Cli::parse_from(std::iter::once("x").chain(args.iter().copied()));
        assert!(cli.server.is_none());
        Target::resolve(Some(server).filter(|s| !s.is_empty()), &cli.connect).unwrap()
    }

    #[test]
    fn ports_and_modes_follow_each_other() {
        let t = target("smtp.example.com:465", &[]).unwrap();
        assert_eq!((t.port, t.security), (465, Security::Tls));
        let t = target("smtp.example.com", &[]).unwrap();
        assert_eq!((t.port, t.security), (587, Security::Starttls));
        let t = target("mx.example.com:25", &[]).unwrap();
        assert_eq!(t.security, Security::StarttlsOpportunistic);
        let t = target("[::1]:2525", &["--security", "none"]).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 2525));
        assert_eq!(t.address(), "[::1]:2525");
        let t = target("", &["--provider", "icloud"]).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("smtp.mail.me.com", 587));
        // A preset spoken to in the other mode gets that mode's port.
        let t = target("", &["--provider", "gmail", "--security", "starttls"]).unwrap();
        assert_eq!((t.port, t.security), (587, Security::Starttls));
        assert!(target("", &[]).is_none());
        assert!(split_host_port("host:notaport").is_err());
        assert!(split_host_port("[::1").is_err());
    }

    #[test]
    fn a_refused_login_at_qq_asks_for_the_authorization_code() {
        let t = target("smtp.qq.com:465", &[]).unwrap();
        let reply = Reply::new(
            ReplyCode::AUTH_INVALID,
            EnhancedStatus::new(5, 7, 8),
            ["Error: authentication failed"],
        )
        .unwrap();
        let error = Error::Session {
            peer: "127.0.0.1:465".parse().unwrap(),
            error: Box::new(ClientError::AuthFailed {
                mechanism: Mechanism::Login,
                reply,
                kind: AuthFailure::InvalidCredentials,
                details: None,
            }),
        };
        let failure = explain(&error, &t);
        assert_eq!(failure.code, crate::EXIT_AUTH);
        let text = failure.error.to_string();
        assert!(
            text.starts_with(
                "the server at smtp.qq.com:465 rejected the login (535 5.7.8, saying \"Error: \
                 authentication failed\"): QQ Mail needs an authorization code (授权码), not \
                 the account password"
            ),
            "{text}"
        );
    }
}
