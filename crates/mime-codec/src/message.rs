//! Parsing a message into a tree of parts, borrowed from the input.

use std::borrow::Cow;

use crate::address::{parse_address_list, Address, Mailbox};
use crate::charset::DecodedText;
use crate::content_type::{ContentDisposition, ContentType, TransferEncoding};
use crate::date::{DateTime, ZoneReading};
use crate::defect::Defect;
use crate::header::{find, parse_headers, Header};

/// Bounds on the work the parser does, so hostile input cannot make it deep or wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Deepest nesting of multiparts and messages; deeper bodies stay unparsed leaves.
    pub max_depth: usize,
    /// Most header fields kept per part; the rest are skipped.
    pub max_headers: usize,
    /// Most parts in the whole message; beyond it the last part holds the rest of its body.
    pub max_parts: usize,
}

impl Default for ParseLimits {
    /// Depth 32, 1000 headers per part, 10 000 parts.
    fn default() -> Self {
        ParseLimits {
            max_depth: 32,
            max_headers: 1000,
            max_parts: 10_000,
        }
    }
}

/// The body of a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// A leaf: the body bytes as received, still transfer-encoded.
    Single,
    /// A multipart body and its children.
    Multipart {
        /// Text before the first boundary.
        preamble: &'a [u8],
        /// The parts.
        parts: Vec<Part<'a>>,
        /// Text after the closing boundary.
        epilogue: &'a [u8],
        /// Whether the closing boundary was present (a missing one is tolerated).
        closed: bool,
    },
    /// A `message/*` part parsed as a message: `message/rfc822` and `message/global`, and the
    /// types whose body is a header section (`message/external-body`,
    /// `message/disposition-notification`, ...); not `message/delivery-status`, whose body is
    /// several blocks of fields (RFC 3464).
    Message(Box<Message<'a>>),
    /// A `message/delivery-status` part (RFC 3464): its blocks of fields, the per-message
    /// fields first and then one block per recipient, each read as a part whose headers are the
    /// fields (as Python's `email` reads them). See [`Part::status_groups`].
    DeliveryStatus(Vec<Part<'a>>),
    /// A `message/rfc822` (or `message/global`) part that arrived base64- or
    /// quoted-printable-encoded (RFC 2046 section 5.2.1 forbids this, but mailers send it): the
    /// decoded message bytes. The tree borrows from the input and cannot also borrow from a
    /// buffer it owns, so [`Part::encoded_message`] parses these bytes when asked.
    EncodedMessage(Vec<u8>),
}

/// One MIME part: its headers and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    headers: Vec<Header<'a>>,
    content_type: ContentType,
    /// Whether the Content-Type header was present and valid.
    content_type_declared: bool,
    /// Defects found while parsing this part (those of its body are found when asked).
    defects: Vec<Defect>,
    disposition: Option<ContentDisposition>,
    encoding: TransferEncoding,
    raw_body: &'a [u8],
    body: Body<'a>,
    /// What is left of the parse limits below this part, for [`Part::encoded_message`].
    nested_limits: ParseLimits,
}

/// A parsed message: the top-level part plus helpers for the usual questions.
///
/// ```
/// let raw = b"From: =?UTF-8?B?5byg5LiJ?= <z@example.com>\r\nSubject: =?UTF-8?B?5L2g5aW9?=\r\n\r\nhi";
/// let msg = mime_codec::Message::parse(raw);
/// assert_eq!(msg.subject().as_deref(), Some("你好"));
/// assert_eq!(msg.from()[0].mailboxes()[0].name(), Some("张三"));
/// assert_eq!(msg.text_body().unwrap().text, "hi");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    root: Part<'a>,
}

struct Ctx {
    limits: ParseLimits,
    parts: usize,
}

