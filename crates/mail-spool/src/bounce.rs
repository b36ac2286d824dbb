//! Bounces: RFC 3464 delivery status notifications (`multipart/report;
//! report-type=delivery-status`) to the envelope sender of a message that
//! failed for some recipients, with the original headers attached
//! (`text/rfc822-headers`).
//!
//! The report is laid out by mime-codec's `MessageBuilder`: a
//! `multipart/report` of the explanation (its text body) and two parts
//! given as they are (`RawPart`), which this module writes 7-bit with CRLF
//! lines under 998 octets; the builder checks that and picks a boundary
//! none of them holds. Everything written is 7-bit ASCII.

use crate::spool::NewMessage;
use crate::time::Timestamp;
use mime_codec::{Mailbox, MessageBuilder, RawPart};

/// The most of the original header block returned.
const MAX_HEADERS: usize = 64 * 1024;

/// One recipient that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    /// The address.
    pub address: String,
    /// The last reply or failure in words (`550 5.1.1 No such user`).
    pub diagnostic: String,
    /// True when it failed because it was too old, not refused.
    pub expired: bool,
}

/// What a bounce is about.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// This host's name (`Reporting-MTA`, the bounce's From domain).
    pub reporting_mta: &'a str,
    /// The original envelope sender, who gets the bounce.
    pub sender: &'a str,
    /// The original message.
    pub original: &'a [u8],
    /// When the original was queued.
    pub arrival: Timestamp,
    /// The queue id of the original, for people.
    pub queue_id: &'a str,
}

/// The bounce to send, or `None` when the sender is `<>` (a bounce is never
/// bounced: RFC 5321 §4.5.5) or nothing failed.
pub fn build(
    report: &Report<'_>,
    failed: &[FailedRecipient],
    now: Timestamp,
) -> Option<NewMessage> {
    notice(report, failed, Kind::Failed, now)
}

/// A delay warning (RFC 3464 `Action: delayed`): the message has waited
/// long and is still being retried until `will_retry_until`; the sender
/// need not send it again. `None` for `<>` or no recipients. Each
/// recipient's `diagnostic` is its last transient reply.
pub fn delay_warning(
    report: &Report<'_>,
    delayed: &[FailedRecipient],
    will_retry_until: Timestamp,
    now: Timestamp,
) -> Option<NewMessage> {
    notice(report, delayed, Kind::Delayed { will_retry_until }, now)
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Failed,
    Delayed { will_retry_until: Timestamp },
}

