//! The parsing bugs found in real-world messages (ISO-2022-JP words, base64 footers, odd date
//! zones, UTF-16 with a byte order mark, missing commas, obsolete Message-IDs, invalid content
//! types), each as the message that showed it, and the defects the parser reports for them.

use mime_codec::{Defect, Mailbox, Message, TransferEncoding};

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

#[test]
fn iso_2022_jp_subject_in_adjacent_words() {
    let raw = crlf(
        "Subject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\n =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\n\
         From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= =?ISO-2022-JP?B?GyRCQkBPOhsoQg==?= <taro@example.jp>\n\
         \n\
         body\n",
    );
    let m = Message::parse(&raw);
    assert_eq!(m.subject().as_deref(), Some("テストテスト"));
    assert_eq!(m.from()[0].mailboxes()[0].name(), Some("山田太郎"));
    assert!(m.defects().is_empty(), "{:?}", m.defects());
}

#[test]
fn base64_body_with_a_mailing_list_footer() {
    let raw = crlf(
        "Content-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: base64\n\
         \n\
         SGVsbG8sIGxpc3Qh\n\
         \n\
         _______________________________________________\n\
         Users mailing list\n\
         users@lists.example.org\n",
    );
    let m = Message::parse(&raw);
    // "Hello, list!" is 12 bytes, so its base64 has no padding: the footer's letters would be
    // read as more data unless the decoder knows where the data ends. Here it cannot (RFC 2045
    // gives no marker without padding), so the junk line is skipped and reported.
    assert!(m.defects().contains(&Defect::Base64InvalidCharacters));

    let raw = crlf(
        "Content-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: base64\n\
         \n\
         SGVsbG8sIGxpc3Qh\n\
         SGk=\n\
         \n\
         -- \n\
         To unsubscribe send mail to users-leave@lists.example.org\n",
    );
    let m = Message::parse(&raw);
    assert_eq!(m.text_body().unwrap().text, "Hello, list!Hi");
    assert_eq!(m.defects(), [Defect::Base64DataAfterPadding]);
}

#[test]
fn a_three_digit_zone_is_not_utc() {
    let raw = crlf("Date: Mon, 5 Dec 2022 09:15:00 -600\nSubject: x\n\nbody\n");
    let m = Message::parse(&raw);
    let d = m.date().unwrap();
    assert_eq!(d.offset_minutes(), -360);
    assert_eq!(d.to_unix(), 1_670_253_300);
    assert_eq!(m.defects(), [Defect::BadDateZone("-600".into())]);
    let m = Message::parse(b"Date: yesterday\r\n\r\n");
    assert_eq!(m.date(), None);
    assert_eq!(m.defects(), [Defect::UnreadableDate]);
}

#[test]
fn utf16_bodies_and_words_honour_the_byte_order_mark() {
    // "Grüße" as UTF-16BE with a byte order mark, base64-encoded, declared as plain utf-16.
    let raw = crlf(
        "Subject: =?utf-16?B?/v8ARwByAPwA3wBl?=\n\
         Content-Type: text/plain; charset=utf-16\n\
         Content-Transfer-Encoding: base64\n\
         \n\
         /v8ARwByAPwA3wBl\n",
    );
    let m = Message::parse(&raw);
    assert_eq!(m.subject().as_deref(), Some("Grüße"));
    let t = m.text_body().unwrap();
    assert_eq!(t.text, "Grüße");
    assert_eq!(t.charset, "UTF-16BE");
    // The same little-endian.
    let raw = crlf(
        "Content-Type: text/plain; charset=\"UTF-16\"\n\
         Content-Transfer-Encoding: base64\n\
         \n\
         //5HAHIA/ADfAGUA\n",
    );
    assert_eq!(Message::parse(&raw).text_body().unwrap().text, "Grüße");
}

