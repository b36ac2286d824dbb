//! Mail transactions: MAIL and RCPT checks, DATA and BDAT content streamed
//! out as it arrives, the size limit, and refused content dropped within a
//! bound.

use super::{replies, CloseReason, Mode, Pending, ServerEvent, ServerSession};
use crate::data::{BdatChunk, DotUnstuffer};
use crate::types::{ForwardPath, MailParams, RcptParams, Reply, ReversePath};
use std::sync::Arc;

/// The transaction in progress.
#[derive(Debug)]
pub(super) struct Transaction {
    pub(super) params: MailParams,
    pub(super) recipients: Vec<ForwardPath>,
    /// Content octets delivered so far (BDAT).
    size: u64,
    /// BDAT carries the content.
    pub(super) bdat: bool,
    /// A BDAT chunk was refused: every further one is, until RSET.
    bdat_failed: bool,
}

impl Transaction {
    pub(super) fn new(params: MailParams) -> Transaction {
        Transaction {
            params,
            recipients: Vec::new(),
            size: 0,
            bdat: false,
            bdat_failed: false,
        }
    }
}

impl ServerSession {
    pub(super) fn on_mail(&mut self, from: ReversePath, params: MailParams) {
        let c = Arc::clone(&self.config);
        let refusal = if self.helo.is_none() {
            Some(replies::bad_sequence("Send HELO/EHLO first"))
        } else if self.tx.is_some() {
            Some(replies::bad_sequence("Nested MAIL command"))
        } else if c.require_tls && self.tls.is_none() {
            Some(replies::tls_required())
        } else if c.require_auth && self.authenticated.is_none() {
            Some(replies::auth_required())
        } else if params
            .size
            .is_some_and(|s| c.max_message_size.is_some_and(|m| s > m))
        {
            Some(replies::message_too_big())
        } else {
            self.unsupported_mail_param(&params)
        };
        match refusal {
            Some(reply) => self.error(&reply),
            None => self.decide(
                Pending::Mail(params.clone()),
                ServerEvent::MailFrom { from, params },
            ),
        }
    }

    fn unsupported_mail_param(&self, p: &MailParams) -> Option<Reply> {
        let c = &self.config;
        let unsupported = |what: &str| {
            Some(replies::reply(
                555,
                (5, 5, 4),
                &format!("{what} not supported"),
            ))
        };
        if !self.extended && (p != &MailParams::default()) {
            return unsupported("MAIL parameters after HELO are");
        }
        if p.smtputf8 && !c.smtputf8 {
            return unsupported("SMTPUTF8 is");
        }
        if p.body == Some(crate::Body::BinaryMime) && !c.chunking {
            return unsupported("BINARYMIME is");
        }
        if p.body == Some(crate::Body::EightBitMime) && !c.eight_bit_mime {
            return unsupported("8BITMIME is");
        }
        if (p.ret.is_some() || p.envid.is_some()) && !c.dsn {
            return unsupported("DSN is");
        }
        if p.requiretls {
            return unsupported("REQUIRETLS is");
        }
        if let Some(other) = p.other.first() {
            let keyword = super::printable(other.keyword());
            return unsupported(&format!("Parameter {keyword} is"));
        }
        None
    }

    pub(super) fn on_rcpt(&mut self, to: ForwardPath, params: RcptParams) {
        let Some(tx) = &self.tx else {
            return self.error(&replies::bad_sequence("Need MAIL command"));
        };
        if tx.bdat {
            return self.error(&replies::bad_sequence("RCPT after BDAT"));
        }
        if to.mailbox().is_some_and(|m| !m.is_ascii()) && !tx.params.smtputf8 {
            return self.error(&crate::ParseError::Utf8NotAllowed.reply());
        }
        if tx.recipients.len() >= self.config.max_recipients {
            return self.send(&replies::too_many_recipients());
        }
        if (params.notify.is_some() || params.orcpt.is_some()) && !self.config.dsn {
            return self.error(&replies::reply(555, (5, 5, 4), "DSN is not supported"));
        }
        if let Some(other) = params.other.first() {
            let keyword = super::printable(other.keyword());
            let text = format!("Parameter {keyword} is not supported");
            return self.error(&replies::reply(555, (5, 5, 4), &text));
        }
        self.decide(
            Pending::Rcpt(to.clone()),
            ServerEvent::RcptTo { to, params },
        );
    }

