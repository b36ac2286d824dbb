//! Published DKIM examples verify: RFC 8463 Appendix A (Ed25519 and RSA signatures of one
//! message) and the RFC 6376 Appendix A message as signed with the RFC's example key.

use mailwire_auth::dkim::{DkimResult, DkimVerifier, SigningKey};
use mailwire_auth::MemoryResolver;

/// The 1024-bit RSA private key of RFC 6376 Appendix A.1 ("brisbane"), used here to check that
/// a PKCS#1 PEM key is read and gives the public key the RFC publishes.
const RFC_RSA_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXwIBAAKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFC
jxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gb
to/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB
AoGBALmn+XwWk7akvkUlqb+dOxyLB9i5VBVfje89Teolwc9YJT36BGN/l4e0l6QX
/1//6DWUTB3KI6wFcm7TWJcxbS0tcKZX7FsJvUz1SbQnkS54DJck1EZO/BLa5ckJ
gAYIaqlA9C0ZwM6i58lLlPadX/rtHb7pWzeNcZHjKrjM461ZAkEA+itss2nRlmyO
n1/5yDyCluST4dQfO8kAB3toSEVc7DeFeDhnC1mZdjASZNvdHS4gbLIA1hUGEF9m
3hKsGUMMPwJBAPW5v/U+AWTADFCS22t72NUurgzeAbzb1HWMqO4y4+9Hpjk5wvL/
eVYizyuce3/fGke7aRYw/ADKygMJdW8H/OcCQQDz5OQb4j2QDpPZc0Nc4QlbvMsj
7p7otWRO5xRa6SzXqqV3+F0VpqvDmshEBkoCydaYwc2o6WQ5EBmExeV8124XAkEA
qZzGsIxVP+sEVRWZmW6KNFSdVUpk3qzK0Tz/WjQMe5z0UunY9Ax9/4PVhp/j61bf
eAYXunajbBSOLlx4D+TunwJBANkPI5S9iylsbLs6NkaMHV6k5ioHBBmgCak95JGX
GMot/L2x0IYyMLAz6oLWh2hm7zwtb0CgOrPo1ke44hFYnfc=
-----END RSA PRIVATE KEY-----
";

/// RFC 8463 Appendix A.2's Ed25519 key record.
const RFC8463_ED25519_RECORD: &str =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/// RFC 8463 Appendix A.2's RSA key record ("test" selector).
const RFC8463_RSA_RECORD: &str = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

/// RFC 6376 Appendix A.1's public key record, as published.
const RFC6376_RECORD_KEY: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";

/// RFC 8463 Appendix A.3, line ends made CRLF; the body has no final line ending.
const RFC8463_SIGNED: &str = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;
 d=football.example.com; i=@football.example.com;
 q=dns/txt; s=brisbane; t=1528637909; h=from : to :
 subject : date : message-id : from : subject : date;
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;
 b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus
 Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;
 d=football.example.com; i=@football.example.com;
 q=dns/txt; s=test; t=1528637909; h=from : to : subject :
 date : message-id : from : subject : date;
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;
 b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3
 DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz
 dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=
From: Joe SixPack <joe@football.example.com>
To: Suzie Q <suzie@shopping.example.net>
Subject: Is dinner ready?
Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)
Message-ID: <20030712040037.46341.5F8J@football.example.com>

Hi.

We lost the game.  Are you hungry yet?

Joe.";

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

fn rfc_dns() -> MemoryResolver {
    MemoryResolver::new()
        .txt(
            "brisbane._domainkey.football.example.com",
            RFC8463_ED25519_RECORD,
        )
        .txt("test._domainkey.football.example.com", RFC8463_RSA_RECORD)
}

#[test]
fn rfc6376_private_key_gives_the_published_record() {
    let record = SigningKey::from_pem(RFC_RSA_KEY)
        .unwrap()
        .dns_record()
        .unwrap();
    assert_eq!(record, format!("v=DKIM1; k=rsa; p={RFC6376_RECORD_KEY}"));
}

fn verify(message: &[u8], chunk: usize) -> Vec<DkimResult> {
    let mut v = DkimVerifier::new();
    for c in message.chunks(chunk) {
        v.feed(c).unwrap();
    }
    v.finish()
        .check(&rfc_dns(), 1_528_637_909)
        .into_iter()
        .map(|o| o.result)
        .collect()
}

#[test]
fn rfc8463_ed25519_and_rsa_examples_verify() {
    let message = crlf(RFC8463_SIGNED);
    for chunk in [1, 7, 64, message.len()] {
        assert_eq!(
            verify(&message, chunk),
            vec![DkimResult::Pass, DkimResult::Pass],
            "chunk {chunk}"
        );
    }
}

#[test]
fn rfc8463_ed25519_seed_gives_the_published_key() {
    use base64::Engine as _;
    let seed = base64::engine::general_purpose::STANDARD
        .decode("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
        .unwrap();
    let key = SigningKey::ed25519_from_seed(&seed.try_into().unwrap());
    assert_eq!(key.dns_record().unwrap(), RFC8463_ED25519_RECORD);
}

#[test]
fn a_changed_body_or_header_fails() {
    let message = crlf(RFC8463_SIGNED);
    let body_changed = String::from_utf8(message.clone())
        .unwrap()
        .replace("hungry", "thirsty");
    let results = verify(body_changed.as_bytes(), 100);
    assert!(
        results
            .iter()
            .all(|r| *r == DkimResult::Fail("body hash did not verify".into())),
        "{results:?}"
    );
    let header_changed = String::from_utf8(message)
        .unwrap()
        .replace("Is dinner ready?", "Is lunch ready?");
    let results = verify(header_changed.as_bytes(), 100);
    assert!(
        results
            .iter()
            .all(|r| *r == DkimResult::Fail("signature did not verify".into())),
        "{results:?}"
    );
    // Refolding and whitespace changes survive relaxed canonicalization.
    let refolded = String::from_utf8(crlf(RFC8463_SIGNED))
        .unwrap()
        .replace(
            "Subject: Is dinner ready?",
            "Subject:   Is dinner\r\n\tready?  ",
        )
        .replace("We lost the game.", "We  lost the game. ");
    assert_eq!(
        verify(refolded.as_bytes(), 100),
        vec![DkimResult::Pass, DkimResult::Pass]
    );
}

#[test]
fn missing_revoked_and_temporarily_failing_keys() {
    let message = crlf(RFC8463_SIGNED);
    let check = |dns: &MemoryResolver| {
        let mut v = DkimVerifier::new();
        v.feed(&message).unwrap();
        v.finish()
            .check(dns, 1_528_637_909)
            .into_iter()
            .map(|o| o.result.keyword())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        check(&MemoryResolver::new()),
        vec!["permerror", "permerror"]
    );
    let revoked = MemoryResolver::new()
        .txt(
            "brisbane._domainkey.football.example.com",
            "v=DKIM1; k=ed25519; p=",
        )
        .fail("test._domainkey.football.example.com");
    assert_eq!(check(&revoked), vec!["permerror", "temperror"]);
    // An RSA record under the Ed25519 selector is a key type mismatch.
    let swapped = MemoryResolver::new().txt(
        "brisbane._domainkey.football.example.com",
        &SigningKey::from_pem(RFC_RSA_KEY)
            .unwrap()
            .dns_record()
            .unwrap(),
    );
    assert_eq!(check(&swapped)[0], "permerror");
}
