//! The bounce and delay-warning builder on arbitrary senders, originals and
//! replies: a report exists whenever there is a sender and a failed
//! recipient, and is always 7-bit, CRLF, lines within 998 octets, and
//! mime-codec reads it as a `multipart/report` of three parts whose
//! delivery-status part names every recipient once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_spool::bounce::{self, FailedRecipient, Report};
use mail_spool::Timestamp;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0xFF);
    let sender = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let original = parts.next().unwrap_or_default().to_vec();
    let queue_id = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let failed: Vec<FailedRecipient> = parts
        .take(50)
        .enumerate()
        .map(|(n, p)| {
            let text = String::from_utf8_lossy(p);
            let (address, diagnostic) = text.split_once('\t').unwrap_or((&text, ""));
            FailedRecipient {
                address: address.to_owned(),
                diagnostic: diagnostic.to_owned(),
                expired: n % 2 == 1,
            }
        })
        .collect();
    let report = Report {
        reporting_mta: "mx.fuzz.example",
        sender: &sender,
        original: &original,
        arrival: Timestamp::from_secs(1_800_000_000),
        queue_id: &queue_id,
    };
    let now = Timestamp::from_secs(1_800_003_600);
    let built = [
        bounce::build(&report, &failed, now),
        bounce::delay_warning(&report, &failed, Timestamp::from_secs(1_800_432_000), now),
    ];
    // A report exists exactly when there is a sender and a recipient to report.
    for message in &built {
        assert_eq!(message.is_some(), !sender.is_empty() && !failed.is_empty());
    }
    for message in built.into_iter().flatten() {
        assert!(message.sender.is_empty(), "sent from <>");
        let body = &message.body;
        assert!(body.is_ascii(), "7-bit");
        let text = std::str::from_utf8(body).unwrap_or_default();
        assert!(text.ends_with("\r\n"));
        for line in text.split("\r\n") {
            assert!(!line.contains('\r') && !line.contains('\n'), "bare line ending");
            assert!(line.len() <= 998, "line of {} octets", line.len());
        }
        let parsed = mime_codec::Message::parse(body);
        let ct = parsed.root().content_type();
        assert_eq!((ct.media_type.as_str(), ct.subtype.as_str()), ("multipart", "report"));
        let parts = parsed.root().parts();
        assert_eq!(parts.len(), 3, "{text}");
        let status = String::from_utf8_lossy(parts[1].raw_body());
        assert_eq!(status.matches("\r\nFinal-Recipient: rfc822; ").count(), failed.len(), "{status}");
    }
});
