//! The console's resident memory at 100,000 partitions per cluster and
//! 5,000 groups (issue 12: ≤ 200 MB). Not a criterion bench: it builds the
//! demo world at that size, feeds a console (`App`, with its assessor) a
//! minute of polls drawing a frame after each, as a running console does,
//! and prints the process's resident memory from /proc/self/status before
//! the console exists and after. The world itself lives in this process
//! (the demo's does too); the console's share is the difference.
//!
//! `KDRILL_BENCH_SCALES` picks the size (default 100k; see `scale`).
//! `KDRILL_BENCH_BUSY=1` moves every partition's end offset on every poll,
//! so each partition's offset history fills up as on a cluster where every
//! partition is written to between polls (the demo's scaled topics write a
//! partition only every ~10 s).

mod scale;

use std::sync::Arc;

use kdrill::demo::demo_settings;
use kdrill::model::Snapshot;
use kdrill::ui::judge::Judge;
use kdrill::ui::{App, Msg, UiOptions};

const POLLS: i64 = 60;

/// VmRSS and VmHWM in MiB.
fn resident() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn busy(snap: &mut Snapshot, poll: i64) {
    for cluster in &mut snap.clusters {
        for topic in cluster.topics.iter_mut().flat_map(|t| t.value.iter_mut()) {
            for p in &mut topic.partitions {
                p.end_offset = p.end_offset.map(|e| e + poll * 100);
            }
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing here is filtered.
    let busy_polls = std::env::var("KDRILL_BENCH_BUSY").is_ok_and(|v| v == "1");
    let wanted = std::env::var("KDRILL_BENCH_SCALES").unwrap_or_else(|_| "100k".into());
    let theme = scale::theme();
    for scale in scale::SCALES.iter().filter(|s| wanted.split(',').any(|w| w.trim() == s.label)) {
        let mut world = scale::world(scale);
        let (snap, _) = scale::next(&mut world);
        let (world_rss, _) = resident();
        let opts = UiOptions { read_only: true, theme: theme.clone(), demo: true, ..UiOptions::default() };
        let mut app = App::new(demo_settings(), opts);
        // The judge's thread belongs to the same process: judged in-line here.
        let mut judge = Judge::new(demo_settings());
        let mut terminal = scale::terminal();
        drop(snap);
        for poll in 1..=POLLS {
            let (mut snap, now) = scale::next(&mut world);
            if busy_polls {
                busy(&mut snap, poll);
            }
            let judged = judge.message(&mut app, Arc::new(snap), now);
            let _ = app.update(judged);
            // Freed at once, as the runtime's freeing thread does.
            kdrill::ui::judge::free(app.retired());
            let mut measured = None;
            if let Err(e) = terminal.draw(|f| measured = Some(app.draw(f))) {
                panic!("a test terminal draws: {e}");
            }
            let _ = app.update(Msg::Measured(measured.unwrap_or_default()));
        }
        let (rss, hwm) = resident();
        println!(
            "memory {} ({} partitions, {} groups per cluster{}): world alone {world_rss:.0} MiB; \
             after {POLLS} polls: VmRSS {rss:.0} MiB, VmHWM {hwm:.0} MiB; console ≈ {:.0} MiB",
            scale.label,
            scale.partitions,
            scale.groups,
            if busy_polls { ", every partition written between polls" } else { "" },
            rss - world_rss,
        );
        drop(app);
    }
}
