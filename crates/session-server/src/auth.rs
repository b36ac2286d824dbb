//! Who may log in: the one question the POP3 and IMAP servers (blocking or
//! async) ask, with the client's address so that failures can be counted
//! per address across connections and protocols.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What an [`Authenticator`] says of a login.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Login {
    /// The credentials prove a user: this is their Maildir.
    Granted(PathBuf),
    /// Wrong credentials (or no such user): the session refuses, delays
    /// its answer and counts the failure.
    Refused,
    /// Too many failures for this user or from this address: refused at
    /// once, without the password being checked (POP3 `-ERR [AUTH]`, IMAP
    /// `NO [UNAVAILABLE]`).
    Limited,
}

impl From<Option<PathBuf>> for Login {
    /// `Some(maildir)` is [`Login::Granted`], `None` [`Login::Refused`].
    fn from(maildir: Option<PathBuf>) -> Login {
        match maildir {
            Some(maildir) => Login::Granted(maildir),
            None => Login::Refused,
        }
    }
}

/// Decides who may log in and where their mail is; `C` is the protocol's
/// credentials (`pop3_proto::Credentials`, `imap_proto::Credentials`).
///
/// Implemented for closures `Fn(&C, SocketAddr) -> R` where `R` is a
/// [`Login`] or an `Option<PathBuf>` (the user's Maildir, or `None` to
/// refuse). Check the password (a stored hash against the credentials'
/// password); the address is the client's, for a limiter shared with other
/// protocols. It may block (argon2, a database): the blocking servers call
/// it on the connection's thread, the async ones off the executor.
pub trait Authenticator<C: ?Sized>: Send + Sync + 'static {
    /// What these credentials, sent from `peer`, are worth.
    fn login(&self, credentials: &C, peer: SocketAddr) -> Login;
}

impl<C, F, R> Authenticator<C> for F
where
    C: ?Sized,
    F: Fn(&C, SocketAddr) -> R + Send + Sync + 'static,
    R: Into<Login>,
{
    fn login(&self, credentials: &C, peer: SocketAddr) -> Login {
        self(credentials, peer).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask<C: ?Sized + 'static>(auth: &dyn Authenticator<C>, c: &C) -> Login {
        auth.login(c, SocketAddr::from(([192, 0, 2, 7], 40000)))
    }

    #[test]
    fn closures_answer_with_an_option_or_a_login() {
        let by_option = |user: &str, _peer: SocketAddr| (user == "ann").then(|| PathBuf::from("m"));
        assert_eq!(ask(&by_option, "ann"), Login::Granted(PathBuf::from("m")));
        assert_eq!(ask(&by_option, "ben"), Login::Refused);
        let by_peer = |_user: &str, peer: SocketAddr| {
            if peer.ip().is_loopback() {
                Login::Granted(PathBuf::from("m"))
            } else {
                Login::Limited
            }
        };
        assert_eq!(ask(&by_peer, "ann"), Login::Limited);
    }
}
