//! Mail transactions: MAIL parameters from what the message needs and the
//! server offers, RFC 2920 grouping, DATA or BDAT, and the report.

use super::envelope::queue_id;
use super::{
    ClientError, ClientEvent, ClientSession, DeliveryReport, Envelope, Phase, RecipientStatus,
};
use crate::data::{write_bdat, DotStuffer};
use crate::types::{Body, Command, MailParams, RcptParams, Reply, ReplyCode};

/// An envelope checked by `send`, waiting for the session to be free.
#[derive(Debug)]
pub(super) struct Pending {
    envelope: Envelope,
    params: MailParams,
    bdat: Option<Bdat>,
}

/// How the body goes: with DATA (dot-stuffed) or BDAT chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bdat {
    /// BINARYMIME: chunks go as given, line endings untouched.
    binary: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// MAIL / RCPT / DATA replies outstanding.
    Envelope,
    /// `SendBody` was emitted; the application sends chunks.
    Body,
    /// The end of data was sent.
    Ended,
}

/// A transaction in flight.
#[derive(Debug)]
pub(super) struct Transaction {
    envelope: Envelope,
    statuses: Vec<RecipientStatus>,
    rcpt_sent: usize,
    rcpt_replies: usize,
    mail_reply: Option<Reply>,
    final_reply: Option<Reply>,
    failed: bool,
    pipelined: bool,
    bdat: Option<Bdat>,
    step: Step,
    stuffer: DotStuffer,
    /// BDAT without PIPELINING: the body waits here and goes as one chunk,
    /// since each BDAT would otherwise need its reply before the next. With
    /// PIPELINING: the newest chunk, which goes out when the next arrives
    /// or, with LAST, at the end.
    held: Vec<u8>,
    /// BDAT without BINARYMIME: the last chunk ended with CR.
    pending_cr: bool,
}

impl Transaction {
    pub(super) fn in_body(&self) -> bool {
        self.step == Step::Body
    }

    fn any_accepted(&self) -> bool {
        self.statuses
            .iter()
            .any(|s| matches!(s, RecipientStatus::Accepted(_)))
    }

    fn report(self) -> DeliveryReport {
        let queue_id = match &self.final_reply {
            Some(reply) if reply.is_positive() && !self.failed => queue_id(reply),
            _ => None,
        };
        DeliveryReport {
            recipients: self
                .envelope
                .recipients
                .into_iter()
                .map(|r| r.path)
                .zip(self.statuses)
                .collect(),
            mail_reply: self.mail_reply,
            final_reply: self.final_reply,
            queue_id,
        }
    }

    /// Turns bare CR and bare LF into CRLF, across chunk boundaries.
    fn normalise(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() + 8);
        let mut rest = chunk;
        if self.pending_cr && !rest.is_empty() {
            // The previous chunk ended with CR: it becomes CRLF either way.
            out.push(b'\n');
            self.pending_cr = false;
            if rest.first() == Some(&b'\n') {
                rest = rest.get(1..).unwrap_or_default();
            }
        }
        // Copy runs between line-ending octets at once; only CR and LF are
        // looked at one by one.
        while let Some(i) = memchr::memchr2(b'\r', b'\n', rest) {
            out.extend_from_slice(rest.get(..i).unwrap_or_default());
            let (is_cr, next) = (rest.get(i) == Some(&b'\r'), rest.get(i + 1));
            out.extend_from_slice(b"\r\n");
            rest = match (is_cr, next) {
                (true, Some(b'\n')) => rest.get(i + 2..),
                (true, None) => {
                    // A CR at the end waits for the next chunk to decide.
                    out.pop();
                    self.pending_cr = true;
                    Some(&[][..])
                }
                _ => rest.get(i + 1..),
            }
            .unwrap_or_default();
        }
        out.extend_from_slice(rest);
        out
    }
}

impl ClientSession {
    /// Starts a transaction, or queues it until the one before is done.
    ///
    /// Checks first, so nothing is sent for a message the server cannot take:
    /// an extension the message needs and the server does not offer is
    /// [`ClientError::ExtensionMissing`] (never a silent downgrade), and a
    /// size above the server's SIZE is [`ClientError::MessageTooBig`]. Then
    /// MAIL, every RCPT and DATA go in one write when the server offers
    /// PIPELINING, or one at a time otherwise.
    pub fn send(&mut self, envelope: Envelope) -> Result<(), ClientError> {
        if self.stage != super::Stage::Ready || self.quit_requested {
            return Err(ClientError::Usage(
                "send() needs a ready session: wait for ClientEvent::Ready, before quit()",
            ));
        }
        if envelope.recipients.is_empty() {
            return Err(ClientError::Usage(
                "an envelope needs at least one recipient",
            ));
        }
        let pending = self.check(envelope)?;
        self.queued.push_back(pending);
        self.pump();
        Ok(())
    }

