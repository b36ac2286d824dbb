//! Command lines (RFC 5321 §4.1.1; RFC 3030, RFC 3207, RFC 4954).

use super::host::host;
use super::params::{mail_parameters, rcpt_parameters};
use super::path::{forward_path, reverse_path};
use super::{run, Cx, In, NomError, PResult};
use crate::types::{
    Command, ForwardPath, MailParams, Mechanism, ParseOptions, RcptParams, ReversePath,
    SaslResponse, Verb,
};
use crate::ParseError;
use nom::bytes::{tag, tag_no_case, take_while_m_n};
use nom::combinator::opt;
use nom::Parser;

/// Parses one command line without its CRLF.
pub(crate) fn command(line: &[u8], opts: &ParseOptions) -> Result<Command, ParseError> {
    let line = if opts.allow_trailing_whitespace {
        let end = line
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(0, |p| p + 1);
        &line[..end]
    } else {
        line
    };
    // Most verbs have four letters: a space (or the end) after four octets
    // ends the verb without a search. A space inside those four cannot
    // match a verb either way (the verb compare refuses it), so the error
    // is the same as with a search.
    let verb_end = match line.get(4) {
        Some(b' ') => 4,
        None if line.len() == 4 => 4,
        _ => line.iter().position(|&b| b == b' ').unwrap_or(line.len()),
    };
    let (verb, args) = line.split_at(verb_end);
    let verb = verb_of(verb).ok_or(ParseError::UnknownCommand)?;
    let syntax = ParseError::Syntax(verb);
    // The arguments are checked for UTF-8 once, by the verbs that take
    // text; tokens are sliced from them.
    let cx = || Cx::octets(opts.smtputf8, args);
    match verb {
        Verb::Ehlo | Verb::Helo => {
            let cx = cx();
            // `SP ( Domain / address-literal )`, and nothing after it.
            let host = match args.strip_prefix(b" ").map(|i| host(i, &cx)) {
                Some(Ok(([], host))) => host,
                Some(Err(nom::Err::Failure(NomError(Some(ParseError::Utf8NotAllowed))))) => {
                    return Err(ParseError::Utf8NotAllowed)
                }
                _ => return Err(syntax),
            };
            Ok(if verb == Verb::Ehlo {
                Command::Ehlo(host)
            } else {
                Command::Helo(host)
            })
        }
        Verb::Mail => {
            let cx = cx();
            // The command is built first and its parameters filled in place,
            // so it is written once, where it is returned.
            let mut cmd = Command::Mail {
                from: ReversePath::Null,
                params: MailParams::default(),
            };
            let Command::Mail { from, params } = &mut cmd else {
                return Err(syntax);
            };
            let parsed = run(
                |i| {
                    let (i, _) = path_intro(i, "FROM:", opts)?;
                    let (i, from) = reverse_path(i, &cx, opts.allow_unbracketed_path)?;
                    let (i, ()) = mail_parameters(i, &cx, params)?;
                    Ok((i, from))
                },
                args,
                syntax,
            )?;
            // The placeholder owns nothing: no drop call for it.
            std::mem::forget(std::mem::replace(from, parsed));
            // Without SMTPUTF8 in force, a non-ASCII path was refused already.
            if cx.utf8 && !params.smtputf8 && from.mailbox().is_some_and(|m| !m.is_ascii()) {
                return Err(ParseError::Utf8NotAllowed);
            }
            Ok(cmd)
        }
        Verb::Rcpt => {
            let cx = cx();
            let mut cmd = Command::Rcpt {
                to: ForwardPath::Postmaster,
                params: RcptParams::default(),
            };
            let Command::Rcpt { to, params } = &mut cmd else {
                return Err(syntax);
            };
            let parsed = run(
                |i| {
                    let (i, _) = path_intro(i, "TO:", opts)?;
                    let (i, to) = forward_path(i, &cx, opts.allow_unbracketed_path)?;
                    let (i, ()) = rcpt_parameters(i, &cx, params)?;
                    Ok((i, to))
                },
                args,
                syntax,
            )?;
            // The placeholder owns nothing: no drop call for it.
            std::mem::forget(std::mem::replace(to, parsed));
            Ok(cmd)
        }
        Verb::Bdat => run(bdat_args, args, syntax),
        Verb::Auth => {
            let cx = cx();
            auth_args(args, &cx).ok_or(syntax)
        }
        Verb::Vrfy | Verb::Expn => {
            let text = args
                .strip_prefix(b" ")
                .and_then(Command::text_arg)
                .ok_or(syntax)?;
            Ok(if verb == Verb::Vrfy {
                Command::Vrfy(text)
            } else {
                Command::Expn(text)
            })
        }
        Verb::Help | Verb::Noop => {
            let text = match args {
                [] => None,
                _ => Some(
                    args.strip_prefix(b" ")
                        .and_then(Command::text_arg)
                        .ok_or(syntax)?,
                ),
            };
            Ok(if verb == Verb::Help {
                Command::Help(text)
            } else {
                Command::Noop(text)
            })
        }
        Verb::Data | Verb::Rset | Verb::Quit | Verb::StartTls => {
            if !args.is_empty() {
                return Err(syntax);
            }
            Ok(match verb {
                Verb::Data => Command::Data,
                Verb::Rset => Command::Rset,
                Verb::Quit => Command::Quit,
                _ => Command::StartTls,
            })
        }
    }
}

