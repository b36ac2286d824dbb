//! The server's handler API, shaped once: [`handler_api!`] writes the
//! `Handler` and `Sink` traits and the one mapping from a session event to
//! a handler call, once for blocking handlers ([`blocking`]) and once for
//! async ones ([`asynchronous`]). The two forms differ only in `async`.
//!
//! A message is streamed, never held whole: `data_start` opens the
//! handler's sink for it; each body chunk is written to the sink as it
//! arrives, in order; at the end the sink's `finish` gives the final reply
//! (store, fsync, then answer 250). A message the session drops (RSET, too
//! big, a failed BDAT, the connection gone) is told to the sink by `abort`,
//! which deletes what it wrote. A write that fails (`Err(reply)`) aborts
//! the sink at once; the rest of the content is read and dropped, and the
//! message is answered with that reply.

/// The return type of a handler method: the value, or a `Send` future of it.
macro_rules! output {
    (blocking, $t:ty) => { $t };
    (async, $t:ty) => { impl ::std::future::Future<Output = $t> + Send };
}

/// A default method body in either form.
macro_rules! body {
    (blocking, $e:expr) => {
        $e
    };
    (async, $e:expr) => {
        async move { $e }
    };
}

/// Writes the handler API for one form: `blocking` (plain methods) or
/// `async` (methods returning `Send` futures; implement them with
/// `async fn`). `[$($kw)*]` is `async` or nothing before `fn handle_event`,
/// `[$($aw)*]` is `.await` or nothing after each call.
macro_rules! handler_api {
    ($mode:ident, [$($kw:tt)*], [$($aw:tt)*]) => {
        use crate::dispatch::{Collect, Discard, Dispatch, Ending, Transaction};
        use crate::server::{Connection, Decision};
        use crate::Error;
        use smtp_proto::sasl::AuthRequest;
        use smtp_proto::{
            ForwardPath, Host, MailParams, RcptParams, Reply, ReversePath, ServerEvent,
            ServerSession,
        };
        use std::net::SocketAddr;

        /// The application's side of the server: every decision the
        /// protocol leaves open, and where each message's content goes.
        /// Each decision has a default (accept, except AUTH, refused), so
        /// a handler writes only what it cares about, plus `data_start`,
        /// which names the [`Sink`] of each message.
        ///
        /// Called from every connection at once, so it must be
        /// `Send + Sync`. A connection waits for its handler's answer
        /// before it reads on; other connections go on meanwhile.
        pub trait Handler: Send + Sync + 'static {
            /// Where a message's content goes ([`Discard`] to keep none,
            /// [`Collect`] to gather it in memory).
            type Sink: Sink;

            /// A client connected, before it is greeted: `Ok` greets it,
            /// `Err(reply)` answers it with that refusal instead (`554`,
            /// RFC 5321 §3.1, or a `421`) and closes (a DNSBL listing at
            /// connect, say). Every connection the handler is told of here
            /// is told once to [`disconnect`](Self::disconnect) when it
            /// ends, refused ones too. Connections over the adapter's
            /// [`Limits`](crate::Limits) are refused before this. Accepts by
            /// default.
            fn connect(&self, _conn: &Connection) -> output!($mode, Result<(), Reply>) {
                body!($mode, Ok(()))
            }
            /// A connection told to [`connect`](Self::connect) ended,
            /// however it ended (QUIT, a timeout, the client gone, a socket
            /// error, a refusal, a shutdown): exactly once, after any open
            /// message was aborted and before `connection_error`. Ignored
            /// by default.
            fn disconnect(&self, _conn: &Connection) {}
            /// EHLO or HELO.
            fn helo(
                &self,
                _conn: &Connection,
                _host: &Host,
                _extended: bool,
            ) -> output!($mode, Decision) {
                body!($mode, Decision::Accept)
            }
            /// MAIL FROM.
            fn mail_from(
                &self,
                _conn: &Connection,
                _from: &ReversePath,
                _params: &MailParams,
            ) -> output!($mode, Decision) {
                body!($mode, Decision::Accept)
            }
            /// RCPT TO.
            fn rcpt_to(
                &self,
                _conn: &Connection,
                _to: &ForwardPath,
                _params: &RcptParams,
            ) -> output!($mode, Decision) {
                body!($mode, Decision::Accept)
            }
            /// A message is about to arrive, with at least one accepted
            /// recipient: open its sink, or refuse it with a 4yz or 5yz
            /// reply. After DATA, the client is told to go ahead (354) or
            /// given the refusal; BDAT waits for no answer, so it is asked
            /// at the first chunk and a refusal answers the last one.
            fn data_start(
                &self,
                conn: &Connection,
                transaction: &Transaction,
            ) -> output!($mode, Result<Self::Sink, Reply>);
            /// Credentials to check. Refused by default (`535 5.7.8`):
            /// accepting anyone must be a choice, not an accident.
            fn auth(
                &self,
                _conn: &Connection,
                _request: &AuthRequest,
            ) -> output!($mode, Decision) {
                body!($mode, Decision::auth_invalid())
            }
            /// An AUTH attempt failed (refused by `auth`, or cancelled or
            /// garbled by the client); `failures` counts this session's,
            /// this one included. The session itself delays the reply and
            /// closes after its `max_auth_failures`; this is where to log
            /// and to count failures per client address across connections
            /// (see `AuthThrottle`). Ignored by default.
            fn auth_failed(&self, _conn: &Connection, _failures: usize) {}
            /// A connection ended with a socket error (the protocol's own
            /// endings are not errors). Ignored by default.
            fn connection_error(&self, _peer: SocketAddr, _error: &Error) {}
        }

        /// One message's content on its way to storage: chunks in order,
        /// then exactly one of `finish` or `abort`.
        pub trait Sink: Send + 'static {
            /// The next octets of the content (un-stuffed DATA, or BDAT
            /// data exactly). An `Err` gives up on the message: the sink
            /// is aborted at once and the end of the message is answered
            /// with that reply (a 4yz or 5yz one).
            fn write(&mut self, chunk: &[u8]) -> output!($mode, Result<(), Reply>);
            /// The whole content arrived: make it durable, then answer
            /// with the final reply (250 only once it is stored).
            fn finish(self) -> output!($mode, Decision)
            where
                Self: Sized;
            /// The message was dropped: delete whatever was written.
            fn abort(self) -> output!($mode, ())
            where
                Self: Sized;
        }

        impl Sink for Discard {
            fn write(&mut self, _chunk: &[u8]) -> output!($mode, Result<(), Reply>) {
                body!($mode, Ok(()))
            }
            fn finish(self) -> output!($mode, Decision) {
                body!($mode, Decision::Accept)
            }
            // The blocking form's body is a bare `()`.
            #[allow(clippy::unused_unit)]
            fn abort(self) -> output!($mode, ()) {
                body!($mode, ())
            }
        }

        impl Sink for Collect {
            fn write(&mut self, chunk: &[u8]) -> output!($mode, Result<(), Reply>) {
                self.push(chunk);
                body!($mode, Ok(()))
            }
            fn finish(self) -> output!($mode, Decision) {
                body!($mode, Collect::finish(self))
            }
            // The blocking form's body is a bare `()`.
            #[allow(clippy::unused_unit)]
            fn abort(self) -> output!($mode, ()) {
                body!($mode, ())
            }
        }

        /// The handler that accepts every message and keeps none.
        #[derive(Debug, Clone, Copy, Default)]
        pub struct AcceptAll;

        impl Handler for AcceptAll {
            type Sink = Discard;
            fn data_start(
                &self,
                _conn: &Connection,
                _transaction: &Transaction,
            ) -> output!($mode, Result<Discard, Reply>) {
                body!($mode, Ok(Discard))
            }
        }

        /// Hands one session event to the handler and its answer back to
        /// the session: the one mapping every server adapter uses.
        #[doc(hidden)]
        pub $($kw)* fn handle_event<H: Handler>(
            handler: &H,
            dispatch: &mut Dispatch<H::Sink>,
            session: &mut ServerSession,
            event: ServerEvent,
        ) {
            dispatch.observe(session);
            // BDAT asks no DataStart: the sink opens with the first chunk
            // (or at the end of an empty message), and a refusal from
            // `data_start` answers the end of the message.
            if matches!(event, ServerEvent::BodyChunk(_) | ServerEvent::MessageEnd { .. })
                && dispatch.is_idle()
            {
                let transaction = dispatch.transaction(session);
                match handler.data_start(dispatch.connection(), &transaction) $($aw)* {
                    Ok(sink) => dispatch.open(sink),
                    Err(reply) => drop(dispatch.fail(reply)),
                }
            }
            let decision = match event {
                ServerEvent::Helo { host, extended } => {
                    handler.helo(dispatch.connection(), &host, extended) $($aw)*
                }
                ServerEvent::MailFrom { from, params } => {
                    dispatch.mail_from(&from, &params);
                    handler.mail_from(dispatch.connection(), &from, &params) $($aw)*
                }
                ServerEvent::RcptTo { to, params } => {
                    handler.rcpt_to(dispatch.connection(), &to, &params) $($aw)*
                }
                ServerEvent::DataStart => {
                    let transaction = dispatch.transaction(session);
                    match handler.data_start(dispatch.connection(), &transaction) $($aw)* {
                        Ok(sink) => {
                            dispatch.open(sink);
                            Decision::Accept
                        }
                        Err(reply) => Decision::Reject(reply),
                    }
                }
                ServerEvent::BodyChunk(chunk) => {
                    let Some(sink) = dispatch.sink() else { return };
                    if let Err(reply) = sink.write(&chunk) $($aw)* {
                        if let Some(sink) = dispatch.fail(reply) {
                            sink.abort() $($aw)*;
                        }
                    }
                    return;
                }
                ServerEvent::MessageEnd { .. } => match dispatch.end() {
                    Ending::Finish(sink) => sink.finish() $($aw)*,
                    Ending::Answer(decision) => decision,
                },
                ServerEvent::Auth(request) => {
                    handler.auth(dispatch.connection(), &request) $($aw)*
                }
                ServerEvent::AuthFailed { failures } => {
                    handler.auth_failed(dispatch.connection(), failures);
                    return;
                }
                // Told to no one: TLS state is read from the session.
                ServerEvent::TlsStarted(_) => return,
                // The message (if any) is dropped: RSET, a new EHLO,
                // STARTTLS, a message the session refused, the end.
                _ => {
                    dispatch.reset();
                    if let Some(sink) = dispatch.discard() {
                        sink.abort() $($aw)*;
                    }
                    return;
                }
            };
            dispatch.answer(session, decision);
        }

        /// A connection was accepted: the handler's `connect` decides
        /// whether it is greeted (`Ok`) or refused; the adapter builds its
        /// session from the answer (`ConnectionSetup::session_after`) and
        /// must call [`end_connection`] however the connection ends.
        #[doc(hidden)]
        pub $($kw)* fn start_connection<H: Handler>(
            handler: &H,
            dispatch: &mut Dispatch<H::Sink>,
        ) -> Result<(), Reply> {
            if dispatch.set_connected() {
                return Ok(());
            }
            handler.connect(dispatch.connection()) $($aw)*
        }

        /// The connection is over, however it ended: a message still open
        /// is aborted, then the handler is told (once).
        #[doc(hidden)]
        pub $($kw)* fn end_connection<H: Handler>(handler: &H, dispatch: &mut Dispatch<H::Sink>) {
            if let Some(sink) = dispatch.discard() {
                sink.abort() $($aw)*;
            }
            if dispatch.take_connected() {
                handler.disconnect(dispatch.connection());
            }
        }
    };
}