fn notice(
    report: &Report<'_>,
    failed: &[FailedRecipient],
    kind: Kind,
    now: Timestamp,
) -> Option<NewMessage> {
    if report.sender.is_empty() || failed.is_empty() {
        return None;
    }
    let mta = ascii(report.reporting_mta);
    // The queue id goes into a Message-ID and text: letters, digits and
    // `.-_` only, whatever the caller passed.
    let queue_id: String = report
        .queue_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(64)
        .collect();

    // The human-readable part.
    let mut text = String::with_capacity(512);
    match kind {
        Kind::Failed => text.push_str(&format!(
            "Your message (queue id {}) could not be delivered to {} recipient(s):\r\n\r\n",
            queue_id,
            failed.len()
        )),
        Kind::Delayed { will_retry_until } => text.push_str(&format!(
            "Your message (queue id {}) has not yet been delivered to {} recipient(s).\r\n\
             It is still being retried until {}; you need not send it again.\r\n\r\n",
            queue_id,
            failed.len(),
            rfc5322(will_retry_until)
        )),
    }
    for f in failed {
        let why = match kind {
            Kind::Delayed { .. } => "still trying, last reply",
            Kind::Failed if f.expired => "gave up after retrying",
            Kind::Failed => "refused",
        };
        text.push_str(&format!(
            "  <{}>: {why}: {}\r\n",
            address_text(&f.address),
            wrap(&ascii(&f.diagnostic))
        ));
    }

    // The machine-readable part (RFC 3464 section 2).
    let date = rfc5322(now);
    let mut status = String::with_capacity(512);
    status.push_str(&format!("Reporting-MTA: dns; {mta}\r\n"));
    status.push_str(&format!("Arrival-Date: {}\r\n", rfc5322(report.arrival)));
    for f in failed {
        status.push_str("\r\n");
        status.push_str(&format!(
            "Final-Recipient: rfc822; {}\r\n",
            address_text(&f.address)
        ));
        match kind {
            Kind::Failed => {
                status.push_str("Action: failed\r\n");
                status.push_str(&format!("Status: {}\r\n", status_of(f)));
            }
            Kind::Delayed { .. } => {
                status.push_str("Action: delayed\r\n");
                status.push_str(&format!("Status: {}\r\n", delayed_status(f)));
            }
        }
        let diagnostic_type = if f
            .diagnostic
            .get(..3)
            .is_some_and(|c| c.bytes().all(|b| b.is_ascii_digit()))
        {
            "smtp"
        } else {
            "x-mailwire"
        };
        status.push_str(&format!(
            "Diagnostic-Code: {diagnostic_type}; {}\r\n",
            wrap(&ascii(&f.diagnostic))
        ));
        status.push_str(&format!("Last-Attempt-Date: {date}\r\n"));
        if let Kind::Delayed { will_retry_until } = kind {
            status.push_str(&format!(
                "Will-Retry-Until: {}\r\n",
                rfc5322(will_retry_until)
            ));
        }
    }

    // The returned headers (RFC 6522 `text/rfc822-headers`), never the body.
    let mut headers = header_block(report.original);
    if !headers.ends_with("\r\n") {
        headers.push_str("\r\n");
    }

    // A host name that is not a usable domain still gets a bounce: from
    // MAILER-DAEMON@localhost, and with no To header for a sender that is
    // not an address a header can hold (the envelope still carries it).
    // (The builder also takes each address as an SMTP envelope address, a
    // stricter grammar than a header's: both must hold.)
    let usable = |m: Result<Mailbox, _>| m.ok().filter(|m: &Mailbox| m.envelope_address().is_ok());
    let from = usable(Mailbox::new(
        "Mail Delivery System",
        format!("MAILER-DAEMON@{mta}"),
    ))
    .or_else(|| {
        usable(Mailbox::new(
            "Mail Delivery System",
            "MAILER-DAEMON@localhost",
        ))
    });
    let mut builder = MessageBuilder::new()
        .subject(match kind {
            Kind::Failed => "Undelivered Mail Returned to Sender",
            Kind::Delayed { .. } => "Delayed Mail (still being retried)",
        })
        .header("Auto-Submitted", "auto-replied")
        .multipart("report", &[("report-type", "delivery-status")])
        .text_body(text)
        .part(RawPart::new("message/delivery-status", status))
        .part(RawPart::new("text/rfc822-headers", headers));
    if let Some(from) = from {
        builder = builder.from(from);
    }
    if let Some(to) = usable(Mailbox::address_only(ascii(report.sender))) {
        builder = builder.to(to);
    }
    if let Some(d) = mime_codec::DateTime::from_unix(now.secs(), 0) {
        builder = builder.date(d);
    }
    let domain = from_domain(&mta);
    let id = format!("dsn.{queue_id}.{}@{domain}", now.0);
    let body = match builder.message_id(id).build() {
        Ok(message) => message.to_vec(),
        Err(e) => {
            // Every piece above is made valid first; this names a bug.
            tracing::error!(error = %e, queue_id, "cannot build a delivery status notification");
            return None;
        }
    };
    Some(NewMessage {
        sender: String::new(),
        recipients: vec![report.sender.to_owned()],
        body,
        dedup_key: None,
    })
}

/// The domain for the report's Message-ID: the host name's letters,
/// digits, dots and hyphens, `localhost` when none is left.
fn from_domain(mta: &str) -> String {
    let domain: String = mta
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .take(200)
        .collect();
    let domain = domain.trim_matches('.');
    if domain.is_empty() {
        "localhost".into()
    } else {
        domain.to_owned()
    }
}