impl<'a> Message<'a> {
    /// Parses a message with the default [`ParseLimits`]. Never fails and never panics: malformed
    /// input gives the best reading. Time is linear in the input size (times the bounded depth).
    pub fn parse(input: &'a [u8]) -> Self {
        Self::parse_with(input, ParseLimits::default())
    }

    /// Parses a message with the given limits.
    pub fn parse_with(input: &'a [u8], limits: ParseLimits) -> Self {
        let mut ctx = Ctx { limits, parts: 0 };
        Message {
            root: parse_part(input, 0, false, &mut ctx),
        }
    }

    /// The top-level part (its headers are the message headers).
    pub fn root(&self) -> &Part<'a> {
        &self.root
    }

    /// All header fields of the message.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.root.headers
    }

    /// The first field named `name`, decoded as unstructured text.
    pub fn header(&self, name: &str) -> Option<Cow<'a, str>> {
        find(&self.root.headers, name).map(Header::text)
    }

    fn addresses(&self, name: &str) -> Vec<Address> {
        self.root
            .headers
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case(name))
            .flat_map(|h| parse_address_list(&h.unfolded()))
            .collect()
    }

    /// The Subject, decoded.
    pub fn subject(&self) -> Option<Cow<'a, str>> {
        self.header("Subject")
    }
    /// The From addresses.
    pub fn from(&self) -> Vec<Address> {
        self.addresses("From")
    }
    /// The Sender mailbox.
    pub fn sender(&self) -> Option<Mailbox> {
        self.addresses("Sender")
            .first()
            .and_then(|a| a.mailboxes().first().cloned())
    }
    /// The To addresses.
    pub fn to(&self) -> Vec<Address> {
        self.addresses("To")
    }
    /// The Cc addresses.
    pub fn cc(&self) -> Vec<Address> {
        self.addresses("Cc")
    }
    /// The Bcc addresses (present only in stored copies that kept them).
    pub fn bcc(&self) -> Vec<Address> {
        self.addresses("Bcc")
    }
    /// The Reply-To addresses.
    pub fn reply_to(&self) -> Vec<Address> {
        self.addresses("Reply-To")
    }
    /// The Date, parsed; `None` when absent or unreadable.
    pub fn date(&self) -> Option<DateTime> {
        find(&self.root.headers, "Date").and_then(|h| DateTime::parse(&h.unfolded()))
    }
    /// The Message-ID without angle brackets.
    pub fn message_id(&self) -> Option<String> {
        find(&self.root.headers, "Message-ID")
            .and_then(|h| msg_ids(&h.unfolded()).into_iter().next())
    }
    /// The In-Reply-To identifiers without angle brackets.
    pub fn in_reply_to(&self) -> Vec<String> {
        find(&self.root.headers, "In-Reply-To").map_or_else(Vec::new, |h| msg_ids(&h.unfolded()))
    }
    /// The References identifiers without angle brackets.
    pub fn references(&self) -> Vec<String> {
        find(&self.root.headers, "References").map_or_else(Vec::new, |h| msg_ids(&h.unfolded()))
    }

    /// Every leaf part in order, descending into multiparts and into nested `message/rfc822`
    /// messages (whose own leaves are yielded in place of the message part). A `message/rfc822`
    /// part that arrived transfer-encoded ([`Body::EncodedMessage`]) is a leaf itself.
    ///
    /// ```
    /// let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nouter text\r\n\
    ///             --b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner text\r\n--b--\r\n";
    /// let m = mime_codec::Message::parse(raw);
    /// let texts: Vec<_> = m.leaf_parts().map(|p| p.text().unwrap().text.into_owned()).collect();
    /// assert_eq!(texts, ["outer text", "inner text"]);
    /// ```
    pub fn leaf_parts(&self) -> LeafParts<'_, 'a> {
        self.root.leaf_parts()
    }

    /// What the parser had to work around, in every part (nested messages included), in tree
    /// order; empty for a well-formed message. Base64 bodies are decoded to check them, so this
    /// costs a pass over the message.
    pub fn defects(&self) -> Vec<Defect> {
        let mut out = Vec::new();
        let mut stack = vec![&self.root];
        while let Some(p) = stack.pop() {
            out.extend(p.defects());
            match &p.body {
                Body::Multipart { parts, .. } | Body::DeliveryStatus(parts) => {
                    stack.extend(parts.iter().rev());
                }
                Body::Message(m) => stack.push(&m.root),
                _ => {}
            }
        }
        out
    }

    /// The first plain text body (not an attachment), decoded to UTF-8.
    pub fn text_body(&self) -> Option<DecodedText<'a>> {
        self.body_part("plain").and_then(Part::text)
    }
    /// The first HTML body (not an attachment), decoded to UTF-8.
    pub fn html_body(&self) -> Option<DecodedText<'a>> {
        self.body_part("html").and_then(Part::text)
    }

    fn body_part(&self, subtype: &str) -> Option<&Part<'a>> {
        self.root
            .leaves()
            .into_iter()
            .find(|p| p.content_type.is("text", subtype) && p.role() == Role::Body)
    }

    /// The attachments, in order: parts marked `attachment`, non-text parts without a Content-ID,
    /// and attached messages. Nested messages are not searched.
    pub fn attachments(&self) -> Vec<&Part<'a>> {
        self.root
            .leaves()
            .into_iter()
            .filter(|p| p.role() == Role::Attachment)
            .collect()
    }
    /// The inline parts that have a Content-ID (images referenced by `cid:` from the HTML).
    pub fn inline_parts(&self) -> Vec<&Part<'a>> {
        self.root
            .leaves()
            .into_iter()
            .filter(|p| p.role() == Role::Inline)
            .collect()
    }
    /// The inline part with Content-ID `cid` (with or without angle brackets or `cid:`).
    pub fn part_by_content_id(&self, cid: &str) -> Option<&Part<'a>> {
        let want = cid
            .trim()
            .trim_start_matches("cid:")
            .trim_matches(['<', '>']);
        self.root
            .leaves()
            .into_iter()
            .find(|p| p.content_id().as_deref() == Some(want))
    }
}