#[test]
fn address_lists_with_a_missing_comma() {
    let raw = crlf(
        "From: Hotel Front Desk <frontdesk@a.example>\n\
         To: tim@a.example concierge@a.example\n\
         Cc: Name Surname name@b.example, \"Ann\" <ann@b.example> bob@b.example\n\
         \n\
         body\n",
    );
    let m = Message::parse(&raw);
    let to: Vec<_> = m.to().iter().flat_map(|a| a.mailboxes().to_vec()).collect();
    assert_eq!(
        to.iter().map(Mailbox::address).collect::<Vec<_>>(),
        ["tim@a.example", "concierge@a.example"]
    );
    let cc: Vec<_> = m.cc().iter().flat_map(|a| a.mailboxes().to_vec()).collect();
    let cc: Vec<_> = cc.iter().map(|m| (m.name(), m.address())).collect();
    assert_eq!(
        cc,
        [
            (Some("Name Surname"), "name@b.example"),
            (Some("Ann"), "ann@b.example"),
            (None, "bob@b.example")
        ]
    );
    for mailbox in to.iter().chain(m.from()[0].mailboxes()) {
        assert!(Mailbox::address_only(mailbox.address()).is_ok());
    }
    assert_eq!(
        m.defects(),
        [
            Defect::InvalidAddressList("To".into()),
            Defect::InvalidAddressList("Cc".into())
        ]
    );
}

#[test]
fn obsolete_message_ids_are_normalised() {
    let raw = crlf(
        "Message-ID: < 1234.5678 (queue id) @ mail.example.com >\n\
         In-Reply-To: (reply to) <a@b.example> (and) < c @d.example>\n\
         References: <x@y.example>\n <z(comment)@w.example>\n\
         \n",
    );
    let m = Message::parse(&raw);
    assert_eq!(
        m.message_id().as_deref(),
        Some("1234.5678@mail.example.com")
    );
    assert_eq!(m.in_reply_to(), ["a@b.example", "c@d.example"]);
    assert_eq!(m.references(), ["x@y.example", "z@w.example"]);
}

#[test]
fn an_invalid_media_type_keeps_its_file_name() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\
         \n\
         --b\n\
         Content-Type: text/plain\n\
         \n\
         see attached\n\
         --b\n\
         Content-Type: BINARY;name=\"report.xls\"\n\
         Content-Transfer-Encoding: base64\n\
         \n\
         AAEC\n\
         --b--\n",
    );
    let m = Message::parse(&raw);
    let att = m.attachments();
    assert_eq!(att.len(), 1);
    assert_eq!(att[0].file_name(), Some("report.xls"));
    assert_eq!(att[0].decoded().as_ref(), [0, 1, 2]);
    assert_eq!(att[0].content_type().essence(), "text/plain");
    assert!(!att[0].content_type_declared());
    assert!(m.root().content_type_declared());
    assert!(m.root().parts()[0].content_type_declared());
    assert_eq!(
        m.defects(),
        [Defect::InvalidContentType(
            "BINARY;name=\"report.xls\"".into()
        )]
    );
    // No header at all: defaulted, and no defect.
    let m = Message::parse(b"Subject: x\r\n\r\nhi");
    assert!(!m.root().content_type_declared());
    assert!(m.defects().is_empty());
}

#[test]
fn unknown_transfer_encoding_is_reported_as_such() {
    let raw = crlf(
        "Content-Type: application/octet-stream; name=a.bin\n\
         Content-Transfer-Encoding: x-uuencode\n\
         \n\
         begin 644 a.bin\n\
         #86)C\n\
         `\n\
         end\n",
    );
    let m = Message::parse(&raw);
    assert_eq!(m.root().transfer_encoding(), TransferEncoding::Unknown);
    // Left as it arrived, never guessed.
    assert_eq!(m.root().decoded().as_ref(), m.root().raw_body());
    assert_eq!(
        m.defects(),
        [Defect::UnknownTransferEncoding("x-uuencode".into())]
    );
}

#[test]
fn every_leaf_part_including_nested_messages() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=outer\n\
         \n\
         --outer\n\
         Content-Type: multipart/alternative; boundary=alt\n\
         \n\
         --alt\n\
         \n\
         plain\n\
         --alt\n\
         Content-Type: text/html\n\
         \n\
         <p>html</p>\n\
         --alt--\n\
         --outer\n\
         Content-Type: message/rfc822\n\
         \n\
         Subject: forwarded\n\
         Content-Type: multipart/mixed; boundary=inner\n\
         \n\
         --inner\n\
         \n\
         inner text\n\
         --inner\n\
         Content-Type: image/png; name=dot.png\n\
         Content-Transfer-Encoding: base64\n\
         \n\
         iVBORw==\n\
         --inner--\n\
         --outer--\n",
    );
    let m = Message::parse(&raw);
    let leaves: Vec<String> = m.leaf_parts().map(|p| p.content_type().essence()).collect();
    assert_eq!(
        leaves,
        ["text/plain", "text/html", "text/plain", "image/png"]
    );
    let names: Vec<_> = m.leaf_parts().filter_map(|p| p.file_name()).collect();
    assert_eq!(names, ["dot.png"]);
    assert!(m.defects().is_empty(), "{:?}", m.defects());
}

