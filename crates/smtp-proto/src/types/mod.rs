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
