use super::{kat, kat_canonical, rejects};
use crate::*;

fn mbox(s: &str) -> Mailbox {
    Mailbox::parse_utf8(s).unwrap()
}

fn host(s: &str) -> Host {
    s.parse().unwrap()
}

const STRICT: ParseOptions = ParseOptions {
    smtputf8: false,
    allow_space_after_colon: false,
    allow_unbracketed_path: false,
    allow_trailing_whitespace: false,
};

#[test]
fn simple_verbs() {
    kat("DATA", Command::Data);
    kat("RSET", Command::Rset);
    kat("QUIT", Command::Quit);
    kat("STARTTLS", Command::StartTls);
    kat("NOOP", Command::Noop(None));
    kat("HELP", Command::Help(None));
    kat(
        "NOOP keep going",
        Command::Noop(Some(TextArg::new("keep going").unwrap())),
    );
    kat(
        "HELP MAIL",
        Command::Help(Some(TextArg::new("MAIL").unwrap())),
    );
    kat("VRFY Smith", Command::Vrfy(TextArg::new("Smith").unwrap()));
    kat(
        "EXPN Example-People",
        Command::Expn(TextArg::new("Example-People").unwrap()),
    );
}

#[test]
fn verbs_are_case_insensitive() {
    for line in ["data", "Data", "dAtA"] {
        assert_eq!(Command::parse(line.as_bytes()), Ok(Command::Data));
    }
    kat_canonical(
        "mail from:<a@b.example>",
        &STRICT,
        "MAIL FROM:<a@b.example>",
    );
    kat_canonical("rcpt To:<postmaster>", &STRICT, "RCPT TO:<Postmaster>");
    kat_canonical("ehlo client.example", &STRICT, "EHLO client.example");
    kat_canonical("bdat 10 last", &STRICT, "BDAT 10 LAST");
}

#[test]
fn ehlo_and_helo() {
    kat("EHLO bar.com", Command::Ehlo(host("bar.com")));
    kat("EHLO [192.0.2.1]", Command::Ehlo(host("[192.0.2.1]")));
    kat(
        "EHLO [IPv6:2001:db8::1]",
        Command::Ehlo(host("[IPv6:2001:db8::1]")),
    );
    kat(
        "HELO relay.example.org",
        Command::Helo(host("relay.example.org")),
    );
    rejects("EHLO", &STRICT, ParseError::Syntax(Verb::Ehlo));
    rejects("EHLO ", &STRICT, ParseError::Syntax(Verb::Ehlo));
    rejects("EHLO  bar.com", &STRICT, ParseError::Syntax(Verb::Ehlo));
    rejects(
        "EHLO bar.com extra",
        &STRICT,
        ParseError::Syntax(Verb::Ehlo),
    );
    rejects(
        "EHLO bad_host.example",
        &STRICT,
        ParseError::Syntax(Verb::Ehlo),
    );
    rejects("EHLO [300.1.1.1]", &STRICT, ParseError::Syntax(Verb::Ehlo));
    rejects("EHLO bücher.example", &STRICT, ParseError::Utf8NotAllowed);
}

#[test]
fn mail_from() {
    kat(
        "MAIL FROM:<Smith@bar.com>",
        Command::Mail {
            from: mbox("Smith@bar.com").into(),
            params: MailParams::default(),
        },
    );
    kat(
        "MAIL FROM:<>",
        Command::Mail {
            from: ReversePath::Null,
            params: MailParams::default(),
        },
    );
    let mut params = MailParams::default();
    params.size = Some(12345);
    params.body = Some(Body::EightBitMime);
    params.smtputf8 = true;
    params.requiretls = true;
    params.ret = Some(Ret::Headers);
    params.envid = Some(XtextValue::new("QQ314159 x+y=z").unwrap());
    params.auth = Some(AuthParam::Identity(
        XtextValue::new("e+mc2@example.com").unwrap(),
    ));
    params.other = vec![
        EsmtpParam::new("MT-PRIORITY", Some("3")).unwrap(),
        EsmtpParam::new("HOLDFOR", None).unwrap(),
    ];
    kat(
        "MAIL FROM:<j@example.com> SIZE=12345 BODY=8BITMIME SMTPUTF8 REQUIRETLS RET=HDRS \
         ENVID=QQ314159+20x+2By+3Dz AUTH=e+2Bmc2@example.com MT-PRIORITY=3 HOLDFOR",
        Command::Mail {
            from: mbox("j@example.com").into(),
            params,
        },
    );
    let mut unknown = MailParams::default();
    unknown.auth = Some(AuthParam::Unknown);
    unknown.body = Some(Body::BinaryMime);
    kat(
        "MAIL FROM:<a@b.example> BODY=BINARYMIME AUTH=<>",
        Command::Mail {
            from: mbox("a@b.example").into(),
            params: unknown,
        },
    );
}

