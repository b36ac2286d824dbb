//! Builds a message with every feature and prints it: `cargo run -p mime-codec --example build_message`.

use mime_codec::{Attachment, DateTime, Mailbox, MessageBuilder};

fn main() -> Result<(), mime_codec::BuildError> {
    let logo = vec![0x89, b'P', b'N', b'G', 0, 1, 2, 3, 255];
    let msg = MessageBuilder::new()
        .from(Mailbox::new("张三", "zhang@example.com")?)
        .to(Mailbox::new("Li, Si", "li@example.net")?)
        .cc(Mailbox::address_only("team@example.org")?)
        .bcc(Mailbox::address_only("audit@example.com")?)
        .subject("季度报告 Q3 — please review before Friday's meeting, thanks a lot")
        .date(DateTime::from_unix(1_700_000_000, 8 * 60).unwrap_or_else(|| unreachable!()))
        .entropy([0x5a; 16])
        .in_reply_to("<prev@example.com>")
        .header("X-Mailer", "mailwire")
        .text_body("你好，\n请看附件。\n")
        .html_body("<p>你好，<img src=\"cid:logo\"></p>")
        .inline("logo", Attachment::new("logo.png", logo))
        .attach(Attachment::new(
            "第三季度报告.pdf",
            b"%PDF-1.7\n...".to_vec(),
        ))
        .build()?;
    println!("{:?}", msg.envelope());
    println!("size: {:?}", msg.size());
    print!("{}", String::from_utf8_lossy(&msg.to_vec()));
    Ok(())
}
