//! The test message: built once with mime-codec, sent as the same bytes by
//! every client, shaped like `smtp-source -l SIZE` (80-octet lines).

use mime_codec::{DateTime, Mailbox, MessageBuilder};

/// The envelope sender every client uses.
pub(crate) const FROM: &str = "sender@example.com";
/// The envelope recipient every client uses.
pub(crate) const TO: &str = "rcpt@example.net";

/// A message whose body is about `payload` octets of 78-character lines
/// (80 with CRLF), with From, To, Subject, Date, Message-ID and the MIME
/// headers in front.
pub(crate) fn build(payload: usize) -> Result<Vec<u8>, String> {
    let mut body = String::with_capacity(payload + 80);
    let mut line = 0u64;
    while body.len() + 3 <= payload {
        line += 1;
        let width = (payload - body.len() - 2).min(78);
        let number = line.to_string();
        body.push_str(&number);
        for _ in number.len()..width {
            body.push('X');
        }
        body.push_str("\r\n");
    }
    let mailbox = |address: &str| {
        Mailbox::address_only(address).map_err(|e| format!("address {address:?}: {e}"))
    };
    let date = DateTime::from_unix(1_800_000_000, 0).ok_or("the fixed date is out of range")?;
    let built = MessageBuilder::new()
        .from(mailbox(FROM)?)
        .to(mailbox(TO)?)
        .subject("loopback throughput")
        .date(date)
        .entropy(b"transport-bench")
        .text_body(body)
        .build()
        .map_err(|e| format!("building the test message: {e}"))?;
    Ok(built.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_asked_size_in_crlf_lines() {
        for payload in [2_000, 100_000] {
            let bytes = build(payload).unwrap();
            let text = std::str::from_utf8(&bytes).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(head.contains("Subject: loopback throughput"));
            assert!(
                body.len() <= payload && body.len() + 3 > payload,
                "{}",
                body.len()
            );
            // Every line ends in CRLF and fits the 80-octet shape.
            assert!(body.ends_with("\r\n"));
            for line in body.split_terminator("\r\n") {
                assert!(!line.contains('\n') && line.len() <= 78, "{line:?}");
            }
        }
    }
}
