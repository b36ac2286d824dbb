//! Checks arbitrary text as an envelope address. What mime-codec accepts the core's own parser
//! must accept too (the two grammars agree), its parts put back together give the text, and
//! checking the text again gives the same address.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mime_codec::{EnvelopeAddress, EnvelopeDomain};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(address) = EnvelopeAddress::new(text) else { return };
    assert_eq!(address.as_str(), text);
    assert_eq!(EnvelopeAddress::new(address.as_str()).ok().as_ref(), Some(&address));
    if let Err(e) = smtp_proto::Mailbox::parse_utf8(text) {
        panic!("mime-codec took {text:?}, the core refuses it: {e}");
    }
    let local = if address.is_quoted() {
        format!("\"{}\"", address.local_part())
    } else {
        address.local_part().to_owned()
    };
    let domain = text.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    match address.domain() {
        EnvelopeDomain::Name(name) => assert_eq!(name, domain),
        EnvelopeDomain::General { tag, content } => {
            assert_eq!(format!("[{tag}:{content}]"), domain);
        }
        EnvelopeDomain::Ipv4(_) | EnvelopeDomain::Ipv6(_) => {
            assert!(domain.starts_with('[') && domain.ends_with(']'));
        }
    }
    assert_eq!(format!("{local}@{domain}"), text);
});
