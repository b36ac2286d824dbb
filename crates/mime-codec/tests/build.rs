//! Building messages: exact output, header injection, encodings, envelope, size and streaming.

use mime_codec::{
    Attachment, BuildError, DateTime, Mailbox, Message, MessageBuilder, TransferEncoding,
};

fn mb(name: &str, addr: &str) -> Mailbox {
    Mailbox::new(name, addr).unwrap()
}

fn base() -> MessageBuilder {
    MessageBuilder::new()
        .from(mb("Ann Example", "ann@example.com"))
        .to(mb("", "bob@example.net"))
        .date(DateTime::new(2026, 11, 23, 14, 0, 0, 0).unwrap())
        .entropy([1, 2, 3, 4])
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

/// Every line ends in CRLF, and none is longer than 998 octets.
fn assert_wire_clean(bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert_eq!(bytes.get(i.wrapping_sub(1)), Some(&b'\r'), "bare LF at {i}");
        }
        if b == b'\r' {
            assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at {i}");
        }
    }
    for line in bytes.split(|&b| b == b'\n') {
        assert!(line.len() <= 999, "line of {} octets", line.len());
    }
}

#[test]
fn plain_text_message_known_answer() {
    let msg = base()
        .subject("Hello")
        .text_body("Hi Bob,\nsee you.\n")
        .build()
        .unwrap();
    let expected = "Date: Mon, 23 Nov 2026 14:00:00 +0000\r\n\
         From: Ann Example <ann@example.com>\r\n\
         To: <bob@example.net>\r\n\
         Subject: Hello\r\n\
         Message-ID: <01020304@example.com>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 7bit\r\n\
         \r\n\
         Hi Bob,\r\nsee you.\r\n";
    assert_eq!(msg.size(), Some(expected.len() as u64));
    assert_eq!(text(&msg.to_vec()), expected);
}

#[test]
fn header_injection_is_a_typed_error() {
    let cases: Vec<(MessageBuilder, &str)> = vec![
        (base().subject("hi\r\nBcc: x@evil.test"), "Subject"),
        (base().subject("nul\0"), "Subject"),
        (base().header("X-Tag", "a\nb"), "X-Tag"),
        (
            base().attach(Attachment::new("a\r\n.txt", vec![1])),
            "attachment file name",
        ),
        (
            base().attach(Attachment::new("a.txt", vec![1]).content_type("text/plain\r\nX: y")),
            "attachment content type",
        ),
        (base().message_id("<a\r\n@b>"), "message identifier"),
        (base().in_reply_to("x\ny"), "message identifier"),
        (
            base().inline("cid\r\n", Attachment::new("i.png", vec![1])),
            "message identifier",
        ),
    ];
    for (builder, field) in cases {
        assert_eq!(
            builder.build().unwrap_err(),
            BuildError::ForbiddenCharacter {
                field: field.into()
            }
        );
    }
    assert!(matches!(
        Mailbox::new("x\r\nBcc: y@z", "a@b.example"),
        Err(BuildError::ForbiddenCharacter { .. })
    ));
    assert!(matches!(
        Mailbox::address_only("a@b.example\r\nX: y"),
        Err(BuildError::ForbiddenCharacter { .. })
    ));
    assert!(matches!(
        "a@b.example\n".parse::<Mailbox>(),
        Err(BuildError::ForbiddenCharacter { .. })
    ));
}

#[test]
fn other_build_errors() {
    assert_eq!(
        MessageBuilder::new().text_body("x").build().unwrap_err(),
        BuildError::MissingFrom
    );
    assert_eq!(
        base()
            .from(mb("", "second@example.com"))
            .build()
            .unwrap_err(),
        BuildError::MissingSender
    );
    assert!(base()
        .from(mb("", "second@example.com"))
        .sender(mb("", "s@example.com"))
        .build()
        .is_ok());
    assert_eq!(
        base().header("Bad Name", "v").build().unwrap_err(),
        BuildError::InvalidHeaderName("Bad Name".into())
    );
    assert_eq!(
        base().header("bcc", "v").build().unwrap_err(),
        BuildError::ReservedHeader("bcc".into())
    );
    assert!(matches!(
        base().message_id("has space@x").build(),
        Err(BuildError::InvalidId(_))
    ));
    assert!(matches!(
        base()
            .attach(Attachment::new("a", vec![]).content_type("nonsense"))
            .build(),
        Err(BuildError::InvalidContentType(_))
    ));
}

