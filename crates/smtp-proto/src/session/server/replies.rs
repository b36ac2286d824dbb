//! The replies the server session writes itself.

use crate::types::{EnhancedStatus, Reply, ReplyCode};

pub(crate) fn reply(code: u16, status: (u8, u16, u16), text: &str) -> Reply {
    Reply::new_unchecked(
        ReplyCode::new_unchecked(code),
        Some(EnhancedStatus::new_unchecked(status.0, status.1, status.2)),
        vec![text.to_owned()],
    )
}

pub(crate) fn vrfy_default() -> Reply {
    reply(
        252,
        (2, 5, 0),
        "Cannot VRFY user, but will accept message and attempt delivery",
    )
}

pub(crate) fn greeting(hostname: &str, banner: &str) -> Reply {
    Reply::new_unchecked(
        ReplyCode::SERVICE_READY,
        None,
        vec![format!("{hostname} {banner}")],
    )
}

/// The refusal of a connection whose application gave a positive reply to
/// refuse it with.
pub(crate) fn refused() -> Reply {
    reply(554, (5, 3, 2), "No SMTP service here")
}

pub(crate) fn helo_ok(hostname: &str) -> Reply {
    Reply::new_unchecked(ReplyCode::OK, None, vec![hostname.to_owned()])
}

pub(crate) fn ok(status: (u8, u16, u16), text: &str) -> Reply {
    reply(250, status, text)
}

pub(crate) fn bad_sequence(text: &str) -> Reply {
    reply(503, (5, 5, 1), text)
}

pub(crate) fn closing(hostname: &str) -> Reply {
    reply(221, (2, 0, 0), &format!("{hostname} closing connection"))
}

pub(crate) fn timeout(hostname: &str) -> Reply {
    reply(
        421,
        (4, 4, 2),
        &format!("{hostname} idle timeout exceeded, closing"),
    )
}

pub(crate) fn command_timeout(hostname: &str) -> Reply {
    reply(
        421,
        (4, 4, 2),
        &format!("{hostname} command not completed in time, closing"),
    )
}

pub(crate) fn body_too_slow(hostname: &str) -> Reply {
    reply(
        421,
        (4, 4, 2),
        &format!("{hostname} message data arriving too slowly, closing"),
    )
}

pub(crate) fn lifetime_exceeded(hostname: &str) -> Reply {
    reply(
        421,
        (4, 4, 2),
        &format!("{hostname} connection time limit exceeded, closing"),
    )
}

pub(crate) fn too_many_auth_failures(hostname: &str) -> Reply {
    reply(
        421,
        (4, 7, 0),
        &format!("{hostname} too many failed authentication attempts, closing"),
    )
}

pub(crate) fn discard_limit(hostname: &str) -> Reply {
    reply(
        421,
        (4, 7, 0),
        &format!("{hostname} refused data too long to skip, closing"),
    )
}

pub(crate) fn too_many_errors(hostname: &str) -> Reply {
    reply(
        421,
        (4, 7, 0),
        &format!("{hostname} too many errors, closing"),
    )
}

pub(crate) fn shutting_down(hostname: &str) -> Reply {
    reply(421, (4, 3, 2), &format!("{hostname} service shutting down"))
}

pub(crate) fn sync_error() -> Reply {
    reply(
        554,
        (5, 5, 0),
        "Synchronization error: commands sent before their replies",
    )
}

pub(crate) fn starttls_violation() -> Reply {
    reply(
        554,
        (5, 5, 0),
        "Synchronization error: data sent behind STARTTLS",
    )
}

pub(crate) fn input_overflow(hostname: &str) -> Reply {
    reply(
        421,
        (4, 7, 0),
        &format!("{hostname} too much pipelined input"),
    )
}

pub(crate) fn message_too_big() -> Reply {
    reply(
        552,
        (5, 3, 4),
        "Message size exceeds fixed maximum message size",
    )
}

pub(crate) fn too_many_recipients() -> Reply {
    reply(452, (4, 5, 3), "Too many recipients")
}

pub(crate) fn tls_required() -> Reply {
    reply(530, (5, 7, 0), "Must issue a STARTTLS command first")
}

pub(crate) fn auth_required() -> Reply {
    reply(530, (5, 7, 0), "Authentication required")
}

pub(crate) fn encryption_required() -> Reply {
    reply(
        538,
        (5, 7, 11),
        "Encryption required for requested authentication mechanism",
    )
}

pub(crate) fn ready_for_tls() -> Reply {
    reply(220, (2, 0, 0), "Ready to start TLS")
}

pub(crate) fn start_mail_input() -> Reply {
    Reply::new_unchecked(
        ReplyCode::START_MAIL_INPUT,
        None,
        vec!["Start mail input; end with <CRLF>.<CRLF>".to_owned()],
    )
}

pub(crate) fn no_valid_recipients() -> Reply {
    reply(554, (5, 5, 1), "No valid recipients")
}

pub(crate) fn auth_ok() -> Reply {
    reply(235, (2, 7, 0), "Authentication successful")
}

pub(crate) fn challenge(base64: &str) -> Reply {
    Reply::new_unchecked(ReplyCode::AUTH_CHALLENGE, None, vec![base64.to_owned()])
}

pub(crate) fn help() -> Reply {
    Reply::new_unchecked(
        ReplyCode::new_unchecked(214),
        Some(EnhancedStatus::new_unchecked(2, 0, 0)),
        vec![
            "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT STARTTLS AUTH"
                .to_owned(),
        ],
    )
}
