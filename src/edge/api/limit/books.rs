//! This isolate's leases, one `LeaseBook` per lease key (the pure bookkeeping, in
//! `domain::throttle::lease::book`), and the promise that requests wait on while a renewal is in
//! flight. See `domain::throttle::lease` for what lease mode promises.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::json;
use worker::js_sys::{Function, Promise};
use worker::wasm_bindgen::JsValue;

use crate::domain::time::clock::UnixMillis;
use crate::domain::throttle::charge::Charge;
use crate::domain::throttle::verdict::Allowance;
use crate::domain::throttle::lease::{Lease, Report, Taken};
use crate::domain::throttle::lease::book::LeaseBook;
use crate::domain::throttle::lease::key::LeaseKey;
use crate::edge::log;

struct Entry {
    book: LeaseBook,
    /// Settles when the renewal in flight ends (granted or not).
    renewal: Option<Promise>,
}

thread_local! {
    static BOOKS: RefCell<HashMap<LeaseKey, Entry>> = RefCell::new(HashMap::new());
}

fn with<R>(key: &LeaseKey, f: impl FnOnce(&mut Entry) -> R) -> R {
    BOOKS.with(|books| {
        let mut books = books.borrow_mut();
        match books.get_mut(key) {
            Some(entry) => f(entry),
            None => {
                // Report ids: this isolate, the key, a number. Unique to the account's guard,
                // which settles each once.
                let book = LeaseBook::new(format!("{}/{key}", crate::edge::random::isolate_name()));
                f(books.entry(key.clone()).or_insert(Entry { book, renewal: None }))
            }
        }
    })
}

pub fn take(key: &LeaseKey, now: UnixMillis) -> Option<Taken> {
    with(key, |e| e.book.take(now))
}

pub fn close(key: &LeaseKey) -> Option<Report> {
    with(key, |e| e.book.close())
}

pub fn orphaned(key: &LeaseKey, charge: &Charge, now: UnixMillis) -> Option<Report> {
    with(key, |e| e.book.orphaned(charge, now))
}

pub fn reopen(key: &LeaseKey, reports: Vec<Report>) {
    let dropped: Vec<Report> = with(key, |e| reports.into_iter().filter_map(|r| e.book.reopen(r)).collect());
    dropped.iter().for_each(|r| log_dropped(key, r));
}

/// A report the full outbox could not keep: what it counted is logged, never silently lost.
fn log_dropped(key: &LeaseKey, report: &Report) {
    log::event(
        "error",
        "lease_report_dropped",
        json!({
            "account": key.account.as_str(), "app": key.app.as_str(), "group": key.group.as_str(), "report": report.id,
            "requests": report.used, "items": report.deliveries.items, "ids": report.deliveries.ids.len(), "bytes": report.deliveries.bytes,
        }),
    );
}

/// The reports the guard did not take before, to send with the next call.
pub fn outbox(key: &LeaseKey) -> Vec<Report> {
    with(key, |e| e.book.outbox())
}

pub fn install(key: &LeaseKey, lease: Lease, now: UnixMillis) -> (u64, Option<Taken>, Option<Report>) {
    with(key, |e| e.book.install(lease, now))
}

#[allow(clippy::too_many_arguments)]
pub fn deliver(key: &LeaseKey, charge: &Charge, now: UnixMillis, items: u64, ids: Vec<String>, untracked: u64, bytes: u64, unused: Option<Allowance>) {
    if let Some(dropped) = with(key, |e| e.book.deliver(charge, now, items, ids, untracked, bytes, unused)) {
        log_dropped(key, &dropped);
    }
}

pub fn due(key: &LeaseKey, generation: u64) -> Option<Report> {
    with(key, |e| e.book.due(generation))
}

/// The renewal in flight for the key, if one is: a request that finds the lease spent waits for
/// it instead of asking the guard itself, so concurrent requests make one guard call, not one
/// each, and the isolate holds one lease's units, not one per waiting request.
pub fn renewal_in_flight(key: &LeaseKey) -> Option<Promise> {
    with(key, |e| if e.book.renewing() { e.renewal.clone() } else { None })
}

/// Marks a renewal of the key's lease as in flight until the returned handle is dropped, which
/// releases whoever waits for it, whatever became of the renewal.
pub fn begin_renewal(key: &LeaseKey) -> Renewal {
    let mut resolve = None;
    let promise = Promise::new(&mut |res: Function, _rej: Function| resolve = Some(res));
    let number = with(key, |e| {
        e.renewal = Some(promise);
        e.book.begin_renewal()
    });
    Renewal { key: key.clone(), number, resolve }
}

pub struct Renewal {
    key: LeaseKey,
    number: u64,
    resolve: Option<Function>,
}

impl Drop for Renewal {
    fn drop(&mut self) {
        with(&self.key, |e| e.book.end_renewal(self.number));
        if let Some(resolve) = self.resolve.take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }
}
