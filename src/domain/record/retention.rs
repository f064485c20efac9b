//! How long the guard keeps what it keeps. Everything stored per request has a retention here;
//! the audit chain alone is kept for good, and it grows only with admin changes, detection
//! events and one seal a day.

use crate::domain::time::clock::UnixMillis;
use crate::domain::time::day::{Day, DAY_MS};

/// Days the ledger (and its refusal counts) is kept: two years and a month, beyond an audit
/// clause's two-year lookback.
pub const LEDGER_DAYS: u64 = 2 * 366 + 31;
/// Days of item ids kept for the daily de-dup: today and yesterday.
pub const SEEN_DAYS: u64 = 2;
/// Days of client fingerprints kept for the resale rule (its events keep the evidence).
pub const FINGERPRINT_DAYS: u64 = 7;
/// Days of per-entity id counts kept: the 30-day redistribution window and today.
pub const ENTITY_DAYS: u64 = 31;
/// Detection events are kept as long as the ledger.
pub const EVENT_DAYS: u64 = LEDGER_DAYS;
/// A counter untouched for this long belongs to a window long over (windows are at most 31
/// days): it is dropped.
pub const COUNTER_DAYS: u64 = 62;
/// How long the ids of settled lease reports are kept: a report is sent again with the isolate's
/// next call for its key, within seconds. One row per report, and a report serves at least one
/// request, so the table holds at most an hour's requests, usually far fewer.
pub const SETTLEMENT_MS: u64 = 3_600_000;
/// Rows deleted per table in one housekeeping pass, so no pass takes long; a pass that hits it
/// is followed by another.
pub const PRUNE_BATCH: u64 = 2_000;

/// The oldest day whose ledger rows are still kept.
#[must_use]
pub fn oldest_ledger_day(now: UnixMillis) -> Day {
    Day::of(now).minus(LEDGER_DAYS - 1)
}

/// What is pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    SeenItems,
    Fingerprints,
    EntityDays,
    Ledger,
    Events,
    Counters,
    Settlements,
    /// Streams whose heartbeat ran out: they died without a word.
    Streams,
}

/// Everything of `what` from before `before` goes: a day number for the day-keyed tables,
/// Unix milliseconds for events, counters, settlements and streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoff {
    pub what: Kept,
    pub before: u64,
}

/// The cutoffs at `now`.
#[must_use]
pub fn cutoffs(now: UnixMillis) -> [Cutoff; 8] {
    let today = Day::of(now);
    let day = |keep: u64| today.minus(keep - 1).0;
    let ms = |keep: u64| now.0.saturating_sub(keep.saturating_mul(DAY_MS));
    [
        Cutoff { what: Kept::SeenItems, before: day(SEEN_DAYS) },
        Cutoff { what: Kept::Fingerprints, before: day(FINGERPRINT_DAYS) },
        Cutoff { what: Kept::EntityDays, before: day(ENTITY_DAYS) },
        Cutoff { what: Kept::Ledger, before: oldest_ledger_day(now).0 },
        Cutoff { what: Kept::Events, before: ms(EVENT_DAYS) },
        Cutoff { what: Kept::Counters, before: ms(COUNTER_DAYS) },
        Cutoff { what: Kept::Settlements, before: now.0.saturating_sub(SETTLEMENT_MS) },
        Cutoff { what: Kept::Streams, before: now.0 },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_keep_exactly_the_stated_days() {
        let now = UnixMillis(1_800_000_000_000);
        let today = Day::of(now).0;
        let c = cutoffs(now);
        assert_eq!(c[0], Cutoff { what: Kept::SeenItems, before: today - 1 });
        assert_eq!(c[2], Cutoff { what: Kept::EntityDays, before: today - 30 });
        assert_eq!(c[3].before, today - LEDGER_DAYS + 1);
        assert_eq!(oldest_ledger_day(now).0, c[3].before);
        assert_eq!(c[4].before, now.0 - EVENT_DAYS * DAY_MS);
        // A stream is pruned once its own time has run out.
        assert_eq!(c[7], Cutoff { what: Kept::Streams, before: now.0 });
        // Near the epoch nothing underflows.
        assert!(cutoffs(UnixMillis(5)).iter().filter(|c| c.what != Kept::Streams).all(|c| c.before == 0));
    }
}
