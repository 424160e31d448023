//! One assessment pass over a pair scaled to 10,000 partitions per cluster
//! and 500 consumer groups: ingest a new snapshot into history, then judge
//! roles, rates, lag, MM2 and rules. Target: ≤ 5 ms (docs/performance.md).

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kdrill::assess::Assessor;
use kdrill::demo::{DemoWorld, demo_settings};

fn assessment_pass(c: &mut Criterion) {
    let start = Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).single().unwrap_or_default();
    let mut world = DemoWorld::scaled(7, start, 10_000, 500);
    let mut assessor = Assessor::new(demo_settings());
    // A minute of history, as a running console has.
    for _ in 0..60 {
        world.advance(TimeDelta::seconds(1));
        assessor.assess(&world.observe(), world.now());
    }
    world.advance(TimeDelta::seconds(1));
    let next = world.observe();
    let now = world.now();
    let partitions: usize =
        next.clusters[0].topics.as_ref().map_or(0, |t| t.value.iter().map(|t| t.partitions.len()).sum());
    let groups = next.clusters[0].groups.as_ref().map_or(0, |g| g.value.len());
    eprintln!("scaled world: {partitions} partitions and {groups} groups on DC");

    c.bench_function("assess: new snapshot, 10k partitions, 500 groups", |b| {
        b.iter_batched(|| assessor.clone(), |mut a| a.assess(&next, now), BatchSize::LargeInput)
    });
    c.bench_function("assess: re-judge at a later tick (no new snapshot)", |b| {
        let mut a = assessor.clone();
        a.assess(&next, now);
        let later = now + TimeDelta::milliseconds(500);
        b.iter(|| a.assess(&next, later))
    });
    c.bench_function("demo: observe 10k partitions", |b| b.iter(|| world.observe()));
}

criterion_group!(benches, assessment_pass);
criterion_main!(benches);
