//! The server's traits for this workspace's own pieces: `mail_accounts`'
//! directory and AUTH limiter, `maildrop`'s per-user store, `mail_filter`'s
//! chain with greylisting and DNSBL ([`Filters`]), and `mail_metrics`'
//! counters.

use crate::config::ServerConfig;
use crate::directory::{Directory, LocalUser, Recipient};
use crate::filter::{FilterOutcome, FilterVerdict, MessageFacts, MessageFilter, Refusal};
use crate::limiter::LoginLimiter;
use crate::metrics::{Event, ServerMetrics};
use crate::store::{IncomingMessage, MailboxStore, StoreError};
use mail_filter::{Dnsbl, FilterChain, FilterError, Greylist, MessageInfo, Verdict};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

fn local_user(user: mail_accounts::LocalUser) -> LocalUser {
    LocalUser {
        address: user.address,
        quota: user.quota,
    }
}

impl Directory for mail_accounts::Accounts {
    fn resolve(&self, address: &str) -> Recipient {
        match mail_accounts::Accounts::resolve(self, address) {
            mail_accounts::Resolution::Local(users) => {
                Recipient::Local(users.into_iter().map(local_user).collect())
            }
            mail_accounts::Resolution::Forward { local, remote } => Recipient::Forward {
                local: local.into_iter().map(local_user).collect(),
                remote,
            },
            mail_accounts::Resolution::NotLocal => Recipient::NotLocal,
            mail_accounts::Resolution::UnknownUser => Recipient::Unknown,
        }
    }
    fn verify(&self, user: &str, password: &str) -> bool {
        mail_accounts::Accounts::verify(self, user, password)
    }
    fn may_send_as(&self, user: &str, mail_from: &str) -> bool {
        mail_accounts::Accounts::may_send_as(self, user, mail_from)
    }
    fn is_local_domain(&self, domain: &str) -> bool {
        mail_accounts::Accounts::is_local_domain(self, domain)
    }
}

/// The directory of a running server follows its users file: each lookup
/// asks the file's current version (looked at, at most, once a second).
impl Directory for mail_accounts::LiveAccounts {
    fn resolve(&self, address: &str) -> Recipient {
        Directory::resolve(&*self.current(), address)
    }
    fn verify(&self, user: &str, password: &str) -> bool {
        self.current().verify(user, password)
    }
    fn may_send_as(&self, user: &str, mail_from: &str) -> bool {
        self.current().may_send_as(user, mail_from)
    }
    fn is_local_domain(&self, domain: &str) -> bool {
        self.current().is_local_domain(domain)
    }
}

impl LoginLimiter for mail_accounts::AuthLimiter {
    fn allowed(&mut self, user: Option<&str>, ip: IpAddr, now: Instant) -> bool {
        mail_accounts::AuthLimiter::allowed(self, user, ip, now)
    }
    fn failed(&mut self, user: &str, ip: IpAddr, now: Instant) {
        if user.is_empty() {
            self.failed_without_user(ip, now);
        } else {
            mail_accounts::AuthLimiter::failed(self, user, ip, now);
        }
    }
    fn succeeded(&mut self, user: &str, ip: IpAddr) {
        mail_accounts::AuthLimiter::succeeded(self, user, ip);
    }
}

fn store_error(error: maildrop::StoreError) -> StoreError {
    match error {
        maildrop::StoreError::OverQuota { user } => StoreError::OverQuota { user },
        maildrop::StoreError::Io(e) => StoreError::Io(e),
        other => StoreError::Other(other.to_string()),
    }
}

impl MailboxStore for maildrop::MailStore {
    type Incoming = maildrop::Incoming;
    fn begin(&self) -> Result<maildrop::Incoming, StoreError> {
        maildrop::MailStore::begin(self).map_err(store_error)
    }
    fn room(&self, user: &str, quota: Option<u64>, size: u64) -> Result<bool, StoreError> {
        maildrop::MailStore::room(self, user, quota, size).map_err(store_error)
    }
    fn maildir(&self, user: &str) -> Result<PathBuf, StoreError> {
        maildrop::MailStore::maildir(self, user).map_err(store_error)
    }
}

impl IncomingMessage for maildrop::Incoming {
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        maildrop::Incoming::write(self, chunk)
    }
    fn path(&self) -> &Path {
        maildrop::Incoming::path(self)
    }
    fn commit(
        self,
        prepend: &[u8],
        users: &[(&str, Option<u64>)],
        folder: Option<&str>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let outcomes = self
            .commit_each(prepend, users, folder)
            .map_err(store_error)?;
        Ok(outcomes
            .into_iter()
            .map(|o| o.map(|_| ()).map_err(store_error))
            .collect())
    }
    fn abort(self) {
        maildrop::Incoming::abort(self);
    }
}