/// The identifiers in a Message-ID, In-Reply-To or References value, without angle brackets.
/// The obsolete forms are normalised (RFC 5322 section 4.5.4): comments and whitespace inside
/// and around `<...>` are dropped, so `<id (comment) @ host>` gives `id@host`.
fn msg_ids(v: &str) -> Vec<String> {
    let v = crate::content_type::strip_comments(v);
    let mut out = Vec::new();
    let mut rest = v.as_ref();
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let id: String = rest[open + 1..open + close]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if !id.is_empty() {
            out.push(id);
        }
        rest = &rest[open + close + 1..];
    }
    if out.is_empty() {
        out.extend(v.split_whitespace().map(str::to_owned));
    }
    out
}

/// The leaf parts of a tree, descending into nested messages; see [`Message::leaf_parts`].
#[derive(Debug, Clone)]
pub struct LeafParts<'m, 'a> {
    stack: Vec<&'m Part<'a>>,
}

impl<'m, 'a> Iterator for LeafParts<'m, 'a> {
    type Item = &'m Part<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(p) = self.stack.pop() {
            match &p.body {
                Body::Multipart { parts, .. } => self.stack.extend(parts.iter().rev()),
                Body::Message(m) => self.stack.push(&m.root),
                Body::Single | Body::EncodedMessage(_) | Body::DeliveryStatus(_) => return Some(p),
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Body,
    Inline,
    Attachment,
    Container,
}

impl<'a> Part<'a> {
    /// All header fields of this part.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }
    /// The first field named `name`, decoded as unstructured text.
    pub fn header(&self, name: &str) -> Option<Cow<'a, str>> {
        find(&self.headers, name).map(Header::text)
    }
    /// The content type: as declared, or the default (`text/plain; charset=us-ascii`, or
    /// `message/rfc822` inside a `multipart/digest`) when absent or not `type/subtype`. A value
    /// that is not `type/subtype` keeps its parameters with the default type, so
    /// `Content-Type: BINARY; name="x.bin"` still names the file.
    pub fn content_type(&self) -> &ContentType {
        &self.content_type
    }
    /// Whether the content type was declared by a valid Content-Type header, rather than
    /// defaulted because the header is absent or invalid.
    ///
    /// ```
    /// let m = mime_codec::Message::parse(b"Content-Type: BINARY; name=\"x.bin\"\r\n\r\n...");
    /// assert!(!m.root().content_type_declared());
    /// assert_eq!(m.root().content_type().essence(), "text/plain");
    /// assert_eq!(m.root().file_name(), Some("x.bin"));
    /// ```
    pub fn content_type_declared(&self) -> bool {
        self.content_type_declared
    }

