//! The SMTP transport: attempts over smtp-blocking's [`Client`], one
//! connection per destination per worker, reused while the server keeps it
//! usable. Two routes:
//! - [`Route::Relay`]: every recipient to one smarthost or provider, with
//!   its TLS mode and AUTH;
//! - [`Route::Mx`]: each recipient domain to its MX hosts (in preference
//!   order, falling back to the next; a domain without MX to its own
//!   address; a null MX (RFC 7505) fails at once), opportunistic STARTTLS
//!   unless the domain is listed as requiring verified TLS.

use crate::engine::{Attempt, Transport, TransportWorker};
use crate::route::{plan_mx, MxPlan, MxResolver};
use crate::schedule::{classify_reply, ConnectionFailure, RetryPolicy, Verdict};
use smtp_blocking::{Client, Error, TlsSettings};
use smtp_proto::{
    AuthFailure, Body, ClientConfig, ClientError, DeliveryReport, Envelope, Mailbox, Recipient,
    RecipientStatus, Reply, ReversePath, TlsPolicy,
};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Where mail goes.
#[derive(Clone)]
pub enum Route {
    /// Everything through the front door's [`mailer::Mailer`]: a provider
    /// preset or a server, with the TLS, timeouts and credentials it was
    /// built with.
    Mailer(Arc<mailer::Mailer>),
    /// Everything through one server.
    Relay {
        /// Its host name (also the TLS name).
        host: String,
        /// Its port.
        port: u16,
        /// The session: HELO name, TLS policy, credentials, timeouts.
        config: ClientConfig,
        /// TLS trust, when TLS is used.
        tls: Option<TlsSettings>,
    },
    /// Straight to each domain's MX hosts.
    Mx {
        /// Looks up MX and address records.
        resolver: Arc<dyn MxResolver>,
        /// The SMTP port (25; tests use another).
        port: u16,
        /// The session for every MX (its TLS policy is replaced per domain).
        config: ClientConfig,
        /// Trust for domains that require verified TLS.
        verified_tls: TlsSettings,
        /// Domains whose MX must offer STARTTLS with a certificate that
        /// verifies; mail for them waits otherwise.
        require_verified_tls: Vec<String>,
    },
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Mailer(m) => f.debug_tuple("Mailer").field(m).finish(),
            Route::Relay {
                host, port, config, ..
            } => f
                .debug_struct("Relay")
                .field("host", host)
                .field("port", port)
                .field("tls", &config.tls)
                .finish_non_exhaustive(),
            Route::Mx {
                port,
                require_verified_tls,
                ..
            } => f
                .debug_struct("Mx")
                .field("port", port)
                .field("require_verified_tls", require_verified_tls)
                .finish_non_exhaustive(),
        }
    }
}

/// The SMTP [`Transport`] over a [`Route`].
#[derive(Debug, Clone)]
pub struct SmtpTransport {
    route: Route,
    retry: RetryPolicy,
    connect_timeout: Duration,
}

impl SmtpTransport {
    /// A transport over `route`, retrying with the route's usual policy
    /// ([`RetryPolicy::RELAY`] or [`RetryPolicy::MX`]).
    pub fn new(route: Route) -> SmtpTransport {
        let retry = match route {
            Route::Relay { .. } | Route::Mailer(_) => RetryPolicy::RELAY,
            Route::Mx { .. } => RetryPolicy::MX,
        };
        SmtpTransport {
            route,
            retry,
            connect_timeout: Duration::from_secs(30),
        }
    }

    /// Another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> SmtpTransport {
        self.retry = retry;
        self
    }

    /// How long each TCP connection may take to open.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> SmtpTransport {
        self.connect_timeout = timeout;
        self
    }
}

impl Transport for SmtpTransport {
    type Worker = SmtpWorker;

