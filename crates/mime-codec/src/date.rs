//! Dates in RFC 5322 section 3.3 form, with the obsolete forms of section 4.3 accepted on input.

use std::fmt;

/// A calendar date and time with its UTC offset, as carried by the `Date` header.
///
/// The crate reads no clock: the caller passes the time, usually from
/// [`DateTime::from_unix`] with seconds since the Unix epoch.
///
/// ```
/// use mime_codec::DateTime;
/// let d = DateTime::from_unix(1_700_000_000, 8 * 60).unwrap();
/// assert_eq!(d.to_string(), "Wed, 15 Nov 2023 06:13:20 +0800");
/// assert_eq!(DateTime::parse("15 Nov 23 06:13:20 +0800").unwrap().to_unix(), 1_700_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    /// Minutes east of UTC.
    offset_minutes: i16,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339 in UTC) for seconds since 1970-01-01
/// UTC. Unlike [`DateTime`], any `i64` is accepted: the proleptic Gregorian
/// calendar goes on past year 9999 and before year 0 (a year that needs more
/// than four digits, or is negative, is written in full).
///
/// ```
/// assert_eq!(mime_codec::rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
/// ```
pub fn rfc3339_utc(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl DateTime {
    /// A date from its fields; `None` when a field is out of range. `offset_minutes` is east of
    /// UTC and must be within ±99:59; `second` may be 60 (a leap second).
    pub fn new(
        year: i32,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        offset_minutes: i16,
    ) -> Option<Self> {
        let ok = (0..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second <= 60
            && offset_minutes.abs() <= 99 * 60 + 59;
        ok.then_some(DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            offset_minutes,
        })
    }

    /// The local time at `offset_minutes` east of UTC for `unix_seconds` since 1970-01-01 UTC.
    pub fn from_unix(unix_seconds: i64, offset_minutes: i16) -> Option<Self> {
        let local = unix_seconds.checked_add(i64::from(offset_minutes) * 60)?;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Self::new(
            i32::try_from(y).ok()?,
            m as u8,
            d as u8,
            (secs / 3600) as u8,
            (secs / 60 % 60) as u8,
            (secs % 60) as u8,
            offset_minutes,
        )
    }

    /// Seconds since 1970-01-01 UTC.
    pub fn to_unix(&self) -> i64 {
        let days = days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset_minutes) * 60
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.year
    }
    /// The month, 1 to 12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month, 1 to 31.
    pub fn day(&self) -> u8 {
        self.day
    }
    /// The hour, 0 to 23.
    pub fn hour(&self) -> u8 {
        self.hour
    }
    /// The minute, 0 to 59.
    pub fn minute(&self) -> u8 {
        self.minute
    }
    /// The second, 0 to 60.
    pub fn second(&self) -> u8 {
        self.second
    }
    /// The offset from UTC in minutes east.
    pub fn offset_minutes(&self) -> i16 {
        self.offset_minutes
    }

    /// Parses a `Date` value: `[day-of-week,] day month year hour:minute[:second] zone`, accepting
    /// the obsolete forms: two- and three-digit years, named zones (UT, GMT, EST, ... and military
    /// letters, read as `-0000`), comments, a missing zone, extra whitespace, and `-` between date
    /// fields. The day of the week is not checked against the date, as RFC 5322 leaves to readers.
    ///
    /// A numeric zone that is not four digits is read as hours and minutes from the right:
    /// `-600` is `-0600` and `+530` is `+0530` (as Python's `email.utils` reads them); one or two
    /// digits are hours, so `+8` is `+0800`. [`Message::defects`](crate::Message::defects)
    /// reports such a zone as [`Defect::BadDateZone`](crate::Defect::BadDateZone).
    pub fn parse(s: &str) -> Option<Self> {
        Self::parse_checked(s).map(|(d, _)| d)
    }

    /// [`parse`](Self::parse), also saying whether the zone had to be guessed.
    pub(crate) fn parse_checked(s: &str) -> Option<(Self, ZoneReading)> {
        let cleaned: String = {
            let mut depth = 0usize;
            s.chars()
                .filter(|&c| match c {
                    '(' => {
                        depth += 1;
                        false
                    }
                    ')' if depth > 0 => {
                        depth -= 1;
                        false
                    }
                    _ => depth == 0,
                })
                .collect()
        };
        let mut rest = cleaned.trim();
        if let Some((head, tail)) = rest.split_once(',') {
            if head.trim().chars().all(|c| c.is_ascii_alphabetic()) {
                rest = tail;
            }
        }
        let mut fields = rest
            .split([' ', '\t', '\r', '\n'])
            .filter(|f| !f.is_empty());
        let mut first = fields.next()?;
        if first.chars().all(|c| c.is_ascii_alphabetic()) {
            // A day name without a comma.
            first = fields.next()?;
        }
        let (day, month, year) = if first.contains('-') {
            let mut p = first.split('-');
            (p.next()?, p.next()?, p.next()?.to_owned())
        } else {
            let month = fields.next()?;
            (first, month, fields.next()?.to_owned())
        };
        let day: u8 = day.parse().ok()?;
        let month_lc = month.to_ascii_lowercase();
        let month = MONTHS
            .iter()
            .position(|m| month_lc.starts_with(&m.to_ascii_lowercase()))? as u8
            + 1;
        let year_n: i32 = year.parse().ok()?;
        let year = match year.len() {
            1 | 2 if year_n < 50 => 2000 + year_n,
            1 | 2 => 1900 + year_n,
            3 => 1900 + year_n,
            _ => year_n,
        };
        let time = fields.next()?;
        let mut t = time.split(':');
        let hour: u8 = t.next()?.parse().ok()?;
        let minute: u8 = t.next()?.parse().ok()?;
        let second: u8 = match t.next() {
            Some(s) => s.parse().ok()?,
            None => 0,
        };
        let (offset, reading) = match fields.next() {
            None => (0, ZoneReading::Exact),
            Some(z) => parse_zone(z)?,
        };
        Self::new(year, month, day, hour, minute, second, offset).map(|d| (d, reading))
    }
}