    /// Sends a piece of the body after [`ClientEvent::SendBody`]: dot-stuffed
    /// with DATA, as a `BDAT` chunk (line endings made CRLF unless
    /// BINARYMIME) with CHUNKING.
    pub fn send_body(&mut self, chunk: &[u8]) -> Result<(), ClientError> {
        let Some(tx) = self.transactions.back_mut().filter(|t| t.in_body()) else {
            return Err(ClientError::Usage("no message body is expected now"));
        };
        match tx.bdat {
            None => self
                .outbox
                .transmit_with(|out| tx.stuffer.stuff(chunk, out)),
            Some(bdat) => {
                let bytes = if bdat.binary {
                    chunk.to_vec()
                } else {
                    tx.normalise(chunk)
                };
                if !tx.pipelined {
                    tx.held.extend_from_slice(&bytes);
                } else if !bytes.is_empty() {
                    // The newest chunk waits for the next one or the end,
                    // so the last goes out as `BDAT n LAST` (one reply,
                    // not two) and at most one chunk is held.
                    let previous = std::mem::replace(&mut tx.held, bytes);
                    if !previous.is_empty() {
                        self.outbox
                            .transmit_with(|out| write_bdat(&previous, false, out));
                        self.expect_reply(Phase::Body);
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the body: `.` CRLF after DATA, `BDAT n LAST` with CHUNKING.
    pub fn end_body(&mut self) -> Result<(), ClientError> {
        let Some(tx) = self.transactions.back_mut().filter(|t| t.in_body()) else {
            return Err(ClientError::Usage("no message body is expected now"));
        };
        tx.step = Step::Ended;
        match tx.bdat {
            None => self.outbox.transmit_with(|out| tx.stuffer.finish(out)),
            Some(_) => {
                let mut last = std::mem::take(&mut tx.held);
                if tx.pending_cr {
                    last.push(b'\n');
                    tx.pending_cr = false;
                }
                self.outbox
                    .transmit_with(|out| write_bdat(&last, true, out));
            }
        }
        self.expect_reply(Phase::EndOfData);
        self.pump();
        Ok(())
    }

    /// Picks the MAIL parameters and the body method, or refuses.
    fn check(&self, envelope: Envelope) -> Result<Pending, ClientError> {
        let Some(caps) = self.capabilities.as_ref() else {
            return Err(ClientError::Usage("no capabilities yet"));
        };
        let mut params = MailParams::default();
        if envelope.needs_smtputf8() {
            if !caps.smtputf8() {
                return Err(ClientError::ExtensionMissing("SMTPUTF8"));
            }
            params.smtputf8 = true;
        }
        let chunking = self.config.use_chunking && caps.chunking();
        // Without PIPELINING each BDAT waits for its reply, so the body would
        // have to be held whole; DATA streams it. BINARYMIME needs BDAT anyway.
        let mut bdat = (chunking && self.pipelining()).then_some(Bdat { binary: false });
        match envelope.body {
            Body::SevenBit => {}
            Body::EightBitMime => {
                if !caps.eight_bit_mime() {
                    return Err(ClientError::ExtensionMissing("8BITMIME"));
                }
                params.body = Some(Body::EightBitMime);
            }
            Body::BinaryMime => {
                if !caps.binary_mime() {
                    return Err(ClientError::ExtensionMissing("BINARYMIME"));
                }
                if !chunking {
                    return Err(ClientError::ExtensionMissing("CHUNKING"));
                }
                params.body = Some(Body::BinaryMime);
                bdat = Some(Bdat { binary: true });
            }
        }
        if envelope.needs_dsn() {
            if !caps.dsn() {
                return Err(ClientError::ExtensionMissing("DSN"));
            }
            params.ret = envelope.dsn_ret;
            // An empty ENVID cannot be sent (`ENVID=` needs a value): none is.
            params.envid = envelope
                .dsn_envid
                .as_deref()
                .and_then(|e| crate::XtextValue::new(e).ok());
        }
        if envelope.requiretls {
            if !caps.requiretls() || !self.tls_active {
                return Err(ClientError::ExtensionMissing("REQUIRETLS"));
            }
            params.requiretls = true;
        }
        if let Some(size) = envelope.size {
            if let Some(limit) = caps.max_size().filter(|&l| l > 0) {
                if size > limit {
                    return Err(ClientError::MessageTooBig { size, limit });
                }
            }
            if caps.size_advertised() {
                params.size = Some(size);
            }
        }
        Ok(Pending {
            envelope,
            params,
            bdat,
        })
    }

    /// True when a new MAIL may go now: with PIPELINING behind transactions
    /// whose end of data is sent (RFC 2920 lets MAIL follow it in one
    /// group), otherwise only when nothing is in flight.
    pub(super) fn can_start_transaction(&self) -> bool {
        if self.pipelining() {
            self.transactions.iter().all(|t| t.step == Step::Ended)
                && self
                    .expect
                    .iter()
                    .all(|e| matches!(e, Phase::EndOfData | Phase::Body | Phase::Rset))
        } else {
            self.transactions.is_empty() && self.expect.is_empty()
        }
    }

    pub(super) fn start_transaction(&mut self, pending: Pending) {
        let Pending {
            envelope,
            params,
            bdat,
        } = pending;
        let pipelined = self.pipelining();
        let mail = Command::Mail {
            from: envelope.from.clone(),
            params,
        };
        self.send_command(&mail, Phase::Mail);
        let mut tx = Transaction {
            statuses: vec![RecipientStatus::NotTried; envelope.recipients.len()],
            envelope,
            rcpt_sent: 0,
            rcpt_replies: 0,
            mail_reply: None,
            final_reply: None,
            failed: false,
            pipelined,
            bdat,
            step: Step::Envelope,
            stuffer: DotStuffer::new(),
            held: Vec::new(),
            pending_cr: false,
        };
        if pipelined {
            while self.send_next_rcpt(&mut tx) {}
            if tx.bdat.is_none() {
                self.send_command(&Command::Data, Phase::Data);
            }
        }
        self.transactions.push_back(tx);
    }

    /// Sends the next RCPT; false when every one is sent.
    fn send_next_rcpt(&mut self, tx: &mut Transaction) -> bool {
        let Some(recipient) = tx.envelope.recipients.get(tx.rcpt_sent) else {
            return false;
        };
        let rcpt = Command::Rcpt {
            to: recipient.path.clone(),
            params: RcptParams {
                notify: recipient.notify,
                orcpt: recipient.orcpt.clone(),
                other: Vec::new(),
            },
        };
        tx.rcpt_sent += 1;
        self.send_command(&rcpt, Phase::Rcpt);
        true
    }

    pub(super) fn on_transaction_reply(&mut self, expect: Phase, reply: Reply) {
        // Replies come in order and a transaction's commands are only sent
        // after the previous one's end of data, so the oldest is answered.
        let Some(mut tx) = self.transactions.pop_front() else {
            self.fail(ClientError::Unsolicited(reply));
            return;
        };
        let concluded = match expect {
            Phase::Mail => self.on_mail(&mut tx, reply),
            Phase::Rcpt => self.on_rcpt(&mut tx, reply),
            Phase::Data => self.on_data(&mut tx, reply),
            Phase::Body => {
                if !reply.is_positive() && !tx.failed {
                    tx.failed = true;
                    tx.final_reply = Some(reply);
                }
                false
            }
            _ => {
                if !tx.failed {
                    tx.failed = !reply.is_positive();
                    tx.final_reply = Some(reply);
                } else if tx.final_reply.is_none() {
                    tx.final_reply = Some(reply);
                }
                true
            }
        };
        if concluded {
            self.conclude(tx);
        } else {
            self.transactions.push_front(tx);
        }
    }

    fn on_mail(&mut self, tx: &mut Transaction, reply: Reply) -> bool {
        let accepted = reply.is_positive();
        tx.mail_reply = Some(reply);
        if !accepted {
            tx.failed = true;
            // Pipelined RCPT and DATA replies are still to come.
            return !tx.pipelined;
        }
        if !tx.pipelined {
            self.send_next_rcpt(tx);
        }
        false
    }

    fn on_rcpt(&mut self, tx: &mut Transaction, reply: Reply) -> bool {
        let status = if reply.is_positive() {
            RecipientStatus::Accepted(reply)
        } else {
            RecipientStatus::Rejected(reply)
        };
        if let Some(slot) = tx.statuses.get_mut(tx.rcpt_replies) {
            *slot = status;
        }
        tx.rcpt_replies += 1;
        if tx.rcpt_replies < tx.envelope.recipients.len() {
            if !tx.pipelined {
                self.send_next_rcpt(tx);
            }
            return false;
        }
        if tx.failed || !tx.any_accepted() {
            tx.failed = true;
            // A pipelined DATA is in flight: its reply decides what follows.
            return !(tx.pipelined && tx.bdat.is_none());
        }
        match tx.bdat {
            Some(_) => {
                tx.step = Step::Body;
                self.outbox.event(ClientEvent::SendBody);
            }
            None if !tx.pipelined => self.send_command(&Command::Data, Phase::Data),
            None => {}
        }
        false
    }

    fn on_data(&mut self, tx: &mut Transaction, reply: Reply) -> bool {
        if reply.code() != ReplyCode::START_MAIL_INPUT {
            tx.failed = true;
            tx.final_reply = Some(reply);
            return true;
        }
        if tx.failed {
            // RFC 2920 §3.1: every recipient failed but DATA was accepted;
            // an empty message ends it.
            tx.step = Step::Ended;
            self.outbox.transmit_with(|out| tx.stuffer.finish(out));
            self.expect_reply(Phase::EndOfData);
        } else {
            tx.step = Step::Body;
            self.outbox.event(ClientEvent::SendBody);
        }
        false
    }

    /// Reports the transaction; after a failure RSET clears the server's
    /// state, unless a later transaction is already on its way.
    fn conclude(&mut self, tx: Transaction) {
        let failed = tx.failed;
        let report = tx.report();
        if failed {
            self.outbox.event(ClientEvent::TransactionFailed(report));
            if self.transactions.is_empty() && self.stage == super::Stage::Ready {
                self.send_command(&Command::Rset, Phase::Rset);
            }
        } else {
            self.outbox.event(ClientEvent::Delivered(report));
        }
    }
}
