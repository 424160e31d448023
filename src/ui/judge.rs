//! Judging a snapshot costs time in proportion to the clusters (a large
//! fraction of a second at 100,000 partitions): it is done here, on a thread
//! of its own, so a key pressed while a poll is taken in never waits behind
//! it. The judge owns the assessor (its history and hold timers); the
//! console receives each assessment ready, in order, and only draws it.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use color_eyre::eyre::{Result, WrapErr};
use tokio::sync::mpsc;

use crate::assess::{Assessment, Assessor};
use crate::config::Settings;
use crate::model::{Snapshot, Ts};

use super::app::{App, Msg};

/// What to judge: the latest snapshot at `now`, and the paused view's
/// snapshot when the display is paused.
#[derive(Debug)]
pub struct Work {
    pub snapshot: Arc<Snapshot>,
    pub now: Ts,
    pub paused: Option<Arc<Snapshot>>,
}

/// Snapshots and assessments the console replaced. Freeing a large one
/// takes longer than a frame (≈ 90 ms at 100,000 partitions: a million
/// small allocations), so the runtime frees them on a thread of their own,
/// at once (a snapshot and its assessment are ≈ 170 MB at that size).
#[derive(Debug, Default)]
pub struct Retired {
    pub snapshots: Vec<Arc<Snapshot>>,
    pub assessments: Vec<Assessment>,
}

/// What the judge concluded.
#[derive(Clone, Debug)]
pub struct Judged {
    pub snapshot: Arc<Snapshot>,
    pub assessment: Assessment,
    /// The paused view's snapshot re-judged at the same `now` by the
    /// assessor as it was when the display was paused: the same rows, their
    /// ages still growing (a paused screen must not claim its data fresh).
    pub paused: Option<(Arc<Snapshot>, Assessment)>,
}

/// The assessor, and its copy taken when the display was paused.
#[derive(Debug)]
pub struct Judge {
    live: Assessor,
    paused: Option<(Arc<Snapshot>, Assessor)>,
}

impl Judge {
    pub fn new(settings: Settings) -> Judge {
        Judge { live: Assessor::new(settings), paused: None }
    }

    pub fn judge(&mut self, work: Work) -> Judged {
        let Work { snapshot, now, paused } = work;
        // The copy is taken before the live assessor moves on.
        match &paused {
            Some(p) if self.paused.as_ref().is_some_and(|(q, _)| Arc::ptr_eq(p, q)) => {}
            Some(p) => self.paused = Some((p.clone(), self.live.clone())),
            None => self.paused = None,
        }
        let assessment = self.live.assess(&snapshot, now);
        let paused = self.paused.as_mut().map(|(p, assessor)| (p.clone(), assessor.assess(p, now)));
        Judged { snapshot, assessment, paused }
    }

    /// Judges at `now` what `app` shows (its paused view too), as the
    /// message to give it: for a runtime played in-line (tests, benchmarks).
    pub fn message(&mut self, app: &mut App, snapshot: Arc<Snapshot>, now: Ts) -> Msg {
        drop(app.retired());
        Msg::Judged(Box::new(self.judge(app.work(snapshot, now))))
    }

    /// Judges on a thread of its own until `work` closes or the console
    /// stops taking results. A piece of work that arrives while another is
    /// judged replaces any still waiting: the console wants the latest
    /// world, and a poll skipped is only a poll missed.
    pub fn spawn(mut self) -> Result<JudgeThread> {
        let (work_tx, work_rx) = std_mpsc::channel::<Work>();
        let (judged_tx, judged) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("kdrill-judge".into())
            .spawn(move || {
                while let Ok(mut work) = work_rx.recv() {
                    while let Ok(newer) = work_rx.try_recv() {
                        work = newer;
                    }
                    if judged_tx.send(self.judge(work)).is_err() {
                        break;
                    }
                }
            })
            .wrap_err("cannot start the judging thread")?;
        let (free, freed) = std_mpsc::channel::<Retired>();
        std::thread::Builder::new()
            .name("kdrill-free".into())
            .spawn(move || freed.into_iter().for_each(self::free))
            .wrap_err("cannot start the freeing thread")?;
        Ok(JudgeThread { work: work_tx, judged, free })
    }
}

/// Frees what the console replaced, and hands the pages back to the system.
pub fn free(retired: Retired) {
    drop(retired);
    return_freed_memory();
}

/// Hands the heap's free pages back to the system. What a pass frees (≈ 170
/// MB at 100,000 partitions: the last assessment and snapshot) would
/// otherwise stay resident until the allocator happens to reuse it, so the
/// console's resident size would be its peak, not what it holds.
#[allow(unsafe_code)]
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's `malloc_trim` takes no pointer and only releases
        // free memory of the process's own heaps (every arena); any pad is
        // valid. It returns whether memory was released, which is not needed.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// The console's ends of a judge on its own thread.
