//! Parsing known messages: charsets, structure, attachments, and the malformed cases seen in the wild.

use mime_codec::{Address, Body, CharsetStatus, DateTime, Message, ParseLimits, TransferEncoding};

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

#[test]
fn chinese_mail_from_a_gbk_client() {
    let mut raw = crlf(
        "From: =?GB2312?B?1tDOxA==?= <sender@example.cn>\n\
To: \"Li, Si\" <li@example.com>, =?utf-8?q?Zhang_San?= <zs@example.com>\n\
Subject: =?GB2312?B?1tDOxNb3zOI=?=\n\
Date: Tue, 1 Jul 2003 10:52:37 +0800 (CST)\n\
MIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"----=_NextPart_000\"\n\
\n\
This is a multi-part message in MIME format.\n\
\n\
------=_NextPart_000\n\
Content-Type: text/plain; charset=\"gb2312\"\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
=C4=E3=BA=C3=A3=AC=CA=C0=BD=E7=A3=A1=D5=E2=CA=C7GBK=B1=E0=C2=EB=B5=C4=D5=FD=\n\
=CE=C4=A1=A3\n\
------=_NextPart_000\n\
Content-Type: application/msword; name=\"=?gbk?B?suLK1M7EvP4udHh0?=\"\n\
Content-Disposition: attachment; filename*=gbk''%B8%BD%BC%FE%C3%FB%2E%64%6F%63\n\
Content-Transfer-Encoding: base64\n\
\n\
AAEC\n\
------=_NextPart_000\n\
Content-Type: application/octet-stream; name=\"=?gbk?B?suLK1M7EvP4udHh0?=\"\n\
Content-Transfer-Encoding: base64\n\
\n\
AwQF\n\
------=_NextPart_000--\n\
\n",
    );
    raw.extend_from_slice(b"epilogue");
    let m = Message::parse(&raw);
    assert_eq!(m.subject().as_deref(), Some("中文主题"));
    let from = m.from();
    assert_eq!(from[0].mailboxes()[0].name(), Some("中文"));
    let to: Vec<_> = m.to().iter().flat_map(|a| a.mailboxes().to_vec()).collect();
    assert_eq!(to[0].name(), Some("Li, Si"));
    assert_eq!(to[1].name(), Some("Zhang San"));
    assert_eq!(m.date(), DateTime::new(2003, 7, 1, 10, 52, 37, 480));
    let text = m.text_body().unwrap();
    assert_eq!(text.text, "你好，世界！这是GBK编码的正文。");
    assert_eq!(text.charset, "GBK");
    assert_eq!(text.status, CharsetStatus::Exact);
    let att = m.attachments();
    assert_eq!(att.len(), 2);
    assert_eq!(att[0].file_name(), Some("附件名.doc"));
    assert_eq!(att[0].decoded().as_ref(), [0, 1, 2]);
    assert_eq!(att[1].file_name(), Some("测试文件.txt"));
    assert_eq!(att[1].decoded().as_ref(), [3, 4, 5]);
    match m.root().body() {
        Body::Multipart {
            preamble,
            epilogue,
            closed,
            ..
        } => {
            assert_eq!(
                *preamble,
                b"This is a multi-part message in MIME format.\r\n"
            );
            assert_eq!(*epilogue, b"\r\nepilogue");
            assert!(*closed);
        }
        other => panic!("not multipart: {other:?}"),
    }
}

#[test]
fn big5_base64_and_iso_2022_jp_subject() {
    let raw = crlf(
        "Subject: =?ISO-2022-JP?B?GyRCRnxLXDhsJE43b0w+GyhC?=\n\
Content-Type: text/plain; charset=big5\n\
Content-Transfer-Encoding: base64\n\
\n\
wWPF6aSkpOWquqS6rmWhQajPpc5CaWc1vXO9WKFD\n",
    );
    let m = Message::parse(&raw);
    assert_eq!(m.subject().as_deref(), Some("日本語の件名"));
    let t = m.text_body().unwrap();
    assert_eq!(t.text, "繁體中文的內容，使用Big5編碼。");
    assert_eq!(t.charset, "Big5");
}

