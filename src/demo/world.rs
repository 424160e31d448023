//! The demo world's state, clock and event queue. Time moves in fixed
//! 100 ms steps counted from `start`, so how a caller chops time into
//! `advance` calls never changes what happens: delayed reactions are events
//! on a queue keyed by step, and per-second work (Connect's offset flush,
//! consumer commits, heartbeats, checkpoints) runs on whole seconds, which
//! is also when the world is polled.

use std::collections::BTreeMap;

use chrono::TimeDelta;

use crate::model::{GroupProtocol, Side, Ts};

use super::apps::Apps;
use super::faults::Faults;
use super::mm2::Deployment;
use super::rng::SplitMix64;

pub(super) const STEP_MS: i64 = 100;
pub(super) const STEPS_PER_SEC: u64 = 10;

/// The MM2 cluster alias of a side, as used in remote topic names.
pub(super) fn alias(side: Side) -> &'static str {
    match side {
        Side::Dc => "dc",
        Side::Dr => "dr",
    }
}

/// The second octet of a side's pod network (`10.20/16` DC, `10.30/16` DR).
pub(super) fn net(side: Side) -> u8 {
    match side {
        Side::Dc => 20,
        Side::Dr => 30,
    }
}

/// One partition's log. For application topics, `share` is the fraction of
/// the topic's records that land here (keys hash unevenly) and `carry` the
/// fractional record not yet written.
pub(super) struct Part {
    pub end: i64,
    pub share: f64,
    pub carry: f64,
}

pub(super) struct TopicState {
    pub name: String,
    pub parts: Vec<Part>,
    pub rf: u16,
    pub min_isr: u16,
    pub compact: bool,
}

impl TopicState {
    pub fn new(name: String, ends: Vec<i64>, rf: u16, min_isr: u16, compact: bool) -> Self {
        let n = ends.len().max(1) as f64;
        let parts = ends.into_iter().map(|end| Part { end, share: 1.0 / n, carry: 0.0 }).collect();
        TopicState { name, parts, rf, min_isr, compact }
    }
}

pub(super) struct Member {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    /// Joined by the StrayConsumer fault, not by the side's applications.
    pub stray: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GroupKind {
    App,
    Plumbing,
    /// Kafka Connect's worker group (`protocol_type` `connect`).
    Connect,
}

pub(super) struct GroupState {
    pub id: String,
    pub kind: GroupKind,
    pub protocol: GroupProtocol,
    pub state: &'static str,
    pub members: Vec<Member>,
    /// The application topic consumed (index into `ClusterState::apps`).
    pub topic: Option<usize>,
    /// Committed offset per partition of `topic`, once committed.
    pub committed: Vec<Option<i64>>,
    /// Bumped by every membership change, so a pending settle of an older
    /// rebalance is ignored.
    pub generation: u64,
    /// The `__consumer_offsets` partition the group's commits land in.
    pub offsets_partition: usize,
}

/// The newest heartbeat of one alias pair in one topic.
#[derive(Clone)]
pub(super) struct Beat {
    pub topic: String,
    pub source: Side,
    pub target: Side,
    pub at: Ts,
}

pub(super) struct ClusterState {
    pub brokers_up: [bool; 3],
    /// Application topics: mirrored, so the same names in the same order on
    /// both sides (IdentityReplicationPolicy).
    pub apps: Vec<TopicState>,
    /// Every other topic, in creation order.
    pub internal: Vec<TopicState>,
    pub groups: Vec<GroupState>,
    pub beats: Vec<Beat>,
}

impl ClusterState {
    pub fn group(&self, id: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.id == id)
    }

    /// Appends `n` records to an internal topic, if it exists.
    pub fn bump(&mut self, topic: &str, partition: usize, n: i64) {
        if let Some(t) = self.internal.iter_mut().find(|t| t.name == topic) {
            let len = t.parts.len().max(1);
            if let Some(p) = t.parts.get_mut(partition % len) {
                p.end += n;
            }
        }
    }

    /// Creates an internal topic unless it exists (MM2 and Connect create
    /// theirs on first start).
    pub fn ensure(&mut self, name: &str, partitions: usize, compact: bool) {
        if !self.internal.iter().any(|t| t.name == name) {
            self.internal.push(TopicState::new(name.to_owned(), vec![0; partitions], 3, 2, compact));
        }
    }

    /// Records the newest heartbeat for its (topic, source, target) key.
    pub fn beat(&mut self, b: Beat) {
        self.bump(&b.topic, 0, 1);
        match self.beats.iter_mut().find(|x| x.topic == b.topic && x.source == b.source && x.target == b.target) {
            Some(x) => x.at = x.at.max(b.at),
            None => self.beats.push(b),
        }
    }
}

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