    fn destination(&self, domain: &str) -> String {
        match &self.route {
            Route::Mailer(m) => m.context().address(),
            Route::Relay { host, port, .. } => format!("{host}:{port}"),
            Route::Mx { .. } => domain.to_owned(),
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    fn worker(&self) -> SmtpWorker {
        SmtpWorker {
            transport: self.clone(),
            connections: HashMap::new(),
        }
    }
}

/// One delivery thread's connections.
#[derive(Debug)]
pub struct SmtpWorker {
    transport: SmtpTransport,
    connections: HashMap<String, Client>,
}

impl SmtpWorker {
    fn connect(&self, destination: &str) -> Result<Client, Attempt> {
        let timeout = self.transport.connect_timeout;
        match &self.transport.route {
            Route::Mailer(m) => m.connect().map_err(|e| from_mailer_error(1, &e)),
            Route::Relay {
                host,
                port,
                config,
                tls,
            } => {
                let mut builder = Client::builder(config.clone()).connect_timeout(timeout);
                if let Some(tls) = tls {
                    builder = builder.tls(tls.clone());
                }
                builder.connect(host, *port).map_err(|e| from_error(1, &e))
            }
            Route::Mx {
                resolver,
                port,
                config,
                verified_tls,
                require_verified_tls,
            } => {
                let strict = require_verified_tls
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(destination));
                let hosts = match plan_mx(destination, resolver.as_ref()) {
                    MxPlan::Hosts(hosts) => hosts,
                    MxPlan::Fail(reason) => return Err(Attempt::all(1, Verdict::Fail, reason)),
                    MxPlan::Retry(reason) => {
                        return Err(Attempt::all(1, Verdict::BackOffDestination, reason))
                    }
                };
                let mut tried = Vec::new();
                for host in hosts {
                    // The certificate must name the host: a strict domain
                    // connects by name, the others by each address found.
                    let targets: Vec<String> = if strict || host.addresses.is_empty() {
                        vec![host.name.clone()]
                    } else {
                        host.addresses
                            .iter()
                            .take(2)
                            .map(|a| a.to_string())
                            .collect()
                    };
                    for target in targets {
                        let mut config = config.clone();
                        let builder = if strict {
                            config.tls = TlsPolicy::Required;
                            // By name for the certificate, at the addresses
                            // our resolver found (not the system's).
                            Client::builder(config)
                                .tls(verified_tls.clone())
                                .addresses(host.addresses.iter().copied())
                        } else {
                            // Opportunistic (RFC 7435): encrypted when
                            // offered, the certificate not checked, as MTAs do.
                            config.tls = TlsPolicy::Opportunistic;
                            Client::builder(config)
                                .tls(TlsSettings::new().dangerous_accept_invalid_certs())
                        };
                        match builder.connect_timeout(timeout).connect(&target, *port) {
                            Ok(client) => return Ok(client),
                            // Any failure, a 4yz or 5yz greeting too, moves
                            // on to the next address and the next MX.
                            Err(e) => tried.push(format!("{} ({target}): {e}", host.name)),
                        }
                    }
                }
                Err(Attempt::all(
                    1,
                    Verdict::BackOffDestination,
                    format!(
                        "no MX host of {destination} took the connection: {}",
                        tried.join("; ")
                    ),
                ))
            }
        }
    }
}

impl TransportWorker for SmtpWorker {
    fn attempt(
        &mut self,
        destination: &str,
        sender: &str,
        recipients: &[String],
        body: &[u8],
    ) -> Attempt {
        // Addresses the spool holds but SMTP cannot say fail on their own.
        let mut verdicts: Vec<Option<(Verdict, String)>> = vec![None; recipients.len()];
        let mut envelope = match reverse_path(sender) {
            Ok(path) => Envelope::new(path),
            Err(reason) => return Attempt::all(recipients.len(), Verdict::Fail, reason),
        };
        let mut sent = Vec::new();
        for (n, address) in recipients.iter().enumerate() {
            match mailbox(address) {
                Ok(m) => {
                    envelope = envelope.with_recipient(Recipient::new(m));
                    sent.push(n);
                }
                Err(reason) => verdicts[n] = Some((Verdict::Fail, reason)),
            }
        }
        if sent.is_empty() {
            return merge(verdicts, Attempt::all(0, Verdict::Fail, ""));
        }
        envelope = envelope.with_size(body.len() as u64);
        if body.iter().any(|b| *b >= 0x80) {
            envelope = envelope.with_body(Body::EightBitMime);
        }
        let mut client = match self.connections.remove(destination) {
            Some(mut client) => {
                client.take_what_arrived();
                if client.is_usable() {
                    client
                } else {
                    match self.connect(destination) {
                        Ok(c) => c,
                        Err(a) => {
                            return merge(
                                verdicts,
                                Attempt::all(sent.len(), a.destination, a.recipients[0].1.clone()),
                            )
                        }
                    }
                }
            }
            None => match self.connect(destination) {
                Ok(c) => c,
                Err(a) => {
                    return merge(
                        verdicts,
                        Attempt::all(sent.len(), a.destination, a.recipients[0].1.clone()),
                    )
                }
            },
        };
        let result = client.send(&envelope, body);
        let attempt = match &result {
            Ok(report) => from_report(report, sent.len()),
            Err(e) => from_error(sent.len(), e),
        };
        if client.is_usable() {
            self.connections.insert(destination.to_owned(), client);
        }
        merge(verdicts, attempt)
    }