pub struct JudgeThread {
    work: std_mpsc::Sender<Work>,
    free: std_mpsc::Sender<Retired>,
    /// Closed only if the judge stopped (a fault in kdrill itself).
    pub judged: mpsc::UnboundedReceiver<Judged>,
}

impl JudgeThread {
    /// Queues `work`; `false` once the judge has stopped.
    pub fn send(&self, work: Work) -> bool {
        self.work.send(work).is_ok()
    }

    /// Frees `retired` off the caller's thread.
    pub fn free(&self, retired: Retired) {
        // Should that thread be gone, this thread frees them: only slower.
        let _ = self.free.send(retired);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{DemoWorld, demo_settings};
    use chrono::{TimeDelta, TimeZone, Utc};

    fn world() -> DemoWorld {
        DemoWorld::new(7, Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).single().unwrap_or_default())
    }

    #[test]
    fn a_paused_snapshot_keeps_its_rows_and_ages_while_the_live_one_moves_on() {
        let mut world = world();
        let mut judge = Judge::new(demo_settings());
        let first = Arc::new(world.observe());
        let _ = judge.judge(Work { snapshot: first.clone(), now: world.now(), paused: None });
        world.advance(TimeDelta::seconds(40));
        let later = Arc::new(world.observe());
        let j = judge.judge(Work { snapshot: later.clone(), now: world.now(), paused: Some(first.clone()) });
        let Some((snap, paused)) = j.paused else { panic!("a paused view is judged") };
        assert!(Arc::ptr_eq(&snap, &first));
        assert_eq!(j.assessment.now, paused.now);
        let age = |a: &Assessment| match a.sides[0].freshness {
            crate::assess::Freshness::Fresh { age } | crate::assess::Freshness::Stale { age } => age,
            crate::assess::Freshness::Never => f64::NAN,
        };
        assert!(age(&paused) >= 40.0 && age(&j.assessment) < 5.0, "{} vs {}", age(&paused), age(&j.assessment));
        assert!(!paused.sides[0].freshness.is_fresh(), "40 s old figures are not fresh");
        // Resumed: the copy is gone.
        let j = judge.judge(Work { snapshot: later, now: world.now(), paused: None });
        assert!(j.paused.is_none());
        assert!(judge.paused.is_none());
    }

    #[test]
    fn what_the_console_replaces_goes_back_to_the_judge_to_be_freed() {
        let mut world = world();
        let mut judge = Judge::new(demo_settings());
        let mut app = App::new(demo_settings(), crate::ui::UiOptions::default());
        let first = Arc::new(world.observe());
        let first_at = world.now();
        let msg = judge.message(&mut app, first.clone(), first_at);
        let _ = app.update(msg);
        assert!(app.retired().snapshots.is_empty());
        world.advance(TimeDelta::seconds(1));
        let msg = judge.message(&mut app, Arc::new(world.observe()), world.now());
        let _ = app.update(msg);
        let retired = app.retired();
        assert!(retired.snapshots.len() == 1 && Arc::ptr_eq(&retired.snapshots[0], &first));
        assert_eq!(retired.assessments.iter().map(|a| a.now).collect::<Vec<_>>(), vec![first_at]);
        // Handed over once.
        assert!(app.retired().assessments.is_empty());
    }

    #[test]
    fn the_thread_judges_the_latest_work_in_order_and_stops_when_its_work_closes() {
        let mut world = world();
        let rt = tokio::runtime::Builder::new_current_thread().build();
        let Ok(rt) = rt else { panic!("a runtime") };
        let Ok(thread) = Judge::new(demo_settings()).spawn() else { panic!("the thread starts") };
        let mut sent = Vec::new();
        for _ in 0..5 {
            world.advance(TimeDelta::seconds(1));
            let snapshot = Arc::new(world.observe());
            sent.push(snapshot.taken_at);
            assert!(thread.send(Work { snapshot, now: world.now(), paused: None }));
        }
        let last = sent.last().copied();
        let JudgeThread { work, mut judged, .. } = thread;
        drop(work);
        let mut seen = Vec::new();
        while let Some(j) = rt.block_on(judged.recv()) {
            seen.push(j.snapshot.taken_at);
        }
        // Some may be skipped, never reordered, and the last is always judged.
        assert!(!seen.is_empty() && seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert_eq!(seen.last().copied(), last);
        let Ok(JudgeThread { work, judged, .. }) = Judge::new(demo_settings()).spawn() else {
            panic!("the thread starts")
        };
        drop(judged);
        // A judge whose console is gone stops at its next piece of work.
        let snapshot = Arc::new(world.observe());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while work.send(Work { snapshot: snapshot.clone(), now: world.now(), paused: None }).is_ok() {
            assert!(std::time::Instant::now() < deadline, "the judge did not stop");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