/// How a zone was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZoneReading {
    /// A four-digit numeric zone, a known name, or none.
    Exact,
    /// A numeric zone of other than four digits, read by the rule in [`DateTime::parse`].
    Guessed,
}

fn parse_zone(z: &str) -> Option<(i16, ZoneReading)> {
    let b = z.as_bytes();
    if b.len() >= 2 && (b[0] == b'+' || b[0] == b'-') && b[1..].iter().all(u8::is_ascii_digit) {
        let digits = &z[1..];
        let n: i16 = digits.parse().ok()?;
        let (h, m, reading) = match digits.len() {
            4 => (n / 100, n % 100, ZoneReading::Exact),
            3 => (n / 100, n % 100, ZoneReading::Guessed),
            1 | 2 => (n, 0, ZoneReading::Guessed),
            _ => return None,
        };
        if m > 59 {
            return None;
        }
        let v = h * 60 + m;
        return Some((if b[0] == b'-' { -v } else { v }, reading));
    }
    Some((
        match z.to_ascii_uppercase().as_str() {
            "UT" | "UTC" | "GMT" | "Z" => 0,
            "EDT" => -4 * 60,
            "EST" | "CDT" => -5 * 60,
            "CST" | "MDT" => -6 * 60,
            "MST" | "PDT" => -7 * 60,
            "PST" => -8 * 60,
            // Military zones and anything else unknown: RFC 5322 section 4.3 says read as -0000.
            _ => 0,
        },
        ZoneReading::Exact,
    ))
}

