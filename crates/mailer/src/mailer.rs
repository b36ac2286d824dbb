//! The [`Mailer`]: where to send (a provider preset, a server, a local
//! sink), how (security, TLS trust, credentials, timeouts), and sending a
//! built message over a connection, a session of several, or a pool.

use crate::envelope::envelope;
use crate::explain::{Context, Error};
use crate::provider::{Provider, Security};
use crate::stream::MessageReader;
use mime_codec::OutgoingMessage;
use smtp_blocking::{Client, TlsSettings};
use smtp_proto::sasl::ClientCredentials;
use smtp_proto::{ClientConfig, DeliveryReport, Envelope, Host, Secret, WireObserver};
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Gives an OAuth2 access token for each new connection (XOAUTH2): a token
/// that expires is fetched again for the next one.
pub trait TokenProvider: Send + Sync {
    /// A current access token.
    fn access_token(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>>;
}

impl<F> TokenProvider for F
where
    F: Fn() -> Result<String, Box<dyn std::error::Error + Send + Sync>> + Send + Sync,
{
    fn access_token(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        self()
    }
}

/// How to log in.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A user name and password (an app password or 授权码 for most
    /// providers): CRAM-MD5, PLAIN or LOGIN, the strongest offered.
    Password {
        /// The user name, usually the address.
        user: String,
        /// The password; never shown by `Debug`.
        password: Secret<String>,
    },
    /// OAuth2 (XOAUTH2), a token fetched for each connection.
    OAuth2 {
        /// The account's address.
        user: String,
        /// Where tokens come from.
        tokens: Arc<dyn TokenProvider>,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .finish_non_exhaustive(),
            Credentials::OAuth2 { user, .. } => f
                .debug_struct("OAuth2")
                .field("user", user)
                .finish_non_exhaustive(),
        }
    }
}

impl Credentials {
    /// A user name and password.
    pub fn password(user: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials::Password {
            user: user.into(),
            password: Secret::new(password.into()),
        }
    }

    /// OAuth2 with tokens from `tokens` (a closure returning
    /// `Result<String, _>` will do).
    pub fn oauth2(user: impl Into<String>, tokens: impl TokenProvider + 'static) -> Credentials {
        Credentials::OAuth2 {
            user: user.into(),
            tokens: Arc::new(tokens),
        }
    }

    /// The session's credentials, fetching a token when needed.
    fn resolve(&self) -> Result<ClientCredentials, Error> {
        match self {
            Credentials::Password { user, password } => Ok(ClientCredentials::Password {
                username: user.clone(),
                password: password.clone(),
            }),
            Credentials::OAuth2 { user, tokens } => {
                let token = tokens
                    .access_token()
                    .map_err(|e| Error::Token(e.to_string()))?;
                Ok(ClientCredentials::OAuth2 {
                    username: user.clone(),
                    token: Secret::new(token),
                })
            }
        }
    }
}

/// Looks up a server's addresses for a [`Mailer`]: see
/// [`MailerBuilder::resolver`]. A closure
/// `Fn(&str) -> Result<Vec<IpAddr>, String>` will do.
pub trait HostResolver: Send + Sync {
    /// The addresses of `host`, most preferred first; an error says why in
    /// words.
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String>;
}

impl<F> HostResolver for F
where
    F: Fn(&str) -> Result<Vec<IpAddr>, String> + Send + Sync,
{
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        self(host)
    }
}

/// The DKIM signers of a mailer (none without the `dkim` feature).
#[cfg(feature = "dkim")]
pub(crate) type Signers = Arc<Vec<crate::dkim::DkimSigner>>;
#[cfg(not(feature = "dkim"))]
pub(crate) type Signers = NoSigners;

/// Without the `dkim` feature: nothing to sign with.
#[cfg(not(feature = "dkim"))]
#[derive(Debug, Clone, Default)]
pub(crate) struct NoSigners;

