//! Harness for the adapter tests: the three adapters behind one interface
//! ([`Kind`]), a handler that works for every server, a test CA, the three
//! security modes, and a time-bounded runner.
//!
//! Every scenario is written once and run over each client × server
//! pairing; what differs per adapter is only how a server starts and stops
//! and how a client's future is driven.

pub mod peers;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use smtp_adapter::sasl::{AuthRequest, ClientCredentials};
use smtp_adapter::{
    CertificateDer, Collect, Connection, Decision, Error, Limits, Message, PrivateKeyDer,
    RootCertStore, ServerTls, TlsSettings, Transaction,
};
use smtp_futures::Runtime;
use smtp_proto::{
    ClientConfig, ClientTimeouts, DeliveryReport, EnhancedStatus, Envelope, ForwardPath, Host,
    Mailbox, Mechanism, RcptParams, Recipient, Reply, ReplyCode, Secret, ServerConfig, TlsInfo,
    TlsPolicy,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Connects from `local` (any port) to `addr`, with a 10 s read timeout.
pub fn connect_from(local: [u8; 4], addr: SocketAddr) -> std::net::TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from((local, 0)).into())
        .expect("binding a loopback source address");
    socket.connect(&addr.into()).unwrap();
    let stream: std::net::TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Runs `test` on its own thread and fails if it takes longer than `limit`.
pub fn bounded(limit: Duration, test: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        test();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => thread.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within {limit:?}"),
    }
}

/// One of the three adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `smtp-blocking`: threads.
    Blocking,
    /// `smtp-async-std`.
    AsyncStd,
    /// `smtp-smol`.
    Smol,
}

/// Every adapter.
pub const KINDS: [Kind; 3] = [Kind::Blocking, Kind::AsyncStd, Kind::Smol];

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain TCP.
    Plain,
    /// STARTTLS, required by both sides.
    StartTls,
    /// TLS from the first byte.
    Implicit,
}

/// Every security mode.
pub const SECURITIES: [Security; 3] = [Security::Plain, Security::StartTls, Security::Implicit];

/// The same timeout for every step of a client session.
pub fn timeouts(each: Duration) -> ClientTimeouts {
    ClientTimeouts {
        greeting: each,
        ehlo: each,
        starttls: each,
        auth: each,
        mail: each,
        rcpt: each,
        data_init: each,
        data_block: each,
        data_end: each,
        quit: each,
    }
}

/// `user` / `secret`.
pub fn credentials() -> ClientCredentials {
    ClientCredentials::Password {
        username: "user".into(),
        password: Secret::new("secret".into()),
    }
}

/// A client as `client.test` for `security`, 10 s per step.
pub fn client_config(security: Security) -> ClientConfig {
    let policy = match security {
        Security::Plain => TlsPolicy::None,
        Security::StartTls => TlsPolicy::Required,
        Security::Implicit => TlsPolicy::Implicit,
    };
    ClientConfig::new(Host::parse("client.test").unwrap())
        .with_tls(policy)
        .with_timeouts(timeouts(Duration::from_secs(10)))
}

/// A server as `mx.test` for `security`, with AUTH PLAIN (allowed over
/// plaintext only on a plain server) and a 10 s idle timeout.
pub fn server_config(security: Security) -> ServerConfig {
    let config = ServerConfig::new("mx.test")
        .with_idle_timeout(Duration::from_secs(10))
        .with_auth(vec![Mechanism::Plain, Mechanism::Login]);
    match security {
        Security::Plain => config.with_plaintext_auth(true),
        Security::StartTls => config.with_starttls(true).with_require_tls(true),
        Security::Implicit => config,
    }
}

/// A mailbox from a literal of the tests.
pub fn mailbox(s: &str) -> Mailbox {
    Mailbox::parse(s).unwrap()
}

/// From sender@example.com to each of `to`.
pub fn envelope(to: &[&str]) -> Envelope {
    to.iter().fold(
        Envelope::new(mailbox("sender@example.com").into()),
        |e, to| e.with_recipient(Recipient::new(mailbox(to))),
    )
}

/// A test CA and a certificate for localhost and 127.0.0.1 it issued.
#[derive(Debug, Clone)]
pub struct Pki {
    ca: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    key: Arc<Vec<u8>>,
    /// The CA, as PEM.
    pub ca_pem: String,
    /// The certificate, as PEM.
    pub cert_pem: String,
    /// The key, as PEM.
    pub key_pem: String,
}

/// Each CA gets a name of its own: a client that trusts one must not find
/// another's certificates issued by a CA of the same name.
static CA_SERIAL: AtomicUsize = AtomicUsize::new(0);

