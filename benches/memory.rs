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
//! as on a cluster where every partition is written to between polls (the
//! demo's scaled topics write a partition only every ~10 s), and MM2's
//! positions, the groups' commits and the checkpoints with it: they keep up.
//! `KDRILL_BENCH_BUSY=behind` moves the end offsets alone: MM2 and every
//! group fall further behind on every partition, so every partition's
//! offset history reaches back to where they stand (the worst case).
//!
//! Then, with a counting allocator, what one snapshot, one assessment and
//! the assessor's history hold on the heap after 30 polls.

#![allow(unsafe_code)]

mod scale;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use kdrill::assess::Assessor;
use kdrill::demo::demo_settings;
use kdrill::model::Snapshot;
use kdrill::ui::judge::Judge;
use kdrill::ui::{App, Msg, UiOptions};

const POLLS: i64 = 60;

/// The system allocator, counting the bytes live on the heap.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; the count
// is a side effect only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc`, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `dealloc`, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc`, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes live on the heap, in MiB.
fn heap() -> f64 {
    LIVE.load(Ordering::Relaxed) as f64 / 1_048_576.0
}

/// What one snapshot, one assessment and the history hold, in MiB.
fn parts(world: &mut kdrill::demo::DemoWorld) -> (f64, f64, f64) {
    let mut assessor = Assessor::new(demo_settings());
    for _ in 0..30 {
        let (snap, now) = scale::next(world);
        drop(assessor.assess(&snap, now));
    }
    let before = heap();
    let (snap, now) = scale::next(world);
    let snapshot = heap() - before;
    let before = heap();
    let assessment = assessor.assess(&snap, now);
    let judged = heap() - before;
    drop((assessment, snap));
    let before = heap();
    drop(assessor);
    (snapshot, judged, before - heap())
}

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

fn busy(snap: &mut Snapshot, poll: i64, readers_follow: bool) {
    let moved = poll * 100;
    for cluster in &mut snap.clusters {
        for topic in cluster.topics.iter_mut().flat_map(|t| t.value.iter_mut()) {
            for p in &mut topic.partitions {
                p.end_offset = p.end_offset.map(|e| e + moved);
            }
        }
        if !readers_follow {
            continue;
        }
        for group in cluster.groups.iter_mut().flat_map(|g| g.value.iter_mut()) {
            for c in group.committed.iter_mut().flatten() {
                c.offset += moved;
            }
        }
        for k in cluster.checkpoints.iter_mut().flat_map(|k| k.value.iter_mut()) {
            k.upstream_offset += moved;
            k.downstream_offset += moved;
        }
    }
    if readers_follow {
        for r in snap.mm2.iter_mut().flat_map(|d| d.replicated.iter_mut()).flat_map(|r| r.value.iter_mut()) {
            r.upstream_offset += moved;
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing here is filtered.
    let busy_env = std::env::var("KDRILL_BENCH_BUSY").ok();
    let (busy_polls, readers_follow) = match busy_env.as_deref() {
        Some("1") => (true, true),
        Some("behind") => (true, false),
        _ => (false, false),
    };
    let wanted = std::env::var("KDRILL_BENCH_SCALES").unwrap_or_else(|_| "100k".into());
    let theme = scale::theme();
    for scale in scale::SCALES.iter().filter(|s| wanted.split(',').any(|w| w.trim() == s.label)) {
        let mut world = scale::world(scale);
        // The world's first snapshot made and freed, and the freed pages
        // handed back, so that the baseline is the world alone.
        drop(scale::next(&mut world));
        kdrill::ui::judge::free(Default::default());
        let (world_rss, _) = resident();
        let world_heap = heap();
        let opts = UiOptions { read_only: true, theme: theme.clone(), demo: true, ..UiOptions::default() };
        let mut app = App::new(demo_settings(), opts);
        // The judge's thread belongs to the same process: judged in-line here.
        let mut judge = Judge::new(demo_settings());
        let mut terminal = scale::terminal();
        for poll in 1..=POLLS {
            let (mut snap, now) = scale::next(&mut world);
            if busy_polls {
                busy(&mut snap, poll, readers_follow);
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
        let held = heap() - world_heap;
        println!(
            "memory {} ({} partitions, {} groups per cluster{}): world alone {world_rss:.0} MiB; \
             after {POLLS} polls: VmRSS {rss:.0} MiB, VmHWM {hwm:.0} MiB; console ≈ {:.0} MiB",
            scale.label,
            scale.partitions,
            scale.groups,
            match (busy_polls, readers_follow) {
                (false, _) => "",
                (true, true) => ", every partition written between polls, MM2 and groups following",
                (true, false) => ", every partition written between polls, MM2 and groups not following",
            },
            rss - world_rss,
        );
        drop((app, judge, terminal));
        let world_grew = heap() - world_heap;
        let (snapshot, assessment, history) = parts(&mut world);
        println!(
            "  heap held by the console after {POLLS} polls ≈ {held:.0} MiB (less the world's own growth, \
             {world_grew:.1} MiB); one snapshot {snapshot:.1} MiB, \
             one assessment {assessment:.1} MiB, the history {history:.1} MiB"
        );
    }
}
