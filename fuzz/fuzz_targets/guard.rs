//! `charge::charge` and `charge::charge_units` (leases), with `charge::return_units` and
//! `charge::settle`, over `MemoryStore`: an arbitrary plan's limits, then an arbitrary sequence of
//! requests, leases, lease returns, deliveries, settlements and clock steps (never backwards),
//! from an arbitrary starting time.
//!
//! Invariants: per window, neither the stored counter nor the units granted and not returned
//! (counted independently here) ever exceed the limit; every refusal (rate limit, monthly cap,
//! redistribution cap, revoked, suspended) leaves the store exactly as it was; a grant is as
//! many units as asked for and every limit has room for, at least one, added to each of its
//! counters and nowhere else, with quotas that say so; a return takes back no more than it
//! names, only in the window it was granted in; a reservation for a recipient is one page per
//! unit granted and never takes its entity's 30 days past the cap; the verdict is the one the standing, the monthly cap and the
//! counters call for.
#![no_main]

use std::collections::{HashMap, VecDeque};

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use tollgate::domain::time::clock::UnixMillis;
use tollgate::domain::guard::memory::MemoryStore;
use tollgate::domain::throttle::charge::{self as guard, Charge, IDS_PER_RESPONSE, REDISTRIBUTION_DAYS};
use tollgate::domain::throttle::counter_key::CounterKey;
use tollgate::domain::throttle::store::CounterStore;
use tollgate::domain::throttle::verdict::{Allowance, Standing, Verdict};
use tollgate::domain::time::day::Day;
use tollgate::domain::access::id::Id;
use tollgate::domain::throttle::limit::{Limit, Scope, MAX_WINDOW_SECONDS};
use tollgate::domain::time::month::Month;
use tollgate::domain::time::window::Window;

const DAY_MS: u64 = 86_400_000;
const GROUPS: [&str; 2] = ["search", "lookup"];
const APPS: [&str; 4] = ["a1", "a2", "a3", "a4"];
/// Recipients and the entity each belongs to: two related parties share one.
const RECIPIENTS: [(&str, &str); 3] = [("nw-east", "northwind"), ("nw-west", "northwind"), ("uni", "uni")];
const WINDOWS: [u64; 7] = [1, 2, 60, 900, 3600, 86_400, MAX_WINDOW_SECONDS];
/// 10000-01-01: later than that, saturated time arithmetic may shorten a wait to 0 seconds, so
/// waits are checked only before it (nothing may panic at any time, though).
const SANE: u64 = 253_402_300_800_000;

#[derive(Arbitrary, Debug)]
enum Start {
    Recent(u32),
    Any(u64),
}

#[derive(Arbitrary, Debug)]
struct LimitIn {
    group: bool,
    scope: u8,
    requests: u8,
    window: u8,
    other_window: Option<u32>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// A request (`want` none) or a lease of `1 + want % 64` units.
    Charge { app: u8, lookup: bool, recipient: Option<u8>, standing: u8, want: Option<u8> },
    /// Gives back up to this many unused units of the oldest lease.
    Return(u8),
    Millis(u16),
    Seconds(u32),
    Deliver(u16),
    Settle(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    start: Start,
    limits: Vec<LimitIn>,
    monthly_item_cap: Option<u16>,
    ids_caps: [u16; 2],
    ops: Vec<Op>,
}

struct Run {
    store: MemoryStore,
    now: u64,
    limits: Vec<Limit>,
    cap: Option<u64>,
    ids_caps: HashMap<&'static str, u64>,
    /// Units granted and not returned per counter key and window start, counted here, not by
    /// the store.
    admitted: HashMap<(String, u64), u64>,
    /// The limit behind each counter key.
    limit_of: HashMap<String, u64>,
    pending: VecDeque<Allowance>,
    /// Leases not yet returned: the charge, when it was granted, units still unused.
    leases: VecDeque<(Charge, UnixMillis, u64)>,
}

fn id(s: &str) -> Id {
    Id::new(s).unwrap()
}

fn limits(input: &[LimitIn]) -> Vec<Limit> {
    let mut out: Vec<Limit> = Vec::new();
    for l in input.iter().take(8) {
        let scope = [Scope::App, Scope::Account, Scope::Recipient][usize::from(l.scope % 3)];
        let window_seconds = match l.other_window {
            Some(w) => 1 + u64::from(w) % MAX_WINDOW_SECONDS,
            None => WINDOWS[usize::from(l.window) % WINDOWS.len()],
        };
        let limit = Limit { group: id(GROUPS[usize::from(l.group)]), scope, requests: 1 + u64::from(l.requests % 8), window_seconds, mode: tollgate::domain::throttle::limit::LimitMode::Strict };
        assert_eq!(limit.problem(), None);
        // A plan lists each group, scope and window once.
        if !out.iter().any(|o| o.group == limit.group && o.scope == limit.scope && o.window_seconds == limit.window_seconds) {
            out.push(limit);
        }
    }
    out
}

impl Run {
    fn entity_used(&self, entity: &str) -> u64 {
        let today = self.now / DAY_MS;
        let from = (today + 1).saturating_sub(REDISTRIBUTION_DAYS);
        self.store.entity_ids(&id(entity), Day(from), Day(today)).unwrap()
    }

