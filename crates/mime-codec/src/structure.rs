//! A streaming MIME structure scanner: the byte ranges of every part of a message fed in
//! chunks of any size, in bounded memory.
//!
//! [`Message::parse`](crate::Message::parse) needs the whole message in memory. A server that
//! answers IMAP BODYSTRUCTURE or `BODY[2]` of a 25 MiB message only needs to know where each
//! part's header and body are, and what each header says. [`StructureScanner`] finds exactly
//! that from the message fed a chunk at a time: for each part its header block (kept up to
//! [`StructureLimits::max_header_bytes`]), where its header fields and body start and end, how
//! many line breaks its body holds, and its content type, disposition and transfer encoding.
//! Memory is the kept header blocks (at most [`StructureLimits::max_total_header_bytes`] in
//! all) and one small record per part, whatever the message size.
//!
//! The ranges are the ones `Message::parse` finds (multipart boundaries per RFC 2046 with
//! preamble and epilogue, CRLF or bare LF lines, nested multiparts and `message/rfc822`,
//! the same defaults and the same limits on depth and part count), with these differences,
//! each reported as a [`StructureDefect`] or documented here:
//!
//! * a header block longer than the limits is cut ([`StructureDefect::HeaderTruncated`]); the
//!   part's content type is read from what was kept;
//! * a `message/delivery-status` body is one leaf (its blocks of fields are not parts here);
//! * a delimiter ended by a bare CR on the line that ends a part's header without an empty
//!   line is not recognised.
//!
//! ```
//! use mime_codec::structure::{PartKind, StructureScanner};
//! let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhello\r\n--b--\r\n";
//! let mut scanner = StructureScanner::default();
//! for chunk in raw.chunks(5) {
//!     scanner.feed(chunk);
//! }
//! let s = scanner.finish();
//! assert_eq!(s.parts().len(), 2);
//! assert_eq!(s.parts()[0].kind, PartKind::Multipart);
//! let text = &s.parts()[1];
//! assert_eq!(&raw[text.body_start as usize..text.body_end as usize], b"hello");
//! assert_eq!(s.children(0), [1]);
//! ```

use crate::content_type::{ContentDisposition, ContentType, TransferEncoding};
use crate::message::{head_info, HeadInfo};

/// Bounds on what the scanner keeps and how deep and wide it follows the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructureLimits {
    /// Deepest nesting of multiparts and messages; deeper bodies stay leaves (as
    /// [`ParseLimits::max_depth`](crate::ParseLimits)).
    pub max_depth: usize,
    /// Most parts (as [`ParseLimits::max_parts`](crate::ParseLimits)).
    pub max_parts: usize,
    /// Most header octets kept per part; a longer header block is cut.
    pub max_header_bytes: usize,
    /// Most header octets kept over all parts.
    pub max_total_header_bytes: usize,
}

impl Default for StructureLimits {
    /// Depth 32 and 10 000 parts (mime-codec's parse limits), 64 KiB of header per part and
    /// 4 MiB in all.
    fn default() -> Self {
        StructureLimits {
            max_depth: 32,
            max_parts: 10_000,
            max_header_bytes: 64 * 1024,
            max_total_header_bytes: 4 * 1024 * 1024,
        }
    }
}

/// What a part's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartKind {
    /// A leaf: its body is content.
    Leaf,
    /// A multipart: its children are the parts between its boundaries.
    Multipart,
    /// A `message/*` part read as a message: its one child is the nested message.
    Message,
}

/// What the scanner could not follow or had to cut, with the index of the part concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StructureDefect {
    /// The part's header block was longer than the limits; the first octets were kept.
    HeaderTruncated,
    /// A multipart or message nested deeper than [`StructureLimits::max_depth`]: a leaf.
    NestingTooDeep,
    /// More parts than [`StructureLimits::max_parts`]: the last part of this multipart runs
    /// to its end, or this message part is a leaf.
    TooManyParts,
    /// A multipart without a `boundary` parameter: a leaf.
    MissingBoundaryParameter,
    /// The multipart's boundary never appears: the whole body is its preamble.
    BoundaryNotFound,
    /// The closing delimiter is missing: the last part runs to the end.
    MissingClosingBoundary,
}

