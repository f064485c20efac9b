//! One isolate's book for one lease key (account, app, endpoint group): the lease it holds, the
//! deliveries made since its last report, and the renewal in flight. Pure: the edge keeps one book
//! per key and does the waiting and the guard calls.
//!
//! The rules it keeps: a report carries every delivery exactly once; deliveries made while a
//! renewal is in flight wait for the next report; a renewal that ends can clear only its own mark;
//! a report that could not be sent is kept whole, under its own id, in the outbox, and goes with
//! the next call to the guard (which settles each id once).
//!
//! What it holds is bounded: the deliveries waiting for a report carry at most
//! [`IDS_PER_REPORT`] ids (past that they are cut into a report of their own, which waits in the
//! outbox for the next call), and the outbox at most [`MAX_OUTBOX`] reports (past that the oldest
//! is handed back to be logged and dropped).

use crate::domain::time::clock::UnixMillis;
use crate::domain::throttle::charge::Charge;
use crate::domain::throttle::verdict::Allowance;
use crate::domain::throttle::lease::{Deliveries, Lease, Report, Taken, IDS_PER_REPORT, MAX_OUTBOX};

#[derive(Debug, Default)]
pub struct LeaseBook {
    /// What report ids start with: the isolate and the lease key.
    source: String,
    /// Reports issued so far: the last part of each id.
    issued: u64,
    /// Reports the guard has not taken yet, to send again as they are.
    outbox: Vec<Report>,
    lease: Option<Lease>,
    /// Bumped at every new lease: a scheduled settlement of an older one does nothing.
    generation: u64,
    deliveries: Deliveries,
    /// The number of the renewal in flight, if one is.
    renewing: Option<u64>,
    /// Numbers the renewals, so an older one ending cannot clear a newer one's mark.
    renewals: u64,
}

impl LeaseBook {
    /// A book whose report ids start with `source` (unique to the isolate and lease key).
    #[must_use]
    pub fn new(source: String) -> Self {
        Self { source, ..Self::default() }
    }

    fn next_id(&mut self) -> String {
        self.issued += 1;
        format!("{}#{}", self.source, self.issued)
    }

    /// The reports waiting to be sent again, taken out of the book (put them back with
    /// [`reopen`](Self::reopen) if the guard does not take them).
    pub fn outbox(&mut self) -> Vec<Report> {
        std::mem::take(&mut self.outbox)
    }

    /// Spends one unit of the lease (and reserves a recipient's ids), if there is one that is
    /// live.
    pub fn take(&mut self, now: UnixMillis) -> Option<Taken> {
        self.lease.as_mut().and_then(|l| l.take(now))
    }

    /// Ends the lease (spent or expired) and hands back its report, with the deliveries.
    pub fn close(&mut self) -> Option<Report> {
        let lease = self.lease.take()?;
        let id = self.next_id();
        Some(lease.report(id, std::mem::take(&mut self.deliveries)))
    }

    /// Adds what a response under a lease delivered, pre-charges its items against the lease's
    /// slice of the month, and takes back the recipient ids it reserved and did not use (into the
    /// lease's slice when they came from it, else to be given back by the next report).
    /// Deliveries that would pass [`IDS_PER_REPORT`] ids are first cut into a report of their
    /// own, which waits in the outbox; returns a report the outbox had to drop to make room, if it
    /// was full.
    #[allow(clippy::too_many_arguments)]
    pub fn deliver(
        &mut self,
        charge: &Charge,
        now: UnixMillis,
        items: u64,
        ids: Vec<String>,
        untracked: u64,
        bytes: u64,
        unused: Option<Allowance>,
    ) -> Option<Report> {
        let mut unused = unused;
        if let Some(lease) = &mut self.lease {
            lease.spend_items(items);
            unused = unused.and_then(|a| lease.unreserve(a));
        }
        if let Some(unused) = unused {
            self.deliveries.give_back(unused);
        }
        let mut dropped = None;
        if !self.deliveries.ids.is_empty() && self.deliveries.ids.len() + ids.len() > IDS_PER_REPORT {
            let batch = self.deliveries_report(charge, now);
            dropped = self.push(batch);
        }
        self.deliveries.add(items, ids, untracked, bytes);
        dropped
    }