impl Pki {
    /// Generates a new CA and server certificate.
    pub fn new() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(
            DnType::CommonName,
            format!(
                "mailwire adapter test CA {}",
                CA_SERIAL.fetch_add(1, Ordering::Relaxed)
            ),
        );
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let leaf = params.signed_by(&key, &issuer).unwrap();
        Pki {
            ca_pem: ca.pem(),
            cert_pem: leaf.pem(),
            key_pem: key.serialize_pem(),
            ca: ca.der().clone(),
            leaf: leaf.der().clone(),
            key: Arc::new(key.serialize_der()),
        }
    }

    /// The client's settings: this CA only.
    pub fn client(&self) -> TlsSettings {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        TlsSettings::new().with_root_store(roots)
    }

    /// The server's certificate, for `security` (`None` for plain).
    pub fn server(&self, security: Security) -> Option<ServerTls> {
        let key = PrivateKeyDer::try_from(self.key.as_ref().clone()).unwrap();
        let tls = ServerTls::from_der(vec![self.leaf.clone()], key).unwrap();
        match security {
            Security::Plain => None,
            Security::StartTls => Some(tls),
            Security::Implicit => Some(tls.implicit()),
        }
    }
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}

/// A message, the user that sent it, and the connection it came over.
pub type Received = (Message, Option<String>, SocketAddr);

/// A handler for every adapter: keeps each message, refuses recipients
/// whose local part is `nobody`, accepts `user` / `secret`, and answers
/// each message with a queue id `Q<n>`.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    /// The messages, with the user that sent each and the connection's
    /// address.
    pub messages: Arc<Mutex<Vec<Received>>>,
    /// The async handler waits this long before answering the first
    /// message (to test cancellation).
    pub first_delay: Option<Duration>,
    delayed: Arc<AtomicBool>,
    /// What `connect` and `disconnect` were told.
    pub lifecycle: Arc<Lifecycle>,
    /// Connections from this address are refused at connect (`554 5.7.1`).
    pub refuse_from: Option<std::net::IpAddr>,
}

/// The connections a [`Recorder`] was told of.
#[derive(Debug, Default)]
pub struct Lifecycle {
    /// `connect` calls.
    pub connected: AtomicUsize,
    /// `disconnect` calls.
    pub disconnected: AtomicUsize,
    /// The local address of each `connect`.
    pub locals: Mutex<Vec<Option<SocketAddr>>>,
}

impl Lifecycle {
    /// Connections told to `connect` and not yet to `disconnect`.
    pub fn open(&self) -> isize {
        self.connected.load(Ordering::SeqCst) as isize
            - self.disconnected.load(Ordering::SeqCst) as isize
    }
}

impl Recorder {
    /// The messages so far.
    pub fn messages(&self) -> Vec<Message> {
        let messages = self.messages.lock().unwrap();
        messages.iter().map(|(m, _, _)| m.clone()).collect()
    }

    /// The users that sent the messages so far.
    pub fn users(&self) -> Vec<Option<String>> {
        let messages = self.messages.lock().unwrap();
        messages.iter().map(|(_, u, _)| u.clone()).collect()
    }

    /// The distinct connections the messages so far came over.
    pub fn connections(&self) -> usize {
        let messages = self.messages.lock().unwrap();
        let peers: std::collections::HashSet<SocketAddr> =
            messages.iter().map(|(_, _, p)| *p).collect();
        peers.len()
    }

    /// A recorder that refuses connections from `ip` at connect.
    pub fn refusing(ip: std::net::IpAddr) -> Recorder {
        Recorder {
            refuse_from: Some(ip),
            ..Recorder::default()
        }
    }

    /// A recorder whose async handler answers the first message only after
    /// `delay`.
    pub fn with_first_delay(delay: Duration) -> Recorder {
        Recorder {
            first_delay: Some(delay),
            ..Recorder::default()
        }
    }

    fn connect(&self, conn: &Connection) -> Result<(), Reply> {
        self.lifecycle.connected.fetch_add(1, Ordering::SeqCst);
        self.lifecycle.locals.lock().unwrap().push(conn.local);
        if Some(conn.peer.ip()) == self.refuse_from {
            return Err(Reply::new(
                ReplyCode::TRANSACTION_FAILED,
                EnhancedStatus::new(5, 7, 1),
                ["Client host refused"],
            )
            .unwrap());
        }
        Ok(())
    }

    fn disconnect(&self) {
        self.lifecycle.disconnected.fetch_add(1, Ordering::SeqCst);
    }

