//! Leased limiting: requests spend the lease this isolate holds for their key, and no guard call
//! is made until it is spent or expired. Then one request renews it, handing back the old
//! lease's report, while the others wait for that renewal instead of each asking the guard.
//! Every lease is settled when it falls due, and deliveries left with no lease to carry them
//! are settled on their own.

use std::time::Duration;

use serde_json::json;
use worker::wasm_bindgen_futures::JsFuture;
use worker::Delay;

use super::{books, read, Allowed, Answer, Granted};
use crate::domain::throttle::charge::Charge;
use crate::domain::throttle::verdict::Allowance;
use crate::domain::throttle::lease::key::LeaseKey;
use crate::domain::access::id::Id;
use crate::domain::throttle::lease::{Lease, Report, Taken, LEASE_SIZE, LEASE_TTL_MS};
use crate::domain::time::clock::UnixMillis;
use crate::edge::api::delivery::Shipment;
use crate::edge::api::guard::Guard;
use crate::edge::api::request::Incoming;
use crate::edge::guard::client as guard_client;
use crate::domain::guard::command::Command;
use crate::edge::log;

pub struct Leased {
    pub key: LeaseKey,
    pub charge: Charge,
}

/// The lease a request was served from: what the response delivers rides with its settlement.
pub struct Held {
    key: LeaseKey,
    charge: Charge,
}

impl Leased {
    pub(super) async fn ask(self, req: &Incoming, guard: &Guard<'_>, now: UnixMillis) -> Answer<Granted> {
        let Self { key, mut charge } = self;
        if let Some(taken) = books::take(&key, now) {
            return Answer::Granted(served(key, charge, taken));
        }
        // Another request is renewing this lease: wait for it once, then try the fresh lease.
        if let Some(renewal) = books::renewal_in_flight(&key) {
            let _ = JsFuture::from(renewal).await;
            if let Some(taken) = books::take(&key, now) {
                return Answer::Granted(served(key, charge, taken));
            }
        }
        // This request renews. The mark stays until `renewing` is dropped, below, once the guard
        // has answered (or not) and any new lease is installed; that releases the waiters.
        let renewing = books::begin_renewal(&key);
        charge.fingerprint = Some(req.fingerprint());
        // The old lease's report, and any the guard did not take before.
        let mut reports = books::outbox(&key);
        reports.extend(books::close(&key));
        let command = Command::Lease { charge: charge.clone(), want: LEASE_SIZE, reports };
        let answer = match read(guard.call(&command).await, guard.account()) {
            Answer::Granted(allowed) => Answer::Granted(install(guard, key.clone(), charge.clone(), allowed, now)),
            Answer::Refused(refused) => Answer::Refused(refused),
            Answer::Unanswered(why) => {
                // The guard may or may not have settled them: keep them, whole, for the next
                // call; it settles each id once.
                if let Command::Lease { reports, .. } = command {
                    books::reopen(&key, reports);
                }
                Answer::Unanswered(why)
            }
        };
        drop(renewing);
        // A renewal that ended without a lease leaves the deliveries made meanwhile with nobody
        // to carry them: send them now.
        if !matches!(answer, Answer::Granted(_)) {
            if let Some(report) = books::orphaned(&key, &charge, now) {
                let mut reports = books::outbox(&key);
                reports.push(report);
                settle(guard, key, reports);
            }
        }
        answer
    }
}

impl Held {
    /// Adds what the response delivered to the lease's next report, with the part of the
    /// recipient's reservation it did not use; if no lease is left to carry it, it is settled on
    /// its own.
    pub fn delivered(self, guard: &Guard<'_>, shipment: Shipment, allowance: Option<Allowance>, now: UnixMillis) {
        let unused = allowance.map(|a| Allowance { ids: a.ids.saturating_sub(shipment.items), ..a });
        books::deliver(&self.key, &self.charge, now, shipment.items, shipment.ids, shipment.untracked, shipment.bytes, unused);
        if let Some(report) = books::orphaned(&self.key, &self.charge, now) {
            let mut reports = books::outbox(&self.key);
            reports.push(report);
            settle(guard, self.key, reports);
        }
    }
}

fn served(key: LeaseKey, charge: Charge, taken: Taken) -> Granted {
    Granted { quotas: taken.quotas, allowance: taken.allowance, lease: Some(Held { key, charge }), stream: None }
}

/// Installs the lease the guard granted, spends its first unit on this request, and schedules
/// its settlement (and that of a lease it could not merge with, at once).
fn install(guard: &Guard<'_>, key: LeaseKey, charge: Charge, allowed: Allowed, now: UnixMillis) -> Granted {
    let fresh = Lease::new(charge.clone(), now, allowed.granted, allowed.quotas, allowed.items, allowed.allowance);
    let (generation, taken, displaced) = books::install(&key, fresh, now);
    if let Some(report) = displaced {
        settle(guard, key.clone(), vec![report]);
    }
    settle_when_due(guard, key.clone(), generation);
    // A fresh grant holds at least one unit, and for a recipient at least one id.
    served(key, charge, taken.unwrap_or(Taken { quotas: Vec::new(), allowance: None }))
}

/// Settles the lease of `generation` when it expires, unless a newer one replaced it, with any
/// reports the guard did not take before.
fn settle_when_due(guard: &Guard<'_>, key: LeaseKey, generation: u64) {
    guard.later(move |env, account| async move {
        Delay::from(Duration::from_millis(LEASE_TTL_MS)).await;
        let Some(report) = books::due(&key, generation) else { return };
        let mut reports = books::outbox(&key);
        reports.push(report);
        send(&env, &account, &key, reports).await;
    });
}

/// Sends reports now, off the client's path.
fn settle(guard: &Guard<'_>, key: LeaseKey, reports: Vec<Report>) {
    guard.later(move |env, account| async move { send(&env, &account, &key, reports).await });
}

/// Settlement calls made for reports the guard did not take, 1, 2 and 4 s apart, before they
/// wait in the outbox for the key's next guard call.
const SETTLE_ATTEMPTS: u32 = 4;

/// Settles reports; those the guard did not take are kept, whole, and sent again a few times
/// (the guard settles each id once, so one that did arrive is not counted twice). Each failure
/// is logged with what the reports count.
async fn send(env: &worker::Env, account: &Id, key: &LeaseKey, mut reports: Vec<Report>) {
    for attempt in 1..=SETTLE_ATTEMPTS {
        let command = Command::Settle { reports };
        let Err(e) = guard_client::call(env, account, &command).await else { return };
        let tally = command.tally();
        log::event(
            "error",
            "lease_not_settled",
            json!({
                "account": account.as_str(), "attempt": attempt, "reports": tally.reports, "requests": tally.requests, "items": tally.items,
                "error": e.to_string(),
            }),
        );
        let Command::Settle { reports: kept } = command else { return };
        books::reopen(key, kept);
        if attempt == SETTLE_ATTEMPTS {
            return;
        }
        Delay::from(Duration::from_millis(1_000 << (attempt - 1))).await;
        // Whatever waits for the key now, these included, unless another call took them.
        reports = books::outbox(key);
        if reports.is_empty() {
            return;
        }
    }
}
