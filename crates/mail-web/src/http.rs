//! A small HTTP/1.1 server over `std::net`: `httparse` reads each request
//! head, and every resource is bounded (head size, header count, body size,
//! time to send a head, idle time, write time, requests per connection).
//! A request that breaks a bound gets its status (400, 408, 413, 431, 501)
//! and the connection is closed; nothing panics on input.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The bounds of the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Connections served at once; more get `503` and are closed.
    pub max_connections: usize,
    /// Live-update (Server-Sent Events) streams at once, within
    /// `max_connections`.
    pub max_event_streams: usize,
    /// The largest request head (request line and headers) in octets.
    pub max_head_bytes: usize,
    /// The most header fields in one request.
    pub max_headers: usize,
    /// The largest request body; the API takes none, so this is small.
    pub max_body_bytes: usize,
    /// How long a client may take to send a whole request head once it
    /// started (a client trickling bytes is cut off here).
    pub head_timeout: Duration,
    /// How long a kept-alive connection may stay quiet between requests.
    pub idle_timeout: Duration,
    /// How long one write to a client may block (a client that never reads
    /// is cut off here).
    pub write_timeout: Duration,
    /// Requests served on one connection before it is closed.
    pub max_requests_per_connection: usize,
    /// The largest message parsed for the detail view (raw and download
    /// of the whole message stream any size).
    pub max_parsed_message_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            max_event_streams: 16,
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 64 * 1024,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            max_requests_per_connection: 1000,
            max_parsed_message_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Sets [`max_connections`](Self::max_connections).
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }
    /// Sets [`head_timeout`](Self::head_timeout).
    pub fn with_head_timeout(mut self, d: Duration) -> Self {
        self.head_timeout = d;
        self
    }
    /// Sets [`idle_timeout`](Self::idle_timeout).
    pub fn with_idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }
    /// Sets [`write_timeout`](Self::write_timeout).
    pub fn with_write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d;
        self
    }
    /// Sets [`max_parsed_message_bytes`](Self::max_parsed_message_bytes).
    pub fn with_max_parsed_message_bytes(mut self, n: u64) -> Self {
        self.max_parsed_message_bytes = n;
        self
    }
}

/// One request head.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The path, still percent-encoded, without the query.
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, String)>,
    /// HTTP/1.0 without keep-alive, or `Connection: close`.
    pub(crate) close: bool,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a response carries.
#[derive(Debug)]
pub(crate) enum Body {
    Bytes(Vec<u8>),
    /// A file streamed from its start, `len` octets.
    File(File, u64),
}

/// A response to write.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Body,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_owned())],
            body: Body::Bytes(body.into()),
        }
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The reason phrase of the statuses we send.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Why no request could be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The client closed, went quiet between requests, or the server is
    /// stopping: close without answering.
    Closed,
    /// Answer with this status, then close.
    Status(u16),
}

/// How long a blocking read waits before looking at the shutdown flag.
const SLICE: Duration = Duration::from_millis(200);

/// Reads one request head (and skips its body) from `stream`, using and
/// refilling `buf`, which keeps bytes of a pipelined next request.
pub(crate) fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    limits: &Limits,
    stopping: &AtomicBool,
) -> Result<Request, ReadError> {
    let idle_deadline = Instant::now() + limits.idle_timeout;
    let mut head_deadline: Option<Instant> = None;
    let mut chunk = vec![0u8; 4096];
    loop {
        if !buf.is_empty() {
            head_deadline.get_or_insert_with(|| Instant::now() + limits.head_timeout);
            let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let request = to_request(&req)?;
                    buf.drain(..len);
                    skip_body(
                        stream,
                        buf,
                        &request,
                        limits,
                        head_deadline.unwrap_or(idle_deadline),
                    )?;
                    return Ok(request);
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return Err(ReadError::Status(431)),
                Err(_) => return Err(ReadError::Status(400)),
            }
            if buf.len() >= limits.max_head_bytes {
                return Err(ReadError::Status(431));
            }
        }
        if stopping.load(Ordering::Relaxed) && buf.is_empty() {
            return Err(ReadError::Closed);
        }
        let deadline = head_deadline.unwrap_or(idle_deadline);
        let now = Instant::now();
        if now >= deadline {
            return Err(if buf.is_empty() {
                ReadError::Closed
            } else {
                ReadError::Status(408)
            });
        }
        let _ = stream.set_read_timeout(Some((deadline - now).min(SLICE)));
        let room = (limits.max_head_bytes - buf.len()).min(chunk.len());
        match stream.read(&mut chunk[..room]) {
            Ok(0) => return Err(ReadError::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return Err(ReadError::Closed),
        }
    }
}

fn to_request(req: &httparse::Request<'_, '_>) -> Result<Request, ReadError> {
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(ReadError::Status(400));
    };
    if !target.starts_with('/') {
        return Err(ReadError::Status(400));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let connection = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(",");
    let close = if version == 0 {
        !connection.contains("keep-alive")
    } else {
        connection.contains("close")
    };
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        close,
    })
}