/// The simulated DC–DR pair. See the module docs of `demo` for what it does.
pub struct DemoWorld {
    pub(super) start: Ts,
    pub(super) now: Ts,
    /// Steps completed; the world's state is as of `start + tick × 100 ms`.
    pub(super) tick: u64,
    pub(super) rng: SplitMix64,
    pub(super) clusters: [ClusterState; 2],
    pub(super) apps: Apps,
    /// Index 0 replicates DC→DR (runs on DR), index 1 DR→DC (runs on DC).
    pub(super) mm2: [Deployment; 2],
    pub(super) faults: Faults,
    /// Flat list of mirrored (app topic, partition), the unit MM2 tasks own.
    pub(super) mirrored: Vec<(usize, usize)>,
    /// Index in `mirrored` of each app topic's partition 0.
    pub(super) flat_start: Vec<usize>,
    /// Records per second one MM2 flow can replicate.
    pub(super) capacity: f64,
    pub(super) queue: BTreeMap<(u64, u64), (Guard, Event)>,
    pub(super) seq: u64,
}

impl DemoWorld {
    /// The time of the last completed step.
    pub(super) fn step_time(&self) -> Ts {
        self.start + TimeDelta::milliseconds(self.tick as i64 * STEP_MS)
    }

    pub(super) fn advance_by(&mut self, dt: TimeDelta) {
        if dt <= TimeDelta::zero() {
            return;
        }
        self.now += dt;
        while self.start + TimeDelta::milliseconds((self.tick as i64 + 1) * STEP_MS) <= self.now {
            self.step();
        }
    }

    /// One 100 ms step. MM2 replicates what existed before the step (its
    /// fetch latency), then producers write, then due reactions happen.
    fn step(&mut self) {
        self.replicate();
        self.produce();
        self.tick += 1;
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > self.tick {
                break;
            }
            let (guard, event) = entry.remove();
            if self.valid(guard) {
                self.handle(event);
            }
        }
        if self.tick.is_multiple_of(STEPS_PER_SEC) {
            self.jitter();
            self.expire_burst();
            self.commit_groups();
            for dep in 0..self.mm2.len() {
                self.mm2_second(dep);
            }
        }
    }

    fn valid(&self, guard: Guard) -> bool {
        match guard {
            Guard::Always => true,
            Guard::Apps(side, epoch) => self.apps.epoch[side.index()] == epoch,
            Guard::Mm2(dep, generation) => self.mm2[dep].generation == generation,
            Guard::Applier(epoch) => self.apps.applier_epoch == epoch,
            Guard::Stray(epoch) => self.faults.stray_epoch == epoch,
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Producer { side, app, on } => {
                if let Some(p) = self.apps.producing[side.index()].get_mut(app) {
                    *p = on;
                }
            }
            Event::Join { side, group, member } => self.on_join(side, group, member),
            Event::Leave { side, group, member_id, settle } => self.on_leave(side, &group, &member_id, settle),
            Event::Rebalance { side, group } => self.on_rebalance(side, &group),
            Event::Settle { side, group, generation } => self.on_settle(side, &group, generation),
            Event::PodRunning { dep, pod } => self.on_pod_running(dep, pod),
            Event::PodReady { dep, pod } => self.on_pod_ready(dep, pod),
            Event::PodGone { dep, pod } => self.on_pod_gone(dep, pod),
            Event::ConnectorsRunning { dep } => self.on_connectors_running(dep),
        }
    }

    /// Queues `event` `delay` steps from now (at least one).
    pub(super) fn schedule(&mut self, delay: u64, guard: Guard, event: Event) {
        self.seq += 1;
        self.queue.insert((self.tick + delay.max(1), self.seq), (guard, event));
    }

    /// A seeded delay in steps, between `lo_ms` and `hi_ms`.
    pub(super) fn delay(&mut self, lo_ms: u64, hi_ms: u64) -> u64 {
        self.rng.range(lo_ms / STEP_MS as u64, hi_ms / STEP_MS as u64).max(1)
    }

    /// Whether kdrill (and MM2) can reach `side` at all.
    pub(super) fn reachable(&self, side: Side) -> bool {
        side != Side::Dc || self.faults.cut.is_none()
    }

    pub(super) fn unreachable(side: Side) -> String {
        format!("{side} is unreachable: its Kafka and Kubernetes API time out")
    }
}