#[test]
fn bcc_is_in_the_envelope_only() {
    let msg = base()
        .cc(mb("Carol", "carol@example.org"))
        .bcc(mb("Hidden", "hidden@example.org"))
        .to(mb("", "bob@example.net"))
        .text_body("x")
        .build()
        .unwrap();
    assert_eq!(msg.envelope().reverse_path, "ann@example.com");
    assert_eq!(
        msg.envelope().recipients,
        ["bob@example.net", "carol@example.org", "hidden@example.org"]
    );
    let out = msg.to_vec();
    let s = text(&out);
    assert!(!s.contains("hidden"), "{s}");
    assert!(!s.to_ascii_lowercase().contains("bcc"));
    let sender = base()
        .sender(mb("", "bounces@example.com"))
        .build()
        .unwrap();
    assert_eq!(sender.envelope().reverse_path, "bounces@example.com");
}

#[test]
fn transfer_encoding_follows_content() {
    let pick = |b: MessageBuilder| {
        let out = b.build().unwrap().to_vec();
        let m = Message::parse(&out);
        let te = m.root().transfer_encoding();
        (te, m.text_body().map(|t| t.text.into_owned()))
    };
    assert_eq!(
        pick(base().text_body("plain ascii")).0,
        TransferEncoding::SevenBit
    );
    let mostly_ascii = "Grüße aus Köln — the meeting is at 10 o'clock";
    let (te, t) = pick(base().text_body(mostly_ascii));
    assert_eq!(te, TransferEncoding::QuotedPrintable);
    assert_eq!(t.as_deref(), Some(mostly_ascii));
    let (te, t) = pick(base().text_body("这是一封完全用中文写的邮件"));
    assert_eq!(te, TransferEncoding::Base64);
    assert_eq!(t.as_deref(), Some("这是一封完全用中文写的邮件"));
    let (te, _) = pick(base().text_body("x".repeat(2000)));
    assert_eq!(te, TransferEncoding::QuotedPrintable);
    let (te, t) = pick(base().text_body("这是中文").allow_8bit(true));
    assert_eq!(te, TransferEncoding::EightBit);
    assert_eq!(t.as_deref(), Some("这是中文"));
    assert!(base()
        .text_body("这是中文")
        .allow_8bit(true)
        .build()
        .unwrap()
        .needs_8bitmime());
    assert!(!base()
        .text_body("这是中文")
        .build()
        .unwrap()
        .needs_8bitmime());
}

#[test]
fn smtputf8_when_an_address_is_not_ascii() {
    let msg = base()
        .to(mb("", "用户@例子.中国"))
        .text_body("x")
        .build()
        .unwrap();
    assert!(msg.needs_smtputf8());
    assert!(msg.needs_8bitmime());
    assert!(!base().build().unwrap().needs_smtputf8());
}

#[test]
fn long_subjects_and_names_fold_at_78_without_splitting_characters() {
    let subject = "关于下季度预算和人员安排的会议纪要以及后续行动项目的详细说明".repeat(3);
    let name = "非常非常长的显示名称".repeat(4);
    let out = base()
        .subject(subject.clone())
        .to(mb(&name, "long@example.com"))
        .build()
        .unwrap()
        .to_vec();
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = text(&out[..head_end]);
    assert!(head.is_ascii());
    for line in head.split("\r\n") {
        assert!(line.len() <= 78, "{line:?}");
    }
    let m = Message::parse(&out);
    assert_eq!(m.subject().as_deref(), Some(subject.as_str()));
    let to = m.to();
    assert_eq!(to[1].mailboxes()[0].name(), Some(name.as_str()));
}