#[test]
fn koi8_r_and_unknown_charsets() {
    let mut raw = b"Content-Type: text/plain; charset=koi8-r\r\n\r\n".to_vec();
    raw.extend_from_slice(b"\xef\xdb\xc9\xc2\xcb\xc1");
    assert_eq!(Message::parse(&raw).text_body().unwrap().text, "Ошибка");
    let raw = b"Content-Type: text/plain; charset=x-klingon\r\n\r\nqapla\xff";
    let t = Message::parse(raw).text_body().unwrap();
    assert_eq!(t.text, "qapla\u{fffd}");
    assert_eq!(t.status, CharsetStatus::Unknown("x-klingon".into()));
    let raw = b"Subject: =?x-klingon?q?qapla?=\r\n\r\n";
    assert_eq!(
        Message::parse(raw).subject().as_deref(),
        Some("=?x-klingon?q?qapla?=")
    );
}

#[test]
fn nested_message_rfc822_and_digest() {
    let raw = crlf(
        "Subject: outer\n\
Content-Type: multipart/mixed; boundary=outer\n\
\n\
--outer\n\
Content-Type: text/plain\n\
\n\
forwarded below\n\
--outer\n\
Content-Type: message/rfc822\n\
\n\
Subject: inner\n\
From: Inner <inner@example.com>\n\
Content-Type: multipart/alternative; boundary=inner\n\
\n\
--inner\n\
Content-Type: text/plain\n\
\n\
inner text\n\
--inner\n\
Content-Type: text/html\n\
\n\
<p>inner</p>\n\
--inner--\n\
--outer\n\
Content-Type: multipart/digest; boundary=dig\n\
\n\
--dig\n\
\n\
Subject: digest one\n\
\n\
one\n\
--dig--\n\
--outer--\n",
    );
    let m = Message::parse(&raw);
    assert_eq!(m.text_body().unwrap().text, "forwarded below");
    assert!(
        m.html_body().is_none(),
        "the inner HTML belongs to the attached message"
    );
    let att = m.attachments();
    assert_eq!(att.len(), 2);
    let inner = att[0].message().unwrap();
    assert_eq!(inner.subject().as_deref(), Some("inner"));
    assert_eq!(inner.html_body().unwrap().text, "<p>inner</p>");
    assert_eq!(inner.text_body().unwrap().text, "inner text");
    let digest_item = att[1].message().unwrap();
    assert_eq!(digest_item.subject().as_deref(), Some("digest one"));
}

#[test]
fn missing_closing_boundary_and_no_boundary_parameter() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\
\n\
--b\n\
Content-Type: text/plain\n\
\n\
body\n\
--b\n\
Content-Type: application/pdf; name=a.pdf\n\
Content-Transfer-Encoding: base64\n\
\n\
JVBERi0=\n",
    );
    let m = Message::parse(&raw);
    assert_eq!(m.text_body().unwrap().text, "body");
    let att = m.attachments();
    assert_eq!(att[0].file_name(), Some("a.pdf"));
    assert_eq!(att[0].decoded().as_ref(), b"%PDF-");
    assert!(matches!(
        m.root().body(),
        Body::Multipart { closed: false, .. }
    ));
    let raw = b"Content-Type: multipart/mixed\r\n\r\n--x\r\nstuff";
    let m = Message::parse(raw);
    assert!(matches!(m.root().body(), Body::Single));
}

