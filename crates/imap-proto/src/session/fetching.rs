//! FETCH answered a step at a time, message bodies streamed.
//!
//! Each message's answer is a list of [`Piece`]s: bytes the session wrote
//! (FLAGS, ENVELOPE, literal headers `{n}`) and ranges of the message file
//! that the store reads in chunks ([`Mailstore::read_at`]) as the driver
//! drains the output. `BODY[]`, `BODY[TEXT]`, `BODY[HEADER]`, `RFC822*` and their
//! partials never hold more than one chunk of a message; ENVELOPE,
//! BODYSTRUCTURE and HEADER.FIELDS come from the message's [`Summary`].

use super::sets::flag_list;
use super::ImapSession;
use crate::fetch;
use crate::store::{Flags, Mailstore};
use crate::summary::Summary;
use crate::wire;
use imap_codec::imap_types::fetch::{MessageDataItemName, Section};
use std::collections::VecDeque;

/// Most octets read from a message in one step.
const CHUNK: usize = 256 * 1024;

/// Part of one message's FETCH answer.
#[derive(Debug)]
enum Piece {
    /// Bytes as they go out.
    Bytes(Vec<u8>),
    /// `len` octets of message `uid` from `start`.
    Range { uid: u32, start: u64, len: u64 },
}

/// A FETCH in progress: the items, the UIDs still to answer, and what is
/// left of the answer being sent.
#[derive(Debug)]
pub(crate) struct FetchJob {
    tag: String,
    items: Vec<MessageDataItemName<'static>>,
    uid: bool,
    left: VecDeque<u32>,
    pieces: VecDeque<Piece>,
}

impl FetchJob {
    pub(crate) fn new(
        tag: &str,
        items: Vec<MessageDataItemName<'static>>,
        uid: bool,
        left: VecDeque<u32>,
    ) -> FetchJob {
        FetchJob {
            tag: tag.to_owned(),
            items,
            uid,
            left,
            pieces: VecDeque::new(),
        }
    }
}

/// The range of a message that a top-level section names, when it can be
/// streamed: the whole message, its header block, or its text.
fn streamable(section: &Option<Section<'_>>, summary: &Summary) -> Option<(u64, u64)> {
    match section {
        None => Some((0, summary.size)),
        Some(Section::Header(None)) => Some((0, summary.body_offset)),
        Some(Section::Text(None)) => Some((
            summary.body_offset,
            summary.size.saturating_sub(summary.body_offset),
        )),
        _ => None,
    }
}

/// Whether a section is inside a MIME part (found from the part ranges).
fn in_part(section: &Option<Section<'_>>) -> bool {
    matches!(
        section,
        Some(
            Section::Part(_)
                | Section::Mime(_)
                | Section::Header(Some(_))
                | Section::Text(Some(_))
                | Section::HeaderFields(Some(_), _)
                | Section::HeaderFieldsNot(Some(_), _)
        )
    )
}

/// Most octets of a nested message's header block read for
/// `BODY[n.HEADER.FIELDS (...)]`; the fields beyond are not seen.
const MAX_PART_HEADER: u64 = 1024 * 1024;

/// The octets `start..start+len` of a message (at most
/// [`MAX_PART_HEADER`]), read a chunk at a time; `None` if it cannot be read.
fn read_range(
    store: &mut dyn Mailstore,
    folder: &str,
    uid: u32,
    start: u64,
    len: u64,
) -> Option<Vec<u8>> {
    let len = usize::try_from(len.min(MAX_PART_HEADER)).ok()?;
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match store.read_at(folder, uid, start + got as u64, &mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(_) => return None,
        }
    }
    buf.truncate(got);
    Some(buf)
}

/// `{n}` CRLF then the octets `start..start+len` of message `uid`.
fn literal_range(pieces: &mut Vec<Piece>, head: Vec<u8>, uid: u32, start: u64, len: u64) {
    let mut head = head;
    head.extend_from_slice(format!("{{{len}}}\r\n").as_bytes());
    pieces.push(Piece::Bytes(head));
    if len > 0 {
        pieces.push(Piece::Range { uid, start, len });
    }
}