/// One part: where it is and what its header says. Offsets are from the message's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedPart {
    /// The enclosing part (`None` for the message itself).
    pub parent: Option<usize>,
    /// Nesting depth: 0 for the message.
    pub depth: usize,
    /// Leaf, multipart or message.
    pub kind: PartKind,
    /// Where the part starts (its header block, lines before the first field included).
    pub start: u64,
    /// Where its first header field starts (IMAP's `MIME` section); `body_start` when none.
    pub fields_start: u64,
    /// Where its body starts.
    pub body_start: u64,
    /// Where its body ends (before the line break that belongs to a following delimiter).
    pub body_end: u64,
    /// Line feeds in the body.
    pub body_lines: u64,
    /// The header block from `start`, at most the header limits.
    pub header: Vec<u8>,
    /// `header` is shorter than `start..body_start`.
    pub header_truncated: bool,
    /// The content type, as [`Part::content_type`](crate::Part::content_type).
    pub content_type: ContentType,
    /// As [`Part::content_type_declared`](crate::Part::content_type_declared).
    pub content_type_declared: bool,
    /// The Content-Disposition, if any.
    pub disposition: Option<ContentDisposition>,
    /// The transfer encoding.
    pub encoding: TransferEncoding,
    /// The child parts, in order.
    pub children: Vec<usize>,
    /// Line feeds before `body_start` (for the line count).
    body_start_nl: u64,
    /// A part of a `multipart/digest` (its default type is `message/rfc822`).
    in_digest: bool,
    /// Where a header-ending line `CR CR LF` starts: when the part ends right after its first
    /// CR (the rest is a delimiter's line break), the line is an empty one and the body empty.
    crcr: Option<u64>,
}

/// A message's structure: its parts in document order (the message first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Structure {
    parts: Vec<ScannedPart>,
    defects: Vec<(usize, StructureDefect)>,
    size: u64,
}

