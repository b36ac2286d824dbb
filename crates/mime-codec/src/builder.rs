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

/// Builds a MIME message.
///
/// The structure follows from what is given: a text or HTML body alone, both as
/// `multipart/alternative`, inline images with the HTML in `multipart/related`, and attachments
/// around it all in `multipart/mixed`. Nothing is checked until [`build`](Self::build), which
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
                Node::Multi("alternative", vec![t, related])
            }
            (Some(t), Some(h)) => Node::Multi("alternative", vec![t, h]),
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
        if !self.attachments.is_empty() {
            let mut children = vec![body];
            for a in self.attachments {
                children.push(file_leaf(a, None, allow_8bit)?);
            }
            body = Node::Multi("mixed", children);
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
    Multi(&'static str, Vec<Node>),
}

impl Node {
    fn has_8bit(&self) -> bool {
        match self {
            Node::Leaf(_, Body::Ready(_, e)) => *e == TransferEncoding::EightBit,
            Node::Leaf(..) => false,
            Node::Multi(_, c) => c.iter().any(Node::has_8bit),
        }
    }

    fn raw_contains(&self, needle: &[u8]) -> bool {
        match self {
            Node::Leaf(h, Body::Ready(b, _)) => contains(h, needle) || contains(b, needle),
            Node::Leaf(h, _) => contains(h, needle),
            Node::Multi(_, c) => c.iter().any(|n| n.raw_contains(needle)),
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
            Node::Multi(subtype, children) => {
                let boundary = format!("=_mw{:016x}_{}", self.salt, self.next);
                self.next += 1;
                let mut f = HeaderField::start(&mut self.current, "Content-Type");
                f.word(&format!("multipart/{subtype};"));
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
    Ok(Node::Multi("related", children))
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
