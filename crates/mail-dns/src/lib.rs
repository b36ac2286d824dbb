//! DNS lookups for mail: MX, A/AAAA, TXT and PTR, through
//! [hickory-resolver](https://docs.rs/hickory-resolver), from blocking code or
//! from any async runtime.
//!
//! hickory runs on tokio. So that a user of smol, async-std or plain threads
//! does not have to run tokio, a [`Resolver`] owns a small tokio runtime of
//! its own (one worker thread) and hands back a [`Lookup`]: a future that any
//! executor can await, and that blocking code can [`wait`](Lookup::wait) on.
//!
//! Answers are cached with their TTLs (hickory's cache); every lookup has a
//! deadline, after which it fails with [`DnsError::Timeout`] — a temporary
//! error, never a hang. The server to ask is configurable (`--dns HOST:PORT`
//! in the tool), which is how the tests point it at a local DNS server.
//!
//! ```no_run
//! use mail_dns::Resolver;
//!
//! let dns = Resolver::system()?;
//! for mx in dns.mx("example.com").wait()? {
//!     println!("{} {}", mx.preference, mx.exchange);
//! }
//! # Ok::<(), mail_dns::DnsError>(())
//! ```

mod block_on;
#[cfg(feature = "testing")]
pub mod testing;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Why a lookup gave no answer.
///
/// The distinction matters to every caller: SPF, DMARC and MX routing treat
/// a name that does not exist (or has no record of the type) as a definite
/// answer, and a timeout or server failure as "try again later".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN).
    #[error("{name} does not exist (NXDOMAIN)")]
    NoSuchName {
        /// The name asked for.
        name: String,
    },
    /// The name exists but has no record of the type asked for (NODATA).
    #[error("{name} has no {kind} record")]
    NoRecords {
        /// The name asked for.
        name: String,
        /// The record type, e.g. `MX`.
        kind: &'static str,
    },
    /// No answer before the deadline.
    #[error("no answer for {name} within {after:?}")]
    Timeout {
        /// The name asked for.
        name: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// The server failed (SERVFAIL, REFUSED), or it could not be reached.
    #[error("looking up {name} failed: {reason}")]
    Failed {
        /// The name asked for.
        name: String,
        /// What went wrong, in the resolver's words.
        reason: String,
    },
    /// The name is not a valid domain name.
    #[error("{name:?} is not a valid domain name: {reason}")]
    InvalidName {
        /// The text given.
        name: String,
        /// Why it is not a name.
        reason: String,
    },
    /// The resolver could not be set up (its runtime, or the system's
    /// configuration).
    #[error("the DNS resolver could not start: {0}")]
    Setup(String),
}

impl DnsError {
    /// A temporary failure (timeout, server failure, unreachable server): the
    /// answer may be different later. SPF and DMARC call this `temperror`.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            DnsError::Timeout { .. } | DnsError::Failed { .. } | DnsError::Setup(_)
        )
    }

    /// The name does not exist, or has no record of the type: a definite
    /// negative answer.
    pub fn is_negative(&self) -> bool {
        matches!(
            self,
            DnsError::NoSuchName { .. } | DnsError::NoRecords { .. }
        )
    }
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mx {
    /// Lower is preferred.
    pub preference: u16,
    /// The mail exchanger's host name, in lower case ASCII (A-labels), without
    /// the trailing dot. `"."` in the record (a null MX, RFC 7505) is the
    /// empty string here; see [`Mx::is_null`].
    pub exchange: String,
}

impl Mx {
    /// A null MX (RFC 7505): the domain accepts no mail.
    pub fn is_null(&self) -> bool {
        self.exchange.is_empty()
    }
}

/// Where a [`Resolver`] sends its questions, and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnsConfig {
    /// The servers to ask; empty means the system's (`/etc/resolv.conf`).
    pub servers: Vec<SocketAddr>,
    /// How long one lookup may take in all (every attempt and server).
    pub timeout: Duration,
    /// How many times a query is sent to a server that did not answer.
    pub attempts: usize,
}

