//! The doctor's MTA-STS check (RFC 8461): the `_mta-sts` TXT record, then the policy file
//! fetched from `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` the way a sending MTA
//! fetches it (HTTPS with a certificate valid for that name, status 200, `text/plain`, no
//! redirects, at most 64 KiB, within the timeout), parsed, and each MX host matched against
//! its `mx:` patterns.
//!
//! The fetch is a small HTTP/1.1 GET over the rustls the tool already uses, not an HTTP
//! client crate: the name must be looked up through the doctor's own resolver (`--dns`),
//! which a client with its own resolver would bypass, and one GET with bounded reads needs
//! only `httparse` (already in the workspace) to read the response head.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailwire_auth::mta_sts::{Mode, StsPolicy, StsRecord, MAX_POLICY_SIZE};

use super::{txt_records, Report};

/// The most bytes of a response head we read.
const MAX_HEAD: usize = 16 * 1024;

/// Where the policy is fetched from and what is trusted.
pub(super) struct Fetch<'a> {
    pub(super) dns: &'a mail_dns::Resolver,
    /// 443; another port only in tests.
    pub(super) port: u16,
    /// The whole fetch, connection to last byte.
    pub(super) timeout: Duration,
    pub(super) roots: &'a Arc<rustls::RootCertStore>,
}

pub(super) fn check(report: &mut Report, fetch: &Fetch<'_>, domain: &str, mx_hosts: &[String]) {
    let Some(txt) = txt_records(report, fetch.dns, "MTA-STS", &format!("_mta-sts.{domain}")) else {
        return;
    };
    let records: Vec<&String> = txt.iter().filter(|t| StsRecord::is_sts(t)).collect();
    let record = match records.as_slice() {
        [] => {
            report.info(
                "MTA-STS",
                "not published (optional: makes senders require TLS to you)",
            );
            return;
        }
        [one] => *one,
        _ => {
            report.fail(
                "MTA-STS",
                format!(
                    "_mta-sts.{domain} has {} v=STSv1 records: senders then ignore the policy",
                    records.len()
                ),
            );
            report.more("fix: keep one record, `v=STSv1; id=<a new id>`");
            return;
        }
    };
    if let Err(e) = StsRecord::parse(record) {
        report.fail(
            "MTA-STS",
            format!("{record}: {e}; senders ignore the policy"),
        );
        report.more(format!(
            "fix: publish `_mta-sts.{domain}. IN TXT \"v=STSv1; id=20260101T000000\"` (id: 1 to \
             32 letters and digits, changed whenever the policy file changes)"
        ));
        return;
    }
    report.ok("MTA-STS", record);
    let host = format!("mta-sts.{domain}");
    let url = format!("https://{host}/.well-known/mta-sts.txt");
    let text = match get(fetch, &host) {
        Ok(text) => text,
        Err(e) => {
            report.fail(
                "MTA-STS",
                format!("the policy at {url} could not be fetched: {e}"),
            );
            report.more(format!(
                "fix: serve the policy file at {url} over HTTPS with a certificate valid for \
                 {host} (e.g. Let's Encrypt), status 200, Content-Type text/plain, at most 64 \
                 KiB, no redirect; or remove the _mta-sts record"
            ));
            return;
        }
    };
    let policy = match StsPolicy::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            report.fail(
                "MTA-STS",
                format!("the policy at {url} does not parse ({e}): senders ignore it"),
            );
            report.more(format!(
                "fix: serve, one field a line: `version: STSv1`, `mode: testing`, `mx: <each \
                 MX host, or *.{domain}>`, `max_age: 604800`"
            ));
            return;
        }
    };
    let patterns: Vec<String> = policy.mx.iter().map(ToString::to_string).collect();
    report.ok(
        "MTA-STS",
        format!(
            "policy: mode {}, max_age {} ({}), mx {}",
            policy.mode.as_str(),
            policy.max_age,
            days(policy.max_age),
            if patterns.is_empty() {
                "none".to_owned()
            } else {
                patterns.join(", ")
            }
        ),
    );
    match policy.mode {
        Mode::Enforce => {}
        Mode::Testing => report.info(
            "MTA-STS",
            "mode testing: senders report TLS failures (TLS-RPT) but still deliver; move to \
             enforce once the reports are clean",
        ),
        Mode::None => {
            report.info(
                "MTA-STS",
                "mode none: senders drop the policy they cached (the way to retire MTA-STS)",
            );
            return;
        }
    }
    if policy.max_age < 86_400 {
        report.warn(
            "MTA-STS",
            format!(
                "max_age {} is under a day: an attacker who blocks the fetch only has to wait that long",
                policy.max_age
            ),
        );
        report.more("fix: `max_age: 604800` (a week) or more, as RFC 8461 expects");
    }
    for mx in mx_hosts {
        if policy.matches_mx(mx) {
            report.ok("MTA-STS", format!("MX host {mx} matches the policy"));
        } else {
            let words = format!("MX host {mx} matches no mx: line of the policy");
            if policy.mode == Mode::Enforce {
                report.fail(
                    "MTA-STS",
                    format!("{words}: senders that enforce MTA-STS do not deliver to it"),
                );
            } else {
                report.warn(
                    "MTA-STS",
                    format!("{words}: under enforce, senders would not deliver to it"),
                );
            }
            report.more(format!(
                "fix: add `mx: {mx}` to the policy file, then change id= in the \
                 _mta-sts.{domain} record so senders fetch it again"
            ));
        }
    }
}

