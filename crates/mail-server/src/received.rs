//! The `Received:` field a server puts on top of each message, with the
//! client's EHLO name made safe to show: one piece for the mail server and
//! for `mailwire serve`'s sink.

use smtp_proto::Host;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The client's EHLO name as a `Received:` field may show it (`unknown`
/// when it gave none): see [`sanitize_name`].
pub fn sanitize_helo(host: Option<&Host>, smtputf8: bool) -> String {
    match host {
        Some(host) => sanitize_name(
            &host.to_string(),
            matches!(host, Host::Literal(_)),
            smtputf8,
        ),
        None => "unknown".to_owned(),
    }
}

/// Each character of `name` kept or replaced by `?`: letters, digits, `-`
/// and `.` (and, for an address `literal`, `[`, `:` and `]`) are kept;
/// anything else, a parenthesis, a bidirectional override (U+202E), a
/// control (U+0085), becomes `?`, so that no client can forge a clause.
/// Non-ASCII letters are kept only for an `smtputf8` message, whose header
/// may carry UTF-8.
pub fn sanitize_name(name: &str, literal: bool, smtputf8: bool) -> String {
    name.chars()
        .map(|c| {
            let letter = if smtputf8 {
                c.is_alphanumeric()
            } else {
                c.is_ascii_alphanumeric()
            };
            let kept =
                letter || matches!(c, '-' | '.') || (literal && matches!(c, '[' | ']' | ':'));
            if kept {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// What a `Received:` field says: `from HELO ([IP]) [(authenticated)] by
/// BY (mailwire) with PROTOCOL [id ID]; DATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// The client's EHLO name, already sanitized ([`sanitize_helo`]).
    pub helo: &'a str,
    /// The client's address.
    pub ip: IpAddr,
    /// The receiving server's name.
    pub by: &'a str,
    /// The session's protocol name (`ESMTPS`, `ESMTPSA`, ... RFC 3848).
    pub protocol: &'a str,
    /// The server's id for the message.
    pub id: Option<&'a str>,
    /// The client authenticated.
    pub authenticated: bool,
}

impl Received<'_> {
    /// The field, folded and CRLF-terminated, dated `now` (seconds since
    /// the Unix epoch).
    pub fn field(&self, now: i64) -> String {
        let date = mime_codec::DateTime::from_unix(now, 0)
            .map(|d| d.to_string())
            .unwrap_or_default();
        let auth = if self.authenticated {
            " (authenticated)"
        } else {
            ""
        };
        let id = self.id.map(|id| format!(" id {id}")).unwrap_or_default();
        format!(
            "Received: from {} ([{}]){auth}\r\n\tby {} (mailwire) with {}{id};\r\n\t{date}\r\n",
            self.helo, self.ip, self.by, self.protocol
        )
    }
}

/// `Received: from HELO ([IP]) by HOST (mailwire) with PROTO id ID; DATE`,
/// dated now.
pub(crate) fn received_field(
    helo: &str,
    ip: IpAddr,
    hostname: &str,
    protocol: &str,
    queue_id: &str,
    user: Option<&str>,
) -> String {
    Received {
        helo,
        ip,
        by: hostname,
        protocol,
        id: Some(queue_id),
        authenticated: user.is_some(),
    }
    .field(now_secs())
}

/// Seconds since the Unix epoch, from the system clock.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A header field value from a filter: CR and LF (which would start a new
/// field) become spaces; a name must be a valid field name or the field is
/// dropped.
pub(crate) fn header_field(name: &str, value: &str) -> Option<String> {
    let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !valid_name {
        return None;
    }
    let value: String = value
        .chars()
        .map(|c| if matches!(c, '\r' | '\n') { ' ' } else { c })
        .collect();
    Some(format!("{name}: {value}\r\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_hostile_ehlo_cannot_forge_a_clause() {
        let host = Host::parse("[X:)by(trusted.example;]").unwrap();
        assert_eq!(
            sanitize_helo(Some(&host), false),
            "[X:?by?trusted.example?]"
        );
        assert_eq!(sanitize_helo(None, false), "unknown");
        let v6 = Host::parse("[IPv6:2001:db8::1]").unwrap();
        assert_eq!(sanitize_helo(Some(&v6), false), "[IPv6:2001:db8::1]");
        let plain = Host::parse("client.example").unwrap();
        assert_eq!(sanitize_helo(Some(&plain), false), "client.example");
    }

    #[test]
    fn the_field_with_and_without_id_and_authentication() {
        let mut r = Received {
            helo: "client.test",
            ip: [192, 0, 2, 1].into(),
            by: "mx.test",
            protocol: "ESMTPS",
            id: None,
            authenticated: false,
        };
        assert_eq!(
            r.field(0),
            "Received: from client.test ([192.0.2.1])\r\n\tby mx.test (mailwire) with ESMTPS;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        r.id = Some("Q1");
        r.authenticated = true;
        assert_eq!(
            r.field(0),
            "Received: from client.test ([192.0.2.1]) (authenticated)\r\n\tby mx.test (mailwire) with ESMTPS id Q1;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
    }

    proptest! {
        #[test]
        fn sanitized_names_keep_only_safe_characters_one_for_one(
            name in any::<String>(),
            literal in any::<bool>(),
            smtputf8 in any::<bool>(),
        ) {
            let clean = sanitize_name(&name, literal, smtputf8);
            prop_assert_eq!(clean.chars().count(), name.chars().count());
            for c in clean.chars() {
                let letter = if smtputf8 { c.is_alphanumeric() } else { c.is_ascii_alphanumeric() };
                prop_assert!(letter || "-.?".contains(c) || (literal && "[]:".contains(c)), "{:?}", c);
            }
        }

        #[test]
        fn filter_fields_never_start_another_field(name in ".{0,20}", value in ".{0,60}") {
            if let Some(field) = header_field(&name, &value) {
                let body = field.strip_suffix("\r\n").unwrap();
                prop_assert!(!body.contains('\r') && !body.contains('\n'));
                let prefix = format!("{}: ", name);
                prop_assert!(body.starts_with(&prefix));
            }
        }
    }
}
