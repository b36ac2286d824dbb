//! A failed handshake in words: every rustls and webpki error kind gets a
//! sentence a person understands (never a `Debug` string), and a
//! [`TlsFailure`] kind for a program choosing what to suggest.

use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError};
use std::io;

/// What kind of handshake failure, for a program choosing what to suggest
/// (the words are in [`Error::Tls`](crate::Error::Tls)'s `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The certificate was not issued by an authority this side trusts.
    Untrusted,
    /// The certificate is not valid for the name connected to.
    NameMismatch,
    /// The certificate has expired or is not valid yet (or the clock is
    /// wrong).
    Expired,
    /// Another problem with the certificate: revoked, malformed, for
    /// another purpose, a broken chain.
    Certificate,
    /// The peer did not speak TLS: it answered in plaintext, most likely
    /// the wrong security mode for the port.
    NotTls,
    /// The two sides share no TLS version or cipher suite (a peer that
    /// speaks only TLS 1.0/1.1, or old ciphers).
    Incompatible,
    /// The peer ended the handshake with an alert.
    Refused,
    /// The handshake did not finish: the connection closed or timed out.
    Interrupted,
    /// Anything else.
    Other,
}

impl TlsFailure {
    /// The peer's certificate was refused, for whatever reason.
    pub fn is_certificate(self) -> bool {
        matches!(
            self,
            TlsFailure::Untrusted
                | TlsFailure::NameMismatch
                | TlsFailure::Expired
                | TlsFailure::Certificate
        )
    }
}

fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn describe_io(e: &io::Error) -> (TlsFailure, String) {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => (
            TlsFailure::Interrupted,
            "the handshake did not finish in time".into(),
        ),
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => (
            TlsFailure::Interrupted,
            "the other end closed the connection during the handshake".into(),
        ),
        _ => (TlsFailure::Other, format!("the handshake failed: {e}")),
    }
}

/// A STARTTLS asked for on a connection already encrypted: the failure a
/// driver reports without touching the stream.
pub fn tls_already_in_use() -> (TlsFailure, String) {
    (
        TlsFailure::Other,
        "TLS is already in use on this connection".into(),
    )
}

/// Why the client's handshake failed, in words: an untrusted, expired or
/// mismatched certificate, a plaintext server on an implicit-TLS
/// connection, no version in common, a timeout. `implicit`: TLS before any
/// SMTP (port 465 style).
pub fn describe_client_failure(
    e: &io::Error,
    name: &ServerName<'_>,
    implicit: bool,
) -> (TlsFailure, String) {
    let name = name.to_str();
    let Some(error) = rustls_error(e) else {
        return describe_io(e);
    };
    match error {
        rustls::Error::InvalidCertificate(cert) => certificate_words(cert, &name, "server"),
        rustls::Error::InvalidMessage(_) if implicit => (
            TlsFailure::NotTls,
            "the server answered in plaintext: is this a STARTTLS port (587/25)? try \
             `starttls`"
                .into(),
        ),
        rustls::Error::AlertReceived(alert) => alert_words(*alert, &name, "server"),
        other => rustls_words(other, "server"),
    }
}

/// Why the server's handshake failed: its kind, and in words.
pub fn describe_server_failure(e: &io::Error) -> (TlsFailure, String) {
    match rustls_error(e) {
        Some(rustls::Error::AlertReceived(alert)) => {
            let (kind, words) = alert_words(*alert, "", "client");
            let words = if kind.is_certificate() || kind == TlsFailure::Refused {
                format!("{words}; does it trust our certificate?")
            } else {
                words
            };
            (kind, words)
        }
        Some(rustls::Error::InvalidMessage(_)) => (
            TlsFailure::NotTls,
            "the client did not speak TLS (plaintext on an implicit-TLS port?)".into(),
        ),
        Some(rustls::Error::InvalidCertificate(cert)) => certificate_words(cert, "", "client"),
        Some(other) => rustls_words(other, "client"),
        None => describe_io(e),
    }
}

