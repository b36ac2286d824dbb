//! The error type of the builder.

/// Why a message could not be built.
///
/// Every check happens in [`MessageBuilder::build`](crate::MessageBuilder::build), so a message that
/// builds cannot smuggle a header through a CR, LF or NUL in a value the caller gave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A header value, address, file name or identifier holds CR, LF or NUL.
    #[error("{field} contains CR, LF or NUL")]
    ForbiddenCharacter {
        /// The field that held the character, such as `Subject` or `attachment file name`.
        field: String,
    },
    /// A custom header name is empty or holds a character outside printable ASCII or a colon.
    #[error("invalid header name {0:?}")]
    InvalidHeaderName(String),
    /// A custom header would replace one the builder writes itself (From, Subject, Content-Type, ...).
    #[error("header {0:?} is written by the builder; use its setter instead")]
    ReservedHeader(String),
    /// An address is not of the form `local@domain`.
    #[error("invalid address {0:?}")]
    InvalidAddress(String),
    /// An attachment file name is longer than 255 bytes, the limit of common file systems.
    #[error("file name longer than 255 bytes: {0:?}")]
    FileNameTooLong(String),
    /// A content type is not of the form `type/subtype`.
    #[error("invalid content type {0:?}")]
    InvalidContentType(String),
    /// A Message-ID, In-Reply-To, References or Content-ID value is not a valid identifier.
    #[error("invalid message or content identifier {0:?}")]
    InvalidId(String),
    /// A part given as it is ([`RawPart`](crate::RawPart)) has a body that is not 7-bit text:
    /// a byte over 127 or NUL, a bare CR or LF, or a line over 998 octets. Names its content type.
    #[error("the {0} part is not 7-bit text with CRLF lines of at most 998 octets")]
    NotSevenBit(String),
    /// The message has no From address.
    #[error("the message has no From address")]
    MissingFrom,
    /// From holds several mailboxes but no Sender was given (RFC 5322 section 3.6.2).
    #[error("From holds several mailboxes, so a Sender is required")]
    MissingSender,
}

/// Returns an error when `value` holds CR, LF or NUL.
pub(crate) fn check_value(field: &str, value: &str) -> Result<(), BuildError> {
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(BuildError::ForbiddenCharacter {
            field: field.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_rejects_line_breaks_and_nul() {
        assert!(check_value("Subject", "hello").is_ok());
        for bad in ["a\rb", "a\nb", "a\0b", "x\r\nBcc: evil@example.com"] {
            assert_eq!(
                check_value("Subject", bad),
                Err(BuildError::ForbiddenCharacter {
                    field: "Subject".into()
                })
            );
        }
    }
}
