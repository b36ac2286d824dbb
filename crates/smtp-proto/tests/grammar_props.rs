//! Properties of the wire grammar: every valid value survives serialize then
//! parse, UTF-8 addresses are refused without SMTPUTF8, and parsing arbitrary
//! or mutated bytes never panics and is idempotent whenever it succeeds.

use proptest::prelude::*;
use proptest::sample::select;
use smtp_proto::xtext;
use smtp_proto::{
    AddressLiteral, AuthParam, Body, Capabilities, Command, Domain, EnhancedStatus, EsmtpParam,
    Extension, ForwardPath, GeneralLiteral, Host, MailParams, Mailbox, Mechanism, MechanismName,
    Notify, Orcpt, ParseError, ParseOptions, RcptParams, Reply, ReplyCode, ReplyParser, Ret,
    ReversePath, SaslResponse, TextArg, Verb, XtextValue, MAX_LOCAL_PART, MAX_PATH,
};
use std::net::{Ipv4Addr, Ipv6Addr};

// ---------------------------------------------------------------------------
// Strategies for valid values
// ---------------------------------------------------------------------------

/// An LDH label of 1 to 63 octets that neither starts nor ends with `-`.
fn ascii_label() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]{1,3}",
        "[a-zA-Z0-9]([a-zA-Z0-9-]{0,20}[a-zA-Z0-9])?",
        "[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?",
    ]
}

/// A U-label: non-ASCII letters mixed with LDH, at most 63 octets.
fn u_label() -> impl Strategy<Value = String> {
    "[a-z0-9\u{e0}-\u{ff}\u{3b1}-\u{3c9}\u{4e00}-\u{4e40}]([a-z0-9\u{e0}-\u{ff}\u{3b1}-\u{3c9}\u{4e00}-\u{4e40}-]{0,12}[a-z0-9\u{e0}-\u{ff}\u{4e00}-\u{4e40}])?"
        .prop_filter("at least one non-ASCII character", |l| !l.is_ascii())
}

/// Joins labels, dropping trailing ones until the domain fits in `max` octets.
fn join_labels(labels: Vec<String>, max: usize) -> String {
    let mut domain = String::new();
    for label in labels {
        let extra = label.len() + usize::from(!domain.is_empty());
        if domain.len() + extra > max {
            break;
        }
        if !domain.is_empty() {
            domain.push('.');
        }
        domain.push_str(&label);
    }
    domain
}

/// An ASCII domain of at most `max` octets (`max` ≥ 63).
fn ascii_domain(max: usize) -> impl Strategy<Value = Domain> {
    prop::collection::vec(ascii_label(), 1..6)
        .prop_map(move |labels| Domain::new(&join_labels(labels, max)).expect("valid domain"))
}

/// A domain with at least one U-label, at most `max` octets.
fn utf8_domain(max: usize) -> impl Strategy<Value = Domain> {
    (
        prop::collection::vec(prop_oneof![ascii_label(), u_label()], 0..3),
        u_label(),
        prop::collection::vec(ascii_label(), 0..3),
    )
        .prop_map(move |(mut labels, u, tail)| {
            // The U-label goes first so that truncation never drops it.
            labels.insert(0, u);
            labels.extend(tail);
            Domain::new_utf8(&join_labels(labels, max)).expect("valid U-label domain")
        })
}

/// A domain of exactly 255 octets: four labels of 63.
fn longest_domain() -> impl Strategy<Value = Domain> {
    prop::collection::vec("[a-z0-9]{63}", 4).prop_map(|labels| {
        let d = labels.join(".");
        assert_eq!(d.len(), 255);
        Domain::new(&d).expect("255-octet domain")
    })
}

fn domain(max: usize) -> impl Strategy<Value = Domain> {
    prop_oneof![3 => ascii_domain(max), 1 => utf8_domain(max)]
}

/// A general address literal tag: an `Ldh-str` other than `IPv6`.
fn general_tag() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9-]{0,10}[a-zA-Z0-9]".prop_filter("not IPv6", |t| !t.eq_ignore_ascii_case("IPv6"))
}

fn address_literal() -> impl Strategy<Value = AddressLiteral> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| AddressLiteral::V4(Ipv4Addr::from(o))),
        any::<u128>().prop_map(|n| AddressLiteral::V6(Ipv6Addr::from(n))),
        // Compressed and IPv4-mapped forms.
        any::<u32>().prop_map(|n| AddressLiteral::V6(Ipv4Addr::from(n).to_ipv6_mapped())),
        (0u16..4, any::<u16>())
            .prop_map(|(a, b)| AddressLiteral::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, a, b))),
        // dcontent = %d33-90 / %d94-126
        (general_tag(), "[!-Z^-~]{1,20}").prop_map(|(tag, content)| AddressLiteral::General(
            GeneralLiteral::new(&tag, &content).expect("the strategy makes valid literals")
        )),
    ]
}

fn host(max_domain: usize) -> impl Strategy<Value = Host> {
    prop_oneof![
        4 => domain(max_domain).prop_map(Host::Domain),
        1 => address_literal().prop_map(Host::Literal),
    ]
}

/// A string strategy from a regular expression built at run time.
fn regex(re: &str) -> impl Strategy<Value = String> {
    proptest::string::string_regex(re).expect("valid regex")
}