#[test]
fn malformed_cases_seen_in_the_wild() {
    // Bare LF line endings, a continuation line before any field, unknown encoding, junk in base64,
    // lowercase QP hex, encoded words without spaces in between, a long unfolded header.
    let raw = b"From sender Mon Jan  1 00:00:00 2024\n\
\tcontinuation line before any field\n\
Subject: =?utf-8?q?caf=c3=a9?==?utf-8?q?_au_lait?=\n\
To: undisclosed-recipients:;\n\
Content-Type: multipart/mixed; boundary=\"x\"\n\
\n\
--x\n\
Content-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: x-unknown\n\
\n\
kept as is\n\
--x\n\
Content-Type: image/gif\n\
Content-Transfer-Encoding: BASE64\n\
\n\
R0lG*OD\n\
lh !!\n\
--x\n\
Content-Type: text/html; charset=utf-8\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
<p>caf=c3=a9 =\n\
soft</p>   \n\
--x--\n";
    let m = Message::parse(raw);
    assert_eq!(m.subject().as_deref(), Some("café au lait"));
    assert_eq!(
        m.to(),
        [Address::Group {
            name: "undisclosed-recipients".into(),
            members: vec![]
        }]
    );
    assert_eq!(m.text_body().unwrap().text, "kept as is");
    assert_eq!(m.html_body().unwrap().text, "<p>café soft</p>");
    let gif = m.attachments()[0].decoded();
    assert_eq!(gif.as_ref(), b"GIF89a");
}

#[test]
fn headers_only_empty_and_garbage_inputs() {
    for input in [
        &b""[..],
        b"\r\n",
        b"Subject: x",
        b":",
        b"\xff\xfe\x00",
        b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n",
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Type: text/plain; charset=\"\r\n\r\n\xff",
    ] {
        let m = Message::parse(input);
        let _ = (
            m.subject(),
            m.from(),
            m.date(),
            m.text_body(),
            m.attachments(),
        );
    }
    let m = Message::parse(b"Subject: only headers");
    assert_eq!(m.subject().as_deref(), Some("only headers"));
    assert_eq!(m.root().raw_body(), b"");
}