    fn month_items(&self) -> u64 {
        self.store.month_items(Month::of(UnixMillis(self.now))).unwrap()
    }

    fn charge(&mut self, app: u8, lookup: bool, recipient: Option<u8>, standing: u8, want: Option<u8>) {
        let app = APPS[usize::from(app) % APPS.len()];
        let group = GROUPS[usize::from(lookup)];
        let recipient = recipient.map(|r| RECIPIENTS[usize::from(r) % RECIPIENTS.len()]);
        let standing = Standing { account_suspended: standing == 255, token_revoked: standing >= 254 };
        let own: Vec<Limit> = self.limits.iter().filter(|l| l.group.as_str() == group).cloned().collect();
        // Built from JSON as the Durable Object receives it.
        let mut charge = json!({"app": app, "token_hash": "0".repeat(64), "group": group, "limits": own,
            "monthly_item_cap": self.cap});
        if let Some((r, entity)) = recipient {
            charge["recipient"] = json!({"recipient": r, "entity": entity, "ids_cap_30d": self.ids_caps[entity]});
        }
        let charge: Charge = serde_json::from_value(charge).unwrap();

        let now = UnixMillis(self.now);
        let recipient_id = recipient.map(|(r, _)| id(r));
        // (limit, key, window, used) for every limit that applies to this request.
        let applicable: Vec<(Limit, CounterKey, Window, u64)> = own
            .iter()
            .filter_map(|l| {
                let key = CounterKey::of(l, &id(app), recipient_id.as_ref())?;
                let window = Window::containing(now, l.window_seconds * 1000);
                let used = self.store.count(&key, window.start).unwrap();
                Some((l.clone(), key, window, used))
            })
            .collect();
        let windows = self.store.windows.clone();
        let months = self.store.months.clone();
        let entity_days = self.store.entity_days.clone();
        let entity_before = recipient.map(|(_, e)| self.entity_used(e));
        let month_items = self.month_items();

        let want = want.map(|w| 1 + u64::from(w % 64));
        let verdict = match want {
            None => guard::charge(&mut self.store, standing, &charge, now),
            Some(units) => guard::charge_units(&mut self.store, standing, &charge, units, now),
        }
        .expect("the memory store never fails");

        let unchanged = |store: &MemoryStore| {
            assert_eq!(store.windows, windows, "a refusal changed a counter");
            assert_eq!(store.months, months);
            assert_eq!(store.entity_days, entity_days);
        };
        if standing.account_suspended {
            assert_eq!(verdict, Verdict::AccountSuspended);
            return unchanged(&self.store);
        }
        if standing.token_revoked {
            assert_eq!(verdict, Verdict::Revoked);
            return unchanged(&self.store);
        }
        if self.cap.is_some_and(|cap| month_items >= cap) {
            let Verdict::UsageCapped { retry_after } = verdict else { panic!("cap reached, answered {verdict:?}") };
            assert!(retry_after <= 31 * 86_400 && (retry_after >= 1 || self.now >= SANE), "retry after {retry_after}");
            return unchanged(&self.store);
        }
        let full: Vec<&(Limit, CounterKey, Window, u64)> = applicable.iter().filter(|(l, _, _, used)| *used >= l.requests).collect();
        if !full.is_empty() {
            let Verdict::RateLimited { quotas, retry_after } = verdict else { panic!("a window is full, answered {verdict:?}") };
            let longest = full.iter().map(|(l, ..)| l.window_seconds).max().unwrap();
            assert!(retry_after <= longest && (retry_after >= 1 || self.now >= SANE), "retry after {retry_after}, windows up to {longest}");
            assert_eq!(quotas.len(), applicable.len());
            for (q, (l, _, w, used)) in quotas.iter().zip(&applicable) {
                assert_eq!((q.limit, q.remaining, q.window_seconds), (l.requests, l.requests.saturating_sub(*used), l.window_seconds));
                assert_eq!(q.reset, w.end().as_secs());
            }
            return unchanged(&self.store);
        }
        if let (Some((_, entity)), Some(used)) = (recipient, entity_before) {
            if used >= self.ids_caps[entity] {
                let Verdict::RedistributionCapped { retry_after } = verdict else { panic!("entity capped, answered {verdict:?}") };
                assert!(retry_after <= 86_400 && (retry_after >= 1 || self.now >= SANE), "retry after {retry_after}");
                return unchanged(&self.store);
            }
        }

        let Verdict::Allow { granted, quotas, pooling, allowance, .. } = verdict else { panic!("nothing refuses, answered {verdict:?}") };
        let room = applicable.iter().map(|(l, _, _, used)| l.requests - used).min();
        let asked = want.unwrap_or(1);
        assert_eq!(granted, room.map_or(asked, |room| room.min(asked)), "granted {granted} of {asked}");
        assert!(granted >= 1);
        assert_eq!(self.store.months, months);
        // Exactly `granted` more on each applicable counter, nothing anywhere else.
        let mut expected = windows;
        for (l, key, w, used) in &applicable {
            assert_eq!(self.store.count(key, w.start).unwrap(), used + granted);
            expected.insert(key.text(), (w.start, used + granted));
            let admitted = self.admitted.entry((key.text(), w.start)).or_insert(0);
            *admitted += granted;
            assert!(*admitted <= l.requests, "{key} granted {admitted} in one window, limit {}", l.requests);
            assert_eq!(*self.limit_of.entry(key.text()).or_insert(l.requests), l.requests);
        }
        assert_eq!(self.store.windows, expected);
        assert_eq!(quotas.len(), applicable.len());
        for (q, (l, _, w, used)) in quotas.iter().zip(&applicable) {
            assert_eq!(q.name, l.policy_name());
            assert_eq!((q.limit, q.remaining, q.reset), (l.requests, l.requests - used - granted, w.end().as_secs()));
        }
        if want.is_some() {
            self.leases.push_back((charge.clone(), now, granted));
        }
        if let Some(p) = &pooling {
            assert!(p.tokens_at_limit >= 2 && p.tokens_at_limit <= p.active_tokens, "{p:?}");
            assert!((0.0..=1.0).contains(&p.evenness) && p.by_app.len() <= 20);
            assert!(p.by_app.windows(2).all(|w| w[0].1 >= w[1].1));
            assert!(p.total_requests >= p.per_token_limit * p.tokens_at_limit as u64);
            assert!(applicable.iter().any(|(l, ..)| l.scope == Scope::App && l.requests == p.per_token_limit));
        }
        match (recipient, allowance) {
            (None, None) => assert_eq!(self.store.entity_days, entity_days),
            (Some((_, entity)), Some(a)) => {
                let before = entity_before.unwrap();
                assert_eq!(a.entity.as_str(), entity);
                // One page per granted unit (a lease reserves for all of its requests), within the cap.
                assert_eq!(a.ids, (granted * IDS_PER_RESPONSE).min(self.ids_caps[entity] - before), "{a:?} after {before}");
                assert!(a.ids >= 1 && before + a.ids <= self.ids_caps[entity], "{a:?} after {before}");
                assert_eq!(self.entity_used(entity), before + a.ids);
                self.pending.push_back(a);
            }
            (r, a) => panic!("recipient {r:?} but allowance {a:?}"),
        }
    }

