//! Properties of the typed envelope: every message the builder accepts
//! converts to the core's envelope, and the MAIL and RCPT commands the
//! core's encoder writes carry exactly the addresses given.

use mime_codec::{EnvelopeAddress, Mailbox, MessageBuilder};
use proptest::prelude::*;

/// A local part: a dot-string of atext (ASCII and not), or a quoted string.
fn local_part() -> impl Strategy<Value = String> {
    let atom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~éß用户-]{1,8}";
    prop_oneof![
        3 => prop::collection::vec(atom, 1..4).prop_map(|atoms| atoms.join(".")),
        1 => "[a-z .,;:@()<>\\[\\]é用]{1,20}"
            .prop_filter("not blank", |s| !s.trim().is_empty())
            .prop_map(|inner| format!("\"{inner}\"")),
    ]
}

/// A domain: LDH labels, UTF-8 labels, or an IPv4 literal.
fn domain() -> impl Strategy<Value = String> {
    let ldh = "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?";
    let label = prop_oneof![4 => ldh.prop_map(String::from), 1 => "(bücher|例子|测试|münchen|δοκιμή)".prop_map(String::from)];
    prop_oneof![
        6 => prop::collection::vec(label, 1..4).prop_map(|labels| labels.join(".")),
        1 => any::<[u8; 4]>().prop_map(|o| format!("[{}.{}.{}.{}]", o[0], o[1], o[2], o[3])),
    ]
}

fn address() -> impl Strategy<Value = String> {
    (local_part(), domain()).prop_map(|(l, d)| format!("{l}@{d}"))
}

/// How the core writes `given`: a quoted local part that is a dot-string
/// loses its quotes, and an ASCII local part takes its domain's A-label.
fn as_written(given: &str) -> String {
    let (local, domain) = given.rsplit_once('@').unwrap();
    let local = match local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        Some(inner)
            if inner.split('.').all(|a| {
                !a.is_empty()
                    && a.chars().all(|c| {
                        c.is_ascii_alphanumeric()
                            || "!#$%&'*+-/=?^_`{|}~".contains(c)
                            || !c.is_ascii()
                    })
            }) =>
        {
            inner.to_owned()
        }
        _ => local.to_owned(),
    };
    let domain = if local.is_ascii() && !domain.is_ascii() {
        idna::domain_to_ascii(domain).unwrap()
    } else {
        domain.to_owned()
    };
    format!("{local}@{domain}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_envelope_printed_is_the_addresses_given(
        from in address(),
        to in prop::collection::vec(address(), 1..4),
        bcc in prop::collection::vec(address(), 0..3),
    ) {
        let mut builder = MessageBuilder::new()
            .from(Mailbox::address_only(from.clone()).unwrap())
            .text_body("x");
        for a in &to {
            builder = builder.to(Mailbox::address_only(a.clone()).unwrap());
        }
        for a in &bcc {
            builder = builder.bcc(Mailbox::address_only(a.clone()).unwrap());
        }
        let message = builder.build().unwrap();
        let envelope = mailer::envelope(&message).unwrap();
        let commands = String::from_utf8(mailer::envelope_commands(&envelope)).unwrap();
        let mut given: Vec<&String> = Vec::new();
        for a in to.iter().chain(&bcc) {
            if !given.contains(&a) {
                given.push(a);
            }
        }
        let lines: Vec<&str> = commands.split_terminator("\r\n").collect();
        prop_assert_eq!(lines.len(), 1 + given.len());
        let mail = format!("MAIL FROM:<{}> ", as_written(&from));
        prop_assert!(lines[0].starts_with(&mail), "{} vs {}", lines[0], mail);
        for (line, rcpt) in lines[1..].iter().zip(&given) {
            prop_assert_eq!(*line, format!("RCPT TO:<{}>", as_written(rcpt)));
        }
        let utf8 = !as_written(&from).is_ascii() || given.iter().any(|a| !as_written(a).is_ascii());
        prop_assert_eq!(lines[0].ends_with(" SMTPUTF8"), utf8);
    }

    /// The fuzz target `mime_envelope_address`, as a property test: the two
    /// grammars agree, and every address mime-codec takes converts.
    #[test]
    fn what_mime_codec_takes_the_core_takes(
        local in "[a-zA-Z0-9.!#_+\"(), é用-]{1,12}",
        domain in "[a-z0-9.:_\\[\\]é例-]{1,16}|\\[[0-9.]{7,15}\\]|\\[IPv6:[0-9a-f:]{2,20}\\]",
    ) {
        let text = format!("{local}@{domain}");
        if let Ok(address) = EnvelopeAddress::new(&text) {
            prop_assert!(smtp_proto::Mailbox::parse_utf8(&text).is_ok(), "{}", text);
            prop_assert!(mailer::envelope_mailbox(&address).is_ok(), "{}", text);
        }
    }

    #[test]
    fn every_message_the_builder_accepts_converts(
        from in "[a-z._\\-\"é()\\[\\]]{1,6}@[a-z0-9._\\-\\[\\]é:]{1,12}",
        to in "[a-z.+_\"é ]{1,8}@[a-z0-9.\\-例_\\[\\]]{1,12}",
    ) {
        let (Ok(from), Ok(to)) = (Mailbox::address_only(from), Mailbox::address_only(to)) else {
            return Ok(());
        };
        let built = MessageBuilder::new().from(from).to(to).text_body("x").build();
        if let Ok(message) = built {
            let envelope = mailer::envelope(&message);
            prop_assert!(envelope.is_ok(), "{:?}: {:?}", message.envelope(), envelope);
        }
    }
}