/// The message's bytes, signed by every signer while streaming (through a
/// temporary file) when there are any.
#[cfg_attr(not(feature = "dkim"), allow(clippy::unnecessary_wraps))]
pub(crate) fn message_body(
    signers: &Signers,
    message: OutgoingMessage,
) -> Result<Box<dyn Read + Send>, Error> {
    #[cfg(feature = "dkim")]
    if !signers.is_empty() {
        let signed = crate::dkim::sign(MessageReader::new(message), signers, crate::dkim::now())?;
        return Ok(Box::new(signed));
    }
    let _ = signers;
    Ok(Box::new(MessageReader::new(message)))
}

/// Makes an observer for each new connection (a transcript, say).
type ObserverFactory = Arc<dyn Fn() -> Box<dyn WireObserver> + Send + Sync>;

/// Sends mail: built from a provider preset, a server, or a local sink,
/// then [`send`](Mailer::send) as often as needed (each call opens a
/// connection; [`session`](Mailer::session) keeps one for several
/// messages, [`pool`](Mailer::pool) shares connections between threads).
///
/// ```no_run
/// use mailer::{Credentials, Mailer, Provider};
/// use mime_codec::{Mailbox, MessageBuilder};
///
/// let mailer = Mailer::provider(Provider::Qq)
///     .credentials(Credentials::password("me@qq.com", std::env::var("QQ_AUTH_CODE")?))
///     .build()?;
/// let message = MessageBuilder::new()
///     .from(Mailbox::address_only("me@qq.com")?)
///     .to(Mailbox::address_only("friend@163.com")?)
///     .subject("你好")
///     .text_body("从 Rust 发出。")
///     .build()?;
/// let report = mailer.send(message)?;
/// println!("queued as {:?}", report.queue_id);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Mailer {
    context: Context,
    credentials: Option<Credentials>,
    tls: TlsSettings,
    timeout: Duration,
    helo: Host,
    allow_plaintext_auth: bool,
    observer: Option<ObserverFactory>,
    signers: Signers,
    resolver: Option<Arc<dyn HostResolver>>,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.context.address())
            .field("security", &self.context.security)
            .field("credentials", &self.credentials)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The settings of a [`Mailer`] before it is built.
#[derive(Clone)]
pub struct MailerBuilder {
    host: String,
    port: u16,
    security: Security,
    provider: Option<Provider>,
    credentials: Option<Credentials>,
    tls: TlsSettings,
    tls_error: Option<String>,
    ca_given: bool,
    timeout: Duration,
    helo: Option<String>,
    allow_plaintext_auth: bool,
    observer: Option<ObserverFactory>,
    signers: Signers,
    resolver: Option<Arc<dyn HostResolver>>,
}

