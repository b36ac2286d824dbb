//! A message's summary: what FETCH and SEARCH answer without opening the
//! message again (the role of Dovecot's `dovecot.index.cache`), and its
//! on-disk record form for a store's cache file.
//!
//! A summary holds the top-level header block (up to
//! [`MAX_CACHED_HEADER`] octets), where the body starts, the Date field's
//! day, and the rendered ENVELOPE, BODY and BODYSTRUCTURE. It is computed
//! from the whole message ([`Summary::of`]) when the message is small
//! enough to read at once, or from its first octets ([`Summary::of_head`])
//! otherwise; the structure of a large message is then left out and read
//! from the message the first time it is asked for.
//!
//! Records are framed `LEN CRC32 PAYLOAD` (little-endian `u32`s): a torn or
//! flipped record fails its checksum and ends the readable part of the
//! file, so a reader never trusts what it cannot verify.

use crate::fetch;

/// The most header octets a summary keeps. HEADER.FIELDS and the header
/// SEARCH keys of a message with a longer header see its first
/// `MAX_CACHED_HEADER` octets only.
pub const MAX_CACHED_HEADER: usize = 64 * 1024;

/// The largest message a store should summarize from its whole bytes;
/// larger ones go through [`Summary::of_head`].
pub const WHOLE_SUMMARY_LIMIT: u64 = 1024 * 1024;

/// Largest record accepted when reading a cache file.
const MAX_RECORD: usize = 4 * 1024 * 1024;

/// What FETCH and SEARCH need of one message, short of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The message's size in octets when summarized.
    pub size: u64,
    /// Where the body (`BODY[TEXT]`) starts.
    pub body_offset: u64,
    /// The top-level header block as received, the blank line included
    /// when it fits (at most [`MAX_CACHED_HEADER`] octets).
    pub header: Vec<u8>,
    /// `header` is the whole header block.
    pub header_complete: bool,
    /// The day of the Date field (days since 0001-01-01), for SENTSINCE,
    /// SENTBEFORE and SENTON.
    pub sent_day: Option<i32>,
    /// The rendered ENVELOPE.
    pub envelope: Vec<u8>,
    /// The rendered BODY and BODYSTRUCTURE, when known.
    pub structure: Option<Structure>,
}

/// BODY and BODYSTRUCTURE as sent, and where each MIME part is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Structure {
    /// `BODY` (non-extensible form).
    pub body: Vec<u8>,
    /// `BODYSTRUCTURE`.
    pub body_structure: Vec<u8>,
    /// Every part, the message first, in document order: what `BODY[1.2]`,
    /// `BODY[2.MIME]`, `BODY[1.HEADER]` and `BODY[1.TEXT]` name, as ranges
    /// of the message file.
    pub parts: Vec<PartRange>,
}

/// Where one MIME part of a message is (offsets from the message's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartRange {
    /// Leaf, multipart or message.
    pub kind: PartKind,
    /// The enclosing part; `None` for the message.
    pub parent: Option<u32>,
    /// Where the part's first header field starts (its MIME header).
    pub fields_start: u64,
    /// Where its body starts.
    pub body_start: u64,
    /// Where its body ends.
    pub body_end: u64,
}

pub use mime_codec::structure::{PartKind, StructureScanner};

impl Structure {
    /// BODY, BODYSTRUCTURE and the part ranges from a scan of the message.
    pub fn of_scan(scan: &mime_codec::structure::Structure) -> Structure {
        let mut body = Vec::new();
        fetch::body_structure_scanned(&mut body, scan, 0, false, 0);
        let mut body_structure = Vec::new();
        fetch::body_structure_scanned(&mut body_structure, scan, 0, true, 0);
        let parts = scan
            .parts()
            .iter()
            .map(|p| PartRange {
                kind: p.kind,
                parent: p.parent.and_then(|i| u32::try_from(i).ok()),
                fields_start: p.fields_start,
                body_start: p.body_start,
                body_end: p.body_end,
            })
            .collect();
        Structure {
            body,
            body_structure,
            parts,
        }
    }

    /// The children of part `i`, in order.
    pub fn children(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let want = u32::try_from(i).ok();
        self.parts
            .iter()
            .enumerate()
            .skip(i + 1)
            .filter(move |(_, p)| p.parent.is_some() && p.parent == want)
            .map(|(j, _)| j)
    }

