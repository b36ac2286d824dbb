//! POP3 status lines: `+OK text` and `-ERR [CODE] text` (RFC 1939 §3,
//! RFC 2449 §8 response codes), built validated and serialized exactly.

use std::fmt;

/// An RFC 2449 / RFC 3206 extended response code, sent in brackets after
/// `-ERR` so a client can tell why without reading the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode {
    /// `[IN-USE]`: the maildrop is locked by another session.
    InUse,
    /// `[LOGIN-DELAY]`: the user logged in too recently.
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary system problem.
    SysTemp,
    /// `[SYS/PERM]`: a permanent system problem.
    SysPerm,
    /// `[AUTH]`: the credentials were wrong or not acceptable now.
    Auth,
}

impl ResponseCode {
    /// The code as written inside the brackets.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseCode::InUse => "IN-USE",
            ResponseCode::LoginDelay => "LOGIN-DELAY",
            ResponseCode::SysTemp => "SYS/TEMP",
            ResponseCode::SysPerm => "SYS/PERM",
            ResponseCode::Auth => "AUTH",
        }
    }

    fn from_bytes(bytes: &[u8]) -> Option<ResponseCode> {
        [
            ResponseCode::InUse,
            ResponseCode::LoginDelay,
            ResponseCode::SysTemp,
            ResponseCode::SysPerm,
            ResponseCode::Auth,
        ]
        .into_iter()
        .find(|c| c.as_str().as_bytes().eq_ignore_ascii_case(bytes))
    }
}

/// A status line. The text cannot hold CR, LF or NUL (control characters are
/// replaced by `?` when built), so a response can never split into two.
///
/// ```
/// use pop3_proto::{Response, ResponseCode};
/// let r = Response::err("invalid credentials").with_code(ResponseCode::Auth);
/// assert_eq!(r.to_bytes(), b"-ERR [AUTH] invalid credentials\r\n");
/// assert_eq!(Response::parse(b"-ERR [AUTH] invalid credentials\r\n"), Some(r));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    positive: bool,
    code: Option<ResponseCode>,
    text: String,
}

/// Longest text kept in a response; longer text is cut at a character
/// boundary (RFC 2449 §4 asks for at most 512 octets per line).
const MAX_TEXT: usize = 500;

fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT));
    for c in text.chars() {
        if out.len() + c.len_utf8() > MAX_TEXT {
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

impl Response {
    /// `+OK text`.
    pub fn ok(text: &str) -> Response {
        Response {
            positive: true,
            code: None,
            text: clean(text),
        }
    }

    /// `-ERR text`.
    pub fn err(text: &str) -> Response {
        Response {
            positive: false,
            code: None,
            text: clean(text),
        }
    }

    /// Adds a response code (meaningful on `-ERR`).
    pub fn with_code(mut self, code: ResponseCode) -> Response {
        self.code = Some(code);
        self
    }

    /// `+OK` rather than `-ERR`.
    pub fn is_positive(&self) -> bool {
        self.positive
    }

    /// The response code, if any.
    pub fn code(&self) -> Option<ResponseCode> {
        self.code
    }

    /// The text after the status (and code).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Appends the status line, CRLF included.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.positive { b"+OK" } else { b"-ERR" });
        if let Some(code) = self.code {
            out.extend_from_slice(b" [");
            out.extend_from_slice(code.as_str().as_bytes());
            out.push(b']');
        }
        if !self.text.is_empty() {
            out.push(b' ');
            out.extend_from_slice(self.text.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The status line, CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// Reads a status line (CRLF optional). `None` when it is not one this
    /// serializer could have written.
    pub fn parse(line: &[u8]) -> Option<Response> {
        let line = line.strip_suffix(b"\r\n").unwrap_or(line);
        let (positive, rest) = if let Some(rest) = line.strip_prefix(b"+OK") {
            (true, rest)
        } else {
            (false, line.strip_prefix(b"-ERR")?)
        };
        let rest = match rest {
            [] => rest,
            [b' ', rest @ ..] => rest,
            _ => return None,
        };
        let (code, text) = match rest.strip_prefix(b"[") {
            Some(inner) => {
                let end = inner.iter().position(|&b| b == b']')?;
                let code = ResponseCode::from_bytes(inner.get(..end)?)?;
                let after = inner.get(end + 1..)?;
                let text = match after {
                    [] => after,
                    [b' ', t @ ..] => t,
                    _ => return None,
                };
                (Some(code), text)
            }
            None => (None, rest),
        };
        let text = std::str::from_utf8(text).ok()?;
        let response = Response {
            positive,
            code,
            text: text.to_owned(),
        };
        (clean(text) == text).then_some(response)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        let line = String::from_utf8_lossy(&bytes);
        write!(f, "Response({:?})", line.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let cases: Vec<(Response, &[u8])> = vec![
            (Response::ok("2 320"), b"+OK 2 320\r\n"),
            (Response::ok(""), b"+OK\r\n"),
            (
                Response::err("no such message"),
                b"-ERR no such message\r\n",
            ),
            (
                Response::err("maildrop locked").with_code(ResponseCode::InUse),
                b"-ERR [IN-USE] maildrop locked\r\n",
            ),
            (
                Response::err("").with_code(ResponseCode::SysTemp),
                b"-ERR [SYS/TEMP]\r\n",
            ),
            (Response::ok("a\r\nb"), b"+OK a??b\r\n"),
        ];
        for (response, wire) in cases {
            assert_eq!(response.to_bytes(), wire);
            if !response.text().contains('?') {
                assert_eq!(Response::parse(wire), Some(response));
            }
        }
    }

    #[test]
    fn parse_refuses_what_we_never_write() {
        for line in [
            &b"+OKAY"[..],
            b"-ERR [NOPE] x",
            b"-ERR [AUTH",
            b"-ERR [AUTH]x",
            b"OK",
            b"+OK a\x01",
        ] {
            assert_eq!(Response::parse(line), None, "{line:?}");
        }
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let r = Response::ok(&"é".repeat(400));
        assert!(r.text().len() <= MAX_TEXT);
        assert!(r.to_bytes().len() <= 512);
    }
}
