//! Benchmarks against Stalwart's `mail-parser` and `mail-builder`, lettre's builder, and the raw
//! `base64` crate, on the same inputs in the same run. Run with `cargo bench -p mime-codec`.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use divan::counter::BytesCount;
use divan::Bencher;
use mail_parser::MimeHeaders as _;
use mime_codec::{Attachment, DateTime, Mailbox, Message, MessageBuilder};

fn main() {
    check_build_outputs();
    divan::main();
}

/// Before timing anything: every builder's output carries the whole attachment, base64-encoded
/// in lines a reader accepts, so the build benchmarks compare the same work.
fn check_build_outputs() {
    let data = payload(TEN_MB);
    let outputs = [
        ("mime-codec", ours(data.clone())),
        ("mail-builder", stalwart(data.clone())),
        ("lettre", lettre(data.clone())),
    ];
    for (name, out) in outputs {
        let m = Message::parse(&out);
        let attachments = m.attachments();
        assert_eq!(attachments.len(), 1, "{name}: one attachment");
        // mail-builder ends the body with a CRLF of its own; the others leave it to the boundary.
        let raw = attachments[0].raw_body();
        let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
        assert_eq!(
            raw.len() as u64,
            mime_codec::base64::encoded_len(TEN_MB as u64),
            "{name}: base64 in 76-column lines"
        );
        assert!(attachments[0].decoded() == data, "{name}: attachment bytes");
        eprintln!("{name}: {} bytes of output", out.len());
    }
}

const TEN_MB: usize = 10 * 1024 * 1024;

fn payload(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            // xorshift: incompressible bytes without a random crate.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

const TEXT: &str = "Hello,\n\nthe quarterly report is attached. 季度报告见附件。\n\nRegards\n";

fn ours(attachment: Vec<u8>) -> Vec<u8> {
    MessageBuilder::new()
        .from(Mailbox::new("Ann Example", "ann@example.com").unwrap())
        .to(Mailbox::new("Bob", "bob@example.net").unwrap())
        .subject("Quarterly report 季度报告")
        .date(DateTime::from_unix(1_700_000_000, 0).unwrap())
        .entropy([7; 16])
        .text_body(TEXT)
        .attach(Attachment::new("report.bin", attachment))
        .build()
        .unwrap()
        .to_vec()
}

fn stalwart(attachment: Vec<u8>) -> Vec<u8> {
    mail_builder::MessageBuilder::new()
        .from(("Ann Example", "ann@example.com"))
        .to(("Bob", "bob@example.net"))
        .subject("Quarterly report 季度报告")
        .date(1_700_000_000i64)
        .message_id("0707@example.com")
        .text_body(TEXT)
        .attachment("application/octet-stream", "report.bin", attachment)
        .write_to_vec()
        .unwrap()
}

fn lettre(attachment: Vec<u8>) -> Vec<u8> {
    use lettre::message::{header::ContentType, Attachment as LAttachment, MultiPart, SinglePart};
    lettre::Message::builder()
        .from("Ann Example <ann@example.com>".parse().unwrap())
        .to("Bob <bob@example.net>".parse().unwrap())
        .subject("Quarterly report 季度报告")
        .date(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .message_id(Some("<0707@example.com>".into()))
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(TEXT.to_owned()))
                .singlepart(LAttachment::new("report.bin".into()).body(
                    attachment,
                    ContentType::parse("application/octet-stream").unwrap(),
                )),
        )
        .unwrap()
        .formatted()
}

mod build_10mb_attachment {
    use super::*;

    #[divan::bench(sample_count = 60, sample_size = 1)]
    fn mime_codec(b: Bencher) {
        let data = payload(TEN_MB);
        b.counter(BytesCount::new(TEN_MB))
            .with_inputs(|| data.clone())
            .bench_values(|d| black_box(ours(d)));
    }

    /// Takes the attachment by value like the others (mail-builder also accepts a borrowed
    /// slice), so every builder frees its input inside the timed region.
    #[divan::bench(sample_count = 60, sample_size = 1)]
    fn mail_builder(b: Bencher) {
        let data = payload(TEN_MB);
        b.counter(BytesCount::new(TEN_MB))
            .with_inputs(|| data.clone())
            .bench_values(|d| black_box(stalwart(d)));
    }

    #[divan::bench(sample_count = 60, sample_size = 1)]
    fn lettre(b: Bencher) {
        let data = payload(TEN_MB);
        b.counter(BytesCount::new(TEN_MB))
            .with_inputs(|| data.clone())
            .bench_values(|d| black_box(super::lettre(d)));
    }

