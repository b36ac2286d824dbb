//! A message's search columns: what the header SEARCH keys (FROM, TO, CC,
//! BCC, SUBJECT, HEADER of those names) and the sent-date keys need, in a
//! compact form a store can keep apart from the whole [`Summary`] and hold
//! in memory or read in one pass (the Maildir store's
//! `.mailwire-imapsearch`).
//!
//! Each column is exactly what the session matched before it existed: for
//! every header field of that name, its raw value, a space, its RFC 2047
//! decoded text and a line feed, all in ASCII lower case. A needle in
//! lower case is then found with one substring search, and a column is
//! empty exactly when the message has no field of that name.
//!
//! Records are framed as the summary cache's are (`LEN CRC32 PAYLOAD`,
//! little-endian): the key (UID, size, modification time, unique name),
//! the sent day, and the five columns, each length-prefixed. The form is
//! canonical: a record that verifies re-encodes to its own octets.

use crate::summary::{CacheKey, Summary};

/// The first octets of a search-column file (format version 1).
pub const COLUMNS_MAGIC: &[u8; 8] = b"MWIMAPS1";

/// The header fields kept as columns, in record order.
pub const COLUMN_FIELDS: [&str; 5] = ["From", "To", "Cc", "Bcc", "Subject"];

/// Largest record accepted when reading a column file.
const MAX_COLUMN_RECORD: usize = 1024 * 1024;

/// The columns of one message, owned: a buffer the session reuses from
/// message to message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// The day of the Date field (days since 0001-01-01), as in
    /// [`Summary::sent_day`].
    pub sent_day: Option<i32>,
    text: Vec<u8>,
    ends: [usize; 5],
}

/// The position of `name` (any case) in [`COLUMN_FIELDS`].
pub fn column_of(name: &str) -> Option<usize> {
    COLUMN_FIELDS
        .iter()
        .position(|f| f.eq_ignore_ascii_case(name))
}

impl Columns {
    /// Empties the columns (no field, no date).
    pub fn clear(&mut self) {
        self.sent_day = None;
        self.text.clear();
        self.ends = [0; 5];
    }

    /// The columns of a message from its summary (its header block).
    pub fn of_summary(summary: &Summary) -> Columns {
        let mut c = Columns::default();
        c.fill(summary);
        c
    }

    /// Replaces the columns with those of a message from its summary.
    pub fn fill(&mut self, summary: &Summary) {
        self.clear();
        self.sent_day = summary.sent_day;
        let msg = mime_codec::Message::parse(&summary.header);
        let headers = msg.headers();
        for (i, name) in COLUMN_FIELDS.iter().enumerate() {
            for h in headers
                .iter()
                .filter(|h| h.name().eq_ignore_ascii_case(name))
            {
                let start = self.text.len();
                self.text.extend_from_slice(h.raw_value());
                self.text.push(b' ');
                self.text.extend_from_slice(h.text().as_bytes());
                self.text.push(b'\n');
                self.text[start..].make_ascii_lowercase();
            }
            self.ends[i] = self.text.len();
        }
    }

    /// Column `i` of [`COLUMN_FIELDS`] (empty for any other `i`).
    pub fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0)
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or_default()
    }

    /// Replaces the columns with a record's.
    pub fn set(&mut self, r: &ColumnsRef<'_>) {
        self.clear();
        self.sent_day = r.sent_day;
        for (i, f) in r.fields.iter().enumerate() {
            self.text.extend_from_slice(f);
            self.ends[i] = self.text.len();
        }
    }

    /// The record for this message: `LEN CRC32 PAYLOAD`.
    pub fn encode_record(&self, key: &CacheKey) -> Vec<u8> {
        let fields: [&[u8]; 5] = std::array::from_fn(|i| self.field(i));
        encode(
            key.uid,
            key.size,
            key.mtime,
            key.unique.as_bytes(),
            self.sent_day,
            &fields,
        )
    }
}