#[test]
fn mail_parameter_errors() {
    let bad = |line: &str, e: ParseError| rejects(line, &STRICT, e);
    bad(
        "MAIL FROM:<a@b.c> SIZE=abc",
        ParseError::BadParameter("SIZE"),
    );
    bad("MAIL FROM:<a@b.c> SIZE", ParseError::BadParameter("SIZE"));
    bad(
        "MAIL FROM:<a@b.c> SIZE=123456789012345678901",
        ParseError::BadParameter("SIZE"),
    );
    // Either side of 19 digits (read without overflow checks) and of
    // u64::MAX (20 digits, read with them).
    for (size, value) in [
        ("9999999999999999999", Some(9_999_999_999_999_999_999)),
        ("18446744073709551615", Some(u64::MAX)),
        ("18446744073709551616", None),
        ("99999999999999999999", None),
        ("123456789012345678x", None),
        ("1234567890123456789x", None),
        ("00000000000000000001", Some(1)),
    ] {
        let line = format!("MAIL FROM:<a@b.c> SIZE={size}");
        match (Command::parse(line.as_bytes()), value) {
            (Ok(Command::Mail { params, .. }), Some(v)) => assert_eq!(params.size, Some(v)),
            (Err(e), None) => assert_eq!(e, ParseError::BadParameter("SIZE"), "{line}"),
            (other, _) => panic!("{line}: {other:?}"),
        }
    }
    bad(
        "MAIL FROM:<a@b.c> BODY=9BIT",
        ParseError::BadParameter("BODY"),
    );
    bad(
        "MAIL FROM:<a@b.c> SMTPUTF8=yes",
        ParseError::BadParameter("SMTPUTF8"),
    );
    bad("MAIL FROM:<a@b.c> RET=ALL", ParseError::BadParameter("RET"));
    bad(
        "MAIL FROM:<a@b.c> ENVID=a+zz",
        ParseError::BadParameter("ENVID"),
    );
    bad(
        "MAIL FROM:<a@b.c> SIZE=1 SIZE=2",
        ParseError::DuplicateParameter("SIZE"),
    );
    bad(
        "MAIL FROM:<a@b.c>  SIZE=1",
        ParseError::BadParameter("esmtp-param"),
    );
    bad(
        "MAIL FROM:<a@b.c> -X=1",
        ParseError::BadParameter("esmtp-keyword"),
    );
    bad(
        "MAIL FROM:<a@b.c> X=",
        ParseError::BadParameter("esmtp-param"),
    );
    bad(
        "MAIL FROM:<a@b.c> ",
        ParseError::BadParameter("esmtp-param"),
    );
    bad("MAIL FROM:<a@b.c>SIZE=1", ParseError::Syntax(Verb::Mail));
    bad("MAIL FROM <a@b.c>", ParseError::Syntax(Verb::Mail));
    bad("MAIL TO:<a@b.c>", ParseError::Syntax(Verb::Mail));
    bad("MAIL", ParseError::Syntax(Verb::Mail));
}