impl Structure {
    /// Scans a whole message held in memory.
    pub fn of(message: &[u8]) -> Structure {
        let mut s = StructureScanner::default();
        s.feed(message);
        s.finish()
    }
    /// Every part, the message first, in document order.
    pub fn parts(&self) -> &[ScannedPart] {
        &self.parts
    }
    /// The children of part `i` (empty for a leaf or an unknown index).
    pub fn children(&self, i: usize) -> &[usize] {
        self.parts.get(i).map_or(&[], |p| &p.children[..])
    }
    /// What the scanner cut or could not follow, by part index.
    pub fn defects(&self) -> &[(usize, StructureDefect)] {
        &self.defects
    }
    /// The message's size.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// The header line being read by the part whose header is open.
#[derive(Debug, Clone, Default)]
struct LineClass {
    len: u64,
    first: u8,
    /// The first octets, to see `From `.
    head: [u8; 5],
    /// Octets before the first non-whitespace octet (a field name is trimmed).
    leading_ws: u64,
    seen_name: bool,
    trailing_ws: bool,
    invalid_name: bool,
    colon: bool,
    /// The last octet was a CR.
    last_cr: bool,
}

impl LineClass {
    fn push(&mut self, b: u8) {
        if self.len < 5 {
            self.head[self.len as usize] = b;
        }
        if self.len == 0 {
            self.first = b;
        }
        self.len += 1;
        if self.colon {
            return;
        }
        if b == b':' {
            self.colon = true;
        } else if b.is_ascii_whitespace() {
            if self.seen_name {
                self.trailing_ws = true;
            } else {
                self.leading_ws += 1;
            }
        } else if (33..=126).contains(&b) {
            if self.trailing_ws {
                self.invalid_name = true;
            }
            self.seen_name = true;
        } else {
            self.invalid_name = true;
        }
    }
}

/// How a header line (its line feed excluded) reads.
enum Line {
    Empty,
    Continuation,
    Field { name_at: u64 },
    Skipped,
    NotAField { crcr: bool },
}

fn classify(c: &LineClass, line_start: u64) -> Line {
    // Content excludes one CR before the line feed (or before the end).
    let content = if c.len > 0 && c.last_cr {
        c.len - 1
    } else {
        c.len
    };
    if content == 0 {
        return Line::Empty;
    }
    if c.first == b' ' || c.first == b'\t' {
        return Line::Continuation;
    }
    if c.colon && c.seen_name && !c.invalid_name {
        return Line::Field {
            name_at: line_start + c.leading_ws,
        };
    }
    if content >= 5 && &c.head == b"From " {
        return Line::Skipped;
    }
    Line::NotAField {
        crcr: c.len == 2 && c.first == b'\r' && c.last_cr,
    }
}

/// A part whose header is being read.
#[derive(Debug, Clone)]
struct HeaderScan {
    line_start: u64,
    line_start_nl: u64,
    class: LineClass,
    /// A field was seen (a continuation line then belongs to it).
    in_field: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Preamble,
    InPart(u64),
    Done,
}

#[derive(Debug, Clone)]
struct Level {
    delim: Vec<u8>,
    phase: Phase,
    truncated: bool,
    pushed: usize,
    left: usize,
    digest: bool,
    body_start: u64,
}

impl Level {
    fn active(&self) -> bool {
        !self.truncated && self.phase != Phase::Done
    }
}

#[derive(Debug, Clone)]
enum State {
    Header(HeaderScan),
    Leaf,
    Message,
    Multipart(Level),
}

#[derive(Debug, Clone)]
struct Frame {
    part: usize,
    state: State,
}

/// The octets before a position, for the line breaks that a delimiter takes from the part
/// before it.
#[derive(Debug, Clone, Copy)]
struct Tail {
    bytes: [u8; TAIL],
    len: usize,
    end: u64,
}

const TAIL: usize = 160;

impl Tail {
    fn at(&self, pos: u64) -> Option<u8> {
        let back = usize::try_from(self.end.checked_sub(pos)?).ok()?;
        if back == 0 || back > self.len {
            return None;
        }
        let i = (self.len - back) % TAIL;
        Some(self.bytes[i])
    }
}

/// The streaming scanner: [`feed`](Self::feed) the message in chunks, then
/// [`finish`](Self::finish).
#[derive(Debug, Clone)]
pub struct StructureScanner {
    limits: StructureLimits,
    parts: Vec<ScannedPart>,
    defects: Vec<(usize, StructureDefect)>,
    frames: Vec<Frame>,
    pos: u64,
    /// Line feeds before `pos`.
    nl: u64,
    /// The current line (after a line feed, or the start).
    line_start: u64,
    line_start_nl: u64,
    /// The last octets before `pos`, oldest first, and those before `line_start`.
    hist: Vec<u8>,
    before_line: Tail,
    /// The current line's first octets while it may still be a delimiter line.
    cand: Vec<u8>,
    cand_alive: bool,
    /// Octets past `cand`'s capacity were all blanks.
    cand_blank_overflow: bool,
    /// Where the current line's first CR was.
    cr_at: Option<u64>,
    /// A delimiter line ended by a CR: the level and whether it closes; decided by the next
    /// octet.
    pending: Option<(usize, bool)>,
    cand_cap: usize,
    header_budget: usize,
    part_count: usize,
}

impl Default for StructureScanner {
    fn default() -> Self {
        Self::new(StructureLimits::default())
    }
}

impl StructureScanner {
    /// A scanner at the start of a message.
    pub fn new(limits: StructureLimits) -> Self {
        let mut s = StructureScanner {
            limits,
            parts: Vec::new(),
            defects: Vec::new(),
            frames: Vec::new(),
            pos: 0,
            nl: 0,
            line_start: 0,
            line_start_nl: 0,
            hist: Vec::with_capacity(2 * TAIL),
            before_line: Tail {
                bytes: [0; TAIL],
                len: 0,
                end: 0,
            },
            cand: Vec::new(),
            cand_alive: true,
            cand_blank_overflow: true,
            cr_at: None,
            pending: None,
            cand_cap: 256,
            header_budget: limits.max_total_header_bytes,
            part_count: 0,
        };
        s.open_part(None, 0, false, 0, 0);
        s
    }

