//! Parses arbitrary text as an address list; every mailbox must be valid for the builder, and
//! written into a To header must parse back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mime_codec::{parse_address_list, Mailbox, Message, MessageBuilder};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let list = parse_address_list(&input);
    let mailboxes: Vec<Mailbox> = list
        .iter()
        .flat_map(|a| a.mailboxes())
        .map(|m| {
            Mailbox::new(m.name().unwrap_or(""), m.address())
                .unwrap_or_else(|e| panic!("parsed an unwritable mailbox {m:?}: {e}"))
        })
        .collect();
    if mailboxes.is_empty() {
        return;
    }
    let Ok(from) = Mailbox::address_only("fuzz@example.com") else { return };
    let mut b = MessageBuilder::new().from(from);
    for m in &mailboxes {
        b = b.to(m.clone());
    }
    let Ok(msg) = b.build() else { return };
    let out = msg.to_vec();
    let parsed = Message::parse(&out);
    let again: Vec<Mailbox> = parsed.to().iter().flat_map(|a| a.mailboxes().to_vec()).collect();
    assert_eq!(again, mailboxes);
});