/// Every other rustls error, in words. `peer`: "server" or "client".
fn rustls_words(error: &rustls::Error, peer: &str) -> (TlsFailure, String) {
    use rustls::Error as E;
    let (kind, words): (TlsFailure, String) = match error {
        E::InvalidMessage(_) => (
            TlsFailure::NotTls,
            format!("the {peer} sent bytes that are not TLS where the handshake should be"),
        ),
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => (
            TlsFailure::Other,
            format!("the {peer} sent a TLS message out of order (a faulty TLS implementation)"),
        ),
        E::PeerIncompatible(_) => (
            TlsFailure::Incompatible,
            format!(
                "the {peer}'s TLS cannot work with ours: it offers only versions, ciphers or \
                 extensions this side refuses (TLS 1.0/1.1, or an old server)"
            ),
        ),
        E::PeerMisbehaved(_) => (
            TlsFailure::Other,
            format!(
                "the {peer} broke the TLS protocol during the handshake (a faulty TLS \
                 implementation, or a middlebox interfering)"
            ),
        ),
        E::NoCertificatesPresented => (
            TlsFailure::Certificate,
            format!("the {peer} sent no certificate"),
        ),
        E::UnsupportedNameType => (
            TlsFailure::Other,
            "the server's name cannot be used to check a certificate".into(),
        ),
        E::DecryptError | E::EncryptError => (
            TlsFailure::Other,
            "the handshake failed a cryptographic check (a faulty peer, or something on the \
             path altering the connection)"
                .into(),
        ),
        E::InvalidEncryptedClientHello(_) => (
            TlsFailure::Other,
            "encrypted client hello (ECH) failed".into(),
        ),
        E::InvalidCertificate(cert) => return certificate_words(cert, "", peer),
        E::AlertReceived(alert) => return alert_words(*alert, "", peer),
        E::InvalidCertRevocationList(_) => (
            TlsFailure::Certificate,
            "a certificate revocation list could not be used".into(),
        ),
        E::General(text) => (TlsFailure::Other, format!("TLS failed: {text}")),
        E::FailedToGetCurrentTime => (
            TlsFailure::Other,
            "this machine's clock could not be read, so no certificate can be checked".into(),
        ),
        E::FailedToGetRandomBytes => (
            TlsFailure::Other,
            "this machine gave no random numbers for the handshake".into(),
        ),
        E::HandshakeNotComplete => (
            TlsFailure::Interrupted,
            "the handshake did not complete".into(),
        ),
        E::PeerSentOversizedRecord => (
            TlsFailure::Other,
            format!("the {peer} sent a TLS record larger than the protocol allows"),
        ),
        E::NoApplicationProtocol => (
            TlsFailure::Incompatible,
            format!("the {peer} shares no application protocol (ALPN) with this side"),
        ),
        E::BadMaxFragmentSize => (
            TlsFailure::Other,
            "the TLS fragment size setting is invalid".into(),
        ),
        E::InconsistentKeys(_) => (
            TlsFailure::Other,
            "the certificate and the private key do not belong together".into(),
        ),
        E::Other(other) => (TlsFailure::Other, format!("TLS failed: {other}")),
        // rustls may add kinds; its Display is worded for people.
        other => (TlsFailure::Other, format!("TLS failed: {other}")),
    };
    (kind, words)
}

