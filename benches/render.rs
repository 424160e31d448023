//! A full console frame (console and wall layouts, 160×48) drawn into
//! ratatui's `TestBackend` at three sizes (see `scale`). The lag table draws
//! only its visible rows. Target: ≤ 2 ms a frame at 100,000 partitions per
//! cluster (docs/performance.md).

mod scale;

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kdrill::demo::demo_settings;
use kdrill::ui::judge::Judge;
use kdrill::ui::{App, UiOptions};

fn render(c: &mut Criterion) {
    let theme = scale::theme();
    for scale in scale::selected() {
        let mut world = scale::world(scale);
        let mut group = c.benchmark_group("render 160x48");
        scale::size(&mut group, scale);
        let mut apps: Vec<(&str, App)> = [("console", false), ("wall", true)]
            .into_iter()
            .map(|(name, wall)| {
                let opts = UiOptions {
                    read_only: true,
                    wall,
                    theme: theme.clone(),
                    demo: true,
                    recovered: Vec::new(),
                    planner: None,
                };
                (name, App::new(demo_settings(), opts))
            })
            .collect();
        let mut judge = Judge::new(demo_settings());
        for _ in 0..30 {
            let (snap, now) = scale::next(&mut world);
            let snap = Arc::new(snap);
            for (_, app) in &mut apps {
                let judged = judge.message(app, snap.clone(), now);
                let _ = app.update(judged);
            }
        }
        for (name, app) in &apps {
            let mut terminal = scale::terminal();
            group.bench_function(BenchmarkId::new(*name, scale.label), |b| {
                b.iter(|| {
                    terminal
                        .draw(|f| {
                            let _ = app.draw(f);
                        })
                        .map(|_| ())
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
