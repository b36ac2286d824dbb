//! The commands of the Authenticated and Selected states.

use super::fetching::FetchJob;
use super::sets::{flag_list, flags_of, glob, uid_set, Ranges};
use super::{ImapSession, Selected};
use crate::store::{Flags, Mailstore, StoreError};
use crate::wire;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName};
use imap_codec::imap_types::flag::{StoreResponse, StoreType};
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox};
use imap_codec::imap_types::sequence::SequenceSet;
use imap_codec::imap_types::status::StatusDataItemName;

pub(crate) fn mailbox_name(m: &Mailbox<'_>) -> String {
    match m {
        Mailbox::Inbox => "INBOX".to_owned(),
        Mailbox::Other(o) => String::from_utf8_lossy(o.inner().as_ref()).into_owned(),
    }
}

fn store_no(e: &StoreError) -> String {
    match e {
        StoreError::NoSuchFolder => "[NONEXISTENT] no such mailbox".into(),
        StoreError::AlreadyExists => "[ALREADYEXISTS] mailbox already exists".into(),
        StoreError::InvalidName => "[CANNOT] invalid mailbox name".into(),
        StoreError::NoSuchMessage => "[EXPUNGEISSUED] message is gone".into(),
        other => format!("[SERVERBUG] {other}"),
    }
}

/// The text of an APPEND's `NO`.
pub(crate) fn append_no(e: &StoreError) -> String {
    match e {
        StoreError::NoSuchFolder => "[TRYCREATE] no such mailbox".into(),
        other => store_no(other),
    }
}

