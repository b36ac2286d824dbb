//! The accounts `mailwire serve` accepts for AUTH: from a users file of
//! `address:argon2-hash[:quota]` lines (written by `mailwire user add`,
//! checked with argon2 through `mail-accounts`), and from the
//! `MAILWIRE_SERVE_USERS` environment variable (`user:pass,user2:pass2`), a
//! development convenience kept in memory only, never on disk.
//!
//! A hashed account can only be checked against the password itself (AUTH
//! PLAIN and LOGIN, POP3 USER/PASS, IMAP LOGIN); CRAM-MD5 and APOP need the
//! plain password, so they work for the environment's accounts only.
//!
//! Passwords are never printed: `Debug` shows only the user names, and a
//! parse error names the line, not its content.

use anyhow::{bail, Context};
use mail_accounts::{Accounts, DirectoryConfig};
use smtp_proto::sasl::AuthRequest;
use smtp_proto::Secret;
use std::fmt;
use std::path::Path;

/// The environment variable that may hold accounts.
pub(crate) const USERS_ENV: &str = "MAILWIRE_SERVE_USERS";

/// What an environment account's password is compared with for a user
/// nobody has, so that an unknown name costs what a known one does.
const NO_SUCH_USER: &str = "\u{0}mailwire-no-such-user";

/// User names and their passwords.
#[derive(Default)]
pub(crate) struct Users {
    /// From `--users-file`: argon2 hashes.
    hashed: Option<Accounts>,
    /// From the environment: plain passwords, in memory only.
    plain: Vec<(String, Secret<String>)>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hashed = self.hashed.iter().flat_map(Accounts::users);
        f.debug_list()
            .entries(hashed.chain(self.plain.iter().map(|(name, _)| name.as_str())))
            .finish()
    }
}

impl Users {
    /// No accounts.
    pub(crate) fn new() -> Users {
        Users::default()
    }

    /// True when no account is configured (AUTH is then not offered).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many accounts there are.
    pub(crate) fn len(&self) -> usize {
        self.hashed.as_ref().map_or(0, |a| a.users().count()) + self.plain.len()
    }

    /// True when some account has only a hash: CRAM-MD5 cannot serve it.
    pub(crate) fn has_hashed(&self) -> bool {
        self.hashed
            .as_ref()
            .is_some_and(|a| a.users().next().is_some())
    }

