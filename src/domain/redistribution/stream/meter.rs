//! What a stream sent and has not reported yet, and when the next report is due. A stream
//! reports at a steady beat whether or not it sent anything: each report is also its heartbeat at
//! the guard and the moment the guard checks its token and account again.

use crate::domain::throttle::lease::{Deliveries, IDS_PER_REPORT};
use crate::domain::time::clock::UnixMillis;

/// A report is due once this many items were sent since the last one: as many ids as one report
/// tracks for the distinct count, so none is counted without its id...
pub const REPORT_ITEMS: u64 = IDS_PER_REPORT as u64;
/// ...or this long after the last one left, whichever comes first. A report that failed is not
/// tried again sooner than this.
pub const REPORT_EVERY_MS: u64 = 2_000;
/// A stream whose guard has answered none of its reports for this long ends: its revocation
/// cannot be checked, nor its holds renewed, and the guard lets its row go after as long.
pub const GUARD_SILENCE_MS: u64 = 15_000;

/// What a stream sent and has not reported yet, and when the report is due: [`REPORT_EVERY_MS`]
/// after the last, at [`REPORT_ITEMS`] items, or at once when the stream's holds run low (see
/// `Budget`); but not within [`REPORT_EVERY_MS`] of a report the guard did not answer.
#[derive(Debug)]
pub struct Meter {
    unreported: Deliveries,
    /// Items sent over the whole stream.
    sent: u64,
    /// When the last report left (at first: when the stream opened).
    last: UnixMillis,
    /// When the guard last answered (at first: when the stream opened).
    heard: UnixMillis,
    /// No report before this: the last one failed.
    quiet_until: Option<UnixMillis>,
}

impl Meter {
    #[must_use]
    pub fn new(opened: UnixMillis) -> Self {
        Self { unreported: Deliveries::default(), sent: 0, last: opened, heard: opened, quiet_until: None }
    }

    /// Notes what reached the client: the batch's items and ids, and `bytes` sent.
    pub fn sent(&mut self, items: u64, ids: Vec<String>, bytes: u64) {
        self.sent += items;
        let tracked = ids.len() as u64;
        self.unreported.add(items, ids, items.saturating_sub(tracked), bytes);
    }

    /// Items sent over the whole stream.
    #[must_use]
    pub fn items(&self) -> u64 {
        self.sent
    }

    /// Items sent since the last report.
    #[must_use]
    pub fn unreported(&self) -> u64 {
        self.unreported.items
    }

    /// When the next report is due; `renew` when the stream's holds want renewing.
    #[must_use]
    pub fn due_at(&self, renew: bool) -> UnixMillis {
        let due = if renew || self.unreported.items >= REPORT_ITEMS { self.last } else { UnixMillis(self.last.0 + REPORT_EVERY_MS) };
        match self.quiet_until {
            Some(quiet) if quiet > due => quiet,
            _ => due,
        }
    }

    #[must_use]
    pub fn due(&self, now: UnixMillis, renew: bool) -> bool {
        self.due_at(renew) <= now
    }

    /// What to report now; the meter starts afresh.
    pub fn take(&mut self, now: UnixMillis) -> Deliveries {
        self.last = now;
        std::mem::take(&mut self.unreported)
    }

    /// The guard answered the last report (`answered`), or did not, at `now`.
    pub fn answered(&mut self, answered: bool, now: UnixMillis) {
        if answered {
            self.heard = now;
            self.quiet_until = None;
        } else {
            self.quiet_until = Some(UnixMillis(now.0 + REPORT_EVERY_MS));
        }
    }

    /// Whether the guard has been silent too long for the stream to go on.
    #[must_use]
    pub fn guard_silent(&self, now: UnixMillis) -> bool {
        now.0.saturating_sub(self.heard.0) > GUARD_SILENCE_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixMillis = UnixMillis(1_800_000_000_000);

    fn at(ms: u64) -> UnixMillis {
        UnixMillis(T0.0 + ms)
    }

    #[test]
    fn a_report_is_due_every_two_seconds_or_when_its_ids_are_full() {
        let mut m = Meter::new(T0);
        // A heartbeat, with or without anything sent.
        assert!(!m.due(at(1_999), false));
        assert!(m.due(at(2_000), false));
        let d = m.take(at(2_000));
        assert!(d.is_empty());
        m.sent(0, vec![], 2); // a keep-alive
        m.sent(1, vec!["1".into()], 100);
        assert!(!m.due(at(3_999), false));
        assert!(m.due(at(4_000), false));
        let d = m.take(at(4_000));
        assert_eq!((d.items, d.ids.len(), d.bytes), (1, 1, 102));
        let ids: Vec<String> = (0..REPORT_ITEMS).map(|i| i.to_string()).collect();
        m.sent(REPORT_ITEMS, ids, 10);
        assert_eq!(m.unreported(), REPORT_ITEMS);
        assert!(m.due(at(4_001), false), "a full report is due at once");
        let d = m.take(at(4_001));
        assert_eq!((d.items, d.ids.len() as u64, d.untracked), (REPORT_ITEMS, REPORT_ITEMS, 0));
        assert_eq!(m.items(), REPORT_ITEMS + 1);
    }

    #[test]
    fn holds_running_low_make_a_report_due_at_once_but_not_right_after_a_failed_one() {
        let mut m = Meter::new(T0);
        assert!(m.due(T0, true), "a capped stream asks at once");
        let _ = m.take(T0);
        m.answered(false, T0);
        assert!(!m.due(at(1_999), true));
        assert!(m.due(at(2_000), true));
        m.answered(true, at(2_000));
        assert!(m.due(at(2_000), true));
    }

    #[test]
    fn a_guard_silent_for_fifteen_seconds_ends_the_stream() {
        let mut m = Meter::new(T0);
        m.answered(false, at(14_000));
        assert!(!m.guard_silent(at(GUARD_SILENCE_MS)));
        assert!(m.guard_silent(at(GUARD_SILENCE_MS + 1)));
        m.answered(true, at(GUARD_SILENCE_MS + 1));
        assert!(!m.guard_silent(at(2 * GUARD_SILENCE_MS)));
    }
}
