//! Validated protocol values: every constructor checks its input, so an
//! invalid value cannot be built and every encoder is infallible.

mod capabilities;
mod command;
mod host;
mod params;
mod path;
mod reply;

pub use capabilities::{Capabilities, Extension, Mechanism};
pub use command::{Command, ParseOptions, SaslResponse, TextArg, Verb};
pub use host::{AddressLiteral, Domain, Host};
pub use params::{AuthParam, Body, EsmtpParam, MailParams, Notify, Orcpt, RcptParams, Ret};
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
