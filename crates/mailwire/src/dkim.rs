//! `mailwire dkim keygen`: makes a DKIM signing key and prints the DNS record to publish.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use mailwire_auth::dkim::{DkimSigner, KeyType, SigningKey};

use crate::Failure;

#[derive(Debug, Args)]
pub(crate) struct DkimArgs {
    #[command(subcommand)]
    command: DkimCommand,
}

#[derive(Debug, Subcommand)]
enum DkimCommand {
    /// Make a signing key: writes the private key (PEM, readable only by you) and prints
    /// the TXT record to publish at SELECTOR._domainkey.DOMAIN.
    Keygen(KeygenArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Algorithm {
    /// RSA 2048 bits (rsa-sha256): every verifier knows it.
    Rsa,
    /// Ed25519 (ed25519-sha256, RFC 8463): small and fast; publish it next to an RSA key,
    /// since not every verifier knows it yet.
    Ed25519,
}

#[derive(Debug, Args)]
struct KeygenArgs {
    /// The signing domain (d=), e.g. example.com.
    #[arg(long)]
    domain: String,
    /// The selector (s=), e.g. mail2026.
    #[arg(long)]
    selector: String,
    /// The key type.
    #[arg(long, value_enum, default_value = "rsa")]
    algorithm: Algorithm,
    /// Where to write the private key; by default SELECTOR.DOMAIN.pem in the current
    /// directory. An existing file is never overwritten.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The signing flags, one definition for `mailwire send`, `bulk` and `deliver`.
#[derive(Debug, Args)]
pub(crate) struct DkimSignArgs {
    /// Sign with DKIM using this private key (PEM). Repeat with one --dkim-selector each to add
    /// several signatures (e.g. RSA and Ed25519).
    #[arg(long, value_name = "FILE", requires = "dkim_selector")]
    dkim_key: Vec<PathBuf>,
    /// The selector (s=) of each --dkim-key, in the same order.
    #[arg(long, value_name = "S", requires = "dkim_key")]
    dkim_selector: Vec<String>,
    /// The signing domain (d=); by default the domain of the From address.
    #[arg(long, value_name = "D", requires = "dkim_key")]
    dkim_domain: Option<String>,
}

impl DkimSignArgs {
    /// The message with one DKIM-Signature field per key on top (unchanged without keys).
    ///
    /// The signing itself is the front door's (`mailer::dkim`): the message is copied to an
    /// unlinked temporary file while its header is kept, then hashed from that file and
    /// read back behind the signature fields. Memory stays constant for any size.
    pub(crate) fn wrap(&self, message: impl Read + 'static) -> Result<Box<dyn Read>, Failure> {
        if self.dkim_key.is_empty() {
            return Ok(Box::new(message));
        }
        let spooled = mailer::dkim::Spooled::new(message)
            .map_err(|e| Failure::other(anyhow!(e).context("a temporary file for signing")))?;
        let signers = self.signers(spooled.from_domain())?;
        let signed = spooled
            .sign(&signers, now())
            .map_err(|e| Failure::usage(anyhow!(e)))?;
        Ok(Box::new(signed))
    }

    /// Signs each message held in memory (`mailwire bulk`, whose rows are built whole),
    /// adding the signature fields in front; the keys are read once. `from_domain` is the
    /// signing domain unless --dkim-domain gives one.
    pub(crate) fn sign_all(
        &self,
        from_domain: Option<String>,
        bodies: &mut [&mut Vec<u8>],
    ) -> Result<(), Failure> {
        if self.dkim_key.is_empty() {
            return Ok(());
        }
        let signers = self.signers(from_domain)?;
        let now = now();
        for body in bodies.iter_mut() {
            let fields = mailer::dkim::sign_bytes(body, &signers, now)
                .map_err(|e| Failure::usage(anyhow!(e)))?;
            body.splice(0..0, fields.into_bytes());
        }
        Ok(())
    }

    fn signers(&self, from_domain: Option<String>) -> Result<Vec<DkimSigner>, Failure> {
        if self.dkim_key.len() != self.dkim_selector.len() {
            return Err(Failure::usage(anyhow!(
                "give one --dkim-selector for each --dkim-key"
            )));
        }
        let domain = match &self.dkim_domain {
            Some(d) => d.clone(),
            None => from_domain.ok_or_else(|| {
                Failure::usage(anyhow!(
                    "the message has no From address to sign for; give --dkim-domain"
                ))
            })?,
        };
        let mut signers = Vec::new();
        for (path, selector) in self.dkim_key.iter().zip(&self.dkim_selector) {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("could not read --dkim-key {}", path.display()))
                .map_err(Failure::usage)?;
            let signer = mailwire_auth::dkim::signer_from_pem(&pem, &domain, selector)
                .with_context(|| format!("--dkim-key {}", path.display()))
                .map_err(Failure::usage)?;
            signers.push(signer);
        }
        Ok(signers)
    }
}

impl DkimSignArgs {
    /// `mailwire deliver --dkim-*`: what signs the messages it delivers, or
    /// `None` without keys. The signing domain must be given: a spool may
    /// hold mail of many domains, and only mail whose From is that domain
    /// (or one of its subdomains) is signed.
    pub(crate) fn delivery_signing(&self) -> Result<Option<DeliverySigning>, Failure> {
        if self.dkim_key.is_empty() {
            return Ok(None);
        }
        let Some(domain) = &self.dkim_domain else {
            return Err(Failure::usage(anyhow!(
                "mailwire deliver signs only the mail of one domain: give --dkim-domain with \
                 --dkim-key"
            )));
        };
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        Ok(Some(DeliverySigning {
            signers: self.signers(Some(domain.clone()))?,
            selectors: self
                .dkim_selector
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            domain,
        }))
    }
}

/// Signs messages on their way out of the spool (`mailwire deliver
/// --dkim-*`). Each attempt signs afresh (the spool keeps the unsigned
/// bytes), so a retry days later carries a signature made then.
#[derive(Debug)]
pub(crate) struct DeliverySigning {
    domain: String,
    selectors: Vec<String>,
    signers: Vec<DkimSigner>,
}

impl DeliverySigning {
    /// The message with the signature fields on top, or `None` when it is
    /// left as it is: its From is of another domain, or it already carries
    /// a signature of this domain and one of these selectors (signed at
    /// enqueue).
    pub(crate) fn sign(&self, message: &[u8], now: u64) -> Option<Vec<u8>> {
        let head_end = message
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(message.len(), |i| i + 2);
        let fields = mailwire_auth::header::split_fields(&message[..head_end]);
        let from = mailwire_auth::check::from_domain(&fields)?;
        let ours = from == self.domain || from.ends_with(&format!(".{}", self.domain));
        if !ours {
            return None;
        }
        let signed_already = fields
            .iter()
            .filter(|f| f.is("DKIM-Signature"))
            .filter_map(|f| mailwire_auth::dkim::DkimSignature::parse(f.value()).ok())
            .any(|sig| {
                sig.domain.eq_ignore_ascii_case(&self.domain)
                    && self
                        .selectors
                        .iter()
                        .any(|s| sig.selector.eq_ignore_ascii_case(s))
            });
        if signed_already {
            return None;
        }
        match mailer::dkim::sign_bytes(message, &self.signers, now) {
            Ok(fields) => {
                let mut signed = Vec::with_capacity(fields.len() + message.len());
                signed.extend_from_slice(fields.as_bytes());
                signed.extend_from_slice(message);
                Some(signed)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not DKIM-sign a message; it goes out unsigned");
                None
            }
        }
    }
}

/// A transport that signs each message with [`DeliverySigning`] before the
/// wrapped transport sends it.
#[derive(Debug)]
pub(crate) struct SigningTransport<T> {
    inner: T,
    signing: std::sync::Arc<DeliverySigning>,
}

impl<T> SigningTransport<T> {
    pub(crate) fn new(inner: T, signing: DeliverySigning) -> Self {
        SigningTransport {
            inner,
            signing: std::sync::Arc::new(signing),
        }
    }
}

impl<T: mail_spool::engine::Transport> mail_spool::engine::Transport for SigningTransport<T> {
    type Worker = SigningWorker<T::Worker>;

    fn destination(&self, domain: &str) -> String {
        self.inner.destination(domain)
    }

    fn retry_policy(&self) -> mail_spool::schedule::RetryPolicy {
        self.inner.retry_policy()
    }

    fn worker(&self) -> Self::Worker {
        SigningWorker {
            inner: self.inner.worker(),
            signing: std::sync::Arc::clone(&self.signing),
        }
    }
}

/// One delivery thread of a [`SigningTransport`].
#[derive(Debug)]
pub(crate) struct SigningWorker<W> {
    inner: W,
    signing: std::sync::Arc<DeliverySigning>,
}

impl<W: mail_spool::engine::TransportWorker> mail_spool::engine::TransportWorker
    for SigningWorker<W>
{
    fn attempt(
        &mut self,
        destination: &str,
        sender: &str,
        recipients: &[String],
        body: &[u8],
    ) -> mail_spool::engine::Attempt {
        match self.signing.sign(body, now()) {
            Some(signed) => self.inner.attempt(destination, sender, recipients, &signed),
            None => self.inner.attempt(destination, sender, recipients, body),
        }
    }

    fn close_idle(&mut self) {
        self.inner.close_idle();
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn run(args: DkimArgs) -> Result<(), Failure> {
    match args.command {
        DkimCommand::Keygen(args) => keygen(args),
    }
}

/// Splits a TXT value into the quoted strings of at most 255 octets that DNS needs.
fn quoted(record: &str) -> String {
    record
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn keygen(args: KeygenArgs) -> Result<(), Failure> {
    let domain = args.domain.trim_end_matches('.').to_ascii_lowercase();
    let key_type = match args.algorithm {
        Algorithm::Rsa => KeyType::Rsa,
        Algorithm::Ed25519 => KeyType::Ed25519,
    };
    // Check the names before spending time on a key.
    let probe = SigningKey::ed25519_from_seed(&[0; 32]);
    mailwire_auth::dkim::DkimSigner::new(probe, &domain, &args.selector).map_err(Failure::usage)?;
    let key =
        SigningKey::generate(key_type, 2048, &mut rand_core::OsRng).map_err(Failure::other)?;
    let pem = key.to_pem().map_err(Failure::other)?;
    let record = key.dns_record().map_err(Failure::other)?;
    let path = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("{}.{domain}.pem", args.selector)));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::usage(anyhow!(
                "{} already exists; it is never overwritten (choose --out)",
                path.display()
            ))
        } else {
            Failure::other(anyhow!(e).context(format!("could not create {}", path.display())))
        }
    })?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("could not write {}", path.display()))
        .map_err(Failure::other)?;
    let name = format!("{}._domainkey.{domain}", args.selector);
    out!(
        "Private key written to {} (mode 0600; keep it secret).",
        path.display()
    );
    out!();
    out!("Publish this TXT record in the DNS of {domain}:");
    out!();
    out!("{name}. IN TXT {}", quoted(&record));
    out!();
    out!(
        "Then sign with: mailwire send --dkim-key {} --dkim-selector {} --dkim-domain {domain} ...",
        path.display(),
        args.selector
    );
    out!(
        "and check with:  mailwire probe --domain {domain} --selector {}",
        args.selector
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn long_records_are_split_into_255_octet_strings() {
        let record = "p=".to_owned() + &"A".repeat(400);
        let q = quoted(&record);
        assert_eq!(q.matches('"').count(), 4);
        assert!(q.starts_with(&format!("\"p={}", "A".repeat(253))));
    }
}
