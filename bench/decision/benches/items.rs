//! Criterion benchmark of the item counter, per body, for each response shape the demo origin
//! serves (see `src/bodies.rs`), and for X API v2's shape with the counter as it was before shapes
//! (`src/before_shapes.rs`). `bench/run.mjs` reads the medians from
//! `$CRITERION_HOME/items/*/new/estimates.json`.
//!
//! - `*_count`: the items of one page (what the monthly cap and the ledger count).
//! - `*_delivery`: the items and their ids, as a delivery reads them for the ledger (before
//!   shapes: `count`, then `ids`, two passes; now `items::meter`, one).

mod common;

use std::hint::black_box;
use std::rc::Rc;

use criterion::{criterion_group, criterion_main, Criterion};
use tollgate::domain::redistribution::items::{self, Metering};
use tollgate::domain::redistribution::shape::Shape;
use tollgate_decision_bench::{before_shapes, bodies};

fn shape(json: &str) -> Shape {
    serde_json::from_str(json).expect("a valid shape")
}

fn counter(c: &mut Criterion) {
    let x = bodies::x_v2();
    let shapes = [
        ("x_v2", Shape::x_v2(), x.clone()),
        ("array", shape(r#"{"items":""}"#), bodies::array()),
        ("listing", shape(r#"{"items":"/data/children","id":"/data/id","keep":["/kind","/data/id","/data/name"],"count":"/data/dist"}"#), bodies::listing()),
    ];
    for (_, shape, body) in &shapes {
        let reading = items::read(body, shape, true).expect("the body has its shape");
        assert_eq!((reading.items, reading.ids.map(|i| i.len())), (bodies::ITEMS as u64, Some(bodies::ITEMS)));
    }
    assert_eq!(before_shapes::count(&x), Some(bodies::ITEMS as u64));

    let mut group = c.benchmark_group("items");
    group.bench_function("x_v2_before_count", |b| b.iter(|| black_box(before_shapes::count(black_box(&x)))));
    group.bench_function("x_v2_before_delivery", |b| {
        b.iter(|| black_box((before_shapes::count(black_box(&x)), before_shapes::ids(black_box(&x)))));
    });
    for (name, shape, body) in shapes {
        let metering = Metering { shape: Rc::new(shape), capped: true };
        group.bench_function(format!("{name}_count"), |b| b.iter(|| black_box(items::count(black_box(&body), &metering.shape))));
        group.bench_function(format!("{name}_delivery"), |b| b.iter(|| black_box(items::meter(black_box(&body), &metering))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::short(2);
    targets = counter
}
criterion_main!(benches);
