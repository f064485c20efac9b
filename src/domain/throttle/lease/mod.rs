//! Lease mode: an isolate takes a slice of a window from the account's guard and spends it
//! locally, so most requests make no Durable Object call.
//!
//! The guard charges the whole slice when it grants it, so the counts it keeps never exceed a
//! limit: the origin never serves more than a limit (overshoot 0). What the mode gives up is the
//! other half of exactness. A request can be refused while units sit unused in another isolate's
//! lease; at most [`LEASE_SIZE`] per isolate and key, until that lease returns them, within
//! [`LEASE_TTL_MS`]. Revocation and suspension reach a lease-mode request within the same
//! [`LEASE_TTL_MS`]. Each lease reports the requests it served and the items they delivered when
//! it is renewed or ends. An isolate that dies holding a lease leaves its units charged for the
//! window and its unreported requests out of the ledger: strict mode is for exactness across
//! restarts.
//!
//! For a recipient, a lease also carries a slice of its entity's 30-day ids, reserved at the
//! guard when it is granted. Each request takes its reservation (what one response may carry,
//! at most [`IDS_PER_RESPONSE`]) out of the slice before it goes to the origin, and gives back
//! what its response did not use: the entity never receives more than its cap.
//!
//! Under a monthly item cap a lease also carries a slice of the month's items ([`ItemSlice`]),
//! reserved at the guard when it is granted. The isolate spends it as responses deliver (their
//! items, repeats included: it cannot see the day's de-dup) and renews once it is spent. The
//! lease's report gives the whole slice back and carries the delivered ids, which the guard
//! inserts into the day's de-dup set: the month then holds the distinct items. What a lease cannot
//! bound is what is already in flight: responses admitted before the slice ran out deliver in
//! full, so the month can pass its cap by the items of the responses in flight when it ran out,
//! as in strict mode (where the response that crosses the cap is delivered whole).

pub mod book;
pub mod key;

use serde::{Deserialize, Serialize};

use crate::domain::time::clock::UnixMillis;
use crate::domain::throttle::charge::{Charge, IDS_PER_RESPONSE};
use crate::domain::throttle::verdict::{Allowance, ItemSlice, Quota};
use crate::domain::throttle::limit::{Limit, LimitMode};
use crate::domain::time::day::Day;
use crate::domain::time::window::Window;

/// Units an isolate asks for at a time.
pub const LEASE_SIZE: u64 = 50;
/// Longest a lease lives before its unused units go back to the guard.
pub const LEASE_TTL_MS: u64 = 2_000;
/// Items of a monthly cap a lease asks for per unit: the API's largest page, so a slice lasts
/// about as long as the lease's units at full pages (5,000 items for a lease of 50).
pub const ITEMS_PER_UNIT: u64 = IDS_PER_RESPONSE;
/// Ids one report carries for the daily de-dup (about 22 bytes each in the isolate). An
/// isolate's deliveries are cut into a report of their own before they pass it; ids past it in
/// one response count as distinct without their ids (usage is never undercounted).
pub const IDS_PER_REPORT: usize = 5_000;
/// Reports an isolate keeps per key for the guard's next call: deliveries cut at
/// [`IDS_PER_REPORT`] and reports the guard did not take. Past it the oldest is dropped, and
/// logged with its counts: at most `MAX_OUTBOX × IDS_PER_REPORT` ids wait per key.
pub const MAX_OUTBOX: usize = 16;

/// Whether a request is served from leases: every limit of its group asks for it.
#[must_use]
pub fn applies(limits: &[Limit]) -> bool {
    !limits.is_empty() && limits.iter().all(|l| l.mode == LimitMode::Lease)
}

/// What an isolate delivered under its leases since its last report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deliveries {
    pub items: u64,
    pub ids: Vec<String>,
    pub untracked: u64,
    pub bytes: u64,
    /// Recipient ids reserved for responses and not used by them, to give back to the entity
    /// (one entry per entity and day).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returned: Vec<Allowance>,
}

impl Deliveries {
    pub fn add(&mut self, items: u64, ids: Vec<String>, untracked: u64, bytes: u64) {
        self.items += items;
        self.bytes += bytes;
        self.untracked += untracked;
        let room = IDS_PER_REPORT.saturating_sub(self.ids.len());
        let extra = ids.len().saturating_sub(room) as u64;
        self.ids.extend(ids.into_iter().take(room));
        self.untracked += extra;
    }

