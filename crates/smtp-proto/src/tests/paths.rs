use crate::*;
use std::net::{Ipv4Addr, Ipv6Addr};

#[test]
fn domains() {
    for ok in [
        "example.com",
        "a",
        "xn--bcher-kva.example",
        "1.2.3.example",
        "a-b.c-d",
    ] {
        assert_eq!(Domain::new(ok).unwrap().as_str(), ok);
    }
    for bad in [
        "", ".", "a..b", "-a.b", "a-.b", "a.b.", ".a.b", "a_b.c", "a b",
    ] {
        assert!(Domain::new(bad).is_err(), "{bad:?}");
    }
    let label63 = "a".repeat(63);
    assert!(Domain::new(&label63).is_ok());
    assert_eq!(Domain::new(&"a".repeat(64)), Err(ParseError::DomainTooLong));
    let long = [label63.as_str(); 4].join(".");
    assert_eq!(long.len(), 255);
    assert!(Domain::new(&long).is_ok());
    assert_eq!(
        Domain::new(&format!("{long}a")),
        Err(ParseError::DomainTooLong)
    );
    assert_eq!(Domain::new("bücher.de"), Err(ParseError::Utf8NotAllowed));
    assert!(Domain::new_utf8("bücher.de").is_ok());
}

#[test]
fn address_literals() {
    assert_eq!(
        AddressLiteral::parse("[192.0.2.1]"),
        Ok(AddressLiteral::V4(Ipv4Addr::new(192, 0, 2, 1)))
    );
    assert_eq!(
        AddressLiteral::parse("[010.0.0.1]"),
        Ok(AddressLiteral::V4(Ipv4Addr::new(10, 0, 0, 1)))
    );
    assert_eq!(
        AddressLiteral::parse("[IPv6:::1]"),
        Ok(AddressLiteral::V6(Ipv6Addr::LOCALHOST))
    );
    assert_eq!(
        AddressLiteral::parse("[ipv6:2001:db8::ff00:42:8329]").map(|l| l.to_string()),
        Ok("[IPv6:2001:db8::ff00:42:8329]".to_owned())
    );
    assert_eq!(
        AddressLiteral::parse("[x-tag:some.content]"),
        Ok(AddressLiteral::General(
            GeneralLiteral::new("x-tag", "some.content").unwrap()
        ))
    );
    for bad in [
        "192.0.2.1",
        "[192.0.2]",
        "[192.0.2.1.5]",
        "[256.0.0.1]",
        "[1234.0.0.1]",
        "[IPv6:1.2.3.4]",
        "[IPv6:::g]",
        "[]",
        "[tag:]",
        "[:x]",
        "[a[b]",
        "[192.0.2.1",
    ] {
        assert!(AddressLiteral::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn mailboxes() {
    let m = Mailbox::parse("\"john \\\"jr\\\" doe\"@example.com").unwrap();
    assert_eq!(m.local_part(), "\"john \\\"jr\\\" doe\"");
    assert_eq!(m.local_part_value(), "john \"jr\" doe");
    assert_eq!(
        Mailbox::new("john \"jr\" doe", Host::parse("example.com").unwrap()).unwrap(),
        m
    );
    assert_eq!(
        Mailbox::parse("user+tag@[192.0.2.1]").unwrap().to_string(),
        "user+tag@[192.0.2.1]"
    );
    assert!(Mailbox::parse("!#$%&'*+-/=?^_`{|}~@example.com").is_ok());
    for bad in [
        "",
        "@example.com",
        "user@",
        "user",
        "us er@example.com",
        ".user@example.com",
        "user.@example.com",
        "us..er@example.com",
        "\"unterminated@example.com",
        "\"bad\\\u{7f}\"@example.com",
        "user@exa mple.com",
        "a@b@c.com",
    ] {
        assert!(Mailbox::parse(bad).is_err(), "{bad:?}");
    }
    assert!(Mailbox::new("tab\there", Host::parse("x.example").unwrap()).is_err());
    assert!(Mailbox::new("cr\rlf", Host::parse("x.example").unwrap()).is_err());
}

#[test]
fn length_limits() {
    let local64 = "a".repeat(64);
    assert!(Mailbox::parse(&format!("{local64}@example.com")).is_ok());
    assert_eq!(
        Mailbox::parse(&format!("{local64}a@example.com")),
        Err(ParseError::LocalPartTooLong)
    );
    // 64 + 1 + 189 = 254 octets, 256 with the brackets: the longest path.
    let domain189 = format!("{}.{}.{}", "a".repeat(63), "b".repeat(63), "c".repeat(61));
    assert_eq!(domain189.len(), 189);
    let longest = format!("{local64}@{domain189}");
    assert!(Mailbox::parse(&longest).is_ok());
    let line = format!("RCPT TO:<{longest}>");
    assert!(Command::parse(line.as_bytes()).is_ok());
    let too_long = format!("{local64}@{domain189}d");
    assert_eq!(Mailbox::parse(&too_long), Err(ParseError::PathTooLong));
    let line = format!("RCPT TO:<{too_long}>");
    assert_eq!(
        Command::parse(line.as_bytes()),
        Err(ParseError::PathTooLong)
    );
}

#[test]
fn xtext_round_trips_known_values() {
    assert_eq!(xtext::encode("plain"), "plain");
    assert_eq!(xtext::encode("a b+c=d\u{7f}é"), "a+20b+2Bc+3Dd+7F+C3+A9");
    assert_eq!(
        xtext::decode("a+20b+2Bc+3Dd+7F+C3+A9").unwrap(),
        "a b+c=d\u{7f}é"
    );
    assert_eq!(xtext::decode("lower+2b"), Ok("lower+".into()));
    for bad in ["a+", "a+2", "a+zz", "a=b", "a b", "+FF"] {
        assert!(xtext::decode(bad).is_err(), "{bad:?}");
    }
}

/// A mailbox is kept as one string; its parts are found again on demand,
/// also when the local part or an address literal holds `@` or `[`.
#[test]
fn mailbox_parts_from_one_string() {
    let cases: [(&str, &str, &str); 6] = [
        ("a@example.com", "a", "example.com"),
        ("\"x@y\"@example.com", "\"x@y\"", "example.com"),
        ("\"[x]@y\"@[192.0.2.1]", "\"[x]@y\"", "[192.0.2.1]"),
        ("a@[tag:x@y]", "a", "[tag:x@y]"),
        (
            "\"p@q\"@[IPv6:2001:db8::1]",
            "\"p@q\"",
            "[IPv6:2001:db8::1]",
        ),
        ("a.b@sub.example.org", "a.b", "sub.example.org"),
    ];
    for (text, local, domain) in cases {
        let m = Mailbox::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        assert_eq!(m.local_part(), local, "{text}");
        assert_eq!(m.domain_str(), domain, "{text}");
        assert_eq!(m.domain().to_string(), domain, "{text}");
        assert_eq!(m.as_str(), text);
        assert_eq!(m.to_string(), text);
        // Built from its parts, it is the same mailbox.
        let again = Mailbox::new(&m.local_part_value(), m.domain().clone()).unwrap();
        assert_eq!(again, m, "{text}");
        assert_eq!(again.domain(), m.domain());
    }
    // Address literals are kept in their canonical form.
    let m = Mailbox::parse("a@[IPv6:2001:DB8:0::1]").unwrap();
    assert_eq!(m.domain_str(), "[IPv6:2001:db8::1]");
    assert_eq!(
        m.domain(),
        &Host::Literal(AddressLiteral::V6("2001:db8::1".parse().unwrap()))
    );
    assert_eq!(m, Mailbox::parse("a@[IPv6:2001:db8::1]").unwrap());
    // A parsed mailbox reads its host from the text when asked.
    let m = Mailbox::parse("x@Mail.Example.COM").unwrap();
    assert_eq!(
        m.domain(),
        &Host::Domain(Domain::new("Mail.Example.COM").unwrap())
    );
}
