//! SRS: an arbitrary local part taken back never panics, and whatever it
//! gives is `user@host`; an arbitrary sender rewritten at an arbitrary time
//! (the first 8 bytes) is taken back to itself the same day and 21 days
//! later, and refused once its hash is altered; whatever
//! is rewritten is a mailbox SMTP can carry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_server::srs::{Srs, SrsError};

fuzz_target!(|data: &[u8]| {
    let Ok(srs) = Srs::new(b"fuzz secret".to_vec(), "fwd.example") else {
        return;
    };
    let (now, rest) = match data.split_first_chunk::<8>() {
        Some((head, rest)) => (u64::from_le_bytes(*head) % 8_000_000_000, rest),
        None => (0, data),
    };
    let text = String::from_utf8_lossy(rest);
    if let Ok(back) = srs.reverse(&text, now) {
        assert!(back.contains('@'), "{text:?} -> {back:?}");
    }
    if let Some(rewritten) = srs.forward(&text, now) {
        let (local, domain) = rewritten.rsplit_once('@').expect("an address");
        assert_eq!(domain, "fwd.example");
        assert!(
            smtp_proto::Mailbox::parse(&rewritten).is_ok(),
            "{text:?} -> {rewritten:?}, no valid mailbox"
        );
        assert_eq!(srs.original(local).as_deref(), Ok(&*text));
        assert_eq!(srs.reverse(local, now).as_deref(), Ok(&*text));
        assert_eq!(srs.reverse(local, now + 21 * 86_400).as_deref(), Ok(&*text));
        assert_eq!(
            srs.reverse(local, now + 22 * 86_400),
            Err(SrsError::Expired)
        );
        // Another hash (not merely another case of it) for the same fields
        // is refused. (Altering the fields instead is refused only most of
        // the time: four base64 characters, case folded, are about 2^21
        // values, and the fuzzer finds fields that share a hash.)
        let hash_first = local.as_bytes()[5];
        let other = if hash_first.eq_ignore_ascii_case(&b'A') { "B" } else { "A" };
        let altered = format!("{}{other}{}", &local[..5], &local[6..]);
        assert_eq!(srs.reverse(&altered, now), Err(SrsError::BadHash));
    }
});
