//! Per-isolate counters of the work each request costs, counted where the work happens and read
//! by the benchmark through the admin API (the enforcer passes its isolate's counters on with
//! each admin request).

use std::cell::Cell;

thread_local! {
    static REQUESTS: Cell<u64> = const { Cell::new(0) };
    static KV_READS: Cell<u64> = const { Cell::new(0) };
    static GUARD_CALLS: Cell<u64> = const { Cell::new(0) };
}

fn bump(counter: &'static std::thread::LocalKey<Cell<u64>>) {
    counter.with(|c| c.set(c.get() + 1));
}

#[cfg(feature = "enforcer")]
pub fn request() {
    bump(&REQUESTS);
}

#[cfg(feature = "enforcer")]
pub fn kv_read() {
    bump(&KV_READS);
}

pub fn guard_call() {
    bump(&GUARD_CALLS);
}

#[cfg(feature = "enforcer")]
pub fn snapshot() -> serde_json::Value {
    serde_json::json!({
        "requests": REQUESTS.with(Cell::get),
        "kv_reads": KV_READS.with(Cell::get),
        "guard_calls": GUARD_CALLS.with(Cell::get),
    })
}
