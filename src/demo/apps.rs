//! Applications and consumer groups: producers writing their topics at a
//! jittered rate, consumer groups joining, rebalancing, committing and
//! leaving, and the `redis-applier` plumbing consumer that follows MM2's
//! target. Stopping and starting happen with realistic, seeded delays.

use crate::model::{GroupProtocol, Side};

use super::world::{DemoWorld, Event, GroupKind, GroupState, Guard, Member, STEPS_PER_SEC, net};

/// An application deployment: the topic it produces and its pods' name.
pub(super) struct AppDef {
    pub name: String,
    pub topic: usize,
    /// Records per second at steady state.
    pub rate: f64,
    /// Pod-template hash per side, as in `orders-service-7f9c4-1`.
    pub hash: [String; 2],
}

/// A consumer group and who runs it.
pub(super) struct GroupDef {
    pub id: String,
    pub kind: GroupKind,
    pub topic: usize,
    pub members: usize,
    pub protocol: GroupProtocol,
    /// Client-id prefix per side: the owning app's pods, or the plumbing's.
    pub client: [String; 2],
}

pub(super) struct Apps {
    pub defs: Vec<AppDef>,
    /// App groups, then the plumbing group last.
    pub groups: Vec<GroupDef>,
    /// Whether the operator wants applications up on each side.
    pub up: [bool; 2],
    /// Bumped by every start or stop, voiding the other's pending joins.
    pub epoch: [u64; 2],
    pub producing: [Vec<bool>; 2],
    /// Per-app rate factor, redrawn every second.
    pub factor: Vec<f64>,
    /// Where `redis-applier` runs (MM2's target), once it has run.
    pub applier: Option<Side>,
    pub applier_epoch: u64,
}

/// Produce-rate multiplier of the ProduceBurst fault.
pub(super) const BURST: f64 = 10.0;
/// Rates wander this much around their steady value, second by second.
const JITTER: f64 = 0.1;

impl Apps {
    /// Index of the plumbing group definition.
    pub fn applier_def(&self) -> Option<usize> {
        self.groups.iter().position(|g| g.kind == GroupKind::Plumbing)
    }
}

impl DemoWorld {
    pub(super) fn start_apps(&mut self, side: Side) -> Result<String, String> {
        if !self.reachable(side) {
            return Err(Self::unreachable(side));
        }
        let s = side.index();
        if self.apps.up[s] {
            return Ok(format!("applications on {side} already running"));
        }
        self.apps.up[s] = true;
        self.apps.epoch[s] += 1;
        let guard = Guard::Apps(side, self.apps.epoch[s]);
        for app in 0..self.apps.defs.len() {
            let d = self.delay(1_500, 2_500);
            self.schedule(d, guard, Event::Producer { side, app, on: true });
        }
        let mut joining = 0;
        for g in 0..self.apps.groups.len() {
            if self.apps.groups[g].kind != GroupKind::App {
                continue;
            }
            for n in 1..=self.apps.groups[g].members {
                let member = self.new_member(side, g, n, false);
                let d = self.delay(2_000, 5_000);
                self.schedule(d, guard, Event::Join { side, group: g, member });
                joining += 1;
            }
        }
        Ok(format!(
            "starting {} applications on {side}: {joining} consumers joining over 2–5 s, producers in ~2 s",
            self.apps.defs.len()
        ))
    }

    pub(super) fn stop_apps(&mut self, side: Side) -> Result<String, String> {
        if !self.reachable(side) {
            return Err(Self::unreachable(side));
        }
        let s = side.index();
        if !self.apps.up[s] {
            return Ok(format!("applications on {side} already stopped"));
        }
        self.apps.up[s] = false;
        self.apps.epoch[s] += 1;
        for app in 0..self.apps.defs.len() {
            let d = self.delay(200, 1_000);
            self.schedule(d, Guard::Always, Event::Producer { side, app, on: false });
        }
        // Killed pods stop heartbeating; the coordinator notices within the
        // session timeout, so members drop out one by one.
        let mut groups = Vec::new();
        let mut leaving = Vec::new();
        for g in self.clusters[s].groups.iter().filter(|g| g.kind == GroupKind::App && !g.members.is_empty()) {
            groups.push(g.id.clone());
            leaving.extend(g.members.iter().filter(|m| !m.stray).map(|m| (g.id.clone(), m.member_id.clone())));
        }
        for group in groups {
            let d = self.delay(500, 1_500);
            self.schedule(d, Guard::Always, Event::Rebalance { side, group });
        }
        let n = leaving.len();
        for (group, member_id) in leaving {
            let d = self.delay(3_000, 10_000);
            self.schedule(d, Guard::Always, Event::Leave { side, group, member_id, settle: false });
        }
        Ok(format!(
            "stopping {} applications on {side}: producers stop within 1 s, {n} consumers leave over 3–10 s",
            self.apps.defs.len()
        ))
    }

    /// A new consumer instance of group definition `g` on `side`.
    pub(super) fn new_member(&mut self, side: Side, g: usize, n: usize, stray: bool) -> Member {
        let client_id = format!("{}-{n}", self.apps.groups[g].client[side.index()]);
        let member_id = format!("{client_id}-{}", self.rng.uuid());
        let host = format!("/{}", self.rng.ip(net(side)));
        Member { member_id, client_id, host, stray }
    }

