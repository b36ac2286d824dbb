//! A blocking SMTP client: one connection, many messages.

use crate::driver::{Driver, Next};
use crate::tls::{Stream, TlsSettings, Upgrade};
use crate::Error;
use smtp_adapter::{Connect, ConnectOptions};
use smtp_proto::{
    Capabilities, ClientConfig, ClientError, ClientEvent, ClientSession, DeliveryReport, Envelope,
    TlsInfo, TlsPolicy, WireObserver,
};
use std::fmt;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How much of the body is read and handed to the session at a time.
const BODY_CHUNK: usize = 64 * 1024;

/// Opens blocking connections for [`ClientBuilder`].
#[derive(Debug)]
pub struct Blocking;

impl Connect for Blocking {
    type Output = Result<Client, Error>;

    fn connect(options: ConnectOptions, host: &str, port: u16) -> Result<Client, Error> {
        let upgrade = options.upgrade(host)?;
        Client::open(
            (host, port),
            options.config,
            options.connect_timeout,
            upgrade,
            options.observer,
        )
    }
}

/// The options of a connection before it is opened: see
/// [`Client::builder`].
pub type ClientBuilder = smtp_adapter::ClientBuilder<Blocking>;

/// A connection to an SMTP server, set up (greeting and EHLO done) and ready
/// to send messages.
///
/// [`connect`](Self::connect) speaks plain TCP: its configuration must use
/// [`TlsPolicy::None`], or [`TlsPolicy::Opportunistic`] against a server
/// that does not offer STARTTLS. [`connect_tls`](Self::connect_tls) does
/// STARTTLS (`Opportunistic`, `Required`) or implicit TLS (`Implicit`).
///
/// ```no_run
/// use smtp_blocking::Client;
/// use smtp_proto::{ClientConfig, Envelope, Host, Mailbox, Recipient, TlsPolicy};
/// use std::time::Duration;
///
/// let config = ClientConfig::new(Host::parse("client.example").unwrap()).with_tls(TlsPolicy::None);
/// let mut client = Client::connect("127.0.0.1:2525", config, Duration::from_secs(10))?;
/// let envelope = Envelope::new(Mailbox::parse("a@example.com").unwrap().into())
///     .with_recipient(Recipient::new(Mailbox::parse("b@example.org").unwrap()));
/// let report = client.send(&envelope, &b"Subject: hi\r\n\r\nHello\r\n"[..])?;
/// println!("queued as {:?}", report.queue_id);
/// client.quit()?;
/// # Ok::<(), smtp_blocking::Error>(())
/// ```
#[derive(Debug)]
pub struct Client {
    driver: Driver,
    session: ClientSession,
    capabilities: Capabilities,
    tls: Option<TlsInfo>,
    /// The two body buffers of `stream_body`, kept for the next message.
    buffers: [Vec<u8>; 2],
}

impl Client {
    /// Connects (trying each resolved address within `connect_timeout`),
    /// then runs the greeting and EHLO until the session is ready.
    ///
    /// Plain TCP: a session that asks for TLS ends with
    /// [`Error::TlsNotConfigured`].
    pub fn connect(
        addr: impl ToSocketAddrs + fmt::Debug,
        config: ClientConfig,
        connect_timeout: Duration,
    ) -> Result<Client, Error> {
        Client::open(addr, config, connect_timeout, None, None)
    }

    /// Connects to `host` (a name or an IP address) on `port`, with TLS as
    /// `config.tls` says: STARTTLS for `Opportunistic` and `Required`, a
    /// handshake right after connecting for `Implicit` (port 465). `host` is
    /// the SNI name and the name the certificate must be valid for.
    ///
    /// ```no_run
    /// use smtp_blocking::{Client, TlsSettings};
    /// use smtp_proto::{ClientConfig, Host, TlsPolicy};
    /// use std::time::Duration;
    ///
    /// let config = ClientConfig::new(Host::parse("client.example").unwrap())
    ///     .with_tls(TlsPolicy::Required);
    /// let client = Client::connect_tls(
    ///     "smtp.example.com", 587, config, &TlsSettings::new(), Duration::from_secs(10),
    /// )?;
    /// assert!(client.tls().is_some());
    /// # Ok::<(), smtp_blocking::Error>(())
    /// ```
    pub fn connect_tls(
        host: &str,
        port: u16,
        config: ClientConfig,
        tls: &TlsSettings,
        connect_timeout: Duration,
    ) -> Result<Client, Error> {
        let upgrade = tls.upgrade(host)?;
        Client::open((host, port), config, connect_timeout, Some(upgrade), None)
    }