const ATEXT: &str = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]";

/// A dot-string local part: atoms of `atext` joined by dots.
fn dot_string(utf8: bool) -> BoxedStrategy<String> {
    let atom = if utf8 {
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~\u{e0}-\u{ff}\u{4e00}-\u{4e40}-]{1,8}".boxed()
    } else {
        regex(&format!("{ATEXT}{{1,12}}")).boxed()
    };
    prop::collection::vec(atom, 1..5)
        .prop_map(|atoms| atoms.join("."))
        .boxed()
}

/// Characters of a local part's value that force quoting, and some that don't.
fn local_value_char(utf8: bool) -> BoxedStrategy<char> {
    let ascii = prop_oneof![
        3 => prop::char::range(' ', '~'),
        1 => select(vec!['"', '\\', ' ', '.', '@', '<', '>', '(', ')', ',', ';', ':']),
    ];
    if utf8 {
        prop_oneof![3 => ascii, 1 => select(vec!['é', 'ü', 'ß', '例', 'д', '\u{a0}'])].boxed()
    } else {
        ascii.boxed()
    }
}

/// Drops characters from the end of `value` until the mailbox fits the limits.
fn fit_mailbox(mut value: String, host: Host) -> Mailbox {
    loop {
        match Mailbox::new(&value, host.clone()) {
            Ok(m) => return m,
            Err(ParseError::LocalPartTooLong | ParseError::PathTooLong) => {
                value.pop().expect("an empty local part always fits");
            }
            Err(e) => panic!("Mailbox::new({value:?}) refused a valid value: {e:?}"),
        }
    }
}

/// A raw `Quoted-string` with `quoted-pairSMTP`s of any printable character,
/// which [`Mailbox::new`] never produces itself.
fn raw_quoted(utf8: bool) -> BoxedStrategy<String> {
    let qcontent = prop_oneof![
        // qtextSMTP
        "[ !#-\\[\\]-~]".boxed(),
        // quoted-pairSMTP
        "\\\\[ -~]".boxed(),
        if utf8 {
            "[\u{e0}-\u{ff}\u{4e00}-\u{4e40}]".boxed()
        } else {
            "[a-z]".boxed()
        },
    ];
    prop::collection::vec(qcontent, 0..14)
        .prop_map(|parts| format!("\"{}\"", parts.concat()))
        .boxed()
}

/// A mailbox whose local part and host fit RFC 5321's limits together.
fn mailbox(utf8: bool) -> BoxedStrategy<Mailbox> {
    // The host leaves room for a 64-octet local part, `@` and the brackets.
    let max_domain = MAX_PATH - MAX_LOCAL_PART - 3;
    let host = if utf8 {
        host(max_domain).boxed()
    } else {
        prop_oneof![
            4 => ascii_domain(max_domain).prop_map(Host::Domain),
            1 => address_literal().prop_map(Host::Literal),
        ]
        .boxed()
    };
    let value = prop_oneof![
        3 => dot_string(utf8),
        2 => prop::collection::vec(local_value_char(utf8), 0..30)
            .prop_map(String::from_iter),
        1 => Just("Postmaster".to_owned()),
    ];
    prop_oneof![
        4 => (value, host.clone()).prop_map(|(v, h)| fit_mailbox(v, h)),
        1 => (raw_quoted(utf8), host).prop_map(|(local, h)| {
            let s = format!("{local}@{h}");
            Mailbox::parse_utf8(&s).expect("raw quoted mailbox")
        }),
        // The longest mailbox: a 64-octet local part in a 256-octet path.
        1 => (regex(&format!("{ATEXT}{{64}}")), "[a-z0-9]{63}", prop::collection::vec("[a-z0-9]{62}", 2))
            .prop_map(|(local, first, labels)| {
                let domain = format!("{first}.{}", labels.join("."));
                let host = Host::Domain(Domain::new(&domain).expect("domain"));
                let m = Mailbox::new(&local, host).expect("longest mailbox");
                assert_eq!(m.to_string().len() + 2, MAX_PATH);
                m
            }),
    ]
    .boxed()
}

fn reverse_path(utf8: bool) -> impl Strategy<Value = ReversePath> {
    prop_oneof![1 => Just(ReversePath::Null), 5 => mailbox(utf8).prop_map(ReversePath::Mailbox)]
}

fn forward_path(utf8: bool) -> impl Strategy<Value = ForwardPath> {
    prop_oneof![
        1 => Just(ForwardPath::Postmaster),
        5 => mailbox(utf8).prop_map(ForwardPath::Mailbox),
    ]
}

const MAIL_KEYWORDS: &[&str] = &[
    "SIZE",
    "BODY",
    "SMTPUTF8",
    "REQUIRETLS",
    "RET",
    "ENVID",
    "AUTH",
];
const RCPT_KEYWORDS: &[&str] = &["NOTIFY", "ORCPT"];

