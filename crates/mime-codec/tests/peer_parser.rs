//! Differential test against Stalwart's `mail-parser`: messages we build read the same there.

use mail_parser::MimeHeaders as _;
use mime_codec::{Attachment, DateTime, Mailbox, Message, MessageBuilder};

fn build(i: u32) -> Vec<u8> {
    let data: Vec<u8> = (0..(i * 997 % 5000)).map(|n| (n * 7 + i) as u8).collect();
    let mut b = MessageBuilder::new()
        .from(Mailbox::new("发件人 Sender", "from@example.com").unwrap())
        .to(Mailbox::new("Li, Si", "li@example.net").unwrap())
        .subject(format!(
            "第{i}号 subject with a reasonably long tail to force folding {i}"
        ))
        .date(DateTime::from_unix(1_700_000_000 + i64::from(i) * 3600, 480).unwrap())
        .entropy(i.to_be_bytes())
        .text_body(format!("正文 {i}\nline two\n"));
    if i.is_multiple_of(2) {
        b = b.html_body(format!("<p>正文 {i}</p>"));
    }
    if i.is_multiple_of(3) {
        b = b.inline("img@x", Attachment::new("i.png", vec![0x89, 1, 2]));
    }
    b.attach(Attachment::new(format!("附件-{i}.bin"), data))
        .build()
        .unwrap()
        .to_vec()
}

#[test]
fn mail_parser_reads_what_we_build() {
    for i in 0..24 {
        let raw = build(i);
        let ours = Message::parse(&raw);
        let theirs = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(ours.subject().as_deref(), theirs.subject(), "message {i}");
        let their_from = theirs.from().and_then(|a| a.first()).unwrap();
        assert_eq!(their_from.name(), Some("发件人 Sender"));
        assert_eq!(their_from.address(), Some("from@example.com"));
        let their_to = theirs.to().and_then(|a| a.first()).unwrap();
        assert_eq!(their_to.name(), Some("Li, Si"));
        assert_eq!(
            theirs.body_text(0).as_deref(),
            Some(format!("正文 {i}\r\nline two\r\n").as_str())
        );
        assert_eq!(
            ours.text_body().unwrap().text,
            format!("正文 {i}\r\nline two\r\n")
        );
        assert_eq!(
            ours.date().map(|d| d.to_unix()),
            theirs.date().map(|d| d.to_timestamp()),
            "message {i}"
        );
        let our_files: Vec<(Option<&str>, Vec<u8>)> = ours
            .inline_parts()
            .into_iter()
            .chain(ours.attachments())
            .map(|p| (p.file_name(), p.decoded().into_owned()))
            .collect();
        let their_files: Vec<(Option<&str>, Vec<u8>)> = theirs
            .attachments()
            .map(|p| (p.attachment_name(), p.contents().to_vec()))
            .collect();
        let mut a = our_files.clone();
        let mut b = their_files.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "message {i}");
    }
}

#[test]
fn we_read_what_mail_builder_builds() {
    let data: Vec<u8> = (0..10_000u32).map(|n| (n % 253) as u8).collect();
    let raw = mail_builder::MessageBuilder::new()
        .from(("发件人", "from@example.com"))
        .to(vec![
            ("Li, Si", "li@example.net"),
            ("王五", "wang@example.net"),
        ])
        .subject("中文主题 with ASCII")
        .date(1_700_000_000i64)
        .text_body("纯文本正文\n")
        .html_body("<p>超文本</p>")
        .attachment("application/octet-stream", "文件名.bin", data.as_slice())
        .write_to_vec()
        .unwrap();
    let m = Message::parse(&raw);
    assert_eq!(m.subject().as_deref(), Some("中文主题 with ASCII"));
    assert_eq!(m.from()[0].mailboxes()[0].name(), Some("发件人"));
    let to: Vec<_> = m.to().iter().flat_map(|a| a.mailboxes().to_vec()).collect();
    assert_eq!(to[1].name(), Some("王五"));
    assert_eq!(m.date().unwrap().to_unix(), 1_700_000_000);
    assert_eq!(m.text_body().unwrap().text.trim_end(), "纯文本正文");
    assert_eq!(m.html_body().unwrap().text.trim_end(), "<p>超文本</p>");
    let att = m.attachments();
    assert_eq!(att.len(), 1);
    assert_eq!(att[0].file_name(), Some("文件名.bin"));
    assert_eq!(att[0].decoded().as_ref(), data.as_slice());
}