    /// What the parser had to work around in this part alone (not its children): skipped
    /// header lines, a bad Content-Type or transfer encoding, boundary trouble, damaged base64
    /// (decoded to check), an unreadable Date zone, an address list that needed repair.
    pub fn defects(&self) -> Vec<Defect> {
        let mut out = self.defects.clone();
        if let Some(h) = find(&self.headers, "Date") {
            let value = h.unfolded();
            match DateTime::parse_checked(&value) {
                None => out.push(Defect::UnreadableDate),
                Some((_, ZoneReading::Guessed)) => {
                    let zone = value
                        .split_whitespace()
                        .rev()
                        .find(|t| t.starts_with(['+', '-']))
                        .unwrap_or_default();
                    out.push(Defect::BadDateZone(zone.to_owned()));
                }
                Some((_, ZoneReading::Exact)) => {}
            }
        }
        for name in ["From", "Sender", "Reply-To", "To", "Cc", "Bcc"] {
            let repaired = self
                .headers
                .iter()
                .filter(|h| h.name().eq_ignore_ascii_case(name))
                .any(|h| crate::address::parse_address_list_checked(&h.unfolded()).1);
            if repaired {
                out.push(Defect::InvalidAddressList(name.to_owned()));
            }
        }
        if self.encoding == TransferEncoding::Base64 && !matches!(self.body, Body::Multipart { .. })
        {
            let (_, damage) = crate::base64::decode_checked(self.raw_body);
            if damage.junk {
                out.push(Defect::Base64InvalidCharacters);
            }
            if damage.after_padding {
                out.push(Defect::Base64DataAfterPadding);
            }
            if damage.stray_character {
                out.push(Defect::Base64StrayCharacter);
            }
        }
        out
    }
    /// The Content-Disposition, if any.
    pub fn disposition(&self) -> Option<&ContentDisposition> {
        self.disposition.as_ref()
    }
    /// The transfer encoding: `7bit` when absent, [`TransferEncoding::Unknown`] for a value the
    /// parser does not know.
    pub fn transfer_encoding(&self) -> TransferEncoding {
        self.encoding
    }
    /// The body bytes as received, still transfer-encoded.
    pub fn raw_body(&self) -> &'a [u8] {
        self.raw_body
    }
    /// The body structure.
    pub fn body(&self) -> &Body<'a> {
        &self.body
    }
    /// The child parts of a multipart (empty otherwise).
    pub fn parts(&self) -> &[Part<'a>] {
        match &self.body {
            Body::Multipart { parts, .. } => parts,
            _ => &[],
        }
    }

    /// The body with its transfer encoding undone; borrowed for 7bit, 8bit and binary.
    pub fn decoded(&self) -> Cow<'a, [u8]> {
        match self.encoding {
            TransferEncoding::Base64 => Cow::Owned(crate::base64::decode_lenient(self.raw_body)),
            TransferEncoding::QuotedPrintable => Cow::Owned(crate::qp::decode(self.raw_body)),
            _ => Cow::Borrowed(self.raw_body),
        }
    }

    /// For a `text/*` part, the body decoded to UTF-8 from its charset; `None` for other types.
    pub fn text(&self) -> Option<DecodedText<'a>> {
        if self.content_type.media_type != "text" {
            return None;
        }
        let charset = self.content_type.param("charset");
        Some(match self.decoded() {
            Cow::Borrowed(b) => crate::charset::decode(b, charset),
            Cow::Owned(v) => {
                let d = crate::charset::decode(&v, charset);
                DecodedText {
                    text: Cow::Owned(d.text.into_owned()),
                    charset: d.charset,
                    status: d.status,
                }
            }
        })
    }

    /// The file name: Content-Disposition `filename`, else Content-Type `name`; RFC 2231 and
    /// RFC 2047 forms decoded.
    pub fn file_name(&self) -> Option<&str> {
        self.disposition
            .as_ref()
            .and_then(|d| d.param("filename"))
            .or_else(|| self.content_type.param("name"))
            .filter(|n| !n.is_empty())
    }

    /// The Content-ID without angle brackets.
    pub fn content_id(&self) -> Option<String> {
        find(&self.headers, "Content-ID")
            .map(|h| {
                h.unfolded()
                    .trim()
                    .trim_matches(['<', '>'])
                    .trim()
                    .to_owned()
            })
            .filter(|c| !c.is_empty())
    }

    /// The blocks of fields of a `message/delivery-status` part (empty for every other part):
    /// the per-message fields, then one block per recipient (RFC 3464 section 2.1).
    ///
    /// ```
    /// let raw = b"Content-Type: message/delivery-status\r\n\r\n\
    ///             Reporting-MTA: dns; mx.example.org\r\n\r\n\
    ///             Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n";
    /// let m = mime_codec::Message::parse(raw);
    /// let groups = m.root().status_groups();
    /// assert_eq!(groups.len(), 2);
    /// assert_eq!(groups[1].header("Status").as_deref(), Some("5.1.1"));
    /// ```
    pub fn status_groups(&self) -> &[Part<'a>] {
        match &self.body {
            Body::DeliveryStatus(groups) => groups,
            _ => &[],
        }
    }

    /// The nested message of a `message/rfc822` part.
    pub fn message(&self) -> Option<&Message<'a>> {
        match &self.body {
            Body::Message(m) => Some(m),
            _ => None,
        }
    }

    /// The nested message of a `message/rfc822` part that arrived base64- or
    /// quoted-printable-encoded, parsed from its decoded bytes (again on each call) within what
    /// was left of the [`ParseLimits`] at this part. `None` for every other part; an unencoded
    /// nested message is [`message`](Self::message).
    ///
    /// ```
    /// let raw = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n\
    ///             U3ViamVjdDogaW5uZXINCg0KaGk=\r\n";
    /// let outer = mime_codec::Message::parse(raw);
    /// let inner = outer.root().encoded_message().unwrap();
    /// assert_eq!(inner.subject().as_deref(), Some("inner"));
    /// ```
    pub fn encoded_message(&self) -> Option<Message<'_>> {
        match &self.body {
            Body::EncodedMessage(bytes) => Some(Message::parse_with(bytes, self.nested_limits)),
            _ => None,
        }
    }

    fn role(&self) -> Role {
        match self.body {
            Body::Multipart { .. } => return Role::Container,
            Body::Message(_) | Body::EncodedMessage(_) => return Role::Attachment,
            Body::Single | Body::DeliveryStatus(_) => {}
        }
        let disposition = self.disposition.as_ref().map(|d| d.kind.as_str());
        if disposition == Some("attachment") {
            return Role::Attachment;
        }
        if find(&self.headers, "Content-ID").is_some() {
            return Role::Inline;
        }
        let ct = &self.content_type;
        let is_body_type = ct.is("text", "plain") || ct.is("text", "html");
        if is_body_type && self.file_name().is_none() {
            Role::Body
        } else {
            Role::Attachment
        }
    }

    /// Every leaf part under this one, descending into nested messages; see
    /// [`Message::leaf_parts`].
    pub fn leaf_parts(&self) -> LeafParts<'_, 'a> {
        LeafParts { stack: vec![self] }
    }

    /// Leaves of the tree in order (a nested message counts as one leaf).
    fn leaves(&self) -> Vec<&Part<'a>> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(p) = stack.pop() {
            match &p.body {
                Body::Multipart { parts, .. } => stack.extend(parts.iter().rev()),
                _ => out.push(p),
            }
        }
        out
    }
}

