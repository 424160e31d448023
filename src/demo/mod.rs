//! The embedded demo: a simulated DC–DR pair replicated by MirrorMaker 2,
//! the default world of `kdrill demo`. It sits behind the same seam as real
//! clusters (`collect::link`), so the console cannot tell it apart.
//!
//! The world is deterministic: a seed and a virtual clock decide everything
//! (no system clock, no entropy), so a seed and a script of actions always
//! give the same snapshots. It starts in the runbook's steady state —
//! applications on DC, Strimzi `KafkaMirrorMaker2` `mm2` on DR replicating
//! DC→DR, its DR→DC twin on DC scaled to zero — and reacts to the console's
//! actions with realistic, seeded delays. Faults toggle what goes wrong in
//! real drills. See `setup` for the figures.
//!
//! The parts: `timeline` (clock, RNG, delayed events), `cluster` and
//! `groups` (each Kafka cluster), `apps`, `mm2` and `faults`, composed and
//! stepped by `world`; `schedule` toggles faults at set moments (for
//! `serve --demo`, which nobody types into).

mod apps;
mod canary;
mod cluster;
mod faults;
mod groups;
mod mm2;
mod planner;
pub(crate) mod rng;
mod schedule;
mod setup;
mod timeline;
mod world;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use regex::Regex;
use tokio::time::{Instant, MissedTickBehavior};

use crate::action::{Action, Outcome};
use crate::collect::{self, SourceEnd, WorldLink};
use crate::config::{Classification, Settings};
use crate::model::Ts;

pub use planner::planner;
pub use schedule::ScheduledFault;
pub use world::DemoWorld;

/// Judgement settings that fit the demo's names; everything else is the
/// default.
pub fn demo_settings() -> Settings {
    let res = |patterns: &[&str]| patterns.iter().filter_map(|p| Regex::new(p).ok()).collect();
    Settings {
        classification: Classification {
            app_topics: res(&[r"^(redis-writes|orders|payments|svc\d{3,}-events)$"]),
            app_groups: res(&[r"^(orders-service|payments-service|cache-invalidator|.+-consumer-\d+)$"]),
            plumbing_groups: res(&[r"^redis-applier$"]),
            own_topics: Vec::new(),
        },
        declared_active: None,
        // The demo's MM2 commits its progress every second.
        stall_after: chrono::TimeDelta::seconds(20),
        ..Settings::default()
    }
}

/// How often the task wakes to move the world on, in real time.
const WAKE: Duration = Duration::from_millis(200);

/// Runs `world` as a live source on a Tokio task (call from within a Tokio
/// runtime): virtual time follows real elapsed time, a snapshot is published
/// at each whole virtual second (the poll interval), and actions are applied
/// as they arrive, each answered by an `Outcome` stamped with world time.
/// The task ends when the link is dropped.
pub fn spawn(world: DemoWorld) -> WorldLink {
    spawn_scheduled(world, Vec::new())
}

/// `spawn`, toggling each fault of `schedule` when its moment comes; each
/// toggle is reported as an `Outcome` stamped with world time.
pub fn spawn_scheduled(world: DemoWorld, mut schedule: Vec<ScheduledFault>) -> WorldLink {
    let (link, end) = collect::link(world.observe());
    // Latest first, so the next due is popped off the end.
    schedule.sort_by_key(|s| std::cmp::Reverse(s.after));
    tokio::spawn(run(world, end, schedule));
    link
}

async fn run(mut world: DemoWorld, mut end: SourceEnd, mut schedule: Vec<ScheduledFault>) {
    let mut ticker = tokio::time::interval(WAKE);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let clock = Clock { began: Instant::now(), origin: world.now() };
    let mut polled = world.now();
    // A read-only observer drops the dispatcher: the world then runs on
    // without actions instead of stopping.
    let mut actions_open = true;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            action = end.actions.recv(), if actions_open => {
                let Some(action) = action else {
                    actions_open = false;
                    continue;
                };
                clock.catch_up(&mut world, &mut polled, &end);
                let result = world.apply(&action.action);
                if end.outcomes.send(Outcome::new(action.action, result, world.now())).is_err() {
                    break;
                }
            }
        }
        if !clock.catch_up(&mut world, &mut polled, &end) || end.outcomes.is_closed() {
            break;
        }
        let due_at =
            |s: &ScheduledFault| TimeDelta::from_std(s.after).ok().and_then(|d| clock.origin.checked_add_signed(d));
        while let Some(due) = schedule.last().filter(|s| due_at(s).is_some_and(|at| at <= world.now())) {
            let action = Action::Fault(due.fault);
            let result = world.apply(&action);
            schedule.pop();
            // Observed from the next snapshot on, like a toggle from the console.
            if end.outcomes.send(Outcome::new(action, result, world.now())).is_err() {
                return;
            }
        }
    }
}

/// Maps real elapsed time onto the world's clock.
struct Clock {
    began: Instant,
    origin: Ts,
}

impl Clock {
    /// Advances the world to the present, publishing the snapshot of the
    /// last whole virtual second passed (MM2's offset flush and the consumer
    /// commits happen on whole seconds, as a real poll would find them).
    /// False once nobody listens.
    fn catch_up(&self, world: &mut DemoWorld, polled: &mut Ts, end: &SourceEnd) -> bool {
        let elapsed = TimeDelta::from_std(self.began.elapsed()).unwrap_or_default();
        let target = self.origin + elapsed;
        let whole = self.origin + TimeDelta::seconds((target - self.origin).num_seconds());
        if whole > *polled {
            world.advance(whole - world.now());
            *polled = whole;
            if end.snapshots.send(Arc::new(world.observe())).is_err() {
                return false;
            }
        }
        world.advance(target - world.now());
        true
    }
}