    /// Notes reserved ids a response did not use, for the entity's day they were reserved on.
    pub fn give_back(&mut self, unused: Allowance) {
        if unused.ids == 0 {
            return;
        }
        match self.returned.iter_mut().find(|r| r.entity == unused.entity && r.day == unused.day) {
            Some(r) => r.ids += unused.ids,
            None => self.returned.push(unused),
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items == 0 && self.bytes == 0 && self.ids.is_empty() && self.untracked == 0 && self.returned.is_empty()
    }
}

/// What a lease did, sent to the guard when it is renewed or ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Unique to the report (the isolate, the lease key, a number): the guard settles each id
    /// once, so a report sent again after a lost answer is not counted twice.
    pub id: String,
    pub charge: Charge,
    pub granted_at: UnixMillis,
    pub granted: u64,
    pub used: u64,
    pub deliveries: Deliveries,
    /// The lease's slice of the monthly cap, given back whole: the month keeps the distinct
    /// items of the deliveries instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<ItemSlice>,
    /// The part of the lease's slice of a recipient's ids that no request reserved, given back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Allowance>,
}

/// A lease's slice of the monthly cap, and the items its responses have delivered against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemBudget {
    pub slice: ItemSlice,
    pub spent: u64,
}

/// A lease's slice of its recipient's entity ids, and how many requests have reserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdBudget {
    pub slice: Allowance,
    pub reserved: u64,
}

/// What one request takes from a lease: the windows as this isolate sees them, and for a
/// recipient its reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub quotas: Vec<Quota>,
    pub allowance: Option<Allowance>,
}

/// A lease held by one isolate for one account, app, endpoint group and recipient.
#[derive(Debug, Clone)]
pub struct Lease {
    pub charge: Charge,
    pub granted_at: UnixMillis,
    pub granted: u64,
    pub used: u64,
    /// The windows as the guard left them after the grant.
    pub quotas: Vec<Quota>,
    pub expires_at: UnixMillis,
    /// Under a monthly cap: the items the lease may deliver.
    pub items: Option<ItemBudget>,
    /// For a recipient: the ids its requests may reserve.
    pub ids: Option<IdBudget>,
}

impl Lease {
    /// A lease never outlives its windows, nor, with a slice of the month or of a recipient's
    /// ids, its UTC day (so a slice is always given back to the day it came from, and spent
    /// within it).
    #[must_use]
    pub fn new(charge: Charge, granted_at: UnixMillis, granted: u64, quotas: Vec<Quota>, items: Option<ItemSlice>, ids: Option<Allowance>) -> Self {
        let window_end = charge
            .limits
            .iter()
            .map(|l| Window::containing(granted_at, l.window_seconds * 1000).end())
            .min()
            .unwrap_or(granted_at);
        let slice_day = items.map(|s| s.day).or(ids.as_ref().map(|a| a.day));
        let day_end = slice_day.map_or(window_end, |day| Day(day.0.min(Day::of(granted_at).0) + 1).start());
        let expires_at = granted_at.plus_millis(LEASE_TTL_MS).min(window_end).min(day_end);
        let items = items.map(|slice| ItemBudget { slice, spent: 0 });
        let ids = ids.map(|slice| IdBudget { slice, reserved: 0 });
        Self { charge, granted_at, granted, used: 0, quotas, expires_at, items, ids }
    }

    /// Spends one unit, and for a recipient reserves what one response may carry; `None` when
    /// the lease is spent (its units, its items or its ids) or expired.
    pub fn take(&mut self, now: UnixMillis) -> Option<Taken> {
        let items_spent = self.items.as_ref().is_some_and(|b| b.spent >= b.slice.items);
        let ids_spent = self.ids.as_ref().is_some_and(|b| b.reserved >= b.slice.ids);
        if now >= self.expires_at || self.used >= self.granted || items_spent || ids_spent {
            return None;
        }
        self.used += 1;
        let left = self.granted - self.used;
        let allowance = self.ids.as_mut().map(|b| {
            let ids = (b.slice.ids - b.reserved).min(IDS_PER_RESPONSE);
            b.reserved += ids;
            Allowance { ids, ..b.slice.clone() }
        });
        let quotas = self.quotas.iter().map(|q| Quota { remaining: q.remaining + left, ..q.clone() }).collect();
        Some(Taken { quotas, allowance })
    }

    /// Takes back reserved ids a response did not use, if they came from this lease's entity and
    /// day; otherwise hands them back, to be returned to the guard.
    pub fn unreserve(&mut self, unused: Allowance) -> Option<Allowance> {
        match &mut self.ids {
            Some(b) if b.slice.entity == unused.entity && b.slice.day == unused.day => {
                b.reserved = b.reserved.saturating_sub(unused.ids);
                None
            }
            _ => Some(unused),
        }
    }

