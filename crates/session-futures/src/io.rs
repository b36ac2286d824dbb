//! One connection's stream, plain or under TLS, and the loop that feeds a
//! session its client's bytes, its deadlines and the server's shutdown: the
//! async twin of `session_server::drive`.
//!
//! Buffers stay bounded: a write is awaited whole (within the write
//! timeout) before anything more is read, so a client that sends commands
//! but never reads their answers only ever has one answer (one POP3 chunk,
//! one IMAP FETCH step) waiting on it, and is dropped when the write
//! timeout passes.

use futures_rustls::server::TlsStream;
use futures_rustls::TlsAcceptor;
use futures_util::future::Either;
use futures_util::{AsyncReadExt, AsyncWriteExt};
use session_server::ServerOptions;
use smtp_futures::{timeout, Runtime};
use smtp_proto::TlsInfo;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// How long closing (a TLS close_notify, the FIN) may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(1);

/// Bytes read from the client at once.
const READ_BUFFER: usize = 16 * 1024;

/// Completes when the server shuts down.
pub(crate) type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

type Plain<R> = <R as Runtime>::TcpStream;

/// The socket, plain or under TLS (`None` once closed, or after a failed
/// handshake took it).
type Stream<R> = Either<Plain<R>, Box<TlsStream<Plain<R>>>>;

/// A client's stream, plain or under TLS, with the timeouts of the
/// server's options.
pub(crate) struct Io<R: Runtime> {
    stream: Option<Stream<R>>,
    tls: Option<Arc<rustls::ServerConfig>>,
    write_timeout: Duration,
    handshake_timeout: Duration,
}

/// What a wait for the client ended with.
pub(crate) enum Woke {
    Read(io::Result<usize>),
    Timeout,
    Stop,
}

fn gone() -> io::Error {
    io::ErrorKind::NotConnected.into()
}

impl<R: Runtime> Io<R> {
    /// A freshly accepted stream, served with these options (TLS at once
    /// when they ask for implicit TLS: see [`Io::accept`]).
    pub(crate) fn new<C>(socket: Plain<R>, options: &ServerOptions<C>) -> Io<R> {
        let _ = R::set_nodelay(&socket);
        Io {
            stream: Some(Either::Left(socket)),
            tls: options.tls.clone(),
            write_timeout: options.write_timeout,
            handshake_timeout: options.handshake_timeout,
        }
    }

    /// Starts serving: the handshake first when the options ask for
    /// implicit TLS (what it learned is returned).
    pub(crate) async fn accept<C>(
        &mut self,
        options: &ServerOptions<C>,
    ) -> io::Result<Option<TlsInfo>> {
        if options.implicit_tls {
            return self.start_tls().await.map(Some);
        }
        Ok(None)
    }

    /// Upgrades to TLS (STLS, STARTTLS or implicit TLS) within the
    /// handshake timeout.
    pub(crate) async fn start_tls(&mut self) -> io::Result<TlsInfo> {
        let Some(config) = self.tls.clone() else {
            return Err(io::Error::other("TLS was asked for without a certificate"));
        };
        let Some(Either::Left(plain)) = self.stream.take() else {
            return Err(io::Error::other("TLS is already active"));
        };
        let deadline = Instant::now() + self.handshake_timeout;
        let tls = match timeout::<R, _>(deadline, TlsAcceptor::from(config).accept(plain)).await {
            Some(tls) => tls?,
            None => return Err(io::ErrorKind::TimedOut.into()),
        };
        let info = session_server::tls_info(tls.get_ref().1);
        self.stream = Some(Either::Right(Box::new(tls)));
        Ok(info)
    }