    /// The part a section path names (RFC 3501 §6.4.5), as mime-codec's
    /// tree is walked for it: into a multipart's parts, and through a
    /// nested message to its parts (or its body, for part 1 of a
    /// non-multipart message).
    pub fn part_at(&self, path: &[u32]) -> Option<usize> {
        let mut cur = 0usize;
        self.parts.first()?;
        for &n in path {
            let i = (n as usize).checked_sub(1)?;
            match self.parts.get(cur)?.kind {
                PartKind::Multipart => cur = self.children(cur).nth(i)?,
                PartKind::Message => {
                    let r = self.children(cur).next()?;
                    if self.parts.get(r)?.kind == PartKind::Multipart {
                        cur = self.children(r).nth(i)?;
                    } else if i == 0 {
                        cur = r;
                    } else {
                        return None;
                    }
                }
                PartKind::Leaf if i != 0 => return None,
                PartKind::Leaf => {}
            }
        }
        Some(cur)
    }
}

fn offset(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start + inner.len() <= outer.len()).then_some(start)
}

fn day_of(msg: &mime_codec::Message<'_>) -> Option<i32> {
    use chrono::Datelike;
    let t = msg.date()?;
    chrono::NaiveDate::from_ymd_opt(t.year(), u32::from(t.month()), u32::from(t.day()))
        .map(|d| d.num_days_from_ce())
}

impl Summary {
    /// The summary of a whole message.
    pub fn of(message: &[u8]) -> Summary {
        let msg = mime_codec::Message::parse(message);
        let root = msg.root();
        let body_offset = offset(message, root.raw_body()).unwrap_or(message.len());
        let head = fetch::section_bytes(
            message,
            &Some(imap_codec::imap_types::fetch::Section::Header(None)),
        )
        .unwrap_or_default();
        let header_complete = head.len() <= MAX_CACHED_HEADER;
        let mut header = head;
        header.truncate(MAX_CACHED_HEADER);
        let mut envelope = Vec::new();
        fetch::envelope(&mut envelope, &msg);
        let structure = Structure::of_scan(&mime_codec::structure::Structure::of(message));
        Summary {
            size: message.len() as u64,
            body_offset: body_offset as u64,
            header,
            header_complete,
            sent_day: day_of(&msg),
            envelope,
            structure: Some(structure),
        }
    }

    /// The summary of a message of `size` octets from its first octets
    /// (at least `MAX_CACHED_HEADER + 2` of them when it is that long) and
    /// where its body starts (from [`HeaderEnd`] run over the message).
    /// No structure: it needs the whole message.
    pub fn of_head(head: &[u8], size: u64, body_offset: u64) -> Summary {
        // Where mime-codec ends the header, when that is inside `head`:
        // the same place a parse of the whole message finds (a line that is
        // not a field ends the header before any empty line).
        let parsed = mime_codec::Message::parse(head);
        let body_offset = match offset(head, parsed.root().raw_body()) {
            Some(at) if at < head.len() => at as u64,
            _ => body_offset,
        };
        let end = usize::try_from(body_offset).unwrap_or(usize::MAX);
        let header_complete = end <= MAX_CACHED_HEADER && end <= head.len();
        let end = end.min(MAX_CACHED_HEADER);
        // As the whole parse's HEADER section: from the first field.
        let cut = end.min(head.len());
        let mut header = fetch::section_bytes(
            &head[..cut],
            &Some(imap_codec::imap_types::fetch::Section::Header(None)),
        )
        .unwrap_or_default();
        header.truncate(MAX_CACHED_HEADER);
        let msg = mime_codec::Message::parse(&header);
        let mut envelope = Vec::new();
        fetch::envelope(&mut envelope, &msg);
        Summary {
            size,
            body_offset,
            sent_day: day_of(&msg),
            header,
            header_complete,
            envelope,
            structure: None,
        }
    }

    /// The structure, from a scan of the whole message fed in chunks
    /// ([`mime_codec::structure::StructureScanner`]).
    pub fn add_structure(&mut self, scan: &mime_codec::structure::Structure) {
        self.structure = Some(Structure::of_scan(scan));
    }

