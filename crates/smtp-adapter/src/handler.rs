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
    (blocking, $e:expr) => { $e };
    (async, $e:expr) => { async move { $e } };
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
            /// DATA (or the first BDAT), with at least one accepted
            /// recipient: open the sink for the message (the client is
            /// then told to go ahead), or refuse it with a 4yz or 5yz
            /// reply.
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

        /// The connection is over, however it ended: a message still open
        /// is aborted.
        #[doc(hidden)]
        pub $($kw)* fn end_connection<S: Sink>(dispatch: &mut Dispatch<S>) {
            if let Some(sink) = dispatch.discard() {
                sink.abort() $($aw)*;
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
