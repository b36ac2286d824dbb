//! SPF (RFC 7208): is this client IP allowed to send mail for this domain?
//!
//! [`check_mail_from`] evaluates a domain's record with the limits of RFC 7208 §4.6.4
//! (10 DNS-querying terms, 2 void lookups, 10 names per MX or PTR answer). The `exp=`
//! explanation is parsed but not fetched: receivers here give their own reply text.

mod eval;
mod record;

pub use eval::{check_mail_from, check_with_limits, SpfLimits, SpfOutcome, SpfQuery, SpfResult};
pub use record::{
    is_spf_record, MacroString, MacroToken, Mechanism, Qualifier, SpfRecord, SpfSyntaxError,
    MAX_TERMS,
};