/// CRC-32 (IEEE 802.3), the same value as [`crate::summary::crc32`], eight
/// octets at a step (slicing-by-8, tables built at compile time): a
/// session reads a whole column file at once, and this is what it costs.
pub fn crc32_fast(bytes: &[u8]) -> u32 {
    const TABLES: [[u32; 256]; 8] = {
        let mut t = [[0u32; 256]; 8];
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
            t[0][i] = c;
            i += 1;
        }
        let mut i = 0;
        while i < 256 {
            let mut j = 1;
            while j < 8 {
                let prev = t[j - 1][i];
                t[j][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
                j += 1;
            }
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    let mut chunks = bytes.chunks_exact(8);
    for b in &mut chunks {
        let lo = c ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        c = TABLES[7][(lo & 0xFF) as usize]
            ^ TABLES[6][((lo >> 8) & 0xFF) as usize]
            ^ TABLES[5][((lo >> 16) & 0xFF) as usize]
            ^ TABLES[4][(lo >> 24) as usize]
            ^ TABLES[3][b[4] as usize]
            ^ TABLES[2][b[5] as usize]
            ^ TABLES[1][b[6] as usize]
            ^ TABLES[0][b[7] as usize];
    }
    for &b in chunks.remainder() {
        c = TABLES[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn encode(
    uid: u32,
    size: u64,
    mtime: i64,
    unique: &[u8],
    sent_day: Option<i32>,
    fields: &[&[u8]; 5],
) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&uid.to_le_bytes());
    payload.extend_from_slice(&size.to_le_bytes());
    payload.extend_from_slice(&mtime.to_le_bytes());
    put(&mut payload, unique);
    match sent_day {
        Some(d) => {
            payload.push(1);
            payload.extend_from_slice(&d.to_le_bytes());
        }
        None => payload.push(0),
    }
    for f in fields {
        put(&mut payload, f);
    }
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&crc32_fast(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// One record's contents, borrowed from its octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnsRef<'a> {
    /// The UID.
    pub uid: u32,
    /// The message file's size.
    pub size: u64,
    /// The message file's modification time (seconds).
    pub mtime: i64,
    /// The Maildir unique name.
    pub unique: &'a [u8],
    /// The Date field's day.
    pub sent_day: Option<i32>,
    /// The columns, in [`COLUMN_FIELDS`] order.
    pub fields: [&'a [u8]; 5],
}

impl ColumnsRef<'_> {
    /// Whether the record was written for this message.
    pub fn is_for(&self, uid: u32, size: u64, mtime: i64, unique: &str) -> bool {
        self.uid == uid
            && self.size == size
            && self.mtime == mtime
            && self.unique == unique.as_bytes()
    }

    /// The record's octets again (`LEN CRC32 PAYLOAD`).
    pub fn encode(&self) -> Vec<u8> {
        encode(
            self.uid,
            self.size,
            self.mtime,
            self.unique,
            self.sent_day,
            &self.fields,
        )
    }
}

/// The total length of the record whose frame starts `bytes`, if sane.
pub fn column_record_len(frame: &[u8; 8]) -> Option<usize> {
    let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
    let len = usize::try_from(len).ok()?;
    (len <= MAX_COLUMN_RECORD).then_some(len + 8)
}

/// The payload of the whole record `bytes` when its frame and checksum
/// verify and its contents read back ([`parse_payload`]).
pub fn verify_record(bytes: &[u8]) -> Option<&[u8]> {
    let frame: &[u8; 8] = bytes.get(..8)?.try_into().ok()?;
    if column_record_len(frame)? != bytes.len() {
        return None;
    }
    let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let payload = &bytes[8..];
    (crc32_fast(payload) == crc && parse_payload(payload).is_some()).then_some(payload)
}

/// Reads a payload (a record without its frame); `None` unless it is
/// exactly one record's contents.
pub fn parse_payload(payload: &[u8]) -> Option<ColumnsRef<'_>> {
    let mut r = payload;
    let mut take = |n: usize| -> Option<&[u8]> {
        if n > r.len() {
            return None;
        }
        let (a, b) = r.split_at(n);
        r = b;
        Some(a)
    };
    let uid = u32::from_le_bytes(take(4)?.try_into().ok()?);
    let size = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let mtime = i64::from_le_bytes(take(8)?.try_into().ok()?);
    let n = u32::from_le_bytes(take(4)?.try_into().ok()?);
    let unique = take(usize::try_from(n).ok()?)?;
    let sent_day = match take(1)? {
        [0] => None,
        [1] => Some(i32::from_le_bytes(take(4)?.try_into().ok()?)),
        _ => return None,
    };
    let mut fields: [&[u8]; 5] = [&[]; 5];
    for f in &mut fields {
        let n = u32::from_le_bytes(take(4)?.try_into().ok()?);
        *f = take(usize::try_from(n).ok()?)?;
    }
    r.is_empty().then_some(ColumnsRef {
        uid,
        size,
        mtime,
        unique,
        sent_day,
        fields,
    })
}

/// Walks a column file's octets: each record that verifies with its
/// offset, and how many leading octets are good (the magic and the records
/// before the first bad or cut one; 0 without the magic).
pub fn scan_columns(bytes: &[u8]) -> (Vec<(usize, ColumnsRef<'_>)>, usize) {
    let mut found = Vec::new();
    if bytes.get(..COLUMNS_MAGIC.len()) != Some(&COLUMNS_MAGIC[..]) {
        return (found, 0);
    }
    let (records, good) = scan_records(&bytes[COLUMNS_MAGIC.len()..]);
    for (at, payload) in records {
        if let Some(r) = parse_payload(payload) {
            found.push((at + COLUMNS_MAGIC.len(), r));
        }
    }
    (found, good + COLUMNS_MAGIC.len())
}

/// Walks records (no magic): each verified payload with its record's
/// offset, and where the good part ends.
pub fn scan_records(bytes: &[u8]) -> (Vec<(usize, &[u8])>, usize) {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(frame) = bytes.get(at..at + 8) {
        let Some(len) = frame.try_into().ok().and_then(column_record_len) else {
            break;
        };
        let Some(record) = bytes.get(at..at + len) else {
            break;
        };
        let Some(payload) = verify_record(record) else {
            break;
        };
        found.push((at, payload));
        at += len;
    }
    (found, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MSG: &[u8] = b"From: Ann <Ann@Example.com>\r\nTo: b@x\r\nTo: =?utf-8?q?Caf=C3=A9?= <c@x>\r\nSubject: Hi\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n";

    fn key() -> CacheKey {
        CacheKey {
            uid: 9,
            size: MSG.len() as u64,
            mtime: 5,
            unique: "1.M1P1.host".into(),
        }
    }

    #[test]
    fn fast_crc_known_answer() {
        assert_eq!(crc32_fast(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32_fast(b""), 0);
    }

    #[test]
    fn columns_hold_raw_and_decoded_text_lowercased() {
        let c = Columns::of_summary(&Summary::of(MSG));
        assert_eq!(
            c.field(0),
            b" ann <ann@example.com> ann <ann@example.com>\n"
        );
        assert_eq!(
            c.field(1),
            " b@x b@x\n =?utf-8?q?caf=c3=a9?= <c@x> café <c@x>\n".as_bytes()
        );
        assert!(c.field(2).is_empty() && c.field(3).is_empty());
        assert_eq!(c.field(4), b" hi hi\n");
        assert_eq!(c.field(7), b"");
        assert_eq!(c.sent_day, Summary::of(MSG).sent_day);
        assert!(c.sent_day.is_some());
        assert_eq!(column_of("sUbJeCt"), Some(4));
        assert_eq!(column_of("Date"), None);
    }

    #[test]
    fn a_record_round_trips_and_a_flipped_or_cut_one_ends_the_good_part() {
        let c = Columns::of_summary(&Summary::of(MSG));
        let rec = c.encode_record(&key());
        let payload = verify_record(&rec).unwrap();
        let r = parse_payload(payload).unwrap();
        assert!(r.is_for(9, MSG.len() as u64, 5, "1.M1P1.host"));
        assert!(!r.is_for(9, MSG.len() as u64, 5, "1.M1P1.other"));
        assert_eq!(r.encode(), rec);
        let mut back = Columns::default();
        back.set(&r);
        assert_eq!(back, c);

        let mut file = COLUMNS_MAGIC.to_vec();
        file.extend_from_slice(&rec);
        file.extend_from_slice(&rec);
        let (found, good) = scan_columns(&file);
        assert_eq!((found.len(), good), (2, file.len()));
        let mut flipped = file.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 1;
        let (found, good) = scan_columns(&flipped);
        assert_eq!((found.len(), good), (1, 8 + rec.len()));
        let (found, good) = scan_columns(&file[..file.len() - 1]);
        assert_eq!((found.len(), good), (1, 8 + rec.len()));
        assert_eq!(scan_columns(b"MWIMAPC1").1, 0);
    }

    proptest! {
        #[test]
        fn the_fast_crc_is_the_crc(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(crc32_fast(&bytes), crate::summary::crc32(&bytes));
        }

        #[test]
        fn any_columns_round_trip(
            fields in proptest::array::uniform5(proptest::collection::vec(any::<u8>(), 0..40)),
            day in proptest::option::of(any::<i32>()),
            uid in any::<u32>(),
            unique in "[a-zA-Z0-9.]{0,20}",
        ) {
            let refs: [&[u8]; 5] = std::array::from_fn(|i| &fields[i][..]);
            let rec = encode(uid, 3, -4, unique.as_bytes(), day, &refs);
            let r = parse_payload(verify_record(&rec).unwrap()).unwrap();
            prop_assert_eq!(r.fields, refs);
            prop_assert_eq!(r.sent_day, day);
            prop_assert!(r.is_for(uid, 3, -4, &unique));
            let mut c = Columns::default();
            c.set(&r);
            for (i, f) in refs.iter().enumerate() {
                prop_assert_eq!(c.field(i), *f);
            }
            let k = CacheKey { uid, size: 3, mtime: -4, unique: unique.clone() };
            prop_assert_eq!(c.encode_record(&k), rec);
        }
    }
}
