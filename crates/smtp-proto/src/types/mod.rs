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
pub use host::{AddressLiteral, Domain, GeneralLiteral, Host};
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

/// A short owned text kept inline (up to `N` octets, `N < 255`), else boxed:
/// parsed values such as an EHLO domain are mostly short, and this spares
/// them an allocation and a free. Always UTF-8: filled only from `&str`.
/// Reading the inline form checks it for UTF-8 again (safe code cannot skip
/// that), a few dozen instructions for a short ASCII text.
#[derive(Clone)]
pub(crate) enum SmallStr<const N: usize> {
    /// `len_plus_one` is never zero, which leaves room for the tag.
    Inline {
        len_plus_one: std::num::NonZeroU8,
        buf: [u8; N],
    },
    Heap(Box<str>),
}

impl<const N: usize> PartialEq for SmallStr<N> {
    fn eq(&self, other: &SmallStr<N>) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<const N: usize> Eq for SmallStr<N> {}

impl<const N: usize> SmallStr<N> {
    #[inline]
    pub(crate) fn new(s: &str) -> SmallStr<N> {
        SmallStr::concat(s, "")
    }

    /// `a` then `b` (two UTF-8 texts side by side are UTF-8).
    #[inline]
    pub(crate) fn concat(a: &str, b: &str) -> SmallStr<N> {
        let len = a.len() + b.len();
        let len_plus_one = u8::try_from(len + 1)
            .ok()
            .and_then(std::num::NonZeroU8::new);
        match (len_plus_one, len <= N) {
            (Some(len_plus_one), true) => {
                let mut buf = [0; N];
                buf[..a.len()].copy_from_slice(a.as_bytes());
                buf[a.len()..len].copy_from_slice(b.as_bytes());
                SmallStr::Inline { len_plus_one, buf }
            }
            _ => {
                let mut text = String::with_capacity(len);
                text.push_str(a);
                text.push_str(b);
                SmallStr::Heap(text.into_boxed_str())
            }
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            SmallStr::Inline { len_plus_one, buf } => buf
                .get(..usize::from(len_plus_one.get() - 1))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            SmallStr::Heap(s) => s,
        }
    }
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
