//! The world's clock and its queue of delayed reactions. Time moves in
//! fixed 100 ms steps counted from `start`, so how a caller chops time into
//! `advance` calls never changes what happens: a reaction is an event keyed
//! by the step it is due at, with a delay drawn from the seeded RNG.

use std::collections::BTreeMap;

use chrono::TimeDelta;

use crate::model::{Side, Ts};

use super::groups::Member;
use super::rng::SplitMix64;

pub(super) const STEP_MS: i64 = 100;
pub(super) const STEPS_PER_SEC: u64 = 10;

/// A delayed reaction of the world to an action or a fault.
pub(super) enum Event {
    Producer {
        side: Side,
        app: usize,
        on: bool,
    },
    Join {
        side: Side,
        group: usize,
        member: Member,
    },
    Leave {
        side: Side,
        group: String,
        member_id: String,
        settle: bool,
    },
    /// Applications are stopping: their groups stop settling.
    Rebalance {
        side: Side,
        group: String,
    },
    Settle {
        side: Side,
        group: String,
        generation: u64,
    },
    PodRunning {
        dep: usize,
        pod: usize,
    },
    PodReady {
        dep: usize,
        pod: usize,
    },
    PodGone {
        dep: usize,
        pod: usize,
    },
    ConnectorsRunning {
        dep: usize,
    },
}

/// Which intent an event belongs to; a newer intent voids older events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Guard {
    Always,
    Apps(Side, u64),
    Mm2(usize, u64),
    Applier(u64),
    Stray(u64),
}

pub(super) struct Timeline {
    start: Ts,
    now: Ts,
    /// Steps completed; the world's state is as of `start + tick × 100 ms`.
    tick: u64,
    rng: SplitMix64,
    queue: BTreeMap<(u64, u64), (Guard, Event)>,
    /// Orders events due at the same step as they were queued.
    seq: u64,
}

impl Timeline {
    pub fn new(start: Ts, rng: SplitMix64) -> Self {
        Timeline { start, now: start, tick: 0, rng, queue: BTreeMap::new(), seq: 0 }
    }

    pub fn now(&self) -> Ts {
        self.now
    }

    pub fn tick(&self) -> u64 {
        self.tick
    }

    pub fn rng(&mut self) -> &mut SplitMix64 {
        &mut self.rng
    }

    /// The time of the last completed step.
    pub fn step_time(&self) -> Ts {
        self.start + TimeDelta::milliseconds(self.tick as i64 * STEP_MS)
    }

    /// Moves the clock forward by `dt` (negative is ignored); the steps it
    /// passes are then due.
    pub fn forward(&mut self, dt: TimeDelta) {
        if dt > TimeDelta::zero() {
            self.now += dt;
        }
    }

    /// Whether the clock has passed the end of the next step.
    pub fn step_due(&self) -> bool {
        self.start + TimeDelta::milliseconds((self.tick as i64 + 1) * STEP_MS) <= self.now
    }

    /// Completes a step; true if it ends a whole second.
    pub fn end_step(&mut self) -> bool {
        self.tick += 1;
        self.tick.is_multiple_of(STEPS_PER_SEC)
    }

    /// The next event due by the current step, oldest first.
    pub fn next_due(&mut self) -> Option<(Guard, Event)> {
        let entry = self.queue.first_entry()?;
        if entry.key().0 > self.tick {
            return None;
        }
        Some(entry.remove())
    }

    /// Queues `event` `delay` steps from now (at least one).
    pub fn schedule(&mut self, delay: u64, guard: Guard, event: Event) {
        self.seq += 1;
        self.queue.insert((self.tick + delay.max(1), self.seq), (guard, event));
    }

    /// A seeded delay in steps, between `lo_ms` and `hi_ms`.
    pub fn delay(&mut self, lo_ms: u64, hi_ms: u64) -> u64 {
        self.rng.range(lo_ms / STEP_MS as u64, hi_ms / STEP_MS as u64).max(1)
    }

    /// A seeded delay between `lo_ms` and `hi_ms`, rounded up to end on a
    /// whole second (when Connect's statuses are read).
    pub fn delay_to_whole_second(&mut self, lo_ms: u64, hi_ms: u64) -> u64 {
        let due = (self.tick + self.delay(lo_ms, hi_ms)).div_ceil(STEPS_PER_SEC) * STEPS_PER_SEC;
        due - self.tick
    }

    /// Drops every pending event (the steady state starts settled).
    pub fn forget_pending(&mut self) {
        self.queue.clear();
    }
}