#[test]
fn rcpt_to() {
    kat(
        "RCPT TO:<Jones@foo.com>",
        Command::Rcpt {
            to: mbox("Jones@foo.com").into(),
            params: RcptParams::default(),
        },
    );
    kat(
        "RCPT TO:<Postmaster>",
        Command::Rcpt {
            to: ForwardPath::Postmaster,
            params: RcptParams::default(),
        },
    );
    kat(
        "RCPT TO:<Postmaster@foo.com>",
        Command::Rcpt {
            to: mbox("Postmaster@foo.com").into(),
            params: RcptParams::default(),
        },
    );
    let mut params = RcptParams::default();
    params.notify = Notify::on(true, true, false);
    params.orcpt = Some(Orcpt::new("rfc822", "Bob+Smith@example.com").unwrap());
    kat(
        "RCPT TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+2BSmith@example.com",
        Command::Rcpt {
            to: mbox("bob@example.com").into(),
            params,
        },
    );
    let mut never = RcptParams::default();
    never.notify = Some(Notify::NEVER);
    kat(
        "RCPT TO:<bob@example.com> NOTIFY=NEVER",
        Command::Rcpt {
            to: mbox("bob@example.com").into(),
            params: never,
        },
    );
    for bad in [
        "RCPT TO:<b@c.d> NOTIFY=NEVER,SUCCESS",
        "RCPT TO:<b@c.d> NOTIFY=SUCCESS,SUCCESS",
        "RCPT TO:<b@c.d> NOTIFY=SUCCESS,",
        "RCPT TO:<b@c.d> NOTIFY=,SUCCESS",
        "RCPT TO:<b@c.d> NOTIFY=SUCCESSFAILURE",
        "RCPT TO:<b@c.d> NOTIFY=SUCCESS,,DELAY",
        "RCPT TO:<b@c.d> NOTIFY=DELAYED",
        "RCPT TO:<b@c.d> NOTIFY=SUCCES",
    ] {
        assert_eq!(
            Command::parse(bad.as_bytes()),
            Err(ParseError::BadParameter("NOTIFY")),
            "{bad}"
        );
    }
    assert!(Command::parse(b"RCPT TO:<b@c.d> NOTIFY=").is_err());
    // Any order, any case.
    let mut all = RcptParams::default();
    all.notify = Notify::on(true, true, true);
    kat_canonical(
        "RCPT TO:<b@c.d> NOTIFY=delay,Success,FAILURE",
        &STRICT,
        "RCPT TO:<b@c.d> NOTIFY=SUCCESS,FAILURE,DELAY",
    );
    assert_eq!(
        Command::parse(b"RCPT TO:<b@c.d> NOTIFY=delay,Success,FAILURE"),
        Ok(Command::Rcpt {
            to: mbox("b@c.d").into(),
            params: all,
        })
    );
    rejects(
        "RCPT TO:<b@c.d> ORCPT=rfc822",
        &STRICT,
        ParseError::BadParameter("ORCPT"),
    );
}

#[test]
fn source_routes_are_accepted_and_dropped() {
    kat_canonical(
        "RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>",
        &STRICT,
        "RCPT TO:<userc@d.bar.org>",
    );
    kat_canonical(
        "MAIL FROM:<@a.example:user@b.example>",
        &STRICT,
        "MAIL FROM:<user@b.example>",
    );
    rejects(
        "RCPT TO:<@hosta.int,userc@d.bar.org>",
        &STRICT,
        ParseError::BadAddress,
    );
}

#[test]
fn leniency_switches() {
    let lenient = ParseOptions::lenient();
    rejects("MAIL FROM: <a@b.example>", &STRICT, ParseError::BadAddress);
    kat_canonical(
        "MAIL FROM: <a@b.example>",
        &lenient,
        "MAIL FROM:<a@b.example>",
    );
    kat_canonical("RCPT TO:  <a@b.example>", &lenient, "RCPT TO:<a@b.example>");
    rejects("MAIL FROM:a@b.example", &STRICT, ParseError::BadAddress);
    kat_canonical("MAIL FROM:a@b.example", &lenient, "MAIL FROM:<a@b.example>");
    rejects("QUIT ", &STRICT, ParseError::Syntax(Verb::Quit));
    kat_canonical("QUIT  \t", &lenient, "QUIT");
    kat_canonical("RCPT TO:<a@b.example> ", &lenient, "RCPT TO:<a@b.example>");
}

