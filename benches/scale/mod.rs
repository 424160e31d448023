//! The three sizes the console benches run at (issue 12): the demo world
//! scaled to 1,000, 10,000 and 100,000 application partitions per cluster
//! with 50, 500 and 5,000 consumer groups. `KDRILL_BENCH_SCALES=1k,10k`
//! picks some of them (building the 100k world takes a while). Also the
//! console's theme and a 160×48 test terminal, shared by the UI benches.

#![allow(dead_code)]

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use kdrill::demo::DemoWorld;
use kdrill::model::{Snapshot, Ts};
use kdrill::ui::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub struct Scale {
    pub label: &'static str,
    pub partitions: usize,
    pub groups: usize,
}

pub const SCALES: [Scale; 3] = [
    Scale { label: "1k", partitions: 1_000, groups: 50 },
    Scale { label: "10k", partitions: 10_000, groups: 500 },
    Scale { label: "100k", partitions: 100_000, groups: 5_000 },
];

/// The scales asked for in `KDRILL_BENCH_SCALES` (all when unset).
pub fn selected() -> impl Iterator<Item = &'static Scale> {
    let wanted = std::env::var("KDRILL_BENCH_SCALES").ok();
    SCALES.iter().filter(move |s| wanted.as_deref().is_none_or(|w| w.split(',').any(|x| x.trim() == s.label)))
}

pub fn start() -> Ts {
    Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).single().unwrap_or_default()
}

pub fn world(scale: &Scale) -> DemoWorld {
    DemoWorld::scaled(7, start(), scale.partitions, scale.groups)
}

/// The world one second on, and what a poll sees then.
pub fn next(world: &mut DemoWorld) -> (Snapshot, Ts) {
    world.advance(TimeDelta::seconds(1));
    (world.observe(), world.now())
}

/// Fewer, shorter samples for the larger scales, so a run stays in minutes.
pub fn size(group: &mut BenchmarkGroup<'_, WallTime>, scale: &Scale) {
    match scale.partitions {
        0..=1_000 => group.sample_size(50).measurement_time(Duration::from_secs(3)),
        1_001..=10_000 => group.sample_size(20).measurement_time(Duration::from_secs(5)),
        _ => group.sample_size(10).measurement_time(Duration::from_secs(10)),
    };
    group.warm_up_time(Duration::from_secs(1));
}

/// Application partitions and groups on DC, to print what was measured.
pub fn describe(snap: &Snapshot) -> String {
    let c = &snap.clusters[0];
    let partitions: usize = c.topics.as_ref().map_or(0, |t| t.value.iter().map(|t| t.partitions.len()).sum());
    let groups = c.groups.as_ref().map_or(0, |g| g.value.len());
    format!("{partitions} partitions and {groups} groups on DC")
}

/// The built-in dark theme the console starts with.
pub fn theme() -> Theme {
    match Theme::load("dark", None, false) {
        Ok(t) => t,
        Err(e) => panic!("the built-in theme must load: {e}"),
    }
}

/// A 160×48 terminal drawn in memory.
pub fn terminal() -> Terminal<TestBackend> {
    match Terminal::new(TestBackend::new(160, 48)) {
        Ok(t) => t,
        Err(e) => panic!("a test terminal: {e}"),
    }
}