/// An ESMTP parameter this crate does not interpret (its keyword is none of `known`).
fn esmtp_param(known: &'static [&'static str], utf8: bool) -> impl Strategy<Value = EsmtpParam> {
    let value = if utf8 {
        "[!-<>-~\u{e0}-\u{ff}\u{4e00}-\u{4e40}]{1,16}".boxed()
    } else {
        "[!-<>-~]{1,16}".boxed()
    };
    (
        // `EsmtpParam::new` refuses every keyword MAIL or RCPT interprets.
        "[a-zA-Z0-9][a-zA-Z0-9-]{0,12}".prop_filter("unknown keyword", move |k| {
            !known
                .iter()
                .chain(MAIL_KEYWORDS)
                .chain(RCPT_KEYWORDS)
                .any(|kw| kw.eq_ignore_ascii_case(k))
        }),
        prop::option::of(value),
    )
        .prop_map(|(k, v)| EsmtpParam::new(&k, v.as_deref()).expect("valid esmtp-param"))
}

/// Any non-empty text, to be xtext-encoded: controls, `+`, `=`, spaces, UTF-8.
fn xtext_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 1..16).prop_map(String::from_iter),
        "[ -~]{1,24}",
        "<[a-z]+@[a-z.]+>",
    ]
}

fn body() -> impl Strategy<Value = Body> {
    select(vec![Body::SevenBit, Body::EightBitMime, Body::BinaryMime])
}

fn mail_params(utf8: bool) -> impl Strategy<Value = MailParams> {
    let auth = prop_oneof![
        Just(AuthParam::Unknown),
        // An identity that is literally `<>` must not read back as unknown.
        Just(AuthParam::Identity(
            XtextValue::new("<>").expect("non-empty")
        )),
        xtext_value().prop_map(|v| AuthParam::Identity(XtextValue::new(&v).expect("non-empty"))),
    ];
    (
        prop::option::of(prop_oneof![any::<u64>(), 0u64..100_000_000, Just(u64::MAX)]),
        prop::option::of(body()),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(select(vec![Ret::Full, Ret::Headers])),
        prop::option::of(xtext_value().prop_map(|v| XtextValue::new(&v).expect("non-empty"))),
        prop::option::of(auth),
        prop::collection::vec(esmtp_param(MAIL_KEYWORDS, utf8), 0..3),
    )
        .prop_map(
            |(size, body, smtputf8, requiretls, ret, envid, auth, other)| {
                let mut p = MailParams::default();
                p.size = size;
                p.body = body;
                p.smtputf8 = smtputf8;
                p.requiretls = requiretls;
                p.ret = ret;
                p.envid = envid;
                p.auth = auth;
                p.other = other;
                p
            },
        )
}

fn notify() -> impl Strategy<Value = Notify> {
    prop_oneof![
        Just(Notify::NEVER),
        (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_filter_map("some condition", |(s, f, d)| Notify::on(s, f, d)),
    ]
}

fn orcpt() -> impl Strategy<Value = Orcpt> {
    (
        prop_oneof![Just("rfc822".to_owned()), "[a-zA-Z0-9-]{1,10}"],
        xtext_value(),
    )
        .prop_map(|(t, a)| Orcpt::new(&t, &a).expect("valid ORCPT"))
}

fn rcpt_params(utf8: bool) -> impl Strategy<Value = RcptParams> {
    (
        prop::option::of(notify()),
        prop::option::of(orcpt()),
        prop::collection::vec(esmtp_param(RCPT_KEYWORDS, utf8), 0..3),
    )
        .prop_map(|(notify, orcpt, other)| {
            let mut p = RcptParams::default();
            p.notify = notify;
            p.orcpt = orcpt;
            p.other = other;
            p
        })
}

/// A VRFY/EXPN/HELP/NOOP argument; UTF-8 is allowed there with or without SMTPUTF8.
fn text_arg(utf8: bool) -> impl Strategy<Value = TextArg> {
    let re = if utf8 {
        "[!-~\u{e0}-\u{ff}\u{4e00}-\u{4e40}]([ -~\u{e0}-\u{ff}]{0,30}[!-~\u{4e00}-\u{4e40}])?"
    } else {
        "[!-~]([ -~]{0,30}[!-~])?"
    };
    regex(re).prop_map(|s| TextArg::new(&s).expect("valid text argument"))
}

fn mechanism() -> impl Strategy<Value = Mechanism> {
    prop_oneof![
        select(vec![
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::CramMd5,
            Mechanism::XOAuth2,
            Mechanism::OAuthBearer,
            Mechanism::ScramSha1,
            Mechanism::ScramSha256,
        ]),
        "[a-zA-Z0-9_-]{1,20}".prop_map(|m| Mechanism::parse(&m).expect("valid mechanism")),
        // Built by hand: any case, upper-cased on the way in.
        "[a-zA-Z0-9_-]{1,20}".prop_filter_map("not a name with a variant", |m| {
            MechanismName::new(&m).ok().map(Mechanism::Other)
        }),
    ]
}

fn sasl_response() -> impl Strategy<Value = SaslResponse> {
    prop_oneof![
        Just(SaslResponse::empty()),
        "[A-Za-z0-9+/]{1,80}={0,2}".prop_map(|b| SaslResponse::new(&b).expect("base64")),
    ]
}

/// Every command. With `utf8`, addresses and parameter values may be non-ASCII.
fn command(utf8: bool) -> BoxedStrategy<Command> {
    let ehlo_host = if utf8 {
        prop_oneof![4 => host(255), 1 => longest_domain().prop_map(Host::Domain)].boxed()
    } else {
        prop_oneof![
            4 => ascii_domain(255).prop_map(Host::Domain),
            1 => longest_domain().prop_map(Host::Domain),
            1 => address_literal().prop_map(Host::Literal),
        ]
        .boxed()
    };
    prop_oneof![
        ehlo_host.clone().prop_map(Command::Ehlo),
        ehlo_host.prop_map(Command::Helo),
        (reverse_path(utf8), mail_params(utf8)).prop_map(|(from, mut params)| {
            // RFC 6531 §3.4: a non-ASCII reverse path needs the SMTPUTF8 parameter.
            if from.mailbox().is_some_and(|m| !m.is_ascii()) {
                params.smtputf8 = true;
            }
            Command::Mail { from, params }
        }),
        (forward_path(utf8), rcpt_params(utf8))
            .prop_map(|(to, params)| Command::Rcpt { to, params }),
        Just(Command::Data),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Rset),
        text_arg(utf8).prop_map(Command::Vrfy),
        text_arg(utf8).prop_map(Command::Expn),
        prop::option::of(text_arg(utf8)).prop_map(Command::Help),
        prop::option::of(text_arg(utf8)).prop_map(Command::Noop),
        Just(Command::Quit),
        Just(Command::StartTls),
        (mechanism(), prop::option::of(sasl_response())).prop_map(
            |(mechanism, initial_response)| Command::Auth {
                mechanism,
                initial_response
            }
        ),
    ]
    .boxed()
}

