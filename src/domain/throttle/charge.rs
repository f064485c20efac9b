//! The charge: what the edge asks the account's guard for one request (or one lease), and the
//! arithmetic that answers it.
//!
//! One guard per account sees every request of that account from every location, so its counts
//! are global and exact. A request is charged against all of its limits at once: every limit is
//! checked first, and only if none refuses is any of them charged. Refused requests consume
//! nothing. The counters sit behind [`CounterStore`]; the caller passes the time.

use serde::{Deserialize, Serialize};

use crate::domain::access::id::Id;
use crate::domain::access::token::TokenHash;
use crate::domain::redistribution::fingerprint::Fingerprint;
use crate::domain::throttle::counter_key::CounterKey;
use crate::domain::throttle::limit::{Limit, Scope};
use crate::domain::throttle::pooling;
use crate::domain::throttle::store::{CounterStore, StoreError};
use crate::domain::throttle::verdict::{Allowance, ItemSlice, Quota, Standing, Verdict};
use crate::domain::time::clock::UnixMillis;
use crate::domain::time::day::Day;
use crate::domain::time::month::Month;
use crate::domain::time::window::Window;

/// Days in the rolling redistribution window.
pub const REDISTRIBUTION_DAYS: u64 = 30;
/// IDs reserved for one response: the largest page the API returns. A lease of `n` units
/// reserves `n` times as many.
pub const IDS_PER_RESPONSE: u64 = 100;

/// The downstream recipient side of a charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientCharge {
    pub recipient: Id,
    pub entity: Id,
    pub ids_cap_30d: u64,
}

/// What the edge asks the guard for one admitted request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub app: Id,
    /// Hash of the token, checked against the guard's revocation list.
    pub token_hash: TokenHash,
    pub group: Id,
    /// The plan's limits for this group.
    pub limits: Vec<Limit>,
    pub monthly_item_cap: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<RecipientCharge>,
    /// Who sent the request, for the resale count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
    /// The request opens a stream: the guard keeps its holds while it is open.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stream: bool,
    /// For a stream: the plan's limits of streams of its group open at once, per app and for
    /// the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_per_app: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_per_account: Option<u64>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// Checks every limit, then charges all of them or none.
///
/// # Errors
/// [`StoreError`] when the storage fails; nothing is charged then unless the failure came
/// between two writes of one charge, which the Durable Object's transaction rolls back.
pub fn charge(store: &mut impl CounterStore, standing: Standing, charge: &Charge, now: UnixMillis) -> Result<Verdict, StoreError> {
    charge_units(store, standing, charge, 1, now)
}

/// Checks every limit and charges up to `want` units to all of them at once: as many as every
/// limit still has room for. A lease is such a charge; a request is a charge of one.
///
/// # Errors
/// [`StoreError`] when the storage fails.
pub fn charge_units(
    store: &mut impl CounterStore,
    standing: Standing,
    charge: &Charge,
    want: u64,
    now: UnixMillis,
) -> Result<Verdict, StoreError> {
    if let Some(refusal) = standing.refusal() {
        return Ok(refusal);
    }
    if let Some(cap) = charge.monthly_item_cap {
        let month = Month::of(now);
        if store.month_items(month)? >= cap {
            let retry_after = month.next().start().0.saturating_sub(now.0).div_ceil(1000);
            return Ok(Verdict::UsageCapped { retry_after });
        }
    }

    let recipient = charge.recipient.as_ref();
    let mut checked: Vec<(&Limit, CounterKey, Window, u64)> = Vec::with_capacity(charge.limits.len());
    for limit in &charge.limits {
        let Some(key) = CounterKey::of(limit, &charge.app, recipient.map(|r| &r.recipient)) else { continue };
        let window = Window::containing(now, limit.window_seconds * 1000);
        let used = store.count(&key, window.start)?;
        checked.push((limit, key, window, used));
    }

    let refusing: Vec<_> = checked.iter().filter(|(limit, _, _, used)| *used >= limit.requests).collect();
    if !refusing.is_empty() {
        let retry_after = refusing.iter().map(|(_, _, w, _)| w.seconds_left(now)).max().unwrap_or(1);
        let quotas = checked.iter().map(|(l, _, w, used)| quota(l, *w, *used)).collect();
        return Ok(Verdict::RateLimited { quotas, retry_after });
    }

    let granted = checked.iter().map(|(limit, _, _, used)| limit.requests - used).min().unwrap_or(want).min(want.max(1));

    // The entity's rolling 30 days: reserve what the granted requests' responses can hold (one
    // page each), within the cap.
    let mut reservation = None;
    if let Some(r) = recipient {
        let today = Day::of(now);
        let used = store.entity_ids(&r.entity, today.minus(REDISTRIBUTION_DAYS - 1), today)?;
        let left = r.ids_cap_30d.saturating_sub(used);
        if left == 0 {
            // Until the next UTC day, when the oldest day leaves the window.
            return Ok(Verdict::RedistributionCapped { retry_after: Day::seconds_to_next(now) });
        }
        reservation = Some(Allowance { entity: r.entity.clone(), day: today, ids: left.min(granted.saturating_mul(IDS_PER_RESPONSE)) });
    }
    if let Some(a) = &reservation {
        store.add_entity_ids(&a.entity, a.day, i64::try_from(a.ids).unwrap_or(i64::MAX))?;
    }

    let mut pooling = None;
    for (limit, key, window, used) in &checked {
        store.add(key, window.start, granted)?;
        // Pooling is looked at only when a token has just reached its own limit.
        if limit.scope == Scope::App && used + granted >= limit.requests {
            let counts = store.family_counts(key, window.start)?;
            pooling = pooling::assess(&limit.group, *window, limit.requests, &counts);
        }
    }
    let quotas = checked.iter().map(|(l, _, w, used)| quota(l, *w, used + granted)).collect();
    Ok(Verdict::Allow { granted, quotas, pooling, allowance: reservation, stream: None, items: None })
}