/// The handler API for blocking servers (threads): plain methods.
pub mod blocking {
    handler_api!(blocking, [], []);
}

/// The handler API for async servers: the same methods, returning `Send`
/// futures (implement them with `async fn`).
pub mod asynchronous {
    handler_api!(async, [async], [.await]);
}

#[cfg(test)]
mod tests {
    use super::blocking::{end_connection, handle_event, Handler, Sink};
    use crate::{Connection, Decision, Dispatch, Transaction};
    use smtp_proto::{Output, Reply, ServerConfig, ServerSession};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    /// What the sinks were told, in order.
    type Log = Arc<Mutex<Vec<String>>>;

    struct Logger(Log);
    struct LogSink(Log, Option<Reply>);

    impl Handler for Logger {
        type Sink = LogSink;
        fn data_start(&self, _: &Connection, tx: &Transaction) -> Result<LogSink, Reply> {
            self.0
                .lock()
                .unwrap()
                .push(format!("start {}", tx.recipients.len()));
            Ok(LogSink(Arc::clone(&self.0), None))
        }
    }

    impl Sink for LogSink {
        fn write(&mut self, chunk: &[u8]) -> Result<(), Reply> {
            let text = String::from_utf8_lossy(chunk).into_owned();
            self.0.lock().unwrap().push(format!("chunk {text:?}"));
            match &self.1 {
                Some(reply) if text.contains("FAIL") => Err(reply.clone()),
                _ => Ok(()),
            }
        }
        fn finish(self) -> Decision {
            self.0.lock().unwrap().push("finish".into());
            Decision::Accept
        }
        fn abort(self) {
            self.0.lock().unwrap().push("abort".into());
        }
    }