fn reply_code() -> impl Strategy<Value = ReplyCode> {
    (2u16..=5, 0u16..=5, 0u16..=9)
        .prop_map(|(a, b, c)| ReplyCode::new(a * 100 + b * 10 + c).expect("valid code"))
}

/// A reply text line: often empty, sometimes starting with what reads as an
/// enhanced status, with tabs and UTF-8.
fn reply_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just(String::new()),
        4 => "[\t -~]{1,40}",
        2 => "[\t -~\u{a0}-\u{ff}\u{4e00}-\u{4e40}]{1,30}",
        2 => "[245]\\.[0-9]{1,3}\\.[0-9]{1,3}( [ -~]{0,20})?",
        1 => "[A-Z0-9-]{1,12}( [!-~]{1,10}){0,3}",
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    (
        reply_code(),
        prop::option::of((0u16..=999, 0u16..=999)),
        prop::collection::vec(reply_text(), 1..=5),
    )
        .prop_filter_map(
            "a first line that reads as the status the reply lacks",
            |(code, status, lines)| {
                let class = u8::try_from(code.get() / 100).expect("one digit");
                let enhanced = status.and_then(|(s, d)| EnhancedStatus::new(class, s, d));
                Reply::new(code, enhanced, lines).ok()
            },
        )
}

const EHLO_KEYWORDS: &[&str] = &[
    "SIZE",
    "PIPELINING",
    "8BITMIME",
    "SMTPUTF8",
    "CHUNKING",
    "BINARYMIME",
    "STARTTLS",
    "AUTH",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "REQUIRETLS",
];

fn extension() -> impl Strategy<Value = Extension> {
    prop_oneof![
        prop::option::of(prop_oneof![any::<u64>(), 0u64..100_000_000]).prop_map(Extension::Size),
        Just(Extension::Pipelining),
        Just(Extension::EightBitMime),
        Just(Extension::SmtpUtf8),
        Just(Extension::Chunking),
        Just(Extension::BinaryMime),
        Just(Extension::StartTls),
        prop::collection::vec(mechanism(), 0..5).prop_map(Extension::Auth),
        prop::collection::vec(mechanism(), 0..5).prop_map(Extension::AuthLegacy),
        Just(Extension::Dsn),
        Just(Extension::EnhancedStatusCodes),
        Just(Extension::RequireTls),
        (
            "[a-zA-Z0-9][a-zA-Z0-9-]{0,15}".prop_filter("unknown keyword", |k| {
                !EHLO_KEYWORDS.iter().any(|kw| kw.eq_ignore_ascii_case(k))
            }),
            prop::collection::vec("[!-~]{1,12}", 0..4),
        )
            .prop_map(|(keyword, params)| Extension::Other { keyword, params }),
    ]
}

fn server_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => domain(255).prop_map(|d| d.to_string()),
        1 => address_literal().prop_map(|l| l.to_string()),
        1 => "[!-~]{1,20}",
        // Names that look like an enhanced status code.
        1 => "[245]\\.[0-9]{1,3}\\.[0-9]{1,3}",
    ]
}

