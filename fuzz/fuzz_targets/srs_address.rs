//! SRS: an arbitrary local part taken back never panics, and whatever it
//! gives is `user@host`; an arbitrary sender rewritten at an arbitrary time
//! (the first 8 bytes) is taken back to itself the same day and 21 days
//! later, and refused once altered in its original-sender part; whatever
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
        let altered = format!("{local}x");
        assert_eq!(srs.reverse(&altered, now), Err(SrsError::BadHash));
    }
});
