//! Base64 with 76-column lines (RFC 2045 section 6.8) over the `base64` crate, and a tolerant decoder.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// Input bytes per 76-character output line.
pub(crate) const LINE_INPUT: usize = 57;
/// Characters per output line.
const LINE_OUTPUT: usize = 76;
/// Lines encoded per call to the `base64` engine; large blocks keep the engine on its fast path.
const BLOCK_LINES: usize = 1024;

/// The size in bytes of `len` input bytes once encoded by [`Base64Encoder`], with CRLF between lines
/// and none after the last.
pub fn encoded_len(len: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    let chars = len.div_ceil(3) * 4;
    let lines = chars.div_ceil(LINE_OUTPUT as u64);
    chars + 2 * (lines - 1)
}

/// A streaming base64 encoder that writes 76-character lines joined by CRLF.
///
/// Feed input in chunks of any size; the output is the same as for the whole input at once.
///
/// ```
/// use mime_codec::base64::Base64Encoder;
/// let mut enc = Base64Encoder::new();
/// let mut out = Vec::new();
/// enc.push(b"hello ", &mut out);
/// enc.push(b"world", &mut out);
/// enc.finish(&mut out);
/// assert_eq!(out, b"aGVsbG8gd29ybGQ=");
/// ```
#[derive(Debug, Default, Clone)]
pub struct Base64Encoder {
    /// Input waiting to fill a whole line.
    carry: Vec<u8>,
    /// Whether a line was written, so the next one needs a CRLF first.
    wrote_line: bool,
}

impl Base64Encoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes `input`, appending whole lines to `out`; a partial line waits for more input.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        if !self.carry.is_empty() {
            let need = LINE_INPUT - self.carry.len();
            let take = need.min(input.len());
            self.carry.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.carry.len() < LINE_INPUT {
                return;
            }
            let line = std::mem::take(&mut self.carry);
            self.encode_lines(&line, out);
            self.carry = line;
            self.carry.clear();
        }
        let whole = input.len() - input.len() % LINE_INPUT;
        self.encode_lines(&input[..whole], out);
        self.carry.extend_from_slice(&input[whole..]);
    }

    /// Writes the last partial line with its padding.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.carry.is_empty() {
            if self.wrote_line {
                out.extend_from_slice(b"\r\n");
            }
            let start = out.len();
            out.resize(start + self.carry.len().div_ceil(3) * 4, 0);
            // The slice is sized for the padded output, so this cannot fail.
            let _ = STANDARD.encode_slice(&self.carry, &mut out[start..]);
            self.carry.clear();
            self.wrote_line = true;
        }
    }

    /// Encodes whole lines: `input.len()` is a multiple of [`LINE_INPUT`].
    ///
    /// Each line is encoded straight into its place in `out`, so the output is written once
    /// rather than encoded into scratch space and copied. `out` grows one block at a time, which
    /// keeps the zero-filled region in cache until the encoder overwrites it.
    fn encode_lines(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if input.is_empty() {
            return;
        }
        let lines = input.len() / LINE_INPUT;
        out.reserve(lines * (LINE_OUTPUT + 2));
        for block in input.chunks(LINE_INPUT * BLOCK_LINES) {
            if self.wrote_line {
                out.extend_from_slice(b"\r\n");
            }
            let start = out.len();
            let block_lines = block.len() / LINE_INPUT;
            // CRLF between the lines of the block, none after its last.
            out.resize(start + block_lines * (LINE_OUTPUT + 2) - 2, 0);
            for (dst, src) in out[start..]
                .chunks_mut(LINE_OUTPUT + 2)
                .zip(block.chunks_exact(LINE_INPUT))
            {
                // `src` is 57 bytes, whose encoding fills exactly the first 76 bytes of `dst`.
                let (line, crlf) = dst.split_at_mut(LINE_OUTPUT);
                let _ = STANDARD.encode_slice(src, line);
                // The block's last line has no CRLF slot.
                if crlf.len() == 2 {
                    crlf.copy_from_slice(b"\r\n");
                }
            }
            self.wrote_line = true;
        }
    }
}

