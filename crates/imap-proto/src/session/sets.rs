//! Sets and names the commands share: sequence sets as ranges, flag lists,
//! compressed UID sets and LIST wildcards.

use crate::store::Flags;
use imap_codec::imap_types::flag::Flag;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

/// A sequence set as sorted, merged ranges, `*` standing for `largest`:
/// membership is a binary search, whatever the set's length.
pub(crate) struct Ranges(Vec<(u32, u32)>);

impl Ranges {
    pub(crate) fn new(set: &SequenceSet, largest: u32) -> Ranges {
        let value = |s: &SeqOrUid| match s {
            SeqOrUid::Value(v) => v.get(),
            SeqOrUid::Asterisk => largest,
        };
        let mut ranges: Vec<(u32, u32)> = set
            .0
            .as_ref()
            .iter()
            .map(|seq| match seq {
                Sequence::Single(s) => (value(s), value(s)),
                Sequence::Range(a, b) => (value(a).min(value(b)), value(a).max(value(b))),
            })
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        Ranges(merged)
    }

    pub(crate) fn contains(&self, n: u32) -> bool {
        let i = self.0.partition_point(|&(lo, _)| lo <= n);
        i > 0 && self.0[i - 1].1 >= n
    }
}

pub(crate) fn flags_of(list: &[Flag<'_>]) -> Flags {
    list.iter().fold(Flags::EMPTY, |acc, f| {
        acc.union(match f {
            Flag::Answered => Flags::ANSWERED,
            Flag::Deleted => Flags::DELETED,
            Flag::Draft => Flags::DRAFT,
            Flag::Flagged => Flags::FLAGGED,
            Flag::Seen => Flags::SEEN,
            _ => Flags::EMPTY,
        })
    })
}

pub(crate) fn flag_list(flags: Flags, recent: bool) -> String {
    let mut names: Vec<&str> = flags.names().collect();
    if recent {
        names.push("\\Recent");
    }
    format!("({})", names.join(" "))
}

/// Compresses sorted UIDs into an IMAP set like `1:3,7`.
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// LIST wildcard matching (RFC 3501 §6.3.8): `*` matches anything, `%`
/// anything but the hierarchy separator. Dynamic programming over the
/// pattern, so a hostile pattern costs O(pattern × name), never more.
pub(crate) fn glob(pattern: &[u8], name: &[u8]) -> bool {
    // reach[j]: the pattern so far can match name[..j].
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    for &p in pattern {
        let mut next = vec![false; name.len() + 1];
        match p {
            b'*' | b'%' => {
                let mut open = false;
                for j in 0..=name.len() {
                    if reach[j] {
                        open = true;
                    } else if p == b'%' && j > 0 && name[j - 1] == b'.' {
                        open = false;
                    }
                    next[j] = open;
                }
            }
            c => {
                for j in 1..=name.len() {
                    next[j] = reach[j - 1] && name[j - 1] == c;
                }
            }
        }
        reach = next;
    }
    reach[name.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob(b"*", b"a.b"));
        assert!(!glob(b"%", b"a.b"));
        assert!(glob(b"a.%", b"a.b"));
        assert!(glob(b"S%", b"Sent"));
        assert!(!glob(b"x*", b"Sent"));
        assert!(glob(b"%.b", b"a.b"));
        assert!(!glob(b"%", b"a."));
        assert!(glob(b"*b", b"a.b"));
        assert!(glob(b"", b""));
        // A hostile pattern stays cheap.
        let pattern = b"*a".repeat(5000);
        assert!(!glob(&pattern, &[b'a'; 200]));
    }

    #[test]
    fn uid_sets_compress() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[]), "");
    }
}
