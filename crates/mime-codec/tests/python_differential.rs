//! Differential test: messages we build are parsed by Python's standard `email` package, which
//! must see the same headers, addresses, part structure and bytes as we put in (and as our own
//! parser sees). Python 3 must be installed; the test fails, not skips, without it.

use std::process::Command;

use mime_codec::{Attachment, DateTime, Mailbox, Message, MessageBuilder, Part};

/// Prints one fact per line; every free-form value is hex-encoded UTF-8 or bytes.
const SCRIPT: &str = r#"
import sys, email, email.policy
data = open(sys.argv[1], 'rb').read()
msg = email.message_from_bytes(data, policy=email.policy.default)
h = lambda s: s.encode('utf-8', 'surrogateescape').hex()
for name in ['Subject', 'Message-ID', 'In-Reply-To', 'References', 'X-Custom']:
    v = msg[name]
    if v is not None:
        print('H', name, h(str(v)))
d = msg['Date']
if d is not None:
    print('DATE', int(d.datetime.timestamp()))
for name in ['From', 'To', 'Cc', 'Reply-To', 'Bcc']:
    v = msg[name]
    if v is not None:
        for a in v.addresses:
            print('A', name, h(a.display_name) or '-', h(a.addr_spec))
for i, part in enumerate(msg.walk()):
    for defect in part.defects:
        print('DEFECT', i, type(defect).__name__)
    fn = part.get_filename()
    cid = part['Content-ID']
    payload = b'' if part.is_multipart() else (part.get_payload(decode=True) or b'')
    print('P', part.get_content_type(), h(fn) if fn else '-', h(str(cid).strip('<>')) if cid else '-', payload.hex() or '-')
    if part.get_content_maintype() == 'text' and not part.is_multipart():
        print('T', h(part.get_content()) or '-')
"#;

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn hex_text(s: &str) -> String {
    String::from_utf8(unhex(s)).unwrap()
}

/// Runs Python's parser on `bytes` and returns its output lines split into fields.
fn python_view(name: &str, bytes: &[u8]) -> Vec<Vec<String>> {
    let path =
        std::env::temp_dir().join(format!("mime-codec-diff-{}-{name}.eml", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(&path)
        .output()
        .expect("python3 must be installed to run the differential test");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split(' ').map(str::to_owned).collect())
        .collect()
}

/// Our parser's view of the parts, in the same depth-first order as Python's `walk()`.
fn our_parts<'a>(p: &'a Part<'a>, out: &mut Vec<&'a Part<'a>>) {
    out.push(p);
    for c in p.parts() {
        our_parts(c, out);
    }
}

fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

struct Expected<'a> {
    subject: &'a str,
    addresses: Vec<(&'a str, Option<&'a str>, &'a str)>,
    texts: Vec<&'a str>,
    files: Vec<(&'a str, &'a [u8])>,
}

fn check(name: &str, builder: MessageBuilder, want: Expected<'_>) {
    let bytes = builder.build().unwrap().to_vec();
    let py = python_view(name, &bytes);
    let ours = Message::parse(&bytes);

    let defects: Vec<_> = py.iter().filter(|l| l[0] == "DEFECT").collect();
    assert!(
        defects.is_empty(),
        "{name}: python reports defects {defects:?}"
    );

    let subject = py
        .iter()
        .find(|l| l[0] == "H" && l[1] == "Subject")
        .map(|l| hex_text(&l[2]));
    assert_eq!(subject.as_deref(), Some(want.subject), "{name}: subject");
    assert_eq!(ours.subject().as_deref(), Some(want.subject));

    let py_addresses: Vec<(String, Option<String>, String)> = py
        .iter()
        .filter(|l| l[0] == "A")
        .map(|l| {
            let n = hex_text(&l[2]);
            (l[1].clone(), (!n.is_empty()).then_some(n), hex_text(&l[3]))
        })
        .collect();
    let want_addresses: Vec<(String, Option<String>, String)> = want
        .addresses
        .iter()
        .map(|(h, n, a)| (h.to_string(), n.map(str::to_owned), a.to_string()))
        .collect();
    assert_eq!(py_addresses, want_addresses, "{name}: addresses");

    let py_parts: Vec<&Vec<String>> = py.iter().filter(|l| l[0] == "P").collect();
    let mut mine = Vec::new();
    our_parts(ours.root(), &mut mine);
    assert_eq!(py_parts.len(), mine.len(), "{name}: part count");
    for (p, m) in py_parts.iter().zip(&mine) {
        assert_eq!(p[1], m.content_type().essence(), "{name}: content type");
        assert_eq!(
            hex_text(&p[2]),
            m.file_name().unwrap_or(""),
            "{name}: file name"
        );
        assert_eq!(
            hex_text(&p[3]),
            m.content_id().unwrap_or_default(),
            "{name}: content id"
        );
        if m.parts().is_empty() {
            assert_eq!(
                unhex(&p[4]),
                m.decoded().as_ref(),
                "{name}: payload of {}",
                p[1]
            );
        }
    }

    let py_texts: Vec<String> = py
        .iter()
        .filter(|l| l[0] == "T")
        .map(|l| lf(&hex_text(&l[1])))
        .collect();
    let py_bodies: Vec<&String> = py_texts.iter().take(want.texts.len()).collect();
    let want_texts: Vec<String> = want.texts.iter().map(|t| lf(t)).collect();
    assert_eq!(
        py_bodies,
        want_texts.iter().collect::<Vec<_>>(),
        "{name}: text bodies"
    );

    for (file, data) in &want.files {
        let found = py_parts.iter().find(|p| hex_text(&p[2]) == *file);
        let found = found.unwrap_or_else(|| panic!("{name}: python sees no file {file:?}"));
        assert_eq!(unhex(&found[4]), *data, "{name}: bytes of {file}");
        let ours = ours
            .attachments()
            .into_iter()
            .chain(ours.inline_parts())
            .find(|a| a.file_name() == Some(*file));
        assert_eq!(ours.unwrap().decoded().as_ref(), *data);
    }

    if let Some(date) = py.iter().find(|l| l[0] == "DATE") {
        assert_eq!(
            date[1].parse::<i64>().unwrap(),
            ours.date().unwrap().to_unix(),
            "{name}: date"
        );
    }
}

