//! DKIM signing while streaming: the one piece that the front door
//! ([`MailerBuilder::dkim`](crate::MailerBuilder::dkim)), `mailwire send`
//! and `mailwire bulk` share.
//!
//! A DKIM-Signature goes in front of the message but depends on all of it,
//! so the message is read twice: once while it is copied to an unlinked
//! temporary file (mode 0600), then from that file through the signers and
//! again behind the signature fields. Memory stays constant for any size;
//! only the header section (at most 1 MiB) is kept, so that a caller can
//! choose its signing domain from the From field.

use mailwire_auth::dkim::{SignError, SigningStream};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};

pub use mailwire_auth::dkim::DkimSigner;

/// The most of the message's head kept in memory for [`Spooled::header`].
const MAX_HEAD: usize = 1024 * 1024;

/// Why a message could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DkimError {
    /// Reading the message or the temporary file failed.
    #[error("spooling the message for signing: {0}")]
    Io(#[from] io::Error),
    /// The signer refused (no From field, a header section too large, a
    /// key that failed).
    #[error("DKIM signing: {0}")]
    Sign(#[from] SignError),
}

/// A message copied to a temporary file, ready to sign.
#[derive(Debug)]
pub struct Spooled {
    file: File,
    head: Vec<u8>,
}

impl Spooled {
    /// Copies `message` to a new unlinked temporary file.
    pub fn new(mut message: impl Read) -> Result<Spooled, DkimError> {
        let mut file = temp_file()?;
        let mut head = Vec::new();
        let mut buf = vec![0; 64 * 1024];
        let mut head_done = false;
        loop {
            let n = match message.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            file.write_all(&buf[..n])?;
            if !head_done {
                let room = MAX_HEAD.saturating_sub(head.len()).min(n);
                head.extend_from_slice(&buf[..room]);
                head_done = head.len() >= MAX_HEAD || head.windows(4).any(|w| w == b"\r\n\r\n");
            }
        }
        file.flush()?;
        Ok(Spooled { file, head })
    }

    /// The header section (up to and including the CRLF that ends the last
    /// field; the first 1 MiB of the message when there is no end in it).
    pub fn header(&self) -> &[u8] {
        let end = self
            .head
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(self.head.len(), |i| i + 2);
        &self.head[..end]
    }

    /// The domain of the From field, lowercased, if there is one.
    pub fn from_domain(&self) -> Option<String> {
        let fields = mailwire_auth::header::split_fields(self.header());
        mailwire_auth::check::from_domain(&fields)
    }

    /// Hashes the message from the file and returns it with one
    /// DKIM-Signature field per signer on top (the message unchanged without
    /// signers). `now` is seconds since the Unix epoch (`t=`).
    pub fn sign(mut self, signers: &[DkimSigner], now: u64) -> Result<Signed, DkimError> {
        self.file.seek(SeekFrom::Start(0))?;
        let mut fields = String::new();
        if !signers.is_empty() {
            let mut stream = SigningStream::new(signers);
            let mut buf = vec![0; 64 * 1024];
            loop {
                let n = match self.file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                };
                stream.feed(&buf[..n])?;
            }
            fields = stream.finish(now)?.concat();
            self.file.seek(SeekFrom::Start(0))?;
        }
        Ok(Signed {
            inner: io::Cursor::new(fields.into_bytes()).chain(self.file),
        })
    }
}

/// A signed message: the signature fields, then the message from its
/// temporary file (removed when this is dropped).
#[derive(Debug)]
pub struct Signed {
    inner: io::Chain<io::Cursor<Vec<u8>>, File>,
}

impl Read for Signed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// Signs `message` with every signer while streaming; see the module
/// documentation. `now` is seconds since the Unix epoch.
pub fn sign(message: impl Read, signers: &[DkimSigner], now: u64) -> Result<Signed, DkimError> {
    Spooled::new(message)?.sign(signers, now)
}

/// The signature fields (with CRLF, one per signer) to put in front of a
/// message already held in memory: no temporary file. `now` is seconds since
/// the Unix epoch.
pub fn sign_bytes(message: &[u8], signers: &[DkimSigner], now: u64) -> Result<String, DkimError> {
    if signers.is_empty() {
        return Ok(String::new());
    }
    let mut stream = SigningStream::new(signers);
    stream.feed(message)?;
    Ok(stream.finish(now)?.concat())
}

/// The current time in seconds since the Unix epoch, for `t=`.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A new temporary file, already unlinked where the system allows, so
/// nothing is left behind.
fn temp_file() -> io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("mailer-dkim-{}-{nanos}-{n}", std::process::id()));
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path)?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailwire_auth::dkim::SigningKey;

    fn signer() -> DkimSigner {
        DkimSigner::new(SigningKey::ed25519_from_seed(&[7; 32]), "example.com", "s1").unwrap()
    }

    #[test]
    fn signing_puts_the_fields_of_the_in_memory_signer_in_front() {
        // Larger than one 64 KiB read, so the file is read in several.
        let message = [
            &b"From: a@example.com\r\nSubject: hi\r\n\r\n"[..],
            &b"a line of the body  \r\n".repeat(10_000),
        ]
        .concat();
        let mut out = Vec::new();
        sign(&message[..], &[signer()], 1_700_000_000)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        let field = signer().sign(&message, 1_700_000_000).unwrap();
        assert_eq!(out, [field.as_bytes(), &message[..]].concat());
        let fields = sign_bytes(&message, &[signer()], 1_700_000_000).unwrap();
        assert_eq!(fields, field);
    }

    #[test]
    fn the_from_domain_comes_from_the_header_only() {
        let spooled =
            Spooled::new(&b"From: A <a@Mail.Example.org>\r\n\r\nFrom: b@other.example\r\n"[..])
                .unwrap();
        assert_eq!(spooled.header(), b"From: A <a@Mail.Example.org>\r\n");
        assert_eq!(spooled.from_domain().as_deref(), Some("mail.example.org"));
    }

    #[test]
    fn without_signers_the_message_is_unchanged_and_without_from_it_is_refused() {
        let mut out = Vec::new();
        sign(&b"X: 1\r\n\r\nb\r\n"[..], &[], 0)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"X: 1\r\n\r\nb\r\n");
        let err = sign(&b"X: 1\r\n\r\nb\r\n"[..], &[signer()], 0).unwrap_err();
        assert!(matches!(err, DkimError::Sign(SignError::NoFrom)), "{err}");
    }
}
