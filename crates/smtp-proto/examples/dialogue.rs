//! Parses an SMTP dialogue and prints what each side said, as the core reads it.
//!
//! ```text
//! cargo run -p smtp-proto --example dialogue              # a built-in dialogue
//! cargo run -p smtp-proto --example dialogue -- FILE      # lines written "C: ..." / "S: ..."
//! ```
//!
//! Client lines are framed and parsed as commands (DATA content is un-stuffed
//! up to CRLF.CRLF); server lines are assembled into replies, and the EHLO
//! reply is read as capabilities. Errors print the reply a server would send.

use smtp_proto::{
    Capabilities, Command, DotUnstuffer, LineBuffer, LineConfig, LineStatus, ParseOptions,
    ReplyParser, UnstufferConfig,
};
use std::process::ExitCode;

const BUILT_IN: &str = "\
S: 220 mx.example.com ESMTP ready
C: EHLO client.example.org
S: 250-mx.example.com greets client.example.org
S: 250-SIZE 10485760
S: 250-8BITMIME
S: 250-PIPELINING
S: 250-AUTH PLAIN LOGIN
S: 250-ENHANCEDSTATUSCODES
S: 250 SMTPUTF8
C: MAIL FROM:<alice@example.org> SIZE=321 BODY=8BITMIME
C: RCPT TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.com
C: RCPT TO:<nobody@example.com>
C: DATA
S: 250 2.1.0 Sender OK
S: 250 2.1.5 Recipient OK
S: 550 5.1.1 <nobody@example.com>: user unknown
S: 354 Start mail input; end with <CRLF>.<CRLF>
C: Subject: hello
C:
C: ..a line that starts with a dot
C: .
S: 250 2.0.0 Ok: queued as 4F2A1C
C: MAIL FROM:<a@@broken>
S: 501 5.1.3 Bad address syntax
C: QUIT
S: 221 2.0.0 Bye
";

fn main() -> ExitCode {
    let text = match std::env::args().nth(1) {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("cannot read {path}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => BUILT_IN.to_owned(),
    };

    let mut client = LineBuffer::new(LineConfig::COMMAND);
    let mut data: Option<(DotUnstuffer, Vec<u8>)> = None;
    let mut replies = ReplyParser::new();
    let mut last_verb = None;
    let options = ParseOptions::lenient();

    for line in text.lines() {
        let (side, rest) = match line.split_once(':') {
            Some((s @ ("C" | "S"), rest)) => (s, rest.strip_prefix(' ').unwrap_or(rest)),
            _ => continue,
        };
        if side == "S" {
            match replies.push_line(rest.as_bytes()) {
                Ok(Some(reply)) => {
                    println!(
                        "S  {} {:?}{}  {:?}",
                        reply.code(),
                        reply.category(),
                        reply
                            .enhanced()
                            .map(|e| format!(" {e}"))
                            .unwrap_or_default(),
                        reply.text()
                    );
                    if last_verb == Some("EHLO") && reply.code().get() == 250 {
                        if let Ok(caps) = Capabilities::from_ehlo_reply(&reply) {
                            println!("     capabilities of {}:", caps.server_name());
                            for ext in caps.extensions() {
                                println!("       {ext:?}");
                            }
                        }
                        last_verb = None;
                    }
                }
                Ok(None) => {}
                Err(e) => println!("S  malformed reply line {rest:?}: {e}"),
            }
            continue;
        }
        let mut wire = rest.as_bytes().to_vec();
        wire.extend_from_slice(b"\r\n");
        if let Some((unstuffer, content)) = &mut data {
            let progress = unstuffer.feed(&wire, content);
            if progress.done {
                println!(
                    "C  message content, {} octets{}:",
                    content.len(),
                    unstuffer
                        .violation()
                        .map(|v| format!(" (refused: {v})"))
                        .unwrap_or_default()
                );
                for l in String::from_utf8_lossy(content).lines() {
                    println!("     | {l}");
                }
                data = None;
            }
            continue;
        }
        client.push(&wire);
        while let LineStatus::Line(l) = client.next_line() {
            match Command::parse_with(l, &options) {
                Ok(cmd) => {
                    println!("C  {cmd:?}");
                    last_verb = Some(cmd.verb().as_str());
                    if cmd == Command::Data {
                        data = Some((DotUnstuffer::new(UnstufferConfig::default()), Vec::new()));
                    }
                }
                Err(e) => println!(
                    "C  {:?} is refused: {e}; a server answers {:?}",
                    String::from_utf8_lossy(l),
                    e.reply().to_string().trim_end()
                ),
            }
        }
    }
    ExitCode::SUCCESS
}
