//! Validated protocol values: every constructor checks its input, so an
//! invalid value cannot be built and every encoder is infallible.

mod capabilities;
mod command;
mod host;
mod params;
mod path;
mod reply;

pub use capabilities::{Capabilities, Extension, Mechanism, MechanismName};
pub use command::{Command, ParseOptions, SaslResponse, TextArg, Verb};
pub use host::{AddressLiteral, Domain, Host};
pub use params::{
    AuthParam, Body, EsmtpParam, MailParams, Notify, Orcpt, RcptParams, Ret, XtextValue,
};
pub use path::{ForwardPath, Mailbox, ReversePath, MAX_LOCAL_PART, MAX_PATH};
pub use reply::{Category, EnhancedStatus, Reply, ReplyCode, ReplyParser, StatusSubject};

/// Appends `n` in decimal without allocating (encoders run per command).
pub(crate) fn write_decimal(n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `text.split(sep)` for an ASCII `sep`, looking at octets one by one: for
/// the short pieces of replies and EHLO lines this is quicker than the
/// vectorized search `str::split` sets up for each piece.
#[derive(Debug, Clone)]
pub(crate) struct SplitByte<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

pub(crate) fn split_byte(text: &str, sep: u8) -> SplitByte<'_> {
    SplitByte {
        rest: Some(text),
        sep,
    }
}

impl<'a> Iterator for SplitByte<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        // `sep` is ASCII, so both sides of it are char boundaries.
        match rest.bytes().position(|b| b == self.sep) {
            Some(n) => {
                self.rest = rest.get(n + 1..);
                rest.get(..n)
            }
            None => self.rest.take(),
        }
    }
}

impl DoubleEndedIterator for SplitByte<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let rest = self.rest?;
        match rest.bytes().rposition(|b| b == self.sep) {
            Some(n) => {
                self.rest = rest.get(..n);
                rest.get(n + 1..)
            }
            None => self.rest.take(),
        }
    }
}
