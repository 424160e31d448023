//! A full console frame drawn into ratatui's `TestBackend` with the demo
//! world scaled to 10,000 partitions per cluster and 500 groups. The lag
//! table draws only its visible rows. Target: ≤ 2 ms a frame
//! (docs/performance.md).

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use kdrill::demo::{DemoWorld, demo_settings};
use kdrill::ui::{App, Msg, Theme, UiOptions};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(c: &mut Criterion) {
    let start = Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).single().unwrap_or_default();
    let mut world = DemoWorld::scaled(7, start, 10_000, 500);
    let theme = match Theme::load("dark", None, false) {
        Ok(t) => t,
        Err(e) => panic!("the built-in theme must load: {e}"),
    };
    for (name, wall) in [("console", false), ("wall", true)] {
        let opts =
            UiOptions { read_only: true, wall, theme: theme.clone(), demo: true, recovered: Vec::new(), planner: None };
        let mut app = App::new(demo_settings(), opts);
        for _ in 0..30 {
            world.advance(TimeDelta::seconds(1));
            let _ = app.update(Msg::Snapshot(Arc::new(world.observe()), world.now()));
        }
        let mut terminal = match Terminal::new(TestBackend::new(160, 48)) {
            Ok(t) => t,
            Err(e) => panic!("a test terminal: {e}"),
        };
        c.bench_function(&format!("render {name} 160x48, 10k partitions, 500 groups"), |b| {
            b.iter(|| {
                terminal
                    .draw(|f| {
                        let _ = app.draw(f);
                    })
                    .map(|_| ())
            })
        });
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
