//! The directory: which domains are local, which addresses in them reach
//! which users (accounts, aliases, catch-all, sub-addressing), who may send
//! as whom, and password checks.

use crate::address::{canonical_address, canonical_domain, split_address, without_detail};
use crate::password::{HashedPassword, VerifyGate};
use crate::quota::parse_quota;
use crate::users_file::{UsersFile, UsersFileError};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How deep aliases may nest (an alias naming an alias ...).
pub const MAX_ALIAS_DEPTH: usize = 8;

/// The directory's part of the server's configuration (its `[directory]`
/// table):
///
/// ```toml
/// domains = ["example.org", "example.net"]
/// default_quota = "1G"
/// [aliases]
/// "postmaster@example.org" = ["ana@example.org"]
/// "team@example.org" = ["ana@example.org", "bo@example.org", "partner@elsewhere.example"]
/// [catch_all]
/// "example.net" = "ana@example.org"
/// ```
#[derive(Deserialize, Default, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DirectoryConfig {
    /// The local domains. Domains of the users, aliases and catch-alls are
    /// local too.
    pub domains: Vec<String>,
    /// Alias address → target addresses (accounts, other aliases, or
    /// addresses elsewhere).
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Domain → the address that receives mail for its unknown local parts.
    pub catch_all: BTreeMap<String, String>,
    /// The quota of users whose line gives none (`"1G"`); none: unlimited.
    pub default_quota: Option<String>,
}

/// What is wrong with the directory's configuration or users file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountsError {
    /// The users file could not be read or is malformed.
    #[error(transparent)]
    UsersFile(#[from] UsersFileError),
    /// A configured domain is not a domain.
    #[error("the local domain {0:?} is not a domain")]
    BadDomain(String),
    /// An alias, alias target or catch-all target is not an address.
    #[error("{0:?} in the directory configuration is not an address (local@domain)")]
    BadAddress(String),
    /// An alias has the address of an account.
    #[error("the alias {0} is also an account; remove one of them")]
    AliasShadowsUser(String),
    /// An alias (or catch-all) leads to an address in a local domain that
    /// reaches nobody.
    #[error("{from} leads to {target}, which is no account or alias of a local domain")]
    UnknownTarget {
        /// The alias, or `catch-all of DOMAIN`.
        from: String,
        /// The target that reaches nobody.
        target: String,
    },
    /// Aliases that lead back to themselves, or nest deeper than
    /// [`MAX_ALIAS_DEPTH`].
    #[error("the alias {0} leads back to itself or nests more than 8 deep")]
    AliasLoop(String),
    /// An alias with no target.
    #[error("the alias {0} has no target")]
    EmptyAlias(String),
    /// `default_quota` is not a size.
    #[error("the default quota {0:?} is not a size such as 500M, 2G or 1048576")]
    BadQuota(String),
}

/// A user that mail is delivered to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalUser {
    /// The account's canonical address (lowercase A-label domain).
    pub address: String,
    /// Its quota in bytes (its own, or the default); `None`: unlimited.
    pub quota: Option<u64>,
}

/// Where mail to an address goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// To these local users (several through an alias), none elsewhere.
    Local(Vec<LocalUser>),
    /// Through an alias that names addresses elsewhere: to these local
    /// users (maybe none) and forwarded to the `remote` addresses.
    Forward {
        /// The local users among the targets.
        local: Vec<LocalUser>,
        /// The targets outside the local domains, to be relayed to.
        remote: Vec<String>,
    },
    /// A local domain without such a user, alias or catch-all (550 5.1.1).
    UnknownUser,
    /// Not a local domain (relay only for authenticated clients).
    NotLocal,
}

#[derive(Clone)]
struct Account {
    hash: HashedPassword,
    quota: Option<u64>,
}

/// What an alias or catch-all expands to.
#[derive(Debug, Clone, Default)]
struct Expansion {
    /// Canonical account addresses, in order, without repeats.
    local: Vec<String>,
    /// Addresses elsewhere, in order, without repeats.
    remote: Vec<String>,
}

