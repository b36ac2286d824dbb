use crate::*;

fn caps(wire: &[u8]) -> Capabilities {
    Capabilities::from_ehlo_reply(&Reply::parse(wire).unwrap()).unwrap()
}

#[test]
fn gmail_like_reply() {
    let c = caps(
        b"250-smtp.gmail.com at your service, [203.0.113.9]\r\n\
          250-SIZE 35882577\r\n250-8BITMIME\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n\
          250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
    );
    assert_eq!(c.server_name(), "smtp.gmail.com");
    assert_eq!(c.greeting(), Some("at your service, [203.0.113.9]"));
    assert_eq!(c.max_size(), Some(35_882_577));
    assert!(c.eight_bit_mime() && c.enhanced_status_codes() && c.pipelining());
    assert!(c.chunking() && c.smtputf8());
    assert!(!c.starttls() && !c.dsn() && !c.binary_mime() && !c.requiretls());
    assert_eq!(
        c.auth_mechanisms(),
        [
            Mechanism::Login,
            Mechanism::Plain,
            Mechanism::XOAuth2,
            Mechanism::Other(MechanismName::new("PLAIN-CLIENTTOKEN").unwrap()),
            Mechanism::OAuthBearer,
            Mechanism::Other(MechanismName::new("XOAUTH").unwrap()),
        ]
    );
}

#[test]
fn legacy_auth_and_unknown_keywords() {
    let c = caps(
        b"250-mail.example.org\r\n250-AUTH=LOGIN PLAIN\r\n250-AUTH CRAM-MD5 PLAIN\r\n\
          250-STARTTLS\r\n250-DSN\r\n250-BINARYMIME\r\n250-REQUIRETLS\r\n\
          250-X-EXPS GSSAPI NTLM\r\n250-SIZE\r\n250 VRFY\r\n",
    );
    assert_eq!(
        c.auth_mechanisms(),
        [Mechanism::Login, Mechanism::Plain, Mechanism::CramMd5]
    );
    assert!(c.starttls() && c.dsn() && c.binary_mime() && c.requiretls());
    assert!(c.size_advertised());
    assert_eq!(c.max_size(), None);
    assert!(c.extensions().contains(&Extension::Other {
        keyword: "X-EXPS".into(),
        params: vec!["GSSAPI".into(), "NTLM".into()],
    }));
    assert!(c.extensions().contains(&Extension::AuthLegacy(vec![
        Mechanism::Login,
        Mechanism::Plain
    ])));
}

#[test]
fn smtp_sink_reply_with_empty_last_line() {
    let c = caps(b"250-host.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 \r\n");
    assert_eq!(c.server_name(), "host.example");
    assert_eq!(
        c.extensions(),
        [Extension::Pipelining, Extension::EightBitMime]
    );
    assert!(!c.size_advertised() && !c.starttls() && !c.smtputf8() && !c.chunking());
}

#[test]
fn single_line_ehlo_and_keyword_case() {
    let c = caps(b"250 tiny.example\r\n");
    assert_eq!(c.server_name(), "tiny.example");
    assert!(c.extensions().is_empty());
    let c = caps(b"250-x\r\n250-pipelining\r\n250 starttls\r\n");
    assert!(c.pipelining() && c.starttls());
}

#[test]
fn build_and_advertise() {
    let c = Capabilities::new("mx.example.net")
        .unwrap()
        .with_greeting("ready")
        .unwrap()
        .with(Extension::Size(Some(10_485_760)))
        .unwrap()
        .with(Extension::Pipelining)
        .unwrap()
        .with(Extension::Auth(vec![Mechanism::Plain, Mechanism::Login]))
        .unwrap();
    let wire = c.to_reply().to_string();
    assert_eq!(
        wire,
        "250-mx.example.net ready\r\n250-SIZE 10485760\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n"
    );
    assert_eq!(caps(wire.as_bytes()), c);
    // An `Other` extension must follow the ehlo-line grammar.
    let bad = Extension::Other {
        keyword: "BAD KEY".into(),
        params: vec![],
    };
    assert!(Capabilities::new("x").unwrap().with(bad).is_err());
    assert!(Capabilities::new("").is_err());
    assert!(Capabilities::new("a b").is_err());
}

#[test]
fn non_250_is_not_an_ehlo_reply() {
    let reply = Reply::parse(b"502 5.5.1 EHLO not implemented\r\n").unwrap();
    assert_eq!(
        Capabilities::from_ehlo_reply(&reply),
        Err(ParseError::BadEhloReply)
    );
}
