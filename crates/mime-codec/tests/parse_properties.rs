//! Property tests for the parser's repairs: adjacent encoded words in stateful and UTF-16
//! charsets, base64 that stops at its padding, address lists with commas left out, and the
//! guarantees every parse keeps (no unwritable mailbox, defects and leaves on any input).

use base64::Engine as _;
use mime_codec::{parse_address_list, rfc2047, Address, Mailbox, Message};
use proptest::prelude::*;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Japanese text in what ISO-2022-JP can carry: kana, common kanji and ASCII.
fn japanese() -> impl Strategy<Value = String> {
    "[あいうえおかきくけこアイウエオテスト日本語会議明日a-z0-9 ]{1,20}"
}

fn address() -> impl Strategy<Value = String> {
    (
        "[a-z0-9][a-z0-9._+-]{0,12}",
        "[a-z0-9]{1,10}(\\.[a-z]{2,5}){1,2}",
    )
        .prop_map(|(l, d)| format!("{l}@{d}"))
        .prop_filter("no dot at the ends of the local part", |a| {
            !a.starts_with('.') && !a.contains(".@")
        })
}

proptest! {
    /// Text cut into pieces, each its own ISO-2022-JP encoded word (each switching back to
    /// ASCII at its end, as encoders do), reads back whole with no U+FFFD.
    #[test]
    fn iso_2022_jp_words_join_back(text in japanese(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4)) {
        let chars: Vec<char> = text.chars().collect();
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(chars.len() + 1)).collect();
        at.extend([0, chars.len()]);
        at.sort_unstable();
        at.dedup();
        let words: Vec<String> = at
            .windows(2)
            .map(|w| {
                let piece: String = chars[w[0]..w[1]].iter().collect();
                let (bytes, _, bad) = encoding_rs::ISO_2022_JP.encode(&piece);
                assert!(!bad);
                format!("=?ISO-2022-JP?B?{}?=", b64(&bytes))
            })
            .collect();
        prop_assert_eq!(rfc2047::decode(&words.join("\r\n ")).into_owned(), text);
    }

    /// UTF-16 words in either byte order, each with or without its own byte order mark, and
    /// cut anywhere on a code unit (so a surrogate pair may be split), read back whole.
    #[test]
    fn utf16_words_join_back(text in "\\PC{1,30}", cut in any::<prop::sample::Index>(), big in any::<bool>(), bom in any::<bool>()) {
        let units: Vec<u16> = text.encode_utf16().collect();
        let at = cut.index(units.len() + 1);
        let word = |units: &[u16]| {
            let mut bytes = Vec::new();
            if bom {
                bytes.extend(if big { [0xfe, 0xff] } else { [0xff, 0xfe] });
            }
            for u in units {
                bytes.extend(if big { u.to_be_bytes() } else { u.to_le_bytes() });
            }
            let label = if bom { "utf-16" } else if big { "utf-16be" } else { "utf-16le" };
            format!("=?{label}?B?{}?=", b64(&bytes))
        };
        let header = format!("{} {}", word(&units[..at]), word(&units[at..]));
        prop_assert_eq!(rfc2047::decode(&header).into_owned(), text);
    }

    /// Whatever follows the padding of a base64 body is never decoded, however it is split
    /// into lines; the data before it always is.
    #[test]
    fn base64_stops_at_its_padding(
        data in prop::collection::vec(any::<u8>(), 1..300),
        footer in "[ -~\\n]{0,200}",
        width in 4usize..100,
    ) {
        let mut data = data;
        if data.len() % 3 == 0 {
            // Make sure the encoding ends in padding, which is what marks the end.
            data.push(0x5a);
        }
        let enc = b64(&data);
        let mut body: Vec<u8> = enc
            .as_bytes()
            .chunks(width)
            .flat_map(|l| l.iter().copied().chain(*b"\r\n"))
            .collect();
        body.extend_from_slice(footer.as_bytes());
        prop_assert_eq!(mime_codec::base64::decode_lenient(&body), data);
    }

    /// Addresses written with the commas left out come back as the same addresses.
    #[test]
    fn missing_commas_are_recovered(addrs in prop::collection::vec(address(), 1..6), commas in prop::collection::vec(any::<bool>(), 6)) {
        let mut list = String::new();
        for (i, a) in addrs.iter().enumerate() {
            if i > 0 {
                list.push_str(if commas[i] { ", " } else { " " });
            }
            list.push_str(a);
        }
        let got: Vec<String> = parse_address_list(&list)
            .iter()
            .flat_map(Address::mailboxes)
            .map(|m| m.address().to_owned())
            .collect();
        prop_assert_eq!(got, addrs);
    }

    /// On any header value, every mailbox returned is one the builder accepts back.
    #[test]
    fn parsed_mailboxes_are_always_writable(s in "[ -~\\t\u{4e2d}\u{6587}]{0,120}") {
        for m in parse_address_list(&s).iter().flat_map(Address::mailboxes) {
            prop_assert!(Mailbox::address_only(m.address()).is_ok(), "{:?} from {:?}", m, s);
            prop_assert!(Mailbox::new(m.name().unwrap_or(""), m.address()).is_ok(), "{:?} from {:?}", m, s);
        }
    }

    /// Defects, leaves and every helper work on any input, and the leaves are exactly the
    /// parts without children when no message is nested.
    #[test]
    fn defects_and_leaves_on_any_input(data in prop::collection::vec(any::<u8>(), 0..3000)) {
        let m = Message::parse(&data);
        let _ = m.defects();
        let leaves = m.leaf_parts().count();
        prop_assert!(leaves >= 1);
        for p in m.leaf_parts() {
            prop_assert!(p.parts().is_empty());
            let _ = (p.defects(), p.content_type_declared(), p.transfer_encoding());
        }
    }

    /// The part structure does not depend on line endings: a message and its CRLF twin give
    /// the same leaves, file names and defects.
    #[test]
    fn line_endings_do_not_change_the_reading(
        names in prop::collection::vec("[a-z]{1,8}\\.(txt|pdf)", 1..4),
        missing_close in any::<bool>(),
    ) {
        let mut lf = String::from("Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n");
        for n in &names {
            lf.push_str(&format!("--b\nContent-Type: application/octet-stream; name=\"{n}\"\nContent-Transfer-Encoding: base64\n\nAAEC\n"));
        }
        if !missing_close {
            lf.push_str("--b--\n");
        }
        let crlf = lf.replace('\n', "\r\n");
        let (a, b) = (Message::parse(lf.as_bytes()), Message::parse(crlf.as_bytes()));
        let view = |m: &Message<'_>| {
            m.leaf_parts()
                .map(|p| (p.file_name().map(str::to_owned), p.decoded().into_owned()))
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(view(&a), view(&b));
        prop_assert_eq!(a.defects(), b.defects());
        prop_assert_eq!(a.leaf_parts().count(), names.len());
    }

    /// The blocks of a delivery-status body come back as field groups with the same fields,
    /// whatever the line endings.
    #[test]
    fn delivery_status_groups_keep_their_fields(
        groups in prop::collection::vec(prop::collection::vec(("[A-Z][a-z-]{0,10}", "[ -~]{0,20}"), 1..4), 1..5),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut raw = format!("Content-Type: message/delivery-status{nl}{nl}");
        let body: Vec<String> = groups
            .iter()
            .map(|g| g.iter().map(|(n, v)| format!("{n}: {v}{nl}")).collect::<String>())
            .collect();
        raw.push_str(&body.join(nl));
        let m = Message::parse(raw.as_bytes());
        let got: Vec<Vec<(String, String)>> = m
            .root()
            .status_groups()
            .iter()
            .map(|p| {
                p.headers()
                    .iter()
                    .map(|h| (h.name().to_owned(), h.unfolded().into_owned()))
                    .collect()
            })
            .collect();
        let want: Vec<Vec<(String, String)>> = groups
            .iter()
            .map(|g| g.iter().map(|(n, v)| (n.clone(), v.trim().to_owned())).collect())
            .collect();
        prop_assert_eq!(got, want);
    }
}
