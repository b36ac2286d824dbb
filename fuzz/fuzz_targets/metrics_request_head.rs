//! mail-metrics: the endpoint's request-head reader. Input: a limit (first
//! two bytes), cut points (next eight bytes), then the bytes a client
//! sends. Fed whole and in pieces, the reading must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/mail-metrics/tests/oracle/mod.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let max = usize::from(u16::from_le_bytes([data[0], data[1]])) % 4096 + 1;
    let cuts: Vec<usize> = data[2..10].iter().map(|&b| usize::from(b)).collect();
    oracle::request_head(&data[10..], &cuts, max);
});
