//! SEARCH: the common keys over the selected folder.

use super::sets::Ranges;
use super::ImapSession;
use crate::store::{Flags, Mailstore, MessageMeta};
use crate::summary::Summary;
use imap_codec::imap_types::core::Vec1;
use imap_codec::imap_types::search::SearchKey;
use std::collections::HashMap;

/// A message being tested, its summary fetched only when a key needs it.
struct Candidate<'s> {
    meta: &'s MessageMeta,
    seq: u32,
    largest_seq: u32,
    largest_uid: u32,
    summary: Option<Option<Summary>>,
    /// The header's fields (name, raw value and decoded text), parsed once
    /// for all the header keys of a search.
    fields: Option<Vec<(String, Vec<u8>)>>,
}

/// Octets of a message read at a time by BODY and TEXT.
const SCAN_CHUNK: usize = 64 * 1024;

/// A case-insensitive (ASCII) substring search over text fed in chunks of
/// any size, holding only the last `needle.len() - 1` octets between
/// chunks: the answer does not depend on where the chunks are cut.
#[derive(Debug, Clone)]
pub(crate) struct StreamMatch {
    needle: Vec<u8>,
    carry: Vec<u8>,
    found: bool,
}

impl StreamMatch {
    pub(crate) fn new(needle: &[u8]) -> StreamMatch {
        StreamMatch {
            needle: needle.to_ascii_lowercase(),
            carry: Vec::new(),
            found: needle.is_empty(),
        }
    }
    /// Feeds the next octets; true once the needle was seen.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> bool {
        if self.found {
            return true;
        }
        let mut window = std::mem::take(&mut self.carry);
        window.extend(chunk.iter().map(u8::to_ascii_lowercase));
        if memchr::memmem::find(&window, &self.needle).is_some() {
            self.found = true;
            return true;
        }
        let keep = self.needle.len().saturating_sub(1).min(window.len());
        window.drain(..window.len() - keep);
        self.carry = window;
        false
    }
    pub(crate) fn found(&self) -> bool {
        self.found
    }
}

/// Scans octets `start..` of a message for `needle`, a chunk at a time.
fn scan(store: &mut dyn Mailstore, folder: &str, uid: u32, start: u64, needle: &[u8]) -> bool {
    let mut m = StreamMatch::new(needle);
    let mut buf = vec![0u8; SCAN_CHUNK];
    let mut at = start;
    while !m.found() {
        match store.read_at(folder, uid, at, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                m.feed(&buf[..n]);
                at += n as u64;
            }
        }
    }
    m.found()
}

/// Case-insensitive (ASCII) substring test in linear time.
fn contains_ci(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let haystack = haystack.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    memchr::memmem::find(&haystack, &needle).is_some()
}

fn day(seconds: i64) -> Option<chrono::NaiveDate> {
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.date_naive())
}

impl ImapSession {
    /// Sequence numbers (or UIDs with `uid`) of the matching messages.
    pub(crate) fn search_with(
        &mut self,
        criteria: &Vec1<SearchKey<'_>>,
        store: &mut dyn Mailstore,
        uid: bool,
    ) -> Vec<u32> {
        let Some(sel) = &self.selected else {
            return Vec::new();
        };
        let largest_seq = u32::try_from(sel.messages.len()).unwrap_or(u32::MAX);
        let largest_uid = sel.messages.last().map(|m| m.uid).unwrap_or(0);
        let mut hits = Vec::new();
        // Each set in the criteria, made into ranges once per search.
        let mut sets = HashMap::new();
        for (i, meta) in sel.messages.iter().enumerate() {
            let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let mut c = Candidate {
                meta,
                seq,
                largest_seq,
                largest_uid,
                summary: None,
                fields: None,
            };
            if criteria
                .as_ref()
                .iter()
                .all(|k| matches(k, &mut c, &sel.name, store, &mut sets, 0))
            {
                hits.push(if uid { meta.uid } else { seq });
            }
        }
        hits
    }
}

/// The candidate's summary, asked of the store once.
fn summary<'c>(
    c: &'c mut Candidate<'_>,
    store: &mut dyn Mailstore,
    folder: &str,
) -> Option<&'c Summary> {
    if c.summary.is_none() {
        c.summary = Some(store.summary(folder, c.meta.uid, false).ok());
    }
    c.summary.as_ref().and_then(Option::as_ref)
}

/// The candidate's header fields, parsed once: each name with its raw
/// value and its RFC 2047-decoded text (a key matches either).
fn fields<'c>(
    c: &'c mut Candidate<'_>,
    store: &mut dyn Mailstore,
    folder: &str,
) -> &'c [(String, Vec<u8>)] {
    if c.fields.is_none() {
        let parsed = summary(c, store, folder).map(|s| {
            mime_codec::Message::parse(&s.header)
                .headers()
                .iter()
                .map(|h| {
                    let mut v = h.raw_value().to_vec();
                    v.push(b' ');
                    v.extend_from_slice(h.text().as_bytes());
                    (h.name().to_owned(), v)
                })
                .collect()
        });
        c.fields = Some(parsed.unwrap_or_default());
    }
    c.fields.as_deref().unwrap_or_default()
}

