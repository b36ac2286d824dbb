//! RFC 3339 timestamps for the API.

use mime_codec::DateTime;

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since 1970 (UTC).
pub(crate) fn rfc3339_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

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

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
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