#[test]
fn attachments_and_inline_images_round_trip() {
    let png: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let csv = "名前,値\r\na,1\r\n".as_bytes().to_vec();
    let out = base()
        .subject("报告")
        .text_body("see attached")
        .html_body("<img src=\"cid:logo@x\">")
        .inline("logo@x", Attachment::new("logo.png", png.clone()))
        .attach(Attachment::new("数据 2026.csv", csv.clone()))
        .attach(
            Attachment::new("plain.bin", b"ascii only\r\n".to_vec())
                .content_type("application/x-thing; version=2"),
        )
        .attach(Attachment::new(
            "a very long file name that keeps going well past the sixty character mark.txt",
            b"x".to_vec(),
        ))
        .build()
        .unwrap()
        .to_vec();
    assert_wire_clean(&out);
    let m = Message::parse(&out);
    assert_eq!(m.root().content_type().essence(), "multipart/mixed");
    assert_eq!(m.text_body().unwrap().text, "see attached");
    assert_eq!(m.html_body().unwrap().text, "<img src=\"cid:logo@x\">");
    let logo = m.part_by_content_id("cid:logo@x").unwrap();
    assert_eq!(logo.content_type().essence(), "image/png");
    assert_eq!(logo.decoded().as_ref(), png.as_slice());
    assert_eq!(m.inline_parts().len(), 1);
    let att = m.attachments();
    assert_eq!(att.len(), 3);
    assert_eq!(att[0].file_name(), Some("数据 2026.csv"));
    assert_eq!(att[0].content_type().essence(), "text/csv");
    assert_eq!(att[0].decoded().as_ref(), csv.as_slice());
    // The legacy name= parameter decodes to the same name.
    assert_eq!(att[0].content_type().param("name"), Some("数据 2026.csv"));
    assert_eq!(att[1].content_type().param("version"), Some("2"));
    assert_eq!(att[1].transfer_encoding(), TransferEncoding::SevenBit);
    assert_eq!(att[1].decoded().as_ref(), b"ascii only\r\n");
    assert_eq!(
        att[2].file_name(),
        Some("a very long file name that keeps going well past the sixty character mark.txt")
    );
}

#[test]
fn structure_follows_the_parts_given() {
    let shape = |b: MessageBuilder| {
        let out = b.build().unwrap().to_vec();
        let m = Message::parse(&out);
        fn walk(p: &mime_codec::Part<'_>, out: &mut String) {
            out.push_str(&p.content_type().essence());
            if !p.parts().is_empty() {
                out.push('(');
                for (i, c) in p.parts().iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    walk(c, out);
                }
                out.push(')');
            }
        }
        let mut s = String::new();
        walk(m.root(), &mut s);
        s
    };
    let img = || Attachment::new("i.png", vec![0x89, 0, 1]);
    assert_eq!(shape(base()), "text/plain");
    assert_eq!(shape(base().html_body("<p>")), "text/html");
    assert_eq!(
        shape(base().text_body("t").html_body("<p>")),
        "multipart/alternative(text/plain,text/html)"
    );
    assert_eq!(
        shape(base().html_body("<p>").inline("i", img())),
        "multipart/related(text/html,image/png)"
    );
    assert_eq!(
        shape(base().text_body("t").html_body("<p>").inline("i", img()).attach(img())),
        "multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,image/png)),image/png)"
    );
}

#[test]
fn boundaries_never_collide_with_content() {
    let first = base()
        .text_body("x")
        .attach(Attachment::new("a.txt", b"a".to_vec()))
        .build()
        .unwrap()
        .to_vec();
    let m = Message::parse(&first);
    let boundary = m
        .root()
        .content_type()
        .param("boundary")
        .unwrap()
        .to_owned();
    let hostile = format!("--{boundary}\r\n--{boundary}--\r\n");
    let out = base()
        .text_body(hostile.clone())
        .attach(Attachment::new("a.txt", hostile.clone().into_bytes()))
        .build()
        .unwrap()
        .to_vec();
    let m = Message::parse(&out);
    assert_ne!(
        m.root().content_type().param("boundary"),
        Some(boundary.as_str())
    );
    assert_eq!(m.text_body().unwrap().text, hostile);
    assert_eq!(m.attachments()[0].decoded().as_ref(), hostile.as_bytes());
}

