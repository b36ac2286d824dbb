//! AUTH (RFC 4954): when a mechanism may run, the 334 dialogue, and what a
//! failed attempt costs the client (counted, delayed, and capped).

use super::config::MAX_AUTH_FAILURE_DELAY;
use super::{replies, CloseReason, Mode, Pending, ServerEvent, ServerSession};
use crate::sasl::{self, SaslServer, ServerStep};
use crate::types::{Mechanism, Reply};
use std::time::{Duration, Instant};

/// The reply to a failed AUTH, held back before it is sent.
#[derive(Debug)]
pub(super) struct Held {
    reply: Reply,
    delay: Duration,
    /// `None` until the time the delay starts from is known (the failure
    /// came from an application verb, which takes no clock).
    until: Option<Instant>,
    /// Close after the reply, for this reason.
    close: Option<CloseReason>,
}

impl Held {
    pub(super) fn until(&self) -> Option<Instant> {
        self.until
    }

    /// The delay runs from `now`, unless its start is known already.
    pub(super) fn start(&mut self, now: Instant) {
        if self.until.is_none() {
            self.until = Some(now + self.delay);
        }
    }
}

impl ServerSession {
    /// Why AUTH with `mechanism` is not possible now, as the reply to send.
    pub(super) fn auth_allowed(&self, mechanism: &Mechanism) -> Result<(), Reply> {
        let c = &self.config;
        if !c.auth_mechanisms.contains(mechanism)
            || (*mechanism == Mechanism::CramMd5 && self.cram_md5_nonce.is_none())
        {
            return Err(unrecognized());
        }
        if c.require_tls && self.tls.is_none() {
            return Err(replies::tls_required());
        }
        if sasl::exposes_secret(mechanism) && self.tls.is_none() && !c.allow_plaintext_auth {
            return Err(replies::encryption_required());
        }
        Ok(())
    }

    pub(super) fn on_auth(&mut self, mechanism: Mechanism, initial: Option<String>) {
        if self.helo.is_none() || !self.extended {
            return self.error(&replies::bad_sequence("Send EHLO first"));
        }
        if self.authenticated.is_some() {
            return self.error(&replies::bad_sequence("Already authenticated"));
        }
        if self.tx.is_some() {
            return self.error(&replies::bad_sequence(
                "AUTH not allowed during a transaction",
            ));
        }
        if let Err(reply) = self.auth_allowed(&mechanism) {
            return self.error(&reply);
        }
        let challenge = self
            .cram_md5_nonce
            .as_ref()
            .map(|n| format!("<{n}@{}>", self.hostname));
        let Ok(mut server) = SaslServer::new(mechanism, challenge.as_deref()) else {
            return self.error(&unrecognized());
        };
        let step = match initial {
            None => server.start(None),
            Some(text) if text == "=" => server.start(Some(&[])),
            Some(text) => match sasl::decode_base64(text.as_bytes()) {
                Ok(bytes) => server.start(Some(&bytes)),
                Err(_) => return self.auth_failed(invalid_base64(), Some(self.now)),
            },
        };
        self.sasl_step(server, step);
    }

    pub(super) fn on_sasl_line(&mut self, line: &[u8]) {
        let Mode::Sasl(mut server) = std::mem::replace(&mut self.mode, Mode::Commands) else {
            return;
        };
        if line == b"*" {
            let reply = replies::reply(501, (5, 0, 0), "Authentication cancelled");
            return self.auth_failed(reply, Some(self.now));
        }
        match sasl::decode_base64(line) {
            Ok(bytes) => {
                let step = server.step(&bytes);
                self.sasl_step(server, step);
            }
            Err(_) => self.auth_failed(invalid_base64(), Some(self.now)),
        }
    }

    fn sasl_step(&mut self, server: SaslServer, step: ServerStep) {
        match step {
            ServerStep::Challenge(bytes) => {
                self.send(&replies::challenge(&sasl::encode_base64(&bytes)));
                self.mode = Mode::Sasl(server);
            }
            ServerStep::Done(request) => {
                self.mode = Mode::Commands;
                self.decide(
                    Pending::Auth(request.username().to_owned()),
                    ServerEvent::Auth(request),
                );
            }
            ServerStep::Failed(_) => {
                self.mode = Mode::Commands;
                let reply = replies::reply(501, (5, 5, 2), "Malformed authentication data");
                self.auth_failed(reply, Some(self.now));
            }
        }
    }

    /// A failed attempt: counted (also as an error), told to the
    /// application, and its `reply` held back for a delay that doubles with
    /// each failure, from `now` (or, when unknown, from the next
    /// `handle_timeout`). Input meanwhile is only buffered.
    pub(super) fn auth_failed(&mut self, reply: Reply, now: Option<Instant>) {
        self.auth_failures += 1;
        self.errors += 1;
        let failures = self.auth_failures;
        self.outbox.event(ServerEvent::AuthFailed { failures });
        let close = if self.config.max_auth_failures.is_some_and(|n| failures >= n) {
            Some(CloseReason::TooManyAuthFailures)
        } else if self.errors >= self.config.max_errors {
            Some(CloseReason::TooManyErrors)
        } else {
            None
        };
        let delay = self.auth_failure_delay(failures);
        let held = Held {
            reply,
            delay,
            until: now.map(|t| t + delay),
            close,
        };
        if delay.is_zero() {
            self.release(held);
        } else {
            self.held = Some(held);
        }
    }

    /// `auth_failure_delay`, doubled for each failure before this one.
    fn auth_failure_delay(&self, failures: usize) -> Duration {
        let base = self.config.auth_failure_delay;
        let doublings = u32::try_from(failures.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(16);
        base.saturating_mul(1 << doublings)
            .min(MAX_AUTH_FAILURE_DELAY.max(base))
    }

    /// `handle_timeout` while a reply is held: start the delay, or end it.
    pub(super) fn handle_hold(&mut self, now: Instant) {
        let Some(held) = &mut self.held else {
            return;
        };
        match held.until {
            None => held.start(now),
            Some(until) if now >= until => {
                let lines_before = self.lines_read;
                self.rearm = false;
                self.timers.idle = Some(now + self.config.idle_timeout);
                if let Some(held) = self.held.take() {
                    self.release(held);
                }
                self.run();
                self.update_timers(lines_before);
            }
            Some(_) => {}
        }
    }

    /// Sends a held reply, and closes if the failure was one too many.
    fn release(&mut self, held: Held) {
        self.send(&held.reply);
        match held.close {
            Some(CloseReason::TooManyAuthFailures) => {
                let reply = replies::too_many_auth_failures(&self.hostname);
                self.close_with(&reply, CloseReason::TooManyAuthFailures);
            }
            Some(reason) => {
                let reply = replies::too_many_errors(&self.hostname);
                self.close_with(&reply, reason);
            }
            None => {}
        }
    }
}

fn unrecognized() -> Reply {
    replies::reply(504, (5, 5, 4), "Unrecognized authentication type")
}

fn invalid_base64() -> Reply {
    replies::reply(501, (5, 5, 2), "Invalid base64 data")
}
