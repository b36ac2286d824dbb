//! Starting the server: one SMTP listener per configured door, sharing one
//! handler.

use crate::checks::AuthChecks;
use crate::config::ServerConfig;
use crate::directory::Directory;
use crate::filter::MessageFilter;
use crate::handler::{MailHandler, Role, Shared};
use crate::limiter::LoginLimiter;
use crate::metrics::{NoMetrics, ServerMetrics};
use crate::outbound::Outbound;
use crate::store::MailboxStore;
use smtp_blocking::{AuthThrottle, Limits, Server, ServerHandle, ServerTls};
use smtp_proto::{Mechanism, ServerConfig as SessionConfig};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long an address that used up its AUTH failures stays refused.
const AUTH_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A listener needs a certificate and none was given.
    #[error("the {0} listener needs a certificate")]
    NeedsTls(&'static str),
    /// Submission needs a spool and none was given.
    #[error("the {0} listener needs a spool for the mail it accepts")]
    NeedsSpool(&'static str),
    /// The `[srs]` table cannot be used (its secret file unreadable, no
    /// domain).
    #[error("{0}")]
    Srs(String),
    /// A listener could not be bound or started.
    #[error("the {name} listener on {addr}: {source}")]
    Listen {
        /// Which listener.
        name: &'static str,
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: smtp_blocking::Error,
    },
}

/// What the server is made of besides its configuration.
pub struct Parts<D, S, F> {
    /// Users and domains.
    pub directory: D,
    /// The mailboxes.
    pub store: S,
    /// The filters.
    pub filter: F,
    /// SPF/DKIM/DMARC on incoming mail (none: not checked).
    pub checks: Option<AuthChecks>,
    /// The spool and DKIM keys of outgoing mail (none: no submission, no
    /// relay).
    pub outbound: Option<Outbound>,
    /// Where the counters go.
    pub metrics: Arc<dyn ServerMetrics>,
    /// AUTH failures across connections.
    pub limiter: Box<dyn LoginLimiter>,
    /// The certificate.
    pub tls: Option<ServerTls>,
}

impl<D, S, F> fmt::Debug for Parts<D, S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parts")
            .field("checks", &self.checks)
            .field("outbound", &self.outbound)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl<D, S, F> Parts<D, S, F> {
    /// The three parts every server needs; no checks, no spool, no
    /// counters, no certificate, and AUTH failures limited per address
    /// (`auth_failures_per_ip` of the configuration's limits).
    pub fn new(directory: D, store: S, filter: F, auth_failures_per_ip: u32) -> Parts<D, S, F> {
        Parts {
            directory,
            store,
            filter,
            checks: None,
            outbound: None,
            metrics: Arc::new(NoMetrics),
            limiter: Box::new(AuthThrottle::new(auth_failures_per_ip.max(1), AUTH_WINDOW)),
            tls: None,
        }
    }
}

/// A running server: its listeners and the handler they share. Dropping
/// it stops them.
pub struct Running<D, S, F> {
    handler: MailHandler<D, S, F>,
    listeners: Vec<(&'static str, SocketAddr, ServerHandle)>,
}

impl<D, S, F> fmt::Debug for Running<D, S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Running")
            .field(
                "listeners",
                &self
                    .listeners
                    .iter()
                    .map(|(n, a, _)| (n, a))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl<D, S, F> Running<D, S, F> {
    /// Where the listener called `name` (`smtp`, `submission`,
    /// `submissions`) listens.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, a, _)| *a)
    }

    /// Every listener's name and address.
    pub fn listeners(&self) -> impl Iterator<Item = (&'static str, SocketAddr)> + '_ {
        self.listeners.iter().map(|(n, a, _)| (*n, *a))
    }

    /// The handler (for another listener of the embedder's own).
    pub fn handler(&self) -> &MailHandler<D, S, F> {
        &self.handler
    }

    /// Stops accepting, lets open connections finish for `grace`.
    pub fn shutdown(self, grace: Duration) {
        for (_, _, handle) in self.listeners {
            handle.shutdown(grace);
        }
    }
}

/// The protocol settings of a listener.
fn session_config(config: &ServerConfig, role: Role, tls: bool, implicit: bool) -> SessionConfig {
    let limits = &config.limits;
    let mut session = SessionConfig::new(&config.hostname)
        .with_max_message_size(Some(limits.max_message_size.0))
        .with_max_recipients(limits.max_recipients)
        .with_idle_timeout(Duration::from_secs(limits.idle_timeout.0.max(1)));
    session.command_timeout = limits.command_timeout.bound();
    session.session_lifetime = limits.session_timeout.bound();
    // PLAIN and LOGIN only, and only over TLS: passwords are stored hashed,
    // so CRAM-MD5 cannot be checked.
    if tls {
        session = session.with_auth(vec![Mechanism::Plain, Mechanism::Login]);
        if !implicit {
            session = session.with_starttls(true);
        }
    }
    if role == Role::Submission {
        session = session.with_require_auth(true).with_require_tls(!implicit);
    }
    session
}

/// Binds every configured SMTP listener and starts serving.
pub fn start<D: Directory, S: MailboxStore, F: MessageFilter>(
    config: &ServerConfig,
    parts: Parts<D, S, F>,
) -> Result<Running<D, S, F>, StartError> {
    let Parts {
        directory,
        store,
        filter,
        checks,
        outbound,
        metrics,
        limiter,
        tls,
    } = parts;
    let submission = [
        ("submission", config.listeners.submission),
        ("submissions", config.listeners.submissions),
    ];
    for (name, addr) in submission {
        if addr.is_some() && tls.is_none() {
            return Err(StartError::NeedsTls(name));
        }
        if addr.is_some() && outbound.is_none() {
            return Err(StartError::NeedsSpool(name));
        }
    }
    let srs = config
        .srs
        .load(config.directory.domains.first().map(String::as_str))
        .map_err(StartError::Srs)?;
    let mut shared = Shared::new(
        directory,
        store,
        filter,
        checks,
        outbound,
        metrics,
        limiter,
        config.hostname.clone(),
        config.junk_folder.clone(),
    );
    shared.srs = srs;
    let shared = Arc::new(shared);
    let handler = MailHandler::new(shared);
    let mut limits = Limits::default();
    limits.max_connections = config.limits.max_connections;
    limits.max_connections_per_ip = config.limits.max_connections_per_ip;
    let doors = [
        ("smtp", config.listeners.smtp, Role::Inbound, false),
        (
            "submission",
            config.listeners.submission,
            Role::Submission,
            false,
        ),
        (
            "submissions",
            config.listeners.submissions,
            Role::Submission,
            true,
        ),
    ];
    let mut listeners = Vec::new();
    for (name, addr, role, implicit) in doors {
        let Some(addr) = addr else { continue };
        let session = session_config(config, role, tls.is_some(), implicit);
        let door = handler.for_listener(name, role);
        let listen_error = |source| StartError::Listen { name, addr, source };
        let server = match &tls {
            Some(tls) if implicit => Server::bind_tls(addr, session, tls.clone().implicit(), door),
            Some(tls) => Server::bind_tls(addr, session, tls.clone(), door),
            None => Server::bind(addr, session, door),
        }
        .map_err(listen_error)?
        .with_limits(limits)
        .with_max_sessions((config.limits.max_sessions > 0).then_some(config.limits.max_sessions));
        let local = server.local_addr();
        let handle = server.spawn().map_err(listen_error)?;
        listeners.push((name, local, handle));
    }
    Ok(Running { handler, listeners })
}