/// An alert from the peer, in words. `name`: the name asked for (client
/// side), `peer`: "server" or "client".
fn alert_words(alert: AlertDescription, name: &str, peer: &str) -> (TlsFailure, String) {
    use AlertDescription as A;
    let (kind, why): (TlsFailure, String) = match alert {
        A::HandshakeFailure | A::InsufficientSecurity | A::ProtocolVersion => (
            TlsFailure::Incompatible,
            "it shares no TLS version or cipher suite with this side (this side speaks TLS 1.2 \
             and 1.3 with current ciphers; the other may speak only TLS 1.0/1.1)"
                .into(),
        ),
        A::UnrecognisedName => (
            TlsFailure::NameMismatch,
            format!(
                "it does not serve the name {name} that was asked for: connect by the name its \
                 certificate carries"
            ),
        ),
        A::BadCertificate
        | A::UnsupportedCertificate
        | A::CertificateUnknown
        | A::CertificateRequired
        | A::NoCertificate => (
            TlsFailure::Refused,
            "it refused a certificate: it may want a client certificate, which this side does \
             not send, or it did not trust ours"
                .into(),
        ),
        A::UnknownCA => (
            TlsFailure::Refused,
            "it does not trust the authority that issued the other side's certificate".into(),
        ),
        A::CertificateExpired => (
            TlsFailure::Refused,
            "it found the other side's certificate expired".into(),
        ),
        A::CertificateRevoked => (
            TlsFailure::Refused,
            "it found the other side's certificate revoked".into(),
        ),
        A::AccessDenied => (TlsFailure::Refused, "it denied access".into()),
        A::DecodeError | A::IllegalParameter | A::UnexpectedMessage | A::DecryptError => (
            TlsFailure::Refused,
            "it could not understand our handshake (a faulty TLS implementation on one side, \
             or a middlebox interfering)"
                .into(),
        ),
        A::InternalError => (
            TlsFailure::Refused,
            "it had an internal error; try again later".into(),
        ),
        A::UserCanceled | A::CloseNotify => {
            (TlsFailure::Interrupted, "it cancelled the handshake".into())
        }
        A::NoApplicationProtocol => (
            TlsFailure::Incompatible,
            "it shares no application protocol (ALPN) with this side".into(),
        ),
        A::MissingExtension | A::UnsupportedExtension => (
            TlsFailure::Incompatible,
            "it wants a TLS extension this side does not offer (or the reverse)".into(),
        ),
        A::Unknown(code) => (
            TlsFailure::Refused,
            format!("it sent alert number {code}, which has no name in TLS"),
        ),
        other => (
            TlsFailure::Refused,
            format!("it sent the alert \"{}\"", spaced(&format!("{other:?}"))),
        ),
    };
    (kind, format!("the {peer} refused the handshake: {why}"))
}