/// Encodes `input` in one go with 76-character lines joined by CRLF.
pub fn encode_wrapped(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(input.len() as u64) as usize);
    let mut enc = Base64Encoder::new();
    enc.push(input, &mut out);
    enc.finish(&mut out);
    out
}

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64 as it arrives in mail: whitespace, line breaks and junk characters are skipped,
/// padding may be missing, and a stray final character is dropped. Decoding stops at the padding
/// that ends the data (RFC 2045 section 6.8): what follows it, such as a footer a mailing list
/// appended, is not data. Never fails.
///
/// ```
/// assert_eq!(mime_codec::base64::decode_lenient(b"aGVs\r\nbG8*gd29y bGQ"), b"hello world");
/// assert_eq!(mime_codec::base64::decode_lenient(b"aGVsbG8=\r\n-- \r\nList footer"), b"hello");
/// ```
pub fn decode_lenient(input: &[u8]) -> Vec<u8> {
    decode_checked(input).0
}

/// What was wrong with a base64 body, beyond line breaks and missing padding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Damage {
    /// Characters outside the base64 alphabet (other than whitespace) were skipped.
    pub(crate) junk: bool,
    /// Text followed the padding that ends the data and was ignored.
    pub(crate) after_padding: bool,
    /// One character was left over at the end, which no encoder writes; it was dropped.
    pub(crate) stray_character: bool,
}

/// [`decode_lenient`], also saying what it had to skip. Like Python's `binascii.a2b_base64`, an
/// `=` ends the data once it completes a group, and an `=` that cannot be padding is skipped.
pub(crate) fn decode_checked(input: &[u8]) -> (Vec<u8>, Damage) {
    let mut out = vec![0u8; input.len() / 4 * 3 + 3];
    let mut n = 0;
    let mut damage = Damage::default();
    // Characters of a group that spans lines or holds junk, decoded once complete.
    let mut quad: Vec<u8> = Vec::new();
    // Padding characters seen for the current partial group.
    let mut pads = 0usize;
    let mut start = 0;
    // Where the text after the final padding starts, once it is found.
    let mut rest: Option<usize> = None;
    'lines: while start < input.len() {
        let end = memchr::memchr(b'\n', &input[start..]).map_or(input.len(), |i| start + i);
        let line_start = start;
        let line = input[start..end].trim_ascii();
        start = end + 1;
        if line.is_empty() {
            continue;
        }
        // Fast path: a clean line of whole groups, as every sane encoder writes.
        if quad.is_empty() && pads == 0 && line.len().is_multiple_of(4) {
            let need = line.len() / 4 * 3;
            if out.len() - n < need {
                out.resize(n + need, 0);
            }
            if let Ok(k) = LENIENT.decode_slice(line, &mut out[n..]) {
                n += k;
                if line.ends_with(b"=") {
                    rest = Some(start.min(input.len()));
                    break;
                }
                continue;
            }
        }
        let offset = line_start
            + input[line_start..end]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        for (i, &b) in line.iter().enumerate() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => {
                    pads = 0;
                    quad.push(b);
                }
                b'=' => {
                    let partial = quad.len() % 4;
                    if partial >= 2 {
                        pads += 1;
                        if partial + pads >= 4 {
                            rest = Some(offset + i + 1);
                            break 'lines;
                        }
                    } else {
                        damage.junk = true;
                    }
                }
                b' ' | b'\t' | b'\r' => {}
                _ => damage.junk = true,
            }
        }
        if quad.len().is_multiple_of(4) {
            flush(&mut quad, &mut out, &mut n);
        }
    }
    if let Some(r) = rest {
        damage.after_padding = input[r.min(input.len())..]
            .iter()
            .any(|b| !b.is_ascii_whitespace());
    }
    damage.stray_character = quad.len() % 4 == 1;
    flush(&mut quad, &mut out, &mut n);
    out.truncate(n);
    (out, damage)
}

