//! A scripted demo drill shared by the journal and report tests: the demo
//! world polled once per virtual second, an operator who confirms every
//! manual item and runs every step's action as soon as its gate allows.

#![allow(dead_code)]

use chrono::{TimeDelta, TimeZone, Utc};
use kdrill::action::{Action, Outcome};
use kdrill::assess::{Assessment, Assessor};
use kdrill::demo::{DemoWorld, demo_settings};
use kdrill::drill::journal::{FORMAT, Record, Who};
use kdrill::drill::{Drill, DrillEvent, PlanKind};
use kdrill::model::Ts;

pub const SEED: u64 = 7;
/// Polls before the figures are representative (rates need history).
pub const WARM_UP: u32 = 12;

pub fn start() -> Ts {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).single().unwrap_or_default()
}

pub struct Script {
    pub world: DemoWorld,
    pub assessor: Assessor,
    pub a: Assessment,
    pub drill: Drill,
    /// The operator runs steps' actions (off: they wait for someone else).
    pub operator_acts: bool,
}

impl Script {
    /// A warmed-up demo world and a new drill of `kind`.
    pub fn new(kind: PlanKind, config: &str) -> Script {
        let world = DemoWorld::new(SEED, start());
        let mut assessor = Assessor::new(demo_settings());
        let a = assessor.assess(&world.observe(), world.now());
        let settings = demo_settings();
        let drill = Drill::start(kind, settings.hold_window, &settings.infra_checklist, world.now());
        let mut s = Script { world, assessor, a, drill, operator_acts: true };
        s.poll(WARM_UP);
        let drill =
            Drill::start_with_config(kind, settings.hold_window, &settings.infra_checklist, config, s.world.now());
        s.drill = drill;
        s
    }

    /// The world brought back to where the journal left it: the same seed,
    /// the actions journaled applied at the times they were requested (the
    /// world is deterministic), then the drill replayed from the journal.
    pub fn resume(events: &[DrillEvent]) -> Script {
        let mut world = DemoWorld::new(SEED, start());
        let mut assessor = Assessor::new(demo_settings());
        let mut a = assessor.assess(&world.observe(), world.now());
        let mut catch_up = |world: &mut DemoWorld, until: Ts| {
            while world.now() < until {
                world.advance(TimeDelta::seconds(1));
                a = assessor.assess(&world.observe(), world.now());
            }
        };
        for ev in events {
            if let DrillEvent::ActionRequested { action, at, .. } = ev {
                catch_up(&mut world, *at);
                let _ = world.apply(action);
            }
        }
        let last = events.last().map_or(start(), DrillEvent::at);
        catch_up(&mut world, last);
        let drill = Drill::replay(events).unwrap_or_else(|e| panic!("replay: {e}"));
        Script { world, assessor, a, drill, operator_acts: true }
    }

    /// Polls `n` times without the drill (warm-up).
    fn poll(&mut self, n: u32) {
        for _ in 0..n {
            self.world.advance(TimeDelta::seconds(1));
            self.a = self.assessor.assess(&self.world.observe(), self.world.now());
        }
    }

    /// One virtual second: observe, confirm, act. Returns the events.
    pub fn tick(&mut self) -> Vec<DrillEvent> {
        self.poll(1);
        let mut out = self.drill.observe(&self.a);
        if self.drill.is_over() {
            return out;
        }
        while let Ok(ev) = self.drill.confirm_next(self.world.now()) {
            out.push(ev);
        }
        // Once per step: a request whose outcome a crash lost is not repeated.
        let requested = self.drill.view().current_step().is_some_and(|(_, s)| s.requested_at.is_some());
        if self.operator_acts
            && !requested
            && let Ok((action, ev)) = self.drill.request_action(&self.a)
        {
            out.push(ev);
            out.extend(self.apply(action));
        }
        out
    }

    /// Applies an action to the world and records its outcome.
    pub fn apply(&mut self, action: Action) -> Option<DrillEvent> {
        let result = self.world.apply(&action);
        self.drill.record_outcome(&Outcome::new(action, result, self.world.now()))
    }

    /// Ticks until the drill is over or `max` seconds pass; every event.
    pub fn run(&mut self, max: u32) -> Vec<DrillEvent> {
        let mut out = Vec::new();
        for _ in 0..max {
            out.extend(self.tick());
            if self.drill.is_over() {
                break;
            }
        }
        out
    }
}

pub fn alice() -> Who {
    Who { user: "alice".into(), host: "ops-1".into() }
}

/// Records as the journal writes them, with the written time set to the
/// event's own (deterministic for golden reports).
pub fn records(events: &[DrillEvent], who: &Who) -> Vec<Record> {
    events
        .iter()
        .enumerate()
        .map(|(i, ev)| Record {
            kdrill_journal: FORMAT,
            seq: i as u64 + 1,
            written_at: ev.at(),
            who: ev.by_operator().then(|| who.clone()),
            after_torn_line: None,
            event: ev.clone(),
        })
        .collect()
}

/// A fresh directory for one test's files.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kdrill-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}