/// The directory, loaded from the users file and the configuration.
/// Cheap to share (`Arc<Accounts>`); every method takes `&self`.
///
/// ```
/// use mail_accounts::{Accounts, DirectoryConfig, HashedPassword, Resolution, UsersFile};
/// let mut users = UsersFile::new();
/// users.add("ana@example.org", HashedPassword::new("s3cret")?, None)?;
/// let mut config = DirectoryConfig::default();
/// config.aliases.insert("team@example.org".into(), vec!["ana@example.org".into()]);
/// let accounts = Accounts::from_users(&users, &config)?;
/// assert!(matches!(accounts.resolve("ana+news@EXAMPLE.org"), Resolution::Local(u) if u[0].address == "ana@example.org"));
/// assert!(matches!(accounts.resolve("team@example.org"), Resolution::Local(_)));
/// assert_eq!(accounts.resolve("zed@example.org"), Resolution::UnknownUser);
/// assert_eq!(accounts.resolve("zed@elsewhere.example"), Resolution::NotLocal);
/// assert!(accounts.verify("ana@example.org", "s3cret"));
/// assert!(accounts.may_send_as("ana@example.org", "team@example.org"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Accounts {
    source: Option<PathBuf>,
    config: DirectoryConfig,
    domains: BTreeSet<String>,
    accounts: BTreeMap<String, Account>,
    /// Every alias with its full expansion.
    aliases: BTreeMap<String, Expansion>,
    /// Domain → the expansion of its catch-all target.
    catch_all: BTreeMap<String, Expansion>,
    /// Account → the aliases that lead to it (who may send as them).
    sendable: BTreeMap<String, BTreeSet<String>>,
    default_quota: Option<u64>,
    dummy: Option<HashedPassword>,
    gate: Arc<VerifyGate>,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts")
            .field("source", &self.source)
            .field("domains", &self.domains)
            .field("users", &self.accounts.keys().collect::<Vec<_>>())
            .field("aliases", &self.aliases.keys().collect::<Vec<_>>())
            .field("max_concurrent_verifications", &self.gate.limit())
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// Reads the users file (when given) and builds the directory with
    /// `config`. At most twice the machine's cores argon2 verifications
    /// run at once.
    pub fn load(
        users_file: Option<&Path>,
        config: &DirectoryConfig,
    ) -> Result<Accounts, AccountsError> {
        Accounts::load_with_gate(users_file, config, Arc::new(VerifyGate::for_this_machine()))
    }

    fn load_with_gate(
        users_file: Option<&Path>,
        config: &DirectoryConfig,
        gate: Arc<VerifyGate>,
    ) -> Result<Accounts, AccountsError> {
        let users = match users_file {
            Some(path) => UsersFile::read(path)?,
            None => UsersFile::new(),
        };
        let mut accounts = Accounts::build(&users, config, gate)?;
        accounts.source = users_file.map(Path::to_owned);
        Ok(accounts)
    }

    /// Builds the directory from a users file already in memory.
    pub fn from_users(
        users: &UsersFile,
        config: &DirectoryConfig,
    ) -> Result<Accounts, AccountsError> {
        Accounts::build(users, config, Arc::new(VerifyGate::for_this_machine()))
    }

    /// Reads the same users file and configuration again (after the file
    /// changed). The new directory shares this one's bound on concurrent
    /// verifications.
    pub fn reload(&self) -> Result<Accounts, AccountsError> {
        Accounts::load_with_gate(self.source.as_deref(), &self.config, Arc::clone(&self.gate))
    }

    /// Lets at most `limit` (at least 1) argon2 verifications run at once;
    /// the others wait their turn.
    pub fn with_max_concurrent_verifications(mut self, limit: usize) -> Accounts {
        self.gate = Arc::new(VerifyGate::new(limit));
        self
    }

    fn build(
        users: &UsersFile,
        config: &DirectoryConfig,
        gate: Arc<VerifyGate>,
    ) -> Result<Accounts, AccountsError> {
        let default_quota = match &config.default_quota {
            Some(text) => {
                Some(parse_quota(text).ok_or_else(|| AccountsError::BadQuota(text.clone()))?)
            }
            None => None,
        };
        let mut domains = BTreeSet::new();
        for domain in &config.domains {
            domains.insert(
                canonical_domain(domain).ok_or_else(|| AccountsError::BadDomain(domain.clone()))?,
            );
        }
        let mut accounts = BTreeMap::new();
        for entry in users.entries() {
            if let Some((_, domain)) = split_address(entry.address()) {
                domains.insert(domain);
            }
            accounts.insert(
                entry.address().to_owned(),
                Account {
                    hash: entry.hash().clone(),
                    quota: entry.quota(),
                },
            );
        }
        let address = |text: &String| {
            canonical_address(text).ok_or_else(|| AccountsError::BadAddress(text.clone()))
        };
        let mut raw_aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (alias, targets) in &config.aliases {
            let alias_key = address(alias)?;
            if accounts.contains_key(&alias_key) {
                return Err(AccountsError::AliasShadowsUser(alias_key));
            }
            if targets.is_empty() {
                return Err(AccountsError::EmptyAlias(alias_key));
            }
            let targets = targets.iter().map(address).collect::<Result<Vec<_>, _>>()?;
            if let Some((_, domain)) = split_address(&alias_key) {
                domains.insert(domain);
            }
            raw_aliases.entry(alias_key).or_default().extend(targets);
        }
        let mut raw_catch_all = BTreeMap::new();
        for (domain, target) in &config.catch_all {
            let domain =
                canonical_domain(domain).ok_or_else(|| AccountsError::BadDomain(domain.clone()))?;
            domains.insert(domain.clone());
            raw_catch_all.insert(domain, address(target)?);
        }

        let mut directory = Accounts {
            source: None,
            config: config.clone(),
            domains,
            // Only with accounts: without any, no timing tells anything.
            dummy: accounts
                .values()
                .next()
                .and_then(|a: &Account| HashedPassword::dummy_like(Some(&a.hash))),
            accounts,
            aliases: BTreeMap::new(),
            catch_all: BTreeMap::new(),
            sendable: BTreeMap::new(),
            default_quota,
            gate,
        };
        for alias in raw_aliases.keys() {
            let mut expansion = Expansion::default();
            directory.expand_alias(alias, &raw_aliases, &mut Vec::new(), &mut expansion)?;
            for user in &expansion.local {
                directory
                    .sendable
                    .entry(user.clone())
                    .or_default()
                    .insert(alias.clone());
            }
            directory.aliases.insert(alias.clone(), expansion);
        }
        for (domain, target) in raw_catch_all {
            let mut expansion = Expansion::default();
            let from = format!("the catch-all of {domain}");
            directory.expand_target(
                &from,
                &target,
                &raw_aliases,
                &mut Vec::new(),
                &mut expansion,
            )?;
            directory.catch_all.insert(domain, expansion);
        }
        Ok(directory)
    }

    /// Expands `alias` into `into`, following nested aliases; `path` holds
    /// the aliases being expanded (a loop guard).
    fn expand_alias(
        &self,
        alias: &str,
        raw: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        into: &mut Expansion,
    ) -> Result<(), AccountsError> {
        if path.iter().any(|seen| seen == alias) || path.len() >= MAX_ALIAS_DEPTH {
            return Err(AccountsError::AliasLoop(
                path.first().cloned().unwrap_or_else(|| alias.to_owned()),
            ));
        }
        path.push(alias.to_owned());
        for target in raw.get(alias).map(Vec::as_slice).unwrap_or_default() {
            self.expand_target(alias, target, raw, path, into)?;
        }
        path.pop();
        Ok(())
    }

    /// One target: an account (or its sub-address), an alias, or an
    /// address elsewhere.
    fn expand_target(
        &self,
        from: &str,
        target: &str,
        raw: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        into: &mut Expansion,
    ) -> Result<(), AccountsError> {
        let in_local_domain =
            split_address(target).is_some_and(|(_, domain)| self.domains.contains(&domain));
        if !in_local_domain {
            if !into.remote.iter().any(|r| r == target) {
                into.remote.push(target.to_owned());
            }
            return Ok(());
        }
        let candidates = std::iter::once(target.to_owned()).chain(without_detail(target));
        for candidate in candidates {
            if self.accounts.contains_key(&candidate) {
                if !into.local.contains(&candidate) {
                    into.local.push(candidate);
                }
                return Ok(());
            }
            if raw.contains_key(&candidate) {
                return self.expand_alias(&candidate, raw, path, into);
            }
        }
        Err(AccountsError::UnknownTarget {
            from: from.to_owned(),
            target: target.to_owned(),
        })
    }

    fn local_user(&self, address: &str) -> Option<LocalUser> {
        let account = self.accounts.get(address)?;
        Some(LocalUser {
            address: address.to_owned(),
            quota: account.quota.or(self.default_quota),
        })
    }

    fn resolution(&self, expansion: &Expansion) -> Resolution {
        let local = expansion
            .local
            .iter()
            .filter_map(|a| self.local_user(a))
            .collect();
        if expansion.remote.is_empty() {
            Resolution::Local(local)
        } else {
            Resolution::Forward {
                local,
                remote: expansion.remote.clone(),
            }
        }
    }

    /// An account's or alias's resolution at exactly `address`.
    fn resolve_exact(&self, address: &str) -> Option<Resolution> {
        if let Some(user) = self.local_user(address) {
            return Some(Resolution::Local(vec![user]));
        }
        self.aliases
            .get(address)
            .map(|expansion| self.resolution(expansion))
    }

    /// Where mail to `address` goes. The domain is compared case-blind (as
    /// its A-label); the local part exactly. In order: an account, an
    /// alias, the same two without a `+detail`, the domain's catch-all.
    pub fn resolve(&self, address: &str) -> Resolution {
        let Some((local, domain)) = split_address(address) else {
            return Resolution::NotLocal;
        };
        if !self.domains.contains(&domain) {
            return Resolution::NotLocal;
        }
        let exact = format!("{local}@{domain}");
        if let Some(found) = self.resolve_exact(&exact) {
            return found;
        }
        if let Some(found) = without_detail(&exact).and_then(|base| self.resolve_exact(&base)) {
            return found;
        }
        match self.catch_all.get(&domain) {
            Some(expansion) => self.resolution(expansion),
            None => Resolution::UnknownUser,
        }
    }

    /// True when `password` is the password of the account `user` (its
    /// address, domain case-blind). An unknown user goes through argon2
    /// too (against a hash of nobody's password with the same parameters),
    /// so timing does not tell which accounts exist. At most a fixed
    /// number of verifications run at once; the others wait.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let account = canonical_address(user).and_then(|address| self.accounts.get(&address));
        self.gate.run(|| match (account, &self.dummy) {
            (Some(account), _) => account.hash.matches(password),
            (None, Some(dummy)) => {
                let _ = dummy.matches(password);
                false
            }
            (None, None) => false,
        })
    }

    /// True when the account `user` may use `mail_from` as its envelope
    /// sender: its own address (or a `+detail` of it), or an alias that
    /// leads to it (or a `+detail` of that).
    pub fn may_send_as(&self, user: &str, mail_from: &str) -> bool {
        let (Some(user), Some(from)) = (canonical_address(user), canonical_address(mail_from))
        else {
            return false;
        };
        if !self.accounts.contains_key(&user) {
            return false;
        }
        let owns = |address: &str| {
            address == user
                || self
                    .sendable
                    .get(&user)
                    .is_some_and(|aliases| aliases.contains(address))
        };
        owns(&from) || without_detail(&from).is_some_and(|base| owns(&base))
    }

    /// True when `domain` is local (compared as its lowercase A-label).
    pub fn is_local_domain(&self, domain: &str) -> bool {
        canonical_domain(domain).is_some_and(|domain| self.domains.contains(&domain))
    }

    /// The accounts' canonical addresses, sorted.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.accounts.keys().map(String::as_str)
    }

    /// The local domains (lowercase A-labels), sorted.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.domains.iter().map(String::as_str)
    }

    /// The account at `address`, when there is one (no alias or
    /// sub-address followed).
    pub fn user(&self, address: &str) -> Option<LocalUser> {
        self.local_user(&canonical_address(address)?)
    }

    /// How many argon2 verifications may run at once.
    pub fn max_concurrent_verifications(&self) -> usize {
        self.gate.limit()
    }

    /// The most argon2 verifications that ran at once so far.
    pub fn peak_concurrent_verifications(&self) -> usize {
        self.gate.peak()
    }

    /// How many argon2 verifications ran so far (an unknown user's too).
    pub fn verifications(&self) -> u64 {
        self.gate.total()
    }
}