    /// Writes these bytes and flushes them; fails when the client has not
    /// taken them within the write timeout.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = self.stream.as_mut().ok_or_else(gone)?;
        let deadline = Instant::now() + self.write_timeout;
        let written = timeout::<R, _>(deadline, async {
            stream.write_all(bytes).await?;
            stream.flush().await
        })
        .await;
        match written {
            Some(result) => result,
            None => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Waits for bytes (into `buf`), the deadline or `stop`, whichever
    /// comes first; `stop` is spent once it fired.
    pub(crate) async fn wait(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
        stop: &mut Option<StopSignal>,
    ) -> Woke {
        let Some(stream) = self.stream.as_mut() else {
            return Woke::Read(Err(gone()));
        };
        let mut sleep = pin!(async move {
            match deadline {
                Some(deadline) => R::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        });
        let mut read = pin!(stream.read(buf));
        let woke = poll_fn(|cx| {
            if let Some(signal) = stop.as_mut() {
                if signal.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Woke::Stop);
                }
            }
            if let Poll::Ready(result) = read.as_mut().poll(cx) {
                return Poll::Ready(Woke::Read(result));
            }
            sleep.as_mut().poll(cx).map(|()| Woke::Timeout)
        })
        .await;
        if matches!(woke, Woke::Stop) {
            *stop = None;
        }
        woke
    }

    /// Ends the connection after what was written (a TLS close_notify),
    /// waiting at most a second for a client that does not read.
    pub(crate) async fn close(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            let _ = timeout::<R, _>(Instant::now() + CLOSE_LIMIT, stream.close()).await;
        }
    }
}

/// One connection's session, as [`drive`] sees it (the async
/// `session_server::Driven`): the protocols differ in what they carry out,
/// not in how they are fed. Work that may block (the authenticator, the
/// Maildir) runs off the executor inside these futures.
pub(crate) trait AsyncDriven<R: Runtime>: Send {
    /// The stream the session speaks over.
    fn io(&mut self) -> &mut Io<R>;
    /// Carries out everything the session asks, in order; `true` once it
    /// has closed.
    fn drain(&mut self) -> impl Future<Output = io::Result<bool>> + Send;
    /// When the session next wants [`AsyncDriven::timeout`].
    fn deadline(&self) -> Option<Instant>;
    /// The session's deadline has come.
    fn timeout(&mut self, now: Instant) -> impl Future<Output = ()> + Send;
    /// Bytes from the client.
    fn received(&mut self, now: Instant, bytes: &[u8]) -> impl Future<Output = ()> + Send;
    /// The client closed its side (or is gone).
    fn eof(&mut self, now: Instant);
    /// The server is stopping: the session should say goodbye and close.
    fn shutdown(&mut self);
}

/// Feeds a session what its client sends and what time brings until it
/// closes; `stop` makes it say goodbye.
pub(crate) async fn drive<R: Runtime>(
    conn: &mut impl AsyncDriven<R>,
    mut stop: Option<StopSignal>,
) -> io::Result<()> {
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        if conn.drain().await? {
            return Ok(());
        }
        let deadline = conn.deadline();
        if deadline.is_some_and(|d| d <= Instant::now()) {
            conn.timeout(Instant::now()).await;
            continue;
        }
        match conn.io().wait(&mut buf, deadline, &mut stop).await {
            Woke::Stop => conn.shutdown(),
            Woke::Timeout => conn.timeout(Instant::now()).await,
            Woke::Read(Ok(0)) => conn.eof(Instant::now()),
            Woke::Read(Ok(n)) => {
                conn.received(Instant::now(), buf.get(..n).unwrap_or_default())
                    .await
            }
            Woke::Read(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Woke::Read(Err(e)) if smtp_adapter::is_peer_gone(&e) => conn.eof(Instant::now()),
            Woke::Read(Err(e)) => return Err(e),
        }
    }
}

/// Runs blocking work (the authenticator, Maildir reads and writes) on the
/// `blocking` crate's thread pool, which smol and async-std use for the
/// same purpose, and waits for it without holding up the executor.
pub(crate) async fn unblock<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    blocking::unblock(work).await
}
