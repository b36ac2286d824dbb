//! `MessageBuilder`: headers, bodies, inline images and attachments into a MIME message.

use crate::address::Mailbox;
use crate::content_type::{ContentType, TransferEncoding};
use crate::date::DateTime;
use crate::envelope_address::EnvelopeAddress;
use crate::error::{check_value, BuildError};
use crate::fold::{name_param, quote_param, write_mailboxes, write_unstructured, HeaderField};
use crate::output::{ChunkSource, Envelope, OutgoingMessage, Segment};

/// Headers the builder writes itself; custom headers may not use these names.
const RESERVED: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
];

/// Bytes of an attachment: in memory, or a stream read once while the message is written.
enum Content {
    Bytes(Vec<u8>),
    Stream(ChunkSource, Option<u64>),
}

/// A file attached to a message, or an inline image when added with
/// [`MessageBuilder::inline`].
///
/// ```
/// use mime_codec::Attachment;
/// let pdf = Attachment::new("报告.pdf", b"%PDF-1.7 ...".to_vec());
/// let big = Attachment::from_chunks("big.bin", Some(6), vec![b"abc".to_vec(), b"def".to_vec()].into_iter());
/// let typed = Attachment::new("data", vec![1, 2, 3]).content_type("application/x-custom");
/// # let _ = (pdf, big, typed);
/// ```
pub struct Attachment {
    file_name: String,
    content_type: Option<String>,
    content: Content,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = match &self.content {
            Content::Bytes(b) => Some(b.len() as u64),
            Content::Stream(_, len) => *len,
        };
        f.debug_struct("Attachment")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("len", &len)
            .finish()
    }
}

impl Attachment {
    /// An attachment held in memory; its content type is guessed from the file name unless set.
    pub fn new(file_name: impl Into<String>, bytes: Vec<u8>) -> Self {
        Attachment {
            file_name: file_name.into(),
            content_type: None,
            content: Content::Bytes(bytes),
        }
    }

    /// An attachment read from `chunks` while the message is written; always sent as base64.
    /// With `len` (the total byte count) the message size is known in advance.
    pub fn from_chunks(
        file_name: impl Into<String>,
        len: Option<u64>,
        chunks: impl Iterator<Item = Vec<u8>> + Send + 'static,
    ) -> Self {
        Attachment {
            file_name: file_name.into(),
            content_type: None,
            content: Content::Stream(Box::new(chunks), len),
        }
    }

    /// Sets the content type (`type/subtype`, parameters allowed) instead of guessing it.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
}

/// A body part given as it is to be sent: a content type and a body that is already 7-bit text
/// (ASCII without NUL, CRLF line endings only, lines of at most 998 octets), written with
/// `Content-Transfer-Encoding: 7bit` and never re-encoded. For the machine-readable parts of a
/// report, such as `message/delivery-status` (RFC 3464) or `text/rfc822-headers` (RFC 6522); added
/// with [`MessageBuilder::part`]. [`MessageBuilder::build`] checks the body and the content type.
///
/// ```
/// use mime_codec::RawPart;
/// let status = RawPart::new("message/delivery-status", "Reporting-MTA: dns; mx.example\r\n");
/// # let _ = status;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPart {
    content_type: String,
    body: Vec<u8>,
}

impl RawPart {
    /// A part of content type `content_type` (`type/subtype`, parameters allowed, not multipart)
    /// whose body is `body`, byte for byte.
    pub fn new(content_type: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        RawPart {
            content_type: content_type.into(),
            body: body.into(),
        }
    }
}

