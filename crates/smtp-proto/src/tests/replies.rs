use crate::*;

#[track_caller]
fn kat(wire: &str, code: u16, enhanced: Option<(u8, u16, u16)>, lines: &[&str]) {
    let reply = Reply::parse(wire.as_bytes()).unwrap_or_else(|e| panic!("{wire:?}: {e:?}"));
    let expected = Reply::new(
        ReplyCode::new(code).unwrap(),
        enhanced.and_then(|(c, s, d)| EnhancedStatus::new(c, s, d)),
        lines.iter().copied(),
    )
    .unwrap();
    assert_eq!(reply, expected, "{wire:?}");
    assert_eq!(reply.to_string(), wire, "serialization of {wire:?}");
}

#[test]
fn single_and_multi_line() {
    kat(
        "220 foo.com Simple Mail Transfer Service Ready\r\n",
        220,
        None,
        &["foo.com Simple Mail Transfer Service Ready"],
    );
    kat("250 OK\r\n", 250, None, &["OK"]);
    kat("354\r\n", 354, None, &[""]);
    kat(
        "250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
        250,
        None,
        &["foo.com greets bar.com", "8BITMIME", "SIZE", "DSN", "HELP"],
    );
    kat(
        "250-first\r\n250-\r\n250 last\r\n",
        250,
        None,
        &["first", "", "last"],
    );
    kat(
        "550 5.1.1 User unknown\r\n",
        550,
        Some((5, 1, 1)),
        &["User unknown"],
    );
    kat(
        "250-2.0.0 first\r\n250 2.0.0 second\r\n",
        250,
        Some((2, 0, 0)),
        &["first", "second"],
    );
    kat("421 4.4.2\r\n", 421, Some((4, 4, 2)), &[""]);
}

#[test]
fn lenient_forms_are_read() {
    // "250 " with an empty text, as smtp-sink ends its EHLO reply.
    let r = Reply::parse(b"250-host\r\n250 \r\n").unwrap();
    assert_eq!(r.lines(), ["host", ""]);
    // An enhanced code whose class disagrees with the reply code is text.
    let r = Reply::parse(b"250 5.0.0 odd\r\n").unwrap();
    assert_eq!(r.enhanced(), None);
    assert_eq!(r.lines(), ["5.0.0 odd"]);
    // Continuation lines without the repeated enhanced code keep their text.
    let r = Reply::parse(b"550-5.7.1 first\r\n550 second\r\n").unwrap();
    assert_eq!(r.lines(), ["first", "second"]);
    // Non-UTF-8 text is read lossily, never refused.
    let r = Reply::parse(b"554 caf\xe9\r\n").unwrap();
    assert_eq!(r.lines(), ["caf\u{fffd}"]);
}

