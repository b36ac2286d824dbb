//! The `Received:` field the server puts on top of each message, and the
//! quoting of client-chosen values in log lines.

use smtp_proto::Host;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The client's EHLO name as a `Received:` field may show it: letters,
/// digits, `-` and `.` (and `[`, `:`, `]` in an address literal) are kept,
/// anything else becomes `?`, so that no client can forge a clause.
pub(crate) fn sanitize_helo(host: Option<&Host>) -> String {
    let Some(host) = host else {
        return "unknown".to_owned();
    };
    let literal = matches!(host, Host::Literal(_));
    host.to_string()
        .chars()
        .map(|c| {
            let kept = c.is_ascii_alphanumeric()
                || matches!(c, '-' | '.')
                || (literal && matches!(c, '[' | ']' | ':'));
            if kept {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// `Received: from HELO ([IP]) by HOST (mailwire) with PROTO id ID for
/// <RCPT>; DATE` (the `for` clause only for a single recipient).
pub(crate) fn received_field(
    helo: &str,
    ip: IpAddr,
    hostname: &str,
    protocol: &str,
    queue_id: &str,
    user: Option<&str>,
) -> String {
    let date = mime_codec::DateTime::from_unix(now_secs(), 0)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let auth = if user.is_some() {
        " (authenticated)"
    } else {
        ""
    };
    format!(
        "Received: from {helo} ([{ip}]){auth}\r\n\tby {hostname} (mailwire) with {protocol} id {queue_id};\r\n\t{date}\r\n"
    )
}

pub(crate) fn now_secs() -> i64 {
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
        assert_eq!(sanitize_helo(Some(&host)), "[X:?by?trusted.example?]");
        assert_eq!(sanitize_helo(None), "unknown");
    }

    proptest! {
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
