//! SEARCH: the common keys over the selected folder.

use super::sets::Ranges;
use super::ImapSession;
use crate::store::{Flags, Mailstore, MessageMeta};
use imap_codec::imap_types::core::Vec1;
use imap_codec::imap_types::search::SearchKey;
use std::collections::HashMap;

/// A message being tested, its content read only when a key needs it.
struct Candidate<'s> {
    meta: &'s MessageMeta,
    seq: u32,
    largest_seq: u32,
    largest_uid: u32,
    content: Option<Vec<u8>>,
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
                content: None,
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

fn header_value(content: &[u8], name: &str) -> Vec<u8> {
    let msg = mime_codec::Message::parse(content);
    let mut out = Vec::new();
    for h in msg
        .headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
    {
        out.extend_from_slice(h.raw_value());
        out.push(b' ');
        out.extend_from_slice(h.text().as_bytes());
        out.push(b'\n');
    }
    out
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
    let mut content = |c: &mut Candidate<'_>| -> Vec<u8> {
        if c.content.is_none() {
            c.content = Some(store.read(folder, c.meta.uid).unwrap_or_default());
        }
        c.content.clone().unwrap_or_default()
    };
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
            let bytes = content(c);
            let sent = mime_codec::Message::parse(&bytes).date();
            let Some(x) = sent.and_then(|t| {
                chrono::NaiveDate::from_ymd_opt(t.year(), u32::from(t.month()), u32::from(t.day()))
            }) else {
                return false;
            };
            match key {
                SearchKey::SentSince(_) => x >= *d.as_ref(),
                SearchKey::SentBefore(_) => x < *d.as_ref(),
                _ => x == *d.as_ref(),
            }
        }
        SearchKey::From(s) => contains_ci(&header_value(&content(c), "From"), s.as_ref()),
        SearchKey::To(s) => contains_ci(&header_value(&content(c), "To"), s.as_ref()),
        SearchKey::Cc(s) => contains_ci(&header_value(&content(c), "Cc"), s.as_ref()),
        SearchKey::Bcc(s) => contains_ci(&header_value(&content(c), "Bcc"), s.as_ref()),
        SearchKey::Subject(s) => contains_ci(&header_value(&content(c), "Subject"), s.as_ref()),
        SearchKey::Header(name, value) => {
            let name = String::from_utf8_lossy(name.as_ref()).into_owned();
            let bytes = content(c);
            let msg = mime_codec::Message::parse(&bytes);
            let present = msg
                .headers()
                .iter()
                .any(|h| h.name().eq_ignore_ascii_case(&name));
            present && contains_ci(&header_value(&bytes, &name), value.as_ref())
        }
        SearchKey::Body(s) => {
            let bytes = content(c);
            let msg = mime_codec::Message::parse(&bytes);
            contains_ci(msg.root().raw_body(), s.as_ref())
        }
        SearchKey::Text(s) => contains_ci(&content(c), s.as_ref()),
    }
}