/// An address as written in the report: 7-bit, and cut so its line stays
/// under the 998-octet limit (an SMTP address is at most 256 octets).
fn address_text(address: &str) -> String {
    let mut text = ascii(address);
    text.truncate(900);
    text
}

/// The RFC 3463 status: the reply's enhanced status when it has one, else
/// one from its code; 4.4.7 for a message too old to keep trying.
fn status_of(f: &FailedRecipient) -> String {
    if f.expired {
        return "4.4.7".into();
    }
    let words: Vec<&str> = f.diagnostic.split_whitespace().take(2).collect();
    if let Some(enhanced) = words.get(1).filter(|w| is_enhanced(w)) {
        return (*enhanced).to_owned();
    }
    match words.first().and_then(|c| c.chars().next()) {
        Some('5') => "5.0.0".into(),
        Some('4') => "4.0.0".into(),
        _ => "5.0.0".into(),
    }
}

/// The status of a recipient still being retried: its reply's enhanced
/// status when that is a 4.x.x one, else 4.0.0.
fn delayed_status(f: &FailedRecipient) -> String {
    f.diagnostic
        .split_whitespace()
        .nth(1)
        .filter(|w| is_enhanced(w) && w.starts_with('4'))
        .map_or_else(|| "4.0.0".to_owned(), str::to_owned)
}

fn is_enhanced(w: &str) -> bool {
    let parts: Vec<&str> = w.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The original's header block (up to the blank line), CRLF, bounded.
fn header_block(original: &[u8]) -> String {
    let end = original
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(original.len());
    let block = &original[..end.min(MAX_HEADERS)];
    let text = String::from_utf8_lossy(block);
    // Lines first (bare LF counts), then each made 7-bit and cut under
    // the 998-octet line limit; a partial last line cut by the bound goes.
    let mut lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    if end > MAX_HEADERS {
        lines.pop();
    }
    let mut out = String::new();
    for line in lines.into_iter().filter(|l| !l.is_empty()) {
        let line = ascii(line);
        out.push_str(line.get(..990).unwrap_or(&line));
        out.push_str("\r\n");
    }
    out
}

/// 7-bit text: anything else becomes `?`, control characters a space.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' '..='~' => c,
            '\r' | '\n' | '\t' => ' ',
            _ => '?',
        })
        .collect()
}

/// Folds long diagnostic text so no line passes 998 octets.
fn wrap(s: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in s.split(' ') {
        if line > 0 && line + word.len() > 900 {
            out.push_str("\r\n ");
            line = 1;
        } else if !out.is_empty() {
            out.push(' ');
            line += 1;
        }
        let word = word.get(..900).unwrap_or(word);
        out.push_str(word);
        line += word.len();
    }
    out
}

