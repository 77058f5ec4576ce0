//! Calendar dates as whole days, the only notion of time a rule ever sees.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date: days since 1970-01-01 (proleptic Gregorian, no time zone).
///
/// This is the `day` of the WIT contract, so it crosses the plugin boundary as a
/// plain `s32`. Text form is ISO 8601 `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

/// Why a date string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date `{input}`: {reason} (expected YYYY-MM-DD)")]
pub struct DateError {
    input: String,
    reason: &'static str,
}

impl Date {
    /// The date `days` days after 1970-01-01.
    pub const fn from_days(days: i32) -> Self {
        Self(days)
    }

    /// Days since 1970-01-01.
    pub const fn days(self) -> i32 {
        self.0
    }

    /// The date for a year, month (1-12) and day (1-31), or `None` if it does not exist.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        // Howard Hinnant's days_from_civil: eras of 400 years, March-based years so
        // that the leap day is the last day of the year.
        let y = i64::from(year) - i64::from(month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        i32::try_from(era * 146_097 + doe - 719_468).ok().map(Self)
    }

    /// Year, month (1-12) and day of month.
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = i64::from(self.0) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        (year, month, day)
    }

    /// The date `days` later (earlier when negative).
    pub const fn add_days(self, days: i32) -> Self {
        Self(self.0 + days)
    }

    /// Whole days from `earlier` to `self` (negative when `earlier` is later).
    pub const fn days_since(self, earlier: Date) -> i32 {
        self.0 - earlier.0
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl FromStr for Date {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| DateError {
            input: s.to_owned(),
            reason,
        };
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(err("wrong shape"));
        }
        // Digits by hand: three dates a line, and `str::parse` is most of a
        // line's date cost.
        let num = |range: std::ops::Range<usize>| -> Result<u32, DateError> {
            b[range].iter().try_fold(0u32, |n, &c| {
                if c.is_ascii_digit() {
                    Ok(n * 10 + u32::from(c - b'0'))
                } else {
                    Err(err("not a number"))
                }
            })
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&month) {
            return Err(err("month out of range"));
        }
        Date::from_ymd(year as i32, month, day).ok_or_else(|| err("day out of range"))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The longest span [`parse_days`] accepts: ten years.
pub const MAX_SPAN_DAYS: i32 = 3_650;

/// A span of days as people write it: `90d`, `12w` or a plain number of days,
/// from one day up to [`MAX_SPAN_DAYS`]. `None` for anything else.
pub fn parse_days(text: &str) -> Option<i32> {
    let (number, unit) = match (text.strip_suffix('d'), text.strip_suffix('w')) {
        (Some(n), _) => (n, 1),
        (_, Some(n)) => (n, 7),
        _ => (text, 1),
    };
    let days = number.parse::<i32>().ok()?.checked_mul(unit)?;
    (1..=MAX_SPAN_DAYS).contains(&days).then_some(days)
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_of_days() {
        assert_eq!(super::parse_days("90d"), Some(90));
        assert_eq!(super::parse_days("12w"), Some(84));
        assert_eq!(super::parse_days("30"), Some(30));
        assert_eq!(super::parse_days("3650d"), Some(3_650));
        for bad in ["0d", "-5", "3651", "522w", "99999999999w", "soon", "", "d"] {
            assert_eq!(super::parse_days(bad), None, "{bad}");
        }
    }

    use super::*;

    #[test]
    fn epoch_and_known_days() {
        assert_eq!(Date::from_ymd(1970, 1, 1), Some(Date(0)));
        assert_eq!(Date::from_ymd(1970, 1, 2), Some(Date(1)));
        assert_eq!(Date::from_ymd(1969, 12, 31), Some(Date(-1)));
        // 2000-03-01 is 11017 days after the epoch (30 years, 7 leap days + Jan..Feb 2000 (60)).
        assert_eq!(Date::from_ymd(2000, 3, 1), Some(Date(11_017)));
        assert_eq!(Date::from_ymd(2026, 11, 24), Some(Date(20_781)));
    }

    #[test]
    fn round_trips_every_day_across_leap_rules() {
        let start = Date::from_ymd(1896, 1, 1).unwrap();
        let end = Date::from_ymd(2104, 12, 31).unwrap();
        for d in start.days()..=end.days() {
            let (y, m, day) = Date(d).ymd();
            assert_eq!(Date::from_ymd(y, m, day), Some(Date(d)));
        }
    }

    #[test]
    fn leap_days() {
        assert!(Date::from_ymd(2024, 2, 29).is_some());
        assert!(Date::from_ymd(2000, 2, 29).is_some());
        assert!(Date::from_ymd(1900, 2, 29).is_none());
        assert!(Date::from_ymd(2026, 2, 29).is_none());
    }

    #[test]
    fn parses_and_prints_iso() {
        let d: Date = "2026-02-28".parse().unwrap();
        assert_eq!(d.to_string(), "2026-02-28");
        assert_eq!(d.add_days(1).to_string(), "2026-03-01");
        assert_eq!(d.add_days(1).days_since(d), 1);
    }

    #[test]
    fn rejects_bad_dates_with_reason() {
        for (input, reason) in [
            ("2026-13-01", "month out of range"),
            ("2026-02-30", "day out of range"),
            ("2026-2-3", "wrong shape"),
            ("20x6-01-01", "not a number"),
            ("", "wrong shape"),
        ] {
            let err = input.parse::<Date>().unwrap_err();
            assert_eq!(err.reason, reason, "{input}");
            assert!(err.to_string().contains(input));
        }
    }
}
