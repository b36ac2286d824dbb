//! What a filter is told about a message, and what it answers.

use std::net::IpAddr;

/// The envelope and session facts of one message, as the server saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// The SMTP client's address.
    pub client_ip: IpAddr,
    /// The name the client gave in HELO/EHLO.
    pub helo: String,
    /// The reverse path (empty for the null sender `<>`).
    pub mail_from: String,
    /// The accepted recipients.
    pub recipients: Vec<String>,
    /// The authenticated user, if the client authenticated.
    pub authenticated: Option<String>,
    /// The server's queue id of the message (for logs on both sides).
    pub queue_id: String,
    /// The message's size in bytes, as stored.
    pub size: u64,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Take it, adding these header fields (name, value) in front.
    Accept {
        /// Header fields to add, in order.
        add_headers: Vec<(String, String)>,
    },
    /// Refuse it with this reply.
    Reject {
        /// The reply code (`554`, `550`, `552`).
        code: u16,
        /// The enhanced status code (`5.7.1` is `(5, 7, 1)`).
        status: (u8, u16, u16),
        /// The reply text (one line, printable ASCII).
        text: String,
    },
    /// Take it (the client gets a 250) but store it aside, not in the inbox.
    Quarantine {
        /// Why, for the log and the quarantine's header.
        reason: String,
        /// Header fields to add, in order.
        add_headers: Vec<(String, String)>,
    },
    /// Refuse it for now (`451 4.7.1`); the client will retry.
    TempFail {
        /// The reply text (one line, printable ASCII).
        text: String,
    },
}

impl Verdict {
    /// Accept without adding anything.
    pub fn accept() -> Verdict {
        Verdict::Accept {
            add_headers: Vec::new(),
        }
    }

    /// Reject with `554 5.7.1` and `text`.
    pub fn reject(text: impl AsRef<str>) -> Verdict {
        Verdict::Reject {
            code: 554,
            status: (5, 7, 1),
            text: sanitize_text(text.as_ref()),
        }
    }

    /// Fail temporarily (`451 4.7.1`) with `text`.
    pub fn tempfail(text: impl AsRef<str>) -> Verdict {
        Verdict::TempFail {
            text: sanitize_text(text.as_ref()),
        }
    }

    /// The verdict's name for metrics and logs: `accept`, `reject`,
    /// `quarantine` or `tempfail`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Accept { .. } => "accept",
            Verdict::Reject { .. } => "reject",
            Verdict::Quarantine { .. } => "quarantine",
            Verdict::TempFail { .. } => "tempfail",
        }
    }

    /// Whether the message is refused (rejected, or deferred for now).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Verdict::Reject { .. } | Verdict::TempFail { .. })
    }
}

/// The longest reply or header text a filter passes on.
pub(crate) const MAX_TEXT: usize = 200;

/// Makes `text` safe for an SMTP reply line or a header value: printable
/// ASCII only (anything else, CR and LF included, becomes a space), runs of
/// spaces folded, trimmed, at most 200 characters.
///
/// ```
/// assert_eq!(mail_filter::sanitize_text("bad\r\n250 ok\u{7}"), "bad 250 ok");
/// ```
pub fn sanitize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT));
    let mut space = false;
    for c in text.chars() {
        if out.len() >= MAX_TEXT {
            break;
        }
        if c.is_ascii_graphic() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        } else {
            space = true;
        }
    }
    out.truncate(MAX_TEXT);
    out
}

/// A header field name is safe when it is printable ASCII without `:` or
/// space (RFC 5322 ftext).
pub(crate) fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 76
        && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_line_breaks_and_bounds_length() {
        assert_eq!(sanitize_text("  a\r\nb\tc  "), "a b c");
        assert_eq!(sanitize_text(&"x".repeat(1000)).len(), MAX_TEXT);
        assert_eq!(sanitize_text("é ok"), "ok");
    }

    #[test]
    fn header_names() {
        assert!(valid_header_name("X-Spam-Score"));
        assert!(!valid_header_name("X Spam"));
        assert!(!valid_header_name("X:Spam"));
        assert!(!valid_header_name(""));
    }
}
