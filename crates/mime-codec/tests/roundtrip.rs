//! Property tests: what is built parses back to what was given; encoders and decoders agree;
//! no generated header holds a bare CR or LF; the parser survives anything.

use mime_codec::{
    rfc2047, rfc2231, Attachment, DateTime, Mailbox, Message, MessageBuilder, RawPart,
};
use proptest::prelude::*;

/// Header text as a caller might give it: any Unicode except CR, LF and NUL.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,120}",
        "[a-zA-Z0-9 ]{0,40}",
        "\\PC{0,80}",
        "[中文字符测试 😀é\t]{0,60}",
        "[ -~]{850,1000}",
    ]
    .prop_map(|s| s.replace(['\r', '\n', '\0'], ""))
}

/// File names: like header text, but within the 255 byte limit of file systems.
fn file_name() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,120}", "\\PC{0,60}", "[中文字符测试 😀é\t]{0,60}"]
        .prop_map(|s| s.replace(['\r', '\n', '\0'], ""))
}

fn address() -> impl Strategy<Value = String> {
    (
        // A dot-string: the builder refuses envelope addresses SMTP cannot carry.
        "[a-z0-9][a-z0-9_+-]{0,7}(\\.[a-z0-9_+-]{1,7})?",
        "[a-z0-9]{1,10}(\\.[a-z]{2,5}){1,2}",
    )
        .prop_map(|(l, d)| format!("{l}@{d}"))
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    (header_text(), address()).prop_map(|(n, a)| Mailbox::new(n, a).unwrap())
}

