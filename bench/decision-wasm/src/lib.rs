//! Exports for timing the decision in a wasm runtime. The fixture is built on the first call
//! (bench/run.mjs makes that call before it starts timing).

use std::hint::black_box;

use tollgate::domain::access::decision::Decision;
use tollgate_decision_bench::Fixture;

thread_local! {
    static FIXTURE: Fixture = Fixture::demo();
}

fn allowed(d: &Decision) -> u32 {
    u32::from(matches!(d, Decision::Allow(_)))
}

/// token_from_header + Token::hash + decide, `iterations` times. Returns how many were allowed
/// (so nothing can be optimised away, and the caller can check the path taken).
#[no_mangle]
pub extern "C" fn run(iterations: u32) -> u32 {
    FIXTURE.with(|f| {
        let mut allowed_count = 0u32;
        for _ in 0..iterations {
            if let Ok(d) = black_box(f.full()) {
                allowed_count += allowed(&d);
            }
        }
        allowed_count
    })
}

/// decide alone, `iterations` times.
#[no_mangle]
pub extern "C" fn run_decide(iterations: u32) -> u32 {
    FIXTURE.with(|f| {
        let mut allowed_count = 0u32;
        for _ in 0..iterations {
            allowed_count += allowed(&black_box(f.decide()));
        }
        allowed_count
    })
}
