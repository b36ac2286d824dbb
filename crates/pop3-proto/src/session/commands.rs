//! The command handlers of the AUTHORIZATION and TRANSACTION states.

use super::{
    printable, transmit_with, CloseReason, Credentials, Deletion, Entry, Event, Pending,
    Pop3Session, State,
};
use crate::command::{Argument, Command};
use crate::message::MessageStream;
use crate::response::{Response, ResponseCode};
use smtp_proto::sasl::{self, AuthRequest, SaslServer, ServerStep};
use smtp_proto::{Mechanism, Output, Secret};

impl Pop3Session {
    pub(super) fn command(&mut self, command: Command) {
        match self.state {
            State::Authorization => self.authorization(command),
            State::Transaction => self.transaction(command),
            State::Sasl(_) | State::TlsHandshake | State::Closed => {}
        }
    }

    fn wrong_state(&mut self) {
        self.error(&Response::err("command not valid in this state"));
    }

    fn authorization(&mut self, command: Command) {
        match command {
            Command::Capa => self.capa(),
            Command::Quit => {
                let text = format!("{} POP3 server signing off", self.hostname);
                self.close_with(&Response::ok(&text), CloseReason::Quit);
            }
            Command::Stls => self.stls(),
            Command::User(name) => {
                if !self.config.user_pass {
                    return self.error(&Response::err("USER not available; use AUTH"));
                }
                if !self.plaintext_ok() {
                    return self.refuse_plaintext();
                }
                self.user = Some(name.as_str().to_owned());
                self.send(&Response::ok("send PASS"));
            }
            Command::Pass(password) => {
                let Some(username) = self.user.take() else {
                    return self.error(&Response::err("USER first"));
                };
                if !self.plaintext_ok() {
                    return self.refuse_plaintext();
                }
                let credentials = Credentials::UserPass {
                    username: username.clone(),
                    password: Secret::new(password.into_inner().as_str().to_owned()),
                };
                self.decide(Pending::Login(username), Event::Login(credentials));
            }
            Command::Apop { name, digest } => {
                let Some(timestamp) = self.apop_timestamp.clone() else {
                    return self.error(&Response::err("APOP not available"));
                };
                let username = name.as_str().to_owned();
                let credentials = Credentials::Apop {
                    username: username.clone(),
                    timestamp,
                    digest: Secret::new(digest.into_inner().as_str().to_owned()),
                };
                self.decide(Pending::Login(username), Event::Login(credentials));
            }
            Command::Auth { mechanism, initial } => self.auth(mechanism, initial),
            Command::Stat
            | Command::List(_)
            | Command::Retr(_)
            | Command::Dele(_)
            | Command::Noop
            | Command::Rset
            | Command::Top { .. }
            | Command::Uidl(_) => self.wrong_state(),
        }
    }

    fn refuse_plaintext(&mut self) {
        let text = if self.config.stls {
            "plaintext authentication disallowed; use STLS first"
        } else {
            "plaintext authentication disallowed without TLS"
        };
        self.error(&Response::err(text).with_code(ResponseCode::Auth));
    }

    fn stls(&mut self) {
        if !self.config.stls {
            return self.error(&Response::err("STLS not available"));
        }
        if self.tls.is_some() {
            return self.error(&Response::err("TLS already active"));
        }
        self.send(&Response::ok("begin TLS negotiation"));
        if !self.lines.buffered().is_empty() {
            // Anything behind STLS was sent in plaintext but would be read
            // as if protected (the CVE-2011-0411 class): refuse it.
            return self.close_with(
                &Response::err("plaintext after STLS"),
                CloseReason::StlsViolation,
            );
        }
        self.state = State::TlsHandshake;
        self.out.push_back(Output::StartTls);
    }

    fn auth(&mut self, mechanism: Option<Argument>, initial: Option<Secret<Argument>>) {
        let offered = self.config.sasl_plain && self.plaintext_ok();
        let Some(mechanism) = mechanism else {
            let lines = if offered {
                vec!["PLAIN".to_owned()]
            } else {
                Vec::new()
            };
            return self.send_multiline(&Response::ok("SASL mechanisms follow"), &lines);
        };
        if mechanism.as_str() != "PLAIN" || !self.config.sasl_plain {
            return self.error(&Response::err("unsupported SASL mechanism"));
        }
        if !self.plaintext_ok() {
            return self.refuse_plaintext();
        }
        let Ok(mut server) = SaslServer::new(Mechanism::Plain, None) else {
            return self.error(&Response::err("unsupported SASL mechanism"));
        };
        let initial = match initial {
            None => None,
            Some(text) if text.expose().as_str() == "=" => Some(Vec::new()),
            Some(text) => match sasl::decode_base64(text.expose().as_str().as_bytes()) {
                Ok(bytes) => Some(bytes),
                Err(_) => return self.error(&Response::err("invalid base64")),
            },
        };
        let step = server.start(initial.as_deref());
        self.state = State::Sasl(server);
        self.sasl_step(step);
    }

    pub(super) fn sasl_response(&mut self, line: &[u8]) {
        if line == b"*" {
            self.state = State::Authorization;
            return self.error(&Response::err("authentication cancelled"));
        }
        let step = match sasl::decode_base64(line) {
            Ok(bytes) => match &mut self.state {
                State::Sasl(server) => server.step(&bytes),
                _ => return,
            },
            Err(_) => {
                self.state = State::Authorization;
                return self.error(&Response::err("invalid base64"));
            }
        };
        self.sasl_step(step);
    }

