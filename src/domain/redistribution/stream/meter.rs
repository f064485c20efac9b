//! What a stream sent and has not reported yet, and when the report is due.

use crate::domain::throttle::lease::Deliveries;
use crate::domain::time::clock::UnixMillis;

/// A report to the ledger is due once this many items were sent since the last one (the ids a
/// report tracks for the distinct count, so none is counted without its id)...
pub const REPORT_ITEMS: u64 = 1_000;
/// ...or once the oldest unreported item was sent this long ago, whichever comes first. A report
/// that failed is not tried again sooner than this.
pub const REPORT_EVERY_MS: u64 = 2_000;

/// What a stream sent and has not reported yet, and when the report is due: at
/// [`REPORT_ITEMS`] items, or [`REPORT_EVERY_MS`] after the oldest unreported item; at once when
/// the stream's holds run low (see `Budget`), but not within [`REPORT_EVERY_MS`] of a report the
/// guard did not answer.
#[derive(Debug, Default)]
pub struct Meter {
    unreported: Deliveries,
    /// When the oldest unreported item was sent.
    since: Option<UnixMillis>,
    /// Items sent over the whole stream.
    sent: u64,
    /// No report before this: the last one failed.
    quiet_until: Option<UnixMillis>,
}

impl Meter {
    /// Notes what reached the client: the batch's items and ids, and `bytes` sent.
    pub fn sent(&mut self, items: u64, ids: Vec<String>, bytes: u64, now: UnixMillis) {
        if items > 0 && self.since.is_none() {
            self.since = Some(now);
        }
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

    /// When the next report is due, if one is; `renew` when the stream's holds want renewing.
    #[must_use]
    pub fn due_at(&self, renew: bool) -> Option<UnixMillis> {
        let due = if renew || self.unreported.items >= REPORT_ITEMS {
            Some(self.since.unwrap_or(UnixMillis(0)))
        } else {
            self.since.map(|since| UnixMillis(since.0 + REPORT_EVERY_MS))
        }?;
        Some(match self.quiet_until {
            Some(quiet) if quiet > due => quiet,
            _ => due,
        })
    }

    #[must_use]
    pub fn due(&self, now: UnixMillis, renew: bool) -> bool {
        self.due_at(renew).is_some_and(|at| at <= now)
    }

    /// What to report now; the meter starts afresh.
    pub fn take(&mut self) -> Deliveries {
        self.since = None;
        std::mem::take(&mut self.unreported)
    }

    /// The guard answered the last report, or did not (`at` when it failed).
    pub fn answered(&mut self, failed_at: Option<UnixMillis>) {
        self.quiet_until = failed_at.map(|at| UnixMillis(at.0 + REPORT_EVERY_MS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixMillis = UnixMillis(1_800_000_000_000);

    #[test]
    fn reports_are_due_by_count_or_by_time_whichever_first() {
        let mut m = Meter::default();
        assert_eq!(m.due_at(false), None);
        m.sent(0, vec![], 2, T0); // a keep-alive: nothing to report yet
        assert_eq!(m.due_at(false), None);
        m.sent(1, vec!["1".into()], 100, UnixMillis(T0.0 + 10));
        assert!(!m.due(UnixMillis(T0.0 + 2_009), false));
        assert!(m.due(UnixMillis(T0.0 + 2_010), false));
        let d = m.take();
        assert_eq!((d.items, d.ids.len(), d.bytes), (1, 1, 102));
        assert_eq!(m.due_at(false), None);
        let ids: Vec<String> = (0..REPORT_ITEMS).map(|i| i.to_string()).collect();
        m.sent(REPORT_ITEMS, ids, 10, UnixMillis(T0.0 + 5_000));
        assert_eq!(m.unreported(), REPORT_ITEMS);
        assert!(m.due(UnixMillis(T0.0 + 5_000), false), "a full report is due at once");
        let d = m.take();
        assert_eq!((d.items, d.ids.len() as u64, d.untracked), (REPORT_ITEMS, REPORT_ITEMS, 0));
        assert_eq!(m.items(), REPORT_ITEMS + 1);
    }

    #[test]
    fn holds_running_low_make_a_report_due_at_once_but_not_right_after_a_failed_one() {
        let mut m = Meter::default();
        assert!(m.due(T0, true), "with nothing sent yet");
        m.sent(3, vec![], 3, T0);
        assert!(m.due(T0, true));
        let _ = m.take();
        m.answered(Some(T0));
        assert!(!m.due(UnixMillis(T0.0 + 1_999), true));
        assert!(m.due(UnixMillis(T0.0 + 2_000), true));
        m.answered(None);
        assert!(m.due(T0, true));
    }
}