impl fmt::Debug for MailerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailerBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// How long to wait for the connection and each reply up to the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Mailer {
    /// A provider's submission server, port and security (Gmail, QQ, 163,
    /// ...): add [`credentials`](MailerBuilder::credentials).
    pub fn provider(provider: Provider) -> MailerBuilder {
        let s = provider.settings();
        let mut builder = MailerBuilder::new(s.host, s.port, s.security);
        builder.provider = Some(provider);
        builder
    }

    /// A server (a name or an IP address) on `port`, spoken to in
    /// `security`.
    pub fn server(host: impl Into<String>, port: u16, security: Security) -> MailerBuilder {
        let host = host.into();
        let provider = Provider::by_host(&host);
        let mut builder = MailerBuilder::new(host, port, security);
        builder.provider = provider;
        builder
    }

    /// A sink on this machine (127.0.0.1) on `port`, without TLS or login:
    /// `mailwire serve`, or a [`LocalSink`](crate::LocalSink).
    pub fn local(port: u16) -> MailerBuilder {
        MailerBuilder::new("127.0.0.1", port, Security::None)
    }

    /// Where and how this mailer connects, for [`Error::explain`].
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Sends `message`: its envelope from its addresses, its body streamed
    /// as it is encoded (an attachment read from chunks is never held
    /// whole). One connection, closed with QUIT afterwards.
    ///
    /// A message some recipients refused and others took is `Ok`: look at
    /// each one in [`DeliveryReport::recipients`].
    ///
    /// With [`dkim`](MailerBuilder::dkim) signers the message is signed on
    /// the way (spooled to a temporary file, so memory stays bounded).
    pub fn send(&self, message: OutgoingMessage) -> Result<DeliveryReport, Error> {
        let envelope = envelope(&message)?;
        let body = message_body(&self.signers, message)?;
        self.send_body(&envelope, body)
    }

    /// Sends a body already encoded (any `Read`) with `envelope`.
    pub fn send_body(&self, envelope: &Envelope, body: impl Read) -> Result<DeliveryReport, Error> {
        let mut session = self.session()?;
        let result = session.send_body(envelope, body);
        session.quit();
        result
    }

    /// Opens a connection for several messages in a row.
    pub fn session(&self) -> Result<Session, Error> {
        Ok(Session {
            client: Some(self.connect()?),
            signers: self.signers.clone(),
        })
    }

    /// Opens a connection, set up (greeting, EHLO, TLS and login as
    /// configured), for a caller that wants the adapter's client itself
    /// (its capabilities, its TLS details).
    pub fn connect(&self) -> Result<Client, Error> {
        let addresses = self.addresses()?;
        let builder = Client::builder(self.client_config()?)
            .tls(self.tls.clone())
            .connect_timeout(self.timeout)
            .addresses(addresses.iter().copied());
        let observer = self.observer.as_ref().map(|make| make());
        crate::greeting::connect(builder, observer, &self.context, &addresses)
    }

    /// The server's addresses from the [`resolver`](MailerBuilder::resolver)
    /// (empty without one, or for an IP address: the adapter connects to
    /// the host as given).
    pub(crate) fn addresses(&self) -> Result<Vec<IpAddr>, Error> {
        let host = self.context.host.trim_matches(|c| c == '[' || c == ']');
        let Some(resolver) = &self.resolver else {
            return Ok(Vec::new());
        };
        if host.parse::<IpAddr>().is_ok() {
            return Ok(Vec::new());
        }
        let unresolved = |reason: String| {
            Error::from(smtp_blocking::Error::Resolve {
                addr: self.context.address(),
                source: std::io::Error::other(reason),
            })
        };
        let addresses = resolver.resolve(host).map_err(unresolved)?;
        if addresses.is_empty() {
            return Err(unresolved("no address found".to_owned()));
        }
        Ok(addresses)
    }

    /// The session's configuration: EHLO name, TLS policy, timeouts and
    /// credentials (a token fetched now).
    pub(crate) fn client_config(&self) -> Result<ClientConfig, Error> {
        let mut config = ClientConfig::new(self.helo.clone())
            .with_tls(self.context.security.policy())
            .with_plaintext_auth(self.allow_plaintext_auth);
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
            *step = self.timeout;
        }
        if let Some(credentials) = &self.credentials {
            config = config.with_credentials(credentials.resolve()?);
        }
        Ok(config)
    }

    #[cfg(feature = "async")]
    pub(crate) fn tls_settings(&self) -> &TlsSettings {
        &self.tls
    }

    #[cfg(feature = "async")]
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.timeout
    }

    #[cfg(feature = "async")]
    pub(crate) fn signers(&self) -> &Signers {
        &self.signers
    }

    #[cfg(feature = "async")]
    pub(crate) fn make_observer(&self) -> Option<Box<dyn WireObserver>> {
        self.observer.as_ref().map(|make| make())
    }

    /// A pool of at most `max_connections` connections shared by threads.
    /// Credentials are resolved now: an OAuth2 token is fetched once.
    pub fn pool(&self, max_connections: usize) -> Result<MailerPool, Error> {
        let config = self.client_config()?;
        let addresses = self.addresses()?;
        let pool = smtp_blocking::Pool::new(
            &self.context.host,
            self.context.port,
            config,
            max_connections,
        )
        .with_tls(self.tls.clone())
        .with_connect_timeout(self.timeout)
        .with_addresses(addresses);
        Ok(MailerPool {
            pool,
            signers: self.signers.clone(),
        })
    }
}