#[test]
fn headers_ids_and_custom_fields() {
    let out = base()
        .message_id("custom-1@example.com")
        .in_reply_to("<a@example.com>")
        .references("<root@example.com>")
        .references("a@example.com")
        .reply_to(mb("Support Team", "support@example.com"))
        .header("List-Unsubscribe", "<mailto:unsub@example.com>")
        .header("X-Note", "Ünïcödé value")
        .build()
        .unwrap()
        .to_vec();
    let m = Message::parse(&out);
    assert_eq!(m.message_id().as_deref(), Some("custom-1@example.com"));
    assert_eq!(m.in_reply_to(), ["a@example.com"]);
    assert_eq!(m.references(), ["root@example.com", "a@example.com"]);
    assert_eq!(m.reply_to()[0].mailboxes()[0].name(), Some("Support Team"));
    assert_eq!(
        m.header("List-Unsubscribe").as_deref(),
        Some("<mailto:unsub@example.com>")
    );
    assert_eq!(m.header("x-note").as_deref(), Some("Ünïcödé value"));
    assert_eq!(m.date(), DateTime::new(2026, 11, 23, 14, 0, 0, 0));
    let no_id = MessageBuilder::new()
        .from(mb("", "a@example.com"))
        .build()
        .unwrap()
        .to_vec();
    assert!(!text(&no_id).contains("Message-ID"));
    assert!(!text(&no_id).contains("Date:"));
}

#[test]
fn size_chunks_and_to_vec_agree() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 256) as u8).collect();
    let make = || {
        base()
            .text_body("t")
            .html_body("<b>h</b>")
            .attach(Attachment::new("d.bin", data.clone()))
            .build()
            .unwrap()
    };
    let whole = make().to_vec();
    assert_eq!(make().size(), Some(whole.len() as u64));
    let chunks: Vec<Vec<u8>> = make().chunks().collect();
    assert!(chunks.len() > 2);
    assert_eq!(chunks.concat(), whole);
    let mut appended = b"prefix".to_vec();
    make().write_to(&mut appended);
    assert_eq!(&appended[6..], whole.as_slice());
}

#[test]
fn streamed_attachment_is_never_held_whole() {
    const CHUNK: usize = 64 * 1024;
    const COUNT: usize = 160; // 10 MiB
    let source = (0..COUNT).map(|i| vec![(i % 251) as u8; CHUNK]);
    let msg = base()
        .text_body("big one attached")
        .attach(Attachment::from_chunks(
            "big.bin",
            Some((CHUNK * COUNT) as u64),
            source,
        ))
        .build()
        .unwrap();
    let size = msg.size().unwrap();
    let mut total = 0u64;
    let mut largest = 0;
    let mut all = Vec::new();
    for c in msg.chunks() {
        total += c.len() as u64;
        largest = largest.max(c.len());
        all.extend_from_slice(&c);
    }
    assert_eq!(total, size);
    assert!(largest < 200 * 1024, "a chunk of {largest} bytes");
    let m = Message::parse(&all);
    let att = m.attachments();
    let decoded = att[0].decoded();
    assert_eq!(decoded.len(), CHUNK * COUNT);
    assert!(decoded
        .chunks(CHUNK)
        .enumerate()
        .all(|(i, c)| c.iter().all(|&b| b == (i % 251) as u8)));
    // Without a declared length the size is unknown, but the bytes are the same.
    let msg = base()
        .attach(Attachment::from_chunks(
            "x",
            None,
            vec![vec![1u8; 10]].into_iter(),
        ))
        .build()
        .unwrap();
    assert_eq!(msg.size(), None);
}

#[test]
fn non_ascii_lines_and_bare_line_endings_are_normalised() {
    let out = base()
        .text_body("a\rb\nc\r\nd")
        .html_body("x".repeat(5000))
        .build()
        .unwrap()
        .to_vec();
    assert_wire_clean(&out);
    let m = Message::parse(&out);
    assert_eq!(m.text_body().unwrap().text, "a\r\nb\r\nc\r\nd");
    assert_eq!(m.html_body().unwrap().text, "x".repeat(5000));
}
