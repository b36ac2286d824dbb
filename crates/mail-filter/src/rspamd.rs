//! rspamd's HTTP protocol: `POST /checkv2` with the message as the body and
//! the envelope in request headers; a JSON reply whose `action` decides.

use crate::chain::{default_connect_timeout_ms, default_timeout_ms, FailurePolicy};
use crate::net::{open_message, read_chunk, Exchange};
use crate::{sanitize_text, Filter, FilterError, MessageInfo, Verdict};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// How rspamd is asked (`kind = "rspamd"` in `[[filters.chain]]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RspamdConfig {
    /// The normal worker's address: `http://127.0.0.1:11333`.
    pub url: String,
    /// The whole exchange's deadline, in milliseconds (default 15000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The connection's deadline, in milliseconds (default 2000).
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Larger messages are not sent (a failure, by `on_failure`); default 50 MiB.
    #[serde(default = "default_max_size")]
    pub max_size: u64,
    /// The most reply bytes read (default 1 MiB).
    #[serde(default = "default_max_reply")]
    pub max_reply: usize,
    /// What rspamd's `greylist` action does here: `accept` (default: the
    /// server's own greylisting is the place for that) or `tempfail`.
    #[serde(default)]
    pub on_greylist: SoftAction,
    /// What rspamd's `rewrite subject` action does here: `add_header`
    /// (default; the verdict adds headers and never rewrites the message,
    /// the rewritten subject goes into `X-Spam-Subject`) or `quarantine`.
    #[serde(default)]
    pub on_rewrite_subject: RewriteAction,
    /// When rspamd is down, slow or answers nonsense (default: the chain's).
    #[serde(default)]
    pub on_failure: Option<FailurePolicy>,
}

fn default_max_size() -> u64 {
    50 * 1024 * 1024
}

fn default_max_reply() -> usize {
    1024 * 1024
}

/// What rspamd's `greylist` action becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoftAction {
    /// Accept with the spam headers.
    #[default]
    Accept,
    /// `451 4.7.1`.
    Tempfail,
}

/// What rspamd's `rewrite subject` action becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewriteAction {
    /// Accept with the spam headers (`X-Spam: Yes`, `X-Spam-Subject`).
    #[default]
    AddHeader,
    /// Quarantine.
    Quarantine,
}

impl RspamdConfig {
    /// The defaults for a worker at `url`.
    pub fn new(url: impl Into<String>) -> RspamdConfig {
        RspamdConfig {
            url: url.into(),
            timeout_ms: default_timeout_ms(),
            connect_timeout_ms: default_connect_timeout_ms(),
            max_size: default_max_size(),
            max_reply: default_max_reply(),
            on_greylist: SoftAction::default(),
            on_rewrite_subject: RewriteAction::default(),
            on_failure: None,
        }
    }
}

/// rspamd's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RspamdAction {
    /// `no action`.
    NoAction,
    /// `greylist`.
    Greylist,
    /// `add header`.
    AddHeader,
    /// `rewrite subject`.
    RewriteSubject,
    /// `soft reject`.
    SoftReject,
    /// `reject`.
    Reject,
}

impl RspamdAction {
    fn parse(text: &str) -> Option<RspamdAction> {
        Some(match text {
            "no action" => RspamdAction::NoAction,
            "greylist" => RspamdAction::Greylist,
            "add header" => RspamdAction::AddHeader,
            "rewrite subject" => RspamdAction::RewriteSubject,
            "soft reject" => RspamdAction::SoftReject,
            "reject" => RspamdAction::Reject,
            _ => return None,
        })
    }

    /// rspamd's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RspamdAction::NoAction => "no action",
            RspamdAction::Greylist => "greylist",
            RspamdAction::AddHeader => "add header",
            RspamdAction::RewriteSubject => "rewrite subject",
            RspamdAction::SoftReject => "soft reject",
            RspamdAction::Reject => "reject",
        }
    }
}

/// What rspamd said about a message (the parts that decide).
#[derive(Debug, Clone, PartialEq)]
pub struct RspamdReply {
    /// The action.
    pub action: RspamdAction,
    /// The message's score.
    pub score: f64,
    /// The score at which rspamd rejects.
    pub required_score: f64,
    /// `messages.smtp_message`: the reply text rspamd proposes.
    pub smtp_message: Option<String>,
    /// The rewritten subject (`rewrite subject`).
    pub subject: Option<String>,
    /// The names of the symbols that matched (at most 100).
    pub symbols: Vec<String>,
}

