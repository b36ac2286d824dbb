//! Mail an alias forwards to another domain, and the bounces that come
//! back for it: the `[srs]` table, the envelope sender of forwarded copies
//! (rewritten with [`Srs`]), and the SRS0 recipients this server takes
//! back (routed to the original sender, forged or expired ones refused).

use crate::directory::Directory;
use crate::filter::MessageFilter;
use crate::handler::{lock, reply, MailHandler};
use crate::srs::{self, Srs, SrsError, DEFAULT_MAX_AGE_DAYS};
use crate::store::MailboxStore;
use serde::Deserialize;
use smtp_blocking::{AuthThrottle, Connection, Decision};
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Forged or malformed SRS addresses a client network may send within
/// [`SRS_GUESS_WINDOW`] before its SRS recipients wait: a genuine bounce
/// never carries a forged hash, and the hash has about 2^21 values.
pub(crate) const SRS_GUESSES: u32 = 10;

/// How long a client network's forged SRS addresses count.
pub(crate) const SRS_GUESS_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The count of forged SRS addresses per client network (bounded).
pub(crate) fn srs_guess_throttle() -> AuthThrottle {
    AuthThrottle::new(SRS_GUESSES, SRS_GUESS_WINDOW)
}

/// The `[srs]` table. SRS is on when a secret is given, inline or in a
/// file (the file's content, without its final line break). `Debug` does
/// not show the secret.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SrsConfig {
    /// The secret, inline.
    pub secret: Option<String>,
    /// A file holding the secret (readable by the server only).
    pub secret_file: Option<PathBuf>,
    /// The domain of rewritten addresses (default: the first of
    /// `[directory] domains`); bounces to them must reach this server.
    pub domain: Option<String>,
    /// How long a rewritten address is taken back, in days (default 21).
    pub max_age_days: u64,
}

impl Default for SrsConfig {
    fn default() -> Self {
        SrsConfig {
            secret: None,
            secret_file: None,
            domain: None,
            max_age_days: DEFAULT_MAX_AGE_DAYS,
        }
    }
}

impl fmt::Debug for SrsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrsConfig")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("secret_file", &self.secret_file)
            .field("domain", &self.domain)
            .field("max_age_days", &self.max_age_days)
            .finish()
    }
}

impl SrsConfig {
    /// The rewriting this table asks for (`None`: SRS is off), its domain
    /// defaulting to `default_domain`. Reads the secret file; the error
    /// says what is wrong without the secret.
    pub fn load(&self, default_domain: Option<&str>) -> Result<Option<Srs>, String> {
        let secret = match (&self.secret, &self.secret_file) {
            (Some(secret), _) => secret.clone().into_bytes(),
            (None, Some(path)) => {
                let mut bytes = read_secret(path)
                    .map_err(|e| format!("the SRS secret file {}: {e}", path.display()))?;
                while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    bytes.pop();
                }
                if bytes.iter().any(|b| *b == b'\n' || *b == b'\r') {
                    // postsrsd's file may list older secrets on further
                    // lines; taken whole, it would be another key than
                    // postsrsd's, and no address it wrote would come back.
                    return Err(format!(
                        "the SRS secret file {}: more than one line (a secret is one line)",
                        path.display()
                    ));
                }
                bytes
            }
            (None, None) => return Ok(None),
        };
        let Some(domain) = self.domain.as_deref().or(default_domain) else {
            return Err("SRS needs a domain: give [srs] domain".to_owned());
        };
        let srs = Srs::new(secret, domain)
            .map_err(|e| format!("[srs]: {e}"))?
            .with_max_age_days(self.max_age_days);
        Ok(Some(srs))
    }
}

/// The most a secret file may hold: a secret is a line of random text,
/// and a file far larger (`/dev/urandom`, say) is a mistake that must not
/// be read into memory without end.
const MAX_SECRET_FILE: u64 = 4096;

/// The secret file's bytes, refused when larger than [`MAX_SECRET_FILE`].
fn read_secret(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_SECRET_FILE} bytes: a secret is one line"
        )));
    }
    Ok(bytes)
}

fn now_secs() -> u64 {
    u64::try_from(crate::received::now_secs()).unwrap_or(0)
}