/// The filters of the configuration: the chain at the end of DATA, and
/// greylisting and DNSBL lookups when enabled.
pub struct Filters {
    chain: FilterChain,
    greylist: Option<Greylist>,
    dnsbl: Option<Dnsbl>,
}

impl fmt::Debug for Filters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filters")
            .field("chain", &self.chain.names().collect::<Vec<_>>())
            .field("greylist", &self.greylist.is_some())
            .field("dnsbl", &self.dnsbl.is_some())
            .finish()
    }
}

impl Filters {
    /// From `[filters]`, `[greylist]` and `[dnsbl]`; DNSBL zones are asked
    /// through `dns` (the system's resolver when `None`).
    pub fn from_config(
        config: &ServerConfig,
        dns: Option<SocketAddr>,
    ) -> Result<Filters, FilterError> {
        let chain = FilterChain::from_config(&config.filters)?;
        let greylist = if config.greylist.enabled {
            Some(
                Greylist::new(config.greylist.clone())
                    .map_err(|e| FilterError::Config(e.to_string()))?,
            )
        } else {
            None
        };
        let dnsbl = if config.dnsbl.enabled {
            let dns_config = match dns {
                Some(server) => mail_dns::DnsConfig::server(server),
                None => mail_dns::DnsConfig::default(),
            };
            let resolver = mail_dns::Resolver::new(dns_config.with_timeout(Duration::from_secs(5)))
                .map_err(|e| FilterError::Config(e.to_string()))?;
            Some(Dnsbl::new(&config.dnsbl, resolver)?)
        } else {
            None
        };
        Ok(Filters {
            chain,
            greylist,
            dnsbl,
        })
    }
}

fn refusal(verdict: Verdict) -> Option<Refusal> {
    match verdict {
        Verdict::Reject { code, status, text } => Some(Refusal { code, status, text }),
        Verdict::TempFail { text } => Some(Refusal {
            code: 451,
            status: (4, 7, 1),
            text,
        }),
        _ => None,
    }
}

impl MessageFilter for Filters {
    fn check_message(&self, facts: &MessageFacts, message: &Path) -> FilterOutcome {
        let info = MessageInfo {
            client_ip: facts.client_ip,
            helo: facts.helo.clone(),
            mail_from: facts.mail_from.clone(),
            recipients: facts.recipients.clone(),
            authenticated: facts.authenticated.clone(),
            queue_id: facts.queue_id.clone(),
            size: facts.size,
        };
        let outcome = self.chain.run(&info, message);
        let verdict = match outcome.verdict {
            Verdict::Accept { add_headers } => FilterVerdict::Accept { add_headers },
            Verdict::Reject { code, status, text } => {
                FilterVerdict::Reject(Refusal { code, status, text })
            }
            Verdict::Quarantine {
                reason,
                add_headers,
            } => FilterVerdict::Quarantine {
                reason,
                add_headers,
            },
            Verdict::TempFail { text } => FilterVerdict::TempFail { text },
        };
        FilterOutcome {
            verdict,
            decided_by: outcome.decided_by,
            per_filter: outcome.per_filter,
        }
    }

    fn check_client(&self, ip: IpAddr) -> Option<Refusal> {
        let listing = self.dnsbl.as_ref()?.check(ip)?;
        refusal(listing.verdict())
    }

    fn check_recipient(
        &self,
        ip: IpAddr,
        mail_from: &str,
        recipient: &str,
        now: SystemTime,
    ) -> Option<Refusal> {
        let greylist = self.greylist.as_ref()?;
        match greylist.check(ip, mail_from, recipient, now) {
            Ok(decision) => decision.verdict().and_then(refusal),
            // A greylist that cannot decide lets mail through rather than
            // defer it forever.
            Err(error) => {
                tracing::error!(%error, "greylist failed; passing");
                None
            }
        }
    }
}

impl ServerMetrics for mail_metrics::MailMetrics {
    fn record(&self, event: Event<'_>) {
        use mail_metrics::MessageOutcome;
        match event {
            Event::Connected { listener } => {
                self.connections_counter(listener).inc();
                self.connections_gauge(listener).inc();
            }
            Event::Disconnected { listener } => {
                self.connections_gauge(listener).dec();
            }
            Event::Accepted {
                listener,
                bytes,
                quarantined,
                took,
            } => {
                let outcome = if quarantined {
                    MessageOutcome::Quarantined
                } else {
                    MessageOutcome::Accepted
                };
                self.message(listener, outcome, "ok");
                self.message_bytes(listener, bytes);
                self.reply_time(took);
            }
            Event::Rejected { listener, reason } => {
                self.message(listener, MessageOutcome::Rejected, reason);
            }
            Event::AuthFailed { listener } => self.auth_failure(listener),
            Event::FilterVerdict { filter, verdict } => self.filter_verdict(filter, verdict),
            Event::StorageError => self.storage_error(),
        }
    }
}
