//! The sink's Maildir over HTTP: a web page that lists messages newest
//! first with live updates, shows one (HTML sandboxed, text, headers, raw
//! source, attachments, inline images), searches and deletes; and the same
//! data as a JSON API under `/api/` in the manner of Mailpit's, for tests
//! that check the mail an application sent.
//!
//! ```no_run
//! let handle = mail_web::serve("127.0.0.1:8025", "/var/mail/sink")?;
//! println!("open http://{}/", handle.local_addr());
//! // ... later:
//! handle.shutdown(std::time::Duration::from_secs(5));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The page is plain HTML, CSS and JavaScript compiled into the binary; no
//! build step. The API is described in `docs/web.md`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod api;
mod http;
mod index;
mod json;
mod query;
mod time;
mod view;

pub use http::Limits;

use index::MailIndex;
use std::fmt;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the Maildir is looked at for new mail (a look is two `stat`
/// calls unless something changed).
const WATCH_INTERVAL: Duration = Duration::from_millis(250);
/// A full rescan at least this often, in case a change kept the
/// directories' modification times (coarse clocks).
const FULL_SCAN_INTERVAL: Duration = Duration::from_secs(30);
/// A comment line on idle event streams, so dead clients are noticed.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// What the server threads share.
#[derive(Debug)]
struct App {
    index: MailIndex,
    limits: Limits,
    local_addr: SocketAddr,
    stopping: AtomicBool,
    connections: AtomicUsize,
    event_streams: AtomicUsize,
    /// Bumped and signalled when the index changes or the server stops.
    changes: (Mutex<u64>, Condvar),
}

impl App {
    /// Refreshes the index and wakes the event streams when it changed.
    fn refresh(&self, force: bool) {
        if let Ok(true) = self.index.refresh(force) {
            self.notify();
        }
    }

    fn notify(&self) {
        let (lock, cvar) = &self.changes;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        cvar.notify_all();
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// A running web server; [`shutdown`](Self::shutdown) stops it.
pub struct WebHandle {
    app: Arc<App>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for WebHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebHandle")
            .field("local_addr", &self.app.local_addr)
            .finish_non_exhaustive()
    }
}

impl WebHandle {
    /// Where the server listens (with the port picked when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.app.local_addr
    }

    /// Connections open now.
    pub fn active_connections(&self) -> usize {
        self.app.connections.load(Ordering::Relaxed)
    }

    /// Stops accepting, ends the event streams, lets requests in progress
    /// finish for up to `grace`, and returns. Connections still busy after
    /// that end on their own at their next read or write.
    pub fn shutdown(mut self, grace: Duration) {
        self.stop(grace);
    }

    fn stop(&mut self, grace: Duration) {
        self.app.stopping.store(true, Ordering::Relaxed);
        self.app.notify();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let deadline = Instant::now() + grace;
        while self.app.connections.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for WebHandle {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop(Duration::from_secs(1));
        }
    }
}

/// Serves the Maildir at `maildir` on `addr` with the default [`Limits`].
/// The Maildir's `new/` and `cur/` may be missing (an empty mailbox) and
/// appear later.
pub fn serve(addr: impl ToSocketAddrs, maildir: impl AsRef<Path>) -> io::Result<WebHandle> {
    serve_with(addr, maildir, Limits::default())
}

/// [`serve`] with chosen limits.
pub fn serve_with(
    addr: impl ToSocketAddrs,
    maildir: impl AsRef<Path>,
    limits: Limits,
) -> io::Result<WebHandle> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;
    let app = Arc::new(App {
        index: MailIndex::new(PathBuf::from(maildir.as_ref())),
        limits,
        local_addr,
        stopping: AtomicBool::new(false),
        connections: AtomicUsize::new(0),
        event_streams: AtomicUsize::new(0),
        changes: (Mutex::new(0), Condvar::new()),
    });
    app.index.refresh(true)?;
    let watcher = {
        let app = Arc::clone(&app);
        std::thread::Builder::new()
            .name("mail-web-watch".into())
            .spawn(move || watch(&app))?
    };
    let acceptor = {
        let app = Arc::clone(&app);
        std::thread::Builder::new()
            .name("mail-web-accept".into())
            .spawn(move || accept_loop(&app, &listener))?
    };
    Ok(WebHandle {
        app,
        threads: vec![acceptor, watcher],
    })
}

fn watch(app: &App) {
    while !app.stopping() {
        let force = app
            .index
            .since_last_scan()
            .is_none_or(|d| d >= FULL_SCAN_INTERVAL);
        app.refresh(force);
        let (lock, cvar) = &app.changes;
        let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = cvar.wait_timeout(guard, WATCH_INTERVAL);
    }
}

