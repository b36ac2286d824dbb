//! ClamAV's clamd protocol: `zINSTREAM`, the message in chunks each preceded
//! by its length (4 bytes, big-endian), a zero-length chunk to end, and one
//! reply line ended by NUL.

use crate::chain::{default_connect_timeout_ms, default_timeout_ms, FailurePolicy};
use crate::net::{open_message, read_chunk, Exchange};
use crate::{sanitize_text, Filter, FilterError, MessageInfo, Verdict};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// How clamd is asked (`kind = "clamd"` in `[[filters.chain]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClamdConfig {
    /// clamd's `TCPSocket`: `127.0.0.1:3310`.
    pub address: String,
    /// The whole exchange's deadline, in milliseconds (default 15000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The connection's deadline, in milliseconds (default 2000).
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Larger messages are not sent (a failure, by `on_failure`); keep it at
    /// or below clamd's `StreamMaxLength` (default 25 MiB).
    #[serde(default = "default_max_size")]
    pub max_size: u64,
    /// What a virus does: `reject` (`554 5.7.1`, default) or `quarantine`.
    #[serde(default)]
    pub on_virus: VirusAction,
    /// When clamd is down, slow or fails (default: the chain's).
    #[serde(default)]
    pub on_failure: Option<FailurePolicy>,
}

fn default_max_size() -> u64 {
    25 * 1024 * 1024
}

impl ClamdConfig {
    /// The defaults for clamd at `address`.
    pub fn new(address: impl Into<String>) -> ClamdConfig {
        ClamdConfig {
            address: address.into(),
            timeout_ms: default_timeout_ms(),
            connect_timeout_ms: default_connect_timeout_ms(),
            max_size: default_max_size(),
            on_virus: VirusAction::default(),
            on_failure: None,
        }
    }
}

/// What a found virus does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VirusAction {
    /// `554 5.7.1`.
    #[default]
    Reject,
    /// Store it aside.
    Quarantine,
}

/// What clamd said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdReply {
    /// `stream: OK`.
    Clean,
    /// `stream: NAME FOUND`.
    Virus(String),
    /// `... ERROR` (for example `INSTREAM size limit exceeded. ERROR`).
    Error(String),
}

/// The longest reply read from clamd.
const MAX_REPLY: usize = 4096;

/// Parses clamd's reply to `zINSTREAM` (with or without its NUL or newline).
///
/// ```
/// use mail_filter::{parse_clamd_reply, ClamdReply};
/// assert_eq!(parse_clamd_reply(b"stream: OK\0"), Ok(ClamdReply::Clean));
/// assert_eq!(
///     parse_clamd_reply(b"stream: Eicar-Signature FOUND\0"),
///     Ok(ClamdReply::Virus("Eicar-Signature".into())),
/// );
/// ```
pub fn parse_clamd_reply(reply: &[u8]) -> Result<ClamdReply, String> {
    let end = reply
        .iter()
        .position(|&b| b == 0 || b == b'\n')
        .unwrap_or(reply.len());
    let line = std::str::from_utf8(reply.get(..end).unwrap_or_default())
        .map_err(|_| "the reply is not UTF-8".to_owned())?
        .trim_end_matches('\r')
        .trim();
    if let Some(error) = line.strip_suffix(" ERROR") {
        return Ok(ClamdReply::Error(sanitize_text(error)));
    }
    let Some(result) = line.strip_prefix("stream: ") else {
        return Err(format!("unexpected reply {:?}", sanitize_text(line)));
    };
    if result == "OK" {
        return Ok(ClamdReply::Clean);
    }
    if let Some(name) = result.strip_suffix(" FOUND") {
        let name = sanitize_text(name);
        if !name.is_empty() {
            return Ok(ClamdReply::Virus(name));
        }
    }
    Err(format!("unexpected reply {:?}", sanitize_text(line)))
}

/// The clamd filter.
#[derive(Debug, Clone)]
pub struct Clamd {
    config: ClamdConfig,
}

impl Clamd {
    /// A clamd filter.
    pub fn new(config: ClamdConfig) -> Clamd {
        Clamd { config }
    }