    fn rcpt(&self, to: &ForwardPath) -> Decision {
        if to.to_string().contains("nobody@") {
            let reply = Reply::new(
                ReplyCode::MAILBOX_UNAVAILABLE,
                EnhancedStatus::new(5, 1, 1),
                ["No such user"],
            )
            .unwrap();
            return Decision::Reject(reply);
        }
        Decision::Accept
    }

    fn keep(&self, conn: &Connection, message: &Message) -> Decision {
        let mut messages = self.messages.lock().unwrap();
        messages.push((message.clone(), conn.authenticated.clone(), conn.peer));
        let text = format!("Ok: queued as Q{}", messages.len());
        Decision::AcceptWith(
            Reply::new(ReplyCode::OK, EnhancedStatus::new(2, 0, 0), [text]).unwrap(),
        )
    }

    fn check(&self, request: &AuthRequest) -> Decision {
        if request.username() == "user" && request.verify_password("secret") {
            Decision::Accept
        } else {
            Decision::auth_invalid()
        }
    }
}

impl Recorder {
    /// The sink of one message: kept with the connection's user and
    /// address at its end.
    fn sink(&self, conn: &Connection, transaction: &Transaction, delay: Option<Duration>) -> Keep {
        let this = self.clone();
        let conn = conn.clone();
        Keep {
            inner: Collect::new(transaction, move |message| this.keep(&conn, &message)),
            delay,
        }
    }
}

/// The [`Recorder`]'s sink: gathers the content as it streams in; the
/// async form may wait before it answers.
#[derive(Debug)]
pub struct Keep {
    inner: Collect,
    delay: Option<Duration>,
}

impl smtp_blocking::Sink for Keep {
    fn write(&mut self, chunk: &[u8]) -> Result<(), Reply> {
        smtp_blocking::Sink::write(&mut self.inner, chunk)
    }
    fn finish(self) -> Decision {
        smtp_blocking::Sink::finish(self.inner)
    }
    fn abort(self) {}
}

impl smtp_futures::Sink for Keep {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), Reply> {
        smtp_futures::Sink::write(&mut self.inner, chunk).await
    }
    async fn finish(self) -> Decision {
        if let Some(delay) = self.delay {
            // async-io's timer runs under every executor tested here.
            smol::Timer::after(delay).await;
        }
        smtp_futures::Sink::finish(self.inner).await
    }
    async fn abort(self) {}
}

impl smtp_blocking::Handler for Recorder {
    type Sink = Keep;

    fn connect(&self, conn: &Connection) -> Result<(), Reply> {
        Recorder::connect(self, conn)
    }
    fn disconnect(&self, _: &Connection) {
        Recorder::disconnect(self);
    }
    fn rcpt_to(&self, _: &Connection, to: &ForwardPath, _: &RcptParams) -> Decision {
        self.rcpt(to)
    }
    fn data_start(&self, conn: &Connection, transaction: &Transaction) -> Result<Keep, Reply> {
        Ok(self.sink(conn, transaction, None))
    }
    fn auth(&self, _: &Connection, request: &AuthRequest) -> Decision {
        self.check(request)
    }
}

impl smtp_futures::Handler for Recorder {
    type Sink = Keep;

    async fn connect(&self, conn: &Connection) -> Result<(), Reply> {
        Recorder::connect(self, conn)
    }
    fn disconnect(&self, _: &Connection) {
        Recorder::disconnect(self);
    }
    async fn rcpt_to(&self, _: &Connection, to: &ForwardPath, _: &RcptParams) -> Decision {
        self.rcpt(to)
    }
    async fn data_start(
        &self,
        conn: &Connection,
        transaction: &Transaction,
    ) -> Result<Keep, Reply> {
        // The first message only waits.
        let delay = self
            .first_delay
            .filter(|_| !self.delayed.swap(true, Ordering::SeqCst));
        Ok(self.sink(conn, transaction, delay))
    }
    async fn auth(&self, _: &Connection, request: &AuthRequest) -> Decision {
        self.check(request)
    }
}

/// A server of one adapter, stopped (with a one-second grace) on drop.
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it received.
    pub recorder: Recorder,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// Stops the server and waits for its connections to end.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

const GRACE: Duration = Duration::from_secs(1);

/// Starts a server of adapter `kind` on 127.0.0.1 with `config` and, for
/// TLS, `tls`.
pub fn start_server(kind: Kind, config: ServerConfig, tls: Option<ServerTls>) -> RunningServer {
    start_server_with(kind, config, tls, Recorder::default())
}

/// [`start_server`] with a recorder of the caller's.
pub fn start_server_with(
    kind: Kind,
    config: ServerConfig,
    tls: Option<ServerTls>,
    recorder: Recorder,
) -> RunningServer {
    start_server_limited(kind, config, tls, recorder, Limits::default())
}