fn days(seconds: u32) -> String {
    match seconds / 86_400 {
        0 if seconds / 3600 == 1 => "1 hour".to_owned(),
        0 => format!("{} hours", seconds / 3600),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

/// Why the fetch failed, in words.
type FetchResult<T> = Result<T, String>;

/// A reader that gives up at the deadline: each read may block only until then.
struct Bounded {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    deadline: Instant,
}

impl Bounded {
    /// Lets the socket block only until the deadline (the TLS handshake reads and writes
    /// the socket inside our first write).
    fn arm(&mut self) -> std::io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the server took too long",
            ));
        }
        self.tls.sock.set_read_timeout(Some(left))?;
        self.tls.sock.set_write_timeout(Some(left))
    }
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.arm()?;
        match self.tls.read(buf) {
            // A server that closes without TLS close_notify ends the body too (many do).
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.arm()?;
        self.tls.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.arm()?;
        self.tls.flush()
    }
}

/// GETs the policy file from `host` and returns its text.
fn get(fetch: &Fetch<'_>, host: &str) -> FetchResult<String> {
    let deadline = Instant::now() + fetch.timeout;
    let ips = match fetch.dns.ips(host).wait() {
        Ok(ips) if !ips.is_empty() => ips,
        Ok(_) => return Err(format!("{host} has no address")),
        Err(e) if e.is_negative() => {
            return Err(format!(
                "{host} has no A or AAAA record (publish one for the web server)"
            ))
        }
        Err(e) => return Err(format!("looking up {host}: {e}")),
    };
    let mut tried = Vec::new();
    let mut tcp = None;
    for ip in ips.iter().take(4) {
        let addr = SocketAddr::new(*ip, fetch.port);
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => tried.push(format!("{addr}: {e}")),
        }
    }
    let tcp = tcp.ok_or_else(|| format!("could not connect ({})", tried.join("; ")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(Arc::clone(fetch.roots))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name =
        rustls_pki_types::ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut stream = BufReader::new(Bounded {
        tls: rustls::StreamOwned::new(conn, tcp),
        deadline,
    });
    let request = format!(
        "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mailwire-doctor\r\n\
         Accept: text/plain\r\nConnection: close\r\n\r\n"
    );
    stream
        .get_mut()
        .write_all(request.as_bytes())
        .and_then(|()| stream.get_mut().flush())
        .map_err(|e| tls_words(&e))?;
    let head = read_head(&mut stream).map_err(|e| tls_words(&e))?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err("the answer is not HTTP".to_owned()),
    }
    let code = response.code.unwrap_or(0);
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
    };
    if (300..400).contains(&code) {
        return Err(format!(
            "HTTP {code}, a redirect{}: senders do not follow redirects (RFC 8461 §3.3)",
            header("location")
                .map(|l| format!(" to {l}"))
                .unwrap_or_default()
        ));
    }
    if code != 200 {
        return Err(format!(
            "HTTP {code} {}",
            response.reason.unwrap_or_default()
        ));
    }
    let media = header("content-type").unwrap_or_default();
    let media_type = media.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("text/plain") {
        return Err(format!(
            "the Content-Type is {:?}, not text/plain (senders refuse it)",
            if media.is_empty() { "missing" } else { &media }
        ));
    }
    let chunked =
        header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(&mut stream)
    } else {
        let length = match header("content-length") {
            Some(l) => Some(
                l.parse::<usize>()
                    .map_err(|_| format!("a bad Content-Length {l:?}"))?,
            ),
            None => None,
        };
        if length.is_some_and(|n| n > MAX_POLICY_SIZE) {
            return Err(too_long());
        }
        read_limited(&mut stream, length)
    }
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => e.to_string(),
        _ => tls_words(&e),
    })?;
    String::from_utf8(body).map_err(|_| "the policy is not UTF-8 text".to_owned())
}

