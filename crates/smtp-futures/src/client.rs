//! The async SMTP client: one connection, many messages.

use crate::driver::Driver;
use crate::runtime::{timeout, Runtime};
use futures_io::AsyncRead;
use futures_util::AsyncReadExt as _;
use smtp_adapter::{ClientCore, Connect, ConnectOptions, Error, Setup, Step, TlsSettings, Upgrade};
use smtp_proto::{ClientConfig, ClientSession, DeliveryReport, Envelope, TlsPolicy, WireObserver};
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::{Duration, Instant};

/// Opens connections on the runtime `R` for [`ClientBuilder`]: the future
/// it returns owns everything it needs.
pub struct Connector<R: Runtime>(PhantomData<fn() -> R>);

impl<R: Runtime> fmt::Debug for Connector<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Connector")
    }
}

impl<R: Runtime> Connect for Connector<R> {
    type Output = Pin<Box<dyn Future<Output = Result<Client<R>, Error>> + Send>>;

    fn connect(options: ConnectOptions, host: &str, port: u16) -> Self::Output {
        let host = host.to_owned();
        Box::pin(async move {
            let upgrade = options.upgrade(&host)?;
            let addrs = if options.addresses.is_empty() {
                resolve::<R>(&host, port).await?
            } else {
                options
                    .addresses
                    .iter()
                    .map(|ip| std::net::SocketAddr::new(*ip, port))
                    .collect()
            };
            Client::open(
                &addrs,
                options.config,
                options.connect_timeout,
                upgrade,
                options.observer,
            )
            .await
        })
    }
}

/// The options of a connection before it is opened: see
/// [`Client::builder`]. `connect` returns a future.
pub type ClientBuilder<R> = smtp_adapter::ClientBuilder<Connector<R>>;

/// A connection to an SMTP server, set up (greeting and EHLO done) and ready
/// to send messages; generic over the [`Runtime`] (use the aliases of
/// `smtp-smol` or `smtp-async-std`).
///
/// [`connect`](Self::connect) speaks plain TCP; [`connect_tls`](Self::connect_tls)
/// does STARTTLS (`Opportunistic`, `Required`) or implicit TLS (`Implicit`)
/// as `config.tls` says.
///
/// **Cancellation**: every method may be dropped mid-way (a timeout, a
/// `select`). A [`send`](Self::send) or [`quit`](Self::quit) dropped before
/// it finished leaves the session in the middle of a command; the client
/// then counts as unusable ([`is_usable`](Self::is_usable) is false), and
/// the next call closes the connection and returns [`Error::Closed`]. No
/// half-written command is ever followed by another one.
pub struct Client<R: Runtime> {
    driver: Driver<R>,
    core: ClientCore,
}