    /// Pre-charges what a response delivered against the lease's items (repeats included).
    pub fn spend_items(&mut self, items: u64) {
        if let Some(budget) = &mut self.items {
            budget.spent = budget.spent.saturating_add(items);
        }
    }

    /// Adds a second grant made in the same windows, and for a slice of the month on the same
    /// day (two requests renewed at once). Returns `false`, changing nothing, when they differ.
    pub fn merge(&mut self, other: &Lease) -> bool {
        let same_windows = self.charge.limits.iter().all(|l| {
            let len = l.window_seconds * 1000;
            Window::containing(self.granted_at, len) == Window::containing(other.granted_at, len)
        });
        let same_day = match (&self.items, &other.items) {
            (None, None) => true,
            (Some(a), Some(b)) => a.slice.day == b.slice.day,
            _ => false,
        };
        let same_ids = match (&self.ids, &other.ids) {
            (None, None) => true,
            (Some(a), Some(b)) => a.slice.entity == b.slice.entity && a.slice.day == b.slice.day,
            _ => false,
        };
        if !(same_windows && same_day && same_ids) {
            return false;
        }
        self.granted += other.granted;
        self.quotas.clone_from(&other.quotas);
        self.expires_at = self.expires_at.min(other.expires_at);
        if let (Some(mine), Some(theirs)) = (&mut self.items, &other.items) {
            mine.slice.items += theirs.slice.items;
        }
        if let (Some(mine), Some(theirs)) = (&mut self.ids, &other.ids) {
            mine.slice.ids += theirs.slice.ids;
        }
        true
    }