    /// Feeds the next octets of the message.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut i = 0;
        while i < chunk.len() {
            if self.pending.is_none() && !self.cand_alive && !self.in_header() {
                // Nothing to look at before the next line feed.
                let rest = &chunk[i..];
                let j = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                self.remember(&rest[..j]);
                self.pos += j as u64;
                i += j;
                if i == chunk.len() {
                    break;
                }
            }
            self.step(chunk[i]);
            i += 1;
        }
    }

    /// Ends the message and returns its structure.
    pub fn finish(mut self) -> Structure {
        let end = self.pos;
        let tail = self.tail_now();
        if let Some((k, closing)) = self.pending.take() {
            self.delimiter(k, closing, self.line_start, end, tail_of(&self.before_line));
        } else if self.cand_alive && self.pos > self.line_start && self.cr_at.is_none() {
            if let Some((k, closing)) = self.match_levels(0) {
                self.delimiter(k, closing, self.line_start, end, tail_of(&self.before_line));
            }
        }
        // The last header line, if one is open, reads as a line without its line feed.
        if let Some(Frame {
            state: State::Header(h),
            ..
        }) = self.frames.last()
        {
            if h.class.len > 0 {
                let (start, start_nl, class) = (h.line_start, h.line_start_nl, h.class.clone());
                let line = classify(&class, start);
                self.header_line(line, start, start_nl, end, self.nl);
            }
        }
        if !self.frames.is_empty() {
            self.close_from(0, end, self.nl, &tail);
        }
        Structure {
            parts: self.parts,
            defects: self.defects,
            size: end,
        }
    }

    fn in_header(&self) -> bool {
        matches!(
            self.frames.last(),
            Some(Frame {
                state: State::Header(_),
                ..
            })
        )
    }

    fn remember(&mut self, bytes: &[u8]) {
        let keep = &bytes[bytes.len().saturating_sub(TAIL)..];
        self.hist.extend_from_slice(keep);
        if self.hist.len() > 2 * TAIL {
            let cut = self.hist.len() - TAIL;
            self.hist.drain(..cut);
        }
    }

    fn tail_now(&self) -> Tail {
        let mut t = Tail {
            bytes: [0; TAIL],
            len: 0,
            end: self.pos,
        };
        let h = &self.hist[self.hist.len().saturating_sub(TAIL)..];
        t.bytes[..h.len()].copy_from_slice(h);
        t.len = h.len();
        t
    }

    /// A new part at `at`, its header open.
    fn open_part(&mut self, parent: Option<usize>, depth: usize, digest: bool, at: u64, nl: u64) {
        let index = self.parts.len();
        self.part_count += 1;
        let (content_type, encoding) = if digest {
            (ContentType::message_rfc822(), TransferEncoding::SevenBit)
        } else {
            (ContentType::default_text(), TransferEncoding::SevenBit)
        };
        self.parts.push(ScannedPart {
            parent,
            depth,
            kind: PartKind::Leaf,
            start: at,
            fields_start: at,
            body_start: at,
            body_end: at,
            body_lines: 0,
            header: Vec::new(),
            header_truncated: false,
            content_type,
            content_type_declared: false,
            disposition: None,
            encoding,
            children: Vec::new(),
            body_start_nl: nl,
            in_digest: digest,
            crcr: None,
        });
        if let Some(p) = parent.and_then(|p| self.parts.get_mut(p)) {
            p.children.push(index);
        }
        self.frames.push(Frame {
            part: index,
            state: State::Header(HeaderScan {
                line_start: at,
                line_start_nl: nl,
                class: LineClass::default(),
                in_field: false,
            }),
        });
    }