impl fmt::Display for DateTime {
    /// Writes the RFC 5322 form, e.g. `Mon, 23 Nov 2026 14:00:00 +0000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let dow = DAYS[days.rem_euclid(7) as usize];
        let off = self.offset_minutes;
        let sign = if off < 0 { '-' } else { '+' };
        let off = off.unsigned_abs();
        write!(
            f,
            "{dow}, {} {} {:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
            self.day,
            MONTHS[usize::from(self.month - 1)],
            self.year,
            self.hour,
            self.minute,
            self.second,
            off / 60,
            off % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc5322() {
        let d = DateTime::from_unix(0, 0).unwrap();
        assert_eq!(d.to_string(), "Thu, 1 Jan 1970 00:00:00 +0000");
        let d = DateTime::new(2026, 11, 23, 14, 0, 5, -(3 * 60 + 30)).unwrap();
        assert_eq!(d.to_string(), "Mon, 23 Nov 2026 14:00:05 -0330");
        assert_eq!(DateTime::from_unix(d.to_unix(), -(3 * 60 + 30)), Some(d));
    }

    #[test]
    fn parses_current_and_obsolete_forms() {
        let want = DateTime::new(2003, 7, 1, 10, 52, 37, 2 * 60).unwrap();
        for s in [
            "Tue, 1 Jul 2003 10:52:37 +0200",
            "1 Jul 2003 10:52:37 +0200",
            "Tue,  1 Jul 2003 10:52:37 +0200 (CEST)",
            "Tue, 01 Jul 03 10:52:37 +0200",
            "Tue, 1 July 2003 10:52:37 +0200",
            "Tuesday, 1 Jul 2003 10:52:37 +0200",
            "Tue 1 Jul 2003 10:52:37 +0200",
            "1-Jul-2003 10:52:37 +0200",
        ] {
            assert_eq!(DateTime::parse(s), Some(want), "{s}");
        }
        assert_eq!(
            DateTime::parse("Fri, 21 Nov 97 09:55:06 GMT"),
            DateTime::new(1997, 11, 21, 9, 55, 6, 0)
        );
        assert_eq!(
            DateTime::parse("Thu, 13 Feb 103 23:32 EST"),
            DateTime::new(2003, 2, 13, 23, 32, 0, -300)
        );
        assert_eq!(
            DateTime::parse("13 Feb 2003 23:32:00 Q"),
            DateTime::new(2003, 2, 13, 23, 32, 0, 0)
        );
    }

    #[test]
    fn zones_of_other_than_four_digits_are_read_from_the_right() {
        let at = |off| DateTime::new(2003, 7, 1, 10, 52, 37, off);
        for (zone, off) in [("-600", -360), ("+530", 330), ("+8", 480), ("-10", -600)] {
            let s = format!("Tue, 1 Jul 2003 10:52:37 {zone}");
            assert_eq!(DateTime::parse(&s), at(off), "{zone}");
            assert_eq!(
                DateTime::parse_checked(&s).map(|(_, r)| r),
                Some(ZoneReading::Guessed)
            );
        }
        let s = "Tue, 1 Jul 2003 10:52:37 -0600";
        assert_eq!(
            DateTime::parse_checked(s),
            at(-360).map(|d| (d, ZoneReading::Exact))
        );
        assert_eq!(DateTime::parse("Tue, 1 Jul 2003 10:52:37 -06000"), None);
        assert_eq!(DateTime::parse("Tue, 1 Jul 2003 10:52:37 +975"), None);
    }

    #[test]
    fn rejects_nonsense() {
        for s in [
            "",
            "garbage",
            "32 Jan 2003 10:00 +0000",
            "1 Foo 2003 10:00",
            "29 Feb 2003 10:00",
            "1 Jan 2003 25:00",
            "1 Jan 2003 10:00 +0099",
        ] {
            assert_eq!(DateTime::parse(s), None, "{s}");
        }
        assert!(DateTime::from_unix(i64::MAX, 0).is_none());
    }

    #[test]
    fn unix_round_trip_over_centuries() {
        for t in [
            -2_208_988_800i64,
            -1,
            0,
            951_782_400,
            1_700_000_000,
            4_102_444_800,
        ] {
            for off in [0, 330, -480] {
                assert_eq!(DateTime::from_unix(t, off).unwrap().to_unix(), t);
            }
        }
    }

    #[test]
    fn rfc3339_utc_known_answers() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(1_796_532_321), "2026-12-06T04:45:21Z");
        assert_eq!(rfc3339_utc(253_402_300_800), "10000-01-01T00:00:00Z");
        // The extremes do not overflow.
        assert!(rfc3339_utc(i64::MAX).ends_with('Z'));
        assert!(rfc3339_utc(i64::MIN).ends_with('Z'));
    }

    proptest::proptest! {
        /// Agrees with `DateTime` wherever that is defined (years 0 to 9999).
        #[test]
        fn rfc3339_utc_agrees_with_date_time(unix in -62_167_219_200i64..=253_402_300_799) {
            let d = DateTime::from_unix(unix, 0).unwrap();
            let want = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                d.year(), d.month(), d.day(), d.hour(), d.minute(), d.second()
            );
            proptest::prop_assert_eq!(rfc3339_utc(unix), want);
        }
    }
}
