//! Parses arbitrary bytes as a message and reads every helper (defects and leaves included; every
//! mailbox must be one the builder accepts); whatever parses is rebuilt with the builder and
//! must parse back to the same subject, bodies and attachments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mime_codec::{Attachment, Mailbox, Message, MessageBuilder};

fuzz_target!(|data: &[u8]| {
    let m = Message::parse(data);
    let subject = m.subject().map(|s| s.into_owned());
    let _ = (m.date(), m.message_id(), m.references(), m.defects());
    for list in [m.from(), m.to(), m.cc(), m.reply_to()] {
        for mb in list.iter().flat_map(|a| a.mailboxes()) {
            assert!(Mailbox::address_only(mb.address()).is_ok(), "{mb:?}");
        }
    }
    for p in m.leaf_parts() {
        assert!(p.parts().is_empty());
        let _ = (p.text(), p.file_name(), p.content_type_declared(), p.defects());
    }
    let text = m.text_body().map(|t| t.text.into_owned());
    let html = m.html_body().map(|t| t.text.into_owned());
    let files: Vec<(String, Vec<u8>)> = m
        .attachments()
        .iter()
        .map(|a| (a.file_name().unwrap_or("").to_owned(), a.decoded().into_owned()))
        .collect();
    for p in m.inline_parts() {
        let _ = (p.content_id(), p.decoded(), p.text());
    }

    let Ok(from) = Mailbox::address_only("fuzz@example.com") else { return };
    let mut b = MessageBuilder::new().from(from);
    let clean = |s: &str| !s.contains(['\r', '\n', '\0']);
    if let Some(s) = subject.as_deref().filter(|s| clean(s)) {
        b = b.subject(s);
    }
    if let Some(t) = &text {
        b = b.text_body(t.clone());
    }
    if let Some(h) = &html {
        b = b.html_body(h.clone());
    }
    let mut kept = Vec::new();
    for (name, bytes) in &files {
        if clean(name) {
            b = b.attach(Attachment::new(name.clone(), bytes.clone()).content_type("application/octet-stream"));
            kept.push((name, bytes));
        }
    }
    let Ok(built) = b.build() else { return };
    let size = built.size();
    let out = built.to_vec();
    assert_eq!(size, Some(out.len() as u64));
    let again = Message::parse(&out);
    if let Some(s) = subject.as_deref().filter(|s| clean(s)) {
        assert_eq!(again.subject().as_deref(), Some(s));
    }
    let norm = |s: &str| s.replace("\r\n", "\n").replace('\r', "\n").replace('\n', "\r\n");
    if let Some(t) = &text {
        assert_eq!(again.text_body().map(|t| t.text.into_owned()), Some(norm(t)));
    }
    let got = again.attachments();
    assert_eq!(got.len(), kept.len());
    for (part, (name, bytes)) in got.iter().zip(kept) {
        assert_eq!(part.decoded().as_ref(), bytes.as_slice());
        assert_eq!(part.file_name().unwrap_or(""), name.as_str());
    }
});