    fn keep_header_byte(&mut self, part: usize, b: u8) {
        let limit = self.limits.max_header_bytes;
        let p = &mut self.parts[part];
        if p.header.len() < limit && self.header_budget > 0 {
            p.header.push(b);
            self.header_budget -= 1;
        } else if !p.header_truncated {
            p.header_truncated = true;
            self.defects.push((part, StructureDefect::HeaderTruncated));
        }
    }

    fn step(&mut self, b: u8) {
        let p = self.pos;
        if let Some((k, closing)) = self.pending.take() {
            let tail = tail_of(&self.before_line);
            if b == b'\n' {
                self.delimiter(k, closing, self.line_start, p + 1, tail);
                self.end_line(b);
                return;
            }
            self.delimiter(k, closing, self.line_start, p, tail);
            // The new part's header starts inside this line: no delimiter can start here.
            self.cand_alive = false;
        }
        if self.cand_alive {
            if b == b'\r' || b == b'\n' {
                if self.cr_at.is_none() {
                    let found = self.match_levels(0);
                    if b == b'\r' {
                        self.cr_at = Some(p);
                    }
                    if let Some((k, closing)) = found {
                        if b == b'\r' {
                            self.pending = Some((k, closing));
                            self.cand_alive = false;
                            self.advance(b);
                            return;
                        }
                        let tail = tail_of(&self.before_line);
                        self.delimiter(k, closing, self.line_start, p + 1, tail);
                        self.end_line(b);
                        return;
                    }
                    // Only a level that starts on this line (a header without an empty
                    // line) may still match it.
                    if !self.in_header() {
                        self.cand_alive = false;
                    }
                }
            } else if self.cr_at.is_none() {
                if self.cand.len() < self.cand_cap {
                    self.cand.push(b);
                    let n = self.cand.len();
                    if n <= 2 && b != b'-' {
                        self.cand_alive = false;
                    }
                } else if b != b' ' && b != b'\t' {
                    self.cand_blank_overflow = false;
                }
            }
        } else if b == b'\r' && self.cr_at.is_none() {
            self.cr_at = Some(p);
        }
        if let Some(Frame {
            part,
            state: State::Header(_),
        }) = self.frames.last()
        {
            let part = *part;
            self.keep_header_byte(part, b);
            let Some(Frame {
                state: State::Header(h),
                ..
            }) = self.frames.last_mut()
            else {
                return;
            };
            if b == b'\n' {
                let (start, start_nl, class) = (h.line_start, h.line_start_nl, h.class.clone());
                h.line_start = p + 1;
                h.line_start_nl = self.nl + 1;
                h.class = LineClass::default();
                let line = classify(&class, start);
                self.header_line(line, start, start_nl, p + 1, self.nl + 1);
            } else {
                h.class.last_cr = b == b'\r';
                h.class.push(b);
            }
        }
        if b == b'\n' {
            self.end_line(b);
        } else {
            self.advance(b);
        }
    }

    fn advance(&mut self, b: u8) {
        self.remember(&[b]);
        self.pos += 1;
    }

    /// After a line feed: the next line starts.
    fn end_line(&mut self, b: u8) {
        self.advance(b);
        self.nl += 1;
        self.line_start = self.pos;
        self.line_start_nl = self.nl;
        self.before_line = self.tail_now();
        self.cand.clear();
        self.cr_at = None;
        self.cand_blank_overflow = true;
        self.cand_alive = self.in_header()
            || self.frames.iter().any(|f| match &f.state {
                State::Multipart(l) => l.active(),
                _ => false,
            });
    }

