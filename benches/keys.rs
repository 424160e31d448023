//! Key press to redrawn screen while a poll is being taken in (issue 12:
//! < 50 ms at 100,000 partitions per cluster). The judge assesses a new
//! snapshot on a thread of its own; the thread that handles keys only takes
//! in the judged result (the drill observes it, the log compares it, the lag
//! table is re-sorted). A key pressed as a poll arrives waits for that at
//! worst: the judged update, then the key's, then one frame. Measured here
//! at three sizes (see `scale`), with the key alone for comparison; the
//! assessment itself is `benches/assess.rs`.

mod scale;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kdrill::demo::{DemoWorld, demo_settings};
use kdrill::ui::judge::Judge;
use kdrill::ui::{App, Msg, Theme, UiOptions};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn draw(terminal: &mut Terminal<TestBackend>, app: &mut App) {
    let mut measured = None;
    if let Err(e) = terminal.draw(|f| measured = Some(app.draw(f))) {
        panic!("a test terminal draws: {e}");
    }
    let _ = app.update(Msg::Measured(measured.unwrap_or_default()));
}

/// A console that has judged half a minute of polls of `world`.
fn console(world: &mut DemoWorld, judge: &mut Judge, theme: &Theme) -> App {
    let opts = UiOptions { read_only: true, wall: false, theme: theme.clone(), demo: true, ..UiOptions::default() };
    let mut app = App::new(demo_settings(), opts);
    for _ in 0..30 {
        let (snap, now) = scale::next(world);
        let judged = judge.message(&mut app, Arc::new(snap), now);
        let _ = app.update(judged);
    }
    app
}

fn keys(c: &mut Criterion) {
    let theme = scale::theme();
    for scale in scale::selected() {
        let mut world = scale::world(scale);
        let mut judge = Judge::new(demo_settings());
        let mut app = console(&mut world, &mut judge, &theme);
        let mut terminal = scale::terminal();
        draw(&mut terminal, &mut app);
        let mut group = c.benchmark_group("key to frame");
        scale::size(&mut group, scale);
        // Each iteration a new poll, polled and judged outside the timing
        // (the judge's thread), then a key that moves the focus, then the frame.
        group.bench_function(BenchmarkId::new("during a new snapshot", scale.label), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let (snap, now) = scale::next(&mut world);
                    let judged = judge.message(&mut app, Arc::new(snap), now);
                    let t = Instant::now();
                    let _ = app.update(judged);
                    let _ = app.update(key(KeyCode::Tab));
                    draw(&mut terminal, &mut app);
                    spent += t.elapsed();
                }
                spent
            })
        });
        group.bench_function(BenchmarkId::new("focus key alone", scale.label), |b| {
            b.iter(|| {
                let _ = app.update(key(KeyCode::Tab));
                draw(&mut terminal, &mut app);
            })
        });
        // The sort key re-sorts every lag row of the flow shown.
        group.bench_function(BenchmarkId::new("sort key alone", scale.label), |b| {
            b.iter(|| {
                let _ = app.update(key(KeyCode::Char('o')));
                draw(&mut terminal, &mut app);
            })
        });
        group.finish();
    }
}

criterion_group!(benches, keys);
criterion_main!(benches);