fn capabilities() -> impl Strategy<Value = Capabilities> {
    (
        server_name(),
        prop::option::of("[\t -~\u{a0}-\u{ff}]{1,30}"),
        prop::collection::vec(extension(), 0..12),
    )
        .prop_filter_map(
            "a server name that reads as a status code",
            |(name, greeting, extensions)| {
                let mut caps = Capabilities::new(&name).ok()?;
                if let Some(g) = greeting {
                    caps = caps.with_greeting(&g).expect("valid greeting");
                }
                for ext in extensions {
                    caps = caps.with(ext.clone()).unwrap_or_else(|e| {
                        panic!("Capabilities::with refused a valid {ext:?}: {e:?}")
                    });
                }
                Some(caps)
            },
        )
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn utf8_opts() -> ParseOptions {
    ParseOptions::strict().with_smtputf8(true)
}

/// The command line without its CRLF.
fn line(cmd: &Command) -> Vec<u8> {
    let mut bytes = cmd.to_bytes();
    assert!(bytes.ends_with(b"\r\n"), "command ends in CRLF");
    bytes.truncate(bytes.len() - 2);
    assert!(
        !bytes.contains(&b'\r') && !bytes.contains(&b'\n'),
        "no CR or LF inside a command line: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    bytes
}

/// True when a command carries a non-ASCII address or parameter value, which
/// only SMTPUTF8 allows.
fn needs_smtputf8(cmd: &Command) -> bool {
    let other_ascii = |p: &[EsmtpParam]| p.iter().all(|p| p.value().is_none_or(str::is_ascii));
    match cmd {
        Command::Ehlo(h) | Command::Helo(h) => !h.is_ascii(),
        Command::Mail { from, params } => {
            from.mailbox().is_some_and(|m| !m.is_ascii()) || !other_ascii(&params.other)
        }
        Command::Rcpt { to, params } => {
            to.mailbox().is_some_and(|m| !m.is_ascii()) || !other_ascii(&params.other)
        }
        _ => false,
    }
}

/// Splits a wire reply into its lines without CRLF (a lone CR or LF stays
/// inside its line, as in [`Reply::parse`]).
fn reply_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut rest = bytes;
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        lines.push(&rest[..end]);
        rest = &rest[end + 2..];
    }
    assert!(rest.is_empty(), "reply ends in CRLF");
    lines
}

/// Feeds lines one by one; every line but the last must leave the reply pending.
fn push_lines(parser: &mut ReplyParser, lines: &[&[u8]]) -> Result<Reply, ParseError> {
    let (last, init) = lines.split_last().expect("at least one line");
    for l in init {
        assert_eq!(parser.push_line(l)?, None, "reply ended early at {l:?}");
        assert!(!parser.is_idle());
    }
    let reply = parser
        .push_line(last)?
        .expect("the last line ends the reply");
    assert!(parser.is_idle());
    Ok(reply)
}

/// What a server sends for `err`: a 5xx reply that itself round-trips.
fn check_error_reply(err: &ParseError) {
    let reply = err.reply();
    assert!(
        reply.is_permanent(),
        "{err:?} maps to non-5xx {}",
        reply.code()
    );
    assert_eq!(reply.code().get() / 100, 5);
    assert_eq!(Reply::parse(&reply.to_bytes()).as_ref(), Ok(&reply));
}

/// SMTP-flavoured bytes for the mutation and garbage strategies.
fn smtp_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => select(b"<>@.:-=+ ,;[]\"\\0123456789AETOSIZBDYNQR".to_vec()),
        2 => b'a'..=b'z',
        1 => any::<u8>(),
    ]
}

/// Edits a valid wire form: replace, insert or delete a few bytes.
fn mutate(bytes: Vec<u8>, edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
    let mut out = bytes;
    for (at, op, b) in edits {
        let at = at % (out.len() + 1);
        match op % 3 {
            0 if at < out.len() => out[at] = b,
            1 => out.insert(at, b),
            _ if at < out.len() => {
                out.remove(at);
            }
            _ => out.push(b),
        }
    }
    out
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>(), smtp_byte()), 1..4)
}

/// Input for the command parser: garbage, a verb with SMTP-ish bytes, or a
/// mutated valid command.
fn command_input() -> impl Strategy<Value = Vec<u8>> {
    let verbs: Vec<&'static str> = Verb::ALL.iter().map(|v| v.as_str()).collect();
    prop_oneof![
        1 => any::<Vec<u8>>(),
        2 => (
            select(verbs),
            select(vec![" ", " FROM:", " TO:", " FROM: ", "  ", ""]),
            prop::collection::vec(smtp_byte(), 0..40),
        )
            .prop_map(|(v, sep, rest)| [v.as_bytes(), sep.as_bytes(), &rest].concat()),
        4 => (prop_oneof![command(false), command(true)], edits())
            .prop_map(|(c, e)| mutate(line(&c), e)),
    ]
}

/// Input for the reply parser: garbage, code-prefixed lines, or a mutated valid reply.
fn reply_input() -> impl Strategy<Value = Vec<u8>> {
    let made_up_line = (
        100u16..700,
        select(vec![" ", "-", "", "  "]),
        prop::collection::vec(smtp_byte(), 0..20),
    )
        .prop_map(|(c, sep, text)| {
            [c.to_string().as_bytes(), sep.as_bytes(), &text, b"\r\n"].concat()
        });
    prop_oneof![
        1 => any::<Vec<u8>>(),
        2 => prop::collection::vec(made_up_line, 1..4).prop_map(|l| l.concat()),
        4 => (reply(), edits()).prop_map(|(r, e)| mutate(r.to_bytes(), e)),
        2 => (capabilities(), edits()).prop_map(|(c, e)| mutate(c.to_reply().to_bytes(), e)),
    ]
}