impl MailerBuilder {
    fn new(host: impl Into<String>, port: u16, security: Security) -> MailerBuilder {
        MailerBuilder {
            host: host.into(),
            port,
            security,
            provider: None,
            credentials: None,
            tls: TlsSettings::new(),
            tls_error: None,
            ca_given: false,
            timeout: DEFAULT_TIMEOUT,
            helo: None,
            allow_plaintext_auth: false,
            observer: None,
            signers: Signers::default(),
            resolver: None,
        }
    }

    /// Logs in with these credentials.
    pub fn credentials(mut self, credentials: Credentials) -> MailerBuilder {
        self.credentials = Some(credentials);
        self
    }

    /// Speaks `security` instead; a provider's preset then takes that mode's
    /// usual port.
    pub fn security(mut self, security: Security) -> MailerBuilder {
        if self.provider.is_some() && security != self.security {
            self.port = security.default_port();
        }
        self.security = security;
        self
    }

    /// Another port.
    pub fn port(mut self, port: u16) -> MailerBuilder {
        self.port = port;
        self
    }

    /// TLS trust as given (for example
    /// `TlsSettings::new().dangerous_accept_invalid_certs()` in tests).
    pub fn tls(mut self, settings: TlsSettings) -> MailerBuilder {
        self.tls = settings;
        self
    }

    /// Also trusts the certificates of a PEM file: a private CA, or the
    /// server's own self-signed certificate (even CA:TRUE).
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> MailerBuilder {
        self.ca_given = true;
        match self.tls.clone().with_ca_file(path) {
            Ok(tls) => self.tls = tls,
            Err(e) => self.tls_error = Some(e.to_string()),
        }
        self
    }

    /// Trusts only the certificates of a PEM file.
    pub fn ca_file_only(mut self, path: impl AsRef<Path>) -> MailerBuilder {
        self.ca_given = true;
        match self.tls.clone().with_ca_file_only(path) {
            Ok(tls) => self.tls = tls,
            Err(e) => self.tls_error = Some(e.to_string()),
        }
        self
    }