    /// The deliveries so far as a report of their own: no units, no slice.
    fn deliveries_report(&mut self, charge: &Charge, now: UnixMillis) -> Report {
        let deliveries = std::mem::take(&mut self.deliveries);
        let id = self.next_id();
        Report { id, charge: charge.clone(), granted_at: now, granted: 0, used: 0, deliveries, items: None, ids: None }
    }

    /// Deliveries with no lease left to carry them, as a report of their own. While a renewal is
    /// in flight they wait for it: the next lease's report carries them.
    pub fn orphaned(&mut self, charge: &Charge, now: UnixMillis) -> Option<Report> {
        if self.lease.is_some() || self.renewing.is_some() || self.deliveries.is_empty() {
            return None;
        }
        Some(self.deliveries_report(charge, now))
    }

    /// Puts back a report the guard did not take, whole and under its id, so nothing it counts
    /// is lost and nothing is counted twice. Returns the report the outbox had to drop to make
    /// room, if it was full (the oldest).
    pub fn reopen(&mut self, report: Report) -> Option<Report> {
        self.push(report)
    }

    fn push(&mut self, report: Report) -> Option<Report> {
        self.outbox.push(report);
        (self.outbox.len() > MAX_OUTBOX).then(|| self.outbox.remove(0))
    }

    /// Installs a new grant and spends its first unit for the request that asked for it. Returns
    /// the generation to settle later, what this request took, and a report to send at once if
    /// the grant could not be merged with a lease another request installed meanwhile.
    pub fn install(&mut self, lease: Lease, now: UnixMillis) -> (u64, Option<Taken>, Option<Report>) {
        let merged = self.lease.as_mut().is_some_and(|current| current.merge(&lease));
        let mut displaced = None;
        if !merged {
            // Another request installed a lease in an older window: settle that one now, with
            // the deliveries so far.
            if let Some(old) = self.lease.take() {
                let id = self.next_id();
                displaced = Some(old.report(id, std::mem::take(&mut self.deliveries)));
            }
            self.lease = Some(lease);
        }
        self.generation += 1;
        // A fresh grant is at least one unit and lives past `now`: this take succeeds.
        let quotas = self.take(now);
        (self.generation, quotas, displaced)
    }

    /// The settlement due for `generation`: that lease, if it is still held, with the deliveries.
    /// With no lease held, the deliveries stay for whoever reports next.
    pub fn due(&mut self, generation: u64) -> Option<Report> {
        if self.generation != generation {
            return None;
        }
        self.close()
    }

    /// Marks a renewal as in flight and returns its number.
    pub fn begin_renewal(&mut self) -> u64 {
        self.renewals += 1;
        self.renewing = Some(self.renewals);
        self.renewals
    }

    #[must_use]
    pub fn renewing(&self) -> bool {
        self.renewing.is_some()
    }