#[test]
fn structural_defects_are_listed_in_tree_order() {
    let raw = crlf(
        "From sender@example.com Mon Dec  5 09:00:00 2022\n\
         \tcontinuation before any field\n\
         Subject: broken\n\
         Content-Type: multipart/mixed; boundary=b\n\
         \n\
         --b\n\
         Content-Type: text/plain\n\
         no empty line after the fields\n\
         --b\n\
         Content-Type: multipart/alternative\n\
         \n\
         no boundary parameter\n\
         --b\n\
         Content-Type: multipart/related; boundary=never\n\
         \n\
         the boundary never appears\n\
         --b\n\
         Content-Transfer-Encoding: base64\n\
         \n\
         aGk*\n",
    );
    let m = Message::parse(&raw);
    assert_eq!(m.subject().as_deref(), Some("broken"));
    assert_eq!(
        m.defects(),
        [
            Defect::SkippedHeaderLines(1),
            Defect::MissingClosingBoundary,
            Defect::MissingHeaderBodySeparator,
            Defect::MissingBoundaryParameter,
            Defect::BoundaryNotFound,
            Defect::Base64InvalidCharacters,
        ]
    );
    assert_eq!(
        m.text_body().unwrap().text,
        "no empty line after the fields"
    );
    assert_eq!(m.root().parts()[3].decoded().as_ref(), b"hi");
}

#[test]
fn limits_are_reported_as_defects() {
    let deep = "Content-Type: message/rfc822\r\n\r\n".repeat(40) + "\r\nbody";
    let m = Message::parse(deep.as_bytes());
    assert_eq!(m.defects(), [Defect::NestingTooDeep]);
    let many = "Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_owned()
        + &"--b\r\n\r\nx\r\n".repeat(20)
        + "--b--\r\n";
    let limits = mime_codec::ParseLimits {
        max_depth: 8,
        max_headers: 2,
        max_parts: 5,
    };
    let m = Message::parse_with(many.as_bytes(), limits);
    assert_eq!(m.defects(), [Defect::TooManyParts]);
    let m = Message::parse_with(b"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits);
    assert_eq!(m.defects(), [Defect::TooManyHeaders(2)]);
}

#[test]
fn delivery_status_blocks_are_read_as_field_groups() {
    let raw = crlf(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n\
         Subject: Undelivered Mail Returned to Sender\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\
         \n\
         --r\n\
         Content-Type: text/plain\n\
         \n\
         Your message could not be delivered.\n\
         --r\n\
         Content-Type: message/delivery-status\n\
         \n\
         Reporting-MTA: dns; mx.example.org\n\
         Arrival-Date: Mon, 5 Dec 2022 09:15:00 +0100\n\
         \n\
         Final-Recipient: rfc822; gone@example.net\n\
         Action: failed\n\
         Status: 5.1.1\n\
         \n\
         Final-Recipient: rfc822; full@example.net\n\
         Action: delayed\n\
         Status: 4.2.2\n\
         \n\
         --r--\n",
    );
    let m = Message::parse(&raw);
    let dsn = &m.root().parts()[1];
    let groups = dsn.status_groups();
    assert_eq!(groups.len(), 3);
    assert_eq!(
        groups[0].header("Reporting-MTA").as_deref(),
        Some("dns; mx.example.org")
    );
    let statuses: Vec<_> = groups[1..]
        .iter()
        .map(|g| g.header("Status").unwrap().into_owned())
        .collect();
    assert_eq!(statuses, ["5.1.1", "4.2.2"]);
    // Still one part to the helpers: the report is an attachment, the text is the body.
    assert_eq!(m.attachments().len(), 1);
    assert_eq!(
        m.attachments()[0].content_type().essence(),
        "message/delivery-status"
    );
    assert_eq!(
        m.text_body().unwrap().text,
        "Your message could not be delivered."
    );
    assert_eq!(m.leaf_parts().count(), 2);
    assert!(m.defects().is_empty(), "{:?}", m.defects());
}
