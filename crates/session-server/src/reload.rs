//! A server certificate that follows its files: replace the PEM files
//! (a renewal by certbot or acme.sh, say) and new handshakes get the new
//! certificate, without a restart.
//!
//! [`ReloadingCert`] is a rustls [`ResolvesServerCert`]: on a handshake it
//! looks at the files' modification time, size and inode at most once per
//! [`check_every`](ReloadingCert::load) and reloads them when one changed;
//! [`reload`](ReloadingCert::reload) does it at once (from a SIGHUP
//! handler, say). New files that do not load (half written, a key that does
//! not match the certificate, garbage) leave the old pair in service: the
//! reason is logged and kept ([`last_error`](ReloadingCert::last_error)),
//! and the files are tried again when they change again.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::fmt;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// Why the certificate files could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// A file could not be read.
    #[error("reading {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
    /// The certificate file holds no certificate, or a broken one.
    #[error("no usable certificate in {path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file holds no usable private key.
    #[error("no usable private key in {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key is not the certificate's.
    #[error("the private key in {key} does not match the certificate in {cert}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the configuration.
    #[error("setting up TLS: {0}")]
    Tls(String),
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode: meta.ino(),
    })
}

struct Check {
    last: Instant,
    /// The stamps of the files last tried, loaded or not.
    seen: (Option<Stamp>, Option<Stamp>),
    last_error: Option<CertError>,
}

/// A certificate and key loaded from PEM files and reloaded when they
/// change: a handshake looks at the files at most once per `check_every`
/// and reloads them when one changed; new files that do not load leave the
/// old pair in service, their reason kept in
/// [`last_error`](ReloadingCert::last_error).
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    check_every: Duration,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    check: Mutex<Check>,
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("check_every", &self.check_every)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    /// Loads the certificate chain (PEM, leaf first) and the private key
    /// (PEM: PKCS#8, PKCS#1 or SEC1), to be looked at again on a handshake
    /// at most every `check_every` (zero: on every handshake). Fails if
    /// they do not load now: a server must not start without a certificate.
    pub fn load(
        cert_path: impl Into<PathBuf>,
        key_path: impl Into<PathBuf>,
        check_every: Duration,
    ) -> Result<Arc<ReloadingCert>, CertError> {
        let (cert_path, key_path) = (cert_path.into(), key_path.into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = (stamp(&cert_path), stamp(&key_path));
        let certified = load_pair(&provider, &cert_path, &key_path)?;
        Ok(Arc::new(ReloadingCert {
            cert_path,
            key_path,
            check_every,
            provider,
            current: RwLock::new(Arc::new(certified)),
            check: Mutex::new(Check {
                last: Instant::now(),
                seen,
                last_error: None,
            }),
        }))
    }

    /// A rustls server configuration (ring, TLS 1.2 and 1.3, no client
    /// certificates) that takes its certificate from `self`.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, CertError> {
        let config = rustls::ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| CertError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        Ok(Arc::new(config))
    }

    /// The certificate chain and key in service now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Reads the files now, whether or not they look changed. `Ok(true)`
    /// when the pair in service changed; on an error the old pair stays.
    pub fn reload(&self) -> Result<bool, CertError> {
        let mut check = self.check.lock().unwrap_or_else(PoisonError::into_inner);
        self.reload_locked(&mut check)
    }

    /// Why the files last tried did not load, if they did not.
    pub fn last_error(&self) -> Option<CertError> {
        self.check
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error
            .clone()
    }

    fn reload_locked(&self, check: &mut Check) -> Result<bool, CertError> {
        check.last = Instant::now();
        check.seen = (stamp(&self.cert_path), stamp(&self.key_path));
        match load_pair(&self.provider, &self.cert_path, &self.key_path) {
            Ok(certified) => {
                check.last_error = None;
                let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
                let changed = current.cert != certified.cert;
                if changed {
                    tracing::info!(cert = %self.cert_path.display(), "TLS certificate reloaded");
                }
                *current = Arc::new(certified);
                Ok(changed)
            }
            Err(error) => {
                tracing::warn!(
                    cert = %self.cert_path.display(),
                    key = %self.key_path.display(),
                    %error,
                    "new TLS certificate files do not load; the previous certificate stays in service"
                );
                check.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// On a handshake: reload if the files changed and it is time to look.
    /// A handshake never waits for another's check: if one is under way,
    /// this one takes the pair in service.
    fn maybe_reload(&self) {
        let Ok(mut check) = self.check.try_lock() else {
            return;
        };
        if check.last.elapsed() < self.check_every {
            return;
        }
        check.last = Instant::now();
        let now = (stamp(&self.cert_path), stamp(&self.key_path));
        if now != check.seen {
            let _ = self.reload_locked(&mut check);
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.maybe_reload();
        Some(self.current())
    }
}

/// Reads and checks a certificate chain and its key.
fn load_pair(
    provider: &CryptoProvider,
    cert_path: &Path,
    key_path: &Path,
) -> Result<CertifiedKey, CertError> {
    let cert_pem = fs::read(cert_path).map_err(|e| CertError::Read {
        path: cert_path.to_owned(),
        reason: e.to_string(),
    })?;
    let key_pem = fs::read(key_path).map_err(|e| CertError::Read {
        path: key_path.to_owned(),
        reason: e.to_string(),
    })?;
    let bad_cert = |reason: String| CertError::Certificate {
        path: cert_path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_cert(e.to_string()))?;
    let Some(leaf) = chain.first() else {
        return Err(bad_cert("no certificate in the file".into()));
    };
    // A truncated or garbled certificate can still be valid base64: make
    // sure the leaf parses before offering it to clients.
    well_formed(leaf).map_err(bad_cert)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| CertError::Key {
        path: key_path.to_owned(),
        reason: e.to_string(),
    })?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| CertError::Key {
            path: key_path.to_owned(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        // A key whose public half the provider cannot tell: nothing to
        // compare, the certificate was checked above.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(_)) => Err(CertError::Mismatch {
            cert: cert_path.to_owned(),
            key: key_path.to_owned(),
        }),
        Err(e) => Err(bad_cert(e.to_string())),
    }
}

/// The leaf is a well-formed X.509 certificate (DER: a SEQUENCE whose
/// length covers the whole buffer, holding the three parts).
fn well_formed(leaf: &CertificateDer<'_>) -> Result<(), String> {
    let der = leaf.as_ref();
    let (tag, body) = der_item(der).ok_or("the certificate is not DER")?;
    if tag != 0x30 || body.len() + header_len(der) != der.len() {
        return Err("the certificate is truncated or not a certificate".into());
    }
    // tbsCertificate, signatureAlgorithm, signatureValue.
    let mut rest = body;
    for _ in 0..3 {
        let (_, inner) = der_item(rest).ok_or("the certificate is truncated")?;
        let used = header_len(rest) + inner.len();
        rest = rest.get(used..).ok_or("the certificate is truncated")?;
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err("trailing bytes in the certificate".into())
    }
}

/// One DER item's tag and contents.
fn der_item(der: &[u8]) -> Option<(u8, &[u8])> {
    let tag = *der.first()?;
    let first = *der.get(1)?;
    let (len, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for byte in der.get(2..2 + n)? {
            len = (len << 8) | usize::from(*byte);
        }
        (len, 2 + n)
    };
    Some((tag, der.get(start..start.checked_add(len)?)?))
}

fn header_len(der: &[u8]) -> usize {
    match der.get(1) {
        Some(first) if *first >= 0x80 => 2 + usize::from(first & 0x7f),
        _ => 2,
    }
}
