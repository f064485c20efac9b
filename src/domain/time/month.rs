//! Calendar months in UTC, for monthly caps: a cap resets at 00:00 UTC on the 1st.

use crate::domain::time::clock::UnixMillis;

use super::day::DAY_MS;

/// A calendar month, e.g. `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i64,
    pub month: u32,
}

impl Month {
    #[must_use]
    pub fn of(t: UnixMillis) -> Self {
        let (year, month, _) = civil_from_days(i64::try_from(t.0 / DAY_MS).unwrap_or(i64::MAX));
        Self { year, month }
    }

    /// `YYYY-MM`, the key under which a month's usage is stored.
    #[must_use]
    pub fn key(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// Reads `YYYY-MM`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (y, m) = text.split_once('-')?;
        let month: u32 = m.parse().ok()?;
        let ok = (1..=12).contains(&month) && y.len() == 4 && m.len() == 2 && y.bytes().all(|b| b.is_ascii_digit());
        ok.then_some(Self { year: y.parse().ok()?, month })
    }

    #[must_use]
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self { year: self.year + 1, month: 1 }
        } else {
            Self { year: self.year, month: self.month + 1 }
        }
    }

    /// 00:00 UTC on the first day of the month.
    #[must_use]
    pub fn start(self) -> UnixMillis {
        let days = days_from_civil(self.year, self.month, 1);
        UnixMillis(u64::try_from(days).unwrap_or(0).saturating_mul(DAY_MS))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_known_dates() {
        // 2026-11-22T20:00:00Z
        assert_eq!(Month::of(UnixMillis(1_795_377_600_000)).key(), "2026-11");
        assert_eq!(Month::of(UnixMillis(0)).key(), "1970-01");
        // 2024-02-29T12:00:00Z, a leap day.
        assert_eq!(Month::of(UnixMillis(1_709_208_000_000)).key(), "2024-02");
    }

    #[test]
    fn parses_its_own_key_only() {
        assert_eq!(Month::parse("2026-11"), Some(Month { year: 2026, month: 11 }));
        assert_eq!(Month::parse("2026-11").map(Month::key).as_deref(), Some("2026-11"));
        for bad in ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "+026-11", "", "2026-11-01"] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn month_boundaries_are_exact() {
        let dec = Month { year: 2026, month: 12 };
        let jan = dec.next();
        assert_eq!(jan, Month { year: 2027, month: 1 });
        // 2027-01-01T00:00:00Z = 1798761600 s.
        assert_eq!(jan.start(), UnixMillis(1_798_761_600_000));
        assert_eq!(Month::of(UnixMillis(1_798_761_600_000 - 1)), dec);
        assert_eq!(Month::of(UnixMillis(1_798_761_600_000)), jan);
        // February of a leap year ends on the 29th.
        let feb = Month { year: 2028, month: 2 };
        assert_eq!(feb.next().start().0 - feb.start().0, 29 * DAY_MS);
    }

    #[test]
    fn round_trips_every_month_of_a_century() {
        let mut m = Month { year: 2000, month: 1 };
        for _ in 0..1200 {
            assert_eq!(Month::of(m.start()), m);
            assert_eq!(Month::of(UnixMillis(m.next().start().0 - 1)), m);
            m = m.next();
        }
    }
}
