//! DKIM verification of every signature on a message (RFC 6376 §6), streaming the body.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::canon::{BodyCanonicalizer, Canonicalization};
use super::hash::header_data;
use super::key::{rsa_verify, KeyError, KeyRecord, PublicKey};
use super::signature::{without_b_value, Algorithm, DkimSignature};
use crate::arc::{newest_message_signature, ArcResult, MessageSignature};
use crate::header::{HeaderField, HeaderTooLarge, MessageSplitter, DEFAULT_MAX_HEADER_BYTES};
use crate::resolver::{DnsError, Resolver};

/// The result of one signature, in the words of RFC 8601 §2.7.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DkimResult {
    /// The signature verified.
    Pass,
    /// The signature or body hash did not verify, or it expired.
    Fail(String),
    /// The signature is malformed or its key is missing or unusable.
    PermError(String),
    /// The key could not be fetched for now.
    TempError(String),
    /// The signature was not checked (beyond the per-message limit).
    Policy(String),
}

impl DkimResult {
    /// The result keyword (`pass`, `fail`, ...).
    pub fn keyword(&self) -> &'static str {
        match self {
            DkimResult::Pass => "pass",
            DkimResult::Fail(_) => "fail",
            DkimResult::PermError(_) => "permerror",
            DkimResult::TempError(_) => "temperror",
            DkimResult::Policy(_) => "policy",
        }
    }
    /// The reason, for a result other than pass.
    pub fn reason(&self) -> Option<&str> {
        match self {
            DkimResult::Pass => None,
            DkimResult::Fail(r)
            | DkimResult::PermError(r)
            | DkimResult::TempError(r)
            | DkimResult::Policy(r) => Some(r),
        }
    }
}

/// One signature's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimOutcome {
    /// The result.
    pub result: DkimResult,
    /// `d=`, when the signature could be read.
    pub domain: Option<String>,
    /// `s=`, when the signature could be read.
    pub selector: Option<String>,
    /// `i=` (or `@d`), when the signature could be read.
    pub identity: Option<String>,
    /// `a=`, when the signature could be read.
    pub algorithm: Option<Algorithm>,
    /// The first characters of `b=`, to tell signatures apart (RFC 6008 `header.b`).
    pub signature_prefix: String,
    /// The key record said `t=y` (testing).
    pub testing: bool,
}

/// Verification limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyConfig {
    /// Signatures checked per message; the rest are `policy` (a message with hundreds of
    /// signatures must not cost hundreds of key lookups).
    pub max_signatures: usize,
    /// Largest header section held.
    pub max_header_bytes: usize,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            max_signatures: 10,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
        }
    }
}

type BodyKey = (Canonicalization, Option<u64>);

#[derive(Debug)]
enum Slot {
    Parsed {
        sig: DkimSignature,
        raw: Vec<u8>,
        body: usize,
    },
    Bad {
        error: String,
        prefix: String,
    },
    Skipped,
}

/// Reads a message in chunks and checks every DKIM-Signature on it.
///
/// ```
/// use mailwire_auth::dkim::{DkimSigner, DkimVerifier, DkimResult, SigningKey};
/// use mailwire_auth::MemoryResolver;
/// let key = SigningKey::ed25519_from_seed(&[7; 32]);
/// let record = key.dns_record()?;
/// let signer = DkimSigner::new(key, "example.com", "s1")?;
/// let message = b"From: a@example.com\r\n\r\nHello.\r\n";
/// let signed = [signer.sign(message, 1_700_000_000)?.as_bytes(), message].concat();
/// let dns = MemoryResolver::new().txt("s1._domainkey.example.com", &record);
/// let mut verifier = DkimVerifier::new();
/// verifier.feed(&signed)?;
/// let outcomes = verifier.finish().check(&dns, 1_700_000_100);
/// assert_eq!(outcomes[0].result, DkimResult::Pass);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct DkimVerifier {
    config: VerifyConfig,
    splitter: MessageSplitter,
    slots: Option<(Vec<Slot>, ArcSlot)>,
    bodies: Vec<(BodyKey, BodyCanonicalizer<Sha256>)>,
}

impl Default for DkimVerifier {
    fn default() -> Self {
        Self::new()
    }
}

fn prefix_of(raw_value: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw_value);
    let b = crate::tag_list::parse_tag_list(&text)
        .ok()
        .and_then(|tags| {
            tags.iter()
                .find(|(n, _)| *n == "b")
                .map(|(_, v)| crate::tag_list::strip_fws(v))
        });
    b.unwrap_or_default().chars().take(8).collect()
}