fn base() -> MessageBuilder {
    MessageBuilder::new()
        .date(DateTime::from_unix(1_763_906_400, 8 * 60).unwrap())
        .entropy(b"differential")
}

#[test]
fn plain_ascii_message() {
    check(
        "plain",
        base()
            .from(Mailbox::new("Ann Example", "ann@example.com").unwrap())
            .to(Mailbox::address_only("bob@example.net").unwrap())
            .subject("Status report for week 47")
            .text_body("Hello Bob,\n\nAll green.\n"),
        Expected {
            subject: "Status report for week 47",
            addresses: vec![
                ("From", Some("Ann Example"), "ann@example.com"),
                ("To", None, "bob@example.net"),
            ],
            texts: vec!["Hello Bob,\n\nAll green.\n"],
            files: vec![],
        },
    );
}

#[test]
fn chinese_subject_names_bodies_and_file_names() {
    let subject = "关于第三季度财务报告的审阅意见以及下周一例会的议程安排（请务必在周五之前回复）";
    let pdf: Vec<u8> = (0..5000u32).map(|i| (i * 13 % 256) as u8).collect();
    let csv = "名称,数量\r\n苹果,3\r\n".as_bytes().to_vec();
    check(
        "chinese",
        base()
            .from(Mailbox::new("张三", "zhang@example.cn").unwrap())
            .to(Mailbox::new("李四 (财务部)", "li@example.cn").unwrap())
            .cc(Mailbox::new("Wang, Wu", "wang@example.cn").unwrap())
            .reply_to(Mailbox::new("王五", "wangwu@example.cn").unwrap())
            .bcc(Mailbox::address_only("hidden@example.cn").unwrap())
            .subject(subject)
            .text_body("各位好：\n\n附件是第三季度的财务报告，请查收。\n")
            .html_body("<p>各位好：</p><p>附件是<b>第三季度</b>的财务报告，请查收。</p>")
            .attach(Attachment::new(
                "第三季度财务报告（最终版）.pdf",
                pdf.clone(),
            ))
            .attach(Attachment::new("数据.csv", csv.clone())),
        Expected {
            subject,
            addresses: vec![
                ("From", Some("张三"), "zhang@example.cn"),
                ("To", Some("李四 (财务部)"), "li@example.cn"),
                ("Cc", Some("Wang, Wu"), "wang@example.cn"),
                ("Reply-To", Some("王五"), "wangwu@example.cn"),
            ],
            texts: vec![
                "各位好：\n\n附件是第三季度的财务报告，请查收。\n",
                "<p>各位好：</p><p>附件是<b>第三季度</b>的财务报告，请查收。</p>",
            ],
            files: vec![("第三季度财务报告（最终版）.pdf", &pdf), ("数据.csv", &csv)],
        },
    );
}