#[test]
fn smtputf8_addresses() {
    let utf8 = ParseOptions::strict().with_smtputf8(true);
    rejects(
        "MAIL FROM:<用户@例子.广告> SMTPUTF8",
        &STRICT,
        ParseError::Utf8NotAllowed,
    );
    kat("MAIL FROM:<用户@例子.广告> SMTPUTF8", {
        let mut p = MailParams::default();
        p.smtputf8 = true;
        Command::Mail {
            from: mbox("用户@例子.广告").into(),
            params: p,
        }
    });
    // A non-ASCII reverse path needs the SMTPUTF8 parameter (RFC 6531 §3.4).
    rejects(
        "MAIL FROM:<用户@例子.广告>",
        &utf8,
        ParseError::Utf8NotAllowed,
    );
    rejects(
        "RCPT TO:<josé@example.com>",
        &STRICT,
        ParseError::Utf8NotAllowed,
    );
    kat_canonical(
        "RCPT TO:<josé@example.com>",
        &utf8,
        "RCPT TO:<josé@example.com>",
    );
    // Invalid UTF-8 is never an address.
    assert!(Command::parse_with(b"RCPT TO:<jos\xe9@example.com>", &utf8).is_err());
}

#[test]
fn bdat() {
    kat(
        "BDAT 86",
        Command::Bdat {
            size: 86,
            last: false,
        },
    );
    kat(
        "BDAT 0 LAST",
        Command::Bdat {
            size: 0,
            last: true,
        },
    );
    for bad in [
        "BDAT",
        "BDAT x",
        "BDAT 1 FIRST",
        "BDAT -1",
        "BDAT 123456789012345678901",
    ] {
        rejects(bad, &STRICT, ParseError::Syntax(Verb::Bdat));
    }
}

#[test]
fn auth() {
    kat(
        "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=",
        Command::Auth {
            mechanism: Mechanism::Plain,
            initial_response: Some(SaslResponse::new("dGVzdAB0ZXN0ADEyMzQ=").unwrap()),
        },
    );
    kat(
        "AUTH LOGIN",
        Command::Auth {
            mechanism: Mechanism::Login,
            initial_response: None,
        },
    );
    kat(
        "AUTH EXTERNAL =",
        Command::Auth {
            mechanism: Mechanism::Other(MechanismName::new("EXTERNAL").unwrap()),
            initial_response: Some(SaslResponse::empty()),
        },
    );
    kat_canonical("auth cram-md5", &STRICT, "AUTH CRAM-MD5");
    for bad in [
        "AUTH",
        "AUTH PLAIN !!",
        "AUTH PL@IN",
        "AUTH THIS-NAME-IS-FAR-TOO-LONG",
    ] {
        rejects(bad, &STRICT, ParseError::Syntax(Verb::Auth));
    }
    // The initial response is a secret: Debug never shows it.
    let cmd = Command::parse(b"AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=").unwrap();
    assert!(!format!("{cmd:?}").contains("dGVzdAB0ZXN0ADEyMzQ"));
}

#[test]
fn unknown_and_malformed_lines() {
    for line in ["", " ", "XYZZY", "MAILFROM:<a@b.c>", "DAT", "\0", "DATA\0"] {
        let err = Command::parse(line.as_bytes()).unwrap_err();
        assert!(
            matches!(err, ParseError::UnknownCommand | ParseError::Syntax(_)),
            "{line:?}: {err:?}"
        );
    }
    rejects("DATA now", &STRICT, ParseError::Syntax(Verb::Data));
    rejects("VRFY", &STRICT, ParseError::Syntax(Verb::Vrfy));
    rejects("NOOP ", &STRICT, ParseError::Syntax(Verb::Noop));
}

#[test]
fn errors_carry_the_server_reply() {
    let cases: &[(&str, &str)] = &[
        ("FOO", "500 5.5.1 Command unrecognized\r\n"),
        ("MAIL FROM:<a@@b>", "501 5.1.3 Bad address syntax\r\n"),
        ("DATA x", "501 5.5.4 Syntax error in DATA arguments\r\n"),
        (
            "MAIL FROM:<a@b.c> SIZE=x",
            "501 5.5.4 Invalid command parameter\r\n",
        ),
        (
            "RCPT TO:<ü@b.c>",
            "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n",
        ),
    ];
    for (line, reply) in cases {
        let err = Command::parse(line.as_bytes()).unwrap_err();
        assert_eq!(err.reply().to_string(), *reply, "{line}");
    }
    assert_eq!(
        ParseError::LineTooLong { limit: 512 }.reply().to_string(),
        "500 5.5.2 Line too long\r\n"
    );
}