    /// The outermost active level from frame `from` on whose delimiter the current line is.
    fn match_levels(&self, from: usize) -> Option<(usize, bool)> {
        for (k, f) in self.frames.iter().enumerate().skip(from) {
            let State::Multipart(l) = &f.state else {
                continue;
            };
            if !l.active() || self.line_start < l.body_start {
                continue;
            }
            if let Some(closing) = self.is_delimiter(&l.delim) {
                return Some((k, closing));
            }
        }
        None
    }

    fn is_delimiter(&self, delim: &[u8]) -> Option<bool> {
        let rest = self.cand.strip_prefix(delim)?;
        let closing = rest.starts_with(b"--");
        let rest = if closing { &rest[2..] } else { rest };
        let blank = rest.iter().all(|&b| b == b' ' || b == b'\t') && self.cand_blank_overflow;
        blank.then_some(closing)
    }

    /// A header line of the deepest part (starting at `start`) was read; `next` is where the
    /// line after it starts.
    fn header_line(&mut self, line: Line, start: u64, start_nl: u64, next: u64, next_nl: u64) {
        let Some(k) = self.frames.len().checked_sub(1) else {
            return;
        };
        let Some(Frame {
            part,
            state: State::Header(h),
        }) = self.frames.get_mut(k)
        else {
            return;
        };
        let part = *part;
        match line {
            Line::Continuation | Line::Skipped => {}
            Line::Field { name_at } => {
                if !h.in_field {
                    h.in_field = true;
                    self.parts[part].fields_start = name_at;
                }
            }
            Line::Empty => self.open_body(k, next, next_nl),
            Line::NotAField { crcr } => {
                self.open_body(k, start, start_nl);
                if crcr {
                    self.parts[part].crcr = Some(start);
                }
                self.body_line_again(k, start, start_nl, next, crcr);
            }
        }
    }

    /// A line that ended a header without an empty line is the first line of the body: it
    /// may be the first delimiter of a multipart that starts there, and it is no header field
    /// of a nested message that starts there either.
    fn body_line_again(&mut self, k: usize, start: u64, start_nl: u64, next: u64, crcr: bool) {
        match self.frames.get(k + 1) {
            None => {
                let Some(Frame {
                    state: State::Multipart(l),
                    ..
                }) = self.frames.get(k)
                else {
                    return;
                };
                let crlf_only = match self.cr_at {
                    None => true,
                    Some(c) => c + 2 == next,
                };
                if !(l.active() && start == self.line_start && crlf_only && next > start) {
                    return;
                }
                if let Some(closing) = self.is_delimiter(&l.delim) {
                    let tail = self.before_line;
                    self.delimiter(k, closing, start, next, tail);
                }
            }
            Some(Frame {
                state: State::Header(h),
                ..
            }) if h.line_start == start => {
                if let Some(Frame {
                    state: State::Header(h),
                    ..
                }) = self.frames.get_mut(k + 1)
                {
                    h.line_start = next;
                }
                self.open_body(k + 1, start, start_nl);
                if let (true, Some(f)) = (crcr, self.frames.get(k + 1)) {
                    self.parts[f.part].crcr = Some(start);
                }
            }
            Some(_) => {}
        }
    }