fn any_options() -> impl Strategy<Value = ParseOptions> {
    (any::<bool>(), any::<bool>()).prop_map(|(lenient, utf8)| {
        let base = if lenient {
            ParseOptions::lenient()
        } else {
            ParseOptions::strict()
        };
        base.with_smtputf8(utf8)
    })
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn domain_round_trips(d in prop_oneof![domain(255), longest_domain()]) {
        prop_assert!(d.as_str().len() <= 255);
        prop_assert_eq!(Domain::new_utf8(d.as_str()), Ok(d.clone()));
        if d.is_ascii() {
            prop_assert_eq!(Domain::new(d.as_str()), Ok(d.clone()));
        } else {
            prop_assert_eq!(Domain::new(d.as_str()), Err(ParseError::Utf8NotAllowed));
        }
        let h = Host::Domain(d);
        prop_assert_eq!(h.to_string().parse::<Host>(), Ok(h.clone()));
    }

    #[test]
    fn address_literal_round_trips(l in address_literal()) {
        let text = l.to_string();
        prop_assert_eq!(AddressLiteral::parse(&text), Ok(l.clone()));
        prop_assert_eq!(Host::parse(&text), Ok(Host::Literal(l)));
    }

    #[test]
    fn overlong_domains_are_refused(d in longest_domain(), label in "[a-z]{64}") {
        let longer = format!("{d}a");
        prop_assert_eq!(Domain::new(&longer), Err(ParseError::DomainTooLong));
        prop_assert_eq!(Domain::new(&label), Err(ParseError::DomainTooLong));
        let ehlo = format!("EHLO {longer}");
        prop_assert!(Command::parse(ehlo.as_bytes()).is_err());
    }

    #[test]
    fn mailbox_round_trips(m in mailbox(true)) {
        prop_assert!(m.local_part().len() <= MAX_LOCAL_PART);
        prop_assert!(m.to_string().len() + 2 <= MAX_PATH);
        let text = m.to_string();
        prop_assert_eq!(Mailbox::parse_utf8(&text), Ok(m.clone()));
        prop_assert_eq!(text.parse::<Mailbox>(), Ok(m.clone()));
        if m.is_ascii() {
            prop_assert_eq!(Mailbox::parse(&text), Ok(m.clone()));
        } else {
            // Without SMTPUTF8 a non-ASCII address is always refused.
            let err = Mailbox::parse(&text).expect_err("non-ASCII mailbox parsed as ASCII");
            prop_assert!(
                matches!(err, ParseError::Utf8NotAllowed | ParseError::BadAddress),
                "unexpected error {:?}", err
            );
            if !m.local_part().is_ascii() {
                prop_assert_eq!(err, ParseError::Utf8NotAllowed);
            }
        }
    }

    #[test]
    fn mailbox_value_survives_quoting(
        value in prop::collection::vec(local_value_char(true), 0..30).prop_map(String::from_iter),
        d in ascii_domain(100),
    ) {
        let m = fit_mailbox(value.clone(), Host::Domain(d));
        prop_assert!(value.starts_with(&*m.local_part_value()));
        let again = Mailbox::new(&m.local_part_value(), m.domain().clone());
        prop_assert_eq!(again, Ok(m));
    }

    #[test]
    fn overlong_local_parts_and_paths_are_refused(
        local in regex(&format!("{ATEXT}{{65,80}}")),
        labels in prop::collection::vec("[a-z0-9]{63}", 2),
        last in "[a-z0-9]{62}",
    ) {
        let domain = format!("{}.{last}", labels.join("."));
        let too_long_local = format!("{local}@example.com");
        prop_assert_eq!(Mailbox::parse(&too_long_local), Err(ParseError::LocalPartTooLong));
        let rcpt = format!("RCPT TO:<{too_long_local}>");
        prop_assert_eq!(Command::parse(rcpt.as_bytes()), Err(ParseError::LocalPartTooLong));
        // 64 + 1 + 190 + 2 = 257 octets: one more than a path may hold.
        let path = format!("{}@{domain}", &local[..64]);
        prop_assert_eq!(path.len() + 2, MAX_PATH + 1);
        prop_assert_eq!(Mailbox::parse(&path), Err(ParseError::PathTooLong));
        let mail = format!("MAIL FROM:<{path}>");
        prop_assert_eq!(Command::parse(mail.as_bytes()), Err(ParseError::PathTooLong));
    }

    #[test]
    fn ascii_command_round_trips(cmd in command(false)) {
        let wire = line(&cmd);
        prop_assert!(wire.is_ascii());
        for opts in [
            ParseOptions::strict(),
            ParseOptions::lenient(),
            utf8_opts(),
            ParseOptions::lenient().with_smtputf8(true),
        ] {
            prop_assert_eq!(Command::parse_with(&wire, &opts), Ok(cmd.clone()), "options {:?}", opts);
        }
        prop_assert_eq!(cmd.verb().as_str().as_bytes(), &wire[..cmd.verb().as_str().len()]);
    }

    #[test]
    fn utf8_command_round_trips(cmd in command(true)) {
        let wire = line(&cmd);
        prop_assert_eq!(Command::parse_with(&wire, &utf8_opts()), Ok(cmd.clone()));
        prop_assert_eq!(
            Command::parse_with(&wire, &ParseOptions::lenient().with_smtputf8(true)),
            Ok(cmd.clone())
        );
        if needs_smtputf8(&cmd) {
            let strict = Command::parse(&wire);
            prop_assert!(strict.is_err(), "{:?} parsed without SMTPUTF8", cmd);
            let addr_non_ascii = match &cmd {
                Command::Mail { from, .. } => from.mailbox().is_some_and(|m| !m.local_part().is_ascii()),
                Command::Rcpt { to, .. } => to.mailbox().is_some_and(|m| !m.local_part().is_ascii()),
                _ => false,
            };
            if addr_non_ascii {
                prop_assert_eq!(strict, Err(ParseError::Utf8NotAllowed));
            }
        } else {
            prop_assert_eq!(Command::parse(&wire), Ok(cmd));
        }
    }

    #[test]
    fn reply_round_trips(r in reply()) {
        let bytes = r.to_bytes();
        prop_assert_eq!(Reply::parse(&bytes), Ok(r.clone()));
        prop_assert_eq!(r.to_string().into_bytes(), bytes.clone());
        let lines = reply_lines(&bytes);
        prop_assert_eq!(lines.len(), r.lines().len());
        let mut parser = ReplyParser::new();
        prop_assert_eq!(push_lines(&mut parser, &lines), Ok(r.clone()));
        // The parser is reusable: the same reply again.
        prop_assert_eq!(push_lines(&mut parser, &lines), Ok(r.clone()));
    }

    #[test]
    fn reply_parser_enforces_line_limit(r in reply()) {
        let bytes = r.to_bytes();
        let lines = reply_lines(&bytes);
        let limit = lines.len() - 1;
        prop_assume!(limit >= 1);
        let mut parser = ReplyParser::with_max_lines(limit);
        let mut result = Ok(None);
        for l in &lines {
            result = parser.push_line(l);
            if result.is_err() {
                break;
            }
        }
        prop_assert_eq!(result, Err(ParseError::TooManyReplyLines { limit }));
        prop_assert!(parser.is_idle());
    }

    #[test]
    fn capabilities_round_trip(caps in capabilities()) {
        let reply = caps.to_reply();
        prop_assert_eq!(reply.code(), ReplyCode::OK);
        let parsed = Reply::parse(&reply.to_bytes());
        prop_assert_eq!(parsed.as_ref(), Ok(&reply));
        prop_assert_eq!(Capabilities::from_ehlo_reply(&reply), Ok(caps));
    }

    #[test]
    fn status_like_server_names_are_refused(name in "2\\.[0-9]{1,3}\\.[0-9]{1,3}") {
        // Such a name would read back as the reply's enhanced status.
        prop_assert!(Capabilities::new(&name).is_err());
    }

    #[test]
    fn xtext_round_trips(s in any::<String>()) {
        let encoded = xtext::encode(&s);
        let bytes = encoded.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'+' {
                prop_assert!(bytes.len() >= i + 3);
                prop_assert!(bytes[i + 1..i + 3].iter().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')));
                i += 3;
            } else {
                prop_assert!(matches!(bytes[i], 33..=42 | 44..=60 | 62..=126));
                i += 1;
            }
        }
        prop_assert_eq!(xtext::decode(&encoded), Ok(s.clone()));
        // Lower-case hex digits are accepted too.
        let mut lower = encoded.clone().into_bytes();
        let mut j = 0;
        while j < lower.len() {
            if lower[j] == b'+' {
                lower[j + 1..j + 3].make_ascii_lowercase();
                j += 3;
            } else {
                j += 1;
            }
        }
        let lower = String::from_utf8(lower).expect("ASCII");
        prop_assert_eq!(xtext::decode(&lower), Ok(s));
    }

    #[test]
    fn xtext_decode_is_idempotent(s in prop_oneof![any::<String>(), "([!-~]|\\+[0-9a-fA-F]{2}){0,20}"]) {
        if let Ok(decoded) = xtext::decode(&s) {
            prop_assert_eq!(xtext::decode(&xtext::encode(&decoded)), Ok(decoded));
        }
    }

    #[test]
    fn command_parsing_never_panics_and_is_idempotent(
        input in command_input(),
        opts in any_options(),
    ) {
        for opts in [opts, ParseOptions::strict(), ParseOptions::lenient()] {
            match Command::parse_with(&input, &opts) {
                Ok(cmd) => {
                    let wire = line(&cmd);
                    prop_assert_eq!(Command::parse_with(&wire, &opts), Ok(cmd.clone()));
                    // What any options accept serializes to the strict grammar.
                    let canonical = ParseOptions::strict().with_smtputf8(opts.smtputf8);
                    prop_assert_eq!(Command::parse_with(&wire, &canonical), Ok(cmd));
                }
                Err(e) => check_error_reply(&e),
            }
        }
    }

    #[test]
    fn reply_parsing_never_panics_and_is_idempotent(input in reply_input()) {
        match Reply::parse(&input) {
            Ok(reply) => {
                let bytes = reply.to_bytes();
                prop_assert_eq!(Reply::parse(&bytes), Ok(reply.clone()));
                // Line by line gives the same reply.
                let lines = reply_lines(&input);
                prop_assert_eq!(push_lines(&mut ReplyParser::new(), &lines), Ok(reply.clone()));
                if let Ok(caps) = Capabilities::from_ehlo_reply(&reply) {
                    let again = Reply::parse(&caps.to_reply().to_bytes())
                        .expect("capabilities serialize to a valid reply");
                    prop_assert_eq!(Capabilities::from_ehlo_reply(&again), Ok(caps));
                }
            }
            Err(e) => check_error_reply(&e),
        }
    }
}