impl ImapSession {
    /// Indexes of the messages a set names (sequence numbers or UIDs).
    fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<usize> {
        let Some(sel) = &self.selected else {
            return Vec::new();
        };
        let count = sel.messages.len();
        let largest = if uid {
            sel.messages.last().map(|m| m.uid).unwrap_or(0)
        } else {
            u32::try_from(count).unwrap_or(u32::MAX)
        };
        let ranges = Ranges::new(set, largest);
        sel.messages
            .iter()
            .enumerate()
            .filter(|(i, m)| {
                let n = if uid {
                    m.uid
                } else {
                    u32::try_from(i + 1).unwrap_or(u32::MAX)
                };
                ranges.contains(n)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Tells the client what changed in the selected folder: new messages
    /// (EXISTS, RECENT), flag changes, and with `expunges`, removals.
    pub(crate) fn refresh(&mut self, store: &mut dyn Mailstore, expunges: bool) {
        let Some(sel) = &self.selected else { return };
        let Ok(view) = store.view(&sel.name, false) else {
            return;
        };
        let mut out = Vec::new();
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        if expunges {
            let gone = |uid: u32| view.messages.binary_search_by_key(&uid, |m| m.uid).is_err();
            // Highest first: each number is then still the message's
            // number when the client reads it.
            for (i, m) in sel.messages.iter().enumerate().rev() {
                if gone(m.uid) {
                    out.extend_from_slice(format!("* {} EXPUNGE\r\n", i + 1).as_bytes());
                }
            }
            sel.messages.retain(|m| !gone(m.uid));
        }
        for (i, m) in sel.messages.iter_mut().enumerate() {
            if let Ok(j) = view.messages.binary_search_by_key(&m.uid, |v| v.uid) {
                if view.messages[j].flags != m.flags {
                    m.flags = view.messages[j].flags;
                    out.extend_from_slice(
                        format!(
                            "* {} FETCH (FLAGS {})\r\n",
                            i + 1,
                            flag_list(m.flags, m.recent)
                        )
                        .as_bytes(),
                    );
                }
            }
        }
        let last = sel.messages.last().map(|m| m.uid).unwrap_or(0);
        let before = sel.messages.len();
        sel.messages
            .extend(view.messages.into_iter().filter(|m| m.uid > last));
        sel.uid_next = sel.uid_next.max(view.uid_next);
        if sel.messages.len() != before {
            let recent = sel.messages.iter().filter(|m| m.recent).count();
            out.extend_from_slice(
                format!("* {} EXISTS\r\n* {recent} RECENT\r\n", sel.messages.len()).as_bytes(),
            );
        }
        self.transmit(&out);
    }

    pub(crate) fn mailbox_command(
        &mut self,
        tag: &str,
        body: CommandBody<'_>,
        store: &mut dyn Mailstore,
    ) {
        match body {
            CommandBody::Select { mailbox, .. } => {
                self.select(tag, &mailbox_name(&mailbox), false, store)
            }
            CommandBody::Examine { mailbox, .. } => {
                self.select(tag, &mailbox_name(&mailbox), true, store)
            }
            CommandBody::Create { mailbox } => {
                let name = mailbox_name(&mailbox);
                let name = name.trim_end_matches('.');
                match store.create(name) {
                    Ok(()) => self.tagged(tag, "OK", "CREATE completed"),
                    Err(e) => self.tagged(tag, "NO", &store_no(&e)),
                }
            }
            CommandBody::Delete { mailbox } => match store.delete(&mailbox_name(&mailbox)) {
                Ok(()) => self.tagged(tag, "OK", "DELETE completed"),
                Err(e) => self.tagged(tag, "NO", &store_no(&e)),
            },
            CommandBody::Rename { from, to } => {
                match store.rename(&mailbox_name(&from), &mailbox_name(&to)) {
                    Ok(()) => self.tagged(tag, "OK", "RENAME completed"),
                    Err(e) => self.tagged(tag, "NO", &store_no(&e)),
                }
            }
            CommandBody::Subscribe { .. } | CommandBody::Unsubscribe { .. } => {
                self.tagged(tag, "OK", "subscriptions follow the folder list")
            }
            CommandBody::List {
                reference,
                mailbox_wildcard,
            } => self.list(tag, "LIST", &reference, &mailbox_wildcard, store),
            CommandBody::Lsub {
                reference,
                mailbox_wildcard,
            } => self.list(tag, "LSUB", &reference, &mailbox_wildcard, store),
            CommandBody::Status {
                mailbox,
                item_names,
            } => {
                let name = mailbox_name(&mailbox);
                match store.view(&name, false) {
                    Ok(view) => {
                        let mut items = Vec::new();
                        for item in item_names.iter() {
                            let (label, value) = match item {
                                StatusDataItemName::Messages => {
                                    ("MESSAGES", view.messages.len() as u64)
                                }
                                StatusDataItemName::Recent => (
                                    "RECENT",
                                    view.messages.iter().filter(|m| m.recent).count() as u64,
                                ),
                                StatusDataItemName::UidNext => {
                                    ("UIDNEXT", u64::from(view.uid_next))
                                }
                                StatusDataItemName::UidValidity => {
                                    ("UIDVALIDITY", u64::from(view.uid_validity))
                                }
                                StatusDataItemName::Unseen => (
                                    "UNSEEN",
                                    view.messages
                                        .iter()
                                        .filter(|m| !m.flags.contains(Flags::SEEN))
                                        .count() as u64,
                                ),
                                _ => continue,
                            };
                            items.push(format!("{label} {value}"));
                        }
                        let mut line = b"* STATUS ".to_vec();
                        wire::mailbox(&mut line, &name);
                        line.extend_from_slice(format!(" ({})\r\n", items.join(" ")).as_bytes());
                        self.transmit(&line);
                        self.tagged(tag, "OK", "STATUS completed");
                    }
                    Err(e) => self.tagged(tag, "NO", &store_no(&e)),
                }
            }
            CommandBody::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                let when = date.map(|d| d.as_ref().timestamp());
                let result = match self.appending.take() {
                    // The message went to the store as it arrived.
                    Some(app) if app.tag == tag => match app.failed {
                        Some(e) => {
                            store.append_abort();
                            Err(e)
                        }
                        None => store.append_finish(flags_of(&flags), when),
                    },
                    other => {
                        if other.is_some() {
                            store.append_abort();
                        }
                        let bytes: &[u8] = match &message {
                            LiteralOrLiteral8::Literal(l) => l.data(),
                            LiteralOrLiteral8::Literal8(l) => l.data.as_ref(),
                        };
                        store
                            .append_begin(&mailbox_name(&mailbox), bytes.len() as u64)
                            .and_then(|()| store.append_data(bytes))
                            .and_then(|()| store.append_finish(flags_of(&flags), when))
                            .inspect_err(|_| store.append_abort())
                    }
                };
                match result {
                    Ok((validity, uid)) => {
                        if self.selected.is_some() {
                            self.refresh(store, false);
                        }
                        self.tagged(
                            tag,
                            "OK",
                            &format!("[APPENDUID {validity} {uid}] APPEND completed"),
                        );
                    }
                    Err(e) => self.tagged(tag, "NO", &append_no(&e)),
                }
            }
            body => {
                if self.selected.is_none() {
                    return self.bad(tag, "no mailbox selected");
                }
                self.selected_command(tag, body, store);
            }
        }
    }

    fn select(&mut self, tag: &str, name: &str, read_only: bool, store: &mut dyn Mailstore) {
        self.selected = None;
        let view = match store.view(name, !read_only) {
            Ok(v) => v,
            Err(e) => return self.tagged(tag, "NO", &store_no(&e)),
        };
        let exists = view.messages.len();
        let recent = view.messages.iter().filter(|m| m.recent).count();
        let unseen = view
            .messages
            .iter()
            .position(|m| !m.flags.contains(Flags::SEEN));
        let mut out = String::new();
        out.push_str("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n");
        out.push_str(
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)] Limited\r\n",
        );
        out.push_str(&format!("* {exists} EXISTS\r\n* {recent} RECENT\r\n"));
        if let Some(i) = unseen {
            out.push_str(&format!("* OK [UNSEEN {}] First unseen\r\n", i + 1));
        }
        out.push_str(&format!(
            "* OK [UIDVALIDITY {}] UIDs valid\r\n",
            view.uid_validity
        ));
        out.push_str(&format!(
            "* OK [UIDNEXT {}] Predicted next UID\r\n",
            view.uid_next
        ));
        self.transmit(out.as_bytes());
        self.selected = Some(Selected {
            name: name.to_owned(),
            read_only,
            uid_validity: view.uid_validity,
            uid_next: view.uid_next,
            messages: view.messages,
        });
        let (code, verb) = if read_only {
            ("READ-ONLY", "EXAMINE")
        } else {
            ("READ-WRITE", "SELECT")
        };
        self.tagged(tag, "OK", &format!("[{code}] {verb} completed"));
    }

