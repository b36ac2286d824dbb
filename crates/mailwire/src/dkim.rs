//! `mailwire dkim keygen`: makes a DKIM signing key and prints the DNS record to publish.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use mailwire_auth::dkim::{KeyType, SigningKey};

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

/// `mailwire send`'s signing flags.
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
    /// The body passes through the signer as a stream; only the header section is held.
    pub(crate) fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, Failure> {
        if self.dkim_key.is_empty() {
            return Ok(message);
        }
        if self.dkim_key.len() != self.dkim_selector.len() {
            return Err(Failure::usage(anyhow!(
                "give one --dkim-selector for each --dkim-key"
            )));
        }
        let domain = match &self.dkim_domain {
            Some(d) => d.clone(),
            None => {
                let head_end = message
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map_or(message.len(), |i| i + 2);
                let headers = mailwire_auth::header::split_fields(&message[..head_end]);
                mailwire_auth::check::from_domain(&headers).ok_or_else(|| {
                    Failure::usage(anyhow!(
                        "the message has no From address to sign for; give --dkim-domain"
                    ))
                })?
            }
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
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut stream = mailwire_auth::dkim::SigningStream::new(&signers);
        for chunk in message.chunks(64 * 1024) {
            stream.feed(chunk).map_err(|e| Failure::other(anyhow!(e)))?;
        }
        let fields = stream.finish(now).map_err(|e| Failure::usage(anyhow!(e)))?;
        Ok([fields.concat().into_bytes(), message].concat())
    }
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
    println!(
        "Private key written to {} (mode 0600; keep it secret).",
        path.display()
    );
    println!();
    println!("Publish this TXT record in the DNS of {domain}:");
    println!();
    println!("{name}. IN TXT {}", quoted(&record));
    println!();
    println!(
        "Then sign with: mailwire send --dkim-key {} --dkim-selector {} --dkim-domain {domain} ...",
        path.display(),
        args.selector
    );
    println!(
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
