//! A whole message through the streaming DKIM and ARC verifier, fed in chunks whose sizes come from
//! the input: never panics, and gives the same outcomes however the message is split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_auth::dkim::DkimVerifier;
use mailwire_auth::MemoryResolver;

fuzz_target!(|data: &[u8]| {
    let Some((&split, message)) = data.split_first() else { return };
    let dns = MemoryResolver::new().txt("s._domainkey.example.com", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    let mut whole = DkimVerifier::new();
    if whole.feed(message).is_err() {
        return;
    }
    let whole = whole.finish();
    let expected = (whole.check(&dns, 0), whole.check_arc(&dns));
    let mut chunked = DkimVerifier::new();
    for chunk in message.chunks(usize::from(split).max(1)) {
        chunked.feed(chunk).unwrap();
    }
    let chunked = chunked.finish();
    assert_eq!((chunked.check(&dns, 0), chunked.check_arc(&dns)), expected);
});