    fn sasl_step(&mut self, step: ServerStep) {
        match step {
            ServerStep::Challenge(challenge) => {
                let encoded = sasl::encode_base64(&challenge);
                transmit_with(&mut self.out, |buf| {
                    buf.extend_from_slice(b"+ ");
                    buf.extend_from_slice(encoded.as_bytes());
                    buf.extend_from_slice(b"\r\n");
                });
            }
            ServerStep::Done(AuthRequest::Plain {
                authzid,
                username,
                password,
            }) => {
                self.state = State::Authorization;
                let credentials = Credentials::Plain {
                    authzid,
                    username: username.clone(),
                    password,
                };
                self.decide(Pending::Login(username), Event::Login(credentials));
            }
            ServerStep::Done(_) | ServerStep::Failed(_) => {
                self.state = State::Authorization;
                self.error(&Response::err("malformed SASL response"));
            }
        }
    }

    fn capa(&mut self) {
        let mut lines = vec![
            "TOP".to_owned(),
            "UIDL".to_owned(),
            "RESP-CODES".to_owned(),
            "AUTH-RESP-CODE".to_owned(),
            "PIPELINING".to_owned(),
        ];
        if matches!(self.state, State::Authorization) {
            if self.config.user_pass && self.plaintext_ok() {
                lines.push("USER".to_owned());
            }
            if self.config.sasl_plain && self.plaintext_ok() {
                lines.push("SASL PLAIN".to_owned());
            }
            if self.config.stls && self.tls.is_none() {
                lines.push("STLS".to_owned());
            }
        }
        lines.push(format!(
            "IMPLEMENTATION {}",
            printable(&self.config.implementation)
        ));
        self.send_multiline(&Response::ok("capability list follows"), &lines);
    }

    fn no_such_message(&mut self) {
        self.error(&Response::err("no such message"));
    }

    fn transaction(&mut self, command: Command) {
        match command {
            Command::Capa => self.capa(),
            Command::Stat => {
                let (count, size) = self.totals();
                self.send(&Response::ok(&format!("{count} {size}")));
            }
            Command::List(None) => {
                let (count, size) = self.totals();
                let lines = self.scan_listing(|e| e.info.size.to_string());
                let status = Response::ok(&format!("{count} messages ({size} octets)"));
                self.send_multiline(&status, &lines);
            }
            Command::Uidl(None) => {
                let lines = self.scan_listing(|e| e.info.uid.to_string());
                self.send_multiline(&Response::ok("unique-id listing follows"), &lines);
            }
            Command::List(Some(n)) => match self.entry(n) {
                Some(i) => {
                    let size = self.messages.get(i).map_or(0, |e| e.info.size);
                    self.send(&Response::ok(&format!("{n} {size}")));
                }
                None => self.no_such_message(),
            },
            Command::Uidl(Some(n)) => match self.entry(n) {
                Some(i) => {
                    let uid = self.messages.get(i).map(|e| e.info.uid.to_string());
                    self.send(&Response::ok(&format!("{n} {}", uid.unwrap_or_default())));
                }
                None => self.no_such_message(),
            },
            Command::Retr(n) => self.retrieve(n, None),
            Command::Top { message, lines } => self.retrieve(message, Some(u64::from(lines))),
            Command::Dele(n) => match self.entry(n) {
                Some(i) => {
                    if let Some(e) = self.messages.get_mut(i) {
                        e.deleted = true;
                    }
                    self.send(&Response::ok(&format!("message {n} deleted")));
                }
                None => self.no_such_message(),
            },
            Command::Noop => self.send(&Response::ok("")),
            Command::Rset => {
                for e in &mut self.messages {
                    e.deleted = false;
                }
                let (count, size) = self.totals();
                self.send(&Response::ok(&format!(
                    "maildrop has {count} messages ({size} octets)"
                )));
            }
            Command::Quit => {
                let deletions = self
                    .messages
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.deleted)
                    .map(|(index, e)| Deletion {
                        index,
                        uid: e.info.uid.clone(),
                    })
                    .collect();
                self.decide(Pending::Update, Event::Update { deletions });
            }
            Command::User(_)
            | Command::Pass(_)
            | Command::Apop { .. }
            | Command::Auth { .. }
            | Command::Stls => self.wrong_state(),
        }
    }

    /// `n value` for every message not deleted.
    fn scan_listing(&self, value: impl Fn(&Entry) -> String) -> Vec<String> {
        self.messages
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.deleted)
            .map(|(i, e)| format!("{} {}", i + 1, value(e)))
            .collect()
    }

    fn retrieve(&mut self, n: u32, top_lines: Option<u64>) {
        let Some(index) = self.entry(n) else {
            return self.no_such_message();
        };
        let Some(entry) = self.messages.get(index) else {
            return self.no_such_message();
        };
        let event = Event::Retrieve {
            index,
            uid: entry.info.uid.clone(),
            top_lines,
        };
        let pending = Pending::Retrieve {
            stream: MessageStream::new(top_lines),
            started: false,
            size: entry.info.size,
        };
        self.decide(pending, event);
    }
}
