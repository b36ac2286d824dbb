//! mail-metrics: label values rendered in the Prometheus text format.
//! Input: label values separated by NUL, taken in pairs; the rendered text
//! must read back to what was recorded, within the series cap.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/mail-metrics/tests/oracle/mod.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let values: Vec<&str> = text.split('\0').collect();
    let pairs: Vec<(&str, &str)> = values
        .chunks(2)
        .map(|c| (c[0], c.get(1).copied().unwrap_or("")))
        .collect();
    oracle::exposition(&pairs);
});
