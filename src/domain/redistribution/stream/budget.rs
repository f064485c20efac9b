//! What an open stream may still send: its side of the holds the guard keeps for it
//! (`throttle::hold`), against the monthly cap and a recipient entity's 30-day ids.
//!
//! The stream spends from what the guard last said it holds. A report tells the guard what was
//! sent since the one before; while it is on its way the stream goes on spending, and the answer
//! brings the renewed holds (the unspent part the guard kept, plus a top-up). So what the stream
//! may send is always: what the guard last held for it, less the items of the report in flight,
//! less the items sent since it left.

#[derive(Debug)]
pub struct Budget {
    /// Whether a cap binds the stream (a monthly cap, or a recipient); `None` below when not.
    capped: bool,
    /// What the guard last said the stream holds.
    held: u64,
    /// Items of the report in flight, spent from `held`.
    pending: u64,
    /// Renew once no more than this is left: half of what the last answer held.
    low: u64,
    /// Whether the guard has answered a report of this stream yet.
    answered: bool,
}

impl Budget {
    /// A stream's budget when it opens: `held`, what its charge reserved (a recipient's page
    /// of ids; nothing against a monthly cap, so a capped stream asks at once).
    #[must_use]
    pub fn new(capped: bool, held: u64) -> Self {
        Self { capped, held, pending: 0, low: 0, answered: false }
    }

    /// Items that may still be sent, `unreported` of them sent since the last report left;
    /// `None` when nothing caps the stream.
    #[must_use]
    pub fn left(&self, unreported: u64) -> Option<u64> {
        self.capped.then(|| self.held.saturating_sub(self.pending + unreported))
    }

    /// Whether the holds want renewing: never renewed yet, or half spent, `spent` items counted
    /// since the last report left (sent, or decided on and on their way to the client), with
    /// `unreported` of them sent. Only what was sent can be reported: a report with nothing new
    /// would be answered with the holds the stream has, so half spent asks for one only once
    /// something was sent since the last.
    #[must_use]
    pub fn wants_renewal(&self, spent: u64, unreported: u64) -> bool {
        self.capped && (!self.answered || (unreported > 0 && self.left(spent).is_some_and(|left| left <= self.low)))
    }

    /// A report of `items` leaves.
    pub fn report(&mut self, items: u64) {
        self.pending = items;
    }

    /// The guard answered the report in flight: the stream now holds `held`.
    pub fn renewed(&mut self, held: u64) {
        self.held = held;
        self.pending = 0;
        self.answered = true;
        self.low = held / 2;
    }

    /// The report in flight was not answered: its items stay spent (the guard still counts the
    /// holds they were spent from in full, as it never saw them).
    pub fn unanswered(&mut self) {
        self.held = self.held.saturating_sub(self.pending);
        self.pending = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncapped_stream_has_no_budget() {
        let b = Budget::new(false, 0);
        assert_eq!(b.left(1_000_000), None);
        assert!(!b.wants_renewal(0, 0));
    }

    #[test]
    fn a_capped_stream_asks_at_once_and_sends_only_what_it_holds() {
        let b = Budget::new(true, 0);
        assert_eq!(b.left(0), Some(0));
        assert!(b.wants_renewal(0, 0));
        // A recipient's stream opens with the page of ids its charge reserved, and renews at once.
        let b = Budget::new(true, 100);
        assert_eq!(b.left(30), Some(70));
        assert!(b.wants_renewal(0, 0));
    }

    #[test]
    fn items_sent_while_a_report_is_in_flight_are_spent_from_the_holds_it_renews() {
        let mut b = Budget::new(true, 0);
        b.report(0);
        b.renewed(2_000);
        assert!(!b.wants_renewal(999, 999));
        assert!(b.wants_renewal(1_000, 1_000), "half spent");
        // A report of 1,000 leaves; 300 more are sent before it is answered.
        b.report(1_000);
        assert_eq!(b.left(300), Some(700));
        // The guard kept the 1,000 unspent and topped up to 2,000: 1,700 left after the 300.
        b.renewed(2_000);
        assert_eq!(b.left(300), Some(1_700));
    }

    #[test]
    fn items_on_their_way_are_spent_but_ask_for_a_renewal_only_once_some_were_sent() {
        let mut b = Budget::new(true, 0);
        b.report(0);
        b.renewed(10);
        // 7 items decided on and being written, none sent yet: 3 left, and nothing to report.
        assert_eq!(b.left(7), Some(3));
        assert!(!b.wants_renewal(7, 0));
        // Once 1 of them has reached the client, the report that renews can say so.
        assert!(b.wants_renewal(7, 1));
    }

    #[test]
    fn an_unanswered_report_leaves_its_items_spent() {
        let mut b = Budget::new(true, 100);
        b.report(60);
        b.unanswered();
        assert_eq!(b.left(0), Some(40));
        assert!(b.wants_renewal(0, 0), "still never renewed");
    }

    #[test]
    fn near_a_cap_renewals_come_at_half_of_each_smaller_hold() {
        let mut b = Budget::new(true, 0);
        b.report(0);
        b.renewed(9);
        assert!(!b.wants_renewal(4, 4));
        assert!(b.wants_renewal(5, 5));
        b.report(9);
        b.renewed(1);
        assert!(!b.wants_renewal(0, 0));
        assert!(b.wants_renewal(1, 1));
    }
}