    /// The header of the part at frame `k` ends; its body starts at `at`.
    fn open_body(&mut self, k: usize, at: u64, at_nl: u64) {
        let Some(frame) = self.frames.get(k) else {
            return;
        };
        let part = frame.part;
        let (depth, start) = (self.parts[part].depth, self.parts[part].start);
        let in_digest = self.parts[part].in_digest;
        let no_field = self.frames_header_no_field(k);
        let keep = usize::try_from(at.saturating_sub(start)).unwrap_or(usize::MAX);
        {
            let p = &mut self.parts[part];
            if p.header.len() > keep {
                let cut = p.header.len() - keep;
                p.header.truncate(keep);
                self.header_budget += cut;
            }
            p.body_start = at;
            p.body_start_nl = at_nl;
            if p.fields_start > at || no_field {
                p.fields_start = at;
            }
        }
        let header = std::mem::take(&mut self.parts[part].header);
        let section = crate::header::parse_headers(&header, 1000);
        let mut ignored = Vec::new();
        let HeadInfo {
            content_type,
            content_type_declared,
            disposition,
            encoding,
        } = head_info(&section.headers, in_digest, &mut ignored);
        drop(section);
        self.parts[part].header = header;
        let deeper = depth < self.limits.max_depth;
        let is_message =
            content_type.media_type == "message" && content_type.subtype != "delivery-status";
        let identity = matches!(
            encoding,
            TransferEncoding::SevenBit | TransferEncoding::EightBit | TransferEncoding::Binary
        );
        if !deeper && (content_type.media_type == "multipart" || is_message) {
            self.defects.push((part, StructureDefect::NestingTooDeep));
        }
        let mut state = State::Leaf;
        let mut nested = false;
        if content_type.media_type == "multipart" && deeper {
            match content_type.param("boundary").filter(|b| !b.is_empty()) {
                Some(boundary) => {
                    let mut delim = b"--".to_vec();
                    delim.extend_from_slice(boundary.as_bytes());
                    self.cand_cap = self.cand_cap.max(delim.len() + 2);
                    state = State::Multipart(Level {
                        delim,
                        phase: Phase::Preamble,
                        truncated: false,
                        pushed: 0,
                        left: self.limits.max_parts.saturating_sub(self.part_count).max(1),
                        digest: content_type.subtype == "digest",
                        body_start: at,
                    });
                }
                None => self
                    .defects
                    .push((part, StructureDefect::MissingBoundaryParameter)),
            }
        } else if content_type.is("message", "delivery-status") && identity && deeper {
            // Blocks of fields: read as one leaf here.
        } else if is_message && deeper && self.part_count < self.limits.max_parts {
            if identity {
                state = State::Message;
                nested = true;
            }
        } else if is_message && deeper {
            self.defects.push((part, StructureDefect::TooManyParts));
        }
        {
            let p = &mut self.parts[part];
            p.kind = match state {
                State::Multipart(_) => PartKind::Multipart,
                State::Message => PartKind::Message,
                _ => PartKind::Leaf,
            };
            p.content_type = content_type;
            p.content_type_declared = content_type_declared;
            p.disposition = disposition;
            p.encoding = encoding;
        }
        self.frames[k].state = state;
        if nested {
            self.open_part(Some(part), depth + 1, false, at, at_nl);
        }
    }

    fn frames_header_no_field(&self, k: usize) -> bool {
        matches!(self.frames.get(k), Some(Frame { state: State::Header(h), .. }) if !h.in_field)
    }