    /// Sets up a connection with every option: TLS settings, the connect
    /// timeout, and a [`WireObserver`] that sees the whole dialogue (for
    /// example a [`Transcript`](smtp_proto::transcript::Transcript)).
    ///
    /// ```no_run
    /// use smtp_blocking::{Client, TlsSettings};
    /// use smtp_proto::transcript::Transcript;
    /// use smtp_proto::{ClientConfig, Host, TlsPolicy};
    /// use std::time::Duration;
    ///
    /// let config = ClientConfig::new(Host::parse("client.example").unwrap())
    ///     .with_tls(TlsPolicy::Implicit);
    /// let client = Client::builder(config)
    ///     .tls(TlsSettings::new())
    ///     .connect_timeout(Duration::from_secs(10))
    ///     .observer(Transcript::client(|line| eprintln!("{line}")))
    ///     .connect("smtp.example.com", 465)?;
    /// client.quit()?;
    /// # Ok::<(), smtp_blocking::Error>(())
    /// ```
    pub fn builder(config: ClientConfig) -> ClientBuilder {
        ClientBuilder::new(config)
    }

    fn open(
        addr: impl ToSocketAddrs + fmt::Debug,
        config: ClientConfig,
        connect_timeout: Duration,
        upgrade: Option<Upgrade>,
        observer: Option<Box<dyn WireObserver>>,
    ) -> Result<Client, Error> {
        let addrs: Vec<SocketAddr> =
            addr.to_socket_addrs()
                .map(Iterator::collect)
                .map_err(|source| Error::Resolve {
                    addr: format!("{addr:?}"),
                    source,
                })?;
        let mut last = None;
        let mut stream = None;
        for candidate in addrs {
            match TcpStream::connect_timeout(&candidate, connect_timeout) {
                Ok(s) => {
                    stream = Some((s, candidate));
                    break;
                }
                Err(e) => last = Some((candidate, e)),
            }
        }
        let (stream, peer) = match (stream, last) {
            (Some(found), _) => found,
            (None, Some((addr, source))) => return Err(Error::Connect { addr, source }),
            (None, None) => {
                return Err(Error::Resolve {
                    addr: format!("{addr:?}"),
                    source: io::Error::new(io::ErrorKind::NotFound, "no address found"),
                })
            }
        };
        let implicit = config.tls == TlsPolicy::Implicit;
        if implicit && upgrade.is_none() {
            return Err(Error::TlsNotConfigured { peer });
        }
        let configure = |source| Error::Io {
            action: "configuring the connection to",
            peer,
            source,
        };
        stream.set_nodelay(true).map_err(configure)?;
        // A server that stops reading must not block a write forever.
        let write_timeout = config.timeouts.data_block.max(Duration::from_secs(1));
        stream
            .set_write_timeout(Some(write_timeout))
            .map_err(configure)?;
        let mut session = ClientSession::new(config, Instant::now());
        let mut driver = Driver::new(Stream::Plain(stream), peer, None, upgrade);
        driver.set_observer(observer);
        if implicit {
            driver.start_tls(&mut session, true)?;
        }
        loop {
            match next_event(&mut driver, &mut session).map_err(|e| e.or_no_greeting(implicit))? {
                Some(ClientEvent::Ready {
                    capabilities, tls, ..
                }) => {
                    return Ok(Client {
                        driver,
                        session,
                        capabilities,
                        tls,
                        buffers: [Vec::new(), Vec::new()],
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

    /// The connection can take another message.
    pub fn is_usable(&self) -> bool {
        !self.driver.is_closed() && self.session.is_ready()
    }

    /// Reads, without waiting, what the server sent while the connection
    /// sat idle (a 421 before an idle timeout, or the end of the stream),
    /// so that [`is_usable`](Self::is_usable) tells the truth before the
    /// next message.
    pub fn take_what_arrived(&mut self) {
        match self.driver.take_arrived(&mut self.session) {
            Ok(Some(ClientEvent::Failed(_))) | Err(_) => self.driver.close(),
            Ok(_) => {}
        }
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
    pub fn send(
        &mut self,
        envelope: &Envelope,
        mut body: impl Read,
    ) -> Result<DeliveryReport, Error> {
        let peer = self.peer_addr();
        if self.driver.is_closed() {
            return Err(Error::Closed { peer });
        }
        self.session
            .send(envelope.clone())
            .map_err(|error| Error::session(peer, error))?;
        loop {
            match next_event(&mut self.driver, &mut self.session)? {
                Some(ClientEvent::SendBody) => self.stream_body(&mut body)?,
                Some(ClientEvent::Delivered(report)) => return Ok(report),
                Some(ClientEvent::TransactionFailed(report)) => {
                    return Err(Error::Rejected {
                        peer,
                        report: Box::new(report),
                    })
                }
                Some(_) => {}
                None => return Err(Error::Closed { peer }),
            }
        }
    }

    /// Says QUIT, waits for the reply (bounded by the QUIT timeout) and
    /// closes the connection.
    pub fn quit(mut self) -> Result<(), Error> {
        let peer = self.peer_addr();
        if self.driver.is_closed() {
            return Ok(());
        }
        self.session
            .quit()
            .map_err(|error| Error::session(peer, error))?;
        while next_event(&mut self.driver, &mut self.session)?.is_some() {}
        Ok(())
    }

    /// Streams the body one chunk ahead: a chunk is written once the next
    /// read returned more, so the last chunk and the end of data leave in
    /// one write (a small message is one write in all).
    fn stream_body(&mut self, body: &mut impl Read) -> Result<(), Error> {
        let [mut current, mut next] = std::mem::take(&mut self.buffers);
        current.resize(BODY_CHUNK, 0);
        next.resize(BODY_CHUNK, 0);
        let result = self.stream_chunks(body, &mut current, &mut next);
        self.buffers = [current, next];
        result
    }

    fn stream_chunks(
        &mut self,
        body: &mut impl Read,
        current: &mut Vec<u8>,
        next: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let mut len = self.read_body(body, current)?;
        while len > 0 {
            let next_len = self.read_body(body, next)?;
            let bytes = current.get(..len).unwrap_or_default();
            self.session
                .send_body(bytes)
                .map_err(|error| self.fail(error))?;
            if next_len > 0 {
                self.write_pending()?;
            }
            std::mem::swap(current, next);
            len = next_len;
        }
        self.session.end_body().map_err(|error| self.fail(error))?;
        self.write_pending()
    }

    /// One read of the body (0 at its end); a failed read closes the
    /// connection, since SMTP cannot abandon a body half sent.
    fn read_body(&mut self, body: &mut impl Read, buf: &mut [u8]) -> Result<usize, Error> {
        loop {
            match body.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.driver.close();
                    return Err(Error::Body(e));
                }
            }
        }
    }

    /// Writes what the session queued; an event met on the way (the session
    /// failing) ends the send.
    fn write_pending(&mut self) -> Result<(), Error> {
        let peer = self.peer_addr();
        match self.driver.flush(&mut self.session)? {
            None => Ok(()),
            Some(ClientEvent::Failed(error)) => {
                self.driver.close();
                Err(Error::session(peer, error))
            }
            // While a body streams, replies only update the transaction
            // (a refused BDAT chunk is reported at the end of data).
            Some(_) => Ok(()),
        }
    }

    fn fail(&mut self, error: ClientError) -> Error {
        self.driver.close();
        Error::session(self.peer_addr(), error)
    }
}

impl Drop for Client {
    /// A client dropped without [`quit`](Client::quit) (after an error the
    /// caller returned early on, say) still says QUIT, as RFC 5321
    /// §4.1.1.10 asks, and ends TLS with close_notify; it does not wait for
    /// the reply.
    fn drop(&mut self) {
        if self.driver.is_closed() {
            return;
        }
        if self.session.quit().is_ok() {
            let _ = self.driver.flush(&mut self.session);
        }
        self.driver.close();
    }
}

/// The session's next event; its failure as an error (the connection is
/// then closed); `None` once the connection closed.
fn next_event(
    driver: &mut Driver,
    session: &mut ClientSession,
) -> Result<Option<ClientEvent>, Error> {
    loop {
        match driver.next(session)? {
            Next::Event(ClientEvent::Failed(error)) => {
                driver.close();
                return Err(Error::session(driver.peer(), error));
            }
            Next::Event(event) => return Ok(Some(event)),
            Next::Idle => {}
            Next::Closed => return Ok(None),
        }
    }
}
