//! ARC verification (RFC 8617): does the chain of ARC sets that intermediaries (mailing
//! lists, forwarders) added validate? Sealing (adding a set) is not implemented.
//!
//! Checked: the chain's structure (instances 1..N, one ARC-Seal, ARC-Message-Signature and
//! ARC-Authentication-Results each, at most 50, `cv=none` on the first seal and `cv=pass` on
//! the others), the newest ARC-Message-Signature (like a DKIM signature, body hash included),
//! and every ARC-Seal, newest first.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::dkim::canon::{canonicalize_header, Canonicalization};
use crate::dkim::{KeyRecord, PublicKey};
use crate::header::HeaderField;
use crate::resolver::{DnsError, Resolver};
use crate::tag_list::{parse_tag_list, strip_fws};

/// The most ARC sets a chain may have (RFC 8617 §4.2.1).
pub const MAX_INSTANCES: u32 = 50;

/// The chain's validation status (RFC 8617 §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArcResult {
    /// No ARC sets.
    None,
    /// Every seal and the newest message signature validate.
    Pass,
    /// Something does not validate; the reason says what.
    Fail(String),
}

impl ArcResult {
    /// The keyword for Authentication-Results (`arc=`).
    pub fn keyword(&self) -> &'static str {
        match self {
            ArcResult::None => "none",
            ArcResult::Pass => "pass",
            ArcResult::Fail(_) => "fail",
        }
    }
}

/// The newest ARC-Message-Signature, read before the body so its body hash can be computed
/// while the body streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageSignature {
    pub(crate) body_canon: Canonicalization,
    header_canon: Canonicalization,
    body_hash: Vec<u8>,
    signed: Vec<String>,
    domain: String,
    selector: String,
    algorithm: String,
    signature: Vec<u8>,
    raw: Vec<u8>,
}

/// The `i=` instance: a tag anywhere in a seal or message signature; the first element of
/// an ARC-Authentication-Results (which is not a tag list: `i=1; authserv-id; results`).
fn instance(field: &HeaderField) -> Option<u32> {
    let value = String::from_utf8_lossy(field.value()).into_owned();
    let i = if field.is("ARC-Authentication-Results") {
        let first = value.split(';').next()?;
        let (name, value) = first.split_once('=')?;
        if name.trim() != "i" {
            return None;
        }
        value.trim().to_owned()
    } else {
        let tags = parse_tag_list(&value).ok()?;
        tags.iter().find(|(n, _)| *n == "i")?.1.to_owned()
    };
    i.parse().ok().filter(|i| (1..=MAX_INSTANCES).contains(i))
}

fn tags_of(field: &HeaderField) -> Result<Vec<(String, String)>, String> {
    let value = String::from_utf8_lossy(field.value()).into_owned();
    parse_tag_list(&value)
        .map(|t| {
            t.into_iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect()
        })
        .map_err(|e| e.to_string())
}

fn get<'a>(tags: &'a [(String, String)], name: &str) -> Result<&'a str, String> {
    tags.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| format!("{name}= missing"))
}

fn b64(value: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(strip_fws(value))
        .map_err(|_| "bad base64".to_owned())
}

/// The newest ARC-Message-Signature, if the message has ARC sets.
pub(crate) fn newest_message_signature(
    headers: &[HeaderField],
) -> Option<Result<MessageSignature, String>> {
    let newest = headers
        .iter()
        .filter(|h| h.is("ARC-Message-Signature"))
        .filter_map(|h| instance(h).map(|i| (i, h)))
        .max_by_key(|(i, _)| *i)?;
    Some(parse_message_signature(newest.1))
}

fn parse_message_signature(field: &HeaderField) -> Result<MessageSignature, String> {
    let tags = tags_of(field)?;
    let c = tags
        .iter()
        .find(|(n, _)| n == "c")
        .map_or("simple/simple", |(_, v)| v.as_str());
    let (h, b) = c.split_once('/').unwrap_or((c, "simple"));
    let canon = |s: &str| match s.trim().to_ascii_lowercase().as_str() {
        "simple" => Ok(Canonicalization::Simple),
        "relaxed" => Ok(Canonicalization::Relaxed),
        other => Err(format!("unknown canonicalization {other}")),
    };
    Ok(MessageSignature {
        header_canon: canon(h)?,
        body_canon: canon(b)?,
        body_hash: b64(get(&tags, "bh")?)?,
        signed: strip_fws(get(&tags, "h")?)
            .split(':')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        domain: get(&tags, "d")?.to_ascii_lowercase(),
        selector: get(&tags, "s")?.to_owned(),
        algorithm: get(&tags, "a")?.to_ascii_lowercase(),
        signature: b64(get(&tags, "b")?)?,
        raw: field.raw().to_vec(),
    })
}

