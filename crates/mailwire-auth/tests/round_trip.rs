//! What we sign, we verify: generated messages (folded headers, 8-bit bodies, trailing empty
//! lines, no final line ending), every canonicalization, both algorithms, any chunking.

use mailwire_auth::dkim::{
    Canonicalization, DkimResult, DkimSigner, DkimVerifier, SigningKey, SigningStream,
};
use mailwire_auth::MemoryResolver;
use proptest::prelude::*;

const RSA_PEM: &str = include_str!("data/rsa1024.pem");

fn keys() -> Vec<(SigningKey, &'static str)> {
    vec![
        (SigningKey::ed25519_from_seed(&[42; 32]), "ed"),
        (SigningKey::from_pem(RSA_PEM).unwrap(), "rsa"),
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    // Words separated by spaces, tabs or folds; 8-bit text included.
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "a",
                "Hello",
                "caf\u{e9}",
                "x@y.example",
                "=?utf-8?q?z?=",
            ]),
            prop::sample::select(vec![" ", "  ", "\t", "\r\n ", "\r\n\t"]),
        ),
        1..6,
    )
    .prop_map(|words| {
        words
            .into_iter()
            .map(|(w, s)| format!("{w}{s}"))
            .collect::<String>()
            .trim_end()
            .to_owned()
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![
            &b"line"[..],
            b" ",
            b"\t",
            b"\r\n",
            b"\r\n\r\n",
            b"\xc3\xa9\xff",
            b".",
            b"From x",
            b"  \r\n",
        ]),
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    (
        header_value(),
        header_value(),
        prop::option::of(header_value()),
        body(),
    )
        .prop_map(|(from, subject, cc, body)| {
            let mut m = format!(
                "From: Ann <ann@example.com> {from}\r\nSubject: {subject}\r\nTo: b@example.net\r\n"
            );
            if let Some(cc) = cc {
                m.push_str(&format!("Cc: {cc}\r\n"));
            }
            m.push_str("Date: Sat, 5 Dec 2026 10:00:00 +0000\r\n\r\n");
            let mut bytes = m.into_bytes();
            bytes.extend_from_slice(&body);
            bytes
        })
}

fn sign_and_verify(
    message: &[u8],
    chunk: usize,
    canon: (Canonicalization, Canonicalization),
) -> Vec<DkimResult> {
    let mut dns = MemoryResolver::new();
    let mut signers = Vec::new();
    for (key, selector) in keys() {
        dns = dns.txt(
            &format!("{selector}._domainkey.example.com"),
            &key.dns_record().unwrap(),
        );
        signers.push(
            DkimSigner::new(key, "example.com", selector)
                .unwrap()
                .canonicalization(canon.0, canon.1)
                .expire_after(3600),
        );
    }
    let mut stream = SigningStream::new(&signers);
    for c in message.chunks(chunk) {
        stream.feed(c).unwrap();
    }
    let fields = stream.finish(1_000).unwrap();
    let signed = [fields.concat().into_bytes(), message.to_vec()].concat();
    let mut verifier = DkimVerifier::new();
    for c in signed.chunks(chunk + 3) {
        verifier.feed(c).unwrap();
    }
    verifier
        .finish()
        .check(&dns, 2_000)
        .into_iter()
        .map(|o| o.result)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn signed_messages_verify(message in message(), chunk in 1usize..300,
                              hc in prop::sample::select(vec![Canonicalization::Simple, Canonicalization::Relaxed]),
                              bc in prop::sample::select(vec![Canonicalization::Simple, Canonicalization::Relaxed])) {
        prop_assert_eq!(sign_and_verify(&message, chunk, (hc, bc)), vec![DkimResult::Pass, DkimResult::Pass]);
    }

    #[test]
    fn signing_is_independent_of_chunking(message in message(), chunk in 1usize..50) {
        let signer = DkimSigner::new(SigningKey::ed25519_from_seed(&[1; 32]), "example.com", "s").unwrap();
        let whole = signer.sign(&message, 77).unwrap();
        let signers = [signer];
        let mut stream = SigningStream::new(&signers);
        for c in message.chunks(chunk) {
            stream.feed(c).unwrap();
        }
        prop_assert_eq!(stream.finish(77).unwrap().concat(), whole);
    }
}

#[test]
fn expired_signatures_fail_and_from_is_oversigned() {
    let key = SigningKey::ed25519_from_seed(&[3; 32]);
    let dns = MemoryResolver::new().txt("s._domainkey.example.com", &key.dns_record().unwrap());
    let signer = DkimSigner::new(key, "example.com", "s")
        .unwrap()
        .expire_after(60);
    let message = b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n";
    let field = signer.sign(message, 1_000).unwrap();
    assert!(field.contains("h=from:from:subject;"), "{field}");
    assert!(field.contains("x=1060;"), "{field}");
    assert!(!field.contains(" l="), "{field}");
    let signed = [field.as_bytes(), message].concat();
    let check = |now| {
        let mut v = DkimVerifier::new();
        v.feed(&signed).unwrap();
        v.finish().check(&dns, now)[0].result.clone()
    };
    assert_eq!(check(1_059), DkimResult::Pass);
    assert_eq!(check(1_061), DkimResult::Fail("signature expired".into()));
    // A second From added after signing breaks the oversigned signature.
    let added = [field.as_bytes(), b"From: evil@example.org\r\n", message].concat();
    let mut v = DkimVerifier::new();
    v.feed(&added).unwrap();
    assert_eq!(v.finish().check(&dns, 1_000)[0].result.keyword(), "fail");
}

#[test]
fn a_message_without_from_is_refused() {
    let signer =
        DkimSigner::new(SigningKey::ed25519_from_seed(&[3; 32]), "example.com", "s").unwrap();
    assert_eq!(
        signer.sign(b"Subject: x\r\n\r\nbody\r\n", 1),
        Err(mailwire_auth::dkim::SignError::NoFrom)
    );
    assert!(DkimSigner::new(SigningKey::ed25519_from_seed(&[3; 32]), "bad domain", "s").is_err());
}

#[test]
fn a_large_body_streams_through_signer_and_verifier() {
    // 16 MiB fed in 64 KiB chunks: only the headers are held (the body is never collected).
    let key = SigningKey::ed25519_from_seed(&[9; 32]);
    let dns = MemoryResolver::new().txt("s._domainkey.example.com", &key.dns_record().unwrap());
    let signers = [DkimSigner::new(key, "example.com", "s").unwrap()];
    let header = b"From: a@example.com\r\n\r\n";
    let chunk: Vec<u8> =
        b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n".repeat(1024);
    let mut stream = SigningStream::new(&signers);
    stream.feed(header).unwrap();
    for _ in 0..256 {
        stream.feed(&chunk).unwrap();
    }
    let field = stream.finish(5).unwrap().concat();
    let mut v = DkimVerifier::new();
    v.feed(field.as_bytes()).unwrap();
    v.feed(header).unwrap();
    for _ in 0..256 {
        v.feed(&chunk).unwrap();
    }
    assert_eq!(v.finish().check(&dns, 5)[0].result, DkimResult::Pass);
}