    /// Feeds the envelope a line at a time (EHLO must end its group), then
    /// `input` in pieces of `step` octets; returns what the sinks were told
    /// and what was sent.
    fn run(envelope: &[u8], input: &[u8], step: usize) -> (Vec<String>, String) {
        let log = Log::default();
        let handler = Logger(Arc::clone(&log));
        let now = Instant::now();
        let config = ServerConfig::new("mx.test").with_chunking(true);
        let mut session = ServerSession::new(config, now);
        let mut dispatch = Dispatch::new(([127, 0, 0, 1], 25).into());
        let mut sent = Vec::new();
        let mut drain = |session: &mut ServerSession, dispatch: &mut Dispatch<LogSink>| {
            while let Some(out) = session.poll_output() {
                match out {
                    Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
                    Output::Event(event) => handle_event(&handler, dispatch, session, event),
                    _ => {}
                }
            }
        };
        drain(&mut session, &mut dispatch);
        for line in envelope.split_inclusive(|&b| b == b'\n') {
            session.feed(now, line);
            drain(&mut session, &mut dispatch);
        }
        for piece in input.chunks(step) {
            session.feed(now, piece);
            drain(&mut session, &mut dispatch);
        }
        session.feed_eof(now);
        drain(&mut session, &mut dispatch);
        end_connection(&handler, &mut dispatch);
        let log = log.lock().unwrap().clone();
        (log, String::from_utf8(sent).unwrap())
    }