/// A partial `<start.len>` of a range of `total` octets from `base`.
fn partial_of(base: u64, total: u64, partial: &Option<(u32, std::num::NonZeroU32)>) -> (u64, u64) {
    match partial {
        Some((start, len)) => {
            let s = u64::from(*start).min(total);
            let e = s.saturating_add(u64::from(len.get())).min(total);
            (base + s, e - s)
        }
        None => (base, total),
    }
}

impl ImapSession {
    /// Answers the next messages of the FETCH in progress, up to about
    /// `fetch_batch` octets queued; the tagged OK after the last.
    pub(crate) fn continue_fetch(&mut self, store: &mut dyn Mailstore) {
        let Some(mut job) = self.fetch_job.take() else {
            return;
        };
        while self.queued() < self.config.fetch_batch {
            if let Some(piece) = job.pieces.pop_front() {
                match piece {
                    Piece::Bytes(b) => self.transmit(&b),
                    Piece::Range { uid, start, len } => {
                        let room = self.config.fetch_batch.saturating_sub(self.queued());
                        let n = room
                            .clamp(4096, CHUNK)
                            .min(usize::try_from(len).unwrap_or(CHUNK));
                        if !self.send_range(store, uid, start, n) {
                            return;
                        }
                        let n = n as u64;
                        if len > n {
                            job.pieces.push_front(Piece::Range {
                                uid,
                                start: start + n,
                                len: len - n,
                            });
                        }
                    }
                }
                continue;
            }
            let Some(uid) = job.left.pop_front() else {
                self.refresh(store, false);
                return self.tagged(&job.tag, "OK", "FETCH completed");
            };
            let index = self
                .selected
                .as_ref()
                .and_then(|s| s.messages.binary_search_by_key(&uid, |m| m.uid).ok());
            if let Some(i) = index {
                let pieces = self.fetch_one(i, &job.items, job.uid, store);
                job.pieces.extend(pieces);
            }
        }
        self.fetch_job = Some(job);
    }

    /// Sends `n` octets of message `uid` from `start`. A message that
    /// shrank or vanished under a literal already announced cannot be
    /// answered any more: the session ends (false).
    fn send_range(&mut self, store: &mut dyn Mailstore, uid: u32, start: u64, n: usize) -> bool {
        let Some(folder) = self.selected.as_ref().map(|s| s.name.clone()) else {
            return false;
        };
        let mut buf = vec![0u8; n];
        let mut got = 0;
        while got < n {
            match store.read_at(&folder, uid, start + got as u64, &mut buf[got..]) {
                Ok(0) | Err(_) => {
                    self.close(
                        "\r\n* BYE message changed while being sent\r\n",
                        super::CloseReason::Shutdown,
                    );
                    return false;
                }
                Ok(k) => got += k,
            }
        }
        self.transmit(&buf);
        true
    }

