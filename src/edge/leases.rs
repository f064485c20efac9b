//! This isolate's leases and the deliveries made under them, per account, app and endpoint
//! group. See `domain::lease` for what lease mode promises.

use std::cell::RefCell;
use std::collections::HashMap;

use worker::js_sys::{Function, Promise};
use worker::wasm_bindgen::JsValue;

use crate::domain::clock::UnixMillis;
use crate::domain::guard::{Charge, Quota};
use crate::domain::lease::{Deliveries, Lease, Report};

#[derive(Default)]
struct Book {
    lease: Option<Lease>,
    /// Bumped at every new lease: a scheduled settlement of an older one does nothing.
    generation: u64,
    deliveries: Deliveries,
    /// Settles when the renewal in flight for this key ends (granted or not).
    renewing: Option<Promise>,
    /// Numbers the renewals, so an older one ending cannot clear a newer one's mark.
    renewals: u64,
}

thread_local! {
    static BOOKS: RefCell<HashMap<String, Book>> = RefCell::new(HashMap::new());
}

fn with<R>(key: &str, f: impl FnOnce(&mut Book) -> R) -> R {
    BOOKS.with(|books| f(books.borrow_mut().entry(key.to_owned()).or_default()))
}

/// Spends one unit of the key's lease, if it has one that is live.
pub fn take(key: &str, now: UnixMillis) -> Option<Vec<Quota>> {
    with(key, |b| b.lease.as_mut().and_then(|l| l.take(now)))
}

/// Ends the key's lease (spent or expired) and hands back its report, with the deliveries.
pub fn close(key: &str) -> Option<Report> {
    with(key, |b| {
        let lease = b.lease.take()?;
        Some(lease.report(std::mem::take(&mut b.deliveries)))
    })
}

/// Deliveries made after the key's lease was settled, with no lease left to carry them. While a
/// renewal is in flight they wait for it: the next lease's report carries them.
pub fn orphaned(key: &str, charge: &Charge, now: UnixMillis) -> Option<Report> {
    with(key, |b| {
        if b.lease.is_some() || b.renewing.is_some() || b.deliveries.is_empty() {
            return None;
        }
        let deliveries = std::mem::take(&mut b.deliveries);
        Some(Report { charge: charge.clone(), granted_at: now, granted: 0, used: 0, deliveries })
    })
}

/// Puts a report that could not be sent back, so nothing it counts is lost.
pub fn reopen(key: &str, report: Report) {
    with(key, |b| {
        let Report { charge, granted_at, granted, used, deliveries } = report;
        let mut lease = Lease::new(charge, granted_at, granted, Vec::new());
        lease.used = used;
        lease.expires_at = granted_at; // spent: nothing more is taken from it
        b.lease = Some(lease);
        b.deliveries.add(deliveries.items, deliveries.ids, deliveries.untracked, deliveries.bytes);
    });
}

/// Installs a new grant and spends its first unit for the request that asked for it. Returns
/// the generation to settle later, the windows for this request, and a report to send at once
/// if the grant could not be merged with a lease another request installed meanwhile.
pub fn install(key: &str, lease: Lease, now: UnixMillis) -> (u64, Option<Vec<Quota>>, Option<Report>) {
    with(key, |b| {
        let merged = b.lease.as_mut().is_some_and(|current| current.merge(&lease));
        let mut displaced = None;
        if !merged {
            // Another request installed a lease in an older window: settle that one now.
            displaced = b.lease.take().map(|l| l.report(Deliveries::default()));
            b.lease = Some(lease.clone());
        }
        b.generation += 1;
        // A fresh grant is at least one unit and lives past `now`: this take succeeds.
        let quotas = b.lease.as_mut().and_then(|l| l.take(now));
        (b.generation, quotas, displaced)
    })
}

/// Adds what a response under a lease delivered.
pub fn deliver(key: &str, items: u64, ids: Vec<String>, untracked: u64, bytes: u64) {
    with(key, |b| b.deliveries.add(items, ids, untracked, bytes));
}

/// The settlement due for `generation`: the lease if it is still that one, and any deliveries.
pub fn due(key: &str, generation: u64) -> Option<Report> {
    with(key, |b| {
        if b.generation != generation {
            return None;
        }
        let deliveries = std::mem::take(&mut b.deliveries);
        b.lease.take().map(|lease| lease.report(deliveries))
    })
}

/// The renewal in flight for the key, if one is: a request that finds the lease spent waits for
/// it instead of asking the guard itself, so concurrent requests make one guard call, not one each,
/// and the isolate holds one lease's units, not one per waiting request.
pub fn renewal_in_flight(key: &str) -> Option<Promise> {
    with(key, |b| b.renewing.clone())
}

/// Marks a renewal of the key's lease as in flight until the returned handle is dropped, which
/// releases whoever waits for it, whatever became of the renewal.
pub fn begin_renewal(key: &str) -> Renewal {
    let mut resolve = None;
    let promise = Promise::new(&mut |res: Function, _rej: Function| resolve = Some(res));
    let number = with(key, |b| {
        b.renewals += 1;
        b.renewing = Some(promise);
        b.renewals
    });
    Renewal { key: key.to_owned(), number, resolve }
}

pub struct Renewal {
    key: String,
    number: u64,
    resolve: Option<Function>,
}

impl Drop for Renewal {
    fn drop(&mut self) {
        with(&self.key, |b| {
            if b.renewals == self.number {
                b.renewing = None;
            }
        });
        if let Some(resolve) = self.resolve.take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }
}