/// Builds a MIME message.
///
/// The structure follows from what is given: a text or HTML body alone, both as
/// `multipart/alternative`, inline images with the HTML in `multipart/related`, and attachments
/// around it all in `multipart/mixed`. Parts given as they are ([`part`](Self::part)) follow the
/// body in that `multipart/mixed`, or in a multipart of the caller's subtype and parameters
/// ([`multipart`](Self::multipart)), as a `multipart/report` needs. Nothing is checked until [`build`](Self::build), which
/// reports the first problem as a [`BuildError`].
///
/// ```
/// use mime_codec::{Attachment, DateTime, Mailbox, MessageBuilder};
/// let msg = MessageBuilder::new()
///     .from(Mailbox::new("张三", "zhang@example.com")?)
///     .to(Mailbox::address_only("li@example.net")?)
///     .bcc(Mailbox::address_only("audit@example.com")?)
///     .subject("季度报告")
///     .date(DateTime::from_unix(1_700_000_000, 480).unwrap())
///     .entropy([7; 16])
///     .text_body("见附件。")
///     .attach(Attachment::new("报告.pdf", b"%PDF".to_vec()))
///     .build()?;
/// assert_eq!(msg.envelope().recipients, ["li@example.net", "audit@example.com"]);
/// let size = msg.size();
/// let bytes = msg.to_vec();
/// assert_eq!(size, Some(bytes.len() as u64));
/// assert!(!String::from_utf8_lossy(&bytes).contains("audit@"));
/// # Ok::<(), mime_codec::BuildError>(())
/// ```
#[derive(Debug, Default)]
pub struct MessageBuilder {
    from: Vec<Mailbox>,
    sender: Option<Mailbox>,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
    reply_to: Vec<Mailbox>,
    subject: Option<String>,
    date: Option<DateTime>,
    message_id: Option<String>,
    entropy: Vec<u8>,
    in_reply_to: Vec<String>,
    references: Vec<String>,
    headers: Vec<(String, String)>,
    text: Option<String>,
    html: Option<String>,
    inline: Vec<(String, Attachment)>,
    attachments: Vec<Attachment>,
    raw_parts: Vec<RawPart>,
    multipart: Option<(String, Vec<(String, String)>)>,
    allow_8bit: bool,
}