    /// One step of production on both sides.
    pub(super) fn produce(&mut self) {
        let burst = if self.faults.burst_until.is_some() { BURST } else { 1.0 };
        for side in Side::BOTH {
            let s = side.index();
            for (i, app) in self.apps.defs.iter().enumerate() {
                if !self.apps.producing[s].get(i).copied().unwrap_or(false) {
                    continue;
                }
                let n = app.rate * self.apps.factor[i] * burst / STEPS_PER_SEC as f64;
                let Some(topic) = self.clusters[s].apps.get_mut(app.topic) else {
                    continue;
                };
                for p in &mut topic.parts {
                    p.carry += n * p.share;
                    let whole = p.carry.floor();
                    p.carry -= whole;
                    p.end += whole as i64;
                }
            }
        }
    }

    pub(super) fn jitter(&mut self) {
        for f in &mut self.apps.factor {
            *f = self.rng.between(1.0 - JITTER, 1.0 + JITTER);
        }
    }

    /// Consumers with members commit their position (caught up) each second.
    pub(super) fn commit_groups(&mut self) {
        for c in &mut self.clusters {
            let mut commits = Vec::new();
            for g in &mut c.groups {
                let Some(t) = g.topic else { continue };
                if g.members.is_empty() {
                    continue;
                }
                let Some(topic) = c.apps.get(t) else { continue };
                g.committed.clear();
                g.committed.extend(topic.parts.iter().map(|p| Some(p.end)));
                commits.push((g.offsets_partition, topic.parts.len() as i64));
            }
            for (p, n) in commits {
                c.bump("__consumer_offsets", p, n);
            }
        }
    }

    pub(super) fn on_join(&mut self, side: Side, g: usize, member: Member) {
        let Some(def) = self.apps.groups.get(g) else { return };
        let c = &mut self.clusters[side.index()];
        let idx = match c.group(&def.id) {
            Some(i) => i,
            None => {
                let offsets_partition = (fnv(&def.id) % 50) as usize;
                c.groups.push(GroupState {
                    id: def.id.clone(),
                    kind: def.kind,
                    protocol: def.protocol,
                    state: "Empty",
                    members: Vec::new(),
                    topic: Some(def.topic),
                    committed: Vec::new(),
                    generation: 0,
                    offsets_partition,
                });
                c.groups.len() - 1
            }
        };
        let group = &mut c.groups[idx];
        group.members.push(member);
        self.rebalance(side, idx, true);
    }

    pub(super) fn on_leave(&mut self, side: Side, group: &str, member_id: &str, settle: bool) {
        let c = &mut self.clusters[side.index()];
        let Some(idx) = c.group(group) else { return };
        let g = &mut c.groups[idx];
        let before = g.members.len();
        g.members.retain(|m| m.member_id != member_id);
        // A group left with only live (stray) members completes its rebalance.
        let settle = settle || g.members.iter().all(|m| m.stray);
        if g.members.len() != before {
            self.rebalance(side, idx, settle);
        }
    }

    pub(super) fn on_rebalance(&mut self, side: Side, group: &str) {
        if let Some(idx) = self.clusters[side.index()].group(group) {
            self.rebalance(side, idx, false);
        }
    }

    /// Membership changed: the group rebalances and, if `settle`, becomes
    /// Stable a second later unless it changes again meanwhile.
    fn rebalance(&mut self, side: Side, idx: usize, settle: bool) {
        let g = &mut self.clusters[side.index()].groups[idx];
        g.generation += 1;
        if g.members.is_empty() {
            g.state = "Empty";
            return;
        }
        g.state = "PreparingRebalance";
        if settle {
            let (group, generation) = (g.id.clone(), g.generation);
            self.schedule(STEPS_PER_SEC, Guard::Always, Event::Settle { side, group, generation });
        }
    }

    pub(super) fn on_settle(&mut self, side: Side, group: &str, generation: u64) {
        let c = &mut self.clusters[side.index()];
        let Some(idx) = c.group(group) else { return };
        let g = &mut c.groups[idx];
        if g.generation == generation {
            g.state = if g.members.is_empty() { "Empty" } else { "Stable" };
        }
    }

    /// `redis-applier` applies the mirrored journal wherever MM2 writes:
    /// when a flow starts into `to`, it leaves the other side and joins there.
    pub(super) fn move_applier(&mut self, to: Side) {
        let Some(def) = self.apps.applier_def() else { return };
        if self.apps.applier == Some(to) {
            return;
        }
        if let Some(from) = self.apps.applier {
            let c = &self.clusters[from.index()];
            let id = self.apps.groups[def].id.clone();
            let leaving: Vec<String> = c
                .group(&id)
                .map(|i| c.groups[i].members.iter().map(|m| m.member_id.clone()).collect())
                .unwrap_or_default();
            for member_id in leaving {
                let d = self.delay(1_000, 3_000);
                self.schedule(
                    d,
                    Guard::Always,
                    Event::Leave { side: from, group: id.clone(), member_id, settle: true },
                );
            }
        }
        self.apps.applier = Some(to);
        self.apps.applier_epoch += 1;
        let guard = Guard::Applier(self.apps.applier_epoch);
        for n in 1..=self.apps.groups[def].members {
            let member = self.new_member(to, def, n, false);
            let d = self.delay(2_000, 5_000);
            self.schedule(d, guard, Event::Join { side: to, group: def, member });
        }
    }
}

/// FNV-1a, to place a group's commits in a `__consumer_offsets` partition.
pub(super) fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