    /// The answer for message `i`, as pieces.
    fn fetch_one(
        &mut self,
        i: usize,
        items: &[MessageDataItemName<'_>],
        uid: bool,
        store: &mut dyn Mailstore,
    ) -> Vec<Piece> {
        let Some(sel) = &self.selected else {
            return Vec::new();
        };
        let meta = sel.messages[i].clone();
        let (name, read_only) = (sel.name.clone(), sel.read_only);
        let needs_summary = items.iter().any(|item| {
            !matches!(
                item,
                MessageDataItemName::Flags
                    | MessageDataItemName::Uid
                    | MessageDataItemName::InternalDate
                    | MessageDataItemName::Rfc822Size
            )
        });
        // Sections inside MIME parts are found from the part ranges that
        // come with the structure.
        let needs_structure = items.iter().any(|item| match item {
            MessageDataItemName::Body | MessageDataItemName::BodyStructure => true,
            MessageDataItemName::BodyExt { section, .. } => in_part(section),
            _ => false,
        });
        let summary = if needs_summary {
            match store.summary(&name, meta.uid, needs_structure) {
                Ok(s) => Some(s),
                Err(_) => return Vec::new(),
            }
        } else {
            None
        };
        let sets_seen = !read_only
            && !meta.flags.contains(Flags::SEEN)
            && items.iter().any(|item| {
                matches!(
                    item,
                    MessageDataItemName::BodyExt { peek: false, .. }
                        | MessageDataItemName::Rfc822
                        | MessageDataItemName::Rfc822Text
                )
            });
        let mut flags = meta.flags;
        if sets_seen {
            flags = flags.union(Flags::SEEN);
            if store.set_flags(&name, meta.uid, flags).is_ok() {
                if let Some(sel) = self.selected.as_mut() {
                    sel.messages[i].flags = flags;
                }
            }
        }
        let mut lead: Vec<Vec<u8>> = Vec::new();
        if uid
            && !items
                .iter()
                .any(|it| matches!(it, MessageDataItemName::Uid))
        {
            lead.push(format!("UID {}", meta.uid).into_bytes());
        }
        if sets_seen
            && !items
                .iter()
                .any(|it| matches!(it, MessageDataItemName::Flags))
        {
            lead.push(format!("FLAGS {}", flag_list(flags, meta.recent)).into_bytes());
        }
        let mut pieces = Vec::new();
        let mut first = true;
        // What goes before the next item: the line's start, or a space.
        let mut next = || -> Vec<u8> {
            if std::mem::take(&mut first) {
                format!("* {} FETCH (", i + 1).into_bytes()
            } else {
                b" ".to_vec()
            }
        };
        for bytes in lead {
            let mut out = next();
            out.extend_from_slice(&bytes);
            pieces.push(Piece::Bytes(out));
        }
        let uid_n = meta.uid;
        for item in items {
            let mut out = Vec::new();
            match item {
                MessageDataItemName::Flags => out.extend_from_slice(
                    format!("FLAGS {}", flag_list(flags, meta.recent)).as_bytes(),
                ),
                MessageDataItemName::Uid => {
                    out.extend_from_slice(format!("UID {}", meta.uid).as_bytes())
                }
                MessageDataItemName::InternalDate => out.extend_from_slice(
                    format!(
                        "INTERNALDATE \"{}\"",
                        fetch::internal_date(meta.internal_date)
                    )
                    .as_bytes(),
                ),
                MessageDataItemName::Rfc822Size => {
                    out.extend_from_slice(format!("RFC822.SIZE {}", meta.size).as_bytes())
                }
                MessageDataItemName::Envelope => {
                    out.extend_from_slice(b"ENVELOPE ");
                    if let Some(s) = &summary {
                        out.extend_from_slice(&s.envelope);
                    }
                }
                MessageDataItemName::Body | MessageDataItemName::BodyStructure => {
                    let extended = matches!(item, MessageDataItemName::BodyStructure);
                    out.extend_from_slice(if extended {
                        b"BODYSTRUCTURE "
                    } else {
                        b"BODY "
                    });
                    if let Some(st) = summary.as_ref().and_then(|s| s.structure.as_ref()) {
                        out.extend_from_slice(if extended {
                            &st.body_structure
                        } else {
                            &st.body
                        });
                    }
                }
                MessageDataItemName::Rfc822
                | MessageDataItemName::Rfc822Header
                | MessageDataItemName::Rfc822Text => {
                    let Some(s) = &summary else { continue };
                    let (label, section) = match item {
                        MessageDataItemName::Rfc822 => ("RFC822 ", None),
                        MessageDataItemName::Rfc822Header => {
                            ("RFC822.HEADER ", Some(Section::Header(None)))
                        }
                        _ => ("RFC822.TEXT ", Some(Section::Text(None))),
                    };
                    let mut head = next();
                    head.extend_from_slice(label.as_bytes());
                    if matches!(section, Some(Section::Header(None))) && s.header_complete {
                        wire::literal(&mut head, &s.header);
                        pieces.push(Piece::Bytes(head));
                        continue;
                    }
                    let (start, len) = streamable(&section, s).unwrap_or((0, 0));
                    literal_range(&mut pieces, head, uid_n, start, len);
                    continue;
                }
                MessageDataItemName::BodyExt {
                    section, partial, ..
                } => {
                    let label = format!("BODY[{}]", fetch::section_label(section));
                    let label = match partial {
                        Some((start, _)) => format!("{label}<{start}> "),
                        None => format!("{label} "),
                    };
                    let cached_header = summary.as_ref().filter(|s| {
                        s.header_complete && matches!(section, Some(Section::Header(None)))
                    });
                    if let Some(s) = cached_header {
                        let (start, len) = partial_of(0, s.header.len() as u64, partial);
                        let (a, n) = (start as usize, len as usize);
                        let mut head = next();
                        head.extend_from_slice(label.as_bytes());
                        wire::literal(&mut head, &s.header[a..a + n]);
                        pieces.push(Piece::Bytes(head));
                        continue;
                    }
                    if let Some((base, total)) =
                        summary.as_ref().and_then(|s| streamable(section, s))
                    {
                        let (start, len) = partial_of(base, total, partial);
                        let mut head = next();
                        head.extend_from_slice(label.as_bytes());
                        literal_range(&mut pieces, head, uid_n, start, len);
                        continue;
                    }
                    let structure = summary.as_ref().and_then(|s| s.structure.as_ref());
                    let range = structure.and_then(|st| fetch::section_range(section, st));
                    let fields = match section {
                        Some(
                            Section::HeaderFields(p, names) | Section::HeaderFieldsNot(p, names),
                        ) => Some((p.is_some(), names)),
                        _ => None,
                    };
                    if let (Some((start, len)), None) = (range, &fields) {
                        // A part, its MIME header, or a nested message's
                        // header or text: streamed from the file.
                        let (start, len) = partial_of(start, len, partial);
                        let mut head = next();
                        head.extend_from_slice(label.as_bytes());
                        literal_range(&mut pieces, head, uid_n, start, len);
                        continue;
                    }
                    let bytes = match (fields, &summary) {
                        (Some((false, names)), Some(s)) => {
                            let names: Vec<Vec<u8>> =
                                names.as_ref().iter().map(|n| n.as_ref().to_vec()).collect();
                            fetch::filter_fields(
                                &s.header,
                                &names,
                                matches!(section, Some(Section::HeaderFieldsNot(..))),
                            )
                        }
                        (Some((true, names)), _) => {
                            // A nested message's header block, read (up to
                            // MAX_PART_HEADER octets) and filtered.
                            let Some((start, len)) = range else {
                                out.extend_from_slice(label.as_bytes());
                                wire::literal(&mut out, b"");
                                let mut head = next();
                                head.extend_from_slice(&out);
                                pieces.push(Piece::Bytes(head));
                                continue;
                            };
                            let block = match read_range(store, &name, uid_n, start, len) {
                                Some(b) => b,
                                None => return Vec::new(),
                            };
                            let names: Vec<Vec<u8>> =
                                names.as_ref().iter().map(|n| n.as_ref().to_vec()).collect();
                            fetch::filter_fields(
                                &block,
                                &names,
                                matches!(section, Some(Section::HeaderFieldsNot(..))),
                            )
                        }
                        _ => Vec::new(),
                    };
                    let (start, len) = partial_of(0, bytes.len() as u64, partial);
                    let (s, l) = (start as usize, len as usize);
                    out.extend_from_slice(label.as_bytes());
                    wire::literal(&mut out, &bytes[s..s + l]);
                }
                _ => continue,
            }
            let mut head = next();
            head.extend_from_slice(&out);
            pieces.push(Piece::Bytes(head));
        }
        let mut tail = next();
        if tail.starts_with(b"*") {
            // No item at all: an empty list.
            tail.extend_from_slice(b")\r\n");
        } else {
            tail = b")\r\n".to_vec();
        }
        pieces.push(Piece::Bytes(tail));
        pieces
    }
}
