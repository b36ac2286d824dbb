//! A built message: its envelope, size, SMTP requirements, and its bytes as a stream of chunks.

use crate::base64::{encoded_len, Base64Encoder, LINE_INPUT};
use crate::envelope_address::EnvelopeAddress;

/// About how many output bytes each chunk holds while streaming a base64 body.
const CHUNK_INPUT: usize = LINE_INPUT * 1024;

/// A source of attachment bytes that is read once, chunk by chunk, while the message is written.
pub(crate) type ChunkSource = Box<dyn Iterator<Item = Vec<u8>> + Send>;

/// A piece of the message in writing order.
pub(crate) enum Segment {
    /// Bytes ready to send: headers, boundaries, small encoded bodies.
    Bytes(Vec<u8>),
    /// Bytes to send base64-encoded in 76-column lines.
    Base64(Vec<u8>),
    /// A stream to send base64-encoded, with its declared length when known.
    Base64Stream(ChunkSource, Option<u64>),
}

impl Segment {
    fn size(&self) -> Option<u64> {
        match self {
            Segment::Bytes(b) => Some(b.len() as u64),
            Segment::Base64(b) => Some(encoded_len(b.len() as u64)),
            Segment::Base64Stream(_, len) => len.map(encoded_len),
        }
    }
}

/// The SMTP envelope of a message: the reverse path and every recipient, Bcc included, each
/// checked to RFC 5321's grammar when the message was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The address for `MAIL FROM`: the Sender if given, else the first From address.
    pub reverse_path: EnvelopeAddress,
    /// The addresses for `RCPT TO`: To, Cc and Bcc in that order, each once.
    pub recipients: Vec<EnvelopeAddress>,
}

/// A message ready to send: produced by [`MessageBuilder::build`](crate::MessageBuilder::build).
///
/// Read the [`envelope`](Self::envelope), [`size`](Self::size) and SMTP needs first, then consume
/// the message with [`chunks`](Self::chunks), [`write_to`](Self::write_to) or
/// [`to_vec`](Self::to_vec). The output uses CRLF line endings and no line passes 998 octets.
pub struct OutgoingMessage {
    pub(crate) envelope: Envelope,
    pub(crate) segments: Vec<Segment>,
    pub(crate) needs_8bitmime: bool,
    pub(crate) needs_smtputf8: bool,
}

impl std::fmt::Debug for OutgoingMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMessage")
            .field("envelope", &self.envelope)
            .field("size", &self.size())
            .field("needs_8bitmime", &self.needs_8bitmime)
            .field("needs_smtputf8", &self.needs_smtputf8)
            .finish_non_exhaustive()
    }
}

impl OutgoingMessage {
    /// The SMTP envelope: reverse path and all recipients including Bcc.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The exact size in bytes of the message, for the SMTP `SIZE` parameter; `None` when an
    /// attachment is a stream of unknown length.
    pub fn size(&self) -> Option<u64> {
        self.segments.iter().map(Segment::size).sum()
    }

    /// Whether a part is sent as `8bit`, so the server must offer 8BITMIME (`BODY=8BITMIME`).
    pub fn needs_8bitmime(&self) -> bool {
        self.needs_8bitmime
    }

    /// Whether an address holds non-ASCII characters, so the server must offer SMTPUTF8.
    pub fn needs_smtputf8(&self) -> bool {
        self.needs_smtputf8
    }

    /// The message as an iterator of byte chunks. Streamed attachments are read and encoded as
    /// the iterator advances, so no attachment is held whole.
    pub fn chunks(self) -> Chunks {
        Chunks {
            segments: self.segments.into_iter(),
            stream: None,
        }
    }

    /// Appends the whole message to `out`.
    pub fn write_to(self, out: &mut Vec<u8>) {
        if let Some(n) = self.size() {
            out.reserve(usize::try_from(n).unwrap_or(0));
        }
        for seg in self.segments {
            match seg {
                Segment::Bytes(b) => out.extend_from_slice(&b),
                Segment::Base64(b) => {
                    let mut enc = Base64Encoder::new();
                    enc.push(&b, out);
                    enc.finish(out);
                }
                Segment::Base64Stream(src, _) => {
                    let mut enc = Base64Encoder::new();
                    for c in src {
                        enc.push(&c, out);
                    }
                    enc.finish(out);
                }
            }
        }
    }

    /// The whole message as one buffer.
    pub fn to_vec(self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

/// The bytes of an [`OutgoingMessage`] as a sequence of chunks; see [`OutgoingMessage::chunks`].
pub struct Chunks {
    segments: std::vec::IntoIter<Segment>,
    stream: Option<Stream>,
}

impl std::fmt::Debug for Chunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunks")
            .field("segments_left", &self.segments.len())
            .finish_non_exhaustive()
    }
}

/// A base64 body being encoded chunk by chunk.
struct Stream {
    encoder: Base64Encoder,
    source: StreamSource,
}

enum StreamSource {
    Memory { data: Vec<u8>, pos: usize },
    Chunks(ChunkSource),
}

impl Iterator for Chunks {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(stream) = &mut self.stream {
                let mut out = Vec::with_capacity(CHUNK_INPUT / 3 * 4 + CHUNK_INPUT / 28);
                let more = match &mut stream.source {
                    StreamSource::Memory { data, pos } => {
                        let end = (*pos + CHUNK_INPUT).min(data.len());
                        stream.encoder.push(&data[*pos..end], &mut out);
                        *pos = end;
                        *pos < data.len()
                    }
                    StreamSource::Chunks(src) => loop {
                        match src.next() {
                            Some(c) => {
                                stream.encoder.push(&c, &mut out);
                                if out.len() >= CHUNK_INPUT {
                                    break true;
                                }
                            }
                            None => break false,
                        }
                    },
                };
                if !more {
                    stream.encoder.finish(&mut out);
                    self.stream = None;
                }
                if !out.is_empty() {
                    return Some(out);
                }
                continue;
            }
            match self.segments.next()? {
                Segment::Bytes(b) => return Some(b),
                Segment::Base64(data) => {
                    self.stream = Some(Stream {
                        encoder: Base64Encoder::new(),
                        source: StreamSource::Memory { data, pos: 0 },
                    })
                }
                Segment::Base64Stream(src, _) => {
                    self.stream = Some(Stream {
                        encoder: Base64Encoder::new(),
                        source: StreamSource::Chunks(src),
                    })
                }
            }
        }
    }
}
