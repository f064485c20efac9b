//! UTC days, numbered from the Unix epoch: the unit of the ledger, the daily de-dup, the
//! fingerprints and the 30-day redistribution window. The one place a day's length is written.

use serde::{Deserialize, Serialize};

use super::clock::UnixMillis;
use super::month::Month;

/// Milliseconds in a UTC day (Unix time has no leap seconds).
pub const DAY_MS: u64 = 86_400_000;

/// A UTC day: days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Day(pub u64);

impl Day {
    /// The day an instant falls in.
    #[must_use]
    pub fn of(t: UnixMillis) -> Self {
        Self(t.0 / DAY_MS)
    }

    /// Its first millisecond.
    #[must_use]
    pub fn start(self) -> UnixMillis {
        UnixMillis(self.0.saturating_mul(DAY_MS))
    }

    /// The day `n` days earlier (never before the epoch).
    #[must_use]
    pub fn minus(self, n: u64) -> Self {
        Self(self.0.saturating_sub(n))
    }

    /// Seconds from `now` to the next UTC midnight, rounded up (at least 1).
    #[must_use]
    pub fn seconds_to_next(now: UnixMillis) -> u64 {
        (DAY_MS - now.0 % DAY_MS).div_ceil(1000)
    }

    /// `YYYY-MM-DD`.
    #[must_use]
    pub fn label(self) -> String {
        let month = Month::of(self.start());
        let first = Self::of(month.start()).0;
        format!("{}-{:02}", month.key(), self.0 - first + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_utc_midnight() {
        let t = UnixMillis(1_795_305_600_000 + 3_600_000); // 2026-11-22T01:00Z
        let day = Day::of(t);
        assert_eq!(day.start(), UnixMillis(1_795_305_600_000));
        assert_eq!(day.label(), "2026-11-22");
        assert_eq!(Day::seconds_to_next(t), 23 * 3600);
        assert_eq!(Day::seconds_to_next(day.start()), 86_400);
        assert_eq!(Day::seconds_to_next(UnixMillis(day.start().0 + DAY_MS - 1)), 1);
    }

    #[test]
    fn days_are_labelled_in_utc() {
        assert_eq!(Day(0).label(), "1970-01-01");
        // 2026-11-22 is day 20779.
        assert_eq!(Day(20_779).label(), "2026-11-22");
        assert_eq!(Day(20_789).label(), "2026-12-02");
    }

    #[test]
    fn labels_cross_months_and_years() {
        assert_eq!(Day(0).label(), "1970-01-01");
        assert_eq!(Day::of(UnixMillis(1_798_761_600_000)).label(), "2027-01-01");
        assert_eq!(Day::of(UnixMillis(1_798_761_600_000 - 1)).label(), "2026-12-31");
        assert_eq!(Day(5).minus(30), Day(0));
    }
}