impl MessageBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a From mailbox (several are allowed, with a Sender).
    pub fn from(mut self, mailbox: Mailbox) -> Self {
        self.from.push(mailbox);
        self
    }
    /// Sets the Sender, who sent the message for the From authors; also the envelope's reverse path.
    pub fn sender(mut self, mailbox: Mailbox) -> Self {
        self.sender = Some(mailbox);
        self
    }
    /// Adds a To recipient.
    pub fn to(mut self, mailbox: Mailbox) -> Self {
        self.to.push(mailbox);
        self
    }
    /// Adds a Cc recipient.
    pub fn cc(mut self, mailbox: Mailbox) -> Self {
        self.cc.push(mailbox);
        self
    }
    /// Adds a Bcc recipient: in the envelope, never in the headers.
    pub fn bcc(mut self, mailbox: Mailbox) -> Self {
        self.bcc.push(mailbox);
        self
    }
    /// Adds a Reply-To mailbox.
    pub fn reply_to(mut self, mailbox: Mailbox) -> Self {
        self.reply_to.push(mailbox);
        self
    }
    /// Sets the Subject; non-ASCII text is sent as RFC 2047 encoded words.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
    /// Sets the Date. Without it the message has no Date header (submission servers add one).
    pub fn date(mut self, date: DateTime) -> Self {
        self.date = Some(date);
        self
    }
    /// Sets the Message-ID (with or without angle brackets).
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.message_id = Some(id.into());
        self
    }
    /// Random bytes from the caller, used for the generated Message-ID
    /// (`<hex@sender-domain>`) and the multipart boundaries. Without entropy and without
    /// [`message_id`](Self::message_id) the message has no Message-ID header.
    pub fn entropy(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.entropy = bytes.as_ref().iter().copied().take(32).collect();
        self
    }
    /// Adds a message identifier to In-Reply-To.
    pub fn in_reply_to(mut self, id: impl Into<String>) -> Self {
        self.in_reply_to.push(id.into());
        self
    }
    /// Adds a message identifier to References.
    pub fn references(mut self, id: impl Into<String>) -> Self {
        self.references.push(id.into());
        self
    }
    /// Adds a custom header such as `List-Unsubscribe` or `X-Mailer`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Sets the plain text body (line endings become CRLF).
    pub fn text_body(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }
    /// Sets the HTML body (line endings become CRLF).
    pub fn html_body(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }
    /// Adds an inline part (usually an image) that the HTML body references as `cid:content_id`.
    pub fn inline(mut self, content_id: impl Into<String>, part: Attachment) -> Self {
        self.inline.push((content_id.into(), part));
        self
    }
    /// Adds an attachment.
    pub fn attach(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }
    /// Adds a part given as it is (see [`RawPart`]), after the text and HTML body and before the
    /// attachments. A message with such parts is a multipart: `multipart/mixed` unless
    /// [`multipart`](Self::multipart) chose another subtype.
    pub fn part(mut self, part: RawPart) -> Self {
        self.raw_parts.push(part);
        self
    }
    /// Makes the message one `multipart/SUBTYPE` holding, in order, the body (text, HTML and inline
    /// parts as usual), the parts added with [`part`](Self::part) and the attachments, with
    /// `params` added to its Content-Type before the boundary. An RFC 3464 bounce is
    /// `multipart("report", &[("report-type", "delivery-status")])` with a text body and two
    /// [`RawPart`]s. The subtype must be a token, and a parameter a token name other than
    /// `boundary` with a printable ASCII value.
    ///
    /// ```
    /// use mime_codec::{Mailbox, Message, MessageBuilder, RawPart};
    /// let bytes = MessageBuilder::new()
    ///     .from(Mailbox::address_only("MAILER-DAEMON@mx.example")?)
    ///     .multipart("report", &[("report-type", "delivery-status")])
    ///     .text_body("Your message could not be delivered.")
    ///     .part(RawPart::new("message/delivery-status", "Reporting-MTA: dns; mx.example\r\n"))
    ///     .part(RawPart::new("text/rfc822-headers", "Subject: Hi\r\n"))
    ///     .build()?
    ///     .to_vec();
    /// let m = Message::parse(&bytes);
    /// assert!(m.root().content_type().is("multipart", "report"));
    /// assert_eq!(m.root().content_type().param("report-type"), Some("delivery-status"));
    /// assert_eq!(m.root().parts()[2].raw_body(), b"Subject: Hi\r\n");
    /// # Ok::<(), mime_codec::BuildError>(())
    /// ```
    pub fn multipart(mut self, subtype: impl Into<String>, params: &[(&str, &str)]) -> Self {
        let params = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.multipart = Some((subtype.into(), params));
        self
    }
    /// Allows `8bit` parts when the path to the server supports 8BITMIME; off by default.
    pub fn allow_8bit(mut self, allow: bool) -> Self {
        self.allow_8bit = allow;
        self
    }

    /// Checks everything and lays the message out.
    pub fn build(self) -> Result<OutgoingMessage, BuildError> {
        let author = self.from.first().ok_or(BuildError::MissingFrom)?;
        if self.from.len() > 1 && self.sender.is_none() {
            return Err(BuildError::MissingSender);
        }
        let reverse_path = self.sender.as_ref().unwrap_or(author).envelope_address()?;
        let domain = self.sender.as_ref().unwrap_or(author).domain().to_owned();
        let mut recipients: Vec<EnvelopeAddress> = Vec::new();
        for m in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            if !recipients.iter().any(|r| r == m.address()) {
                recipients.push(m.envelope_address()?);
            }
        }
        let all_boxes = || {
            self.from
                .iter()
                .chain(&self.sender)
                .chain(&self.to)
                .chain(&self.cc)
                .chain(&self.bcc)
                .chain(&self.reply_to)
        };
        let needs_smtputf8 = all_boxes().any(Mailbox::needs_smtputf8);

        // Top-level headers.
        let mut head = Vec::with_capacity(1024);
        if let Some(d) = &self.date {
            write_unstructured(&mut head, "Date", &d.to_string());
        }
        write_mailboxes(&mut head, "From", &self.from);
        if let Some(s) = &self.sender {
            write_mailboxes(&mut head, "Sender", std::slice::from_ref(s));
        }
        if !self.reply_to.is_empty() {
            write_mailboxes(&mut head, "Reply-To", &self.reply_to);
        }
        if !self.to.is_empty() {
            write_mailboxes(&mut head, "To", &self.to);
        }
        if !self.cc.is_empty() {
            write_mailboxes(&mut head, "Cc", &self.cc);
        }
        if let Some(s) = &self.subject {
            check_value("Subject", s)?;
            write_unstructured(&mut head, "Subject", s);
        }
        let message_id = match &self.message_id {
            Some(id) => Some(msg_id(id)?),
            None if !self.entropy.is_empty() => {
                Some(format!("<{}@{}>", hex(&self.entropy), domain))
            }
            None => None,
        };
        if let Some(id) = &message_id {
            write_ids(&mut head, "Message-ID", std::slice::from_ref(id));
        }
        for (name, list) in [
            ("In-Reply-To", &self.in_reply_to),
            ("References", &self.references),
        ] {
            if !list.is_empty() {
                let ids = list
                    .iter()
                    .map(|i| msg_id(i))
                    .collect::<Result<Vec<_>, _>>()?;
                write_ids(&mut head, name, &ids);
            }
        }
        for (name, value) in &self.headers {
            // Names longer than 76 could not share a line with any value under the 78 column rule.
            if name.is_empty()
                || name.len() > 76
                || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
            {
                return Err(BuildError::InvalidHeaderName(name.clone()));
            }
            if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                return Err(BuildError::ReservedHeader(name.clone()));
            }
            check_value(name, value)?;
            write_unstructured(&mut head, name, value);
        }
        head.extend_from_slice(b"MIME-Version: 1.0\r\n");

        // The part tree.
        let allow_8bit = self.allow_8bit;
        let text = self.text.map(|t| text_leaf("plain", &t, allow_8bit));
        let html = self.html.map(|t| text_leaf("html", &t, allow_8bit));
        let mut body = match (text, html) {
            (Some(t), Some(h)) if !self.inline.is_empty() => {
                let related = related(h, self.inline, allow_8bit)?;
                Node::multi("alternative", vec![t, related])
            }
            (Some(t), Some(h)) => Node::multi("alternative", vec![t, h]),
            (Some(one), None) | (None, Some(one)) if !self.inline.is_empty() => {
                related(one, self.inline, allow_8bit)?
            }
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => {
                let empty = text_leaf("plain", "", allow_8bit);
                if self.inline.is_empty() {
                    empty
                } else {
                    related(empty, self.inline, allow_8bit)?
                }
            }
        };
        if let Some((subtype, params)) = &self.multipart {
            check_multipart(subtype, params)?;
        }
        if !self.attachments.is_empty() || !self.raw_parts.is_empty() || self.multipart.is_some() {
            let mut children = vec![body];
            for p in self.raw_parts {
                children.push(raw_leaf(p)?);
            }
            for a in self.attachments {
                children.push(file_leaf(a, None, allow_8bit)?);
            }
            let (subtype, params) = self
                .multipart
                .unwrap_or_else(|| ("mixed".to_owned(), Vec::new()));
            body = Node::Multi(subtype.to_ascii_lowercase(), params, children);
        }

        let needs_8bitmime = needs_smtputf8 || body.has_8bit();
        let mut salt = fnv(&self.entropy) ^ fnv(message_id.as_deref().unwrap_or("").as_bytes());
        // Choose boundaries that no raw (7bit/8bit) body contains; encoded bodies cannot hold "=_".
        while body.raw_contains(format!("=_mw{salt:016x}").as_bytes()) {
            salt = salt.wrapping_mul(0x0000_0100_0000_01b3).wrapping_add(1);
        }
        let mut w = Writer {
            segments: Vec::new(),
            current: head,
            salt,
            next: 0,
        };
        w.node(body);
        let Writer {
            mut segments,
            current,
            ..
        } = w;
        if !current.is_empty() {
            segments.push(Segment::Bytes(current));
        }
        Ok(OutgoingMessage {
            envelope: Envelope {
                reverse_path,
                recipients,
            },
            segments,
            needs_8bitmime,
            needs_smtputf8,
        })
    }
}

