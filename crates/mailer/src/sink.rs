//! A sink on this machine that takes every message and keeps none: for
//! tests, examples and trying a program out without sending real mail.

use crate::mailer::{Mailer, MailerBuilder};
use smtp_blocking::{AcceptAll, Server, ServerHandle};
use smtp_proto::ServerConfig;
use std::time::Duration;

/// An SMTP server on 127.0.0.1 (a free port), in this process, that
/// accepts every message and discards it; stopped when dropped.
///
/// ```
/// use mailer::LocalSink;
/// let sink = LocalSink::start()?;
/// let mailer = sink.mailer().build()?;
/// # let _ = mailer;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LocalSink {
    handle: Option<ServerHandle>,
    port: u16,
}

impl LocalSink {
    /// Starts the sink.
    pub fn start() -> Result<LocalSink, crate::Error> {
        let server = Server::bind(
            "127.0.0.1:0",
            ServerConfig::new("sink.localhost"),
            AcceptAll,
        )?;
        let handle = server.spawn()?;
        let port = handle.local_addr().port();
        Ok(LocalSink {
            handle: Some(handle),
            port,
        })
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A mailer for it (no TLS, no login).
    pub fn mailer(&self) -> MailerBuilder {
        Mailer::local(self.port)
    }
}

impl Drop for LocalSink {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown(Duration::from_secs(1));
        }
    }
}
