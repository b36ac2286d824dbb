//! From a built message to the SMTP envelope: one typed conversion, and the
//! envelope as the core's own encoder writes it (for dry runs).

use crate::Error;
use mime_codec::OutgoingMessage;
use smtp_proto::{Body, Command, Envelope, MailParams, Mailbox, RcptParams, Recipient};

/// An address whose local part is ASCII keeps to ASCII: its domain as the
/// IDNA A-label (`bob@xn--bcher-kva.example`), which every server takes with
/// or without SMTPUTF8. A non-ASCII local part has no ASCII form and stays
/// as it is (the message then needs SMTPUTF8).
///
/// ```
/// assert_eq!(mailer::ascii_domain("bob@bücher.example").unwrap(), "bob@xn--bcher-kva.example");
/// assert_eq!(mailer::ascii_domain("用户@例子.测试").unwrap(), "用户@例子.测试");
/// assert!(mailer::mailbox("bob@exa mple.com").is_err());
/// ```
pub fn ascii_domain(addr: &str) -> Result<String, Error> {
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Ok(addr.to_owned());
    };
    if !local.is_ascii() || domain.is_ascii() {
        return Ok(addr.to_owned());
    }
    let ascii = idna::domain_to_ascii(domain).map_err(|_| Error::Address {
        address: addr.to_owned(),
        reason: "its domain is not a valid internationalized domain name".into(),
    })?;
    Ok(format!("{local}@{ascii}"))
}

/// One envelope address (ASCII local parts at A-label domains, UTF-8
/// otherwise).
pub fn mailbox(addr: &str) -> Result<Mailbox, Error> {
    let ascii = ascii_domain(addr)?;
    Mailbox::parse(&ascii)
        .or_else(|_| Mailbox::parse_utf8(&ascii))
        .map_err(|e| Error::Address {
            address: addr.to_owned(),
            reason: e.to_string(),
        })
}

/// The SMTP envelope of a built message: its reverse path and every
/// recipient (Bcc too), its exact SIZE when known, and `BODY=8BITMIME` when
/// a part is 8bit. SMTPUTF8 follows from the addresses.
///
/// ```
/// use mime_codec::{Mailbox, MessageBuilder};
/// let message = MessageBuilder::new()
///     .from(Mailbox::address_only("me@example.com")?)
///     .to(Mailbox::address_only("you@example.org")?)
///     .bcc(Mailbox::address_only("audit@example.com")?)
///     .text_body("hi")
///     .build()?;
/// let envelope = mailer::envelope(&message)?;
/// assert_eq!(envelope.recipients.len(), 2);
/// assert_eq!(envelope.size, message.size());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn envelope(message: &OutgoingMessage) -> Result<Envelope, Error> {
    let source = message.envelope();
    let mut envelope = Envelope::new(mailbox(&source.reverse_path)?.into());
    for rcpt in &source.recipients {
        envelope = envelope.with_recipient(Recipient::new(mailbox(rcpt)?));
    }
    if let Some(size) = message.size() {
        envelope = envelope.with_size(size);
    }
    if message.needs_8bitmime() {
        envelope = envelope.with_body(Body::EightBitMime);
    }
    Ok(envelope)
}

/// The MAIL and RCPT commands of `envelope` as the core's encoder writes
/// them (CRLF endings), with the parameters that do not depend on the
/// server: SIZE and BODY (SMTPUTF8 is added when an address needs it).
///
/// ```
/// use smtp_proto::{Envelope, Mailbox, Recipient};
/// let envelope = Envelope::new(Mailbox::parse("a@b.example").unwrap().into())
///     .with_recipient(Recipient::new(Mailbox::parse("c@d.example").unwrap()))
///     .with_size(1234);
/// assert_eq!(
///     String::from_utf8(mailer::envelope_commands(&envelope)).unwrap(),
///     "MAIL FROM:<a@b.example> SIZE=1234\r\nRCPT TO:<c@d.example>\r\n"
/// );
/// ```
pub fn envelope_commands(envelope: &Envelope) -> Vec<u8> {
    let utf8 = envelope.from.mailbox().is_some_and(|m| !m.is_ascii())
        || envelope
            .recipients
            .iter()
            .any(|r| r.path.mailbox().is_some_and(|m| !m.is_ascii()));
    let mut params = MailParams::default();
    params.size = envelope.size;
    params.body = match envelope.body {
        Body::SevenBit => None,
        other => Some(other),
    };
    params.smtputf8 = utf8;
    let mut out = Vec::new();
    Command::Mail {
        from: envelope.from.clone(),
        params,
    }
    .write_to(&mut out);
    for rcpt in &envelope.recipients {
        Command::Rcpt {
            to: rcpt.path.clone(),
            params: RcptParams::default(),
        }
        .write_to(&mut out);
    }
    out
}