/// Reads and drops the request body (bounded); chunked bodies are refused.
fn skip_body(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: &Request,
    limits: &Limits,
    deadline: Instant,
) -> Result<(), ReadError> {
    if request.header("transfer-encoding").is_some() {
        return Err(ReadError::Status(501));
    }
    let lengths: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim())
        .collect();
    let mut remaining: usize = match lengths.as_slice() {
        [] => 0,
        [one] => match one.parse::<u64>() {
            Ok(n) if n <= limits.max_body_bytes as u64 => n as usize,
            Ok(_) => return Err(ReadError::Status(413)),
            Err(_) => return Err(ReadError::Status(400)),
        },
        _ => return Err(ReadError::Status(400)),
    };
    let have = remaining.min(buf.len());
    buf.drain(..have);
    remaining -= have;
    let mut chunk = [0u8; 4096];
    while remaining > 0 {
        let now = Instant::now();
        if now >= deadline {
            return Err(ReadError::Status(408));
        }
        let _ = stream.set_read_timeout(Some(deadline - now));
        let want = remaining.min(chunk.len());
        match stream.read(&mut chunk[..want]) {
            Ok(0) => return Err(ReadError::Closed),
            Ok(n) => remaining -= n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return Err(ReadError::Closed),
        }
    }
    Ok(())
}

/// Headers every response carries.
const COMMON_HEADERS: &str = "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nX-Frame-Options: SAMEORIGIN\r\n";

/// Writes a response; `head_only` for HEAD. The write timeout of the stream
/// bounds a client that does not read.
pub(crate) fn write_response(
    stream: &mut TcpStream,
    response: Response,
    head_only: bool,
    close: bool,
) -> io::Result<()> {
    let len = match &response.body {
        Body::Bytes(b) => b.len() as u64,
        Body::File(_, len) => *len,
    };
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        // Values come from our own code; CR/LF would still be refused here.
        if value.contains(['\r', '\n']) {
            continue;
        }
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str(COMMON_HEADERS);
    head.push_str(&format!("Content-Length: {len}\r\n"));
    head.push_str(if close {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: keep-alive\r\n\r\n"
    });
    let mut out = BufWriter::with_capacity(64 * 1024, stream);
    out.write_all(head.as_bytes())?;
    if !head_only {
        match response.body {
            Body::Bytes(b) => out.write_all(&b)?,
            Body::File(file, len) => {
                let copied = io::copy(&mut file.take(len), &mut out)?;
                if copied < len {
                    // The file shrank: the promised length cannot be kept.
                    out.flush()?;
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shorter than announced",
                    ));
                }
            }
        }
    }
    out.flush()
}

/// A plain error answer (used before a request could be routed).
pub(crate) fn write_status(stream: &mut TcpStream, status: u16) {
    let body = format!("{} {}\n", status, reason(status));
    let _ = write_response(
        stream,
        Response::new(status, "text/plain; charset=utf-8", body),
        false,
        true,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    fn read_one(input: &[u8], limits: &Limits) -> Result<Request, ReadError> {
        let (mut c, mut s) = pair();
        c.write_all(input).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        read_request(&mut s, &mut Vec::new(), limits, &AtomicBool::new(false))
    }

    #[test]
    fn heads_and_bounds() {
        let limits = Limits::default();
        let r = read_one(
            b"GET /api/messages?limit=2 HTTP/1.1\r\nHost: x\r\n\r\n",
            &limits,
        )
        .unwrap();
        assert_eq!(
            (
                r.method.as_str(),
                r.path.as_str(),
                r.query.as_str(),
                r.close
            ),
            ("GET", "/api/messages", "limit=2", false)
        );
        let r = read_one(b"GET / HTTP/1.0\r\n\r\n", &limits).unwrap();
        assert!(r.close);
        assert_eq!(
            read_one(b"GET http://x/ HTTP/1.1\r\n\r\n", &limits).unwrap_err(),
            ReadError::Status(400)
        );
        assert_eq!(
            read_one(b"\x00\x01garbage\r\n\r\n", &limits).unwrap_err(),
            ReadError::Status(400)
        );
        let many: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(
            read_one(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(), &limits).unwrap_err(),
            ReadError::Status(431)
        );
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        assert_eq!(
            read_one(huge.as_bytes(), &limits).unwrap_err(),
            ReadError::Status(431)
        );
        assert_eq!(
            read_one(
                b"DELETE / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
                &limits
            )
            .unwrap_err(),
            ReadError::Status(413)
        );
        assert_eq!(
            read_one(
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                &limits
            )
            .unwrap_err(),
            ReadError::Status(501)
        );
        assert_eq!(
            read_one(
                b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                &limits
            )
            .unwrap_err(),
            ReadError::Status(400)
        );
        assert_eq!(
            read_one(b"GET / HTTP/1.1\r\n", &limits).unwrap_err(),
            ReadError::Closed
        );
    }

    #[test]
    fn pipelined_requests_and_bodies() {
        let (mut c, mut s) = pair();
        c.write_all(b"DELETE /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET /b HTTP/1.1\r\n\r\n")
            .unwrap();
        let mut buf = Vec::new();
        let stop = AtomicBool::new(false);
        let limits = Limits::default();
        assert_eq!(
            read_request(&mut s, &mut buf, &limits, &stop).unwrap().path,
            "/a"
        );
        assert_eq!(
            read_request(&mut s, &mut buf, &limits, &stop).unwrap().path,
            "/b"
        );
    }

    #[test]
    fn a_trickling_client_is_cut_off() {
        let (mut c, mut s) = pair();
        let limits = Limits {
            head_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let writer = std::thread::spawn(move || {
            for b in b"GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
                if c.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(30));
            }
        });
        let started = Instant::now();
        let r = read_request(&mut s, &mut Vec::new(), &limits, &AtomicBool::new(false));
        assert_eq!(r.unwrap_err(), ReadError::Status(408));
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(s);
        writer.join().unwrap();
    }
}
