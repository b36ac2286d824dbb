//! One connection's bookkeeping between the session and the handler: what
//! the handler is told about the connection and the transaction, and the
//! message being streamed to its sink.

use crate::server::{reply, Connection, Decision};
use smtp_proto::{ForwardPath, MailParams, Reply, ReversePath, ServerSession};
use std::fmt;
use std::net::SocketAddr;

/// The transaction a message belongs to, given to the handler's
/// `data_start` when the content is about to arrive.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Transaction {
    /// The sender from MAIL FROM.
    pub from: ReversePath,
    /// The parameters of MAIL FROM (`SMTPUTF8`, `BODY`, `SIZE`, ...).
    pub params: MailParams,
    /// The accepted recipients, in order.
    pub recipients: Vec<ForwardPath>,
    /// The protocol's name for a `Received:` field's `with` clause, from
    /// the session: `ESMTP`, `ESMTPS`, `ESMTPA`, `ESMTPSA` (RFC 3848),
    /// `UTF8SMTP...` for an SMTPUTF8 transaction (RFC 6531), `SMTP` after
    /// HELO.
    pub protocol: &'static str,
}

/// A message received whole, handed over by [`Collect`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Message {
    /// The sender from MAIL FROM.
    pub from: ReversePath,
    /// The accepted recipients, in order.
    pub recipients: Vec<ForwardPath>,
    /// The content exactly as the client meant it: un-stuffed DATA or BDAT
    /// octets, ending with the CRLF before the final dot.
    pub bytes: Vec<u8>,
}

/// A sink that keeps nothing: the content is read and dropped, and the
/// message accepted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

/// A sink that gathers the whole message in memory and gives it to a
/// closure at the end, whose decision is the final reply. For tests and
/// small messages: the memory it holds is bounded only by the session's
/// `max_message_size`. A server that stores mail should stream each chunk
/// to its store instead.
pub struct Collect {
    message: Message,
    done: Box<dyn FnOnce(Message) -> Decision + Send>,
}

impl fmt::Debug for Collect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collect")
            .field("from", &self.message.from)
            .field("bytes", &self.message.bytes.len())
            .finish_non_exhaustive()
    }
}

impl Collect {
    /// Collects the message of `transaction`; `done` decides on it.
    pub fn new(
        transaction: &Transaction,
        done: impl FnOnce(Message) -> Decision + Send + 'static,
    ) -> Collect {
        Collect {
            message: Message {
                from: transaction.from.clone(),
                recipients: transaction.recipients.clone(),
                bytes: Vec::new(),
            },
            done: Box::new(done),
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.message.bytes.extend_from_slice(chunk);
    }

    pub(crate) fn finish(self) -> Decision {
        (self.done)(self.message)
    }
}

/// Where the current message's content goes.
#[derive(Debug)]
enum Body<S> {
    /// No message is being received.
    None,
    /// The handler's sink takes the chunks.
    Open(S),
    /// A chunk could not be stored: the sink was aborted, the rest of the
    /// content is dropped, and this reply answers the end of the message.
    Failed(Reply),
}

/// What the end of a message finds.
#[derive(Debug)]
#[doc(hidden)]
pub enum Ending<S> {
    /// The sink that took the whole content: ask it for the decision.
    Finish(S),
    /// The answer is already known (a failed write, or no sink at all).
    Answer(Decision),
}

/// One connection's side of the handler: what it is told about the
/// connection and the transaction, and the sink of the message being
/// received. The handler calls themselves are made by `handle_event`, the
/// one mapping from a session event to a handler method, generated for
/// the blocking and the async handler alike.
#[derive(Debug)]
pub struct Dispatch<S> {
    conn: Connection,
    /// The handler was told of the connection (and must be told its end).
    connected: bool,
    from: Option<(ReversePath, MailParams)>,
    body: Body<S>,
}

impl<S> Dispatch<S> {
    /// For a connection from `peer`.
    pub fn new(peer: SocketAddr) -> Dispatch<S> {
        Dispatch {
            conn: Connection::new(peer),
            connected: false,
            from: None,
            body: Body::None,
        }
    }

    /// The server's address the client connected to.
    pub fn with_local(mut self, local: Option<SocketAddr>) -> Dispatch<S> {
        self.conn.local = local;
        self
    }