    /// The summary as bytes (see [`decode`](Self::decode)).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![SUMMARY_VERSION];
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.body_offset.to_le_bytes());
        out.push(u8::from(self.header_complete));
        match self.sent_day {
            Some(d) => {
                out.push(1);
                out.extend_from_slice(&d.to_le_bytes());
            }
            None => out.push(0),
        }
        put(&mut out, &self.header);
        put(&mut out, &self.envelope);
        match &self.structure {
            Some(s) => {
                out.push(1);
                put(&mut out, &s.body);
                put(&mut out, &s.body_structure);
                out.extend_from_slice(
                    &u32::try_from(s.parts.len())
                        .unwrap_or(u32::MAX)
                        .to_le_bytes(),
                );
                for p in &s.parts {
                    out.push(match p.kind {
                        PartKind::Leaf => 0,
                        PartKind::Multipart => 1,
                        PartKind::Message => 2,
                    });
                    out.extend_from_slice(&p.parent.unwrap_or(u32::MAX).to_le_bytes());
                    out.extend_from_slice(&p.fields_start.to_le_bytes());
                    out.extend_from_slice(&p.body_start.to_le_bytes());
                    out.extend_from_slice(&p.body_end.to_le_bytes());
                }
            }
            None => out.push(0),
        }
        out
    }

    /// Reads [`encode`](Self::encode)'s output; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Summary> {
        let mut r = Reader(bytes);
        if r.take(1)? != [SUMMARY_VERSION] {
            return None;
        }
        let size = u64::from_le_bytes(r.array()?);
        let body_offset = u64::from_le_bytes(r.array()?);
        let header_complete = r.flag()?;
        let sent_day = if r.flag()? {
            Some(i32::from_le_bytes(r.array()?))
        } else {
            None
        };
        let header = r.bytes()?.to_vec();
        let envelope = r.bytes()?.to_vec();
        let structure = if r.flag()? {
            let body = r.bytes()?.to_vec();
            let body_structure = r.bytes()?.to_vec();
            let n = u32::from_le_bytes(r.array()?);
            let mut parts = Vec::new();
            for i in 0..n {
                let kind = match r.take(1)? {
                    [0] => PartKind::Leaf,
                    [1] => PartKind::Multipart,
                    [2] => PartKind::Message,
                    _ => return None,
                };
                let parent = match u32::from_le_bytes(r.array()?) {
                    u32::MAX => None,
                    // A parent comes before its children.
                    p if p < i => Some(p),
                    _ => return None,
                };
                let fields_start = u64::from_le_bytes(r.array()?);
                let body_start = u64::from_le_bytes(r.array()?);
                let body_end = u64::from_le_bytes(r.array()?);
                if !(fields_start <= body_start && body_start <= body_end && body_end <= size) {
                    return None;
                }
                parts.push(PartRange {
                    kind,
                    parent,
                    fields_start,
                    body_start,
                    body_end,
                });
            }
            Some(Structure {
                body,
                body_structure,
                parts,
            })
        } else {
            None
        };
        let sane = r.0.is_empty()
            && header.len() <= MAX_CACHED_HEADER
            && body_offset <= size
            && header.len() as u64 <= body_offset;
        sane.then_some(Summary {
            size,
            body_offset,
            header,
            header_complete,
            sent_day,
            envelope,
            structure,
        })
    }
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn flag(&mut self) -> Option<bool> {
        match self.take(1)? {
            [0] => Some(false),
            [1] => Some(true),
            _ => None,
        }
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = u32::from_le_bytes(self.array()?);
        self.take(usize::try_from(n).ok()?)
    }
}

/// Finds where a message's body starts from its octets fed in chunks of
/// any size: after the first empty line (`LF LF` or `LF CR LF`), or at the
/// start when the message begins with one.
#[derive(Debug, Clone, Default)]
pub struct HeaderEnd {
    seen: u64,
    /// The last octets: enough to see an empty line across chunks.
    last: [u8; 2],
    found: Option<u64>,
}

impl HeaderEnd {
    /// A scanner at the start of a message.
    pub fn new() -> HeaderEnd {
        HeaderEnd {
            seen: 0,
            // As if a line had just ended: a leading empty line ends the
            // header at once.
            last: [0, b'\n'],
            found: None,
        }
    }
    /// Feeds the next octets.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.found.is_some() {
            return;
        }
        for (i, &b) in chunk.iter().enumerate() {
            let end = b == b'\n' && (self.last[1] == b'\n' || self.last == *b"\n\r");
            self.last = [self.last[1], b];
            if end {
                self.found = Some(self.seen + i as u64 + 1);
                return;
            }
        }
        self.seen += chunk.len() as u64;
    }
    /// Where the body starts, once found.
    pub fn body_offset(&self) -> Option<u64> {
        self.found
    }
}