fn normalise_newlines(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

fn header_section(msg: &[u8]) -> &[u8] {
    let end = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(msg.len(), |p| p + 2);
    &msg[..end]
}

fn base() -> MessageBuilder {
    MessageBuilder::new()
        .from(Mailbox::new("Sender", "sender@example.com").unwrap())
        .date(DateTime::from_unix(1_750_000_000, 120).unwrap())
        .entropy([9; 12])
}

/// Pieces for text-like quoted-printable input.
const QP_PIECES: &[&[u8]] = &[
    b"\r\n",
    b" ",
    b"\t",
    b"=",
    b"\r",
    b"\n",
    b"x",
    b"\xc3\xa9",
    b"xxxxxxxxxxxxxxxxxxxx",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn headers_round_trip(
        subject in header_text(),
        to in prop::collection::vec(mailbox(), 1..4),
        cc in prop::collection::vec(mailbox(), 0..3),
        custom in header_text(),
    ) {
        let mut b = base().subject(subject.clone()).header("X-Custom", custom.clone());
        for m in &to { b = b.to(m.clone()); }
        for m in &cc { b = b.cc(m.clone()); }
        let out = b.build().unwrap().to_vec();
        let m = Message::parse(&out);
        prop_assert_eq!(m.subject().map(|c| c.into_owned()), Some(subject.clone()));
        prop_assert_eq!(m.header("X-Custom").map(|c| c.into_owned()), Some(custom.clone()));
        let got_to: Vec<Mailbox> = m.to().iter().flat_map(|a| a.mailboxes().to_vec()).collect();
        prop_assert_eq!(got_to, to);
        let got_cc: Vec<Mailbox> = m.cc().iter().flat_map(|a| a.mailboxes().to_vec()).collect();
        prop_assert_eq!(got_cc, cc);
    }

    #[test]
    fn no_header_holds_a_bare_cr_or_lf(
        subject in header_text(),
        name in header_text(),
        file in file_name(),
        custom in header_text(),
    ) {
        let out = base()
            .to(Mailbox::new(name, "to@example.com").unwrap())
            .subject(subject)
            .header("X-Custom", custom)
            .attach(Attachment::new(file, vec![1, 2, 3]))
            .build()
            .unwrap()
            .to_vec();
        for (i, &b) in out.iter().enumerate() {
            if b == b'\r' { prop_assert_eq!(out.get(i + 1), Some(&b'\n')); }
            if b == b'\n' { prop_assert_eq!(out[i - 1], b'\r'); }
        }
        for line in out.split(|&b| b == b'\n') {
            prop_assert!(line.len() <= 999);
        }
        // Every header line is a known field or a continuation: nothing was injected.
        let head = header_section(&out);
        let known = ["Date", "From", "To", "Subject", "Message-ID", "X-Custom", "MIME-Version", "Content-Type"];
        for line in head.split(|&b| b == b'\n').filter(|l| !l.is_empty() && *l != b"\r") {
            if line[0] == b' ' || line[0] == b'\t' { continue; }
            let name = std::str::from_utf8(&line[..line.iter().position(|&b| b == b':').unwrap()]).unwrap();
            prop_assert!(known.contains(&name), "unexpected header {}", name);
        }
    }

    #[test]
    fn bodies_round_trip(
        text in "\\PC{0,400}",
        html in prop::option::of("[ -~\n\t中文]{0,300}"),
        allow_8bit in any::<bool>(),
    ) {
        let mut b = base().text_body(text.clone()).allow_8bit(allow_8bit);
        if let Some(h) = &html { b = b.html_body(h.clone()); }
        let out = b.build().unwrap().to_vec();
        let m = Message::parse(&out);
        let expected_text = normalise_newlines(&text);
        prop_assert_eq!(m.text_body().unwrap().text.into_owned(), expected_text);
        if let Some(h) = html {
            let expected_html = normalise_newlines(&h);
            prop_assert_eq!(m.html_body().unwrap().text.into_owned(), expected_html);
        }
    }

    #[test]
    fn attachments_and_nesting_round_trip(
        files in prop::collection::vec((file_name(), prop::collection::vec(any::<u8>(), 0..3000), any::<bool>()), 0..4),
        inline in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..500), 0..3),
        text in prop::option::of("[ -~]{0,50}"),
        html in prop::option::of("[ -~]{0,50}"),
    ) {
        let mut b = base();
        if let Some(t) = &text { b = b.text_body(t.clone()); }
        if let Some(h) = &html { b = b.html_body(h.clone()); }
        for (i, data) in inline.iter().enumerate() {
            b = b.inline(format!("img{i}@example"), Attachment::new(format!("i{i}.png"), data.clone()));
        }
        for (name, data, textual) in &files {
            let a = Attachment::new(name.clone(), data.clone());
            b = b.attach(if *textual { a.content_type("text/plain") } else { a });
        }
        let msg = b.build().unwrap();
        let size = msg.size();
        let out = msg.to_vec();
        prop_assert_eq!(size, Some(out.len() as u64));
        let m = Message::parse(&out);
        let att = m.attachments();
        prop_assert_eq!(att.len(), files.len());
        for (part, (name, data, _)) in att.iter().zip(&files) {
            prop_assert_eq!(part.decoded().into_owned(), data.clone());
            let want = if name.is_empty() { None } else { Some(name.as_str()) };
            prop_assert_eq!(part.file_name(), want);
        }
        prop_assert_eq!(m.inline_parts().len(), inline.len());
        for (i, data) in inline.iter().enumerate() {
            let p = m.part_by_content_id(&format!("img{i}@example")).unwrap();
            prop_assert_eq!(p.decoded().into_owned(), data.clone());
        }
        if let Some(t) = text { prop_assert_eq!(m.text_body().unwrap().text.into_owned(), t); }
        if let Some(h) = html { prop_assert_eq!(m.html_body().unwrap().text.into_owned(), h); }
    }

    /// A multipart of any subtype with extra parameters and parts given as they are (7-bit CRLF
    /// bodies, any plain content type with parameters) parses back to exactly that: the subtype,
    /// the parameters, the text body, each part's content type and its body byte for byte.
    #[test]
    fn raw_parts_and_chosen_multiparts_round_trip(
        subtype in prop::option::of("[a-z][a-z0-9-]{0,15}"),
        params in prop::collection::vec(("[a-z][a-z0-9-]{0,10}", "[ -~]{0,60}"), 0..3),
        raw in prop::collection::vec((
            prop_oneof![
                Just("message/delivery-status".to_owned()),
                Just("text/rfc822-headers".to_owned()),
                "(text|application|message)/x-[a-z]{1,8}",
            ],
            prop::option::of("[ -~]{0,30}"),
            prop::collection::vec("[ -~]{0,120}", 0..8),
            any::<bool>(),
        ), 0..4),
        text in "[ -~\n]{0,200}",
        attach in prop::option::of(prop::collection::vec(any::<u8>(), 0..300)),
    ) {
        // Distinct names: a repeated parameter would be read once.
        let mut params = params;
        params.retain(|(k, _)| k != "boundary");
        params.sort();
        params.dedup_by(|a, b| a.0 == b.0);
        let mut b = base().text_body(text.clone());
        if let Some(s) = &subtype {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            b = b.multipart(s.clone(), &p);
        }
        let mut given = Vec::new();
        for (ct, charset, lines, crlf_end) in &raw {
            let ct = match charset {
                Some(c) => format!("{ct}; x-note=\"{}\"", c.replace(['"', '\\'], "")),
                None => ct.clone(),
            };
            let mut body = lines.join("\r\n");
            if *crlf_end { body.push_str("\r\n"); }
            given.push((ct.clone(), body.clone()));
            b = b.part(RawPart::new(ct, body));
        }
        if let Some(a) = &attach { b = b.attach(Attachment::new("a.bin", a.clone())); }
        let out = b.build().unwrap().to_vec();
        prop_assert!(out.is_ascii());
        let m = Message::parse(&out);
        prop_assert_eq!(m.text_body().unwrap().text.into_owned(), normalise_newlines(&text));
        let root = m.root().content_type();
        if subtype.is_none() && raw.is_empty() && attach.is_none() {
            prop_assert!(root.is("text", "plain"));
            return Ok(());
        }
        let want = subtype.clone().unwrap_or_else(|| "mixed".into());
        prop_assert!(root.is("multipart", &want), "{:?}", root);
        if subtype.is_some() {
            for (k, v) in &params {
                prop_assert_eq!(root.param(k), Some(v.as_str()));
            }
        }
        let parts = m.root().parts();
        prop_assert_eq!(parts.len(), 1 + raw.len() + usize::from(attach.is_some()));
        for (part, (ct, body)) in parts[1..].iter().zip(&given) {
            let expected = mime_codec::ContentType::parse(ct).unwrap();
            prop_assert_eq!(part.content_type().essence(), expected.essence());
            prop_assert_eq!(part.content_type().params.clone(), expected.params);
            prop_assert_eq!(part.raw_body(), body.as_bytes());
        }
        if let Some(a) = attach {
            prop_assert_eq!(parts[parts.len() - 1].decoded().into_owned(), a);
        }
    }

    #[test]
    fn streamed_output_equals_whole_output(data in prop::collection::vec(any::<u8>(), 0..20_000), chunk in 1usize..5000) {
        let chunks: Vec<Vec<u8>> = data.chunks(chunk).map(<[u8]>::to_vec).collect();
        let streamed = base()
            .attach(Attachment::from_chunks("f.bin", Some(data.len() as u64), chunks.into_iter()))
            .build()
            .unwrap();
        let size = streamed.size();
        let streamed: Vec<u8> = streamed.chunks().flatten().collect();
        prop_assert_eq!(size, Some(streamed.len() as u64));
        let m = Message::parse(&streamed);
        prop_assert_eq!(m.attachments()[0].decoded().into_owned(), data);
    }

    #[test]
    fn base64_round_trip(data in prop::collection::vec(any::<u8>(), 0..2000)) {
        let enc = mime_codec::base64::encode_wrapped(&data);
        prop_assert_eq!(enc.len() as u64, mime_codec::base64::encoded_len(data.len() as u64));
        prop_assert!(enc.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        prop_assert_eq!(mime_codec::base64::decode_lenient(&enc), data);
    }

    #[test]
    fn quoted_printable_round_trip(data in prop::collection::vec(any::<u8>(), 0..2000)) {
        let enc = mime_codec::qp::encode(&data);
        prop_assert!(enc.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        prop_assert!(enc.iter().all(|&b| b == b'\r' || b == b'\n' || b == b'\t' || (b' '..0x7f).contains(&b)));
        prop_assert_eq!(mime_codec::qp::decode(&enc), data);
    }

    /// Text-like input, dense in the cases RFC 2045 cares about: CRLF, trailing whitespace,
    /// `=`, bare CR and LF, long lines. Every line stays within 76 characters, none ends in
    /// whitespace, and the strict decoder of the `quoted_printable` crate accepts the output.
    #[test]
    fn quoted_printable_rfc2045_shape(
        data in prop::collection::vec(
            prop::sample::select(QP_PIECES),
            0..300,
        )
    ) {
        let data = data.concat();
        let enc = mime_codec::qp::encode(&data);
        for line in enc.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            prop_assert!(line.len() <= 76);
            prop_assert!(!matches!(line.last(), Some(b' ' | b'\t')));
        }
        prop_assert_eq!(quoted_printable::decode(&enc, quoted_printable::ParseMode::Strict).unwrap(), data.clone());
        prop_assert_eq!(mime_codec::qp::decode(&enc), data);
    }

    #[test]
    fn rfc2047_round_trip(text in "\\PC{0,300}") {
        let words = rfc2047::encode_words(&text);
        prop_assert!(words.iter().all(|w| w.len() <= 75 && w.is_ascii()));
        prop_assert_eq!(rfc2047::decode(&words.join("\r\n ")).into_owned(), text);
    }

    #[test]
    fn rfc2231_round_trip(text in "\\PC{0,200}") {
        let params = rfc2231::encode("filename", &text);
        let header = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";\r\n ");
        let cd = mime_codec::ContentDisposition::parse(&format!("attachment; {header}")).unwrap();
        prop_assert_eq!(cd.param("filename"), Some(text.as_str()));
    }

    #[test]
    fn date_round_trip(t in -2_000_000_000i64..10_000_000_000, off in -1439i16..1440) {
        let d = DateTime::from_unix(t, off).unwrap();
        prop_assert_eq!(DateTime::parse(&d.to_string()), Some(d));
        prop_assert_eq!(d.to_unix(), t);
    }

    #[test]
    fn parser_never_panics_on_bytes(data in prop::collection::vec(any::<u8>(), 0..2000)) {
        let m = Message::parse(&data);
        let _ = (m.subject(), m.from(), m.to(), m.date(), m.message_id(), m.text_body(), m.html_body());
        for a in m.attachments() { let _ = (a.file_name(), a.decoded(), a.text()); }
    }

    #[test]
    fn parser_never_panics_on_mutated_messages(
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..20),
    ) {
        let mut raw = base()
            .subject("主题 subject")
            .to(Mailbox::new("收件人", "to@example.com").unwrap())
            .text_body("text 中文")
            .html_body("<p>html</p>")
            .inline("c@x", Attachment::new("i.png", vec![1, 2, 3]))
            .attach(Attachment::new("文件.txt", "内容".as_bytes().to_vec()))
            .build()
            .unwrap()
            .to_vec();
        for (i, b) in flips { let n = i.index(raw.len()); raw[n] = b; }
        raw.truncate(cut.index(raw.len() + 1));
        let m = Message::parse(&raw);
        let _ = (m.subject(), m.to(), m.text_body(), m.html_body(), m.inline_parts());
        for a in m.attachments() { let _ = (a.file_name(), a.decoded(), a.text()); }
    }
}