/// Gives back the units of a lease that were not used, in the windows it was granted in.
///
/// # Errors
/// [`StoreError`] when the storage fails.
pub fn return_units(store: &mut impl CounterStore, charge: &Charge, granted_at: UnixMillis, unused: u64) -> Result<(), StoreError> {
    if unused == 0 {
        return Ok(());
    }
    for limit in &charge.limits {
        let Some(key) = CounterKey::of(limit, &charge.app, charge.recipient.as_ref().map(|r| &r.recipient)) else { continue };
        let window = Window::containing(granted_at, limit.window_seconds * 1000);
        store.take_back(&key, window.start, unused)?;
    }
    Ok(())
}

/// Reserves a lease's slice of the monthly cap: up to `want` items, within what is left of the
/// month. The slice counts in the month until the lease's report gives it back; from then on the
/// month holds the distinct items its responses delivered.
///
/// # Errors
/// [`StoreError`] when the storage fails.
pub fn reserve_items(store: &mut impl CounterStore, cap: u64, want: u64, now: UnixMillis) -> Result<ItemSlice, StoreError> {
    let month = Month::of(now);
    let items = want.min(cap.saturating_sub(store.month_items(month)?));
    if items > 0 {
        store.add_month_items(month, i64::try_from(items).unwrap_or(i64::MAX))?;
    }
    Ok(ItemSlice { day: Day::of(now), items })
}

/// Gives a lease's item slice back to the month it was reserved in.
///
/// # Errors
/// [`StoreError`] when the storage fails.
pub fn return_items(store: &mut impl CounterStore, slice: &ItemSlice) -> Result<(), StoreError> {
    if slice.items == 0 {
        return Ok(());
    }
    store.add_month_items(Month::of(slice.day.start()), -i64::try_from(slice.items).unwrap_or(i64::MAX))
}

/// Returns the part of a reservation a response did not use.
///
/// # Errors
/// [`StoreError`] when the storage fails.
pub fn settle(store: &mut impl CounterStore, allowance: &Allowance, delivered: u64) -> Result<(), StoreError> {
    let unused = allowance.ids.saturating_sub(delivered);
    if unused > 0 {
        store.add_entity_ids(&allowance.entity, allowance.day, -i64::try_from(unused).unwrap_or(i64::MAX))?;
    }
    Ok(())
}