#[test]
fn every_error_maps_to_a_5xx_reply() {
    let mut errors = vec![
        ParseError::LineTooLong { limit: 512 },
        ParseError::UnknownCommand,
        ParseError::BadAddress,
        ParseError::LocalPartTooLong,
        ParseError::DomainTooLong,
        ParseError::PathTooLong,
        ParseError::Utf8NotAllowed,
        ParseError::BadParameter("SIZE"),
        ParseError::DuplicateParameter("BODY"),
        ParseError::BadReply,
        ParseError::ReplyCodeMismatch,
        ParseError::TooManyReplyLines { limit: 3 },
        ParseError::BadReplyText,
        ParseError::BadEhloReply,
    ];
    errors.extend(Verb::ALL.into_iter().map(ParseError::Syntax));
    for e in &errors {
        check_error_reply(e);
    }
}

#[test]
fn auth_identity_of_angle_brackets_is_not_unknown() {
    let mut params = MailParams::default();
    params.auth = Some(AuthParam::Identity(XtextValue::new("<>").unwrap()));
    let cmd = Command::Mail {
        from: ReversePath::Null,
        params,
    };
    assert_eq!(Command::parse(&line(&cmd)), Ok(cmd));
}

// Values that would serialize to something unparsable cannot be built.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A keyword that MAIL or RCPT interprets, in any case, is refused as an
    /// unknown parameter (it would read back as the interpreted one).
    #[test]
    fn esmtp_param_refuses_interpreted_keywords(
        k in select(MAIL_KEYWORDS.iter().chain(RCPT_KEYWORDS).copied().collect::<Vec<_>>()),
        flips in prop::collection::vec(any::<bool>(), 12),
        value in prop::option::of("[!-<>-~]{1,8}"),
    ) {
        let k: String = k
            .chars()
            .zip(flips.iter().chain(std::iter::repeat(&false)))
            .map(|(c, &f)| if f { c.to_ascii_lowercase() } else { c })
            .collect();
        prop_assert!(EsmtpParam::new(&k, value.as_deref()).is_err(), "{}", k);
    }

    /// A mechanism name is accepted in any case and kept in upper case; one
    /// with a variant of its own, or that breaks `sasl-mech`, is refused.
    /// What is accepted is sent and read back as itself.
    #[test]
    fn mechanism_names_round_trip(name in prop_oneof![
        "[a-zA-Z0-9_-]{1,20}",
        "[a-zA-Z0-9_ =-]{0,24}",
        select(vec!["plain", "Login", "cram-md5", "SCRAM-SHA-256", "xoauth2"]).prop_map(str::to_owned),
    ]) {
        match MechanismName::new(&name) {
            Ok(n) => {
                prop_assert_eq!(n.as_str(), name.to_ascii_uppercase());
                let cmd = Command::Auth { mechanism: Mechanism::Other(n), initial_response: None };
                prop_assert_eq!(Command::parse(&line(&cmd)), Ok(cmd));
            }
            Err(_) => prop_assert!(
                !matches!(Mechanism::parse(&name), Ok(Mechanism::Other(_))),
                "{:?} refused but parses as another mechanism", name
            ),
        }
    }

    /// An ENVID or AUTH= identity is any text but the empty one, and goes
    /// through xtext and back unchanged.
    #[test]
    fn xtext_values_round_trip(text in prop_oneof![Just(String::new()), xtext_value(), any::<String>()]) {
        match XtextValue::new(&text) {
            Ok(v) => {
                prop_assert_eq!(v.as_str(), text.as_str());
                let mut params = MailParams::default();
                params.envid = Some(v.clone());
                params.auth = Some(AuthParam::Identity(v));
                let cmd = Command::Mail { from: ReversePath::Null, params };
                prop_assert_eq!(Command::parse(&line(&cmd)), Ok(cmd));
            }
            Err(e) => {
                prop_assert!(text.is_empty());
                prop_assert_eq!(e, ParseError::BadParameter("xtext"));
            }
        }
    }
}

proptest! {
    /// Whatever `GeneralLiteral::new` accepts reads back as itself, and a
    /// tag and content it refuses never parse as that tag and content.
    #[test]
    fn general_literals_that_can_be_built_read_back(
        tag in "[A-Za-z0-9:\\-\\]]{0,8}",
        content in "[ -~]{0,8}",
    ) {
        match GeneralLiteral::new(&tag, &content) {
            Ok(lit) => {
                let lit = AddressLiteral::General(lit);
                prop_assert_eq!(AddressLiteral::parse(&lit.to_string()), Ok(lit));
            }
            Err(_) => {
                let parsed = AddressLiteral::parse(&format!("[{tag}:{content}]"));
                let same = matches!(&parsed, Ok(AddressLiteral::General(lit))
                    if lit.tag() == tag && lit.content() == content);
                prop_assert!(!same, "{parsed:?}");
            }
        }
    }
}
