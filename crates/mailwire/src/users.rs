//! The accounts `mailwire serve` accepts for AUTH: from a file of
//! `user:password` lines and from the `MAILWIRE_SERVE_USERS` environment
//! variable (`user:pass,user2:pass2`).
//!
//! Passwords are never printed: `Debug` shows only the user names, and a
//! parse error names the line, not its content.

use anyhow::{bail, Context};
use smtp_proto::sasl::AuthRequest;
use smtp_proto::Secret;
use std::fmt;
use std::path::Path;

/// The environment variable that may hold accounts.
pub(crate) const USERS_ENV: &str = "MAILWIRE_SERVE_USERS";

/// User names and their passwords.
#[derive(Default)]
pub(crate) struct Users {
    accounts: Vec<(String, Secret<String>)>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.accounts.iter().map(|(name, _)| name))
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
        self.accounts.is_empty()
    }

    /// How many accounts there are.
    pub(crate) fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Adds the accounts of a users file: one `user:password` per line; the
    /// password is everything after the first colon (it may hold colons);
    /// blank lines and lines starting with `#` are ignored.
    pub(crate) fn add_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the users file {}", path.display()))?;
        self.add_lines(&text)
            .with_context(|| format!("in the users file {}", path.display()))
    }

    fn add_lines(&mut self, text: &str) -> anyhow::Result<()> {
        for (index, line) in text.lines().enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            self.add_entry(trimmed)
                .with_context(|| format!("line {}", index + 1))?;
        }
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
        if self.accounts.iter().any(|(n, _)| n == name) {
            bail!("user {name} is defined twice");
        }
        self.accounts
            .push((name.to_owned(), Secret::new(password.to_owned())));
        Ok(())
    }

    /// True when `request` carries the right password of a known user.
    pub(crate) fn check(&self, request: &AuthRequest) -> bool {
        self.verify(request.username(), |password| {
            request.verify_password(password)
        })
    }

    /// True when `username` is known and `proves` accepts its password
    /// (each protocol checks its own way: PLAIN compares, CRAM-MD5 and
    /// APOP hash).
    pub(crate) fn verify(&self, username: &str, proves: impl Fn(&str) -> bool) -> bool {
        match self.accounts.iter().find(|(name, _)| name == username) {
            Some((_, password)) => proves(password.expose()),
            None => {
                // The same work for an unknown user as for a wrong password,
                // so timing does not tell which names exist.
                let _ = proves("\u{0}mailwire-no-such-user");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(username: &str, password: &str) -> AuthRequest {
        AuthRequest::Plain {
            authzid: None,
            username: username.to_owned(),
            password: Secret::new(password.to_owned()),
        }
    }

    #[test]
    fn a_users_file_skips_comments_and_keeps_colons_in_passwords() {
        let mut users = Users::new();
        users
            .add_lines("# accounts\n\nalice:s3cret\r\n  # indented comment\nbob:pa:ss word\n")
            .unwrap();
        assert_eq!(users.len(), 2);
        assert!(users.check(&plain("alice", "s3cret")));
        assert!(users.check(&plain("bob", "pa:ss word")));
        assert!(!users.check(&plain("bob", "pa:ss")));
        assert!(!users.check(&plain("carol", "s3cret")));
    }

    #[test]
    fn the_environment_list_is_comma_separated() {
        let mut users = Users::new();
        users.add_env_list("u1:p1,u2:p2,").unwrap();
        assert_eq!(users.len(), 2);
        assert!(users.check(&plain("u2", "p2")));
        assert!(!users.check(&plain("u1", "p2")));
    }

    #[test]
    fn bad_lines_are_errors_that_never_show_the_password() {
        for bad in [
            "nocolon-secretvalue",
            ":secretvalue",
            "a b:secretvalue",
            "x:",
        ] {
            let error = Users::new().add_lines(bad).unwrap_err();
            let shown = format!("{error:#}");
            assert!(shown.contains("line 1"), "{shown}");
            assert!(!shown.contains("secretvalue"), "{shown}");
        }
        let error = Users::new().add_lines("a:1\na:2\n").unwrap_err();
        assert!(format!("{error:#}").contains("line 2"));
    }

    #[test]
    fn debug_shows_names_only() {
        let mut users = Users::new();
        users.add_env_list("alice:hunter2").unwrap();
        let shown = format!("{users:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn a_plain_authzid_for_someone_else_is_refused() {
        let mut users = Users::new();
        users.add_env_list("alice:pw").unwrap();
        let request = AuthRequest::Plain {
            authzid: Some("root".to_owned()),
            username: "alice".to_owned(),
            password: Secret::new("pw".to_owned()),
        };
        assert!(!users.check(&request));
    }
}