type ArcSlot = Option<Result<(MessageSignature, usize), String>>;

fn body_slot(bodies: &mut Vec<(BodyKey, BodyCanonicalizer<Sha256>)>, key: BodyKey) -> usize {
    match bodies.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            bodies.push((
                key,
                BodyCanonicalizer::new(key.0, Sha256::new()).with_limit(key.1),
            ));
            bodies.len() - 1
        }
    }
}

fn setup(
    config: &VerifyConfig,
    headers: &[HeaderField],
    bodies: &mut Vec<(BodyKey, BodyCanonicalizer<Sha256>)>,
) -> (Vec<Slot>, ArcSlot) {
    let arc = newest_message_signature(headers).map(|ams| {
        ams.map(|ams| {
            let body = body_slot(bodies, (ams.body_canon, None));
            (ams, body)
        })
    });
    let mut slots = Vec::new();
    for field in headers.iter().filter(|h| h.is("DKIM-Signature")) {
        if slots.len() >= config.max_signatures {
            slots.push(Slot::Skipped);
            continue;
        }
        match DkimSignature::parse(field.value()) {
            Ok(sig) => {
                let key = (sig.body_canon, sig.body_length);
                let body = match bodies.iter().position(|(k, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        bodies.push((
                            key,
                            BodyCanonicalizer::new(key.0, Sha256::new()).with_limit(key.1),
                        ));
                        bodies.len() - 1
                    }
                };
                slots.push(Slot::Parsed {
                    sig,
                    raw: field.raw().to_vec(),
                    body,
                });
            }
            Err(e) => slots.push(Slot::Bad {
                error: e.to_string(),
                prefix: prefix_of(field.value()),
            }),
        }
    }
    (slots, arc)
}

impl DkimVerifier {
    /// A verifier with the default limits.
    pub fn new() -> Self {
        Self::with_config(VerifyConfig::default())
    }
    /// A verifier with these limits.
    pub fn with_config(config: VerifyConfig) -> Self {
        DkimVerifier {
            config,
            splitter: MessageSplitter::new(config.max_header_bytes),
            slots: None,
            bodies: Vec::new(),
        }
    }

    /// Takes the next chunk of the message.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), HeaderTooLarge> {
        let (config, slots, bodies) = (&self.config, &mut self.slots, &mut self.bodies);
        self.splitter.feed(chunk, &mut |headers, body| {
            if slots.is_none() {
                *slots = Some(setup(config, headers, bodies));
            }
            for (_, c) in bodies.iter_mut() {
                c.feed(body);
            }
        })
    }

    /// Ends the message: the body hashes are final; what is left is checking keys.
    pub fn finish(mut self) -> PendingDkim {
        let headers = self.splitter.finish();
        let (slots, arc) = match self.slots.take() {
            Some(s) => s,
            None => setup(&self.config, &headers, &mut self.bodies),
        };
        let hashes: Vec<[u8; 32]> = self
            .bodies
            .into_iter()
            .map(|(_, c)| c.finish().finalize().into())
            .collect();
        PendingDkim {
            headers,
            slots,
            hashes,
            arc,
        }
    }
}

/// A message read to its end, its signatures waiting for their keys.
#[derive(Debug)]
pub struct PendingDkim {
    headers: Vec<HeaderField>,
    slots: Vec<Slot>,
    hashes: Vec<[u8; 32]>,
    arc: ArcSlot,
}

impl PendingDkim {
    /// The header fields of the message.
    pub fn headers(&self) -> &[HeaderField] {
        &self.headers
    }

    /// Validates the message's ARC chain (RFC 8617), fetching keys from `resolver`.
    pub fn check_arc<R: Resolver + ?Sized>(&self, resolver: &R) -> ArcResult {
        match &self.arc {
            None => ArcResult::None,
            Some(Err(e)) => ArcResult::Fail(format!("the newest ARC-Message-Signature: {e}")),
            Some(Ok((ams, body))) => match self.hashes.get(*body) {
                Some(hash) => crate::arc::validate(resolver, &self.headers, ams, hash),
                None => ArcResult::Fail("internal: body hash missing".into()),
            },
        }
    }

    /// Whether the message carries no DKIM-Signature at all (DKIM result `none`).
    pub fn is_unsigned(&self) -> bool {
        self.slots.is_empty()
    }

