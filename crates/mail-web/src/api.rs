//! Routes: the page and its assets, and the JSON API under `/api/`.

use crate::http::{Body, Request, Response};
use crate::index::{valid_id, Snapshot, Summary};
use crate::query::{self, matches, parse_search, percent_decode};
use crate::{json, view, App};
use mime_codec::Message;
use std::io::Read;
use std::sync::Arc;

/// What a request gets.
#[derive(Debug)]
pub(crate) enum Reply {
    Response(Response),
    /// The live-update stream.
    Events,
}

const PAGE_HTML: &str = include_str!("../assets/index.html");
const PAGE_JS: &str = include_str!("../assets/app.js");
const PAGE_CSS: &str = include_str!("../assets/app.css");

/// The page runs only its own script and shows message HTML only in the
/// sandboxed frame.
const PAGE_CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// A message's HTML: no scripts, no forms, no plugins; images and styles
/// only from this server (its parts) or inline, until remote content is
/// asked for.
const FRAME_CSP: &str = "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox";
const FRAME_CSP_REMOTE: &str = "default-src 'none'; img-src 'self' data: http: https:; \
style-src 'self' 'unsafe-inline' http: https:; font-src 'self' data: http: https:; base-uri 'none'; \
form-action 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox";
/// A part or raw message opened on its own: never active content.
const PART_CSP: &str =
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox";

const JSON: &str = "application/json";

fn json_response(status: u16, body: String) -> Reply {
    Reply::Response(Response::new(status, JSON, body).with_header("Cache-Control", "no-store"))
}

fn error(status: u16, message: &str) -> Reply {
    let mut body = String::new();
    let mut o = json::Object::new(&mut body);
    o.str("error", message);
    o.end();
    json_response(status, body)
}

fn not_allowed(allow: &str) -> Reply {
    match error(405, "method not allowed") {
        Reply::Response(r) => Reply::Response(r.with_header("Allow", allow)),
        other => other,
    }
}

fn asset(content_type: &str, body: &str, csp: bool) -> Reply {
    let mut r = Response::new(200, content_type, body).with_header("Cache-Control", "no-cache");
    if csp {
        r = r.with_header("Content-Security-Policy", PAGE_CSP);
    }
    Reply::Response(r)
}

pub(crate) fn route(app: &App, req: &Request) -> Reply {
    if !crate::host_allowed(app, req.header("host")) {
        return error(421, "this server answers only to a loopback host name");
    }
    let method = match req.method.as_str() {
        "HEAD" => "GET",
        m => m,
    };
    let segments: Option<Vec<String>> = req
        .path
        .split('/')
        .skip(1)
        .map(|s| percent_decode(s, false))
        .collect();
    let Some(segments) = segments else {
        return error(400, "malformed percent-encoding in the path");
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method, segments.as_slice()) {
        ("GET", [""]) => asset("text/html; charset=utf-8", PAGE_HTML, true),
        ("GET", ["app.js"]) => asset("text/javascript; charset=utf-8", PAGE_JS, false),
        ("GET", ["app.css"]) => asset("text/css; charset=utf-8", PAGE_CSS, false),
        (_, [""] | ["app.js"] | ["app.css"]) => not_allowed("GET, HEAD"),
        ("GET", ["api", "events"]) => Reply::Events,
        ("GET", ["api", "info"]) => info(app),
        ("GET", ["api", "messages"]) => list(app, req, &[]),
        ("DELETE", ["api", "messages"]) => delete_all(app),
        (_, ["api", "messages"]) => not_allowed("GET, HEAD, DELETE"),
        ("GET", ["api", "search"]) => {
            let query = query::param(&req.query, "query").unwrap_or_default();
            list(app, req, &parse_search(&query))
        }
        (_, ["api", "search"]) => not_allowed("GET, HEAD"),
        (_, ["api", "messages", id, rest @ ..]) if !valid_id(id) => {
            let _ = rest;
            error(400, "not a message id")
        }
        ("GET", ["api", "messages", id]) => with_message(app, id, |summary, m| {
            json_response(200, view::detail_json(summary, m))
        }),
        ("DELETE", ["api", "messages", id]) => delete_one(app, id),
        (_, ["api", "messages", _]) => not_allowed("GET, HEAD, DELETE"),
        ("GET", ["api", "messages", id, "raw"]) => raw(app, id, req),
        ("GET", ["api", "messages", id, "html"]) => {
            let remote = query::param(&req.query, "remote").as_deref() == Some("1");
            with_message(app, id, |summary, m| frame(summary, m, remote))
        }
        ("GET", ["api", "messages", id, "parts", part_id]) => {
            let download = query::param(&req.query, "download").as_deref() == Some("1");
            with_message(app, id, |_, m| part(m, part_id, download))
        }
        (_, ["api", "messages", _, "raw" | "html"] | ["api", "messages", _, "parts", _]) => {
            not_allowed("GET, HEAD")
        }
        _ => error(404, "no such resource"),
    }
}

fn snapshot(app: &App) -> Arc<Snapshot> {
    app.refresh(false);
    app.index.snapshot()
}

fn info(app: &App) -> Reply {
    let snapshot = snapshot(app);
    let mut body = String::new();
    let mut o = json::Object::new(&mut body);
    o.str("version", env!("CARGO_PKG_VERSION"))
        .num("messages", snapshot.list.len() as u64)
        .num("generation", snapshot.generation);
    o.end();
    json_response(200, body)
}