impl<D: Directory, S: MailboxStore, F: MessageFilter> MailHandler<D, S, F> {
    /// The `SRS0=...` local part of `address` at our SRS domain or a
    /// local one, when SRS is on.
    fn srs_local<'a>(&self, srs: &Srs, address: &'a str) -> Option<&'a str> {
        let (local, domain) = address.rsplit_once('@')?;
        let ours = domain.eq_ignore_ascii_case(srs.domain())
            || self.shared.directory.is_local_domain(domain);
        (ours && srs::is_srs0(local)).then_some(local)
    }

    /// The answer to RCPT TO an SRS0 address of ours (a bounce of mail we
    /// forwarded): accepted when genuine and young enough (it goes back
    /// through the spool), `550 5.1.1` when forged, altered or expired.
    /// `None` when `address` is no such address.
    ///
    /// A client network that sent [`SRS_GUESSES`] forged or malformed ones
    /// within [`SRS_GUESS_WINDOW`] is answered `450 4.7.1` for every SRS
    /// recipient (genuine ones too: they come back later) until the window
    /// passes: the hash is too short to be left to guessing, one RCPT
    /// after another, into a relay to any address.
    pub(crate) fn srs_recipient(&self, conn: &Connection, address: &str) -> Option<Decision> {
        let srs = self.shared.srs.as_ref()?;
        let local = self.srs_local(srs, address)?;
        let (ip, now) = (conn.peer.ip(), Instant::now());
        if lock(&self.shared.srs_guesses).is_blocked(ip, now) {
            return Some(self.refuse(
                "srs_invalid",
                reply(
                    450,
                    (4, 7, 1),
                    "Too many invalid SRS addresses from your network, try again later",
                ),
            ));
        }
        let checked = srs.reverse(local, now_secs());
        if matches!(&checked, Err(error) if *error != SrsError::Expired) {
            // Expired addresses carry a genuine hash: no guess.
            if let Some(failures) = lock(&self.shared.srs_guesses).record_failure(ip, now) {
                tracing::warn!(client = %ip, failures, "forged SRS addresses");
            }
        }
        match checked {
            Ok(_) if self.shared.outbound.is_some() => Some(Decision::Accept),
            Ok(_) => Some(self.refuse(
                "unknown_user",
                reply(
                    550,
                    (5, 1, 1),
                    "Recipient address rejected: this server has no spool to return it",
                ),
            )),
            Err(error) => {
                tracing::info!(recipient = %address, %error, "SRS address refused");
                Some(self.refuse(
                    "srs_invalid",
                    reply(
                        550,
                        (5, 1, 1),
                        "Recipient address rejected: invalid or expired SRS address",
                    ),
                ))
            }
        }
    }

    /// The original sender an SRS0 recipient of ours stands for, when the
    /// message's content starts (DATA). Its age was judged at its RCPT TO:
    /// a recipient taken on its last day is not lost (nor given to a
    /// catch-all) when the day ends between the two.
    pub(crate) fn srs_original(&self, address: &str) -> Option<String> {
        let srs = self.shared.srs.as_ref()?;
        let local = self.srs_local(srs, address)?;
        srs.original(local).ok()
    }

    /// The envelope sender of the copies that leave for other domains:
    /// rewritten with SRS when it is on and the sender is neither `<>` nor
    /// in a local domain (our own senders pass SPF as they are).
    pub(crate) fn forward_sender(&self, mail_from: &str) -> String {
        let Some(srs) = &self.shared.srs else {
            return mail_from.to_owned();
        };
        let Some((_, domain)) = mail_from.rsplit_once('@') else {
            return mail_from.to_owned();
        };
        if self.shared.directory.is_local_domain(domain)
            || domain.eq_ignore_ascii_case(srs.domain())
        {
            return mail_from.to_owned();
        }
        srs.forward(mail_from, now_secs())
            .unwrap_or_else(|| mail_from.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_file(contents: Option<&[u8]>, path: PathBuf) -> Result<Option<Srs>, String> {
        if let Some(contents) = contents {
            std::fs::write(&path, contents).unwrap();
        }
        let config = SrsConfig {
            secret_file: Some(path),
            ..SrsConfig::default()
        };
        config.load(Some("fwd.example"))
    }

    #[test]
    fn a_secret_file_is_one_line_read_without_its_line_break_and_never_without_bound() {
        let dir = std::env::temp_dir().join(format!("srs-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let srs = from_file(Some(b"s3cret\n"), dir.join("ok"))
            .unwrap()
            .unwrap();
        let inline = Srs::new(b"s3cret".to_vec(), "fwd.example").unwrap();
        assert_eq!(
            srs.forward("a@origin.example", 1_765_000_000),
            inline.forward("a@origin.example", 1_765_000_000)
        );
        // A file far too large for a secret is refused, without quoting it.
        let big = vec![b'k'; 1 << 20];
        let error = from_file(Some(&big), dir.join("big")).unwrap_err();
        assert!(error.contains("larger than"), "{error}");
        assert!(!error.contains("kkkk"), "{error}");
        // Several lines (postsrsd's list of secrets, the first signing)
        // would make another key than any of them: refused.
        let error = from_file(Some(b"n3wSecret\nold\n"), dir.join("lines")).unwrap_err();
        assert!(error.contains("more than one line"), "{error}");
        assert!(!error.contains("n3wSecret"), "{error}");
        // A device that never ends is refused too, at once.
        #[cfg(unix)]
        {
            let error = from_file(None, PathBuf::from("/dev/zero")).unwrap_err();
            assert!(error.contains("larger than"), "{error}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
