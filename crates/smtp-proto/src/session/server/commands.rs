//! Reading command lines: framing errors, RFC 2920 grouping, the
//! STARTTLS injection rule, and the dispatch of each command.

use super::{replies, CloseReason, Mode, Pending, ServerEvent, ServerSession};
use crate::framing::LineStatus;
use crate::types::{Command, Verb};

impl ServerSession {
    /// Processes buffered input until a decision is needed, a failed AUTH's
    /// reply is held, or input runs out.
    pub(super) fn run(&mut self) {
        while !self.is_waiting() {
            match self.mode {
                Mode::Commands | Mode::Sasl(_) => {}
                _ => return,
            }
            let line = match self.lines.next_line() {
                LineStatus::Line(l) => l.to_vec(),
                LineStatus::NeedMore => return,
                LineStatus::TooLong => {
                    self.lines_read += 1;
                    let limit = self.config.command_line.max_len;
                    self.error(&crate::ParseError::LineTooLong { limit }.reply());
                    continue;
                }
                LineStatus::BareLf => {
                    self.lines_read += 1;
                    self.error(&replies::reply(
                        500,
                        (5, 5, 2),
                        "Syntax error: lines must end with CRLF",
                    ));
                    continue;
                }
            };
            self.lines_read += 1;
            if matches!(self.mode, Mode::Sasl(_)) {
                self.on_sasl_line(&line);
            } else {
                match Command::parse_with(
                    &line,
                    &self.config.parse.with_smtputf8(self.config.smtputf8),
                ) {
                    Ok(cmd) => self.on_command(cmd),
                    Err(e) => self.error(&e.reply()),
                }
            }
        }
    }

    /// RFC 2920 §3.1: these commands end a pipelined group.
    fn must_end_group(verb: Verb) -> bool {
        matches!(
            verb,
            Verb::Ehlo
                | Verb::Helo
                | Verb::Data
                | Verb::Vrfy
                | Verb::Expn
                | Verb::Noop
                | Verb::Auth
        )
    }

    fn on_command(&mut self, cmd: Command) {
        let verb = cmd.verb();
        let more_input = !self.lines.is_empty();
        if verb == Verb::StartTls && more_input && self.config.starttls {
            // CVE-2011-0411 class: plaintext behind STARTTLS must never be
            // read as if it came through TLS.
            return self.close_with(
                &replies::starttls_violation(),
                CloseReason::StartTlsViolation,
            );
        }
        let pipelining = self.config.pipelining && self.extended;
        // A BDAT chunk's octets follow its command by design (RFC 3030).
        if self.config.reject_early_talkers
            && more_input
            && !matches!(verb, Verb::Quit | Verb::Bdat)
            && (!pipelining || Self::must_end_group(verb))
        {
            return self.close_with(&replies::sync_error(), CloseReason::SynchronizationError);
        }
        match cmd {
            Command::Ehlo(host) => {
                self.reset_transaction();
                self.decide(
                    Pending::Helo(host.clone(), true),
                    ServerEvent::Helo {
                        host,
                        extended: true,
                    },
                );
            }
            Command::Helo(host) => {
                self.reset_transaction();
                self.decide(
                    Pending::Helo(host.clone(), false),
                    ServerEvent::Helo {
                        host,
                        extended: false,
                    },
                );
            }
            Command::Mail { from, params } => self.on_mail(from, params),
            Command::Rcpt { to, params } => self.on_rcpt(to, params),
            Command::Data => self.on_data(),
            Command::Bdat { size, last } => self.on_bdat(size, last),
            Command::Rset => {
                self.reset_transaction();
                self.send(&replies::ok((2, 0, 0), "OK"));
            }
            Command::Noop(_) => self.send(&replies::ok((2, 0, 0), "OK")),
            Command::Help(_) => self.send(&replies::help()),
            Command::Vrfy(_) => {
                let reply = self.config.vrfy_reply.clone();
                self.send(&reply);
            }
            Command::Expn(_) => self.error(&replies::reply(502, (5, 5, 1), "EXPN not supported")),
            Command::Quit => {
                self.reset_transaction();
                let reply = replies::closing(&self.hostname);
                self.close_with(&reply, CloseReason::Quit);
            }
            Command::StartTls => self.on_starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.on_auth(
                mechanism,
                initial_response.map(|r| r.expose_base64().to_owned()),
            ),
        }
    }

    fn on_starttls(&mut self) {
        if !self.config.starttls {
            return self.error(&replies::reply(502, (5, 5, 1), "STARTTLS not available"));
        }
        if self.tls.is_some() {
            return self.error(&replies::bad_sequence("TLS already active"));
        }
        self.send(&replies::ready_for_tls());
        self.reset_transaction();
        self.mode = Mode::TlsHandshake;
        self.outbox.start_tls();
    }
}
