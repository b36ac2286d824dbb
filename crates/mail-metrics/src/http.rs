//! A small HTTP/1.1 endpoint: `GET /metrics` (the registry in the text
//! format) and `GET /healthz` (200 `ok`, or 503 and the reason the
//! caller's health check gives).
//!
//! One request per connection, answered then closed. What a hostile or
//! broken client can hold is bounded: a connection past
//! [`EndpointOptions::max_connections`] is answered 503 at once; a request
//! head must arrive whole within [`EndpointOptions::read_timeout`] (a
//! client that trickles or never sends is cut off) and within
//! [`EndpointOptions::max_request_bytes`] (else 431); a client that does
//! not read its answer is cut off after
//! [`EndpointOptions::write_timeout`].

use crate::registry::Registry;
use crate::text::CONTENT_TYPE;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The health check: `Ok(())` when the server is well, else why not.
pub type HealthCheck = dyn Fn() -> Result<(), String> + Send + Sync;

/// The endpoint's limits.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EndpointOptions {
    /// Connections served at once; more get 503 at once. Default 16.
    pub max_connections: usize,
    /// The whole request head must arrive within this. Default 5 s.
    pub read_timeout: Duration,
    /// A client that does not read its answer for this long is cut off.
    /// Default 10 s.
    pub write_timeout: Duration,
    /// The longest request head. Default 8 KiB.
    pub max_request_bytes: usize,
}

impl Default for EndpointOptions {
    fn default() -> Self {
        EndpointOptions {
            max_connections: 16,
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            max_request_bytes: 8 * 1024,
        }
    }
}

impl EndpointOptions {
    /// Sets [`max_connections`](Self::max_connections) (at least 1).
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets [`read_timeout`](Self::read_timeout).
    pub fn with_read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = d;
        self
    }

    /// Sets [`write_timeout`](Self::write_timeout).
    pub fn with_write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d;
        self
    }

    /// Sets [`max_request_bytes`](Self::max_request_bytes).
    pub fn with_max_request_bytes(mut self, n: usize) -> Self {
        self.max_request_bytes = n;
        self
    }
}

/// The running endpoint; dropping it (or [`shutdown`](Self::shutdown))
/// stops accepting and waits for the accept loop.
#[derive(Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    registry: Registry,
    health: Box<HealthCheck>,
    options: EndpointOptions,
    active: AtomicUsize,
}

impl Endpoint {
    /// Binds `addr` and serves `registry` and `health` on it from a thread
    /// of its own (one more per connection, up to the cap).
    ///
    /// ```no_run
    /// use mail_metrics::{Endpoint, EndpointOptions, MailMetrics};
    /// let metrics = MailMetrics::new();
    /// let endpoint = Endpoint::bind(
    ///     "127.0.0.1:9325",
    ///     metrics.registry().clone(),
    ///     || Ok(()),
    ///     EndpointOptions::default(),
    /// )?;
    /// println!("metrics on http://{}/metrics", endpoint.local_addr());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(
        addr: impl ToSocketAddrs,
        registry: Registry,
        health: impl Fn() -> Result<(), String> + Send + Sync + 'static,
        options: EndpointOptions,
    ) -> io::Result<Endpoint> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            registry,
            health: Box::new(health),
            options,
            active: AtomicUsize::new(0),
        });
        let accept = std::thread::Builder::new()
            .name("metrics-accept".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || accept_loop(&listener, &shared, &stop)
            })?;
        Ok(Endpoint {
            addr,
            stop,
            accept: Some(accept),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting. Connections being served finish on their own
    /// (each within its timeouts).
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if self.accept.is_some() {
            self.stop_now();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            // EMFILE and the like: wait a little rather than spin.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = stream.set_write_timeout(Some(shared.options.write_timeout));
        let previous = shared.active.fetch_add(1, Ordering::SeqCst);
        if previous >= shared.options.max_connections {
            shared.active.fetch_sub(1, Ordering::SeqCst);
            // Answered from the accept thread, so the write must be quick:
            // the answer fits the socket buffer of a fresh connection.
            let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
            refuse(stream);
            continue;
        }
        let spawned = std::thread::Builder::new()
            .name("metrics-conn".into())
            .spawn({
                let shared = Arc::clone(shared);
                move || {
                    serve(stream, &shared);
                    shared.active.fetch_sub(1, Ordering::SeqCst);
                }
            });
        if spawned.is_err() {
            shared.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn refuse(mut stream: TcpStream) {
    let _ = write_response(
        &mut stream,
        503,
        "text/plain; charset=utf-8",
        b"busy\n",
        false,
    );
    let _ = stream.shutdown(Shutdown::Write);
}

/// What a request head said, or why it could not be read.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    Request {
        method: String,
        path: String,
    },
    TooLarge,
    Malformed,
    /// Timed out or closed before a whole head arrived.
    Gone,
}

fn read_head(stream: &mut TcpStream, options: &EndpointOptions) -> Head {
    let deadline = Instant::now() + options.read_timeout;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let now = Instant::now();
        let Some(left) = deadline
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())
        else {
            return Head::Gone;
        };
        let _ = stream.set_read_timeout(Some(left));
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Head::Gone,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(head) = classify(&buf, options.max_request_bytes) {
            return head;
        }
    }
}