    /// Streams the message to clamd and returns its reply.
    pub fn scan(&self, message: &Path) -> Result<ClamdReply, FilterError> {
        let (mut file, size) = open_message(self.name(), message)?;
        if size > self.config.max_size {
            return Err(FilterError::TooLarge {
                scanner: self.name().to_owned(),
                size,
                limit: self.config.max_size,
            });
        }
        let mut exchange = Exchange::connect(
            self.name(),
            &self.config.address,
            Duration::from_millis(self.config.connect_timeout_ms),
            Duration::from_millis(self.config.timeout_ms),
        )?;
        let streamed = stream(&mut exchange, &mut file);
        // clamd answers and closes as soon as the stream exceeds its limit,
        // so a failed write may still leave a reply to read.
        let reply = match exchange.read_reply(MAX_REPLY, |r| r.contains(&0)) {
            Ok(reply) if !reply.is_empty() => reply,
            Ok(_) => {
                streamed?;
                return Err(FilterError::Protocol {
                    scanner: self.name().to_owned(),
                    detail: "clamd closed the connection without a reply".into(),
                });
            }
            Err(e) => {
                streamed?;
                return Err(e);
            }
        };
        let parsed = parse_clamd_reply(&reply).map_err(|detail| FilterError::Protocol {
            scanner: self.name().to_owned(),
            detail,
        })?;
        if let ClamdReply::Error(message) = &parsed {
            return Err(FilterError::Scanner {
                scanner: self.name().to_owned(),
                message: message.clone(),
            });
        }
        streamed?;
        Ok(parsed)
    }
}

/// Sends `zINSTREAM`, the file in length-prefixed chunks, and the end.
fn stream(exchange: &mut Exchange<'_>, file: &mut std::fs::File) -> Result<(), FilterError> {
    exchange.write_all(b"zINSTREAM\0")?;
    let mut buf = vec![0u8; 4 + 64 * 1024];
    loop {
        let scanner = exchange.scanner().to_owned();
        let n = read_chunk(&scanner, file, buf.get_mut(4..).unwrap_or_default())?;
        let len = u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes();
        if let Some(prefix) = buf.get_mut(..4) {
            prefix.copy_from_slice(&len);
        }
        exchange.write_all(buf.get(..4 + n).unwrap_or_default())?;
        if n == 0 {
            return Ok(());
        }
    }
}

impl Filter for Clamd {
    fn name(&self) -> &str {
        "clamd"
    }

    fn check(&self, _info: &MessageInfo, message: &Path) -> Result<Verdict, FilterError> {
        match self.scan(message)? {
            ClamdReply::Clean => Ok(Verdict::Accept {
                add_headers: vec![("X-Virus-Scanned".into(), "clamd: clean".into())],
            }),
            ClamdReply::Virus(name) => Ok(match self.config.on_virus {
                VirusAction::Reject => {
                    Verdict::reject(format!("message contains a virus ({name})"))
                }
                VirusAction::Quarantine => Verdict::Quarantine {
                    reason: format!("virus {name}"),
                    add_headers: vec![("X-Virus-Found".into(), name)],
                },
            }),
            ClamdReply::Error(message) => Err(FilterError::Scanner {
                scanner: self.name().to_owned(),
                message,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(parse_clamd_reply(b"stream: OK"), Ok(ClamdReply::Clean));
        assert_eq!(parse_clamd_reply(b"stream: OK\n"), Ok(ClamdReply::Clean));
        assert_eq!(
            parse_clamd_reply(b"stream: Win.Test.EICAR_HDB-1 FOUND\0"),
            Ok(ClamdReply::Virus("Win.Test.EICAR_HDB-1".into()))
        );
        assert_eq!(
            parse_clamd_reply(b"INSTREAM size limit exceeded. ERROR\0"),
            Ok(ClamdReply::Error("INSTREAM size limit exceeded.".into()))
        );
        assert!(parse_clamd_reply(b"").is_err());
        assert!(parse_clamd_reply(b"stream:  FOUND").is_err());
        assert!(parse_clamd_reply(b"PONG\0").is_err());
        assert!(parse_clamd_reply(&[0xff, 0xfe]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_virus_name_round_trips(name in "[!-~]{1,40}( [!-~]{1,10}){0,2}", tail in proptest::collection::vec(proptest::num::u8::ANY, 0..20)) {
            let mut reply = format!("stream: {name} FOUND\0").into_bytes();
            reply.extend_from_slice(&tail);
            proptest::prop_assert_eq!(parse_clamd_reply(&reply), Ok(ClamdReply::Virus(name)));
        }

        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Ok(ClamdReply::Virus(text) | ClamdReply::Error(text)) = parse_clamd_reply(&bytes) {
                proptest::prop_assert!(text.bytes().all(|b| (0x20..0x7f).contains(&b)));
            }
        }
    }
}
