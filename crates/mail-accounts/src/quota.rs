//! Mailbox quotas as people write them: `500M`, `2G`, `1048576` (bytes).
//! Units are binary (K = 1024), as Dovecot and Courier read them.

/// The units a quota may end with, in increasing size.
const UNITS: [(char, u64); 4] = [
    ('K', 1 << 10),
    ('M', 1 << 20),
    ('G', 1 << 30),
    ('T', 1 << 40),
];

/// Reads a quota: digits, then optionally one of `K`, `M`, `G`, `T` (either
/// case). `None` for anything else, for 0 (leave the quota out for none),
/// and for a value that does not fit in 64 bits.
///
/// ```
/// use mail_accounts::{format_quota, parse_quota};
/// assert_eq!(parse_quota("500M"), Some(500 * 1024 * 1024));
/// assert_eq!(parse_quota("2g"), Some(2 << 30));
/// assert_eq!(parse_quota("1000"), Some(1000));
/// assert_eq!(parse_quota("1.5G"), None);
/// assert_eq!(format_quota(2 << 30), "2G");
/// ```
pub fn parse_quota(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, multiplier) = match text.chars().last() {
        Some(last) if last.is_ascii_alphabetic() => {
            let upper = last.to_ascii_uppercase();
            let (_, multiplier) = UNITS.iter().find(|(unit, _)| *unit == upper)?;
            (&text[..text.len() - 1], *multiplier)
        }
        _ => (text, 1),
    };
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = digits.parse::<u64>().ok()?.checked_mul(multiplier)?;
    (value > 0).then_some(value)
}

/// Writes a quota with the largest unit that divides it exactly, so that
/// [`parse_quota`] reads back the same number.
pub fn format_quota(bytes: u64) -> String {
    for (unit, multiplier) in UNITS.iter().rev() {
        if bytes >= *multiplier && bytes.is_multiple_of(*multiplier) {
            return format!("{}{unit}", bytes / multiplier);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        assert_eq!(parse_quota("1K"), Some(1024));
        assert_eq!(parse_quota(" 3t "), Some(3 << 40));
        assert_eq!(parse_quota("16777216T"), None, "overflows 64 bits");
        for bad in ["", "0", "0M", "M", "-1", "1 G", "1GB", "1X", "+5", "1.0"] {
            assert_eq!(parse_quota(bad), None, "{bad:?}");
        }
        assert_eq!(format_quota(1536), "1536");
        assert_eq!(format_quota(1 << 20), "1M");
        assert_eq!(format_quota(5 << 40), "5T");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(bytes in 1u64..) {
            prop_assert_eq!(parse_quota(&format_quota(bytes)), Some(bytes));
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,24}") {
            let _ = parse_quota(&text);
        }
    }
}
