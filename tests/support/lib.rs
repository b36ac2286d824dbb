//! Shared harness code for the workspace-level tests: transcripts written as
//! `C:`/`S:` lines, and a reader that turns a client byte stream back into
//! commands and message contents the way a server would.
#![forbid(unsafe_code)]

pub mod peers;
pub mod serve;

use smtp_proto::{
    BdatChunk, Command, DotUnstuffer, LineBuffer, LineConfig, LineStatus, ParseError, ParseOptions,
    UnstufferConfig,
};

/// Who sent a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client (`C:`).
    Client,
    /// The server (`S:`).
    Server,
}

/// Splits a transcript into `(side, line)` pairs. Lines start with `C: ` or
/// `S: ` (`C:` alone is an empty line); other lines are ignored.
pub fn transcript(text: &str) -> Vec<(Side, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let (side, rest) = if let Some(r) = l.strip_prefix("C:") {
                (Side::Client, r)
            } else if let Some(r) = l.strip_prefix("S:") {
                (Side::Server, r)
            } else {
                return None;
            };
            Some((side, rest.strip_prefix(' ').unwrap_or(rest).to_owned()))
        })
        .collect()
}

/// The bytes one side sends: its lines, each with CRLF.
pub fn stream(lines: &[(Side, String)], side: Side) -> Vec<u8> {
    let mut out = Vec::new();
    for (s, l) in lines {
        if *s == side {
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// What a server-side reader saw in a client stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A command line that parsed.
    Command(Command),
    /// A command line that did not.
    Error(ParseError),
    /// The un-stuffed content of one DATA message, or one BDAT chunk.
    Content(Vec<u8>),
}

/// Reads a client byte stream delivered in `chunks`, as a server does: lines
/// become commands; after DATA the content is un-stuffed up to CRLF.CRLF;
/// after BDAT the counted octets are taken. Replies are not modelled: every
/// DATA is taken as accepted with 354.
pub fn read_client_stream<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Seen> {
    enum Mode {
        Lines,
        Data(DotUnstuffer, Vec<u8>),
        Bdat(BdatChunk, Vec<u8>),
    }
    let mut lines = LineBuffer::new(LineConfig::COMMAND);
    let mut mode = Mode::Lines;
    let mut seen = Vec::new();
    for chunk in chunks {
        let mut input = chunk.to_vec();
        loop {
            match &mut mode {
                Mode::Lines => {
                    lines.push(&input);
                    input.clear();
                    let mut switch = None;
                    loop {
                        match lines.next_line() {
                            LineStatus::Line(l) => {
                                match Command::parse_with(l, &ParseOptions::strict()) {
                                    Ok(Command::Data) => {
                                        seen.push(Seen::Command(Command::Data));
                                        switch = Some(Mode::Data(
                                            DotUnstuffer::new(UnstufferConfig::default()),
                                            Vec::new(),
                                        ));
                                    }
                                    Ok(Command::Bdat { size, last }) => {
                                        seen.push(Seen::Command(Command::Bdat { size, last }));
                                        switch = Some(Mode::Bdat(
                                            BdatChunk::new(size, last),
                                            Vec::new(),
                                        ));
                                    }
                                    Ok(c) => seen.push(Seen::Command(c)),
                                    Err(e) => seen.push(Seen::Error(e)),
                                }
                                if switch.is_some() {
                                    break;
                                }
                            }
                            LineStatus::TooLong => {
                                seen.push(Seen::Error(ParseError::LineTooLong { limit: 512 }))
                            }
                            LineStatus::BareLf => {
                                seen.push(Seen::Error(ParseError::UnknownCommand))
                            }
                            LineStatus::NeedMore => break,
                        }
                    }
                    match switch {
                        Some(m) => {
                            input = lines.take_buffered();
                            mode = m;
                        }
                        None => break,
                    }
                }
                Mode::Data(unstuffer, content) => {
                    let progress = unstuffer.feed(&input, content);
                    input.drain(..progress.consumed);
                    if !progress.done {
                        break;
                    }
                    seen.push(Seen::Content(std::mem::take(content)));
                    mode = Mode::Lines;
                }
                Mode::Bdat(chunk, content) => {
                    let taken = chunk.take(&input).len();
                    content.extend_from_slice(&input[..taken]);
                    input.drain(..taken);
                    if !chunk.is_complete() {
                        break;
                    }
                    seen.push(Seen::Content(std::mem::take(content)));
                    mode = Mode::Lines;
                }
            }
        }
    }
    seen
}
