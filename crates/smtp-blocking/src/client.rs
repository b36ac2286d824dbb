//! A blocking SMTP client: one connection, many messages.

use crate::driver::Driver;
use crate::tls::{Stream, TlsSettings, Upgrade};
use crate::Error;
use smtp_adapter::{ClientCore, Connect, ConnectOptions, Setup, Step};
use smtp_proto::{
    ClientConfig, ClientEvent, ClientSession, DeliveryReport, Envelope, TlsPolicy, WireObserver,
};
use std::fmt;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Opens blocking connections for [`ClientBuilder`].
#[derive(Debug)]
pub struct Blocking;

impl Connect for Blocking {
    type Output = Result<Client, Error>;

    fn connect(options: ConnectOptions, host: &str, port: u16) -> Result<Client, Error> {
        let upgrade = options.upgrade(host)?;
        if !options.addresses.is_empty() {
            let addrs: Vec<SocketAddr> = options
                .addresses
                .iter()
                .map(|ip| SocketAddr::new(*ip, port))
                .collect();
            return Client::open(
                &addrs[..],
                options.config,
                options.connect_timeout,
                upgrade,
                options.observer,
            );
        }
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
    core: ClientCore,
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
        let mut setup = Setup::new(session, peer, implicit);
        let core = loop {
            let next = driver.next(setup.session())?;
            setup = match setup.heard(next)? {
                Ok(core) => break core,
                Err(setup) => setup,
            };
        };
        Ok(Client { driver, core })
    }

    smtp_adapter::client_getters!();

    /// Reads, without waiting, what the server sent while the connection
    /// sat idle (a 421 before an idle timeout, or the end of the stream),
    /// so that [`is_usable`](Self::is_usable) tells the truth before the
    /// next message.
    pub fn take_what_arrived(&mut self) {
        match self.driver.take_arrived(self.core.session()) {
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
        if self.core.is_busy() {
            // An earlier send failed half-way: never reuse that session.
            self.driver.close();
        }
        if self.driver.is_closed() {
            return Err(Error::Closed {
                peer: self.peer_addr(),
            });
        }
        let driver = &mut self.driver;
        let mut sending = self.core.send(envelope)?;
        loop {
            let done = match sending.step() {
                Step::Wait => {
                    let next = driver.next(sending.session())?;
                    sending.heard(next)
                }
                Step::Read(buf) => match read_body(&mut body, buf) {
                    Ok(n) => sending.body_read(n),
                    Err(e) => Some(Step::Fail(Error::Body(e))),
                },
                Step::Flush => {
                    let event = driver.flush(sending.session())?;
                    sending.flushed(event)
                }
                done => Some(done),
            };
            match done {
                Some(Step::Fail(error)) => {
                    driver.close();
                    return Err(error);
                }
                Some(Step::Done(result)) => return result,
                _ => {}
            }
        }
    }

    /// Says QUIT, waits for the reply (bounded by the QUIT timeout) and
    /// closes the connection.
    pub fn quit(mut self) -> Result<(), Error> {
        if self.core.quit(self.driver.is_closed())? {
            loop {
                let next = self.driver.next(self.core.session())?;
                if !self.core.quitting(next)? {
                    break;
                }
            }
        }
        self.driver.close();
        Ok(())
    }
}

/// One read of the body (0 at its end), retried when interrupted.
fn read_body(body: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match body.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
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
        if self.core.quit(false).unwrap_or(false) {
            let _ = self.driver.flush(self.core.session());
        }
        self.driver.close();
    }
}
impl smtp_adapter::Pooled for Client {
    fn is_usable(&self) -> bool {
        Client::is_usable(self)
    }
}
