//! Criterion benchmark of the pure policy decision (see `src/lib.rs` for the fixture).
//! `bench/run.mjs` reads the medians from `$CRITERION_HOME/decision/*/new/estimates.json`.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tollgate_decision_bench::Fixture;

fn decision(c: &mut Criterion) {
    let fixture = Fixture::demo();
    let mut group = c.benchmark_group("decision");
    // token_from_header + Token::hash + decide: the per-request work before the guard.
    group.bench_function("full", |b| b.iter(|| black_box(fixture.full())));
    // decide alone, on records decoded once.
    group.bench_function("decide_only", |b| b.iter(|| black_box(fixture.decide())));
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::short(3);
    targets = decision
}
criterion_main!(benches);
