//! One assessment pass at three sizes (see `scale`): ingest a new snapshot
//! into history, then judge roles, rates, lag, MM2 and rules. Targets:
//! ≤ 5 ms at 10,000 partitions per cluster and 500 groups, ≤ 50 ms at
//! 100,000 and 5,000 (docs/performance.md).

mod scale;

use std::time::Instant;

use chrono::TimeDelta;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use kdrill::assess::Assessor;
use kdrill::demo::demo_settings;

fn assessment_pass(c: &mut Criterion) {
    for scale in scale::selected() {
        let built = Instant::now();
        let mut world = scale::world(scale);
        let built = built.elapsed();
        let mut assessor = Assessor::new(demo_settings());
        // A minute of history, as a running console has.
        for _ in 0..60 {
            let (snap, now) = scale::next(&mut world);
            assessor.assess(&snap, now);
        }
        let (next, now) = scale::next(&mut world);
        eprintln!("{}: {} (world built in {built:.1?})", scale.label, scale::describe(&next));

        let mut group = c.benchmark_group("assess");
        scale::size(&mut group, scale);
        group.bench_function(BenchmarkId::new("new snapshot", scale.label), |b| {
            b.iter_batched(|| assessor.clone(), |mut a| (a.assess(&next, now), a), BatchSize::PerIteration)
        });
        // As the console runs: one assessor, each pass on the world's next
        // poll (made outside the timing), history warm and growing. The
        // console frees a replaced snapshot and assessment on a thread of
        // their own, so freeing them is not timed here either.
        group.bench_function(BenchmarkId::new("next poll, same assessor", scale.label), |b| {
            let mut a = assessor.clone();
            a.assess(&next, now);
            b.iter_batched(
                || scale::next(&mut world),
                |(snap, now)| (a.assess(&snap, now), snap),
                BatchSize::PerIteration,
            )
        });
        group.bench_function(BenchmarkId::new("re-judge at a later tick", scale.label), |b| {
            let mut a = assessor.clone();
            a.assess(&next, now);
            let later = now + TimeDelta::milliseconds(500);
            b.iter_batched(|| (), |()| a.assess(&next, later), BatchSize::PerIteration)
        });
        group.bench_function(BenchmarkId::new("demo observe", scale.label), |b| b.iter(|| world.observe()));
        group.finish();
    }
}

criterion_group!(benches, assessment_pass);
criterion_main!(benches);
