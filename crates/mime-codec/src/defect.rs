//! What the parser read past: the defects of a message, like Python's `email` `defects`.

/// Something wrong with a message that the parser worked around. Parsing never fails; these say
/// where the reading is a repair rather than what the sender wrote.
///
/// ```
/// use mime_codec::{Defect, Message};
/// let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
///             Content-Transfer-Encoding: x-custom\r\n\r\nbody\r\n";
/// let m = Message::parse(raw);
/// assert_eq!(
///     m.defects(),
///     [Defect::MissingClosingBoundary, Defect::UnknownTransferEncoding("x-custom".into())]
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Defect {
    /// Header lines were skipped: a continuation line before the first field, or an mbox
    /// `From ` line after it (one at the very start is expected and not counted). The count
    /// says how many.
    SkippedHeaderLines(usize),
    /// A line that is neither a field nor a continuation ended the header section without the
    /// empty line; the body starts at that line (as Python's `email` reads it).
    MissingHeaderBodySeparator,
    /// A part had more header fields than [`ParseLimits::max_headers`](crate::ParseLimits); the
    /// count says how many were dropped.
    TooManyHeaders(usize),
    /// The Content-Type value is not `type/subtype`. The part is read with the default type
    /// (`text/plain`, or `message/rfc822` in a digest) and the value's parameters are kept, so
    /// a file name survives.
    InvalidContentType(String),
    /// A multipart has no `boundary` parameter; it is read as a single leaf.
    MissingBoundaryParameter,
    /// A multipart's boundary never appears in its body; the whole body is its preamble.
    BoundaryNotFound,
    /// The closing delimiter `--boundary--` is missing; the last part runs to the end.
    MissingClosingBoundary,
    /// The Content-Transfer-Encoding is none of 7bit, 8bit, binary, quoted-printable or base64;
    /// the body is left as it arrived. The value is kept, lowercase.
    UnknownTransferEncoding(String),
    /// A base64 body held characters outside the base64 alphabet; they were skipped.
    Base64InvalidCharacters,
    /// Text followed the padding that ends a base64 body (a mailing-list footer, say); it was
    /// ignored, as RFC 2045 section 6.8 allows.
    Base64DataAfterPadding,
    /// A base64 body ended one character past a whole number of bytes; it was dropped.
    Base64StrayCharacter,
    /// The Date has a numeric zone of other than four digits (the value is the zone as
    /// written); it was read as [`DateTime::parse`](crate::DateTime::parse) describes.
    BadDateZone(String),
    /// The Date could not be read at all.
    UnreadableDate,
    /// An address list was missing a comma between addresses (`a@x.example b@y.example`) or
    /// held an address that is not `local@domain`; the named field was read by recovering the
    /// separate addresses and dropping what is not one.
    InvalidAddressList(String),
    /// Multiparts or messages nested deeper than [`ParseLimits::max_depth`](crate::ParseLimits);
    /// the deepest is left as an unparsed leaf.
    NestingTooDeep,
    /// The message has more parts than [`ParseLimits::max_parts`](crate::ParseLimits); the last
    /// part kept holds the rest of its multipart's body.
    TooManyParts,
}