fn quota(limit: &Limit, window: Window, used: u64) -> Quota {
    Quota {
        name: limit.policy_name(),
        limit: limit.requests,
        remaining: limit.requests.saturating_sub(used),
        reset: window.end().as_secs(),
        window_seconds: limit.window_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::guard::memory::MemoryStore;
    use crate::domain::time::day::DAY_MS;

    fn charge(store: &mut MemoryStore, standing: Standing, c: &Charge, now: UnixMillis) -> Verdict {
        super::charge(store, standing, c, now).unwrap()
    }

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    fn limit(scope: Scope, requests: u64, window_seconds: u64) -> Limit {
        Limit { group: id("search"), scope, requests, window_seconds, mode: crate::domain::throttle::limit::LimitMode::Strict }
    }

    fn request(app: &str, limits: Vec<Limit>) -> Charge {
        Charge { app: id(app), token_hash: TokenHash::from_hex(&"0".repeat(64)).unwrap(), group: id("search"), limits, monthly_item_cap: None, recipient: None, fingerprint: None, stream: false, connections_per_app: None, connections_per_account: None }
    }

    const T0: UnixMillis = UnixMillis(1_800_000_000_000); // a multiple of 900 s

    #[test]
    fn refusals_map_to_the_problems_and_ledger_reasons_clients_see() {
        let cases = [
            (Verdict::RateLimited { quotas: vec![], retry_after: 3 }, 429, "rate-limit-exceeded"),
            (Verdict::UsageCapped { retry_after: 3 }, 429, "usage-capped"),
            (Verdict::RedistributionCapped { retry_after: 3 }, 429, "redistribution-capped"),
            (Verdict::Revoked, 401, "revoked-token"),
            (Verdict::AccountSuspended, 403, "account-suspended"),
        ];
        for (verdict, status, reason) in cases {
            let problem = verdict.refusal().unwrap();
            assert_eq!((problem.status(), problem.ledger_reason()), (status, reason));
        }
        assert_eq!(Verdict::Allow { granted: 1, quotas: vec![], pooling: None, allowance: None, stream: None, items: None }.refusal(), None);
        assert_eq!(Verdict::UsageCapped { retry_after: 7 }.refusal().unwrap().retry_after(), Some(7));
    }

    #[test]
    fn counts_up_to_the_limit_then_refuses_until_the_window_resets() {
        let mut store = MemoryStore::default();
        let c = request("a1", vec![limit(Scope::App, 3, 900)]);
        for remaining in [2, 1, 0] {
            let Verdict::Allow { quotas, .. } = charge(&mut store, Standing::default(), &c, T0) else { panic!() };
            assert_eq!(quotas[0].remaining, remaining);
            assert_eq!(quotas[0].reset, T0.as_secs() + 900);
        }
        let refused = charge(&mut store, Standing::default(), &c, T0.plus_millis(1_000));
        assert_eq!(
            refused,
            Verdict::RateLimited {
                quotas: vec![Quota { name: "app-search".into(), limit: 3, remaining: 0, reset: T0.as_secs() + 900, window_seconds: 900 }],
                retry_after: 899,
            }
        );
        // The last millisecond of the window is still refused; the first of the next is served.
        assert!(matches!(charge(&mut store, Standing::default(), &c, T0.plus_millis(899_999)), Verdict::RateLimited { retry_after: 1, .. }));
        assert!(matches!(charge(&mut store, Standing::default(), &c, T0.plus_millis(900_000)), Verdict::Allow { .. }));
    }

    #[test]
    fn the_account_limit_binds_across_tokens() {
        let mut store = MemoryStore::default();
        let limits = vec![limit(Scope::App, 10, 900), limit(Scope::Account, 4, 900)];
        let mut allowed = 0;
        for i in 0..20 {
            let c = request(&format!("app{}", i % 5), limits.clone());
            if matches!(charge(&mut store, Standing::default(), &c, T0), Verdict::Allow { .. }) {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 4);
    }

    #[test]
    fn a_refusal_by_one_limit_charges_none_of_the_others() {
        let mut store = MemoryStore::default();
        let limits = vec![limit(Scope::App, 2, 900), limit(Scope::Account, 100, 900)];
        let c = request("a1", limits.clone());
        for _ in 0..2 {
            assert!(matches!(charge(&mut store, Standing::default(), &c, T0), Verdict::Allow { .. }));
        }
        for _ in 0..5 {
            assert!(matches!(charge(&mut store, Standing::default(), &c, T0), Verdict::RateLimited { .. }));
        }
        let account_key = CounterKey::of(&limits[1], &id("a1"), None).unwrap();
        assert_eq!(store.count(&account_key, T0.0).unwrap(), 2, "refused requests were charged to the account");
    }

    #[test]
    fn windows_of_different_lengths_count_separately() {
        let mut store = MemoryStore::default();
        let c = request("a1", vec![limit(Scope::App, 5, 60), limit(Scope::App, 3, 900)]);
        for _ in 0..3 {
            assert!(matches!(charge(&mut store, Standing::default(), &c, T0), Verdict::Allow { .. }));
        }
        // The 60 s window resets, the 15-minute one still binds.
        let later = T0.plus_millis(61_000);
        let Verdict::RateLimited { retry_after, .. } = charge(&mut store, Standing::default(), &c, later) else { panic!() };
        assert_eq!(retry_after, 900 - 61);
    }

    #[test]
    fn the_monthly_cap_refuses_once_reached_until_the_next_month() {
        let mut store = MemoryStore::default();
        let mut c = request("a1", vec![]);
        c.monthly_item_cap = Some(100);
        // 2026-11-30T23:59:59Z
        let now = UnixMillis(1_796_083_199_000);
        store.months.insert("2026-11".into(), 99);
        assert!(matches!(charge(&mut store, Standing::default(), &c, now), Verdict::Allow { .. }));
        store.months.insert("2026-11".into(), 100);
        assert_eq!(charge(&mut store, Standing::default(), &c, now), Verdict::UsageCapped { retry_after: 1 });
        // A second later it is December and the cap starts again.
        assert!(matches!(charge(&mut store, Standing::default(), &c, now.plus_millis(1_000)), Verdict::Allow { .. }));
    }

    #[test]
    fn revoked_tokens_and_suspended_accounts_are_refused_without_charging() {
        let mut store = MemoryStore::default();
        let c = request("a1", vec![limit(Scope::App, 5, 900)]);
        let revoked = Standing { token_revoked: true, account_suspended: false };
        assert_eq!(charge(&mut store, revoked, &c, T0), Verdict::Revoked);
        let suspended = Standing { token_revoked: false, account_suspended: true };
        assert_eq!(charge(&mut store, suspended, &c, T0), Verdict::AccountSuspended);
        assert!(store.windows.is_empty());
    }

    #[test]
    fn two_tokens_at_their_limit_in_one_window_is_reported_as_pooling() {
        let mut store = MemoryStore::default();
        let limits = vec![limit(Scope::App, 3, 900), limit(Scope::Account, 100, 900)];
        let mut evidence = None;
        for app in ["a1", "a2", "a3"] {
            for _ in 0..3 {
                if let Verdict::Allow { pooling: Some(p), .. } = charge(&mut store, Standing::default(), &request(app, limits.clone()), T0) {
                    evidence = Some(p);
                }
            }
        }
        let evidence = evidence.expect("pooling was not reported");
        assert!(evidence.tokens_at_limit >= 2);
    }

    fn for_recipient(app: &str, recipient: &str, entity: &str, cap: u64) -> Charge {
        let mut c = request(app, vec![limit(Scope::Recipient, 3, 900)]);
        c.recipient = Some(RecipientCharge { recipient: id(recipient), entity: id(entity), ids_cap_30d: cap });
        c
    }

    #[test]
    fn the_entity_cap_reserves_within_what_is_left_and_settles_exactly() {
        let mut store = MemoryStore::default();
        let c = for_recipient("a1", "r1", "org", 250);
        let Verdict::Allow { allowance: Some(a), .. } = charge(&mut store, Standing::default(), &c, T0) else { panic!() };
        assert_eq!(a.ids, 100);
        super::settle(&mut store, &a, 60).unwrap();
        let day = T0.0 / DAY_MS;
        assert_eq!(store.entity_ids(&id("org"), Day(day - 29), Day(day)).unwrap(), 60);
        // Another recipient of the same entity draws on the same 250.
        let c2 = for_recipient("a1", "r2", "org", 250);
        let Verdict::Allow { allowance: Some(b), .. } = charge(&mut store, Standing::default(), &c2, T0) else { panic!() };
        super::settle(&mut store, &b, 100).unwrap();
        let Verdict::Allow { allowance: Some(last), .. } = charge(&mut store, Standing::default(), &c, T0) else { panic!() };
        assert_eq!(last.ids, 90, "only what is left of the cap is reserved");
        super::settle(&mut store, &last, 90).unwrap();
        assert!(matches!(charge(&mut store, Standing::default(), &c2, T0), Verdict::RedistributionCapped { .. }));
        // Thirty days later the first day's IDs have left the window.
        let later = T0.plus_millis(30 * DAY_MS);
        assert!(matches!(charge(&mut store, Standing::default(), &c, later), Verdict::Allow { .. }));
    }

    #[test]
    fn recipient_windows_count_per_recipient_and_only_when_one_is_named() {
        let mut store = MemoryStore::default();
        for _ in 0..3 {
            assert!(matches!(charge(&mut store, Standing::default(), &for_recipient("a1", "r1", "org", 10_000), T0), Verdict::Allow { .. }));
        }
        assert!(matches!(charge(&mut store, Standing::default(), &for_recipient("a1", "r1", "org", 10_000), T0), Verdict::RateLimited { .. }));
        assert!(matches!(charge(&mut store, Standing::default(), &for_recipient("a1", "r2", "org", 10_000), T0), Verdict::Allow { .. }));
        let anonymous = request("a1", vec![limit(Scope::Recipient, 3, 900)]);
        assert!(matches!(charge(&mut store, Standing::default(), &anonymous, T0), Verdict::Allow { .. }));
    }

    #[test]
    fn the_entity_cap_works_at_either_end_of_time() {
        // Found by fuzzing: the 30-day window underflowed before 1970-01-30, and the wait until
        // the next day overflowed within the last day of `u64` milliseconds.
        for now in [UnixMillis(0), UnixMillis(28 * DAY_MS + 1), UnixMillis(u64::MAX)] {
            let mut store = MemoryStore::default();
            let c = for_recipient("a1", "r1", "org", 150);
            for ids in [100, 50] {
                let Verdict::Allow { allowance: Some(a), .. } = charge(&mut store, Standing::default(), &c, now) else { panic!() };
                assert_eq!(a.ids, ids);
            }
            let Verdict::RedistributionCapped { retry_after } = charge(&mut store, Standing::default(), &c, now) else { panic!() };
            assert!((1..=86_400).contains(&retry_after), "{retry_after}");
        }
    }

    #[test]
    fn a_lease_takes_what_every_limit_has_room_for_and_gives_back_the_rest() {
        let mut store = MemoryStore::default();
        let c = request("a1", vec![limit(Scope::App, 100, 900), limit(Scope::Account, 30, 900)]);
        let Verdict::Allow { granted, quotas, .. } = super::charge_units(&mut store, Standing::default(), &c, 50, T0).unwrap() else { panic!() };
        assert_eq!(granted, 30, "the account window binds the lease");
        assert_eq!(quotas[1].remaining, 0);
        assert!(matches!(charge(&mut store, Standing::default(), &c, T0), Verdict::RateLimited { .. }));
        super::return_units(&mut store, &c, T0, 12).unwrap();
        let Verdict::Allow { granted, .. } = super::charge_units(&mut store, Standing::default(), &c, 50, T0).unwrap() else { panic!() };
        assert_eq!(granted, 12);
        // A return into a window that has passed changes nothing.
        super::return_units(&mut store, &c, T0, 5).unwrap();
        let later = T0.plus_millis(900_000);
        super::return_units(&mut store, &c, later, 5).unwrap();
        let key = CounterKey::of(&c.limits[1], &id("a1"), None).unwrap();
        assert_eq!(store.count(&key, T0.0).unwrap(), 25);
    }

    #[test]
    fn an_item_slice_is_reserved_within_the_cap_and_given_back_to_its_month() {
        let mut store = MemoryStore::default();
        // 2026-11-30T23:59:59Z
        let now = UnixMillis(1_796_083_199_000);
        store.months.insert("2026-11".into(), 900);
        let slice = super::reserve_items(&mut store, 1_000, 5_000, now).unwrap();
        assert_eq!(slice, ItemSlice { day: Day::of(now), items: 100 }, "only what is left of the month");
        assert_eq!(store.months["2026-11"], 1_000);
        let mut c = request("a1", vec![]);
        c.monthly_item_cap = Some(1_000);
        assert!(matches!(charge(&mut store, Standing::default(), &c, now), Verdict::UsageCapped { .. }), "the slice counts against the cap");
        // Given back in December, it goes back to November.
        store.months.insert("2026-12".into(), 7);
        super::return_items(&mut store, &slice).unwrap();
        assert_eq!((store.months["2026-11"], store.months["2026-12"]), (900, 7));
    }
}