impl Default for DnsConfig {
    /// The system's servers, 10 s per lookup, 2 attempts.
    fn default() -> Self {
        DnsConfig {
            servers: Vec::new(),
            timeout: Duration::from_secs(10),
            attempts: 2,
        }
    }
}

impl DnsConfig {
    /// Asks only `server` (UDP, with TCP for truncated answers).
    pub fn server(server: SocketAddr) -> DnsConfig {
        DnsConfig {
            servers: vec![server],
            ..DnsConfig::default()
        }
    }

    /// Sets the deadline of one lookup.
    pub fn with_timeout(mut self, timeout: Duration) -> DnsConfig {
        self.timeout = timeout;
        self
    }
}

/// A caching DNS resolver, cheap to clone (clones share the cache).
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: tokio::runtime::Runtime,
    resolver: TokioResolver,
    timeout: Duration,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// Asks the system's servers (`/etc/resolv.conf`).
    pub fn system() -> Result<Resolver, DnsError> {
        Resolver::new(DnsConfig::default())
    }

    /// Asks only `server`: `--dns HOST:PORT`.
    pub fn with_server(server: SocketAddr) -> Result<Resolver, DnsError> {
        Resolver::new(DnsConfig::server(server))
    }

    /// A resolver with `config`.
    pub fn new(config: DnsConfig) -> Result<Resolver, DnsError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mail-dns")
            .enable_all()
            .build()
            .map_err(|e| DnsError::Setup(e.to_string()))?;
        let resolver_config = if config.servers.is_empty() {
            let (system, _) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| DnsError::Setup(format!("reading the system's DNS servers: {e}")))?;
            system
        } else {
            let servers = config
                .servers
                .iter()
                .map(|addr| {
                    let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                    for connection in &mut server.connections {
                        connection.port = addr.port();
                    }
                    server
                })
                .collect();
            ResolverConfig::from_name_servers(servers)
        };
        let mut options = ResolverOpts::default();
        options.attempts = config.attempts.max(1);
        // One attempt's share of the whole deadline.
        let per_attempt = config.timeout / u32::try_from(options.attempts).unwrap_or(1);
        options.timeout = per_attempt.max(Duration::from_millis(100));
        // Names are always fully qualified: no search list, no hosts file.
        options.ndots = 0;
        options.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        options.try_tcp_on_error = true;
        let resolver = {
            // hickory's builder spawns nothing, but its resolver must be
            // made where a tokio runtime is current.
            let _guard = runtime.enter();
            TokioResolver::builder_with_config(resolver_config, TokioRuntimeProvider::default())
                .with_options(options)
                .build()
                .map_err(|e| DnsError::Setup(e.to_string()))?
        };
        Ok(Resolver {
            inner: Arc::new(Inner {
                runtime,
                resolver,
                timeout: config.timeout,
            }),
        })
    }

    /// The MX records of `domain`, most preferred first (equal preferences
    /// in the order the server gave). A domain with no MX record gives
    /// [`DnsError::NoRecords`]; RFC 5321 §5.1 then says to use its address
    /// (the implicit MX), which is the caller's decision.
    pub fn mx(&self, domain: &str) -> Lookup<Vec<Mx>> {
        self.lookup(domain, RecordType::MX, |data| match data {
            RData::MX(mx) => Some(Mx {
                preference: mx.preference,
                exchange: host_name(&mx.exchange),
            }),
            _ => None,
        })
        .map(|mut list| {
            list.sort_by_key(|mx| mx.preference);
            list
        })
    }

    /// The TXT records at `name`, each one's strings joined (as SPF, DKIM
    /// and DMARC read them). Bytes that are not UTF-8 are replaced.
    pub fn txt(&self, name: &str) -> Lookup<Vec<String>> {
        self.lookup(name, RecordType::TXT, |data| match data {
            RData::TXT(txt) => {
                let joined: Vec<u8> = txt
                    .txt_data
                    .iter()
                    .flat_map(|s| s.iter().copied())
                    .collect();
                Some(String::from_utf8_lossy(&joined).into_owned())
            }
            _ => None,
        })
    }

    /// The IPv4 addresses of `host` (A records).
    pub fn ipv4(&self, host: &str) -> Lookup<Vec<IpAddr>> {
        self.lookup(host, RecordType::A, |data| match data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
    }

    /// The IPv6 addresses of `host` (AAAA records).
    pub fn ipv6(&self, host: &str) -> Lookup<Vec<IpAddr>> {
        self.lookup(host, RecordType::AAAA, |data| match data {
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
    }

    /// Every address of `host`: A and AAAA asked together, IPv4 first. Fails
    /// only when both fail (with the A lookup's error, or a temporary one
    /// when either was temporary).
    pub fn ips(&self, host: &str) -> Lookup<Vec<IpAddr>> {
        let v4 = self.ipv4(host);
        let v6 = self.ipv6(host);
        Lookup::from_future(self.inner.runtime.handle(), async move {
            let (v4, v6) = (v4.await, v6.await);
            match (v4, v6) {
                (Ok(mut a), Ok(b)) => {
                    a.extend(b);
                    Ok(a)
                }
                (Ok(a), Err(_)) | (Err(_), Ok(a)) => Ok(a),
                (Err(a), Err(b)) if !a.is_temporary() && b.is_temporary() => Err(b),
                (Err(a), Err(_)) => Err(a),
            }
        })
    }

    /// The names of `ip` (PTR records of its `in-addr.arpa`/`ip6.arpa`
    /// name), without trailing dots.
    pub fn ptr(&self, ip: IpAddr) -> Lookup<Vec<String>> {
        let name = Name::from(ip);
        self.lookup_name(name.to_ascii(), name, RecordType::PTR, |data| match data {
            RData::PTR(ptr) => Some(host_name(&ptr.0)),
            _ => None,
        })
    }

    fn lookup<T: Send + 'static>(
        &self,
        name: &str,
        kind: RecordType,
        pick: fn(&RData) -> Option<T>,
    ) -> Lookup<Vec<T>> {
        match fully_qualified(name) {
            Ok(fqdn) => self.lookup_name(name.to_owned(), fqdn, kind, pick),
            Err(reason) => Lookup::ready(Err(DnsError::InvalidName {
                name: name.to_owned(),
                reason,
            })),
        }
    }

    fn lookup_name<T: Send + 'static>(
        &self,
        shown: String,
        fqdn: Name,
        kind: RecordType,
        pick: fn(&RData) -> Option<T>,
    ) -> Lookup<Vec<T>> {
        let resolver = self.inner.resolver.clone();
        let timeout = self.inner.timeout;
        let kind_name = record_type_name(kind);
        Lookup::from_future(self.inner.runtime.handle(), async move {
            let answer = tokio::time::timeout(timeout, resolver.lookup(fqdn, kind)).await;
            match answer {
                Err(_) => Err(DnsError::Timeout {
                    name: shown,
                    after: timeout,
                }),
                Ok(Err(e)) if e.is_nx_domain() => Err(DnsError::NoSuchName { name: shown }),
                Ok(Err(e)) if e.is_no_records_found() => Err(DnsError::NoRecords {
                    name: shown,
                    kind: kind_name,
                }),
                Ok(Err(e)) => Err(DnsError::Failed {
                    name: shown,
                    reason: e.to_string(),
                }),
                Ok(Ok(lookup)) => {
                    let found: Vec<T> = lookup
                        .answers()
                        .iter()
                        .filter(|record| record.record_type() == kind)
                        .filter_map(|record| pick(&record.data))
                        .collect();
                    if found.is_empty() {
                        Err(DnsError::NoRecords {
                            name: shown,
                            kind: kind_name,
                        })
                    } else {
                        Ok(found)
                    }
                }
            }
        })
    }
}

