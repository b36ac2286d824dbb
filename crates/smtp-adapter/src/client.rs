//! The options of a client connection and the builder that collects them:
//! the same for every adapter, which adds only how to open the connection
//! ([`Connect`]).

use crate::{Error, TlsSettings, Upgrade};
use smtp_proto::{ClientConfig, WireObserver};
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::time::Duration;

/// How long a connection attempt waits for TCP by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything about a connection before it is opened.
#[non_exhaustive]
pub struct ConnectOptions {
    /// The session's configuration (TLS policy, credentials, timeouts).
    pub config: ClientConfig,
    /// TLS settings for STARTTLS or implicit TLS.
    pub tls: Option<TlsSettings>,
    /// How long each address tried may take to accept the TCP connection.
    pub connect_timeout: Duration,
    /// Sees every byte of the dialogue.
    pub observer: Option<Box<dyn WireObserver>>,
    /// The addresses to connect to, in order, instead of looking the host
    /// name up (empty: the adapter resolves it). The name stays the TLS
    /// name.
    pub addresses: Vec<IpAddr>,
}

impl ConnectOptions {
    /// The options for `config`: no TLS settings, the default connect
    /// timeout, no observer.
    pub fn new(config: ClientConfig) -> ConnectOptions {
        ConnectOptions {
            config,
            tls: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            observer: None,
            addresses: Vec::new(),
        }
    }

    /// How to start TLS with `host` (its SNI name and the name its
    /// certificate must carry), when TLS settings were given.
    pub fn upgrade(&self, host: &str) -> Result<Option<Upgrade>, Error> {
        self.tls
            .as_ref()
            .map(|settings| settings.upgrade(host))
            .transpose()
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("config", &self.config)
            .field("tls", &self.tls)
            .field("connect_timeout", &self.connect_timeout)
            .field("observed", &self.observer.is_some())
            .field("addresses", &self.addresses)
            .finish()
    }
}

/// How an adapter opens a connection from [`ConnectOptions`]: a blocking
/// adapter returns the client, an async one a future of it.
pub trait Connect {
    /// What [`ClientBuilder::connect`] returns.
    type Output;
    /// Connects to `host` on `port` and sets the session up.
    fn connect(options: ConnectOptions, host: &str, port: u16) -> Self::Output;
}

/// The options of a connection before it is opened; each adapter's
/// `Client::builder` returns one (`smtp_blocking::ClientBuilder`,
/// `smtp_smol::ClientBuilder`, ...).
pub struct ClientBuilder<C: Connect> {
    options: ConnectOptions,
    adapter: PhantomData<fn() -> C>,
}

impl<C: Connect> fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientBuilder").field(&self.options).finish()
    }
}

impl<C: Connect> ClientBuilder<C> {
    /// A builder for `config`.
    pub fn new(config: ClientConfig) -> Self {
        ClientBuilder {
            options: ConnectOptions::new(config),
            adapter: PhantomData,
        }
    }

    /// TLS settings for STARTTLS or implicit TLS, as the configuration's
    /// [`TlsPolicy`](smtp_proto::TlsPolicy) says. Without them only
    /// `TlsPolicy::None` (or `Opportunistic` against a server without
    /// STARTTLS) can connect.
    pub fn tls(mut self, settings: TlsSettings) -> Self {
        self.options.tls = Some(settings);
        self
    }

    /// How long to wait for the TCP connection (each address tried gets
    /// this long); 30 seconds by default.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// Shows every byte of the dialogue, from the greeting on, to
    /// `observer` (for example a
    /// [`Transcript`](smtp_proto::transcript::Transcript)).
    pub fn observer(mut self, observer: impl WireObserver + 'static) -> Self {
        self.options.observer = Some(Box::new(observer));
        self
    }

    /// Connects to these addresses, in order, instead of looking the host
    /// name up: for a caller that resolved it itself (through a DNS server
    /// of its choice, say). The name given to [`connect`](Self::connect)
    /// stays the SNI name and the name the certificate must carry.
    pub fn addresses(mut self, addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        self.options.addresses = addresses.into_iter().collect();
        self
    }

    /// Connects to `host` (a name or an IP address; with TLS also the SNI
    /// name and the name the certificate must be valid for) on `port`, and
    /// runs the greeting, EHLO, STARTTLS and AUTH as configured.
    pub fn connect(self, host: &str, port: u16) -> C::Output {
        C::connect(self.options, host, port)
    }
}