#[derive(Deserialize)]
struct RawReply {
    action: String,
    #[serde(default)]
    score: f64,
    #[serde(default)]
    required_score: f64,
    #[serde(default)]
    messages: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    symbols: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Parses the JSON body of a `/checkv2` reply.
///
/// ```
/// let reply = mail_filter::parse_rspamd_reply(
///     br#"{"action":"reject","score":15.0,"required_score":15.0,
///          "messages":{"smtp_message":"Gtube pattern"}}"#,
/// ).unwrap();
/// assert_eq!(reply.smtp_message.as_deref(), Some("Gtube pattern"));
/// ```
pub fn parse_rspamd_reply(body: &[u8]) -> Result<RspamdReply, String> {
    let raw: RawReply =
        serde_json::from_slice(body).map_err(|e| format!("not rspamd's JSON: {e}"))?;
    let action = RspamdAction::parse(&raw.action)
        .ok_or_else(|| format!("unknown action {:?}", sanitize_text(&raw.action)))?;
    let smtp_message = raw
        .messages
        .as_ref()
        .and_then(|m| m.get("smtp_message"))
        .and_then(|v| v.as_str())
        .map(sanitize_text)
        .filter(|s| !s.is_empty());
    let symbols = raw
        .symbols
        .map(|s| s.keys().take(100).map(|k| sanitize_text(k)).collect())
        .unwrap_or_default();
    Ok(RspamdReply {
        action,
        score: raw.score,
        required_score: raw.required_score,
        smtp_message,
        subject: raw.subject.map(|s| sanitize_text(&s)),
        symbols,
    })
}

impl RspamdReply {
    /// The verdict for this reply under `config`'s choices.
    pub fn verdict(&self, config: &RspamdConfig) -> Verdict {
        let spam = self.action != RspamdAction::NoAction;
        let mut headers = vec![
            ("X-Spam-Score".to_owned(), format!("{:.2}", self.score)),
            (
                "X-Spam-Status".to_owned(),
                format!(
                    "{}, score={:.2} required={:.2} action={}",
                    if spam { "Yes" } else { "No" },
                    self.score,
                    self.required_score,
                    self.action.as_str().replace(' ', "_")
                ),
            ),
        ];
        let text = |default: &str| {
            self.smtp_message
                .clone()
                .unwrap_or_else(|| default.to_owned())
        };
        match self.action {
            RspamdAction::NoAction => Verdict::Accept {
                add_headers: headers,
            },
            RspamdAction::Greylist => match config.on_greylist {
                SoftAction::Accept => Verdict::Accept {
                    add_headers: headers,
                },
                SoftAction::Tempfail => Verdict::tempfail(text("greylisted, try again later")),
            },
            RspamdAction::AddHeader | RspamdAction::RewriteSubject => {
                headers.push(("X-Spam".to_owned(), "Yes".to_owned()));
                if let Some(subject) = &self.subject {
                    headers.push(("X-Spam-Subject".to_owned(), subject.clone()));
                }
                if self.action == RspamdAction::RewriteSubject
                    && config.on_rewrite_subject == RewriteAction::Quarantine
                {
                    Verdict::Quarantine {
                        reason: format!("spam (rspamd score {:.2})", self.score),
                        add_headers: headers,
                    }
                } else {
                    Verdict::Accept {
                        add_headers: headers,
                    }
                }
            }
            RspamdAction::SoftReject => Verdict::tempfail(text("try again later")),
            RspamdAction::Reject => Verdict::reject(text("spam message rejected")),
        }
    }
}

/// The rspamd filter.
#[derive(Debug, Clone)]
pub struct Rspamd {
    config: RspamdConfig,
    address: String,
}

impl Rspamd {
    /// Checks the configuration (an `http://HOST:PORT` URL).
    pub fn new(config: RspamdConfig) -> Result<Rspamd, FilterError> {
        let rest = config.url.strip_prefix("http://").ok_or_else(|| {
            FilterError::Config(format!(
                "rspamd url {:?}: only http://HOST:PORT is supported",
                config.url
            ))
        })?;
        let address = rest.trim_end_matches('/');
        if address.is_empty() || address.contains('/') || !address.contains(':') {
            return Err(FilterError::Config(format!(
                "rspamd url {:?}: expected http://HOST:PORT",
                config.url
            )));
        }
        Ok(Rspamd {
            address: address.to_owned(),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RspamdConfig {
        &self.config
    }

    /// Asks rspamd about the message and returns its reply.
    pub fn scan(&self, info: &MessageInfo, message: &Path) -> Result<RspamdReply, FilterError> {
        let (mut file, size) = open_message(self.name(), message)?;
        if size > self.config.max_size {
            return Err(FilterError::TooLarge {
                scanner: self.name().to_owned(),
                size,
                limit: self.config.max_size,
            });
        }
        let mut exchange = Exchange::connect(
            self.name(),
            &self.address,
            Duration::from_millis(self.config.connect_timeout_ms),
            Duration::from_millis(self.config.timeout_ms),
        )?;
        let head = request_head(&self.address, info, size);
        exchange.write_all(head.as_bytes())?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0u64;
        while sent < size {
            let n = read_chunk(self.name(), &mut file, &mut buf)?;
            if n == 0 {
                break;
            }
            let n = n.min(usize::try_from(size - sent).unwrap_or(n));
            exchange.write_all(buf.get(..n).unwrap_or_default())?;
            sent += n as u64;
        }
        if sent < size {
            return Err(FilterError::Io {
                scanner: self.name().to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the message file shrank while it was sent",
                ),
            });
        }
        let reply = exchange.read_reply(self.config.max_reply, response_complete)?;
        let body = response_body(self.name(), &reply)?;
        parse_rspamd_reply(body).map_err(|detail| FilterError::Protocol {
            scanner: self.name().to_owned(),
            detail,
        })
    }
}

impl Filter for Rspamd {
    fn name(&self) -> &str {
        "rspamd"
    }

    fn check(&self, info: &MessageInfo, message: &Path) -> Result<Verdict, FilterError> {
        Ok(self.scan(info, message)?.verdict(&self.config))
    }
}

/// A request header's value: control characters dropped, at most 998 bytes.
fn header_value(value: &str) -> String {
    let mut out: String = value.chars().filter(|c| !c.is_control()).collect();
    while out.len() > 998 {
        out.pop();
    }
    out
}

/// The request line and headers of `/checkv2` for this message.
fn request_head(host: &str, info: &MessageInfo, size: u64) -> String {
    let mut head = format!(
        "POST /checkv2 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {size}\r\nIP: {}\r\nHelo: {}\r\nFrom: {}\r\nQueue-Id: {}\r\n",
        info.client_ip,
        header_value(&info.helo),
        header_value(&info.mail_from),
        header_value(&info.queue_id),
    );
    for rcpt in &info.recipients {
        head.push_str(&format!("Rcpt: {}\r\n", header_value(rcpt)));
    }
    if let Some(user) = &info.authenticated {
        head.push_str(&format!("User: {}\r\n", header_value(user)));
    }
    head.push_str("\r\n");
    head
}

/// Whether `reply` holds a whole response: its head and `Content-Length`
/// bytes of body. Without a length, the response ends when rspamd closes.
fn response_complete(reply: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(reply) {
        Ok(httparse::Status::Complete(head_len)) => {
            content_length(response.headers).is_some_and(|len| reply.len() - head_len >= len)
        }
        _ => false,
    }
}

fn content_length(headers: &[httparse::Header<'_>]) -> Option<usize> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The body of a complete `200` response.
fn response_body<'r>(scanner: &str, reply: &'r [u8]) -> Result<&'r [u8], FilterError> {
    let protocol = |detail: String| FilterError::Protocol {
        scanner: scanner.to_owned(),
        detail,
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(reply) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return Err(protocol(
                "the connection closed inside the reply's head".into(),
            ))
        }
        Err(e) => return Err(protocol(format!("not an HTTP response: {e}"))),
    };
    if response
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
    {
        return Err(protocol("chunked replies are not expected".into()));
    }
    let body = reply.get(head_len..).unwrap_or_default();
    let body = match content_length(response.headers) {
        Some(len) => body
            .get(..len)
            .ok_or_else(|| protocol("the connection closed inside the reply's body".into()))?,
        None => body,
    };
    let code = response.code.unwrap_or(0);
    if code != 200 {
        let detail = sanitize_text(&String::from_utf8_lossy(body));
        return Err(FilterError::Scanner {
            scanner: scanner.to_owned(),
            message: format!("HTTP {code}: {detail}"),
        });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RspamdConfig {
        RspamdConfig::new("http://127.0.0.1:11333")
    }

    #[test]
    fn actions_map_to_verdicts() {
        let reply = |action: &str| {
            parse_rspamd_reply(
                format!(r#"{{"action":"{action}","score":7.5,"required_score":15}}"#).as_bytes(),
            )
            .unwrap()
            .verdict(&config())
        };
        assert!(matches!(
            reply("reject"),
            Verdict::Reject {
                code: 554,
                status: (5, 7, 1),
                ..
            }
        ));
        assert!(matches!(reply("soft reject"), Verdict::TempFail { .. }));
        assert_eq!(reply("greylist").name(), "accept");
        let Verdict::Accept { add_headers } = reply("add header") else {
            panic!("add header accepts")
        };
        assert!(add_headers.contains(&("X-Spam".into(), "Yes".into())));
        assert!(add_headers.contains(&("X-Spam-Score".into(), "7.50".into())));
        let Verdict::Accept { add_headers } = reply("no action") else {
            panic!("no action accepts")
        };
        assert_eq!(
            add_headers[1].1,
            "No, score=7.50 required=15.00 action=no_action"
        );
        let mut quarantine = config();
        quarantine.on_rewrite_subject = RewriteAction::Quarantine;
        quarantine.on_greylist = SoftAction::Tempfail;
        let parsed = |action: &str| {
            parse_rspamd_reply(format!(r#"{{"action":"{action}","score":9}}"#).as_bytes()).unwrap()
        };
        assert_eq!(
            parsed("rewrite subject").verdict(&quarantine).name(),
            "quarantine"
        );
        assert_eq!(parsed("greylist").verdict(&quarantine).name(), "tempfail");
    }

    #[test]
    fn bad_replies_are_errors() {
        assert!(parse_rspamd_reply(b"").is_err());
        assert!(parse_rspamd_reply(br#"{"action":"explode"}"#).is_err());
        assert!(parse_rspamd_reply(br#"{"score":1}"#).is_err());
    }

    #[test]
    fn reply_text_is_sanitized() {
        let reply = parse_rspamd_reply(
            br#"{"action":"reject","messages":{"smtp_message":"no\r\n250 ok"}}"#,
        )
        .unwrap();
        let Verdict::Reject { text, .. } = reply.verdict(&config()) else {
            panic!("reject")
        };
        assert_eq!(text, "no 250 ok");
    }

    #[test]
    fn envelope_cannot_inject_request_headers() {
        let info = MessageInfo {
            client_ip: [192, 0, 2, 1].into(),
            helo: "x\r\nPass: all".into(),
            mail_from: "a@example.com".into(),
            recipients: vec!["b@example.org".into(), "c@example.org".into()],
            authenticated: Some("user".into()),
            queue_id: "Q".into(),
            size: 3,
        };
        let head = request_head("127.0.0.1:1", &info, 3);
        assert!(head.contains("Helo: xPass: all\r\n"));
        assert!(head.contains("Rcpt: b@example.org\r\nRcpt: c@example.org\r\n"));
        assert!(head.contains("User: user\r\n"));
        assert!(head.ends_with("\r\n\r\n"));
    }

    #[test]
    fn responses_are_framed_by_content_length() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert!(response_complete(full));
        assert!(!response_complete(&full[..full.len() - 1]));
        assert_eq!(response_body("rspamd", full).unwrap(), b"{}");
        let err = response_body(
            "rspamd",
            b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nboom",
        )
        .unwrap_err();
        assert!(matches!(err, FilterError::Scanner { .. }), "{err}");
    }

    #[test]
    fn only_http_urls() {
        assert!(Rspamd::new(RspamdConfig::new("https://x:1")).is_err());
        assert!(Rspamd::new(RspamdConfig::new("http://x")).is_err());
        assert!(Rspamd::new(RspamdConfig::new("http://127.0.0.1:11333/")).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn replies_round_trip_through_json(
            action in proptest::sample::select(vec![
                "no action", "greylist", "add header", "rewrite subject", "soft reject", "reject",
            ]),
            score in -100.0f64..100.0,
            message in "\\PC{0,80}",
        ) {
            let json = serde_json::json!({
                "action": action, "score": score, "required_score": 15.0,
                "messages": { "smtp_message": message },
                "symbols": { "A": { "score": 1.0 } },
            });
            let reply = parse_rspamd_reply(json.to_string().as_bytes()).unwrap();
            proptest::prop_assert_eq!(reply.action.as_str(), action);
            proptest::prop_assert!((reply.score - score).abs() < 1e-9);
            proptest::prop_assert_eq!(reply.symbols, vec!["A".to_owned()]);
            let sanitized = sanitize_text(&message);
            proptest::prop_assert_eq!(
                reply.smtp_message,
                if sanitized.is_empty() { None } else { Some(sanitized) }
            );
        }

        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_rspamd_reply(&bytes);
        }
    }
}
