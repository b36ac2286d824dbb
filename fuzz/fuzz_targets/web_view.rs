//! mail-web: a message shown (detail JSON, sandboxed-frame HTML, parts) and
//! a request path with a search query. Input: the path and query on the
//! first line, the message after it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, message) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    mail_web::fuzzing::view_and_query(message, &String::from_utf8_lossy(first));
});