    fn list(
        &mut self,
        tag: &str,
        verb: &str,
        reference: &Mailbox<'_>,
        wildcard: &ListMailbox<'_>,
        store: &mut dyn Mailstore,
    ) {
        let pattern: Vec<u8> = match wildcard {
            ListMailbox::Token(t) => t.as_ref().to_vec(),
            ListMailbox::String(s) => s.as_ref().to_vec(),
        };
        let reference = match reference {
            Mailbox::Inbox => "INBOX".to_owned(),
            Mailbox::Other(_) => mailbox_name(reference),
        };
        if pattern.is_empty() {
            self.transmit(format!("* {verb} (\\Noselect) \".\" \"\"\r\n").as_bytes());
            return self.tagged(tag, "OK", &format!("{verb} completed"));
        }
        let mut full = reference.into_bytes();
        full.extend_from_slice(&pattern);
        let folders = match store.folders() {
            Ok(f) => f,
            Err(e) => return self.tagged(tag, "NO", &store_no(&e)),
        };
        let mut out = Vec::new();
        for name in &folders {
            let matches = if name == "INBOX" {
                glob(&full.to_ascii_uppercase(), b"INBOX")
            } else {
                glob(&full, name.as_bytes())
            };
            if matches {
                let prefix = format!("{name}.");
                let children = folders.iter().any(|f| f.starts_with(&prefix));
                let attr = if children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                };
                out.extend_from_slice(format!("* {verb} ({attr}) \".\" ").as_bytes());
                wire::mailbox(&mut out, name);
                out.extend_from_slice(b"\r\n");
            }
        }
        self.transmit(&out);
        self.tagged(tag, "OK", &format!("{verb} completed"));
    }

    fn selected_command(&mut self, tag: &str, body: CommandBody<'_>, store: &mut dyn Mailstore) {
        match body {
            CommandBody::Close | CommandBody::Unselect => {
                let close = matches!(body, CommandBody::Close);
                if let Some(sel) = self.selected.take() {
                    if close && !sel.read_only {
                        let uids: Vec<u32> = sel
                            .messages
                            .iter()
                            .filter(|m| m.flags.contains(Flags::DELETED))
                            .map(|m| m.uid)
                            .collect();
                        if let Err(e) = store.expunge(&sel.name, &uids) {
                            return self.tagged(tag, "NO", &store_no(&e));
                        }
                    }
                }
                self.tagged(tag, "OK", "CLOSE completed");
            }
            CommandBody::Expunge => self.expunge(tag, None, store),
            CommandBody::ExpungeUid { sequence_set } => {
                self.expunge(tag, Some(sequence_set), store)
            }
            CommandBody::Search { criteria, uid, .. } => {
                let hits = self.search_with(&criteria, store, uid);
                let list: Vec<String> = hits.iter().map(u32::to_string).collect();
                let line = if list.is_empty() {
                    "* SEARCH\r\n".to_owned()
                } else {
                    format!("* SEARCH {}\r\n", list.join(" "))
                };
                self.transmit(line.as_bytes());
                self.tagged(tag, "OK", "SEARCH completed");
            }
            CommandBody::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
                ..
            } => {
                let items = match macro_or_item_names {
                    MacroOrMessageDataItemNames::Macro(m) => {
                        use imap_codec::imap_types::fetch::Macro;
                        let mut v = vec![
                            MessageDataItemName::Flags,
                            MessageDataItemName::InternalDate,
                            MessageDataItemName::Rfc822Size,
                        ];
                        match m {
                            Macro::All => v.push(MessageDataItemName::Envelope),
                            Macro::Full => {
                                v.extend([MessageDataItemName::Envelope, MessageDataItemName::Body])
                            }
                            _ => {}
                        }
                        v
                    }
                    MacroOrMessageDataItemNames::MessageDataItemNames(v) => v,
                };
                use bounded_static::IntoBoundedStatic;
                let Some(sel) = &self.selected else { return };
                let left = self
                    .resolve(&sequence_set, uid)
                    .into_iter()
                    .map(|i| sel.messages[i].uid)
                    .collect();
                self.fetch_job = Some(FetchJob::new(tag, items.into_static(), uid, left));
                self.continue_fetch(store);
            }
            CommandBody::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
                ..
            } => {
                if self.selected.as_ref().is_some_and(|s| s.read_only) {
                    return self.tagged(tag, "NO", "mailbox is read-only");
                }
                let change = flags_of(&flags);
                for i in self.resolve(&sequence_set, uid) {
                    let Some(sel) = self.selected.as_mut() else {
                        return;
                    };
                    let m = &mut sel.messages[i];
                    let new = match kind {
                        StoreType::Replace => change,
                        StoreType::Add => m.flags.union(change),
                        StoreType::Remove => m.flags.without(change),
                    };
                    if new != m.flags {
                        if let Err(e) = store.set_flags(&sel.name, m.uid, new) {
                            if e != StoreError::NoSuchMessage {
                                return self.tagged(tag, "NO", &store_no(&e));
                            }
                            continue;
                        }
                        m.flags = new;
                    }
                    if response == StoreResponse::Answer {
                        let uid_part = if uid {
                            format!(" UID {}", m.uid)
                        } else {
                            String::new()
                        };
                        let line = format!(
                            "* {} FETCH (FLAGS {}{uid_part})\r\n",
                            i + 1,
                            flag_list(m.flags, m.recent)
                        );
                        self.transmit(line.as_bytes());
                    }
                }
                self.tagged(tag, "OK", "STORE completed");
            }
            CommandBody::Copy {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(tag, &sequence_set, &mailbox, uid, false, store),
            CommandBody::Move {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(tag, &sequence_set, &mailbox, uid, true, store),
            _ => self.bad(tag, "command not supported"),
        }
    }

    fn expunge(&mut self, tag: &str, only: Option<SequenceSet>, store: &mut dyn Mailstore) {
        let Some(sel) = &self.selected else { return };
        if sel.read_only {
            return self.tagged(tag, "NO", "mailbox is read-only");
        }
        let largest = sel.messages.last().map(|m| m.uid).unwrap_or(0);
        let only = only.map(|set| Ranges::new(&set, largest));
        let uids: Vec<u32> = sel
            .messages
            .iter()
            .filter(|m| m.flags.contains(Flags::DELETED))
            .filter(|m| only.as_ref().is_none_or(|r| r.contains(m.uid)))
            .map(|m| m.uid)
            .collect();
        if let Err(e) = store.expunge(&sel.name, &uids) {
            return self.tagged(tag, "NO", &store_no(&e));
        }
        self.refresh(store, true);
        self.tagged(tag, "OK", "EXPUNGE completed");
    }

    fn copy(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        mailbox: &Mailbox<'_>,
        uid: bool,
        is_move: bool,
        store: &mut dyn Mailstore,
    ) {
        let Some(sel) = &self.selected else { return };
        if is_move && sel.read_only {
            return self.tagged(tag, "NO", "mailbox is read-only");
        }
        let uids: Vec<u32> = self
            .resolve(set, uid)
            .into_iter()
            .map(|i| sel.messages[i].uid)
            .collect();
        let target = mailbox_name(mailbox);
        let name = sel.name.clone();
        let copied = match store.copy(&name, &uids, &target) {
            Ok(c) => c,
            Err(StoreError::NoSuchFolder) => {
                return self.tagged(tag, "NO", "[TRYCREATE] no such mailbox")
            }
            Err(e) => return self.tagged(tag, "NO", &store_no(&e)),
        };
        let (src, dst): (Vec<u32>, Vec<u32>) = copied.uids.iter().copied().unzip();
        let code = if src.is_empty() {
            String::new()
        } else {
            format!(
                "[COPYUID {} {} {}] ",
                copied.uid_validity,
                uid_set(&src),
                uid_set(&dst)
            )
        };
        if is_move {
            if let Err(e) = store.expunge(&name, &src) {
                return self.tagged(tag, "NO", &store_no(&e));
            }
            if !code.is_empty() {
                self.transmit(format!("* OK {code}moved\r\n").as_bytes());
            }
            self.refresh(store, true);
            self.tagged(tag, "OK", "MOVE completed");
        } else {
            if target == name {
                self.refresh(store, false);
            }
            self.tagged(tag, "OK", &format!("{code}COPY completed"));
        }
    }
}
