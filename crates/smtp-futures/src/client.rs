//! The async SMTP client: one connection, many messages.

use crate::driver::{Driver, Next};
use crate::runtime::{timeout, Runtime};
use futures_io::AsyncRead;
use futures_util::AsyncReadExt as _;
use smtp_adapter::{Connect, ConnectOptions, Error, TlsSettings, Upgrade};
use smtp_proto::{
    Capabilities, ClientConfig, ClientError, ClientEvent, ClientSession, DeliveryReport, Envelope,
    TlsInfo, TlsPolicy, WireObserver,
};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::{Duration, Instant};

/// How much of the body is read and handed to the session at a time.
const BODY_CHUNK: usize = 64 * 1024;

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
            let addrs = resolve::<R>(&host, port).await?;
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
    session: ClientSession,
    capabilities: Capabilities,
    tls: Option<TlsInfo>,
    /// A send or quit started and has not finished (its future may have
    /// been dropped).
    busy: bool,
    /// An event met while the body was being written (the final reply can
    /// arrive while the last bytes go out), for the send to take next.
    pending: VecDeque<ClientEvent>,
}

impl<R: Runtime> fmt::Debug for Client<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("driver", &self.driver)
            .field("tls", &self.tls)
            .field("busy", &self.busy)
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
        loop {
            let event = next_event(&mut driver, &mut session)
                .await
                .map_err(|e| e.or_no_greeting(implicit))?;
            match event {
                Some(ClientEvent::Ready {
                    capabilities, tls, ..
                }) => {
                    return Ok(Client {
                        driver,
                        session,
                        capabilities,
                        tls,
                        busy: false,
                        pending: VecDeque::new(),
                    })
                }
                Some(_) => {}
                None => return Err(Error::closed_during_setup(peer)),
            }
        }
    }

    /// The server's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.driver.peer()
    }

    /// What the server offered in its EHLO (or HELO) reply.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The TLS handshake's outcome (protocol, cipher, the name checked and
    /// whether the certificate verified), when TLS is in use.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// The connection can take another message: open, ready, and no send
    /// was dropped half-way.
    pub fn is_usable(&self) -> bool {
        !self.busy && !self.driver.is_closed() && self.session.is_ready()
    }

    /// Before an operation: a connection whose last operation was dropped
    /// half-way is closed instead.
    async fn begin(&mut self) -> Result<(), Error> {
        let peer = self.peer_addr();
        if self.busy {
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
        let peer = self.peer_addr();
        self.session
            .send(envelope.clone())
            .map_err(|error| Error::session(peer, error))?;
        // From here until the final reply, a dropped future leaves a
        // transaction half done.
        self.busy = true;
        let result = loop {
            let event = match self.pending.pop_front() {
                Some(event) => Some(event),
                None => next_event(&mut self.driver, &mut self.session).await?,
            };
            match event {
                Some(ClientEvent::SendBody) => self.stream_body(&mut body).await?,
                Some(ClientEvent::Delivered(report)) => break Ok(report),
                Some(ClientEvent::TransactionFailed(report)) => {
                    break Err(Error::Rejected {
                        peer,
                        report: Box::new(report),
                    })
                }
                Some(_) => {}
                None => return Err(Error::Closed { peer }),
            }
        };
        self.busy = false;
        result
    }

    /// Says QUIT, waits for the reply (bounded by the QUIT timeout) and
    /// closes the connection.
    pub async fn quit(mut self) -> Result<(), Error> {
        let peer = self.peer_addr();
        if self.busy || self.driver.is_closed() {
            self.driver.close().await;
            return Ok(());
        }
        self.session
            .quit()
            .map_err(|error| Error::session(peer, error))?;
        while next_event(&mut self.driver, &mut self.session)
            .await?
            .is_some()
        {}
        Ok(())
    }

    /// Reads what the server sent while the connection sat idle (a 421
    /// before it closed, the end of the stream), so that
    /// [`is_usable`](Self::is_usable) is true only for a connection still
    /// open.
    pub(crate) async fn take_what_arrived(&mut self) {
        if !self.busy && !self.driver.is_closed() {
            // An error here has closed the driver, which is what matters.
            let _ = self.driver.flush(&mut self.session).await;
        }
    }

    async fn stream_body(&mut self, body: &mut (impl AsyncRead + Unpin)) -> Result<(), Error> {
        let mut chunk = vec![0; BODY_CHUNK];
        loop {
            let n = match body.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.driver.close().await;
                    return Err(Error::Body(e));
                }
            };
            let bytes = chunk.get(..n).unwrap_or_default();
            if let Err(error) = self.session.send_body(bytes) {
                return Err(self.fail(error).await);
            }
            self.write_pending().await?;
        }
        if let Err(error) = self.session.end_body() {
            return Err(self.fail(error).await);
        }
        self.write_pending().await
    }

    /// Writes what the session queued. The session failing ends the send;
    /// another event (the final reply, when it came while the last bytes
    /// were written) is kept for [`send`](Self::send).
    async fn write_pending(&mut self) -> Result<(), Error> {
        match self.driver.flush(&mut self.session).await? {
            Some(ClientEvent::Failed(error)) => Err(self.fail(error).await),
            Some(event) => {
                self.pending.push_back(event);
                Ok(())
            }
            None => Ok(()),
        }
    }

    async fn fail(&mut self, error: ClientError) -> Error {
        self.driver.close().await;
        Error::session(self.peer_addr(), error)
    }
}

/// The session's next event; its failure as an error (the connection is
/// then closed); `None` once the connection closed.
async fn next_event<R: Runtime>(
    driver: &mut Driver<R>,
    session: &mut ClientSession,
) -> Result<Option<ClientEvent>, Error> {
    loop {
        match driver.next(session).await? {
            Next::Event(ClientEvent::Failed(error)) => {
                driver.close().await;
                return Err(Error::session(driver.peer(), error));
            }
            Next::Event(event) => return Ok(Some(event)),
            Next::Stop => {}
            Next::Closed => return Ok(None),
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