/// `name` as an absolute DNS name (a trailing dot added), checked.
fn fully_qualified(name: &str) -> Result<Name, String> {
    let trimmed = name.trim_end_matches('.');
    if trimmed.is_empty() {
        return Err("empty".to_owned());
    }
    let mut parsed = Name::from_utf8(trimmed).map_err(|e| e.to_string())?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// A host name from a record: lower case, A-labels, no trailing dot; the
/// root (`.`, a null MX) is the empty string.
fn host_name(name: &Name) -> String {
    if name.is_root() {
        return String::new();
    }
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

fn record_type_name(kind: RecordType) -> &'static str {
    match kind {
        RecordType::MX => "MX",
        RecordType::TXT => "TXT",
        RecordType::A => "A",
        RecordType::AAAA => "AAAA",
        RecordType::PTR => "PTR",
        _ => "requested",
    }
}

/// A lookup in progress: `.await` it on any executor, or
/// [`wait`](Lookup::wait) for it from blocking code.
#[must_use = "a lookup does nothing unless awaited or waited for"]
pub struct Lookup<T> {
    state: LookupState<T>,
}

enum LookupState<T> {
    Ready(Option<Result<T, DnsError>>),
    Running(tokio::task::JoinHandle<Result<T, DnsError>>),
    Mapped(Pin<Box<dyn Future<Output = Result<T, DnsError>> + Send>>),
}

impl<T> fmt::Debug for Lookup<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lookup").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Lookup<T> {
    fn ready(result: Result<T, DnsError>) -> Lookup<T> {
        Lookup {
            state: LookupState::Ready(Some(result)),
        }
    }

    fn from_future(
        runtime: &tokio::runtime::Handle,
        future: impl Future<Output = Result<T, DnsError>> + Send + 'static,
    ) -> Lookup<T> {
        Lookup {
            state: LookupState::Running(runtime.spawn(future)),
        }
    }

    fn map<U: Send + 'static>(self, f: impl FnOnce(T) -> U + Send + 'static) -> Lookup<U> {
        Lookup {
            state: LookupState::Mapped(Box::pin(async move { self.await.map(f) })),
        }
    }

    /// Blocks the calling thread until the answer is in. Do not call it
    /// from inside an async task (await the lookup there).
    pub fn wait(self) -> Result<T, DnsError> {
        block_on::block_on(self)
    }
}