/// CRC-32 (IEEE 802.3), bitwise with a table built at compile time.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in bytes {
        c = TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

/// The first octets of a cache file (format version 2: summaries with
/// part ranges). A file of another version is replaced by an empty one.
pub const CACHE_MAGIC: &[u8; 8] = b"MWIMAPC2";

/// The first octet of an encoded [`Summary`]: a record of another version
/// is never read as this one.
const SUMMARY_VERSION: u8 = 2;

/// What identifies the message a cached summary belongs to: a message
/// file replaced, renamed to another unique name, or re-numbered no longer
/// matches its old record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// The UID.
    pub uid: u32,
    /// The file's size.
    pub size: u64,
    /// The file's modification time (seconds).
    pub mtime: i64,
    /// The Maildir unique name (without flags).
    pub unique: String,
}

/// One record: `LEN CRC32` then the key and the summary.
pub fn encode_record(key: &CacheKey, summary: &Summary) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&key.uid.to_le_bytes());
    payload.extend_from_slice(&key.size.to_le_bytes());
    payload.extend_from_slice(&key.mtime.to_le_bytes());
    put(&mut payload, key.unique.as_bytes());
    payload.extend_from_slice(&summary.encode());
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&crc32(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// The frame of the record at the start of `bytes`: its total length, if
/// the length field is sane. Readers use it to know how much to read.
pub fn record_len(frame: &[u8; 8]) -> Option<usize> {
    let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
    let len = usize::try_from(len).ok()?;
    (len <= MAX_RECORD).then_some(len + 8)
}

/// Reads the whole record `bytes` (as long as [`record_len`] said): its key
/// and summary, or `None` when the checksum or contents are wrong.
pub fn decode_record(bytes: &[u8]) -> Option<(CacheKey, Summary)> {
    let frame: &[u8; 8] = bytes.get(..8)?.try_into().ok()?;
    if record_len(frame)? != bytes.len() {
        return None;
    }
    let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let payload = &bytes[8..];
    if crc32(payload) != crc {
        return None;
    }
    let mut r = Reader(payload);
    let uid = u32::from_le_bytes(r.array()?);
    let size = u64::from_le_bytes(r.array()?);
    let mtime = i64::from_le_bytes(r.array()?);
    let unique = String::from_utf8(r.bytes()?.to_vec()).ok()?;
    let summary = Summary::decode(r.0)?;
    Some((
        CacheKey {
            uid,
            size,
            mtime,
            unique,
        },
        summary,
    ))
}

/// Walks a cache file's bytes: the records that verify, each with its
/// offset, and how many leading octets are good (the magic and the
/// records before the first bad or cut one). A file without the magic has
/// no good octets.
pub fn scan_cache(bytes: &[u8]) -> (Vec<(u64, CacheKey, Summary)>, usize) {
    let mut found = Vec::new();
    if bytes.get(..CACHE_MAGIC.len()) != Some(&CACHE_MAGIC[..]) {
        return (found, 0);
    }
    let mut at = CACHE_MAGIC.len();
    while let Some(frame) = bytes.get(at..at + 8) {
        let Some(len) = frame.try_into().ok().and_then(record_len) else {
            break;
        };
        let Some(record) = bytes.get(at..at + len) else {
            break;
        };
        let Some((key, summary)) = decode_record(record) else {
            break;
        };
        found.push((at as u64, key, summary));
        at += len;
    }
    (found, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MSG: &[u8] = b"From: Ann <ann@example.com>\r\nSubject: hi\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n";

    #[test]
    fn whole_and_head_summaries_agree_on_the_header() {
        let whole = Summary::of(MSG);
        let mut end = HeaderEnd::new();
        end.feed(MSG);
        let head = Summary::of_head(MSG, MSG.len() as u64, end.body_offset().unwrap());
        assert_eq!(whole.body_offset, head.body_offset);
        assert_eq!(whole.header, head.header);
        assert_eq!(whole.envelope, head.envelope);
        assert_eq!(whole.sent_day, head.sent_day);
        assert!(whole.header_complete && head.header_complete);
        assert_eq!(&MSG[whole.body_offset as usize..], b"body\r\n");
        assert!(head.structure.is_none() && whole.structure.is_some());
        let mut head = head;
        let mut scanner = mime_codec::structure::StructureScanner::default();
        for c in MSG.chunks(3) {
            scanner.feed(c);
        }
        head.add_structure(&scanner.finish());
        assert_eq!(head, whole);
    }

    #[test]
    fn crc_known_answer() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_flipped_or_cut_record_ends_the_good_part() {
        let key = CacheKey {
            uid: 7,
            size: MSG.len() as u64,
            mtime: 1,
            unique: "1.M1P1.host".into(),
        };
        let mut file = CACHE_MAGIC.to_vec();
        let rec = encode_record(&key, &Summary::of(MSG));
        file.extend_from_slice(&rec);
        file.extend_from_slice(&rec);
        let (found, good) = scan_cache(&file);
        assert_eq!((found.len(), good), (2, file.len()));
        assert_eq!(found[0].1, key);
        let mut flipped = file.clone();
        let n = flipped.len();
        flipped[n - 3] ^= 0x40;
        let (found, good) = scan_cache(&flipped);
        assert_eq!((found.len(), good), (1, 8 + rec.len()));
        let (found, good) = scan_cache(&file[..file.len() - 1]);
        assert_eq!((found.len(), good), (1, 8 + rec.len()));
        assert_eq!(scan_cache(b"MWIMAPC0").1, 0);
        // A version 1 file (before part ranges) is not read.
        assert_eq!(scan_cache(b"MWIMAPC1").1, 0);
        let mut old = Summary::of(MSG).encode();
        old[0] = 1;
        assert_eq!(Summary::decode(&old), None);
    }

    proptest! {
        #[test]
        fn summary_round_trips(body in proptest::collection::vec(any::<u8>(), 0..400), subject in "[ -~]{0,40}") {
            let mut msg = format!("Subject: {subject}\r\nFrom: a@b.c\r\n\r\n").into_bytes();
            msg.extend_from_slice(&body);
            let s = Summary::of(&msg);
            prop_assert_eq!(Summary::decode(&s.encode()), Some(s));
        }

        #[test]
        fn header_end_is_chunking_invariant(
            msg in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a')], 0..60),
            cut in proptest::collection::vec(1usize..8, 1..20),
        ) {
            let mut whole = HeaderEnd::new();
            whole.feed(&msg);
            let mut parts = HeaderEnd::new();
            let mut rest = &msg[..];
            for n in cut.iter().cycle() {
                if rest.is_empty() { break; }
                let (a, b) = rest.split_at((*n).min(rest.len()));
                parts.feed(a);
                rest = b;
            }
            prop_assert_eq!(whole.body_offset(), parts.body_offset());
        }

        #[test]
        fn offsets_name_the_same_bytes_as_the_sections(
            head in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b' '), Just(b':'), Just(b'a'), Just(b'-')], 0..60),
            body in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'-'), Just(b'b')], 0..60),
            multipart in any::<bool>(),
        ) {
            use imap_codec::imap_types::fetch::Section;
            let mut msg = head.clone();
            if multipart {
                msg.extend_from_slice(b"\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n");
            }
            msg.extend_from_slice(&body);
            let s = Summary::of(&msg);
            let text = fetch::section_bytes(&msg, &Some(Section::Text(None))).unwrap();
            prop_assert_eq!(&msg[s.body_offset as usize..], &text[..]);
            let header = fetch::section_bytes(&msg, &Some(Section::Header(None))).unwrap();
            prop_assert_eq!(&s.header, &header);
            // The summary made for a message too large to parse whole (from
            // its head and a scan for its empty line) agrees.
            let mut end = HeaderEnd::new();
            end.feed(&msg);
            let scanned = end.body_offset().unwrap_or(msg.len() as u64);
            let h = Summary::of_head(&msg, msg.len() as u64, scanned);
            prop_assert_eq!(h.body_offset, s.body_offset);
            prop_assert_eq!(&h.header, &s.header);
            prop_assert_eq!(&h.envelope, &s.envelope);
            prop_assert_eq!(h.sent_day, s.sent_day);
        }

        #[test]
        fn scanning_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut file = CACHE_MAGIC.to_vec();
            file.extend_from_slice(&bytes);
            let (_, good) = scan_cache(&file);
            prop_assert!(good <= file.len());
        }
    }
}