    pub(super) fn on_data(&mut self) {
        let Some(tx) = &self.tx else {
            return self.error(&replies::bad_sequence("Need MAIL command"));
        };
        if tx.bdat {
            return self.error(&replies::bad_sequence("DATA after BDAT"));
        }
        if tx.recipients.is_empty() {
            return self.error(&replies::no_valid_recipients());
        }
        if tx.params.body == Some(crate::Body::BinaryMime) {
            return self.error(&replies::bad_sequence("BINARYMIME needs BDAT"));
        }
        self.decide(Pending::DataStart, ServerEvent::DataStart);
    }

    /// The application accepted DATA: what was pipelined behind it is
    /// message content.
    pub(super) fn start_data(&mut self) {
        self.mode = Mode::Data {
            unstuffer: DotUnstuffer::new(self.config.data),
            too_big: false,
            discarded: 0,
        };
        self.timers.set_body(true, self.now);
        self.take_buffered_body();
    }

    /// A BDAT command. Its chunk is refused at once, from its declared size
    /// or the transaction's state, so the client never waits (and the
    /// session never reads) for content it will drop; a refused chunk's
    /// octets are then dropped as they arrive, up to `max_discard`.
    pub(super) fn on_bdat(&mut self, size: u64, last: bool) {
        let max = self.config.max_message_size;
        let refusal = match &mut self.tx {
            None => Some(replies::bad_sequence("Need MAIL command")),
            Some(_) if !self.config.chunking => {
                Some(replies::reply(502, (5, 5, 1), "BDAT not supported"))
            }
            Some(tx) if tx.bdat_failed => {
                Some(replies::bad_sequence("An earlier BDAT failed; send RSET"))
            }
            Some(tx) if tx.recipients.is_empty() => Some(replies::no_valid_recipients()),
            Some(tx) => {
                tx.bdat = true;
                max.filter(|&m| tx.size.saturating_add(size) > m)
                    .map(|_| replies::message_too_big())
            }
        };
        let discard = refusal.is_some();
        if let Some(reply) = refusal {
            self.bdat_failed(reply);
            if self.is_closed() {
                return;
            }
            if size > self.config.max_discard {
                // The client will send every octet; reading them all to stay
                // in step is not worth it. It read the refusal; now close.
                self.reset_transaction();
                let reply = replies::discard_limit(&self.hostname);
                return self.close_with(&reply, CloseReason::DiscardLimit);
            }
        }
        self.mode = Mode::Bdat {
            chunk: BdatChunk::new(size, last),
            discard,
        };
        self.timers.set_body(true, self.now);
        self.take_buffered_body();
    }

    /// Input buffered as lines belongs to the body that just started.
    fn take_buffered_body(&mut self) {
        let buffered = self.lines.take_buffered();
        let consumed = buffered.len() - self.feed_body(&buffered).len();
        self.lines
            .push_uncapped(buffered.get(consumed..).unwrap_or_default());
    }

