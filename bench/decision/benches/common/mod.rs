//! What the criterion benchmarks share: short runs on purpose, as `make bench` has a time budget
//! and the figures settle well within it.

use std::time::Duration;

use criterion::Criterion;

/// One second of warm-up, then `measure_secs` of measurement over 50 samples.
pub fn short(measure_secs: u64) -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(measure_secs))
        .sample_size(50)
}
