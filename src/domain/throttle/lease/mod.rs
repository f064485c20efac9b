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

pub mod book;
pub mod key;

use serde::{Deserialize, Serialize};

use crate::domain::time::clock::UnixMillis;
use crate::domain::throttle::charge::Charge;
use crate::domain::throttle::verdict::Quota;
use crate::domain::throttle::limit::{Limit, LimitMode};
use crate::domain::time::window::Window;

/// Units an isolate asks for at a time.
pub const LEASE_SIZE: u64 = 50;
/// Longest a lease lives before its unused units go back to the guard.
pub const LEASE_TTL_MS: u64 = 2_000;
/// Ids a report carries for the distinct count; the rest count as distinct.
pub const MAX_REPORTED_IDS: usize = 1_000;

/// Whether a request is served from leases: every limit of its group asks for it, and nothing
/// needs a per-request answer from the guard (a monthly cap, a recipient's reservation).
#[must_use]
pub fn applies(limits: &[Limit], monthly_item_cap: Option<u64>, has_recipient: bool) -> bool {
    !limits.is_empty() && limits.iter().all(|l| l.mode == LimitMode::Lease) && monthly_item_cap.is_none() && !has_recipient
}

/// What an isolate delivered under its leases since its last report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deliveries {
    pub items: u64,
    pub ids: Vec<String>,
    pub untracked: u64,
    pub bytes: u64,
}

impl Deliveries {
    pub fn add(&mut self, items: u64, ids: Vec<String>, untracked: u64, bytes: u64) {
        self.items += items;
        self.bytes += bytes;
        self.untracked += untracked;
        let room = MAX_REPORTED_IDS.saturating_sub(self.ids.len());
        let extra = ids.len().saturating_sub(room) as u64;
        self.ids.extend(ids.into_iter().take(room));
        self.untracked += extra;
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items == 0 && self.bytes == 0 && self.ids.is_empty() && self.untracked == 0
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
}

/// A lease held by one isolate for one account, app and endpoint group.
#[derive(Debug, Clone)]
pub struct Lease {
    pub charge: Charge,
    pub granted_at: UnixMillis,
    pub granted: u64,
    pub used: u64,
    /// The windows as the guard left them after the grant.
    pub quotas: Vec<Quota>,
    pub expires_at: UnixMillis,
}

impl Lease {
    #[must_use]
    pub fn new(charge: Charge, granted_at: UnixMillis, granted: u64, quotas: Vec<Quota>) -> Self {
        let window_end = charge
            .limits
            .iter()
            .map(|l| Window::containing(granted_at, l.window_seconds * 1000).end())
            .min()
            .unwrap_or(granted_at);
        let expires_at = granted_at.plus_millis(LEASE_TTL_MS).min(window_end);
        Self { charge, granted_at, granted, used: 0, quotas, expires_at }
    }

    /// Spends one unit; the windows as this isolate sees them, or `None` when the lease is spent
    /// or expired.
    pub fn take(&mut self, now: UnixMillis) -> Option<Vec<Quota>> {
        if now >= self.expires_at || self.used >= self.granted {
            return None;
        }
        self.used += 1;
        let left = self.granted - self.used;
        Some(self.quotas.iter().map(|q| Quota { remaining: q.remaining + left, ..q.clone() }).collect())
    }

    /// Adds a second grant made in the same windows (two requests renewed at once).
    /// Returns `false`, changing nothing, when the windows differ.
    pub fn merge(&mut self, other: &Lease) -> bool {
        let same = self.charge.limits.iter().all(|l| {
            let len = l.window_seconds * 1000;
            Window::containing(self.granted_at, len) == Window::containing(other.granted_at, len)
        });
        if same {
            self.granted += other.granted;
            self.quotas.clone_from(&other.quotas);
            self.expires_at = self.expires_at.min(other.expires_at);
        }
        same
    }

    #[must_use]
    pub fn report(&self, id: String, deliveries: Deliveries) -> Report {
        Report { id, charge: self.charge.clone(), granted_at: self.granted_at, granted: self.granted, used: self.used, deliveries }
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
    fn applies_only_when_every_limit_asks_and_nothing_needs_the_guard() {
        assert!(applies(&[limit(LimitMode::Lease)], None, false));
        assert!(!applies(&[limit(LimitMode::Lease), limit(LimitMode::Strict)], None, false));
        assert!(!applies(&[limit(LimitMode::Lease)], Some(10), false));
        assert!(!applies(&[limit(LimitMode::Lease)], None, true));
        assert!(!applies(&[], None, false));
    }

    #[test]
    fn a_lease_is_spent_unit_by_unit_until_empty_or_expired() {
        let mut lease = Lease::new(charge(), T0, 3, vec![quota(40)]);
        assert_eq!(lease.take(T0).unwrap()[0].remaining, 42);
        assert_eq!(lease.take(T0).unwrap()[0].remaining, 41);
        assert_eq!(lease.take(T0).unwrap()[0].remaining, 40);
        assert!(lease.take(T0).is_none());
        let mut fresh = Lease::new(charge(), T0, 3, vec![quota(40)]);
        assert!(fresh.take(T0.plus_millis(LEASE_TTL_MS)).is_none(), "expired leases are not spent");
        let r = lease.report("r1".into(), Deliveries::default());
        assert_eq!((r.granted, r.used), (3, 3));
    }

    #[test]
    fn a_lease_never_outlives_its_window() {
        let near_end = UnixMillis(1_800_000_900_000 - 500);
        let lease = Lease::new(charge(), near_end, 10, vec![quota(1)]);
        assert_eq!(lease.expires_at, UnixMillis(1_800_000_900_000));
    }

    #[test]
    fn grants_in_the_same_window_merge_and_others_do_not() {
        let mut a = Lease::new(charge(), T0, 5, vec![quota(10)]);
        assert!(a.merge(&Lease::new(charge(), T0.plus_millis(10), 5, vec![quota(5)])));
        assert_eq!(a.granted, 10);
        assert!(!a.merge(&Lease::new(charge(), T0.plus_millis(900_000), 5, vec![quota(5)])));
        assert_eq!(a.granted, 10);
    }

    #[test]
    fn deliveries_keep_a_bounded_list_of_ids() {
        let mut d = Deliveries::default();
        d.add(900, (0..900).map(|i| i.to_string()).collect(), 0, 10);
        d.add(200, (0..200).map(|i| format!("x{i}")).collect(), 0, 10);
        assert_eq!(d.ids.len(), MAX_REPORTED_IDS);
        assert_eq!(d.untracked, 100);
        assert_eq!(d.items, 1100);
    }
}