/// The verb, case-insensitively. Every verb but STARTTLS has four letters, so
/// one word compare finds it (this runs for every command line): clearing
/// bit 0x20 upper-cases a letter, and only a letter's two cases clear to
/// the same octet, so no other octet can match a verb's letters.
fn verb_of(word: &[u8]) -> Option<Verb> {
    if word.len() == 8 {
        return word
            .eq_ignore_ascii_case(b"STARTTLS")
            .then_some(Verb::StartTls);
    }
    const fn w(verb: &[u8; 4]) -> u32 {
        u32::from_le_bytes(*verb)
    }
    const EHLO: u32 = w(b"EHLO");
    const HELO: u32 = w(b"HELO");
    const MAIL: u32 = w(b"MAIL");
    const RCPT: u32 = w(b"RCPT");
    const DATA: u32 = w(b"DATA");
    const BDAT: u32 = w(b"BDAT");
    const RSET: u32 = w(b"RSET");
    const VRFY: u32 = w(b"VRFY");
    const EXPN: u32 = w(b"EXPN");
    const HELP: u32 = w(b"HELP");
    const NOOP: u32 = w(b"NOOP");
    const QUIT: u32 = w(b"QUIT");
    const AUTH: u32 = w(b"AUTH");
    let &[a, b, c, d] = word else {
        return None;
    };
    Some(match w(&[a, b, c, d]) & !0x2020_2020 {
        EHLO => Verb::Ehlo,
        HELO => Verb::Helo,
        MAIL => Verb::Mail,
        RCPT => Verb::Rcpt,
        DATA => Verb::Data,
        BDAT => Verb::Bdat,
        RSET => Verb::Rset,
        VRFY => Verb::Vrfy,
        EXPN => Verb::Expn,
        HELP => Verb::Help,
        NOOP => Verb::Noop,
        QUIT => Verb::Quit,
        AUTH => Verb::Auth,
        _ => return None,
    })
}

/// `SP "FROM:"` / `SP "TO:"`, then spaces when `allow_space_after_colon`.
fn path_intro<'a>(i: In<'a>, word: &'static str, opts: &ParseOptions) -> PResult<'a, ()> {
    let word = word.as_bytes();
    let Some(rest) = i.strip_prefix(b" ").and_then(|i| {
        i.get(..word.len())
            .filter(|w| w.eq_ignore_ascii_case(word))
            .map(|_| &i[word.len()..])
    }) else {
        return super::mismatch(i);
    };
    if opts.allow_space_after_colon {
        let spaces = rest.iter().take_while(|&&b| b == b' ').count();
        return Ok((&rest[spaces..], ()));
    }
    Ok((rest, ()))
}

/// `bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ]`, `chunk-size = 1*DIGIT`,
/// `end-marker = "LAST"` (RFC 3030 §4)
fn bdat_args(i: In<'_>) -> PResult<'_, Command> {
    let (i, (_, digits, last)) = (
        tag(" "),
        take_while_m_n(1, 20, |b: u8| b.is_ascii_digit()),
        opt(tag_no_case(" LAST")),
    )
        .parse_complete(i)?;
    match std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(size) => Ok((
            i,
            Command::Bdat {
                size,
                last: last.is_some(),
            },
        )),
        None => super::fail(ParseError::Syntax(Verb::Bdat)),
    }
}

/// `"AUTH" SP sasl-mech [SP initial-response]`,
/// `initial-response = base64 / "="` (RFC 4954 §4),
/// `sasl-mech = 1*20(ALPHA / DIGIT / "-" / "_")` (RFC 4422)
///
/// Both must reach the end of the line, so each is checked whole, in a
/// branch-free pass. `None` for any error: the caller's one AUTH syntax
/// error (the command is returned directly, not through nom's result).
fn auth_args<'a>(i: In<'a>, cx: &Cx<'a>) -> Option<Command> {
    let i = i.strip_prefix(b" ")?;
    // A mechanism name is short: a plain search finds its end faster than
    // memchr's set-up.
    let (mech, response) = match i.iter().position(|&b| b == b' ') {
        Some(sp) => (&i[..sp], Some(&i[sp + 1..])),
        None => (i, None),
    };
    let is_b64 = |r: &[u8]| {
        !r.is_empty()
            && r.iter().fold(true, |ok, &b| {
                ok & (b.is_ascii_alphanumeric() | (b == b'+') | (b == b'/') | (b == b'='))
            })
    };
    let mechanism = Mechanism::from_name(mech)?;
    if !response.is_none_or(is_b64) {
        return None;
    }
    let initial_response = match response {
        None => None,
        Some(r) => Some(SaslResponse::from_validated(cx.str_of(r)?)),
    };
    Some(Command::Auth {
        mechanism,
        initial_response,
    })
}
