//! What a POP3 server does with Maildirs, whatever drives its sessions
//! (this crate's threads, or the async server of `session-futures`): the
//! exclusive lock RFC 1939 §8 asks for, the listing a login answers with,
//! and the answers to what goes wrong on disk. Every call may block on the
//! file system.

use maildrop::Maildrop;
use pop3_proto::{Deletion, MessageInfo, Response, ResponseCode, Uid};
use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The maildrops in use by some session of one server: a second login to
/// one of them is refused with `-ERR [IN-USE]`.
#[derive(Debug, Clone, Default)]
pub struct Maildrops {
    locked: Arc<Mutex<HashSet<PathBuf>>>,
}

impl Maildrops {
    /// No maildrop in use.
    pub fn new() -> Maildrops {
        Maildrops::default()
    }

    /// Locks and scans the maildrop at `root`: the held maildrop and the
    /// listing for `Pop3Session::accept_login`, or the refusal for
    /// `reject_login_with` (`[IN-USE]`, `[SYS/TEMP]`).
    pub fn open(&self, root: PathBuf) -> Result<(HeldMaildrop, Vec<MessageInfo>), Response> {
        {
            let Ok(mut locked) = self.locked.lock() else {
                return Err(
                    Response::err("lock table unavailable").with_code(ResponseCode::SysTemp)
                );
            };
            if !locked.insert(root.clone()) {
                return Err(Response::err("maildrop already in use").with_code(ResponseCode::InUse));
            }
        }
        // From here on, dropping `held` releases the lock.
        let mut held = HeldMaildrop {
            maildrops: self.clone(),
            root,
            maildrop: None,
        };
        let maildrop = Maildrop::scan(&held.root).map_err(|_| {
            Response::err("cannot read the maildrop").with_code(ResponseCode::SysTemp)
        })?;
        let listing = maildrop
            .messages()
            .iter()
            .filter_map(|m| {
                Some(MessageInfo {
                    size: m.size(),
                    uid: Uid::new(m.uid()).ok()?,
                })
            })
            .collect();
        held.maildrop = Some(maildrop);
        Ok((held, listing))
    }

    fn release(&self, root: &PathBuf) {
        if let Ok(mut locked) = self.locked.lock() {
            locked.remove(root);
        }
    }
}

/// A locked maildrop, released when dropped.
#[derive(Debug)]
pub struct HeldMaildrop {
    maildrops: Maildrops,
    root: PathBuf,
    /// Always `Some` once [`Maildrops::open`] returned it.
    maildrop: Option<Maildrop>,
}

impl HeldMaildrop {
    /// Opens message `index` for reading, or the response that refuses it
    /// (`Pop3Session::fail_message`).
    pub fn open_message(&self, index: usize) -> Result<File, Response> {
        let opened = match &self.maildrop {
            Some(maildrop) => maildrop.open(index),
            None => Err(io::ErrorKind::NotFound.into()),
        };
        opened.map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Response::err("message was removed")
            } else {
                Response::err("cannot read the message").with_code(ResponseCode::SysTemp)
            }
        })
    }

    /// Deletes the messages marked at QUIT (the UPDATE state): true when
    /// they are gone.
    pub fn delete(&self, deletions: &[Deletion]) -> bool {
        let indexes: Vec<usize> = deletions.iter().map(|d| d.index).collect();
        match &self.maildrop {
            Some(maildrop) => maildrop.delete(&indexes).is_ok(),
            None => indexes.is_empty(),
        }
    }
}

impl Drop for HeldMaildrop {
    fn drop(&mut self) {
        self.maildrops.release(&self.root);
    }
}

/// The answer to a login refused because of earlier failures (for this
/// user or from this address), the password unchecked.
pub fn limited() -> Response {
    Response::err("too many failed logins, try again later").with_code(ResponseCode::Auth)
}

/// What a login came to once the maildrop was looked at: computed (with
/// file system work) by [`Maildrops::login`], told to the session by
/// [`LoginOutcome::answer`].
#[derive(Debug)]
pub enum LoginOutcome {
    /// The maildrop is locked and listed.
    Accept(HeldMaildrop, Vec<MessageInfo>),
    /// Wrong credentials: the session's delayed, counted refusal.
    Reject,
    /// Refused with this response (limited, in use, unreadable).
    RejectWith(Response),
}

impl Maildrops {
    /// Carries out what the authenticator said: locks and lists the
    /// maildrop of a granted login. May block on the file system.
    pub fn login(&self, login: session_server::Login) -> LoginOutcome {
        match login {
            session_server::Login::Granted(root) => match self.open(root) {
                Ok((held, listing)) => LoginOutcome::Accept(held, listing),
                Err(response) => LoginOutcome::RejectWith(response),
            },
            session_server::Login::Limited => LoginOutcome::RejectWith(limited()),
            _ => LoginOutcome::Reject,
        }
    }
}

impl LoginOutcome {
    /// Answers the session's pending login: the held maildrop when it was
    /// accepted.
    pub fn answer(
        self,
        session: &mut pop3_proto::Pop3Session,
    ) -> Result<Option<HeldMaildrop>, pop3_proto::UsageError> {
        match self {
            LoginOutcome::Accept(held, listing) => {
                session.accept_login(listing)?;
                Ok(Some(held))
            }
            LoginOutcome::Reject => session.reject_login().map(|()| None),
            LoginOutcome::RejectWith(response) => {
                session.reject_login_with(response).map(|()| None)
            }
        }
    }
}

/// The UPDATE state (QUIT after a login): deletes the messages marked,
/// then releases the maildrop; true when they are gone. May block on the
/// file system.
pub fn update(held: Option<HeldMaildrop>, deletions: &[Deletion]) -> bool {
    match held {
        Some(held) => held.delete(deletions),
        None => deletions.is_empty(),
    }
}

/// Tells the session how [`update`] went.
pub fn answer_update(
    session: &mut pop3_proto::Pop3Session,
    removed: bool,
) -> Result<(), pop3_proto::UsageError> {
    if removed {
        session.accept_update()
    } else {
        session.reject_update()
    }
}