    const ENVELOPE: &[u8] = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n";

    #[test]
    fn chunks_reach_the_sink_in_order_as_they_arrive_then_finish() {
        let envelope = [ENVELOPE, b"DATA\r\n"].concat();
        let input = b"one\r\ntwo\r\n.\r\nQUIT\r\n";
        for step in [1, 7, input.len()] {
            let (log, sent) = run(&envelope, input, step);
            assert_eq!(
                log.first().map(String::as_str),
                Some("start 1"),
                "{log:?} {sent}"
            );
            assert_eq!(log.last().map(String::as_str), Some("finish"), "{log:?}");
            let body: String = log
                .iter()
                .filter_map(|l| l.strip_prefix("chunk "))
                .map(|c| c.trim_matches('"').replace("\\r\\n", "\r\n"))
                .collect();
            assert_eq!(body, "one\r\ntwo\r\n", "step {step}: {log:?}");
            assert!(sent.contains("250 2.0.0"), "{sent}");
        }
    }

    #[test]
    fn a_reset_or_a_lost_connection_aborts_the_open_message() {
        let (log, _) = run(ENVELOPE, b"BDAT 5\r\nhello", 4);
        assert_eq!(log.last().map(String::as_str), Some("abort"), "{log:?}");
        assert!(!log.iter().any(|l| l == "finish"), "{log:?}");
        let (log, _) = run(ENVELOPE, b"BDAT 10\r\nhello", 100);
        assert_eq!(log.last().map(String::as_str), Some("abort"), "{log:?}");
        let (log, _) = run(ENVELOPE, b"BDAT 5\r\nhelloRSET\r\n", 100);
        assert_eq!(log.last().map(String::as_str), Some("abort"), "{log:?}");
        assert_eq!(log.iter().filter(|l| *l == "abort").count(), 1, "{log:?}");
    }
}
