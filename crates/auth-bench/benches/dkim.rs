//! DKIM signing and verification throughput, mailwire-auth against Stalwart's mail-auth, on
//! a 2 KB and a 1 MB message, with rsa-sha256 (2048 bits) and ed25519-sha256, relaxed/relaxed.
//! Keys come from DNS caches filled before the run, so no lookup is timed.
//!
//! `cd crates/auth-bench && cargo bench --bench dkim`

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use divan::counter::BytesCount;
use divan::Bencher;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::common::parse::TxtRecordParser as _;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::DkimSigner as StalwartSigner;
use mail_auth::{AuthenticatedMessage, DkimResult as StalwartResult, MessageAuthenticator, Parameters, ResolverCache, Txt};
use mailwire_auth::dkim::{DkimResult, DkimSigner, DkimVerifier, KeyType, SigningKey, SigningStream};
use mailwire_auth::MemoryResolver;

fn main() {
    divan::main();
}

const SIZES: &[usize] = &[2 * 1024, 1024 * 1024];
const NOW: u64 = 1_800_000_000;

fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: Ann Example <ann@example.com>\r\nTo: bob@example.net\r\nSubject: A benchmark message\r\n\
Date: Sat, 05 Dec 2026 10:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n"
        .to_vec();
    let line = b"Lorem ipsum dolor sit amet,  consectetur adipiscing elit, sed do eiusmod tempor. \r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m.truncate(size);
    m.extend_from_slice(b"\r\n");
    m
}

struct Keys {
    rsa: SigningKey,
    rsa_pkcs8_der: Vec<u8>,
    ed_seed: [u8; 32],
}

fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = SigningKey::generate(KeyType::Rsa, 2048, &mut rand_core::OsRng).unwrap();
        let pem = rsa.to_pem().unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let rsa_pkcs8_der = base64_decode(&b64);
        Keys { rsa, rsa_pkcs8_der, ed_seed: [0x42; 32] }
    })
}

fn base64_decode(s: &str) -> Vec<u8> {
    // A tiny decoder, to keep the bench's dependencies to the two crates compared.
    let table = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(table).collect();
    bytes
        .chunks(4)
        .flat_map(|c| {
            let n = c.iter().enumerate().fold(0u32, |n, (i, &v)| n | (u32::from(v) << (18 - 6 * i)));
            let out = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.into_iter().take(c.len() - 1).collect::<Vec<_>>()
        })
        .collect()
}

fn ours(ed: bool) -> DkimSigner {
    let k = keys();
    let (key, selector) = if ed { (SigningKey::ed25519_from_seed(&k.ed_seed), "ed") } else { (k.rsa.clone(), "rsa") };
    DkimSigner::new(key, "example.com", selector).unwrap()
}

fn our_dns() -> MemoryResolver {
    MemoryResolver::new()
        .txt("rsa._domainkey.example.com", &keys().rsa.dns_record().unwrap())
        .txt("ed._domainkey.example.com", &SigningKey::ed25519_from_seed(&keys().ed_seed).dns_record().unwrap())
}

fn stalwart_sign(ed: bool, message: &[u8]) -> String {
    let headers = ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"];
    if ed {
        let public = SigningKey::ed25519_from_seed(&keys().ed_seed).dns_record().unwrap();
        let public = base64_decode(public.rsplit_once("p=").unwrap().1);
        let key = Ed25519Key::from_seed_and_public_key(&keys().ed_seed, &public).unwrap();
        StalwartSigner::from_key(key).domain("example.com").selector("ed").headers(headers).sign(message).unwrap().to_header()
    } else {
        #[allow(deprecated)]
        let key = RsaKey::<Sha256>::from_pkcs8_der(&keys().rsa_pkcs8_der).unwrap();
        StalwartSigner::from_key(key).domain("example.com").selector("rsa").headers(headers).sign(message).unwrap().to_header()
    }
}

struct Cache<K, V>(Mutex<HashMap<K, V>>);

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for Cache<K, V> {
    fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(key).cloned()
    }
    fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(key)
    }
    fn insert(&self, key: K, value: V, _: Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

fn stalwart_cache() -> Cache<String, Txt> {
    let cache = Cache(Mutex::new(HashMap::new()));
    let later = Instant::now() + Duration::from_secs(86_400);
    for (name, record) in [
        ("rsa._domainkey.example.com.", keys().rsa.dns_record().unwrap()),
        ("ed._domainkey.example.com.", SigningKey::ed25519_from_seed(&keys().ed_seed).dns_record().unwrap()),
    ] {
        cache.insert(name.to_owned(), DomainKey::parse(record.as_bytes()).unwrap().into(), later);
    }
    cache
}

#[divan::bench(args = SIZES, consts = [false, true])]
fn sign_mailwire<const ED: bool>(bencher: Bencher, size: usize) {
    let m = message(size);
    let signers = [ours(ED)];
    bencher.counter(BytesCount::new(m.len())).bench(|| {
        let mut s = SigningStream::new(&signers);
        s.feed(&m).unwrap();
        s.finish(NOW).unwrap()
    });
}

#[divan::bench(args = SIZES, consts = [false, true])]
fn sign_stalwart<const ED: bool>(bencher: Bencher, size: usize) {
    let m = message(size);
    bencher.counter(BytesCount::new(m.len())).bench(|| stalwart_sign(ED, &m));
}

#[divan::bench(args = SIZES, consts = [false, true])]
fn verify_mailwire<const ED: bool>(bencher: Bencher, size: usize) {
    let m = message(size);
    let signed = [ours(ED).sign(&m, NOW).unwrap().into_bytes(), m].concat();
    let dns = our_dns();
    bencher.counter(BytesCount::new(signed.len())).bench(|| {
        let mut v = DkimVerifier::new();
        v.feed(&signed).unwrap();
        let out = v.finish().check(&dns, NOW);
        assert_eq!(out[0].result, DkimResult::Pass);
    });
}

#[divan::bench(args = SIZES, consts = [false, true])]
fn verify_stalwart<const ED: bool>(bencher: Bencher, size: usize) {
    let m = message(size);
    let signed = [stalwart_sign(ED, &m).into_bytes(), m].concat();
    let cache = stalwart_cache();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let authenticator = MessageAuthenticator::new_cloudflare().unwrap();
    bencher.counter(BytesCount::new(signed.len())).bench(|| {
        let message = AuthenticatedMessage::parse(&signed).unwrap();
        let out = runtime.block_on(authenticator.verify_dkim(Parameters::new(&message).with_txt_cache(&cache)));
        assert_eq!(*out[0].result(), StalwartResult::Pass);
    });
}