    /// The handler was told of the connection: returns whether it had
    /// been before (it is told once).
    #[doc(hidden)]
    pub fn set_connected(&mut self) -> bool {
        std::mem::replace(&mut self.connected, true)
    }

    /// The connection ends: true once, when the handler was told of it.
    #[doc(hidden)]
    pub fn take_connected(&mut self) -> bool {
        std::mem::replace(&mut self.connected, false)
    }

    /// What the handler is told about the connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Brings the connection's TLS state up to date (TLS starts without a
    /// decision).
    #[doc(hidden)]
    pub fn observe(&mut self, session: &ServerSession) {
        if self.conn.tls.is_none() {
            self.conn.tls = session.tls_info().cloned();
        }
    }

    /// A MAIL FROM is being decided: remembered for the transaction.
    #[doc(hidden)]
    pub fn mail_from(&mut self, from: &ReversePath, params: &MailParams) {
        self.from = Some((from.clone(), params.clone()));
        self.conn.mail_from = Some(from.clone());
    }

    /// The transaction whose content is about to arrive.
    #[doc(hidden)]
    pub fn transaction(&self, session: &ServerSession) -> Transaction {
        let (from, params) = self
            .from
            .clone()
            .unwrap_or((ReversePath::Null, MailParams::default()));
        Transaction {
            from,
            params,
            recipients: session.recipients().to_vec(),
            protocol: session.protocol_name(),
        }
    }

    /// No message is being received.
    #[doc(hidden)]
    pub fn is_idle(&self) -> bool {
        matches!(self.body, Body::None)
    }

    /// The handler opened a sink for the message.
    #[doc(hidden)]
    pub fn open(&mut self, sink: S) {
        self.body = Body::Open(sink);
    }

    /// The sink of the message being received, unless there is none or it
    /// failed.
    #[doc(hidden)]
    pub fn sink(&mut self) -> Option<&mut S> {
        match &mut self.body {
            Body::Open(sink) => Some(sink),
            _ => None,
        }
    }

    /// A write failed with `reply`: returns the sink, to be aborted; the
    /// message will be answered with `reply`.
    #[doc(hidden)]
    pub fn fail(&mut self, reply: Reply) -> Option<S> {
        match std::mem::replace(&mut self.body, Body::Failed(reply)) {
            Body::Open(sink) => Some(sink),
            _ => None,
        }
    }

    /// The message ended: its sink to finish, or the answer already known.
    #[doc(hidden)]
    pub fn end(&mut self) -> Ending<S> {
        self.from = None;
        self.conn.mail_from = None;
        match std::mem::replace(&mut self.body, Body::None) {
            Body::Open(sink) => Ending::Finish(sink),
            Body::Failed(reply) => Ending::Answer(Decision::Reject(reply)),
            // The session never ends a message it did not start; should it,
            // the client is told to retry rather than that all is well.
            Body::None => Ending::Answer(Decision::Reject(local_error())),
        }
    }

    /// The transaction was dropped (RSET, an aborted message, the end of
    /// the connection): the sink to abort, if a message was open.
    #[doc(hidden)]
    pub fn discard(&mut self) -> Option<S> {
        match std::mem::replace(&mut self.body, Body::None) {
            Body::Open(sink) => Some(sink),
            _ => None,
        }
    }

    /// Forgets the sender after a reset (the session does too).
    #[doc(hidden)]
    pub fn reset(&mut self) {
        self.from = None;
        self.conn.mail_from = None;
    }

    /// Gives the session the handler's decision. A reply of the wrong class
    /// (a 2yz "rejection") is the handler's mistake; the session refuses it
    /// and the client gets a temporary failure instead of a stuck
    /// connection.
    pub fn answer(&mut self, session: &mut ServerSession, decision: Decision) {
        let result = match decision {
            Decision::Accept => session.accept(),
            Decision::AcceptWith(reply) => session.accept_with(reply),
            Decision::Reject(reply) => session.reject(reply),
        };
        if result.is_err() {
            let _ = session.reject(local_error());
        }
        self.conn.helo = session.helo().cloned();
        self.conn.authenticated = session.authenticated().map(str::to_owned);
        // A refused MAIL FROM starts no transaction.
        if session.mail_params().is_none() {
            self.conn.mail_from = None;
        }
    }
}

/// `451 4.3.0`: the server could not do what it should have.
pub(crate) fn local_error() -> Reply {
    reply(451, (4, 3, 0), "Local error in processing")
}