fn parse_part<'a>(input: &'a [u8], depth: usize, in_digest: bool, ctx: &mut Ctx) -> Part<'a> {
    ctx.parts += 1;
    let section = parse_headers(input, ctx.limits.max_headers);
    let headers = section.headers;
    let mut defects = Vec::new();
    if section.skipped_lines > 0 {
        defects.push(Defect::SkippedHeaderLines(section.skipped_lines));
    }
    if section.missing_separator {
        defects.push(Defect::MissingHeaderBodySeparator);
    }
    if section.dropped > 0 {
        defects.push(Defect::TooManyHeaders(section.dropped));
    }
    let raw_body = &input[section.body_start.min(input.len())..];
    let HeadInfo {
        content_type,
        content_type_declared,
        disposition,
        encoding,
    } = head_info(&headers, in_digest, &mut defects);
    let identity = matches!(
        encoding,
        TransferEncoding::SevenBit | TransferEncoding::EightBit | TransferEncoding::Binary
    );
    let deeper = depth < ctx.limits.max_depth;
    // Every message/* body but delivery-status (blocks of fields, RFC 3464) is a message or
    // reads as one: external-body and disposition-notification hold a header section.
    let is_message =
        content_type.media_type == "message" && content_type.subtype != "delivery-status";
    let is_full_message = matches!(content_type.subtype.as_str(), "rfc822" | "global");
    if !deeper && (content_type.media_type == "multipart" || is_message) {
        defects.push(Defect::NestingTooDeep);
    }
    let body = if content_type.media_type == "multipart" && deeper {
        match content_type.param("boundary").filter(|b| !b.is_empty()) {
            Some(boundary) => {
                let left = ctx.limits.max_parts.saturating_sub(ctx.parts).max(1);
                let split = crate::multipart::split(raw_body, boundary.as_bytes(), left);
                if split.truncated {
                    defects.push(Defect::TooManyParts);
                }
                if split.parts.is_empty() && !split.closed {
                    defects.push(Defect::BoundaryNotFound);
                } else if !split.closed && !split.truncated {
                    defects.push(Defect::MissingClosingBoundary);
                }
                let digest = content_type.subtype == "digest";
                let parts = split
                    .parts
                    .into_iter()
                    .map(|p| parse_part(p, depth + 1, digest, ctx))
                    .collect();
                Body::Multipart {
                    preamble: split.preamble,
                    parts,
                    epilogue: split.epilogue,
                    closed: split.closed,
                }
            }
            None => {
                defects.push(Defect::MissingBoundaryParameter);
                Body::Single
            }
        }
    } else if content_type.is("message", "delivery-status") && identity && deeper {
        let mut groups = Vec::new();
        for block in status_blocks(raw_body) {
            if ctx.parts >= ctx.limits.max_parts {
                defects.push(Defect::TooManyParts);
                break;
            }
            groups.push(parse_part(block, depth + 1, false, ctx));
        }
        Body::DeliveryStatus(groups)
    } else if is_message && deeper && ctx.parts < ctx.limits.max_parts {
        match encoding {
            _ if identity => Body::Message(Box::new(Message {
                root: parse_part(raw_body, depth + 1, false, ctx),
            })),
            TransferEncoding::Base64 if is_full_message => {
                Body::EncodedMessage(crate::base64::decode_lenient(raw_body))
            }
            TransferEncoding::QuotedPrintable if is_full_message => {
                Body::EncodedMessage(crate::qp::decode(raw_body))
            }
            _ => Body::Single,
        }
    } else {
        if is_message && deeper {
            defects.push(Defect::TooManyParts);
        }
        Body::Single
    };
    // The nested message's root sits one level down, and this part already counts.
    let nested_limits = ParseLimits {
        max_depth: ctx.limits.max_depth.saturating_sub(depth + 1),
        max_headers: ctx.limits.max_headers,
        max_parts: ctx.limits.max_parts.saturating_sub(ctx.parts),
    };
    Part {
        headers,
        content_type,
        content_type_declared,
        defects,
        disposition,
        encoding,
        raw_body,
        body,
        nested_limits,
    }
}

