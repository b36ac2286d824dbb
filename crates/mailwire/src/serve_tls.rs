//! The certificate `mailwire serve` offers: PEM files given by the user
//! (reloaded when they change, without a restart), or a self-signed one
//! generated at start whose certificate (never its key) is written to a
//! file clients can trust.

use anyhow::Context;
use smtp_blocking::{CertificateDer, PrivateKeyDer, ServerTls};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often a handshake may look at the certificate files for a change:
/// two `stat` calls, so often enough that a renewal shows at once.
pub(crate) const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// The server side of TLS with the certificate chain and key of these PEM
/// files, reloaded when they change (looked at on a handshake, at most
/// every [`RELOAD_CHECK`]). New files that do not load leave the old pair
/// in service, and a warning is logged. SMTP, POP3 and IMAP listeners
/// built from the returned value (or its rustls configuration) all follow.
pub(crate) fn reloading(cert: &Path, key: &Path) -> anyhow::Result<ServerTls> {
    let reloading = session_server::ReloadingCert::load(cert, key, RELOAD_CHECK)?;
    let config = reloading.server_config()?;
    Ok(ServerTls::from_config(config))
}

/// A certificate generated for this run.
#[derive(Debug)]
pub(crate) struct SelfSigned {
    /// The names and addresses it is valid for.
    pub(crate) names: Vec<String>,
    /// The certificate, PEM.
    pub(crate) cert_pem: String,
    tls: ServerTls,
}

impl SelfSigned {
    /// A new key and a certificate for localhost, the loopback addresses,
    /// `hostname`, the machine's own name and each specific listening
    /// address.
    pub(crate) fn generate(hostname: &str, listen: &[SocketAddr]) -> anyhow::Result<SelfSigned> {
        let names = subject_names(hostname, machine_name().as_deref(), listen);
        let (cert, signing_key) =
            certify(&names).context("generating a self-signed certificate")?;
        let cert_pem = cert.pem();
        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
        let key: PrivateKeyDer<'static> = signing_key.into();
        let tls = ServerTls::from_der(chain, key)
            .context("setting up TLS with the self-signed certificate")?;
        Ok(SelfSigned {
            names,
            cert_pem,
            tls,
        })
    }

    /// The server side of TLS with this certificate.
    pub(crate) fn server_tls(&self) -> ServerTls {
        self.tls.clone()
    }

    /// Writes the certificate to `path` through a temporary file (so a
    /// reader never sees half of it) that is new (`create_new`: never a file
    /// or link someone placed there), private (0600) and named
    /// unpredictably, then renamed into place.
    pub(crate) fn write_cert(&self, path: &Path) -> anyhow::Result<()> {
        let tmp = temporary_sibling(path);
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut file| {
                file.write_all(self.cert_pem.as_bytes())?;
                file.sync_all()
            });
        if let Err(error) = &written {
            if error.kind() != io::ErrorKind::AlreadyExists {
                let _ = fs::remove_file(&tmp);
            }
        }
        written
            .and_then(|()| fs::rename(&tmp, path))
            .with_context(|| format!("writing the certificate to {}", path.display()))
            .inspect_err(|_| {
                let _ = fs::remove_file(&tmp);
            })
    }
}

/// A new key pair and a certificate it signs for `names`, named after the
/// tool so that a client's certificate viewer says where it came from.
fn certify(names: &[String]) -> Result<(rcgen::Certificate, rcgen::KeyPair), rcgen::Error> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::CommonName, "mailwire serve (self-signed)");
    params.distinguished_name = subject;
    // From yesterday (clocks differ) for 397 days: clients that cap the
    // lifetime of server certificates accept it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let day = |offset_days: i64| {
        mime_codec::DateTime::from_unix(now + offset_days * 86_400, 0)
            .map(|d| rcgen::date_time_ymd(d.year(), d.month(), d.day()))
    };
    if let (Some(from), Some(until)) = (day(-1), day(397)) {
        params.not_before = from;
        params.not_after = until;
    }
    let cert = params.self_signed(&key)?;
    Ok((cert, key))
}

/// Where the self-signed certificate goes unless `--tls-cert-out` says:
/// beside the Maildir, so it is found where the mail is.
pub(crate) fn default_cert_path(maildir: &Path) -> PathBuf {
    let parent = maildir.parent().unwrap_or(Path::new(""));
    parent.join("mailwire-self-signed.pem")
}

/// A name beside `path` that no one can guess ahead: the process, the
/// clock's nanoseconds and a counter.
fn temporary_sibling(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.{nanos}.{count}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// The names a local client may use to reach the sink, without repeats.
fn subject_names(hostname: &str, machine: Option<&str>, listen: &[SocketAddr]) -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1", hostname]
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    if let Some(machine) = machine {
        names.push(machine.to_owned());
    }
    for addr in listen {
        if !addr.ip().is_unspecified() {
            names.push(addr.ip().to_string());
        }
    }
    let mut unique = Vec::new();
    for name in names {
        if !unique.contains(&name) {
            unique.push(name);
        }
    }
    unique
}

/// The machine's host name, when it is a plausible DNS name.
pub(crate) fn machine_name() -> Option<String> {
    let raw = fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())?;
    let name = raw.trim().to_ascii_lowercase();
    let plausible = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    plausible.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_loopback_the_host_and_specific_listeners_once() {
        let listen: Vec<SocketAddr> = vec![
            "0.0.0.0:25".parse().unwrap(),
            "192.0.2.7:2525".parse().unwrap(),
            "127.0.0.1:2465".parse().unwrap(),
        ];
        let names = subject_names("mailwire.localhost", Some("box"), &listen);
        assert_eq!(
            names,
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "mailwire.localhost",
                "box",
                "192.0.2.7"
            ]
        );
    }

    #[test]
    fn the_certificate_is_written_as_pem_without_the_key() {
        let dir = std::env::temp_dir().join(format!("mailwire-serve-tls-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let generated = SelfSigned::generate("mailwire.localhost", &[]).unwrap();
        let path = dir.join("cert.pem");
        generated.write_cert(&path).unwrap();
        let written = fs::read_to_string(&path).unwrap();
        assert!(written.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!written.contains("PRIVATE KEY"));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Nothing else is left beside it.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_temporary_name_is_new_each_time_and_not_the_old_predictable_one() {
        let path = Path::new("/nonexistent/cert.pem");
        let a = temporary_sibling(path);
        let b = temporary_sibling(path);
        assert_ne!(a, b);
        let predictable = format!("cert.pem.{}.tmp", std::process::id());
        assert_ne!(a.file_name().unwrap().to_str().unwrap(), predictable);
    }

    #[test]
    fn the_default_path_sits_beside_the_maildir() {
        assert_eq!(
            default_cert_path(Path::new("/srv/mail/inbox")),
            Path::new("/srv/mail/mailwire-self-signed.pem")
        );
        assert_eq!(
            default_cert_path(Path::new("mailwire-mail")),
            Path::new("mailwire-self-signed.pem")
        );
    }
}