/// `BadRecordMac` as "bad record mac": an alert's name as words.
fn spaced(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Why a certificate was refused, in words. `peer`: whose certificate.
pub(crate) fn certificate_words(
    cert: &CertificateError,
    name: &str,
    peer: &str,
) -> (TlsFailure, String) {
    use CertificateError as C;
    let whose = format!("the {peer}'s certificate");
    match cert {
        C::UnknownIssuer => (
            TlsFailure::Untrusted,
            format!(
                "{whose} is not trusted: it was not issued by a known certificate authority \
                 (a private CA, or a self-signed certificate)"
            ),
        ),
        C::NotValidForName => (
            TlsFailure::NameMismatch,
            format!("{whose} is not valid for the name {name} (name mismatch)"),
        ),
        C::NotValidForNameContext { presented, .. } => {
            let names: Vec<&str> = presented.iter().filter_map(|p| presented_name(p)).collect();
            (
                TlsFailure::NameMismatch,
                format!(
                    "{whose} is not valid for the name {name} (name mismatch): it names {}",
                    if names.is_empty() {
                        "no usable name".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
            )
        }
        C::Expired | C::ExpiredContext { .. } => (
            TlsFailure::Expired,
            format!("{whose} has expired (or this machine's clock is wrong)"),
        ),
        C::NotValidYet | C::NotValidYetContext { .. } => (
            TlsFailure::Expired,
            format!("{whose} is not valid yet (check this machine's clock)"),
        ),
        C::Revoked => (
            TlsFailure::Certificate,
            format!("{whose} was revoked by its issuer"),
        ),
        C::BadEncoding => (
            TlsFailure::Certificate,
            format!("{whose} is malformed (not valid DER)"),
        ),
        C::BadSignature => (
            TlsFailure::Untrusted,
            format!("{whose} carries a signature that does not verify (forged or corrupted)"),
        ),
        C::UnhandledCriticalExtension => (
            TlsFailure::Certificate,
            format!("{whose} has a critical extension this side does not understand"),
        ),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => (
            TlsFailure::Certificate,
            format!("{whose} is not meant for TLS servers (its extended key usage)"),
        ),
        C::UnknownRevocationStatus
        | C::ExpiredRevocationList
        | C::ExpiredRevocationListContext { .. } => (
            TlsFailure::Certificate,
            format!("whether {whose} was revoked could not be told"),
        ),
        C::InvalidOcspResponse => (
            TlsFailure::Certificate,
            format!("the revocation status (OCSP) sent with {whose} is invalid"),
        ),
        C::ApplicationVerificationFailure => (
            TlsFailure::Certificate,
            format!("{whose} was refused by this application's own check"),
        ),
        C::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(e) => webpki_words(e, &whose),
            None => (
                TlsFailure::Certificate,
                format!("{whose} was refused: {other}"),
            ),
        },
        // Every remaining kind is about signature algorithms.
        _ => (
            TlsFailure::Incompatible,
            format!("{whose} is signed with an algorithm this side does not accept"),
        ),
    }
}

/// A name as webpki lists it (`DnsName("mx.example")`,
/// `IpAddress(192.0.2.1)`) as the name alone; names that are neither
/// (a directory name, an unsupported kind) are left out.
fn presented_name(listed: &str) -> Option<&str> {
    let inner = |prefix: &str| {
        listed
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
            .map(|n| n.trim_matches('"'))
    };
    inner("DnsName(")
        .or_else(|| inner("IpAddress("))
        .or_else(|| inner("UniformResourceIdentifier("))
}

/// webpki's own kinds that rustls passes on as `Other`.
fn webpki_words(e: &webpki::Error, whose: &str) -> (TlsFailure, String) {
    use webpki::Error as W;
    match e {
        W::CaUsedAsEndEntity => (
            TlsFailure::Untrusted,
            format!(
                "{whose} is a CA certificate (CA:TRUE, as `openssl req -x509` makes by default) \
                 presented as the server's own, which is accepted only when it is exactly a \
                 certificate given to trust"
            ),
        ),
        W::EndEntityUsedAsCa => (
            TlsFailure::Certificate,
            format!("{whose} chain uses a server certificate as an issuing authority"),
        ),
        W::CertDistrusted => (
            TlsFailure::Untrusted,
            format!("{whose} chains to an authority that is distrusted"),
        ),
        W::PathLenConstraintViolated
        | W::MaximumPathDepthExceeded
        | W::MaximumPathBuildCallsExceeded
        | W::MaximumSignatureChecksExceeded => (
            TlsFailure::Certificate,
            format!("{whose} chain is too long or breaks its authorities' path limits"),
        ),
        W::NameConstraintViolation
        | W::MaximumNameConstraintComparisonsExceeded
        | W::InvalidNetworkMaskConstraint
        | W::MalformedNameConstraint => (
            TlsFailure::Certificate,
            format!("{whose} names fall outside what its issuing authority may certify"),
        ),
        W::UnsupportedCertVersion => (
            TlsFailure::Certificate,
            format!("{whose} is not an X.509 version 3 certificate"),
        ),
        W::MalformedDnsIdentifier | W::MalformedExtensions | W::ExtensionValueInvalid => (
            TlsFailure::Certificate,
            format!("{whose} has a malformed name or extension"),
        ),
        W::EmptyEkuExtension | W::RequiredEkuNotFoundContext(_) => (
            TlsFailure::Certificate,
            format!("{whose} is not meant for TLS servers (its extended key usage)"),
        ),
        W::InvalidSerialNumber => (
            TlsFailure::Certificate,
            format!("{whose} has an invalid serial number"),
        ),
        _ => (
            TlsFailure::Certificate,
            format!("{whose} breaks a rule of certificate path validation (RFC 5280)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::OtherError;
    use std::sync::Arc;

    fn client(error: rustls::Error) -> (TlsFailure, String) {
        let e = io::Error::new(io::ErrorKind::InvalidData, error);
        let name = ServerName::try_from("mx.example").unwrap();
        describe_client_failure(&e, &name, false)
    }

    /// A Debug string looks like `CamelCase(` or `{ field:`; words do not.
    fn assert_words(text: &str) {
        assert!(!text.contains("Other("), "{text}");
        assert!(!text.contains('{'), "{text}");
        let camel = text.split_whitespace().any(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            w.len() > 3
                && w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && w.chars().skip(1).any(|c| c.is_ascii_uppercase())
                && w.chars().any(|c| c.is_ascii_lowercase())
        });
        assert!(!camel, "{text}");
    }

    #[test]
    fn a_ca_certificate_used_as_the_servers_own_is_explained_in_words() {
        let other = OtherError(Arc::new(webpki::Error::CaUsedAsEndEntity));
        let (kind, text) = client(rustls::Error::InvalidCertificate(CertificateError::Other(
            other,
        )));
        assert_eq!(kind, TlsFailure::Untrusted);
        assert!(text.contains("CA:TRUE"), "{text}");
        assert!(!text.contains("CaUsedAsEndEntity"), "{text}");
    }

    #[test]
    fn every_certificate_and_alert_kind_has_words_not_debug() {
        use CertificateError as C;
        let certs = [
            C::BadEncoding,
            C::Expired,
            C::NotValidYet,
            C::Revoked,
            C::UnhandledCriticalExtension,
            C::UnknownIssuer,
            C::UnknownRevocationStatus,
            C::ExpiredRevocationList,
            C::BadSignature,
            C::NotValidForName,
            C::InvalidPurpose,
            C::InvalidOcspResponse,
            C::ApplicationVerificationFailure,
        ];
        for cert in certs {
            let (kind, text) = client(rustls::Error::InvalidCertificate(cert));
            assert!(kind.is_certificate(), "{text}");
            assert_words(&text);
        }
        for w in [
            webpki::Error::EndEntityUsedAsCa,
            webpki::Error::PathLenConstraintViolated,
            webpki::Error::NameConstraintViolation,
            webpki::Error::UnsupportedCertVersion,
            webpki::Error::MalformedExtensions,
            webpki::Error::CertDistrusted,
            webpki::Error::UnsupportedCriticalExtension,
        ] {
            let other = C::Other(OtherError(Arc::new(w)));
            let (_, text) = client(rustls::Error::InvalidCertificate(other));
            assert_words(&text);
        }
        for code in 0..=255u8 {
            let (_, text) = client(rustls::Error::AlertReceived(AlertDescription::from(code)));
            assert_words(&text);
            assert!(
                text.starts_with("the server refused the handshake: "),
                "{text}"
            );
        }
        let (kind, text) = client(rustls::Error::AlertReceived(
            AlertDescription::ProtocolVersion,
        ));
        assert_eq!(kind, TlsFailure::Incompatible);
        assert!(text.contains("TLS 1.0/1.1"), "{text}");
        for error in [
            rustls::Error::NoCertificatesPresented,
            rustls::Error::DecryptError,
            rustls::Error::HandshakeNotComplete,
            rustls::Error::PeerSentOversizedRecord,
            rustls::Error::FailedToGetCurrentTime,
            rustls::Error::PeerIncompatible(rustls::PeerIncompatible::NoCipherSuitesInCommon),
            rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::TooManyEmptyFragments),
        ] {
            let (_, text) = client(error);
            assert_words(&text);
        }
    }

    #[test]
    fn the_names_a_certificate_carries_are_listed_plainly() {
        let (kind, text) = client(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("mx.example").unwrap(),
                presented: vec![
                    r#"DnsName("other.example")"#.into(),
                    "IpAddress(192.0.2.1)".into(),
                    "DirectoryName".into(),
                ],
            },
        ));
        assert_eq!(kind, TlsFailure::NameMismatch);
        assert!(
            text.ends_with("it names other.example, 192.0.2.1"),
            "{text}"
        );
    }

    #[test]
    fn plaintext_where_tls_should_start_is_not_tls() {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        let name = ServerName::try_from("mx.example").unwrap();
        assert_eq!(
            describe_client_failure(&e, &name, true).0,
            TlsFailure::NotTls
        );
        let closed = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(
            describe_client_failure(&closed, &name, false).0,
            TlsFailure::Interrupted
        );
    }
}