    /// Feeds message content in DATA or BDAT mode; returns what follows it.
    pub(super) fn feed_body<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        match self.mode {
            Mode::Data { .. } => self.feed_data(bytes),
            Mode::Bdat { .. } => self.feed_bdat(bytes),
            _ => bytes,
        }
    }

    fn feed_data<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let max = self.config.max_message_size;
        let max_discard = self.config.max_discard;
        let mut rest = bytes;
        while !rest.is_empty() {
            // One event per piece at most (two if bare line endings are
            // converted): content leaves as it arrives, in bounded pieces.
            let piece = rest.get(..Self::MAX_BODY_CHUNK).unwrap_or(rest);
            let Mode::Data {
                unstuffer,
                too_big,
                discarded,
            } = &mut self.mode
            else {
                break;
            };
            let mut chunk = Vec::with_capacity(piece.len());
            let progress = unstuffer.feed(piece, &mut chunk);
            let consumed = progress.consumed.min(piece.len());
            let size = unstuffer.content_len();
            if max.is_some_and(|m| size > m) {
                *too_big = true;
            }
            let violation = unstuffer.violation();
            let refused = *too_big || violation.is_some();
            if refused {
                *discarded = discarded.saturating_add(consumed as u64);
            }
            let over_discard = refused && *discarded > max_discard;
            let too_big = *too_big;
            rest = rest.get(consumed..).unwrap_or_default();
            self.timers.body_progress(consumed);
            if !refused {
                self.emit_body(chunk);
            }
            if progress.done || over_discard {
                self.mode = Mode::Commands;
                let refusal = match violation {
                    Some(v) => Some(v.reply()),
                    None if too_big => Some(replies::message_too_big()),
                    None => None,
                };
                self.end_of_message(size, refusal);
                if !progress.done {
                    // The terminating dot may be gigabytes away: refuse now.
                    let reply = replies::discard_limit(&self.hostname);
                    self.close_with(&reply, CloseReason::DiscardLimit);
                    return &[];
                }
                break;
            }
            if consumed == 0 {
                break;
            }
        }
        rest
    }

    fn feed_bdat<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let Mode::Bdat { chunk, discard } = &mut self.mode else {
            return bytes;
        };
        let data = chunk.take(bytes);
        let complete = chunk.is_complete();
        let last = chunk.is_last();
        let discard = *discard;
        self.timers.body_progress(data.len());
        if !discard {
            if let Some(tx) = &mut self.tx {
                tx.size = tx.size.saturating_add(data.len() as u64);
            }
            for piece in data.chunks(Self::MAX_BODY_CHUNK) {
                self.outbox.event(ServerEvent::BodyChunk(piece.to_vec()));
            }
        }
        if complete {
            self.mode = Mode::Commands;
            if !discard {
                let size = self.tx.as_ref().map_or(0, |t| t.size);
                if last {
                    self.end_of_message(size, None);
                } else {
                    let text = format!("{size} octets received");
                    self.send(&replies::ok((2, 0, 0), &text));
                }
            }
        }
        bytes.get(data.len()..).unwrap_or_default()
    }

    /// Hands un-stuffed content to the application in bounded pieces.
    fn emit_body(&mut self, chunk: Vec<u8>) {
        if chunk.len() <= Self::MAX_BODY_CHUNK {
            if !chunk.is_empty() {
                self.outbox.event(ServerEvent::BodyChunk(chunk));
            }
            return;
        }
        for piece in chunk.chunks(Self::MAX_BODY_CHUNK) {
            self.outbox.event(ServerEvent::BodyChunk(piece.to_vec()));
        }
    }

    fn bdat_failed(&mut self, reply: Reply) {
        match &mut self.tx {
            Some(tx) if !tx.bdat_failed && tx.bdat => {
                tx.bdat_failed = true;
                self.outbox.event(ServerEvent::MessageAborted {
                    reply: reply.clone(),
                });
            }
            Some(tx) => tx.bdat_failed = true,
            None => {}
        }
        self.error(&reply);
    }

    fn end_of_message(&mut self, size: u64, refusal: Option<Reply>) {
        match refusal {
            Some(reply) => {
                self.send(&reply);
                self.tx = None;
                self.outbox.event(ServerEvent::MessageAborted { reply });
            }
            None => self.decide(Pending::MessageEnd, ServerEvent::MessageEnd { size }),
        }
    }
}