    /// How long to wait for the connection and each reply before the body
    /// (the body keeps RFC 5321's longer limits); 30 seconds by default.
    pub fn timeout(mut self, timeout: Duration) -> MailerBuilder {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The name to give in EHLO; `localhost` by default (the library looks
    /// up no host name; the `mailwire` tool gives the machine's).
    pub fn helo(mut self, name: impl Into<String>) -> MailerBuilder {
        self.helo = Some(name.into());
        self
    }

    /// Lets a login cross a plaintext connection (no TLS, or opportunistic
    /// STARTTLS that did not happen). Off by default.
    pub fn allow_plaintext_auth(mut self, allow: bool) -> MailerBuilder {
        self.allow_plaintext_auth = allow;
        self
    }

    /// Shows each connection's dialogue to an observer made by `make` (for
    /// example a [`Transcript`](smtp_proto::transcript::Transcript)).
    pub fn observer(
        mut self,
        make: impl Fn() -> Box<dyn WireObserver> + Send + Sync + 'static,
    ) -> MailerBuilder {
        self.observer = Some(Arc::new(make));
        self
    }

    /// Looks the server's name up with `resolver` (before each connection)
    /// instead of the system's resolver: `mailwire send --dns HOST:PORT`
    /// passes one that asks that DNS server. The name stays the one TLS
    /// verifies; an IP address is not looked up. A pool looks the name up
    /// once, when it is made. The async forms (`send_on` and the others,
    /// with a runtime feature) call the resolver on the executor's thread.
    ///
    /// ```
    /// use mailer::{LocalSink, Mailer, Security};
    ///
    /// let sink = LocalSink::start()?;
    /// let port = sink.mailer().build()?.context().port;
    /// let mailer = Mailer::server("smtp.example.test", port, Security::None)
    ///     .resolver(|host: &str| match host {
    ///         "smtp.example.test" => Ok(vec![[127, 0, 0, 1].into()]),
    ///         _ => Err(format!("{host}: no such name")),
    ///     })
    ///     .build()?;
    /// mailer.connect()?.quit()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolver(mut self, resolver: impl HostResolver + 'static) -> MailerBuilder {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// Signs every message with DKIM using `signer` (call again to add
    /// more signatures, e.g. RSA and Ed25519). The message is spooled to an
    /// unlinked temporary file while it is hashed, so a message of any size
    /// is signed in bounded memory; the same code signs for `mailwire send`
    /// and `mailwire bulk`.
    ///
    /// ```
    /// use mailer::dkim::DkimSigner;
    /// use mailer::LocalSink;
    /// use mailwire_auth::dkim::SigningKey;
    /// use mime_codec::{Mailbox, MessageBuilder};
    ///
    /// let key = SigningKey::ed25519_from_seed(&[42; 32]);
    /// let signer = DkimSigner::new(key, "example.com", "mail2026")?;
    /// let sink = LocalSink::start()?;
    /// let mailer = sink.mailer().dkim(signer).build()?;
    /// let message = MessageBuilder::new()
    ///     .from(Mailbox::address_only("me@example.com")?)
    ///     .to(Mailbox::address_only("you@example.net")?)
    ///     .subject("signed")
    ///     .text_body("This arrives with a DKIM-Signature.")
    ///     .build()?;
    /// let report = mailer.send(message)?;
    /// assert_eq!(report.recipients.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "dkim")]
    pub fn dkim(mut self, signer: crate::dkim::DkimSigner) -> MailerBuilder {
        Arc::make_mut(&mut self.signers).push(signer);
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<Mailer, Error> {
        if let Some(reason) = self.tls_error {
            return Err(Error::Settings(reason));
        }
        let helo_text = self.helo.unwrap_or_else(|| "localhost".to_owned());
        let helo = Host::parse(&helo_text)
            .map_err(|e| Error::Settings(format!("bad EHLO name {helo_text:?}: {e}")))?;
        Ok(Mailer {
            context: Context {
                host: self.host,
                port: self.port,
                security: self.security,
                provider: self.provider,
                ca_given: self.ca_given,
                user_given: self.credentials.is_some(),
            },
            credentials: self.credentials,
            tls: self.tls,
            timeout: self.timeout,
            helo,
            allow_plaintext_auth: self.allow_plaintext_auth,
            observer: self.observer,
            signers: self.signers,
            resolver: self.resolver,
        })
    }
}

/// One connection for several messages; QUIT when dropped or
/// [`quit`](Session::quit) is called.
#[derive(Debug)]
pub struct Session {
    client: Option<Client>,
    signers: Signers,
}

impl Session {
    /// Sends one message over this connection.
    pub fn send(&mut self, message: OutgoingMessage) -> Result<DeliveryReport, Error> {
        let envelope = envelope(&message)?;
        let body = message_body(&self.signers, message)?;
        self.send_body(&envelope, body)
    }

    /// Sends a body already encoded with `envelope`.
    pub fn send_body(
        &mut self,
        envelope: &Envelope,
        body: impl Read,
    ) -> Result<DeliveryReport, Error> {
        let Some(client) = self.client.as_mut() else {
            return Err(Error::Settings("the session is closed".into()));
        };
        Ok(client.send(envelope, body)?)
    }

    /// The connection's client (capabilities, TLS details).
    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }

    /// Says QUIT and closes (waiting for the reply).
    pub fn quit(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.quit();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.quit();
    }
}

/// Connections shared by threads: see [`Mailer::pool`].
#[derive(Debug)]
pub struct MailerPool {
    pool: smtp_blocking::Pool,
    signers: Signers,
}

impl MailerPool {
    /// Sends `message` over a pooled connection, waiting while every
    /// connection is busy.
    pub fn send(&self, message: OutgoingMessage) -> Result<DeliveryReport, Error> {
        let envelope = envelope(&message)?;
        let body = message_body(&self.signers, message)?;
        Ok(self.pool.send(&envelope, body)?)
    }

    /// Says QUIT on every idle connection.
    pub fn close(&self) {
        self.pool.close();
    }
}