/// [`start_server_with`] under the adapter's `limits`.
pub fn start_server_limited(
    kind: Kind,
    config: ServerConfig,
    tls: Option<ServerTls>,
    recorder: Recorder,
    limits: Limits,
) -> RunningServer {
    let handler = recorder.clone();
    let addr = "127.0.0.1:0";
    let (addr, stop): (SocketAddr, Box<dyn FnOnce() + Send>) = match kind {
        Kind::Blocking => {
            let server = match tls {
                Some(tls) => smtp_blocking::Server::bind_tls(addr, config, tls, handler),
                None => smtp_blocking::Server::bind(addr, config, handler),
            }
            .unwrap()
            .with_limits(limits);
            let handle = server.spawn().unwrap();
            (
                handle.local_addr(),
                Box::new(move || handle.shutdown(GRACE)),
            )
        }
        Kind::AsyncStd => {
            let server = match tls {
                Some(tls) => smtp_async_std::Server::bind_tls(addr, config, tls, handler),
                None => smtp_async_std::Server::bind(addr, config, handler),
            }
            .unwrap()
            .with_limits(limits);
            let handle = server.spawn();
            (
                handle.local_addr(),
                Box::new(move || async_std::task::block_on(handle.shutdown(GRACE))),
            )
        }
        Kind::Smol => {
            let server = match tls {
                Some(tls) => smtp_smol::Server::bind_tls(addr, config, tls, handler),
                None => smtp_smol::Server::bind(addr, config, handler),
            }
            .unwrap()
            .with_limits(limits);
            let handle = server.spawn();
            (
                handle.local_addr(),
                Box::new(move || smol::block_on(handle.shutdown(GRACE))),
            )
        }
    };
    RunningServer {
        addr,
        recorder,
        stop: Some(stop),
    }
}

/// What a client session did: the TLS in use, and one outcome per message.
#[derive(Debug)]
pub struct Outcome {
    /// The handshake's outcome, when TLS was used.
    pub tls: Option<TlsInfo>,
    /// Each message's report or error, in order.
    pub results: Vec<Result<DeliveryReport, Error>>,
}

/// Connects a client of adapter `kind` to `addr` with `config` (TLS
/// trusting `tls` when given), sends every message over that one
/// connection, and quits.
pub fn run_client(
    kind: Kind,
    addr: SocketAddr,
    config: ClientConfig,
    tls: Option<TlsSettings>,
    messages: &[(Envelope, Vec<u8>)],
) -> Result<Outcome, Error> {
    match kind {
        Kind::Blocking => {
            let mut builder =
                smtp_blocking::Client::builder(config).connect_timeout(Duration::from_secs(5));
            if let Some(tls) = tls {
                builder = builder.tls(tls);
            }
            let mut client = builder.connect(&addr.ip().to_string(), addr.port())?;
            let results = messages
                .iter()
                .map(|(envelope, body)| client.send(envelope, &body[..]))
                .collect();
            let tls = client.tls().cloned();
            client.quit()?;
            Ok(Outcome { tls, results })
        }
        Kind::AsyncStd => async_std::task::block_on(run_async_client::<smtp_async_std::AsyncStd>(
            addr, config, tls, messages,
        )),
        Kind::Smol => smol::block_on(run_async_client::<smtp_smol::Smol>(
            addr, config, tls, messages,
        )),
    }
}

/// [`run_client`] for an async runtime.
pub async fn run_async_client<R: Runtime>(
    addr: SocketAddr,
    config: ClientConfig,
    tls: Option<TlsSettings>,
    messages: &[(Envelope, Vec<u8>)],
) -> Result<Outcome, Error> {
    let mut builder =
        smtp_futures::Client::<R>::builder(config).connect_timeout(Duration::from_secs(5));
    if let Some(tls) = tls {
        builder = builder.tls(tls);
    }
    let mut client = builder.connect(&addr.ip().to_string(), addr.port()).await?;
    let mut results = Vec::new();
    for (envelope, body) in messages {
        results.push(client.send(envelope, &body[..]).await);
    }
    let tls = client.tls().cloned();
    client.quit().await?;
    Ok(Outcome { tls, results })
}

/// Runs `future` on the executor of `kind` (an async one).
pub fn block_on<T>(kind: Kind, future: impl std::future::Future<Output = T>) -> T {
    match kind {
        Kind::AsyncStd => async_std::task::block_on(future),
        Kind::Smol | Kind::Blocking => smol::block_on(future),
    }
}

/// The examples of `docs/adapters.md`, compiled and run as doc tests so
/// that the guide stays true to the code.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/adapters.md")]
pub struct AdaptersGuide;