#[test]
fn malformed_replies() {
    for bad in [
        &b""[..],
        b"250 OK",
        b"25 OK\r\n",
        b"2500 OK\r\n",
        b"199 no\r\n",
        b"260 no\r\n",
        b"600 no\r\n",
        b"250x\r\n",
        b"abc\r\n",
        b"250-more\r\n",
        b"250 OK\r\nextra",
        b"250 bell\x07\r\n",
    ] {
        assert!(
            Reply::parse(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        Reply::parse(b"250-a\r\n251 b\r\n"),
        Err(ParseError::ReplyCodeMismatch)
    );
}

#[test]
fn parser_bounds_lines_and_recovers() {
    let mut p = ReplyParser::with_max_lines(3);
    assert_eq!(p.push_line(b"250-1"), Ok(None));
    assert_eq!(p.push_line(b"250-2"), Ok(None));
    assert_eq!(p.push_line(b"250-3"), Ok(None));
    assert_eq!(
        p.push_line(b"250 4"),
        Err(ParseError::TooManyReplyLines { limit: 3 })
    );
    assert!(p.is_idle());
    assert_eq!(
        p.push_line(b"221 bye").unwrap().unwrap().code(),
        ReplyCode::CLOSING
    );
}

#[test]
fn classification() {
    let r = |s: &[u8]| Reply::parse(s).unwrap();
    assert_eq!(r(b"250 ok\r\n").category(), Category::PositiveCompletion);
    assert_eq!(r(b"354 go\r\n").category(), Category::PositiveIntermediate);
    assert_eq!(
        r(b"451 4.3.0 later\r\n").category(),
        Category::TransientNegative
    );
    assert!(r(b"451 4.3.0 later\r\n").is_transient());
    assert_eq!(
        r(b"550 5.1.1 no\r\n").category(),
        Category::PermanentNegative
    );
    assert!(r(b"550 5.1.1 no\r\n").is_permanent());
    let subjects = [
        (&b"550 5.1.1 x\r\n"[..], StatusSubject::Addressing),
        (b"452 4.2.2 x\r\n", StatusSubject::Mailbox),
        (b"552 5.3.4 x\r\n", StatusSubject::MailSystem),
        (b"421 4.4.2 x\r\n", StatusSubject::Network),
        (b"503 5.5.1 x\r\n", StatusSubject::Protocol),
        (b"554 5.6.0 x\r\n", StatusSubject::Content),
        (b"535 5.7.8 x\r\n", StatusSubject::Security),
        (b"250 2.0.0 x\r\n", StatusSubject::Other),
        (b"550 5.9.1 x\r\n", StatusSubject::Unknown(9)),
    ];
    for (wire, subject) in subjects {
        assert_eq!(r(wire).subject(), Some(subject));
    }
    assert_eq!(r(b"250 ok\r\n").subject(), None);
}

#[test]
fn construction_is_checked() {
    let ok = ReplyCode::OK;
    assert_eq!(
        Reply::new(ok, None, ["a\r\nb"]),
        Err(ParseError::BadReplyText)
    );
    assert_eq!(
        Reply::new(ok, None, ["a\nb"]),
        Err(ParseError::BadReplyText)
    );
    assert_eq!(
        Reply::new(ok, None, ["nul\0"]),
        Err(ParseError::BadReplyText)
    );
    assert!(Reply::new(ok, None, ["tab\tok"]).is_ok());
    // An enhanced status must agree with the code's class.
    assert_eq!(
        Reply::new(ok, EnhancedStatus::new(5, 0, 0), ["x"]),
        Err(ParseError::BadReplyText)
    );
    // Without one, the text must not read as one.
    assert_eq!(
        Reply::new(ok, None, ["2.0.0 looks enhanced"]),
        Err(ParseError::BadReplyText)
    );
    assert!(EnhancedStatus::new(2, 1000, 0).is_none());
    assert_eq!(ReplyCode::new(559).map(ReplyCode::get), Some(559));
    assert!(ReplyCode::new(560).is_none());
}

/// Texts around the length kept inline and around the eight-octet steps of
/// the text scanner read the same through `parse`, `push_line` and `new`.
#[test]
fn text_lengths_and_octets_around_the_scanner_steps() {
    for len in 0..=80 {
        for (fill, ascii) in [("a", true), ("\t", true), ("é", false)] {
            let text: String = fill.repeat(len);
            if text.starts_with(' ') {
                continue;
            }
            let wire = format!("250 {text}\r\n");
            let parsed = Reply::parse(wire.as_bytes()).unwrap();
            let built = Reply::new(ReplyCode::OK, None, [text.as_str()]).unwrap();
            assert_eq!(parsed, built, "{wire:?}");
            assert_eq!(parsed.lines(), [text.as_str()]);
            assert!(parsed.text_lines().eq([text.as_str()]));
            assert_eq!(parsed.line_count(), 1);
            // An empty text is sent without the space.
            let canonical = if text.is_empty() { "250\r\n" } else { &wire };
            assert_eq!(parsed.to_string(), canonical);
            let pushed = ReplyParser::new()
                .push_line(&wire.as_bytes()[..wire.len() - 2])
                .unwrap()
                .unwrap();
            assert_eq!(pushed, parsed);
            assert_eq!(parsed.text().is_ascii(), ascii || len == 0);
            // A control octet anywhere in the text is refused, as bad text
            // when its line ends, as a cut-short reply when it does not.
            for at in 0..=text.len() {
                if !text.is_char_boundary(at) {
                    continue;
                }
                let bad = format!("250 {}\x01{}\r\n", &text[..at], &text[at..]);
                assert_eq!(Reply::parse(bad.as_bytes()), Err(ParseError::BadReplyText));
                let cut = format!("250 {}\x01{}", &text[..at], &text[at..]);
                assert_eq!(Reply::parse(cut.as_bytes()), Err(ParseError::BadReply));
            }
        }
    }
}

#[test]
fn multi_line_text_is_kept_once_and_split_on_demand() {
    let wire = b"250-mx.example.org greets you\r\n250-PIPELINING\r\n250-\r\n250 SIZE 1000\r\n";
    let r = Reply::parse(wire).unwrap();
    assert_eq!(r.line_count(), 4);
    assert!(r
        .text_lines()
        .eq(["mx.example.org greets you", "PIPELINING", "", "SIZE 1000"]));
    assert_eq!(
        r.lines(),
        ["mx.example.org greets you", "PIPELINING", "", "SIZE 1000"]
    );
    assert_eq!(r.text(), "mx.example.org greets you PIPELINING  SIZE 1000");
    assert_eq!(r.to_bytes(), wire);
    // A clone, and a reply built from the same lines, compare equal.
    let built = Reply::new(
        ReplyCode::OK,
        None,
        ["mx.example.org greets you", "PIPELINING", "", "SIZE 1000"],
    )
    .unwrap();
    assert_eq!(r.clone(), built);
    assert_eq!(format!("{r:?}"), format!("{built:?}"));
    // Bad UTF-8 in a later line is replaced there, as in the first.
    let r = Reply::parse(b"250-ok\r\n250 caf\xe9\r\n").unwrap();
    assert_eq!(r.lines(), ["ok", "caf\u{fffd}"]);
    // A bare LF or CR inside a line is bad text; a reply whose last line has
    // no CRLF is cut short.
    assert_eq!(
        Reply::parse(b"250-a\nb\r\n250 c\r\n"),
        Err(ParseError::BadReplyText)
    );
    assert_eq!(
        Reply::parse(b"250-a\r\n250 b\rc\r\n"),
        Err(ParseError::BadReplyText)
    );
    assert_eq!(Reply::parse(b"250-a\r\n251 b"), Err(ParseError::BadReply));
    assert_eq!(Reply::parse(b"250-a\r\n250 b"), Err(ParseError::BadReply));
}