fn too_long() -> String {
    format!("the policy is longer than {} KiB", MAX_POLICY_SIZE / 1024)
}

fn invalid(words: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, words)
}

/// An I/O error of the TLS stream in words (a certificate problem says which).
fn tls_words(e: &std::io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(reason)) => {
            format!("the certificate is not valid for senders ({reason:?})")
        }
        Some(other) => format!("TLS: {other}"),
        None => e.to_string(),
    }
}

/// The response head, through its blank line, at most [`MAX_HEAD`] bytes.
fn read_head(stream: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        if head.len() >= MAX_HEAD {
            return Err(invalid("the response head is too long".into()));
        }
        let before = head.len();
        let n = stream
            .by_ref()
            .take((MAX_HEAD - head.len()) as u64)
            .read_until(b'\n', &mut head)?;
        if n == 0 {
            return Err(invalid("the server closed before answering".into()));
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            return Ok(head);
        }
    }
}

/// The body: `length` bytes, or up to the end; more than the limit is an error.
fn read_limited(stream: &mut impl Read, length: Option<usize>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let limit = length.unwrap_or(MAX_POLICY_SIZE + 1);
    stream.take(limit as u64).read_to_end(&mut body)?;
    if body.len() > MAX_POLICY_SIZE {
        return Err(invalid(too_long()));
    }
    if length.is_some_and(|n| body.len() < n) {
        return Err(invalid("the body ended before its Content-Length".into()));
    }
    Ok(body)
}

/// A chunked body (RFC 9112 §7.1), at most [`MAX_POLICY_SIZE`] bytes in all.
fn read_chunked(stream: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = Vec::new();
        stream.by_ref().take(1024).read_until(b'\n', &mut line)?;
        let text = String::from_utf8_lossy(&line);
        let size = text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("a bad chunk size {size:?}")))?;
        if size == 0 {
            return Ok(body);
        }
        if body.len() + size > MAX_POLICY_SIZE {
            return Err(invalid(too_long()));
        }
        let start = body.len();
        stream.by_ref().take(size as u64).read_to_end(&mut body)?;
        if body.len() - start < size {
            return Err(invalid("the body ended inside a chunk".into()));
        }
        let mut crlf = Vec::new();
        stream.by_ref().take(2).read_until(b'\n', &mut crlf)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_read_within_the_limit() {
        let chunked = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        assert_eq!(read_chunked(&mut &chunked[..]).unwrap(), b"hello, world");
        assert!(read_chunked(&mut &b"zz\r\n"[..]).is_err());
        assert!(read_chunked(&mut &b"5\r\nhel"[..]).is_err());
        let huge = format!("{:x}\r\n", MAX_POLICY_SIZE + 1);
        assert!(read_chunked(&mut huge.as_bytes()).is_err());
        assert_eq!(read_limited(&mut &b"abc"[..], Some(3)).unwrap(), b"abc");
        assert!(read_limited(&mut &b"ab"[..], Some(3)).is_err());
        let big = vec![b'a'; MAX_POLICY_SIZE + 10];
        assert!(read_limited(&mut &big[..], None).is_err());
        assert_eq!(
            read_head(&mut &b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"[..]).unwrap(),
            b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n"
        );
        assert!(read_head(&mut &b"HTTP/1.1 200 OK\r\n"[..]).is_err());
        assert_eq!(days(604_800), "7 days");
        assert_eq!(days(7200), "2 hours");
    }
}