    fn close_idle(&mut self) {
        for (_, client) in self.connections.drain() {
            let _ = client.quit();
        }
    }
}

/// Puts the transaction's answers in the places of the recipients that
/// were sent, beside those refused before sending.
fn merge(mut verdicts: Vec<Option<(Verdict, String)>>, attempt: Attempt) -> Attempt {
    let mut answers = attempt.recipients.into_iter();
    let recipients = verdicts
        .iter_mut()
        .map(|v| {
            v.take()
                .or_else(|| answers.next())
                .unwrap_or((Verdict::Retry, "no answer for this recipient".into()))
        })
        .collect();
    Attempt {
        recipients,
        destination: attempt.destination,
        remote_id: attempt.remote_id,
    }
}

fn reverse_path(sender: &str) -> Result<ReversePath, String> {
    if sender.is_empty() {
        return Ok(ReversePath::Null);
    }
    mailbox(sender).map(ReversePath::from)
}

fn mailbox(address: &str) -> Result<Mailbox, String> {
    Mailbox::parse(address)
        .or_else(|_| Mailbox::parse_utf8(address))
        .map_err(|e| format!("{address:?} is not a valid address: {e}"))
}

/// A reply as one line: `550 5.1.1 No such user`.
fn words(reply: &Reply) -> String {
    match reply.enhanced() {
        Some(status) => format!("{} {status} {}", reply.code().get(), reply.text()),
        None => format!("{} {}", reply.code().get(), reply.text()),
    }
}

fn reply_verdict(reply: &Reply) -> Verdict {
    classify_reply(reply.code().get(), &reply.text())
}

/// A finished transaction: each recipient by its RCPT reply, those
/// accepted by the final reply.
fn from_report(report: &DeliveryReport, n: usize) -> Attempt {
    let deciding = report
        .final_reply
        .as_ref()
        .filter(|r| !r.is_positive())
        .or(report.mail_reply.as_ref().filter(|r| !r.is_positive()));
    let final_words = report
        .final_reply
        .as_ref()
        .map(words)
        .unwrap_or_else(|| "250".into());
    let mut destination = Verdict::Delivered;
    let recipients: Vec<(Verdict, String)> = report
        .recipients
        .iter()
        .map(|(_, status)| match (status, deciding) {
            (RecipientStatus::Rejected(reply), _) => (reply_verdict(reply), words(reply)),
            (_, Some(reply)) => (reply_verdict(reply), words(reply)),
            (RecipientStatus::Accepted(_), None) => (Verdict::Delivered, final_words.clone()),
            (_, None) => (
                Verdict::Retry,
                "the server did not answer for this recipient".into(),
            ),
        })
        .collect();
    if let Some(reply) = deciding {
        destination = reply_verdict(reply);
    } else if recipients
        .iter()
        .any(|(v, _)| *v == Verdict::BackOffDestination)
    {
        destination = Verdict::BackOffDestination;
    }
    let mut recipients = recipients;
    recipients.resize(
        n,
        (
            Verdict::Retry,
            "the server did not answer for this recipient".into(),
        ),
    );
    Attempt {
        recipients,
        destination,
        remote_id: report.queue_id.clone(),
    }
}

/// The front door's error: the adapter's as usual; a setting, a token or
/// an address the front door refused keeps the mail and rests the
/// destination until someone fixes it.
fn from_mailer_error(n: usize, error: &mailer::Error) -> Attempt {
    match error {
        mailer::Error::Transport(e) => from_error(n, e),
        other => Attempt::all(n, Verdict::BackOffDestination, other.to_string()),
    }
}

/// An attempt that ended in an error.
fn from_error(n: usize, error: &Error) -> Attempt {
    match error {
        Error::Rejected { report, .. } => from_report(report, n),
        Error::Resolve { .. } | Error::Connect { .. } => {
            Attempt::failure(n, ConnectionFailure::Connect, error.to_string())
        }
        Error::Tls { .. } | Error::TlsConfig { .. } | Error::TlsNotConfigured { .. } => {
            Attempt::failure(n, ConnectionFailure::Tls, error.to_string())
        }
        Error::Session { error: core, .. } | Error::NoGreeting { error: core, .. } => {
            from_client_error(n, core, error.to_string())
        }
        _ => Attempt::failure(n, ConnectionFailure::Dropped, error.to_string()),
    }
}

fn from_client_error(n: usize, core: &ClientError, words_of_error: String) -> Attempt {
    match core {
        ClientError::ServiceClosing { .. } => {
            Attempt::all(n, Verdict::BackOffDestination, words_of_error)
        }
        ClientError::Rejected { reply, .. } => {
            Attempt::all(n, reply_verdict(reply), words_of_error)
        }
        ClientError::StartTlsUnavailable
        | ClientError::StartTlsRefused(_)
        | ClientError::PlaintextAfterStartTls => {
            Attempt::failure(n, ConnectionFailure::Tls, words_of_error)
        }
        // A login problem is the sender's to fix: keep the mail and wait.
        ClientError::AuthFailed {
            kind: AuthFailure::Temporary,
            ..
        } => Attempt::all(n, Verdict::Retry, words_of_error),
        ClientError::AuthFailed { .. }
        | ClientError::AuthUnavailable { .. }
        | ClientError::AuthNeedsTls => Attempt::all(n, Verdict::BackOffDestination, words_of_error),
        ClientError::ExtensionMissing(_) | ClientError::MessageTooBig { .. } => {
            Attempt::all(n, Verdict::Fail, words_of_error)
        }
        ClientError::Timeout { .. } => {
            Attempt::failure(n, ConnectionFailure::Timeout, words_of_error)
        }
        _ => Attempt::failure(n, ConnectionFailure::Dropped, words_of_error),
    }
}