#[test]
fn nesting_depth_and_header_count_are_bounded() {
    let depth = 500;
    let mut raw = Vec::new();
    for i in 0..depth {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ndeep");
    let m = Message::parse(&raw);
    let mut level = 0;
    let mut p = m.root();
    while let Some(c) = p.parts().first() {
        p = c;
        level += 1;
    }
    assert_eq!(level, ParseLimits::default().max_depth);
    let limits = ParseLimits {
        max_depth: 3,
        ..ParseLimits::default()
    };
    let m = Message::parse_with(&raw, limits);
    let mut level = 0;
    let mut p = m.root();
    while let Some(c) = p.parts().first() {
        p = c;
        level += 1;
    }
    assert_eq!(level, 3);

    let many = "X-Spam: y\r\n".repeat(5000) + "Subject: late\r\n\r\nbody";
    let m = Message::parse(many.as_bytes());
    assert_eq!(m.headers().len(), 1000);
    assert_eq!(m.subject(), None);
    assert_eq!(m.text_body().unwrap().text, "body");

    let parts = "--b\r\n\r\nx\r\n".repeat(20_000);
    let raw = format!("Content-Type: multipart/mixed; boundary=b\r\n\r\n{parts}--b--\r\n");
    let m = Message::parse(raw.as_bytes());
    assert!(m.root().parts().len() < 10_001);
}

#[test]
fn borrowed_from_the_input_where_possible() {
    let raw = b"Subject: plain\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello";
    let m = Message::parse(raw);
    assert!(matches!(
        m.subject(),
        Some(std::borrow::Cow::Borrowed("plain"))
    ));
    assert!(matches!(
        m.text_body().unwrap().text,
        std::borrow::Cow::Borrowed("hello")
    ));
    assert!(matches!(
        m.root().decoded(),
        std::borrow::Cow::Borrowed(b"hello")
    ));
    assert_eq!(m.root().transfer_encoding(), TransferEncoding::SevenBit);
}

#[test]
fn inline_parts_by_content_id() {
    let raw = crlf(
        "Content-Type: multipart/related; boundary=r\n\
\n\
--r\n\
Content-Type: text/html\n\
\n\
<img src=\"cid:img1@example\">\n\
--r\n\
Content-Type: image/png\n\
Content-ID: <img1@example>\n\
Content-Transfer-Encoding: base64\n\
\n\
iVBORw==\n\
--r--\n",
    );
    let m = Message::parse(&raw);
    assert_eq!(m.inline_parts().len(), 1);
    assert!(m.attachments().is_empty());
    let p = m.part_by_content_id("<img1@example>").unwrap();
    assert_eq!(p.decoded().as_ref(), b"\x89PNG");
    assert_eq!(p.content_id().as_deref(), Some("img1@example"));
}

#[test]
// The library never reads the clock; this test does, to bound the running time.
#[allow(clippy::disallowed_methods)]
fn linear_time_on_pathological_input() {
    // Many '=?' that never close, long runs of boundaries-that-are-not, deep comments.
    let subject = "=?utf-8?q?a".repeat(50_000);
    let addresses = "(".repeat(50_000) + "a@b";
    let raw = format!("Subject: {subject}\r\nTo: {addresses}\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n{}", "--bx\r\n".repeat(100_000));
    let start = std::time::Instant::now();
    let m = Message::parse(raw.as_bytes());
    let _ = (m.subject(), m.to(), m.text_body());
    assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
}

/// Some mailers forward a message as a base64- or quoted-printable-encoded `message/rfc822`
/// part, which RFC 2046 forbids; it is decoded and readable as a nested message.
#[test]
fn encoded_message_rfc822_parts() {
    use base64::Engine as _;
    let inner = crlf(
        "Subject: =?UTF-8?B?5YaF6YOo?= inner\n\
From: Inner <inner@example.com>\n\
Content-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: 8bit\n\
\n\
Grüße, 你好\n",
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(&inner);
    let qp = mime_codec::qp::encode(&inner);
    let mut raw = crlf(
        "Subject: outer\n\
Content-Type: multipart/mixed; boundary=b\n\
\n\
--b\n\
Content-Type: text/plain\n\
\n\
see attached\n\
--b\n\
Content-Type: message/rfc822\n\
Content-Transfer-Encoding: base64\n\
\n",
    );
    raw.extend_from_slice(b64.as_bytes());
    raw.extend_from_slice(&crlf(
        "\n--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n",
    ));
    raw.extend_from_slice(&qp);
    raw.extend_from_slice(&crlf("\n--b--\n"));

    let m = Message::parse(&raw);
    let attachments = m.attachments();
    assert_eq!(attachments.len(), 2);
    for part in attachments {
        assert!(part.message().is_none());
        assert!(matches!(part.body(), Body::EncodedMessage(b) if *b == inner));
        let nested = part.encoded_message().unwrap();
        assert_eq!(nested.subject().as_deref(), Some("内部 inner"));
        assert_eq!(
            nested.from()[0].mailboxes()[0].address(),
            "inner@example.com"
        );
        assert_eq!(nested.text_body().unwrap().text, "Grüße, 你好\r\n");
    }
    assert_eq!(m.text_body().unwrap().text, "see attached");
    assert!(m.root().encoded_message().is_none());

    // Depth limits carry over: at the deepest level the part stays an unparsed leaf, and one
    // level up the nested message is read but its own parts are not.
    let shallow = Message::parse_with(
        &raw,
        ParseLimits {
            max_depth: 1,
            ..Default::default()
        },
    );
    assert!(shallow
        .root()
        .parts()
        .iter()
        .all(|p| matches!(p.body(), Body::Single)));
    let one_more = Message::parse_with(
        &raw,
        ParseLimits {
            max_depth: 2,
            ..Default::default()
        },
    );
    let nested = one_more.root().parts()[1].encoded_message().unwrap();
    assert_eq!(nested.subject().as_deref(), Some("内部 inner"));
}

#[test]
fn encoded_message_depth_is_bounded_across_nesting() {
    use base64::Engine as _;
    // Each level wraps the previous one in a base64-encoded message/rfc822 part.
    let mut raw = crlf("Subject: core\n\ncore\n");
    for _ in 0..40 {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        raw = crlf("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n");
        raw.extend_from_slice(b64.as_bytes());
    }
    fn levels(m: &Message<'_>) -> usize {
        m.root()
            .encoded_message()
            .map_or(0, |inner| 1 + levels(&inner))
    }
    let limits = ParseLimits {
        max_depth: 5,
        ..Default::default()
    };
    assert_eq!(levels(&Message::parse_with(&raw, limits)), 5);
    assert_eq!(levels(&Message::parse(&raw)), 32);
}