    /// Adds the accounts of a users file (see `mailwire user`).
    pub(crate) fn add_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let accounts = Accounts::load(Some(path), &DirectoryConfig::default())
            .with_context(|| format!("in the users file {}", path.display()))?;
        self.hashed = Some(accounts);
        Ok(())
    }

    /// Adds the accounts of `user:pass,user2:pass2` (a password cannot hold
    /// a comma here; use a users file for that).
    pub(crate) fn add_env_list(&mut self, list: &str) -> anyhow::Result<()> {
        for (index, entry) in list.split(',').enumerate() {
            if entry.trim().is_empty() {
                continue;
            }
            self.add_entry(entry)
                .with_context(|| format!("entry {} of {USERS_ENV}", index + 1))?;
        }
        Ok(())
    }

    fn add_entry(&mut self, entry: &str) -> anyhow::Result<()> {
        let Some((name, password)) = entry.split_once(':') else {
            bail!("expected user:password (no colon found)");
        };
        let name = name.trim();
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("the user name is empty or holds a space or control character");
        }
        if password.is_empty() {
            bail!("the password of user {name} is empty");
        }
        let in_file = self.hashed.as_ref().is_some_and(|a| a.user(name).is_some());
        if in_file || self.plain.iter().any(|(n, _)| n == name) {
            bail!("user {name} is defined twice");
        }
        self.plain
            .push((name.to_owned(), Secret::new(password.to_owned())));
        Ok(())
    }

    /// True when `request` carries the right password of a known user.
    pub(crate) fn check(&self, request: &AuthRequest) -> bool {
        match request {
            AuthRequest::Plain { password, .. } | AuthRequest::Login { password, .. } => {
                // The request's own password checks only its authzid: a
                // PLAIN one for someone else is refused.
                let password = password.expose();
                self.check_password(request.username(), password)
                    && request.verify_password(password)
            }
            _ => self.check_digest(request.username(), |password| {
                request.verify_password(password)
            }),
        }
    }

    /// True when `password` is the password of `username`: compared with
    /// an environment account's, or checked with argon2 against the users
    /// file's hash (an unknown user costs an argon2 run too).
    pub(crate) fn check_password(&self, username: &str, password: &str) -> bool {
        if let Some((_, stored)) = self.plain.iter().find(|(name, _)| name == username) {
            return constant_time_eq(stored.expose().as_bytes(), password.as_bytes());
        }
        match &self.hashed {
            Some(accounts) => accounts.verify(username, password),
            None => {
                let _ = constant_time_eq(NO_SUCH_USER.as_bytes(), password.as_bytes());
                false
            }
        }
    }

    /// True when `proves` accepts the plain password of `username` (CRAM-MD5
    /// and APOP recompute a digest): environment accounts only, since the
    /// users file holds no plain password.
    pub(crate) fn check_digest(&self, username: &str, proves: impl Fn(&str) -> bool) -> bool {
        match self.plain.iter().find(|(name, _)| name == username) {
            Some((_, password)) => proves(password.expose()),
            None => {
                // The same work for an unknown user as for a wrong password,
                // so timing does not tell which names exist.
                let _ = proves(NO_SUCH_USER);
                false
            }
        }
    }

    /// True when POP3 `credentials` are right: USER/PASS and PLAIN for
    /// every account, APOP for the environment's.
    pub(crate) fn check_pop3(&self, credentials: &pop3_proto::Credentials) -> bool {
        let username = credentials.username();
        match credentials.password() {
            Some(password) => {
                let password = password.expose();
                self.check_password(username, password) && credentials.verify_password(password)
            }
            None => self.check_digest(username, |p| credentials.verify_password(p)),
        }
    }

    /// True when IMAP `credentials` are right (LOGIN or AUTHENTICATE PLAIN;
    /// a PLAIN authorization identity for someone else is refused).
    pub(crate) fn check_imap(&self, credentials: &imap_proto::Credentials) -> bool {
        let for_someone_else = credentials
            .authzid
            .as_ref()
            .is_some_and(|a| *a != credentials.username);
        let right = self.check_password(&credentials.username, credentials.password.expose());
        right && !for_someone_else
    }
}