    /// The isolate holding the oldest lease gives back `unused` of its units (never more than
    /// it holds).
    fn give_back(&mut self, unused: u8) {
        let Some((charge, granted_at, held)) = self.leases.pop_front() else { return };
        let unused = u64::from(unused).min(held);
        let recipient = charge.recipient.as_ref().map(|r| &r.recipient);
        let keys: Vec<(String, u64)> = charge
            .limits
            .iter()
            .filter_map(|l| Some((CounterKey::of(l, &charge.app, recipient)?.text(), Window::containing(granted_at, l.window_seconds * 1000).start)))
            .collect();
        let windows = self.store.windows.clone();
        guard::return_units(&mut self.store, &charge, granted_at, unused).unwrap();
        let mut expected = windows;
        for (key, start) in keys {
            // Only the window the units were granted in gets them back; a later one is untouched.
            if let Some(entry) = expected.get_mut(&key).filter(|e| e.0 == start) {
                entry.1 = entry.1.saturating_sub(unused);
                let admitted = self.admitted.entry((key, start)).or_insert(0);
                *admitted = admitted.saturating_sub(unused);
            }
        }
        assert_eq!(self.store.windows, expected);
    }

    fn check_store(&self) {
        for (key, (_, n)) in &self.store.windows {
            assert!(*n <= self.limit_of[key], "{key} holds {n}, limit {}", self.limit_of[key]);
        }
        assert!(self.store.entity_days.values().all(|&n| n >= 0), "{:?}", self.store.entity_days);
        for (_, entity) in RECIPIENTS {
            assert!(self.entity_used(entity) <= self.ids_caps[entity]);
        }
    }
}

fn run(input: Input) {
    let now = match input.start {
        Start::Recent(s) => 1_600_000_000_000 + u64::from(s) * 1000,
        Start::Any(t) => t,
    };
    let mut run = Run {
        store: MemoryStore::default(),
        now,
        limits: limits(&input.limits),
        cap: input.monthly_item_cap.map(u64::from),
        ids_caps: HashMap::from([
            ("northwind", 1 + u64::from(input.ids_caps[0])),
            ("uni", 1 + u64::from(input.ids_caps[1])),
        ]),
        admitted: HashMap::new(),
        limit_of: HashMap::new(),
        pending: VecDeque::new(),
        leases: VecDeque::new(),
    };
    for op in input.ops.into_iter().take(256) {
        match op {
            Op::Charge { app, lookup, recipient, standing, want } => run.charge(app, lookup, recipient, standing, want),
            Op::Return(unused) => run.give_back(unused),
            Op::Millis(ms) => run.now = run.now.saturating_add(u64::from(ms)),
            Op::Seconds(s) => run.now = run.now.saturating_add(u64::from(s) * 1000),
            Op::Deliver(items) => {
                let key = Month::of(UnixMillis(run.now)).key();
                *run.store.months.entry(key).or_insert(0) += u64::from(items);
            }
            Op::Settle(delivered) => {
                if let Some(a) = run.pending.pop_front() {
                    let before = run.store.entity_days.get(&(a.entity.to_string(), a.day.0)).copied().unwrap_or(0);
                    guard::settle(&mut run.store, &a, u64::from(delivered)).unwrap();
                    let after = run.store.entity_days.get(&(a.entity.to_string(), a.day.0)).copied().unwrap_or(0);
                    let returned = a.ids.saturating_sub(u64::from(delivered));
                    assert_eq!(before - after, i64::try_from(returned).unwrap());
                }
            }
        }
        run.check_store();
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        run(input);
    }
});