    /// Ends renewal `number`: clears the mark if it is still that renewal's.
    pub fn end_renewal(&mut self, number: u64) {
        if self.renewing == Some(number) {
            self.renewing = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::throttle::verdict::Quota;
    use crate::domain::access::id::Id;
    use crate::domain::throttle::limit::{Limit, LimitMode, Scope};

    const T0: UnixMillis = UnixMillis(1_800_000_000_000);

    fn charge() -> Charge {
        let limit = Limit { group: Id::new("lookup").unwrap(), scope: Scope::Account, requests: 100, window_seconds: 900, mode: LimitMode::Lease };
        Charge {
            app: Id::new("a").unwrap(),
            token_hash: crate::domain::access::token::TokenHash::from_hex(&"0".repeat(64)).unwrap(),
            group: Id::new("lookup").unwrap(),
            limits: vec![limit],
            monthly_item_cap: None,
            recipient: None,
            fingerprint: None,
            stream: false,
            connections_per_app: None,
            connections_per_account: None,
        }
    }

    fn grant(units: u64) -> Lease {
        let quota = Quota { name: "account-lookup".into(), limit: 100, remaining: 50, reset: 1_800_000_900, window_seconds: 900 };
        Lease::new(charge(), T0, units, vec![quota], None, None)
    }

    fn delivered(reports: &[Option<Report>]) -> u64 {
        reports.iter().flatten().map(|r| r.deliveries.items).sum()
    }

    #[test]
    fn a_lease_is_installed_spent_and_closed_with_its_deliveries() {
        let mut book = LeaseBook::default();
        assert!(book.take(T0).is_none());
        let (generation, first, displaced) = book.install(grant(2), T0);
        assert!(first.is_some() && displaced.is_none());
        book.deliver(&charge(), T0, 3, vec!["1".into()], 2, 100, None);
        assert!(book.take(T0).is_some());
        assert!(book.take(T0).is_none(), "two units, two requests");
        let report = book.close().unwrap();
        assert_eq!((report.granted, report.used, report.deliveries.items), (2, 2, 3));
        assert!(book.due(generation).is_none(), "closed already");
    }

    #[test]
    fn deliveries_made_during_a_renewal_ride_with_the_next_report() {
        let mut book = LeaseBook::default();
        book.install(grant(1), T0);
        let renewal = book.begin_renewal();
        let closed = book.close();
        // A response served from the old lease finishes while the renewal is in flight.
        book.deliver(&charge(), T0, 5, Vec::new(), 0, 10, None);
        assert!(book.orphaned(&charge(), T0).is_none(), "no call of its own while renewing");
        let (generation, _, _) = book.install(grant(1), T0);
        book.end_renewal(renewal);
        let next = book.due(generation);
        assert_eq!(next.as_ref().unwrap().deliveries.items, 5);
        assert_eq!(delivered(&[closed, next]), 5);
    }

    #[test]
    fn a_settlement_falling_due_during_a_renewal_loses_nothing() {
        let mut book = LeaseBook::default();
        let (generation, _, _) = book.install(grant(1), T0);
        let renewal = book.begin_renewal();
        let closed = book.close();
        book.deliver(&charge(), T0, 4, Vec::new(), 0, 10, None);
        // The old lease's timer fires before the renewal answers: nothing to settle, and the
        // deliveries stay in the book.
        let due = book.due(generation);
        assert!(due.is_none());
        // The renewal is refused: no lease, so the deliveries go out on their own.
        book.end_renewal(renewal);
        let orphans = book.orphaned(&charge(), T0);
        assert_eq!(delivered(&[closed, due, orphans]), 4);
        assert!(book.orphaned(&charge(), T0).is_none(), "sent once");
    }

    #[test]
    fn an_older_renewal_ending_does_not_clear_a_newer_ones_mark() {
        let mut book = LeaseBook::default();
        let first = book.begin_renewal();
        let second = book.begin_renewal();
        book.end_renewal(first);
        assert!(book.renewing(), "the second is still in flight");
        book.end_renewal(second);
        assert!(!book.renewing());
    }

    #[test]
    fn a_report_that_could_not_be_sent_is_kept_whole_under_its_id() {
        let mut book = LeaseBook::new("iso/acme|a|lookup".into());
        book.install(grant(3), T0);
        book.deliver(&charge(), T0, 2, Vec::new(), 0, 10, None);
        let report = book.close().unwrap();
        assert_eq!(report.id, "iso/acme|a|lookup#1");
        assert!(book.reopen(report.clone()).is_none());
        assert!(book.take(T0).is_none(), "no lease after a close");
        // What is delivered meanwhile goes in a report of its own, never into the kept one.
        book.deliver(&charge(), T0, 1, Vec::new(), 0, 10, None);
        let orphans = book.orphaned(&charge(), T0).unwrap();
        assert_eq!((orphans.id.as_str(), orphans.deliveries.items), ("iso/acme|a|lookup#2", 1));
        assert_eq!(book.outbox(), vec![report]);
        assert!(book.outbox().is_empty(), "taken once");
    }

    #[test]
    fn deliveries_are_cut_into_reports_of_bounded_ids_and_the_outbox_is_bounded() {
        let mut book = LeaseBook::new("x".into());
        book.install(grant(50), T0);
        let page = |n: usize| (0..100).map(|i| format!("{n}-{i}")).collect::<Vec<_>>();
        let mut dropped = Vec::new();
        // 2,000 pages of 100 ids: 200,000 ids, one cut every 5,000.
        for n in 0..2_000 {
            dropped.extend(book.deliver(&charge(), T0, 100, page(n), 0, 1_000, None));
        }
        let outbox = book.outbox();
        assert_eq!(outbox.len(), MAX_OUTBOX);
        assert!(outbox.iter().all(|r| r.deliveries.ids.len() == IDS_PER_REPORT && r.granted == 0));
        // 39 reports were cut (the last 5,000 ids wait for the lease's own report); the 23 oldest
        // were handed back to be logged, never silently lost.
        assert_eq!(dropped.len(), 39 - MAX_OUTBOX);
        assert_eq!(dropped[0].id, "x#1");
        let held = book.close().unwrap();
        let all: u64 = outbox.iter().chain(&dropped).chain([&held]).map(|r| r.deliveries.items).sum();
        assert_eq!(all, 200_000, "every item in exactly one report");
    }

    #[test]
    fn items_delivered_under_a_lease_spend_its_slice() {
        let mut book = LeaseBook::default();
        let quota = Quota { name: "account-lookup".into(), limit: 100, remaining: 50, reset: 1_800_000_900, window_seconds: 900 };
        let slice = crate::domain::throttle::verdict::ItemSlice { day: crate::domain::time::day::Day::of(T0), items: 150 };
        book.install(Lease::new(charge(), T0, 50, vec![quota], Some(slice), None), T0);
        book.deliver(&charge(), T0, 100, Vec::new(), 100, 10, None);
        assert!(book.take(T0).is_some());
        book.deliver(&charge(), T0, 100, Vec::new(), 100, 10, None);
        assert!(book.take(T0).is_none(), "the slice is spent: renew");
        let report = book.close().unwrap();
        assert_eq!((report.items, report.deliveries.items), (Some(slice), 200));
    }

    #[test]
    fn reserved_ids_a_response_left_go_back_to_the_slice_or_with_the_next_report() {
        let mut book = LeaseBook::default();
        let quota = Quota { name: "account-lookup".into(), limit: 100, remaining: 50, reset: 1_800_000_900, window_seconds: 900 };
        let entity = crate::domain::access::id::Id::new("northwind").unwrap();
        let slice = Allowance { entity, day: crate::domain::time::day::Day::of(T0), ids: 150 };
        let grant = || Lease::new(charge(), T0, 50, vec![quota.clone()], None, Some(slice.clone()));
        let (_, first, _) = book.install(grant(), T0);
        let first = first.unwrap().allowance.unwrap();
        let second = book.take(T0).unwrap().allowance.unwrap();
        assert_eq!((first.ids, second.ids), (100, 50));
        assert!(book.take(T0).is_none());
        // The first response carried 10 ids: 90 go back into the slice and are reserved again.
        book.deliver(&charge(), T0, 10, Vec::new(), 10, 10, Some(Allowance { ids: 90, ..first }));
        assert_eq!(book.take(T0).unwrap().allowance.unwrap().ids, 90);
        let closed = book.close().unwrap();
        assert_eq!(closed.ids.unwrap().ids, 0, "all 150 reserved when it closed");
        // The second response lands after its lease closed: its 50 unused ride with the next report.
        book.deliver(&charge(), T0, 0, Vec::new(), 0, 0, Some(Allowance { ids: 50, ..second }));
        let orphan = book.orphaned(&charge(), T0).unwrap();
        assert_eq!(orphan.deliveries.returned, vec![Allowance { ids: 50, ..slice }]);
    }

    #[test]
    fn report_ids_are_never_reused() {
        let mut book = LeaseBook::new("x".into());
        let mut ids = Vec::new();
        for _ in 0..3 {
            book.install(grant(1), T0);
            book.deliver(&charge(), T0, 1, Vec::new(), 0, 1, None);
            ids.push(book.close().unwrap().id);
        }
        book.install(grant(1), T0);
        // A grant in another window displaces the held lease with a report of its own.
        let later = UnixMillis(T0.0 + 900_000);
        let mut other = grant(1);
        other.granted_at = later;
        let (_, _, displaced) = book.install(other, later);
        ids.push(displaced.unwrap().id);
        assert_eq!(ids, ["x#1", "x#2", "x#3", "x#4"]);
    }
}
