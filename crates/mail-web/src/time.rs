//! RFC 3339 timestamps for the API.

use mime_codec::DateTime;

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since 1970 (UTC).
pub(crate) use mime_codec::rfc3339_utc;

/// A message's Date as RFC 3339 with its own offset.
pub(crate) fn rfc3339(date: &DateTime) -> String {
    let off = date.offset_minutes();
    let zone = if off == 0 {
        "Z".to_owned()
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        format!("{sign}{:02}:{:02}", a / 60, a % 60)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        date.year(),
        date.month(),
        date.day(),
        date.hour(),
        date.minute(),
        date.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        let d = DateTime::parse("Tue, 1 Jul 2003 10:52:37 +0800").unwrap();
        assert_eq!(rfc3339(&d), "2003-07-01T10:52:37+08:00");
    }

    proptest! {
        /// Agrees with mime-codec's own calendar.
        #[test]
        fn agrees_with_mime_codec(unix in 0i64..=4_102_444_800) {
            let d = DateTime::from_unix(unix, 0).unwrap();
            prop_assert_eq!(rfc3339_utc(unix), rfc3339(&d));
        }
    }
}