    /// A delimiter of the level at frame `k` on the line from `line` to `line_end`.
    fn delimiter(&mut self, k: usize, closing: bool, line: u64, line_end: u64, tail: Tail) {
        let Some(Frame {
            state: State::Multipart(l),
            ..
        }) = self.frames.get(k)
        else {
            return;
        };
        let cs = match l.phase {
            Phase::Preamble => l.body_start,
            Phase::InPart(cs) => cs,
            Phase::Done => return,
        };
        let phase = l.phase;
        // The line break before the delimiter belongs to it.
        let mut end = line;
        let mut end_nl = self.line_start_nl;
        if end > cs && tail.at(end - 1) == Some(b'\n') {
            end -= 1;
            end_nl -= 1;
            if end > cs && tail.at(end - 1) == Some(b'\r') {
                end -= 1;
            }
        }
        let end = end.max(cs);
        let mut pushed = false;
        if let Phase::InPart(cs) = phase {
            if line == cs && !closing {
                // No part between two delimiter lines.
                self.discard_from(k + 1);
            } else {
                self.close_from(k + 1, end, end_nl, &tail);
                pushed = true;
            }
        }
        let part = self.frames[k].part;
        let (depth, max_parts_hit, digest) = {
            let State::Multipart(l) = &mut self.frames[k].state else {
                return;
            };
            if pushed {
                l.pushed += 1;
            }
            if closing {
                l.phase = Phase::Done;
                return;
            }
            l.phase = Phase::InPart(line_end);
            let hit = l.pushed + 1 >= l.left;
            if hit {
                l.truncated = true;
            }
            (self.parts[part].depth, hit, l.digest)
        };
        if max_parts_hit {
            self.defects.push((part, StructureDefect::TooManyParts));
        }
        let nl = if line_end > line && line_end == self.pos + 1 {
            self.nl + 1
        } else {
            self.nl
        };
        self.open_part(Some(part), depth + 1, digest, line_end, nl);
    }

    /// Drops the part at frame `k` (opened by a delimiter line that another followed at once).
    fn discard_from(&mut self, k: usize) {
        let Some(f) = self.frames.get(k) else {
            return;
        };
        let part = f.part;
        self.frames.truncate(k);
        if part + 1 == self.parts.len() {
            let p = self.parts.pop();
            self.part_count -= 1;
            if let Some(p) = p {
                self.header_budget += p.header.len();
                self.defects.retain(|(i, _)| *i != part);
                if let Some(parent) = p.parent.and_then(|i| self.parts.get_mut(i)) {
                    parent.children.retain(|&c| c != part);
                }
            }
        }
    }

    /// Ends the parts at frames `k..` at `end` (line feeds before it: `end_nl`).
    fn close_from(&mut self, k: usize, end: u64, end_nl: u64, tail: &Tail) {
        let Some(frame) = self.frames.get(k).cloned() else {
            return;
        };
        let part = frame.part;
        match frame.state {
            State::Header(h) => {
                let _ = h;
                self.frames.truncate(k + 1);
                // The rest is header; the body is empty and what it holds ends at once.
                self.open_body(k, end, end_nl);
                return self.close_from(k, end, end_nl, tail);
            }
            State::Leaf => {}
            State::Message => self.close_from(k + 1, end, end_nl, tail),
            State::Multipart(l) => match l.phase {
                Phase::Preamble => self.defects.push((part, StructureDefect::BoundaryNotFound)),
                Phase::InPart(cs) => {
                    let cs = cs.min(end);
                    let (mut e, mut e_nl) = (end, end_nl);
                    if !l.truncated {
                        if e > cs && tail.at(e - 1) == Some(b'\n') {
                            e -= 1;
                            e_nl -= 1;
                        }
                        if e > cs && tail.at(e - 1) == Some(b'\r') {
                            e -= 1;
                        }
                        self.defects
                            .push((part, StructureDefect::MissingClosingBoundary));
                    }
                    self.close_from(k + 1, e, e_nl, tail);
                }
                Phase::Done => {}
            },
        }
        self.frames.truncate(k);
        let p = &mut self.parts[part];
        if p.crcr.is_some_and(|at| at + 1 == end) {
            // The `CR CR LF` line lost its `CR LF` to a delimiter: it is an empty line.
            if p.start + 1 == end {
                p.start = end;
            }
            if p.fields_start + 1 == end {
                p.fields_start = end;
            }
            p.body_start = end;
        }
        p.start = p.start.min(end);
        if p.body_start > end {
            p.body_start = end;
            p.body_start_nl = end_nl;
        }
        p.fields_start = p.fields_start.min(p.body_start);
        p.body_end = end;
        p.body_lines = end_nl.saturating_sub(p.body_start_nl);
    }
}

fn tail_of(t: &Tail) -> Tail {
    *t
}