#[test]
fn html_with_inline_images_and_mostly_ascii_text() {
    let logo: Vec<u8> = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    let text = "Grüße aus Köln — the meeting is at 10 o'clock. A very long line follows: "
        .to_owned()
        + &"lorem ipsum ".repeat(40);
    check(
        "inline",
        base()
            .from(Mailbox::new("Jörg Müller", "joerg@example.de").unwrap())
            .to(Mailbox::new("\"Quoted\" Name \\ Backslash", "q@example.de").unwrap())
            .subject("Grüße aus Köln")
            .header("X-Custom", "value with  two spaces")
            .in_reply_to("<prev.1@example.de>")
            .text_body(text.clone())
            .html_body("<p>Grüße <img src=\"cid:logo@example.de\"></p>")
            .inline("logo@example.de", Attachment::new("logo.png", logo.clone())),
        Expected {
            subject: "Grüße aus Köln",
            addresses: vec![
                ("From", Some("Jörg Müller"), "joerg@example.de"),
                ("To", Some("\"Quoted\" Name \\ Backslash"), "q@example.de"),
            ],
            texts: vec![&text, "<p>Grüße <img src=\"cid:logo@example.de\"></p>"],
            files: vec![("logo.png", &logo)],
        },
    );
}

#[test]
fn binary_and_text_attachments_with_awkward_content() {
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let bare_lf = b"line one\nline two\rline three\r\n\x00nul".to_vec();
    let long_name = "a file name that is definitely longer than sixty characters, with spaces.txt";
    check(
        "attachments",
        base()
            .from(Mailbox::address_only("files@example.com").unwrap())
            .to(Mailbox::address_only("you@example.com").unwrap())
            .subject("=?not-an-encoded-word?= and trailing space ")
            .text_body("")
            .attach(Attachment::new("binary.bin", binary.clone()))
            .attach(Attachment::new("bare-lf.txt", bare_lf.clone()))
            .attach(Attachment::new(long_name, b"x".to_vec())),
        Expected {
            subject: "=?not-an-encoded-word?= and trailing space ",
            addresses: vec![
                ("From", None, "files@example.com"),
                ("To", None, "you@example.com"),
            ],
            texts: vec![""],
            files: vec![
                ("binary.bin", &binary),
                ("bare-lf.txt", &bare_lf),
                (long_name, b"x"),
            ],
        },
    );
}

/// Strings that have tripped header encoders: each is used as a subject, a display name and a
/// file name, and Python must read back exactly the same text.
#[test]
fn tricky_strings_read_back_the_same_in_python() {
    let tricky = [
        "plain ascii",
        "=?utf-8?q?looks_encoded?=",
        "question ?= marks =? here",
        "tab\tinside",
        "quotes \"and\" back\\slash",
        "comma, semicolon; colon: <angle> (paren) [bracket] @at",
        "emoji 😀🎉 and CJK 中文 and Hangul 한글 and Cyrillic Привет",
        "a long ascii subject line that goes on and on well past the seventy-eight column limit so that it has to be folded",
        "très long sujet en français avec des accents é è à ù ç qui dépasse la limite de soixante-dix-huit colonnes",
        "很长的中文主题需要折叠成多个编码字而且绝对不能在一个汉字的中间被拆开否则解码时会出现乱码的问题",
        "x_underscore_and=equals",
        "mixed 中 a 文 b",
    ];
    for (i, s) in tricky.iter().enumerate() {
        let name = format!("f{i}-{s}.txt");
        // Python's address parser turns whitespace inside a display name into single spaces, even
        // inside an encoded word; our own parser keeps the tab (see the round-trip proptests).
        // It also keeps the folding whitespace between adjacent encoded words of a display name,
        // against RFC 2047 section 6.2 (so a long name "한글" split in two words reads "한 글"
        // there), so the display name is kept to what fits one encoded word (45 bytes).
        let mut display = String::new();
        for c in s.chars() {
            if display.len() + c.len_utf8() > 45 {
                break;
            }
            display.push(c);
        }
        let display = display.trim().to_owned();
        let py_display = display.replace('\t', " ");
        check(
            &format!("tricky{i}"),
            base()
                .from(Mailbox::new(display.clone(), "from@example.com").unwrap())
                .to(Mailbox::address_only("to@example.com").unwrap())
                .subject(*s)
                .text_body(*s)
                .attach(Attachment::new(name.clone(), s.as_bytes().to_vec())),
            Expected {
                subject: s,
                addresses: vec![
                    ("From", Some(&py_display), "from@example.com"),
                    ("To", None, "to@example.com"),
                ],
                texts: vec![s],
                files: vec![(&name, s.as_bytes())],
            },
        );
    }
}
