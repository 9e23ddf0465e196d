//! Decision cost with 10, 100 and 1,000 policies, indexed (what the
//! service runs) and over the whole set (what Cedar alone would cost).
//! `cargo bench -p keybound-policy --bench decide`

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use keybound_policy::PolicySet;

#[path = "support/generate.rs"]
mod generate;

fn decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    for count in [10usize, 100, 1_000] {
        let text = generate::policies(count);
        let set = PolicySet::load(&[("bench.cedar", &text)]).expect("generated policies load");
        let apps = generate::apps(count);
        let mut rng = generate::Rng::new(42);
        let requests: Vec<_> = (0..1024)
            .map(|_| generate::request(&mut rng, apps))
            .collect();
        p99(&set, &requests, count);
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new("indexed", count), &count, |b, _| {
            b.iter(|| {
                i = (i + 1) % requests.len();
                black_box(set.decide(&requests[i]))
            })
        });
        group.bench_with_input(BenchmarkId::new("whole_set", count), &count, |b, _| {
            b.iter(|| {
                i = (i + 1) % requests.len();
                black_box(set.decide_unindexed(&requests[i]))
            })
        });
    }
    group.finish();
}

/// Criterion reports means; the goal is a p99, so time single decisions
/// too and print their percentiles.
fn p99(set: &PolicySet, requests: &[keybound_policy::Request], count: usize) {
    let mut times: Vec<u128> = (0..20_000)
        .map(|i| {
            let start = std::time::Instant::now();
            black_box(set.decide(&requests[i % requests.len()]));
            start.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    let at =
        |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)] as f64 / 1000.0;
    eprintln!(
        "decide/indexed/{count}: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (20,000 single decisions)",
        at(0.50),
        at(0.99),
        at(1.0)
    );
}

criterion_group!(benches, decide);
criterion_main!(benches);