fn rfc5322(t: Timestamp) -> String {
    mime_codec::DateTime::from_unix(t.secs(), 0).map_or_else(|| t.to_string(), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn report(original: &[u8]) -> Report<'_> {
        Report {
            reporting_mta: "mx.sender.example",
            sender: "app@sender.example",
            original,
            arrival: Timestamp::from_secs(1_796_532_321),
            queue_id: "00000000002A",
        }
    }

    #[test]
    fn a_bounce_is_an_rfc_3464_report_with_the_original_headers() {
        let original = b"From: app@sender.example\r\nSubject: Hello\r\nMessage-ID: <1@x>\r\n\r\nsecret body\r\n";
        let failed = [
            FailedRecipient {
                address: "nobody@dest.example".into(),
                diagnostic: "550 5.1.1 No such user".into(),
                expired: false,
            },
            FailedRecipient {
                address: "slow@dest.example".into(),
                diagnostic: "451 try later".into(),
                expired: true,
            },
        ];
        let bounce = build(
            &report(original),
            &failed,
            Timestamp::from_secs(1_796_540_000),
        )
        .unwrap();
        assert_eq!(bounce.sender, "");
        assert_eq!(bounce.recipients, ["app@sender.example"]);
        let text = String::from_utf8(bounce.body.clone()).unwrap();
        assert!(
            !text.contains("secret body"),
            "only the headers are returned"
        );
        let parsed = mime_codec::Message::parse(&bounce.body);
        let ct = parsed.root().content_type();
        assert_eq!(
            (ct.media_type.as_str(), ct.subtype.as_str()),
            ("multipart", "report")
        );
        assert!(ct
            .params
            .iter()
            .any(|(k, v)| k == "report-type" && v == "delivery-status"));
        let parts = parsed.root().parts();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].content_type().subtype, "delivery-status");
        let status = String::from_utf8_lossy(parts[1].raw_body()).into_owned();
        assert!(status.contains("Reporting-MTA: dns; mx.sender.example\r\n"));
        assert!(status.contains(
            "Final-Recipient: rfc822; nobody@dest.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        ));
        assert!(status.contains("Diagnostic-Code: smtp; 550 5.1.1 No such user\r\n"));
        assert!(status.contains(
            "Final-Recipient: rfc822; slow@dest.example\r\nAction: failed\r\nStatus: 4.4.7\r\n"
        ));
        assert_eq!(parts[2].content_type().subtype, "rfc822-headers", "{text}");
        assert!(String::from_utf8_lossy(parts[2].raw_body()).contains("Subject: Hello\r\n"));
        assert_eq!(
            parsed.header("Auto-Submitted").as_deref(),
            Some("auto-replied")
        );
    }

    #[test]
    fn a_delay_warning_says_delayed_and_until_when() {
        let original = b"From: app@sender.example\r\nSubject: Hello\r\n\r\nbody\r\n";
        let delayed = [
            FailedRecipient {
                address: "slow@dest.example".into(),
                diagnostic: "451 4.7.1 Greylisted, try later".into(),
                expired: false,
            },
            FailedRecipient {
                address: "down@dest.example".into(),
                diagnostic: "connection refused".into(),
                expired: false,
            },
        ];
        let until = Timestamp::from_secs(1_796_532_321 + 5 * 86_400);
        let warning = delay_warning(
            &report(original),
            &delayed,
            until,
            Timestamp::from_secs(1_796_540_000),
        )
        .unwrap();
        assert_eq!(warning.sender, "", "a warning is sent from <>");
        let parsed = mime_codec::Message::parse(&warning.body);
        assert_eq!(
            parsed.header("Subject").as_deref(),
            Some("Delayed Mail (still being retried)")
        );
        let parts = parsed.root().parts();
        assert_eq!(parts.len(), 3);
        let status = String::from_utf8_lossy(parts[1].raw_body()).into_owned();
        assert!(status.contains(
            "Final-Recipient: rfc822; slow@dest.example\r\nAction: delayed\r\nStatus: 4.7.1\r\n"
        ));
        assert!(status.contains(
            "Final-Recipient: rfc822; down@dest.example\r\nAction: delayed\r\nStatus: 4.0.0\r\n"
        ));
        assert!(!status.contains("Action: failed"));
        let until_text = format!("Will-Retry-Until: {}\r\n", rfc5322(until));
        assert_eq!(status.matches(&until_text).count(), 2, "{status}");
        let text = String::from_utf8_lossy(parts[0].raw_body()).into_owned();
        assert!(text.contains("you need not send it again"));
        assert!(delay_warning(
            &Report {
                sender: "",
                ..report(original)
            },
            &delayed,
            until,
            Timestamp::from_secs(1_796_540_000)
        )
        .is_none());
    }

    #[test]
    fn a_bounce_is_never_bounced() {
        let failed = [FailedRecipient {
            address: "a@b.example".into(),
            diagnostic: "550 no".into(),
            expired: false,
        }];
        let mut r = report(b"Subject: x\r\n\r\n");
        r.sender = "";
        assert!(build(&r, &failed, Timestamp(0)).is_none());
        assert!(build(&report(b""), &[], Timestamp(0)).is_none());
    }

    #[test]
    fn the_report_is_laid_out_by_mime_codec() {
        let failed = [FailedRecipient {
            address: "nobody@dest.example".into(),
            diagnostic: "550 5.1.1 No such user".into(),
            expired: false,
        }];
        let original = b"Subject: Hi\r\n\r\nbody\r\n";
        let bounce = build(
            &report(original),
            &failed,
            Timestamp::from_secs(1_796_540_000),
        )
        .unwrap();
        let text = String::from_utf8(bounce.body).unwrap();
        for line in [
            "From: Mail Delivery System <MAILER-DAEMON@mx.sender.example>\r\n",
            "To: <app@sender.example>\r\n",
            "Subject: Undelivered Mail Returned to Sender\r\n",
            "Message-ID: <dsn.00000000002A.1796540000000@mx.sender.example>\r\n",
            "Auto-Submitted: auto-replied\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/report; report-type=delivery-status;\r\n boundary=",
            "Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: 7bit\r\n\r\nReporting-MTA: dns; mx.sender.example\r\n",
            "Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSubject: Hi\r\n",
            "  <nobody@dest.example>: refused: 550 5.1.1 No such user\r\n",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
        // A host name and a sender no header can hold still give a report.
        let odd = Report {
            reporting_mta: "not a host name!",
            sender: "not an address",
            ..report(original)
        };
        let bounce = build(&odd, &failed, Timestamp::from_secs(1_796_540_000)).unwrap();
        let parsed = mime_codec::Message::parse(&bounce.body);
        assert_eq!(bounce.recipients, ["not an address"]);
        assert_eq!(
            parsed.header("From").as_deref(),
            Some("Mail Delivery System <MAILER-DAEMON@localhost>")
        );
        assert!(parsed.header("To").is_none());
        let status = String::from_utf8_lossy(parsed.root().parts()[1].raw_body()).into_owned();
        assert!(status.starts_with("Reporting-MTA: dns; not a host name!\r\n"));
        // A header would take this address, SMTP would not: no To either.
        let dotted = Report {
            sender: ".dot@sender.example",
            ..report(original)
        };
        let bounce = build(&dotted, &failed, Timestamp::from_secs(1_796_540_000)).unwrap();
        assert!(mime_codec::Message::parse(&bounce.body)
            .header("To")
            .is_none());
    }

    proptest! {
        /// Whatever the sender, the original and the replies hold, the
        /// bounce and the delay warning exist, are 7-bit, have CRLF line
        /// ends only, no line over 998 octets, and parse as a three-part
        /// `multipart/report` naming each recipient once.
        #[test]
        fn any_input_gives_a_well_formed_report(
            original in proptest::collection::vec(any::<u8>(), 0..3000),
            diagnostic in ".{0,2000}",
            address in prop_oneof!["[a-z0-9.]{1,20}@[a-z]{1,10}\\.example", ".{0,1200}"],
            sender in prop_oneof!["[a-z0-9.]{1,20}@[a-z]{1,10}\\.example", ".{1,300}"],
            expired in any::<bool>(),
        ) {
            let failed = [FailedRecipient { address, diagnostic, expired }];
            let r = Report { sender: &sender, ..report(&original) };
            let now = Timestamp(1_800_000_000_000);
            let built = [
                build(&r, &failed, now),
                delay_warning(&r, &failed, Timestamp(1_800_400_000_000), now),
            ];
            for bounce in built {
                let bounce = bounce.unwrap();
                prop_assert!(bounce.body.iter().all(|b| b.is_ascii()));
                // At most 998 octets before each CRLF (RFC 5322 section 2.1.1).
                for line in bounce.body.split(|b| *b == b'\n') {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    prop_assert!(line.len() <= 998, "a line of {} octets", line.len());
                }
                let text = String::from_utf8_lossy(&bounce.body);
                prop_assert!(!text.replace("\r\n", "").contains(['\r', '\n']));
                let parsed = mime_codec::Message::parse(&bounce.body);
                prop_assert!(parsed.root().content_type().is("multipart", "report"));
                let parts = parsed.root().parts();
                prop_assert_eq!(parts.len(), 3);
                let status = String::from_utf8_lossy(parts[1].raw_body()).into_owned();
                prop_assert_eq!(status.matches("\r\nFinal-Recipient: rfc822; ").count(), 1);
            }
        }
    }
}