    /// Streaming: the same message as 64 KiB chunks, never holding the encoded attachment whole.
    #[divan::bench(sample_count = 60, sample_size = 1)]
    fn mime_codec_streamed(b: Bencher) {
        let data = payload(TEN_MB);
        b.counter(BytesCount::new(TEN_MB))
            .with_inputs(|| data.clone())
            .bench_values(|d| {
                let msg = MessageBuilder::new()
                    .from(Mailbox::new("Ann Example", "ann@example.com").unwrap())
                    .to(Mailbox::new("Bob", "bob@example.net").unwrap())
                    .subject("Quarterly report 季度报告")
                    .date(DateTime::from_unix(1_700_000_000, 0).unwrap())
                    .entropy([7; 16])
                    .text_body(TEXT)
                    .attach(Attachment::new("report.bin", d))
                    .build()
                    .unwrap();
                let mut total = 0;
                for chunk in msg.chunks() {
                    total += black_box(chunk).len();
                }
                total
            });
    }
}

mod base64_10mb {
    use super::*;

    #[divan::bench(sample_count = 60, sample_size = 1)]
    fn wrapped_mime_codec(b: Bencher) {
        let data = payload(TEN_MB);
        b.counter(BytesCount::new(TEN_MB))
            .bench(|| black_box(mime_codec::base64::encode_wrapped(&data)));
    }

    #[divan::bench(sample_count = 60, sample_size = 1)]
    fn raw_base64_crate(b: Bencher) {
        let data = payload(TEN_MB);
        b.counter(BytesCount::new(TEN_MB))
            .bench(|| black_box(base64::engine::general_purpose::STANDARD.encode(&data)));
    }
}

/// Messages for the parse benchmarks: built by each peer so neither parser gets home advantage.
fn parse_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let small_html = MessageBuilder::new()
        .from(Mailbox::new("张三", "zhang@example.com").unwrap())
        .to(Mailbox::new("Li, Si", "li@example.net").unwrap())
        .subject("会议纪要 — minutes of the weekly meeting")
        .date(DateTime::from_unix(1_700_000_000, 480).unwrap())
        .entropy([3; 16])
        .text_body("各位好，\n会议纪要如下。\n".repeat(20))
        .html_body("<p>各位好，</p><p>会议纪要如下。<img src=\"cid:logo\"></p>".repeat(20))
        .inline("logo", Attachment::new("logo.png", payload(4096)))
        .attach(Attachment::new("纪要.pdf", payload(20_000)))
        .build()
        .unwrap()
        .to_vec();
    vec![
        ("small_multipart_ours", small_html),
        ("1mb_attachment_ours", ours(payload(1024 * 1024))),
        (
            "1mb_attachment_mail_builder",
            stalwart(payload(1024 * 1024)),
        ),
    ]
}

/// Full parse: structure, headers, text body and every attachment decoded (what mail-parser does
/// eagerly).
fn ours_full(raw: &[u8]) -> usize {
    let m = Message::parse(raw);
    let mut n = m.subject().map_or(0, |s| s.len());
    n += m
        .from()
        .first()
        .and_then(|a| a.mailboxes().first())
        .map_or(0, |m| m.address().len());
    n += m.text_body().map_or(0, |t| t.text.len());
    n += m.html_body().map_or(0, |t| t.text.len());
    for a in m.attachments().into_iter().chain(m.inline_parts()) {
        n += a.decoded().len() + a.file_name().map_or(0, str::len);
    }
    n
}

fn stalwart_full(raw: &[u8]) -> usize {
    let m = mail_parser::MessageParser::default().parse(raw).unwrap();
    let mut n = m.subject().map_or(0, str::len);
    n += m
        .from()
        .and_then(|a| a.first())
        .map_or(0, |a| a.address().map_or(0, str::len));
    n += m.body_text(0).map_or(0, |t| t.len());
    n += m.body_html(0).map_or(0, |t| t.len());
    for a in m.attachments() {
        n += a.contents().len() + a.attachment_name().map_or(0, str::len);
    }
    n
}

#[divan::bench(args = ["small_multipart_ours", "1mb_attachment_ours", "1mb_attachment_mail_builder"])]
fn parse_mime_codec(b: Bencher, name: &str) {
    let inputs = parse_inputs();
    let raw = &inputs.iter().find(|(n, _)| *n == name).unwrap().1;
    b.counter(BytesCount::new(raw.len()))
        .bench(|| black_box(ours_full(raw)));
}

#[divan::bench(args = ["small_multipart_ours", "1mb_attachment_ours", "1mb_attachment_mail_builder"])]
fn parse_mail_parser(b: Bencher, name: &str) {
    let inputs = parse_inputs();
    let raw = &inputs.iter().find(|(n, _)| *n == name).unwrap().1;
    b.counter(BytesCount::new(raw.len()))
        .bench(|| black_box(stalwart_full(raw)));
}

/// Structure and headers only; bodies are decoded lazily, so this is what a sink pays to index.
#[divan::bench(args = ["small_multipart_ours", "1mb_attachment_ours", "1mb_attachment_mail_builder"])]
fn parse_mime_codec_structure_only(b: Bencher, name: &str) {
    let inputs = parse_inputs();
    let raw = &inputs.iter().find(|(n, _)| *n == name).unwrap().1;
    b.counter(BytesCount::new(raw.len())).bench(|| {
        let m = Message::parse(raw);
        black_box(m.attachments().len())
    });
}