fn accept_loop(app: &Arc<App>, listener: &TcpListener) {
    while !app.stopping() {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                let _ = stream.set_write_timeout(Some(app.limits.write_timeout));
                if app.connections.load(Ordering::Relaxed) >= app.limits.max_connections {
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
                    http::write_status(&mut stream, 503);
                    continue;
                }
                app.connections.fetch_add(1, Ordering::Relaxed);
                let conn_app = Arc::clone(app);
                let spawned = std::thread::Builder::new()
                    .name("mail-web-conn".into())
                    .spawn(move || {
                        serve_connection(&conn_app, stream);
                        conn_app.connections.fetch_sub(1, Ordering::Relaxed);
                    });
                if spawned.is_err() {
                    app.connections.fetch_sub(1, Ordering::Relaxed);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            // Out of file descriptors and the like: wait, then go on.
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn serve_connection(app: &App, mut stream: TcpStream) {
    let mut buf = Vec::new();
    for served in 0..app.limits.max_requests_per_connection {
        let request = match http::read_request(&mut stream, &mut buf, &app.limits, &app.stopping) {
            Ok(r) => r,
            Err(http::ReadError::Closed) => return,
            Err(http::ReadError::Status(status)) => {
                http::write_status(&mut stream, status);
                return;
            }
        };
        let close =
            request.close || app.stopping() || served + 1 == app.limits.max_requests_per_connection;
        match api::route(app, &request) {
            api::Reply::Response(response) => {
                let head_only = request.method == "HEAD";
                if http::write_response(&mut stream, response, head_only, close).is_err() {
                    abort(&stream);
                    return;
                }
                if close {
                    return;
                }
            }
            api::Reply::Events => {
                event_stream(app, stream);
                return;
            }
        }
    }
}

/// Drops a connection whose client stopped reading: a reset, so the bytes
/// already queued for it are discarded instead of trickling out.
fn abort(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

/// A Server-Sent Events stream: an event `messages` with the total each
/// time the set of messages changes, a comment line as heartbeat.
fn event_stream(app: &App, mut stream: TcpStream) {
    if app.event_streams.fetch_add(1, Ordering::Relaxed) >= app.limits.max_event_streams {
        app.event_streams.fetch_sub(1, Ordering::Relaxed);
        http::write_status(&mut stream, 503);
        return;
    }
    if run_event_stream(app, &mut stream).is_err() {
        abort(&stream);
    }
    app.event_streams.fetch_sub(1, Ordering::Relaxed);
}

fn run_event_stream(app: &App, stream: &mut TcpStream) -> io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\nretry: 2000\n\n",
    )?;
    let mut sent_generation = None;
    let (lock, cvar) = &app.changes;
    let mut seen = *lock.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if app.stopping() {
            return Ok(());
        }
        let snapshot = app.index.snapshot();
        if sent_generation != Some(snapshot.generation) {
            sent_generation = Some(snapshot.generation);
            let event = format!(
                "event: messages\ndata: {{\"total\":{},\"generation\":{}}}\n\n",
                snapshot.list.len(),
                snapshot.generation
            );
            stream.write_all(event.as_bytes())?;
        }
        let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, timeout) = cvar
            .wait_timeout_while(guard, HEARTBEAT, |n| *n == seen && !app.stopping())
            .unwrap_or_else(PoisonError::into_inner);
        seen = *guard;
        drop(guard);
        if timeout.timed_out() {
            stream.write_all(b": keep-alive\n\n")?;
        }
    }
}

/// Whether a request's `Host` names this server: a loopback name or
/// address, or the address it is bound to. A server bound to a loopback
/// address answers no other name, so a web page elsewhere cannot reach it
/// through DNS rebinding.
fn host_allowed(app: &App, host: Option<&str>) -> bool {
    let ip = app.local_addr.ip();
    if !ip.is_loopback() {
        return true;
    }
    let Some(host) = host else { return false };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && !port.contains(']') => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<IpAddr>()
            .is_ok_and(|a| a.is_loopback() || a == ip)
}

/// Entry points for the fuzz targets (`fuzz/fuzz_targets/web_view.rs`); not
/// a stable API.
#[doc(hidden)]
pub mod fuzzing {
    /// Runs what the server does with a message it shows and with a path and
    /// search query it is sent: the detail JSON, the frame HTML with `cid:`
    /// rewriting, each part's headers, the path's percent-decoding and id
    /// check, and the search parser and matcher.
    pub fn view_and_query(message: &[u8], path_and_query: &str) {
        let parsed = mime_codec::Message::parse(message);
        let summary = crate::index::Summary {
            id: "1.M1.fuzz".into(),
            path: std::path::PathBuf::new(),
            size: message.len() as u64,
            received: (0, 0),
            search_from: String::new(),
            search_to: String::new(),
            search_subject: String::new(),
            json: String::new(),
        };
        let _ = crate::view::detail_json(&summary, &parsed);
        let _ = crate::view::frame_html(&summary, &parsed);
        for (id, part) in crate::view::leaves(&parsed) {
            let _ = crate::view::served_content_type(part);
            let _ = crate::view::content_disposition("attachment", part.file_name());
            let _ = crate::view::part(&parsed, &id);
        }
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        for segment in path.split('/') {
            if let Some(s) = crate::query::percent_decode(segment, false) {
                let _ = crate::index::valid_id(&s);
            }
        }
        let terms =
            crate::query::parse_search(&crate::query::param(query, "query").unwrap_or_default());
        let _ = crate::query::matches(&terms, &summary);
    }
}
