//! rspamd's /checkv2 JSON reply → verdict: never panics, and every text the
//! verdict carries (reply text, header values) is one printable line, every
//! header name a valid field name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_filter::{parse_rspamd_reply, RewriteAction, RspamdConfig, SoftAction, Verdict};

fn one_line(text: &str) {
    assert!(text.len() <= 200, "{text:?}");
    assert!(text.bytes().all(|b| (0x20..0x7f).contains(&b)), "{text:?}");
}

fn headers(add: &[(String, String)]) {
    for (name, value) in add {
        assert!(!name.is_empty() && name.bytes().all(|b| (33..127).contains(&b) && b != b':'));
        one_line(value);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(reply) = parse_rspamd_reply(data) else { return };
    let mut config = RspamdConfig::new("http://127.0.0.1:11333");
    for (greylist, rewrite) in [
        (SoftAction::Accept, RewriteAction::AddHeader),
        (SoftAction::Tempfail, RewriteAction::Quarantine),
    ] {
        config.on_greylist = greylist;
        config.on_rewrite_subject = rewrite;
        match reply.verdict(&config) {
            Verdict::Accept { add_headers } => headers(&add_headers),
            Verdict::Quarantine { reason, add_headers } => {
                one_line(&reason);
                headers(&add_headers);
            }
            Verdict::Reject { code, text, .. } => {
                assert!((500..600).contains(&code));
                one_line(&text);
            }
            Verdict::TempFail { text } => one_line(&text),
        }
    }
});