/// A body part's encoded form.
enum Body {
    /// Already encoded (7bit, 8bit or quoted-printable) with the encoding used.
    Ready(Vec<u8>, TransferEncoding),
    Base64(Vec<u8>),
    Stream(ChunkSource, Option<u64>),
}

enum Node {
    /// Part headers (without the blank line) and the body.
    Leaf(Vec<u8>, Body),
    /// Subtype, extra Content-Type parameters (before the boundary), children.
    Multi(String, Vec<(String, String)>, Vec<Node>),
}

impl Node {
    fn multi(subtype: &str, children: Vec<Node>) -> Node {
        Node::Multi(subtype.to_owned(), Vec::new(), children)
    }

    fn has_8bit(&self) -> bool {
        match self {
            Node::Leaf(_, Body::Ready(_, e)) => *e == TransferEncoding::EightBit,
            Node::Leaf(..) => false,
            Node::Multi(_, _, c) => c.iter().any(Node::has_8bit),
        }
    }

    fn raw_contains(&self, needle: &[u8]) -> bool {
        match self {
            Node::Leaf(h, Body::Ready(b, _)) => contains(h, needle) || contains(b, needle),
            Node::Leaf(h, _) => contains(h, needle),
            Node::Multi(_, _, c) => c.iter().any(|n| n.raw_contains(needle)),
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Appends nodes to a list of segments, merging adjacent bytes.
struct Writer {
    segments: Vec<Segment>,
    current: Vec<u8>,
    salt: u64,
    next: u32,
}

impl Writer {
    fn node(&mut self, node: Node) {
        match node {
            Node::Leaf(headers, body) => {
                self.current.extend_from_slice(&headers);
                self.current.extend_from_slice(b"\r\n");
                match body {
                    Body::Ready(b, _) => self.current.extend_from_slice(&b),
                    Body::Base64(b) => {
                        self.segments
                            .push(Segment::Bytes(std::mem::take(&mut self.current)));
                        self.segments.push(Segment::Base64(b));
                    }
                    Body::Stream(s, len) => {
                        self.segments
                            .push(Segment::Bytes(std::mem::take(&mut self.current)));
                        self.segments.push(Segment::Base64Stream(s, len));
                    }
                }
            }
            Node::Multi(subtype, params, children) => {
                let boundary = format!("=_mw{:016x}_{}", self.salt, self.next);
                self.next += 1;
                let mut f = HeaderField::start(&mut self.current, "Content-Type");
                f.word(&format!("multipart/{subtype};"));
                for (k, v) in &params {
                    f.word(&format!("{k}={};", quote_param(v)));
                }
                f.word(&format!("boundary=\"{boundary}\""));
                f.end();
                self.current.extend_from_slice(b"\r\n");
                for child in children {
                    self.current
                        .extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                    self.node(child);
                    self.current.extend_from_slice(b"\r\n");
                }
                self.current
                    .extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            }
        }
    }
}

/// Picks the transfer encoding for in-memory content and encodes it.
fn encode_body(data: Vec<u8>, textual: bool, allow_8bit: bool) -> Body {
    match crate::transfer::choose(&data, textual, allow_8bit) {
        TransferEncoding::QuotedPrintable => {
            Body::Ready(crate::qp::encode(&data), TransferEncoding::QuotedPrintable)
        }
        TransferEncoding::Base64 => Body::Base64(data),
        e => Body::Ready(data, e),
    }
}

fn transfer_header(out: &mut Vec<u8>, body: &Body) {
    let e = match body {
        Body::Ready(_, e) => *e,
        _ => TransferEncoding::Base64,
    };
    out.extend_from_slice(format!("Content-Transfer-Encoding: {}\r\n", e.as_str()).as_bytes());
}

fn text_leaf(subtype: &str, text: &str, allow_8bit: bool) -> Node {
    let body = encode_body(crate::transfer::to_crlf(text), true, allow_8bit);
    let mut h = format!("Content-Type: text/{subtype}; charset=utf-8\r\n").into_bytes();
    transfer_header(&mut h, &body);
    Node::Leaf(h, body)
}

fn related(
    main: Node,
    inline: Vec<(String, Attachment)>,
    allow_8bit: bool,
) -> Result<Node, BuildError> {
    let mut children = vec![main];
    for (cid, part) in inline {
        children.push(file_leaf(part, Some(cid), allow_8bit)?);
    }
    Ok(Node::multi("related", children))
}

/// A file part: attachment, or inline with a Content-ID.
fn file_leaf(
    a: Attachment,
    content_id: Option<String>,
    allow_8bit: bool,
) -> Result<Node, BuildError> {
    check_value("attachment file name", &a.file_name)?;
    // Also keeps the RFC 2231 continuations within what any parser (ours included) reads back.
    if a.file_name.len() > 255 {
        return Err(BuildError::FileNameTooLong(a.file_name));
    }
    let ct_text = match &a.content_type {
        Some(ct) => {
            check_value("attachment content type", ct)?;
            ct.clone()
        }
        None => crate::media_type::guess_content_type(&a.file_name).to_owned(),
    };
    let ct = ContentType::parse(&ct_text)
        .ok_or_else(|| BuildError::InvalidContentType(ct_text.clone()))?;
    // A multipart is laid out by the builder, and a parameter too long to fold would break the
    // 998 octet line limit.
    if ct.media_type == "multipart" || ct.params.iter().any(|(k, v)| k.len() + v.len() > 900) {
        return Err(BuildError::InvalidContentType(ct_text));
    }
    let textual =
        ct.media_type == "text" || matches!(ct.subtype.as_str(), "json" | "xml" | "javascript");
    let body = match a.content {
        Content::Bytes(b) => encode_body(b, textual, allow_8bit),
        Content::Stream(s, len) => Body::Stream(s, len),
    };
    let mut h = Vec::with_capacity(256);
    let mut f = HeaderField::start(&mut h, "Content-Type");
    f.word(&ct.essence());
    for (k, v) in ct.params.iter().filter(|(k, _)| k != "name") {
        f.glue(";");
        f.word(&format!("{k}={}", quote_param(v)));
    }
    if !a.file_name.is_empty() {
        f.glue(";");
        name_param(&mut f, "name", &a.file_name, true);
    }
    f.end();
    let mut f = HeaderField::start(&mut h, "Content-Disposition");
    f.word(if content_id.is_some() {
        "inline"
    } else {
        "attachment"
    });
    if !a.file_name.is_empty() {
        f.glue(";");
        name_param(&mut f, "filename", &a.file_name, false);
    }
    f.end();
    if let Some(cid) = content_id {
        let cid = msg_id(&cid)?;
        h.extend_from_slice(format!("Content-ID: {cid}\r\n").as_bytes());
    }
    transfer_header(&mut h, &body);
    Ok(Node::Leaf(h, body))
}

/// Whether `v` is a parameter value the builder writes as it is: printable ASCII, short enough to
/// keep its line under the 998 octet limit.
fn plain_value(k: &str, v: &str) -> bool {
    v.bytes().all(|b| (b' '..=b'~').contains(&b)) && k.len() + v.len() <= 900
}

fn is_token_text(s: &str) -> bool {
    !s.is_empty() && s.len() <= 127 && s.bytes().all(crate::content_type::is_token)
}

/// Checks a caller's multipart subtype and its extra parameters.
fn check_multipart(subtype: &str, params: &[(String, String)]) -> Result<(), BuildError> {
    let bad = || {
        let mut text = format!("multipart/{subtype}");
        for (k, v) in params {
            text.push_str(&format!("; {k}={v}"));
        }
        BuildError::InvalidContentType(text)
    };
    if !is_token_text(subtype) {
        return Err(bad());
    }
    for (k, v) in params {
        if !is_token_text(k) || k.eq_ignore_ascii_case("boundary") || !plain_value(k, v) {
            return Err(bad());
        }
    }
    Ok(())
}

/// A part given as it is: the content type checked and rewritten, the body checked to be 7-bit.
fn raw_leaf(p: RawPart) -> Result<Node, BuildError> {
    check_value("part content type", &p.content_type)?;
    let ct = ContentType::parse(&p.content_type)
        .ok_or_else(|| BuildError::InvalidContentType(p.content_type.clone()))?;
    if ct.media_type == "multipart"
        || !p.content_type.bytes().all(|b| (b' '..=b'~').contains(&b))
        || ct.params.iter().any(|(k, v)| !plain_value(k, v))
    {
        return Err(BuildError::InvalidContentType(p.content_type));
    }
    if !p.body.iter().all(|b| (1..0x80).contains(b)) || !crate::transfer::fits_lines(&p.body) {
        return Err(BuildError::NotSevenBit(ct.essence()));
    }
    let mut h = Vec::with_capacity(128);
    let mut f = HeaderField::start(&mut h, "Content-Type");
    f.word(&ct.essence());
    for (k, v) in &ct.params {
        f.glue(";");
        f.word(&format!("{k}={}", quote_param(v)));
    }
    f.end();
    let body = Body::Ready(p.body, TransferEncoding::SevenBit);
    transfer_header(&mut h, &body);
    Ok(Node::Leaf(h, body))
}

/// Validates a message or content identifier and wraps it in angle brackets.
fn msg_id(id: &str) -> Result<String, BuildError> {
    check_value("message identifier", id)?;
    let inner = id.trim().trim_start_matches('<').trim_end_matches('>');
    if inner.is_empty()
        || inner.len() > 900
        || inner.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\\' | ',' | ';')
        })
    {
        return Err(BuildError::InvalidId(id.to_owned()));
    }
    Ok(format!("<{inner}>"))
}

fn write_ids(out: &mut Vec<u8>, name: &str, ids: &[String]) {
    let mut f = HeaderField::start(out, name);
    for id in ids {
        f.word(id);
    }
    f.end();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// FNV-1a, to spread caller entropy into boundary names.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    fn report() -> MessageBuilder {
        MessageBuilder::new()
            .from(Mailbox::new("Mail Delivery System", "MAILER-DAEMON@mx.example").unwrap())
            .to(Mailbox::address_only("app@example.com").unwrap())
            .message_id("dsn.1@mx.example")
            .multipart("report", &[("report-type", "delivery-status")])
            .text_body("Your message could not be delivered.\n")
    }