impl<R: Runtime> fmt::Debug for Client<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("driver", &self.driver)
            .field("tls", &self.core.tls())
            .field("busy", &self.core.is_busy())
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> Client<R> {
    /// Connects to `addr` within `connect_timeout`, then runs the greeting
    /// and EHLO until the session is ready.
    ///
    /// Plain TCP: a session that asks for TLS ends with
    /// [`Error::TlsNotConfigured`].
    pub async fn connect(
        addr: SocketAddr,
        config: ClientConfig,
        connect_timeout: Duration,
    ) -> Result<Client<R>, Error> {
        Client::open(&[addr], config, connect_timeout, None, None).await
    }

    /// Connects to `host` (a name or an IP address) on `port`, with TLS as
    /// `config.tls` says: STARTTLS for `Opportunistic` and `Required`, a
    /// handshake right after connecting for `Implicit` (port 465). `host` is
    /// the SNI name and the name the certificate must be valid for.
    pub async fn connect_tls(
        host: &str,
        port: u16,
        config: ClientConfig,
        tls: &TlsSettings,
        connect_timeout: Duration,
    ) -> Result<Client<R>, Error> {
        Client::builder(config)
            .tls(tls.clone())
            .connect_timeout(connect_timeout)
            .connect(host, port)
            .await
    }

    /// Sets up a connection with every option: TLS settings, the connect
    /// timeout, and a [`WireObserver`] that sees the whole dialogue.
    pub fn builder(config: ClientConfig) -> ClientBuilder<R> {
        ClientBuilder::new(config)
    }

    async fn open(
        addrs: &[SocketAddr],
        config: ClientConfig,
        connect_timeout: Duration,
        upgrade: Option<Upgrade>,
        observer: Option<Box<dyn WireObserver>>,
    ) -> Result<Client<R>, Error> {
        let (socket, peer) = connect_any::<R>(addrs, connect_timeout).await?;
        let implicit = config.tls == TlsPolicy::Implicit;
        if implicit && upgrade.is_none() {
            return Err(Error::TlsNotConfigured { peer });
        }
        R::set_nodelay(&socket).map_err(|source| Error::Io {
            action: "configuring the connection to",
            peer,
            source,
        })?;
        // A server that stops reading must not block a write forever.
        let write_timeout = config.timeouts.data_block.max(Duration::from_secs(1));
        let mut session = ClientSession::new(config, Instant::now());
        let mut driver = Driver::<R>::new(socket, peer, upgrade, write_timeout);
        driver.set_observer(observer);
        if implicit {
            driver.start_tls(&mut session, true).await?;
        }
        let mut setup = Setup::new(session, peer, implicit);
        let core = loop {
            let next = driver.next(setup.session()).await?;
            setup = match setup.heard(next)? {
                Ok(core) => break core,
                Err(setup) => setup,
            };
        };
        Ok(Client { driver, core })
    }

    smtp_adapter::client_getters!();

    /// Before an operation: a connection whose last operation was dropped
    /// half-way is closed instead.
    async fn begin(&mut self) -> Result<(), Error> {
        let peer = self.peer_addr();
        if self.core.is_busy() {
            self.driver.close().await;
        }
        if self.driver.is_closed() {
            return Err(Error::Closed { peer });
        }
        Ok(())
    }

    /// Sends one message: the envelope, then the body read from `body` in
    /// chunks of 64 KiB (dot-stuffed or BDAT-framed by the core), then waits
    /// for the final reply.
    ///
    /// Set [`Envelope::size`] when it is known: a message above the server's
    /// SIZE is then refused before anything is sent. A refusal by the server
    /// is [`Error::Rejected`] and the connection stays usable; a report with
    /// some recipients refused and others accepted is `Ok` (look at
    /// [`DeliveryReport::recipients`]).
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        mut body: impl AsyncRead + Unpin,
    ) -> Result<DeliveryReport, Error> {
        self.begin().await?;
        let driver = &mut self.driver;
        let mut sending = self.core.send(envelope)?;
        loop {
            let done = match sending.step() {
                Step::Wait => {
                    let next = driver.next(sending.session()).await?;
                    sending.heard(next)
                }
                Step::Read(buf) => match read_body(&mut body, buf).await {
                    Ok(n) => sending.body_read(n),
                    Err(e) => Some(Step::Fail(Error::Body(e))),
                },
                Step::Flush => {
                    let event = driver.flush(sending.session()).await?;
                    sending.flushed(event)
                }
                done => Some(done),
            };
            match done {
                Some(Step::Fail(error)) => {
                    driver.close().await;
                    return Err(error);
                }
                Some(Step::Done(result)) => return result,
                _ => {}
            }
        }
    }

    /// Says QUIT, waits for the reply (bounded by the QUIT timeout) and
    /// closes the connection.
    pub async fn quit(mut self) -> Result<(), Error> {
        if self.core.quit(self.driver.is_closed())? {
            loop {
                let next = self.driver.next(self.core.session()).await?;
                if !self.core.quitting(next)? {
                    break;
                }
            }
        }
        self.driver.close().await;
        Ok(())
    }

    /// Reads what the server sent while the connection sat idle (a 421
    /// before it closed, the end of the stream), so that
    /// [`is_usable`](Self::is_usable) is true only for a connection still
    /// open.
    pub(crate) async fn take_what_arrived(&mut self) {
        if !self.core.is_busy() && !self.driver.is_closed() {
            // An error here has closed the driver, which is what matters.
            let _ = self.driver.flush(self.core.session()).await;
        }
    }
}

/// One read of the body (0 at its end), retried when interrupted.
async fn read_body(body: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match body.read(buf).await {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// The addresses of `host`: itself when it is an IP address.
pub(crate) async fn resolve<R: Runtime>(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    if let Ok(ip) = host
        .trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
    {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    R::resolve(host, port)
        .await
        .map_err(|source| Error::Resolve {
            addr: format!("{host}:{port}"),
            source,
        })
}

/// Tries each address in turn, each within `limit`.
async fn connect_any<R: Runtime>(
    addrs: &[SocketAddr],
    limit: Duration,
) -> Result<(R::TcpStream, SocketAddr), Error> {
    let mut last = None;
    for &addr in addrs {
        let attempt = timeout::<R, _>(Instant::now() + limit, R::connect(addr)).await;
        match attempt.unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into())) {
            Ok(socket) => return Ok((socket, addr)),
            Err(source) => last = Some(Error::Connect { addr, source }),
        }
    }
    Err(last.unwrap_or_else(|| Error::Resolve {
        addr: format!("{addrs:?}"),
        source: io::Error::new(io::ErrorKind::NotFound, "no address found"),
    }))
}

impl<R: Runtime> smtp_adapter::Pooled for Client<R> {
    fn is_usable(&self) -> bool {
        Client::is_usable(self)
    }
}
