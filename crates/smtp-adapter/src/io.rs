//! How a driver reads the kinds of `io::Error` a socket gives.

use std::io;

/// Nothing arrived in time (a read timeout, or nothing yet on a
/// non-blocking socket).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The peer closed or reset the connection: the session's end of stream,
/// which it knows how to read in its phase, rather than a socket failure.
pub fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_sorted() {
        assert!(is_timeout(&io::ErrorKind::TimedOut.into()));
        assert!(is_timeout(&io::ErrorKind::WouldBlock.into()));
        assert!(!is_timeout(&io::ErrorKind::ConnectionReset.into()));
        assert!(is_peer_gone(&io::ErrorKind::ConnectionReset.into()));
        assert!(is_peer_gone(&io::ErrorKind::UnexpectedEof.into()));
        assert!(!is_peer_gone(&io::ErrorKind::PermissionDenied.into()));
    }
}
