//! Criterion benchmark of a stream's per-line decisions (`LineFilter::feed`): one step of 64 KiB
//! of post lines as the demo origin sends them (the filtered stream's default fields), without a
//! recipient and for a recipient in `ids_only`. The figure per line is the time per step divided
//! by the lines in it (printed once at the start).

mod common;

use std::hint::black_box;
use std::rc::Rc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tollgate::domain::redistribution::items::Metering;
use tollgate::domain::redistribution::recipient::Mode;
use tollgate::domain::redistribution::shape::Shape;
use tollgate::domain::redistribution::stream::LineFilter;

fn line(n: u64) -> String {
    let id = 1_445_880_548_472_328_192 + n;
    format!(
        r#"{{"data":{{"edit_history_tweet_ids":["{id}"],"id":"{id}","text":"Post {n} of the demo stream: a line of about the length of a short post, with some words in it."}},"matching_rules":[{{"id":"1","tag":"demo"}}]}}"#
    ) + "\r\n"
}

fn step() -> (Vec<u8>, u64) {
    let mut bytes = Vec::new();
    let mut lines = 0;
    while bytes.len() < 64 * 1024 {
        bytes.extend_from_slice(line(lines).as_bytes());
        lines += 1;
    }
    (bytes, lines)
}

fn filter(c: &mut Criterion) {
    let (chunk, lines) = step();
    println!("stream step: {} bytes, {lines} lines", chunk.len());
    let metering = Metering { shape: Rc::new(Shape::x_v2()), capped: false };
    let mut group = c.benchmark_group("stream");
    group.throughput(Throughput::Elements(lines));
    group.bench_function("feed_no_recipient", |b| {
        let mut f = LineFilter::new(None).metered(metering.clone());
        b.iter(|| {
            let batch = f.feed(black_box(&chunk), None);
            assert_eq!(batch.items, lines);
            black_box(batch)
        });
    });
    group.bench_function("feed_ids_only", |b| {
        let mut f = LineFilter::new(Some(Mode::IdsOnly)).metered(metering.clone());
        b.iter(|| black_box(f.feed(black_box(&chunk), Some(u64::MAX))));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::short(2);
    targets = filter
}
criterion_main!(benches);