/// What a part's header says about how to read its body.
pub(crate) struct HeadInfo {
    pub(crate) content_type: ContentType,
    pub(crate) content_type_declared: bool,
    pub(crate) disposition: Option<ContentDisposition>,
    pub(crate) encoding: TransferEncoding,
}

/// Reads the Content-Type (defaulted as RFC 2045 and 2046 say: `message/rfc822` inside a
/// digest), the Content-Disposition and the transfer encoding of a part, noting defects.
pub(crate) fn head_info(
    headers: &[Header<'_>],
    in_digest: bool,
    defects: &mut Vec<Defect>,
) -> HeadInfo {
    let default_type = || {
        if in_digest {
            ContentType::message_rfc822()
        } else {
            ContentType::default_text()
        }
    };
    let (content_type, content_type_declared) = match find(headers, "Content-Type") {
        None => (default_type(), false),
        Some(h) => {
            let value = h.unfolded();
            match ContentType::parse(&value) {
                Some(ct) => (ct, true),
                None => {
                    defects.push(Defect::InvalidContentType(value.trim().to_owned()));
                    let mut ct = default_type();
                    let params = ContentType::params_of_invalid(&value);
                    if !params.is_empty() {
                        ct.params = params;
                    }
                    (ct, false)
                }
            }
        }
    };
    let disposition =
        find(headers, "Content-Disposition").and_then(|h| ContentDisposition::parse(&h.unfolded()));
    let encoding = match find(headers, "Content-Transfer-Encoding") {
        None => TransferEncoding::SevenBit,
        Some(h) => {
            let value = h.unfolded();
            TransferEncoding::parse(&value).unwrap_or_else(|| {
                let name = value.trim().to_ascii_lowercase();
                // An empty value says nothing, so it is the default rather than a mystery.
                if name.is_empty() {
                    TransferEncoding::SevenBit
                } else {
                    defects.push(Defect::UnknownTransferEncoding(name));
                    TransferEncoding::Unknown
                }
            })
        }
    };
    HeadInfo {
        content_type,
        content_type_declared,
        disposition,
        encoding,
    }
}

/// Cuts a delivery-status body into its blocks of fields at empty lines, as Python's `email`
/// does: each block runs to the next empty line; an empty line at the very end closes the last
/// block rather than starting one.
fn status_blocks(body: &[u8]) -> Vec<&[u8]> {
    let mut blocks = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    loop {
        let line_end = memchr::memchr(b'\n', &body[pos..]).map(|i| pos + i + 1);
        let line = &body[pos..line_end.unwrap_or(body.len())];
        if matches!(line, b"\n" | b"\r\n") {
            blocks.push(&body[start..pos]);
            pos += line.len();
            start = pos;
            if pos >= body.len() {
                return blocks;
            }
            continue;
        }
        match line_end {
            Some(e) if e < body.len() => pos = e,
            _ => {
                blocks.push(&body[start..]);
                return blocks;
            }
        }
    }
}