/// Whether a header field `name` holds `value` (any of several fields of
/// that name). With `present`, the field must exist even for an empty value.
fn header_has(
    c: &mut Candidate<'_>,
    store: &mut dyn Mailstore,
    folder: &str,
    name: &str,
    value: &[u8],
) -> bool {
    let mut joined = Vec::new();
    for (n, v) in fields(c, store, folder) {
        if n.eq_ignore_ascii_case(name) {
            joined.extend_from_slice(v);
            joined.push(b'\n');
        }
    }
    contains_ci(&joined, value)
}

fn matches(
    key: &SearchKey<'_>,
    c: &mut Candidate<'_>,
    folder: &str,
    store: &mut dyn Mailstore,
    sets: &mut HashMap<usize, Ranges>,
    depth: usize,
) -> bool {
    if depth > 64 {
        return false;
    }
    let flags = c.meta.flags;
    match key {
        SearchKey::And(keys) => keys
            .as_ref()
            .iter()
            .all(|k| matches(k, c, folder, store, sets, depth + 1)),
        SearchKey::Or(a, b) => {
            matches(a, c, folder, store, sets, depth + 1)
                || matches(b, c, folder, store, sets, depth + 1)
        }
        SearchKey::Not(k) => !matches(k, c, folder, store, sets, depth + 1),
        SearchKey::All => true,
        // Keyed by where the set lives in the criteria: the same set for
        // every message of this search.
        SearchKey::SequenceSet(set) => sets
            .entry(set as *const _ as usize)
            .or_insert_with(|| Ranges::new(set, c.largest_seq))
            .contains(c.seq),
        SearchKey::Uid(set) => sets
            .entry(set as *const _ as usize)
            .or_insert_with(|| Ranges::new(set, c.largest_uid))
            .contains(c.meta.uid),
        SearchKey::Answered => flags.contains(Flags::ANSWERED),
        SearchKey::Unanswered => !flags.contains(Flags::ANSWERED),
        SearchKey::Deleted => flags.contains(Flags::DELETED),
        SearchKey::Undeleted => !flags.contains(Flags::DELETED),
        SearchKey::Draft => flags.contains(Flags::DRAFT),
        SearchKey::Undraft => !flags.contains(Flags::DRAFT),
        SearchKey::Flagged => flags.contains(Flags::FLAGGED),
        SearchKey::Unflagged => !flags.contains(Flags::FLAGGED),
        SearchKey::Seen => flags.contains(Flags::SEEN),
        SearchKey::Unseen => !flags.contains(Flags::SEEN),
        SearchKey::Recent => c.meta.recent,
        SearchKey::Old => !c.meta.recent,
        SearchKey::New => c.meta.recent && !flags.contains(Flags::SEEN),
        SearchKey::Keyword(_) => false,
        SearchKey::Unkeyword(_) => true,
        SearchKey::Larger(n) => c.meta.size > u64::from(*n),
        SearchKey::Smaller(n) => c.meta.size < u64::from(*n),
        SearchKey::Since(d) => day(c.meta.internal_date).is_some_and(|x| x >= *d.as_ref()),
        SearchKey::Before(d) => day(c.meta.internal_date).is_some_and(|x| x < *d.as_ref()),
        SearchKey::On(d) => day(c.meta.internal_date).is_some_and(|x| x == *d.as_ref()),
        SearchKey::SentSince(d) | SearchKey::SentBefore(d) | SearchKey::SentOn(d) => {
            let day = match &c.summary {
                Some(s) => s.as_ref().and_then(|s| s.sent_day),
                None => store.sent_day(folder, c.meta.uid).ok().flatten(),
            };
            let Some(x) = day.and_then(chrono::NaiveDate::from_num_days_from_ce_opt) else {
                return false;
            };
            match key {
                SearchKey::SentSince(_) => x >= *d.as_ref(),
                SearchKey::SentBefore(_) => x < *d.as_ref(),
                _ => x == *d.as_ref(),
            }
        }
        SearchKey::From(s) => header_has(c, store, folder, "From", s.as_ref()),
        SearchKey::To(s) => header_has(c, store, folder, "To", s.as_ref()),
        SearchKey::Cc(s) => header_has(c, store, folder, "Cc", s.as_ref()),
        SearchKey::Bcc(s) => header_has(c, store, folder, "Bcc", s.as_ref()),
        SearchKey::Subject(s) => header_has(c, store, folder, "Subject", s.as_ref()),
        SearchKey::Header(name, value) => {
            let name = String::from_utf8_lossy(name.as_ref()).into_owned();
            let present = fields(c, store, folder)
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(&name));
            present && header_has(c, store, folder, &name, value.as_ref())
        }
        SearchKey::Body(s) => {
            let Some(start) = summary(c, store, folder).map(|s| s.body_offset) else {
                return false;
            };
            scan(store, folder, c.meta.uid, start, s.as_ref())
        }
        SearchKey::Text(s) => scan(store, folder, c.meta.uid, 0, s.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn stream_match_is_chunking_invariant(
            hay in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'B'), Just(b'c')], 0..80),
            needle in proptest::collection::vec(prop_oneof![Just(b'A'), Just(b'b'), Just(b'C')], 0..5),
            cuts in proptest::collection::vec(1usize..9, 1..12),
        ) {
            let whole = contains_ci(&hay, &needle);
            let mut m = StreamMatch::new(&needle);
            let mut rest = &hay[..];
            for n in cuts.iter().cycle() {
                if rest.is_empty() { break; }
                let (a, b) = rest.split_at((*n).min(rest.len()));
                m.feed(a);
                rest = b;
            }
            prop_assert_eq!(m.found(), whole);
        }
    }
}
