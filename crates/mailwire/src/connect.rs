//! What `send` and `probe` share: the flags that say where to connect and
//! how, turned into a [`mailer::MailerBuilder`] (the library does the
//! rest), the credentials from the environment or a prompt, and a failure
//! as words naming the flags, with its exit code.

use crate::Failure;
use anyhow::anyhow;
use clap::{Args, ValueEnum};
use mailer::{Context, Credentials, ErrorKind, Mailer, MailerBuilder, Provider, Words};
use smtp_proto::transcript::Transcript;
use smtp_proto::Host;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable holding the password for `--user`.
pub(crate) const PASSWORD_ENV: &str = "MAILWIRE_PASSWORD";

/// The flags' names, for the library's advice.
pub(crate) const CLI_WORDS: Words = Words {
    ca_file: "--ca-file",
    user: "--user NAME (the password comes from MAILWIRE_PASSWORD or a prompt)",
    tls: "--security tls",
    starttls: "--security starttls",
    allow_plaintext_auth: "--allow-plaintext-auth",
    probe: Some("mailwire probe"),
};

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
    /// The library's mode.
    pub(crate) fn mode(self) -> mailer::Security {
        match self {
            Security::Tls => mailer::Security::Tls,
            Security::Starttls => mailer::Security::StartTls,
            Security::StarttlsOpportunistic => mailer::Security::StartTlsOpportunistic,
            Security::None => mailer::Security::None,
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

    /// The provider: by preset, or recognised from the server's name.
    fn provider(&self, server: Option<&str>) -> Result<Option<Provider>, Failure> {
        if let Some(name) = &self.provider {
            return Provider::by_name(name).map(Some).ok_or_else(|| {
                Failure::usage(anyhow!(
                    "unknown provider {name:?}; known: {}",
                    Provider::names()
                ))
            });
        }
        Ok(server
            .map(split_host_port)
            .transpose()?
            .and_then(|(host, _)| Provider::by_host(&host)))
    }

    /// Where to connect, from `--server HOST[:PORT]` or `--provider`;
    /// `Ok(None)` when neither was given. Only where: see
    /// [`configure`](Self::configure) for how.
    pub(crate) fn target(&self, server: Option<&str>) -> Result<Option<MailerBuilder>, Failure> {
        if let Some(provider) = self.provider(None)? {
            let mut builder = Mailer::provider(provider);
            if let Some(security) = self.security {
                builder = builder.security(security.mode());
            }
            return Ok(Some(builder));
        }
        let Some(server) = server else {
            return Ok(None);
        };
        let (host, port) = split_host_port(server)?;
        let (port, security) = match (port, self.security.map(Security::mode)) {
            (Some(port), Some(security)) => (port, security),
            (Some(port), None) => (port, mailer::Security::for_port(port)),
            (None, Some(security)) => (security.default_port(), security),
            (None, None) => (587, mailer::Security::StartTls),
        };
        Ok(Some(Mailer::server(host, port, security)))
    }

    /// How to connect: TLS trust, timeouts, the EHLO name, plaintext
    /// logins, the transcript, and (with `login`) the credentials.
    pub(crate) fn configure(
        &self,
        mut builder: MailerBuilder,
        server: Option<&str>,
        login: bool,
        transcript: bool,
    ) -> Result<MailerBuilder, Failure> {
        if let Some(path) = &self.ca_file {
            builder = builder.ca_file(path);
        }
        if let Some(path) = &self.ca_file_only {
            builder = builder.ca_file_only(path);
        }
        if self.dangerous_accept_invalid_certs {
            eprintln!(
                "mailwire: WARNING: --dangerous-accept-invalid-certs: the server's certificate is \
                 not checked; anyone on the path can read this session"
            );
            builder = builder.tls(mailer::TlsSettings::new().dangerous_accept_invalid_certs());
        }
        let helo = match &self.helo {
            Some(name) => name.clone(),
            None => machine_name(),
        };
        if Host::parse(&helo).is_err() {
            return Err(Failure::usage(anyhow!(
                "bad --helo {helo:?}: not a host name"
            )));
        }
        builder = builder
            .timeout(self.timeout())
            .helo(helo)
            .allow_plaintext_auth(self.allow_plaintext_auth);
        if transcript {
            builder = builder.observer(|| Box::new(Transcript::client(|line| eprintln!("{line}"))));
        }
        if login {
            if let Some(credentials) = self.credentials(self.provider(server)?)? {
                builder = builder.credentials(credentials);
            }
        }
        Ok(builder)
    }

    /// The EHLO name: --helo, or this machine's name.
    pub(crate) fn helo_name(&self) -> String {
        self.helo.clone().unwrap_or_else(machine_name)
    }

    /// The credentials for `--user`: an OAuth2 token from the named variable,
    /// or the password from MAILWIRE_PASSWORD or a prompt.
    fn credentials(&self, provider: Option<Provider>) -> Result<Option<Credentials>, Failure> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        if let Some(var) = &self.oauth_token_env {
            let var = var.clone();
            if std::env::var(&var).is_err() {
                return Err(Failure::usage(anyhow!(
                    "--oauth-token-env {var}: the environment variable {var} is not set"
                )));
            }
            return Ok(Some(Credentials::oauth2(user.clone(), move || {
                Ok(std::env::var(&var)?)
            })));
        }
        let password = match std::env::var(PASSWORD_ENV) {
            Ok(password) => password,
            Err(_) if std::io::stdin().is_terminal() => {
                if let Some(p) = provider {
                    eprintln!("mailwire: note: {}", p.settings().password_hint);
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
        Ok(Some(Credentials::password(user.clone(), password)))
    }
}

/// This machine's host name, as other clients say in EHLO; `localhost`
/// when it has none that is a valid domain.
fn machine_name() -> String {
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    let name = name.trim_end_matches('.');
    if Host::parse(name).is_ok() {
        name.to_owned()
    } else {
        "localhost".to_owned()
    }
}

/// A resolver for [`MailerBuilder::resolver`] that asks only the DNS server
/// `server` (`--dns HOST:PORT`), each lookup bounded by `timeout`.
pub(crate) fn dns_server(
    server: std::net::SocketAddr,
    timeout: Duration,
) -> Result<impl mailer::HostResolver, Failure> {
    let dns = mail_dns::Resolver::new(mail_dns::DnsConfig::server(server).with_timeout(timeout))
        .map_err(|e| Failure::usage(anyhow!("--dns {server}: {e}")))?;
    Ok(move |host: &str| {
        dns.ips(host)
            .wait()
            .map_err(|e| format!("{e} (asked the DNS server {server})"))
    })
}

/// Builds the mailer; a setting that cannot work is a usage error.
pub(crate) fn build(builder: MailerBuilder) -> Result<Mailer, Failure> {
    builder.build().map_err(|e| Failure::usage(anyhow!("{e}")))
}

/// The same inside `probe`, which need not suggest itself.
pub(crate) const PROBE_WORDS: Words = Words {
    probe: None,
    ..CLI_WORDS
};

/// A library failure as words naming the flags, with its exit code.
pub(crate) fn failure(error: &mailer::Error, context: &Context) -> Failure {
    failure_in(error, context, &CLI_WORDS)
}

/// [`failure`], naming options with `words`.
pub(crate) fn failure_in(error: &mailer::Error, context: &Context, words: &Words) -> Failure {
    let text = anyhow!("{}", error.explain(context, words));
    match error.kind() {
        ErrorKind::Usage => Failure::usage(text),
        ErrorKind::Connect => Failure::connect(text),
        ErrorKind::Tls => Failure::tls(text),
        ErrorKind::Auth => Failure::auth(text),
        ErrorKind::Rejected => Failure::rejected(text),
        _ => Failure::other(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(server: &str, args: &[&str]) -> Option<Context> {
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
        let server = Some(server).filter(|s| !s.is_empty());
        let builder = cli.connect.target(server).unwrap()?;
        Some(builder.build().unwrap().context().clone())
    }

    #[test]
    fn ports_and_modes_follow_each_other() {
        use mailer::Security as S;
        let t = target("smtp.example.com:465", &[]).unwrap();
        assert_eq!((t.port, t.security), (465, S::Tls));
        let t = target("smtp.example.com", &[]).unwrap();
        assert_eq!((t.port, t.security), (587, S::StartTls));
        let t = target("mx.example.com:25", &[]).unwrap();
        assert_eq!(t.security, S::StartTlsOpportunistic);
        let t = target("[::1]:2525", &["--security", "none"]).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 2525));
        assert_eq!(t.address(), "[::1]:2525");
        let t = target("", &["--provider", "icloud"]).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("smtp.mail.me.com", 587));
        // A preset spoken to in the other mode gets that mode's port.
        let t = target("", &["--provider", "gmail", "--security", "starttls"]).unwrap();
        assert_eq!((t.port, t.security), (587, S::StartTls));
        let t = target("smtp.qq.com:465", &[]).unwrap();
        assert_eq!(t.provider, Some(Provider::Qq));
        assert!(target("", &[]).is_none());
        assert!(split_host_port("host:notaport").is_err());
        assert!(split_host_port("[::1").is_err());
    }
}