    #[must_use]
    pub fn report(&self, id: String, deliveries: Deliveries) -> Report {
        Report {
            id,
            charge: self.charge.clone(),
            granted_at: self.granted_at,
            granted: self.granted,
            used: self.used,
            deliveries,
            items: self.items.as_ref().map(|b| b.slice),
            ids: self.ids.as_ref().map(|b| Allowance { ids: b.slice.ids.saturating_sub(b.reserved), ..b.slice.clone() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::id::Id;
    use crate::domain::throttle::limit::Scope;

    fn limit(mode: LimitMode) -> Limit {
        Limit { group: Id::new("lookup").unwrap(), scope: Scope::Account, requests: 100, window_seconds: 900, mode }
    }

    fn charge() -> Charge {
        Charge {
            app: Id::new("a").unwrap(),
            token_hash: crate::domain::access::token::TokenHash::from_hex(&"0".repeat(64)).unwrap(),
            group: Id::new("lookup").unwrap(),
            limits: vec![limit(LimitMode::Lease)],
            monthly_item_cap: None,
            recipient: None,
            fingerprint: None,
            stream: false,
            connections_per_app: None,
            connections_per_account: None,
        }
    }

    fn quota(remaining: u64) -> Quota {
        Quota { name: "account-lookup".into(), limit: 100, remaining, reset: 1_800_000_900, window_seconds: 900 }
    }

    const T0: UnixMillis = UnixMillis(1_800_000_000_000);

    #[test]
    fn applies_only_when_every_limit_asks() {
        assert!(applies(&[limit(LimitMode::Lease)]));
        assert!(!applies(&[limit(LimitMode::Lease), limit(LimitMode::Strict)]));
        assert!(!applies(&[]));
    }

    #[test]
    fn a_lease_is_spent_unit_by_unit_until_empty_or_expired() {
        let mut lease = Lease::new(charge(), T0, 3, vec![quota(40)], None, None);
        assert_eq!(lease.take(T0).unwrap().quotas[0].remaining, 42);
        assert_eq!(lease.take(T0).unwrap().quotas[0].remaining, 41);
        assert_eq!(lease.take(T0).unwrap().quotas[0].remaining, 40);
        assert!(lease.take(T0).is_none());
        let mut fresh = Lease::new(charge(), T0, 3, vec![quota(40)], None, None);
        assert!(fresh.take(T0.plus_millis(LEASE_TTL_MS)).is_none(), "expired leases are not spent");
        let r = lease.report("r1".into(), Deliveries::default());
        assert_eq!((r.granted, r.used), (3, 3));
    }

    #[test]
    fn a_lease_never_outlives_its_window() {
        let near_end = UnixMillis(1_800_000_900_000 - 500);
        let lease = Lease::new(charge(), near_end, 10, vec![quota(1)], None, None);
        assert_eq!(lease.expires_at, UnixMillis(1_800_000_900_000));
    }

    #[test]
    fn grants_in_the_same_window_merge_and_others_do_not() {
        let mut a = Lease::new(charge(), T0, 5, vec![quota(10)], None, None);
        assert!(a.merge(&Lease::new(charge(), T0.plus_millis(10), 5, vec![quota(5)], None, None)));
        assert_eq!(a.granted, 10);
        assert!(!a.merge(&Lease::new(charge(), T0.plus_millis(900_000), 5, vec![quota(5)], None, None)));
        assert_eq!(a.granted, 10);
    }

    #[test]
    fn deliveries_keep_a_bounded_list_of_ids() {
        let mut d = Deliveries::default();
        d.add(4_900, (0..4_900).map(|i| i.to_string()).collect(), 0, 10);
        d.add(200, (0..200).map(|i| format!("x{i}")).collect(), 0, 10);
        assert_eq!(d.ids.len(), IDS_PER_REPORT);
        assert_eq!(d.untracked, 100);
        assert_eq!(d.items, 5_100);
    }

    #[test]
    fn an_item_slice_is_spent_as_responses_deliver_and_given_back_whole() {
        let slice = ItemSlice { day: Day::of(T0), items: 250 };
        let mut lease = Lease::new(charge(), T0, 10, vec![quota(40)], Some(slice), None);
        assert!(lease.take(T0).is_some());
        lease.spend_items(100);
        assert!(lease.take(T0).is_some());
        // Both responses were in flight when the slice ran out: they deliver in full.
        lease.spend_items(100);
        lease.spend_items(100);
        assert!(lease.take(T0).is_none(), "units are left, items are not");
        assert_eq!(lease.report("r".into(), Deliveries::default()).items, Some(slice));
        // Another day's slice does not merge into it; the same day's does.
        let next_day = ItemSlice { day: Day(slice.day.0 + 1), items: 10 };
        assert!(!lease.merge(&Lease::new(charge(), T0, 5, vec![quota(5)], Some(next_day), None)));
        assert!(lease.merge(&Lease::new(charge(), T0, 5, vec![quota(5)], Some(ItemSlice { items: 100, ..slice }), None)));
        assert!(lease.take(T0).is_some(), "300 spent of 350");
    }

    #[test]
    fn a_recipients_slice_is_reserved_per_request_and_what_responses_leave_comes_back() {
        let slice = Allowance { entity: crate::domain::access::id::Id::new("northwind").unwrap(), day: Day::of(T0), ids: 250 };
        let mut lease = Lease::new(charge(), T0, 10, vec![quota(40)], None, Some(slice.clone()));
        let reserved: Vec<u64> = (0..3).map(|_| lease.take(T0).unwrap().allowance.unwrap().ids).collect();
        assert_eq!(reserved, [100, 100, 50], "what one response may carry, within the slice");
        assert!(lease.take(T0).is_none(), "250 reserved: nothing more to hand out");
        // A response that carried 1 id gives 99 back into the slice.
        assert_eq!(lease.unreserve(Allowance { ids: 99, ..slice.clone() }), None);
        assert_eq!(lease.take(T0).unwrap().allowance.unwrap().ids, 99);
        // Another day's reservation is not this slice's: it is handed back for the guard.
        let other = Allowance { ids: 5, day: Day(slice.day.0 - 1), ..slice.clone() };
        assert_eq!(lease.unreserve(other.clone()), Some(other));
        // 30 more come back and nobody reserves them: the report gives them to the entity.
        assert_eq!(lease.unreserve(Allowance { ids: 30, ..slice.clone() }), None);
        assert_eq!(lease.report("r".into(), Deliveries::default()).ids.unwrap().ids, 30, "the unreserved rest goes back");
    }

    #[test]
    fn a_lease_with_a_slice_of_the_month_ends_with_its_day() {
        let before_midnight = UnixMillis(Day::of(T0).0 * crate::domain::time::day::DAY_MS + 86_399_500);
        let slice = ItemSlice { day: Day::of(before_midnight), items: 10 };
        let long = Limit { window_seconds: 31 * 86_400, ..limit(LimitMode::Lease) };
        let lease = Lease::new(Charge { limits: vec![long], ..charge() }, before_midnight, 5, vec![quota(5)], Some(slice), None);
        assert_eq!(lease.expires_at, Day(slice.day.0 + 1).start());
    }
}