/// Decodes the pending characters (a stray last one of a group is dropped) into `out` at `n`.
fn flush(quad: &mut Vec<u8>, out: &mut Vec<u8>, n: &mut usize) {
    let usable = quad.len() - usize::from(quad.len() % 4 == 1);
    if usable > 0 {
        let need = usable.div_ceil(4) * 3;
        if out.len() - *n < need {
            out.resize(*n + need, 0);
        }
        if let Ok(k) = LENIENT.decode_slice(&quad[..usable], &mut out[*n..]) {
            *n += k;
        }
    }
    quad.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_76_with_crlf_between_lines() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let out = encode_wrapped(&data);
        let text = std::str::from_utf8(&out).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert!(lines[..lines.len() - 1].iter().all(|l| l.len() == 76));
        assert!(!text.ends_with("\r\n"));
        assert_eq!(out.len() as u64, encoded_len(1000));
        assert_eq!(STANDARD.decode(text.replace("\r\n", "")).unwrap(), data);
    }

    #[test]
    fn chunked_input_gives_the_same_output() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = encode_wrapped(&data);
        for size in [1, 2, 56, 57, 58, 100, 4096] {
            let mut enc = Base64Encoder::new();
            let mut out = Vec::new();
            for c in data.chunks(size) {
                enc.push(c, &mut out);
            }
            enc.finish(&mut out);
            assert_eq!(out, whole, "chunk size {size}");
        }
    }

    #[test]
    fn encoded_len_matches_for_small_sizes() {
        for n in 0..300 {
            let data = vec![0xa5; n];
            assert_eq!(
                encode_wrapped(&data).len() as u64,
                encoded_len(n as u64),
                "n={n}"
            );
        }
    }

    #[test]
    fn lenient_decoding_of_real_world_damage() {
        assert_eq!(decode_lenient(b"aGVsbG8="), b"hello");
        assert_eq!(decode_lenient(b"aGVsbG8"), b"hello");
        assert_eq!(decode_lenient(b"aGVs\nbG8=\n"), b"hello");
        assert_eq!(decode_lenient(b" a G V s b G 8 = "), b"hello");
        assert_eq!(decode_lenient(b"aGVsbG8=\r\n\r\n-- !"), b"hello");
        assert_eq!(decode_lenient(b"a"), b"");
        assert_eq!(decode_lenient(b"!!!"), b"");
    }

    #[test]
    fn decoding_stops_at_the_final_padding() {
        // A mailing-list footer after the data: RFC 2045 section 6.8 lets the decoder stop.
        let (data, damage) =
            decode_checked(b"aGVsbG8=\r\n\r\nTo unsubscribe, write to list@example.org\r\n");
        assert_eq!(data, b"hello");
        assert_eq!(
            damage,
            Damage {
                after_padding: true,
                ..Damage::default()
            }
        );
        // The same on a line with junk, and when the padding is split over two lines.
        let (data, damage) = decode_checked(b"aGk*=aGVsbG8=");
        assert_eq!(data, b"hi");
        assert!(damage.junk && damage.after_padding);
        let (data, damage) = decode_checked(b"aGk=\r\n=\r\nfooter");
        assert_eq!(data, b"hi");
        assert!(damage.after_padding);
        assert_eq!(decode_lenient(b"aGVsbG8=aGk="), b"hello");
        // An '=' that cannot be padding (after fewer than two characters of a group) is junk.
        let (data, damage) = decode_checked(b"a=GVs");
        assert_eq!(data, b"hel");
        assert!(damage.junk && !damage.after_padding);
        // Whitespace after the padding is no damage; a stray last character is.
        assert_eq!(
            decode_checked(b"aGVsbG8=\r\n\r\n"),
            (b"hello".to_vec(), Damage::default())
        );
        assert!(decode_checked(b"aGVsbG8").1 == Damage::default());
        assert!(decode_checked(b"aGVsb").1.stray_character);
    }
}