    const STATUS: &[u8] = b"Reporting-MTA: dns; mx.example\r\n\r\n\
        Final-Recipient: rfc822; nobody@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n";

    #[test]
    fn a_report_is_one_multipart_of_the_chosen_subtype_with_the_parts_as_given() {
        let out = report()
            .part(RawPart::new("message/delivery-status", STATUS))
            .part(RawPart::new("text/rfc822-headers", "Subject: Hi\r\n"))
            .build()
            .unwrap()
            .to_vec();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains(
            "Content-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"=_mw"
        ));
        assert!(text.contains(
            "Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: 7bit\r\n\r\nReporting-MTA: dns; mx.example\r\n"
        ));
        let m = Message::parse(&out);
        assert!(m.root().content_type().is("multipart", "report"));
        let parts = m.root().parts();
        assert_eq!(parts.len(), 3);
        assert!(parts[0].content_type().is("text", "plain"));
        assert_eq!(
            m.text_body().unwrap().text,
            "Your message could not be delivered.\r\n"
        );
        assert!(parts[1].content_type().is("message", "delivery-status"));
        assert_eq!(parts[1].raw_body(), STATUS);
        assert!(parts[2].content_type().is("text", "rfc822-headers"));
        assert_eq!(parts[2].raw_body(), b"Subject: Hi\r\n");
        assert!(m.defects().is_empty(), "{:?}", m.defects());
    }

    #[test]
    fn raw_parts_without_a_subtype_go_in_multipart_mixed_before_the_attachments() {
        let out = MessageBuilder::new()
            .from(Mailbox::address_only("a@example.com").unwrap())
            .text_body("hi")
            .attach(Attachment::new("a.bin", vec![0, 1, 2]))
            .part(RawPart::new(
                "text/plain; charset=us-ascii; format=flowed",
                "as is\r\n",
            ))
            .build()
            .unwrap()
            .to_vec();
        let m = Message::parse(&out);
        assert!(m.root().content_type().is("multipart", "mixed"));
        let parts = m.root().parts();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].content_type().param("format"), Some("flowed"));
        assert_eq!(parts[1].raw_body(), b"as is\r\n");
        assert_eq!(parts[2].decoded().into_owned(), vec![0, 1, 2]);
    }

    #[test]
    fn a_boundary_never_appears_in_a_raw_part() {
        // The first boundary the builder would pick, inside a part: it picks another.
        let first = report().build().unwrap().to_vec();
        let text = String::from_utf8(first).unwrap();
        let at = text.find("boundary=\"").unwrap() + 10;
        let boundary = &text[at..at + text[at..].find('"').unwrap()];
        assert!(boundary.starts_with("=_mw"), "{boundary}");
        let body = format!("--{boundary}\r\n");
        let out = report()
            .part(RawPart::new("text/rfc822-headers", body.clone()))
            .build()
            .unwrap()
            .to_vec();
        let m = Message::parse(&out);
        assert_eq!(m.root().parts().len(), 2);
        assert_eq!(m.root().parts()[1].raw_body(), body.as_bytes());
    }

    #[test]
    fn what_is_not_7_bit_or_not_a_plain_type_is_refused() {
        let refused = |p: RawPart| report().part(p).build().map(|_| ()).unwrap_err();
        for body in [
            &b"caf\xc3\xa9\r\n"[..],
            b"bare\nlf\r\n",
            b"bare\rcr\r\n",
            b"nul\0\r\n",
        ] {
            assert_eq!(
                refused(RawPart::new("message/delivery-status", body)),
                BuildError::NotSevenBit("message/delivery-status".into())
            );
        }
        let long = format!("{}\r\n", "x".repeat(999));
        assert!(matches!(
            refused(RawPart::new("text/plain", long)),
            BuildError::NotSevenBit(_)
        ));
        assert!(report()
            .part(RawPart::new(
                "text/plain",
                format!("{}\r\n", "x".repeat(998))
            ))
            .build()
            .is_ok());
        for ct in [
            "multipart/mixed",
            "nonsense",
            "text/plain; x=\"é\"",
            "text/\u{e9}",
        ] {
            assert!(matches!(
                refused(RawPart::new(ct, "x")),
                BuildError::InvalidContentType(_)
            ));
        }
        assert!(matches!(
            refused(RawPart::new("text/plain\r\nBcc: x@y", "x")),
            BuildError::ForbiddenCharacter { .. }
        ));
        for (subtype, params) in [
            ("", &[][..]),
            ("re port", &[]),
            ("report", &[("boundary", "x")]),
            ("report", &[("report type", "x")]),
            ("report", &[("report-type", "caf\u{e9}")]),
        ] {
            let built = MessageBuilder::new()
                .from(Mailbox::address_only("a@example.com").unwrap())
                .multipart(subtype, params)
                .build();
            assert!(
                matches!(built, Err(BuildError::InvalidContentType(_))),
                "{subtype:?} {params:?}"
            );
        }
    }
}