/// Compares two secrets in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_accounts::{HashedPassword, UsersFile};

    fn plain(username: &str, password: &str) -> AuthRequest {
        AuthRequest::Plain {
            authzid: None,
            username: username.to_owned(),
            password: Secret::new(password.to_owned()),
        }
    }

    /// A users file with these accounts, in a directory removed on drop.
    struct File(std::path::PathBuf);

    impl File {
        fn new(name: &str, accounts: &[(&str, &str)]) -> File {
            let dir =
                std::env::temp_dir().join(format!("mailwire-users-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let mut users = UsersFile::parse("# accounts\n").unwrap();
            for (address, password) in accounts {
                users
                    .add(address, HashedPassword::new(password).unwrap(), None)
                    .unwrap();
            }
            users.write(&dir.join("users")).unwrap();
            File(dir)
        }

        fn path(&self) -> std::path::PathBuf {
            self.0.join("users")
        }
    }

    impl Drop for File {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_hashed_users_file_checks_passwords_with_argon2() {
        let file = File::new("hashed", &[("alice@example.org", "correct horse:battery")]);
        let mut users = Users::new();
        users.add_file(&file.path()).unwrap();
        assert_eq!(users.len(), 1);
        assert!(users.has_hashed());
        assert!(users.check(&plain("alice@example.org", "correct horse:battery")));
        assert!(users.check(&plain("alice@EXAMPLE.org", "correct horse:battery")));
        assert!(!users.check(&plain("alice@example.org", "correct horse")));
        assert!(!users.check(&plain("carol@example.org", "correct horse:battery")));
        // CRAM-MD5 cannot be checked against a hash.
        let cram = AuthRequest::CramMd5 {
            username: "alice@example.org".to_owned(),
            challenge: "<1.2@x>".to_owned(),
            digest: Secret::new("00".repeat(16)),
        };
        assert!(!users.check(&cram));
    }

    #[test]
    fn the_environment_list_is_comma_separated_and_joins_the_file() {
        let file = File::new("env", &[("alice@example.org", "pw-a")]);
        let mut users = Users::new();
        users.add_file(&file.path()).unwrap();
        users.add_env_list("u1:p1,u2:p2,").unwrap();
        assert_eq!(users.len(), 3);
        assert!(users.check(&plain("u2", "p2")));
        assert!(!users.check(&plain("u1", "p2")));
        assert!(users.check(&plain("alice@example.org", "pw-a")));
        let error = users.add_env_list("alice@example.org:x").unwrap_err();
        assert!(format!("{error:#}").contains("defined twice"), "{error:#}");
        let mut only_env = Users::new();
        only_env.add_env_list("u1:p1").unwrap();
        assert!(!only_env.has_hashed());
    }

    #[test]
    fn bad_entries_are_errors_that_never_show_the_password() {
        for bad in [
            "nocolon-secretvalue",
            ":secretvalue",
            "a b:secretvalue",
            "x:",
        ] {
            let error = Users::new().add_env_list(bad).unwrap_err();
            let shown = format!("{error:#}");
            assert!(shown.contains("entry 1"), "{shown}");
            assert!(!shown.contains("secretvalue"), "{shown}");
        }
        let error = Users::new().add_env_list("a:1,a:2").unwrap_err();
        assert!(format!("{error:#}").contains("entry 2"));
        // An old plain-text users file names the line and the fix.
        let dir = File::new("plain", &[]);
        std::fs::write(dir.path(), "alice:secretvalue\n").unwrap();
        let error = Users::new().add_file(&dir.path()).unwrap_err();
        let shown = format!("{error:#}");
        assert!(
            shown.contains("line 1") && shown.contains("mailwire user passwd"),
            "{shown}"
        );
        assert!(!shown.contains("secretvalue"), "{shown}");
    }

    #[test]
    fn debug_shows_names_only() {
        let file = File::new("debug", &[("alice@example.org", "hunter3")]);
        let mut users = Users::new();
        users.add_file(&file.path()).unwrap();
        users.add_env_list("bob:hunter2").unwrap();
        let shown = format!("{users:?}");
        assert!(
            shown.contains("alice@example.org") && shown.contains("bob"),
            "{shown}"
        );
        assert!(
            !shown.contains("hunter") && !shown.contains("argon2"),
            "{shown}"
        );
    }

    #[test]
    fn a_plain_authzid_for_someone_else_is_refused() {
        let file = File::new("authzid", &[("alice@example.org", "pw")]);
        let mut users = Users::new();
        users.add_file(&file.path()).unwrap();
        users.add_env_list("bob:pw").unwrap();
        for name in ["alice@example.org", "bob"] {
            let request = AuthRequest::Plain {
                authzid: Some("root".to_owned()),
                username: name.to_owned(),
                password: Secret::new("pw".to_owned()),
            };
            assert!(!users.check(&request), "{name}");
            let imap = imap_proto::Credentials {
                username: name.to_owned(),
                password: Secret::new("pw".to_owned()),
                authzid: Some("root".to_owned()),
            };
            assert!(!users.check_imap(&imap), "{name}");
        }
    }
}