// No field is pinned: the result is moved out whole, and the task handle and
// the boxed future are themselves `Unpin`.
impl<T> Unpin for Lookup<T> {}

impl<T> Future for Lookup<T> {
    type Output = Result<T, DnsError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            LookupState::Ready(result) => Poll::Ready(result.take().unwrap_or_else(|| {
                Err(DnsError::Setup(
                    "a finished lookup was polled again".to_owned(),
                ))
            })),
            LookupState::Running(handle) => Pin::new(handle).poll(cx).map(|joined| {
                joined.unwrap_or_else(|e| {
                    Err(DnsError::Setup(format!("the lookup task failed: {e}")))
                })
            }),
            LookupState::Mapped(future) => future.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_asking() {
        let dns = Resolver::with_server(([127, 0, 0, 1], 9).into()).unwrap();
        let err = dns.mx("").wait().unwrap_err();
        assert!(matches!(err, DnsError::InvalidName { .. }), "{err}");
        let err = dns.txt("a..b").wait().unwrap_err();
        assert!(matches!(err, DnsError::InvalidName { .. }), "{err}");
    }

    #[test]
    fn a_server_that_does_not_answer_is_a_temporary_error_within_the_deadline() {
        // A UDP socket that never replies.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let config = DnsConfig::server(silent.local_addr().unwrap())
            .with_timeout(Duration::from_millis(600));
        let dns = Resolver::new(config).unwrap();
        let started = std::time::Instant::now();
        let err = dns.mx("example.test").wait().unwrap_err();
        assert!(err.is_temporary(), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn null_mx_and_host_names() {
        assert!(Mx {
            preference: 0,
            exchange: String::new()
        }
        .is_null());
        assert_eq!(
            host_name(&Name::from_ascii("MX1.Example.COM.").unwrap()),
            "mx1.example.com"
        );
        assert_eq!(host_name(&Name::root()), "");
        assert_eq!(
            fully_qualified("example.com").unwrap().to_ascii(),
            "example.com."
        );
        assert_eq!(
            fully_qualified("example.com.").unwrap().to_ascii(),
            "example.com."
        );
    }
}
