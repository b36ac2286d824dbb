//! From a built message to the SMTP envelope: one typed conversion, and the
//! envelope as the core's own encoder writes it (for dry runs).

use crate::Error;
use mime_codec::{EnvelopeAddress, EnvelopeDomain, OutgoingMessage};
use smtp_proto::{
    AddressLiteral, Body, Command, Domain, Envelope, GeneralLiteral, Host, MailParams, Mailbox,
    RcptParams, Recipient,
};

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

/// One envelope address from text (ASCII local parts at A-label domains,
/// UTF-8 otherwise): checked once by mime-codec, then converted by
/// [`envelope_mailbox`].
pub fn mailbox(addr: &str) -> Result<Mailbox, Error> {
    let checked = EnvelopeAddress::new(addr).map_err(|e| Error::Address {
        address: addr.to_owned(),
        reason: e.to_string(),
    })?;
    envelope_mailbox(&checked)
}

/// The core's mailbox for an address of a built message's envelope, from
/// the parts mime-codec checked (no text is split or parsed again as an
/// address). An ASCII local part at a non-ASCII domain goes to the
/// domain's A-label form, which every server takes with or without
/// SMTPUTF8; a domain without one (or a non-ASCII local part) stays UTF-8,
/// and the message then needs SMTPUTF8.
///
/// ```
/// use mime_codec::EnvelopeAddress;
/// let address = EnvelopeAddress::new("bob@bücher.example")?;
/// let mailbox = mailer::envelope_mailbox(&address)?;
/// assert_eq!(mailbox.to_string(), "bob@xn--bcher-kva.example");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn envelope_mailbox(address: &EnvelopeAddress) -> Result<Mailbox, Error> {
    let refused = |e: smtp_proto::ParseError| Error::Address {
        address: address.to_string(),
        reason: e.to_string(),
    };
    let local = address.local_part();
    let literal = match address.domain() {
        EnvelopeDomain::Name(domain) => return named(local, domain).map_err(refused),
        EnvelopeDomain::Ipv4(ip) => AddressLiteral::V4(ip),
        EnvelopeDomain::Ipv6(ip) => AddressLiteral::V6(ip),
        EnvelopeDomain::General { tag, content } => {
            AddressLiteral::General(GeneralLiteral::new(tag, content).map_err(refused)?)
        }
    };
    Mailbox::new(local, Host::Literal(literal)).map_err(refused)
}

/// A mailbox at a domain name: its A-label form when the local part is
/// ASCII and the domain has one, else as it is.
fn named(local: &str, domain: &str) -> Result<Mailbox, smtp_proto::ParseError> {
    if domain.is_ascii() {
        return Mailbox::new(local, Host::Domain(Domain::new(domain)?));
    }
    if local.is_ascii() {
        let a_label = idna::domain_to_ascii(domain)
            .ok()
            .and_then(|ascii| Domain::new(&ascii).ok())
            .and_then(|d| Mailbox::new(local, Host::Domain(d)).ok());
        if let Some(mailbox) = a_label {
            return Ok(mailbox);
        }
    }
    Mailbox::new(local, Host::Domain(Domain::new_utf8(domain)?))
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
    let mut envelope = Envelope::new(envelope_mailbox(&source.reverse_path)?.into());
    for rcpt in &source.recipients {
        envelope = envelope.with_recipient(Recipient::new(envelope_mailbox(rcpt)?));
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