fn verify_signature<R: Resolver + ?Sized>(
    resolver: &R,
    domain: &str,
    selector: &str,
    algorithm: &str,
    data: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let name = format!("{selector}._domainkey.{domain}");
    let records = match resolver.txt(&name) {
        Ok(r) => r,
        Err(DnsError::Temporary(e)) => return Err(format!("key lookup for {name}: {e}")),
        Err(e) => return Err(format!("no key at {name}: {e}")),
    };
    let key = records
        .iter()
        .find_map(|r| KeyRecord::parse(r).ok())
        .ok_or_else(|| format!("no usable key at {name}"))?;
    let ok = match (&key.key, algorithm) {
        (PublicKey::Rsa(k), "rsa-sha256") => crate::dkim::rsa_verify(k, data, signature),
        (PublicKey::Ed25519(k), "ed25519-sha256") => {
            let hash: [u8; 32] = Sha256::digest(data).into();
            ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify_strict(&hash, &s).is_ok())
        }
        _ => {
            return Err(format!(
                "algorithm {algorithm} does not match the key at {name}"
            ))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("signature by {name} did not verify"))
    }
}

/// Validates the chain. `ams_body_hash` is the body hash computed with the newest
/// ARC-Message-Signature's body canonicalization.
pub(crate) fn validate<R: Resolver + ?Sized>(
    resolver: &R,
    headers: &[HeaderField],
    ams: &MessageSignature,
    ams_body_hash: &[u8],
) -> ArcResult {
    match validate_chain(resolver, headers, ams, ams_body_hash) {
        Ok(()) => ArcResult::Pass,
        Err(reason) => ArcResult::Fail(reason),
    }
}

fn validate_chain<R: Resolver + ?Sized>(
    resolver: &R,
    headers: &[HeaderField],
    ams: &MessageSignature,
    ams_body_hash: &[u8],
) -> Result<(), String> {
    // Structure: one of each field per instance, instances 1..=N.
    let mut sets: Vec<[Option<&HeaderField>; 3]> = Vec::new();
    for field in headers {
        let slot = if field.is("ARC-Authentication-Results") {
            0
        } else if field.is("ARC-Message-Signature") {
            1
        } else if field.is("ARC-Seal") {
            2
        } else {
            continue;
        };
        let i = instance(field).ok_or("an ARC field has no valid i=")? as usize;
        if sets.len() < i {
            sets.resize(i, [None, None, None]);
        }
        let set = &mut sets[i - 1];
        if set[slot].is_some() {
            return Err(format!("instance {i} has a field twice"));
        }
        set[slot] = Some(field);
    }
    let n = sets.len();
    let mut complete: Vec<[&HeaderField; 3]> = Vec::with_capacity(n);
    for (k, set) in sets.iter().enumerate() {
        match set {
            [Some(aar), Some(ams), Some(seal)] => complete.push([*aar, *ams, *seal]),
            _ => return Err(format!("instance {} is incomplete", k + 1)),
        }
    }
    for (k, [_, _, seal]) in complete.iter().enumerate() {
        let tags = tags_of(seal)?;
        let cv = get(&tags, "cv")?.to_ascii_lowercase();
        let want = if k == 0 { "none" } else { "pass" };
        if cv != want {
            return Err(format!("ARC-Seal i={} has cv={cv}", k + 1));
        }
    }
    // The newest message signature, like a DKIM signature.
    if ams.body_hash != ams_body_hash {
        return Err("the newest ARC-Message-Signature's body hash did not verify".into());
    }
    let data = crate::dkim::header_data(
        ams.header_canon,
        headers,
        &ams.signed,
        &crate::dkim::without_b_value(&ams.raw),
    );
    verify_signature(
        resolver,
        &ams.domain,
        &ams.selector,
        &ams.algorithm,
        &data,
        &ams.signature,
    )
    .map_err(|e| format!("ARC-Message-Signature i={n}: {e}"))?;
    // Every seal, newest first: relaxed canonicalization of the sets 1..=i in order (AAR,
    // AMS, AS), this seal's b= emptied and without its final CRLF.
    for i in (1..=n).rev() {
        let mut data = Vec::new();
        for (k, set) in complete.iter().take(i).enumerate() {
            for (slot, field) in set.iter().enumerate() {
                let last = k + 1 == i && slot == 2;
                let raw = if last {
                    crate::dkim::without_b_value(field.raw())
                } else {
                    field.raw().to_vec()
                };
                let mut buf = Vec::new();
                canonicalize_header(Canonicalization::Relaxed, &raw, &mut buf);
                if last {
                    buf.truncate(buf.len().saturating_sub(2));
                }
                data.extend_from_slice(&buf);
            }
        }
        let seal = complete[i - 1][2];
        let tags = tags_of(seal)?;
        let signature = b64(get(&tags, "b")?)?;
        verify_signature(
            resolver,
            get(&tags, "d")?,
            get(&tags, "s")?,
            &get(&tags, "a")?.to_ascii_lowercase(),
            &data,
            &signature,
        )
        .map_err(|e| format!("ARC-Seal i={i}: {e}"))?;
    }
    Ok(())
}