/// What the bytes received so far make of a request head, or `None` while
/// it is incomplete and under `max` bytes. Deterministic in the bytes:
/// however they arrive in pieces, the first answer is the same.
fn classify(buf: &[u8], max: usize) -> Option<Head> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    // Only the first `max` bytes count: a head that completes past them is
    // too large however it was split.
    let seen = &buf[..buf.len().min(max)];
    match request.parse(seen) {
        Ok(httparse::Status::Complete(_)) => Some(match (request.method, request.path) {
            (Some(method), Some(path)) => Head::Request {
                method: method.to_owned(),
                path: path.to_owned(),
            },
            _ => Head::Malformed,
        }),
        Ok(httparse::Status::Partial) if buf.len() < max => None,
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
            Some(Head::TooLarge)
        }
        Err(_) => Some(Head::Malformed),
    }
}

pub(crate) fn classify_for_fuzzing(bytes: &[u8], max: usize) -> Option<(String, usize)> {
    classify(bytes, max).map(|head| {
        let kept = match &head {
            Head::Request { method, path } => method.len() + path.len(),
            _ => 0,
        };
        (format!("{head:?}"), kept)
    })
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let text = "text/plain; charset=utf-8";
    let (status, content_type, body, head_only) = match read_head(&mut stream, &shared.options) {
        Head::Gone => return,
        Head::TooLarge => (431, text, b"request too large\n".to_vec(), false),
        Head::Malformed => (400, text, b"bad request\n".to_vec(), false),
        Head::Request { method, path } => {
            let head_only = method == "HEAD";
            if method != "GET" && !head_only {
                (405, text, b"only GET and HEAD\n".to_vec(), false)
            } else {
                let path = path.split('?').next().unwrap_or_default();
                match path {
                    "/metrics" => (
                        200,
                        CONTENT_TYPE,
                        shared.registry.render().into_bytes(),
                        head_only,
                    ),
                    "/healthz" => match (shared.health)() {
                        Ok(()) => (200, text, b"ok\n".to_vec(), head_only),
                        Err(reason) => (503, text, format!("{reason}\n").into_bytes(), head_only),
                    },
                    _ => (
                        404,
                        text,
                        b"not found: try /metrics or /healthz\n".to_vec(),
                        head_only,
                    ),
                }
            }
        }
    };
    let _ = write_response(&mut stream, status, content_type, &body, head_only);
    let _ = stream.shutdown(Shutdown::Write);
    // Drain what the client still sends (bounded by the read timeout) so
    // that closing does not reset the connection before it reads the
    // answer.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 1024];
    for _ in 0..16 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn write_response(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n",
        body.len()
    );
    if status == 405 {
        head.push_str("Allow: GET, HEAD\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()
}