    /// Checks every signature, fetching keys from `resolver`; `now` is seconds since the
    /// Unix epoch (for `x=`). One outcome per DKIM-Signature field, in message order.
    pub fn check<R: Resolver + ?Sized>(&self, resolver: &R, now: u64) -> Vec<DkimOutcome> {
        self.slots
            .iter()
            .map(|slot| self.check_one(slot, resolver, now))
            .collect()
    }

    fn check_one<R: Resolver + ?Sized>(&self, slot: &Slot, resolver: &R, now: u64) -> DkimOutcome {
        let (sig, raw, body) = match slot {
            Slot::Parsed { sig, raw, body } => (sig, raw, *body),
            Slot::Bad { error, prefix } => {
                return DkimOutcome {
                    result: DkimResult::PermError(error.clone()),
                    domain: None,
                    selector: None,
                    identity: None,
                    algorithm: None,
                    signature_prefix: prefix.clone(),
                    testing: false,
                }
            }
            Slot::Skipped => {
                return DkimOutcome {
                    result: DkimResult::Policy("too many signatures on one message".into()),
                    domain: None,
                    selector: None,
                    identity: None,
                    algorithm: None,
                    signature_prefix: String::new(),
                    testing: false,
                }
            }
        };
        let mut outcome = DkimOutcome {
            result: DkimResult::Pass,
            domain: Some(sig.domain.clone()),
            selector: Some(sig.selector.clone()),
            identity: Some(sig.identity.clone()),
            algorithm: Some(sig.algorithm),
            signature_prefix: base64::engine::general_purpose::STANDARD
                .encode(&sig.signature)
                .chars()
                .take(8)
                .collect(),
            testing: false,
        };
        outcome.result = self.verify(sig, raw, body, resolver, now, &mut outcome.testing);
        outcome
    }

    fn verify<R: Resolver + ?Sized>(
        &self,
        sig: &DkimSignature,
        raw: &[u8],
        body: usize,
        resolver: &R,
        now: u64,
        testing: &mut bool,
    ) -> DkimResult {
        if sig.expiration.is_some_and(|x| x < now) {
            return DkimResult::Fail("signature expired".into());
        }
        let record = match resolver.txt(&sig.key_name()) {
            Ok(records) => {
                let mut parsed: Vec<Result<KeyRecord, KeyError>> =
                    records.iter().map(|r| KeyRecord::parse(r)).collect();
                match parsed.iter().position(Result::is_ok) {
                    Some(i) => parsed.swap_remove(i),
                    None => match parsed.pop() {
                        Some(e) => e,
                        None => return DkimResult::PermError("no key record".into()),
                    },
                }
            }
            Err(DnsError::Temporary(e)) => {
                return DkimResult::TempError(format!("key lookup: {e}"))
            }
            Err(e) => return DkimResult::PermError(format!("no key for {}: {e}", sig.key_name())),
        };
        let record = match record {
            Ok(r) => r,
            Err(e) => return DkimResult::PermError(format!("key record: {e}")),
        };
        *testing = record.testing;
        if record.strict_identity {
            let id_domain = sig
                .identity
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase());
            if id_domain.as_deref() != Some(sig.domain.as_str()) {
                return DkimResult::PermError("key requires i= domain to equal d= (t=s)".into());
            }
        }
        let Some(computed) = self.hashes.get(body) else {
            return DkimResult::PermError("internal: body hash missing".into());
        };
        if computed[..] != sig.body_hash[..] {
            return DkimResult::Fail("body hash did not verify".into());
        }
        let data = header_data(
            sig.header_canon,
            &self.headers,
            &sig.signed_headers,
            &without_b_value(raw),
        );
        let ok = match (&record.key, sig.algorithm) {
            (PublicKey::Rsa(key), Algorithm::RsaSha256) => rsa_verify(key, &data, &sig.signature),
            (PublicKey::Ed25519(key), Algorithm::Ed25519Sha256) => {
                let data_hash: [u8; 32] = Sha256::digest(&data).into();
                match ed25519_dalek::Signature::from_slice(&sig.signature) {
                    Ok(s) => key.verify_strict(&data_hash, &s).is_ok(),
                    Err(_) => false,
                }
            }
            _ => return DkimResult::PermError("key type does not match a=".into()),
        };
        if ok {
            DkimResult::Pass
        } else {
            DkimResult::Fail("signature did not verify".into())
        }
    }
}