fn number(req: &Request, name: &str, default: usize) -> Result<usize, Reply> {
    match query::param(&req.query, name) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| error(400, &format!("{name} must be a whole number"))),
    }
}

/// The list (or the search results when `terms` is not empty), newest
/// first, one page of it.
fn list(app: &App, req: &Request, terms: &[query::Term]) -> Reply {
    let (start, limit) = match (number(req, "start", 0), number(req, "limit", 50)) {
        (Ok(s), Ok(l)) => (s, l.min(10_000)),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let snapshot = snapshot(app);
    let mut body = String::with_capacity(256 + limit.min(snapshot.list.len()) * 300);
    let mut o = json::Object::new(&mut body);
    let (total, page): (usize, Vec<&Arc<Summary>>) = if terms.is_empty() {
        (
            snapshot.list.len(),
            snapshot.list.iter().skip(start).take(limit).collect(),
        )
    } else {
        let found: Vec<&Arc<Summary>> =
            snapshot.list.iter().filter(|s| matches(terms, s)).collect();
        let total = found.len();
        (total, found.into_iter().skip(start).take(limit).collect())
    };
    o.num("total", snapshot.list.len() as u64)
        .num("messagesCount", total as u64)
        .num("start", start as u64)
        .num("count", page.len() as u64)
        .with("messages", |out| {
            json::array(out, page, |out, s| out.push_str(&s.json))
        });
    o.end();
    json_response(200, body)
}

/// Reads and parses a message for the detail, frame and part views.
fn with_message(app: &App, id: &str, f: impl FnOnce(&Summary, &Message<'_>) -> Reply) -> Reply {
    let _ = snapshot(app);
    let (mut file, summary) = match app.index.open(id) {
        Ok(Some(found)) => found,
        Ok(None) => return error(404, "no such message"),
        Err(_) => return error(500, "the message could not be read"),
    };
    if summary.size > app.limits.max_parsed_message_bytes {
        return error(413, "the message is too large to show; use its raw source");
    }
    let mut bytes = Vec::with_capacity(summary.size as usize);
    if (&mut file)
        .take(app.limits.max_parsed_message_bytes + 1)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return error(500, "the message could not be read");
    }
    if bytes.len() as u64 > app.limits.max_parsed_message_bytes {
        return error(413, "the message is too large to show; use its raw source");
    }
    let message = Message::parse(&bytes);
    f(&summary, &message)
}

fn raw(app: &App, id: &str, req: &Request) -> Reply {
    let _ = snapshot(app);
    match app.index.open(id) {
        Ok(Some((file, _))) => {
            let len = match file.metadata() {
                Ok(m) => m.len(),
                Err(_) => return error(500, "the message could not be read"),
            };
            let download = query::param(&req.query, "download").as_deref() == Some("1");
            let disposition = if download {
                view::content_disposition("attachment", Some(&format!("{id}.eml")))
            } else {
                "inline".to_owned()
            };
            Reply::Response(Response {
                status: 200,
                headers: vec![
                    ("Content-Type", "text/plain; charset=utf-8".to_owned()),
                    ("Content-Disposition", disposition),
                    ("Content-Security-Policy", PART_CSP.to_owned()),
                    ("Cache-Control", "no-store".to_owned()),
                ],
                body: Body::File(file, len),
            })
        }
        Ok(None) => error(404, "no such message"),
        Err(_) => error(500, "the message could not be read"),
    }
}

fn frame(summary: &Summary, message: &Message<'_>, remote: bool) -> Reply {
    let html = view::frame_html(summary, message).unwrap_or_default();
    Reply::Response(
        Response::new(200, "text/html; charset=utf-8", html)
            .with_header(
                "Content-Security-Policy",
                if remote { FRAME_CSP_REMOTE } else { FRAME_CSP },
            )
            .with_header("Cache-Control", "no-store"),
    )
}

fn part(message: &Message<'_>, part_id: &str, download: bool) -> Reply {
    let Some(part) = view::part(message, part_id) else {
        return error(404, "no such part");
    };
    let is_attachment = part.disposition().is_some_and(|d| d.is_attachment());
    let kind = if download || is_attachment {
        "attachment"
    } else {
        "inline"
    };
    Reply::Response(Response {
        status: 200,
        headers: vec![
            ("Content-Type", view::served_content_type(part)),
            (
                "Content-Disposition",
                view::content_disposition(kind, part.file_name()),
            ),
            ("Content-Security-Policy", PART_CSP.to_owned()),
            ("Cache-Control", "no-store".to_owned()),
        ],
        body: Body::Bytes(part.decoded().into_owned()),
    })
}

fn delete_one(app: &App, id: &str) -> Reply {
    let _ = snapshot(app);
    if !app.index.snapshot().by_id.contains_key(id) {
        return error(404, "no such message");
    }
    let result = app.index.delete(&[id.to_owned()]);
    app.notify();
    match result {
        Ok(_) => deleted(1),
        Err(_) => error(500, "the message could not be deleted"),
    }
}

fn delete_all(app: &App) -> Reply {
    let snapshot = snapshot(app);
    let ids: Vec<String> = snapshot.list.iter().map(|s| s.id.clone()).collect();
    let result = app.index.delete(&ids);
    app.notify();
    match result {
        Ok(n) => deleted(n),
        Err(_) => error(500, "some messages could not be deleted"),
    }
}

fn deleted(n: usize) -> Reply {
    let mut body = String::new();
    let mut o = json::Object::new(&mut body);
    o.num("deleted", n as u64);
    o.end();
    json_response(200, body)
}
