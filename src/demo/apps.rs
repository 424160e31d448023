//! Applications: deployments producing their topics at a jittered rate,
//! their consumer groups on the side they run on, and the `redis-applier`
//! plumbing consumer that follows MM2's target. Starting and stopping take
//! realistic, seeded delays.

use std::collections::{BTreeSet, HashSet};
use std::ops::Bound;

use crate::model::{GroupProtocol, Pod, Side, Workload, WorkloadKind};

use super::cluster::{Clusters, net};
use super::groups::{GroupKind, GroupSpec, Member};
use super::rng::SplitMix64;
use super::timeline::{Event, Guard, STEPS_PER_SEC, Timeline};

/// Rates wander this much around their steady value, second by second.
const JITTER: f64 = 0.1;

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

impl GroupDef {
    fn spec(&self) -> GroupSpec<'_> {
        GroupSpec { id: &self.id, kind: self.kind, protocol: self.protocol, topic: Some(self.topic) }
    }
}

pub(super) struct Apps {
    defs: Vec<AppDef>,
    /// App groups, then the plumbing group last.
    groups: Vec<GroupDef>,
    /// Whether the operator wants applications up on each side.
    up: [bool; 2],
    /// Bumped by every start or stop, voiding the other's pending joins.
    epoch: [u64; 2],
    producing: [Vec<bool>; 2],
    /// Per-app rate factor, redrawn every second.
    factor: Vec<f64>,
    /// Where `redis-applier` runs (MM2's target), once it has run.
    applier: Option<Side>,
    applier_epoch: u64,
}

impl Apps {
    /// Applications up and producing on `active`, `redis-applier` on
    /// `applier`; nobody has joined a group yet (see `seat`).
    pub fn new(defs: Vec<AppDef>, groups: Vec<GroupDef>, active: Side, applier: Side) -> Self {
        let n = defs.len();
        let on = |side: Side| side == active;
        Apps {
            defs,
            groups,
            up: Side::BOTH.map(on),
            epoch: [0, 0],
            producing: Side::BOTH.map(|side| vec![on(side); n]),
            factor: vec![1.0; n],
            applier: Some(applier),
            applier_epoch: 0,
        }
    }

    /// Every consumer joins where it runs: application groups on the side
    /// applications are up, `redis-applier` where it applies.
    pub fn seat(&self, clusters: &mut Clusters, timeline: &mut Timeline) {
        let active = Side::BOTH.into_iter().find(|s| self.up[s.index()]);
        for g in 0..self.groups.len() {
            let side = match self.groups[g].kind {
                GroupKind::App => active,
                _ => self.applier,
            };
            let Some(side) = side else { continue };
            for n in 1..=self.groups[g].members {
                let member = self.new_member(side, g, n, false, timeline.rng());
                self.join(side, g, member, clusters, timeline);
            }
        }
    }

    pub fn is_up(&self, side: Side) -> bool {
        self.up[side.index()]
    }

    /// The side without applications, when they run on exactly one.
    pub fn passive_side(&self) -> Option<Side> {
        match self.up {
            [true, false] => Some(Side::Dr),
            [false, true] => Some(Side::Dc),
            _ => None,
        }
    }

    /// Whether `epoch` is the latest start or stop on `side`.
    pub fn is_current(&self, side: Side, epoch: u64) -> bool {
        self.epoch[side.index()] == epoch
    }

    /// Whether `epoch` is the latest move of `redis-applier`.
    pub fn applier_is_current(&self, epoch: u64) -> bool {
        self.applier_epoch == epoch
    }

    pub fn start(&mut self, side: Side, timeline: &mut Timeline) -> String {
        let s = side.index();
        if self.up[s] {
            return format!("applications on {side} already running");
        }
        self.up[s] = true;
        self.epoch[s] += 1;
        let guard = Guard::Apps(side, self.epoch[s]);
        for app in 0..self.defs.len() {
            let d = timeline.delay(1_500, 2_500);
            timeline.schedule(d, guard, Event::Producer { side, app, on: true });
        }
        let mut joining = 0;
        for g in 0..self.groups.len() {
            if self.groups[g].kind != GroupKind::App {
                continue;
            }
            for n in 1..=self.groups[g].members {
                let member = self.new_member(side, g, n, false, timeline.rng());
                let d = timeline.delay(2_000, 5_000);
                timeline.schedule(d, guard, Event::Join { side, group: g, member });
                joining += 1;
            }
        }
        format!(
            "starting {} applications on {side}: {joining} consumers joining over 2–5 s, producers in ~2 s",
            self.defs.len()
        )
    }

    pub fn stop(&mut self, side: Side, clusters: &Clusters, timeline: &mut Timeline) -> String {
        let s = side.index();
        if !self.up[s] {
            return format!("applications on {side} already stopped");
        }
        self.up[s] = false;
        self.epoch[s] += 1;
        for app in 0..self.defs.len() {
            let d = timeline.delay(200, 1_000);
            timeline.schedule(d, Guard::Always, Event::Producer { side, app, on: false });
        }
        // Killed pods stop heartbeating; the coordinator notices within the
        // session timeout, so members drop out one by one.
        let groups = clusters.side(side).groups().app_members();
        for (group, _) in &groups {
            let d = timeline.delay(500, 1_500);
            timeline.schedule(d, Guard::Always, Event::Rebalance { side, group: group.clone() });
        }
        let mut n = 0;
        for (group, members) in groups {
            for member_id in members {
                let d = timeline.delay(3_000, 10_000);
                timeline.schedule(
                    d,
                    Guard::Always,
                    Event::Leave { side, group: group.clone(), member_id, settle: false },
                );
                n += 1;
            }
        }
        format!(
            "stopping {} applications on {side}: producers stop within 1 s, {n} consumers leave over 3–10 s",
            self.defs.len()
        )
    }

    pub fn set_producing(&mut self, side: Side, app: usize, on: bool) {
        if let Some(p) = self.producing[side.index()].get_mut(app) {
            *p = on;
        }
    }

    /// One step of production on both sides, at `factor` times the rate.
    pub fn produce(&self, clusters: &mut Clusters, factor: f64) {
        for side in Side::BOTH {
            for (i, app) in self.defs.iter().enumerate() {
                if !self.producing[side.index()].get(i).copied().unwrap_or(false) {
                    continue;
                }
                let n = app.rate * self.factor[i] * factor / STEPS_PER_SEC as f64;
                clusters.side_mut(side).produce(app.topic, n);
            }
        }
    }

    /// Redraws every app's rate factor (once a second).
    pub fn jitter(&mut self, rng: &mut SplitMix64) {
        for f in &mut self.factor {
            *f = rng.between(1.0 - JITTER, 1.0 + JITTER);
        }
    }

    /// A new consumer instance, the `n`th, of group definition `g` on `side`.
    pub fn new_member(&self, side: Side, g: usize, n: usize, stray: bool, rng: &mut SplitMix64) -> Member {
        let client_id = format!("{}-{n}", self.groups[g].client[side.index()]);
        let member_id = format!("{client_id}-{}", rng.uuid());
        let host = format!("/{}", rng.ip(net(side)));
        Member { member_id, client_id: client_id.into(), host: host.into(), stray }
    }

    /// Each application's Deployment on `side` as its Kubernetes shows it:
    /// 2 replicas while up, 0 once stopped; a replica is ready once its
    /// consumers have joined. Stopped pods terminate while their consumers
    /// are still leaving their groups.
    pub fn workloads(&self, side: Side, clusters: &Clusters) -> Vec<Workload> {
        let up = self.up[side.index()];
        // Every application client once, sorted: each deployment's pods are
        // then one range of it (a scaled world has thousands of each).
        let ids: HashSet<&str> = self.groups.iter().map(|g| g.id.as_str()).collect();
        let clients: BTreeSet<&str> = clusters
            .side(side)
            .groups()
            .iter()
            .filter(|g| ids.contains(g.id()))
            .flat_map(|g| g.members())
            .filter(|m| !m.stray)
            .map(|m| &*m.client_id)
            .collect();
        self.defs
            .iter()
            .map(|def| {
                let prefix = format!("{}-{}", def.name, def.hash[side.index()]);
                let pods: Vec<Pod> = clients
                    .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
                    .take_while(|c| c.starts_with(&prefix))
                    .map(|name| Pod {
                        name: (*name).to_owned(),
                        namespace: "apps".into(),
                        phase: "Running".into(),
                        ready: up,
                        terminating: !up,
                        restarts: 0,
                        node: None,
                        created: None,
                        owner: None,
                    })
                    .collect();
                let ready = pods.iter().filter(|p| p.ready).count() as i32;
                Workload {
                    kind: WorkloadKind::Deployment,
                    name: def.name.clone(),
                    namespace: "apps".into(),
                    exists: true,
                    desired: if up { 2 } else { 0 },
                    ready,
                    available: ready,
                    pods,
                }
            })
            .collect()
    }

    /// The id of group definition `g`.
    pub fn group_id(&self, g: usize) -> &str {
        &self.groups[g].id
    }

    /// `member` joins group definition `g` on `side`.
    pub fn join(&self, side: Side, g: usize, member: Member, clusters: &mut Clusters, timeline: &mut Timeline) {
        let Some(def) = self.groups.get(g) else { return };
        clusters.side_mut(side).groups_mut().join(side, &def.spec(), member, timeline);
    }

    /// `redis-applier` applies the mirrored journal wherever MM2 writes:
    /// when a flow starts into `to`, it leaves the other side and joins there.
    pub fn move_applier(&mut self, to: Side, clusters: &Clusters, timeline: &mut Timeline) {
        let Some(def) = self.groups.iter().position(|g| g.kind == GroupKind::Plumbing) else { return };
        if self.applier == Some(to) {
            return;
        }
        if let Some(from) = self.applier {
            let id = &self.groups[def].id;
            for member_id in clusters.side(from).groups().member_ids(id) {
                let d = timeline.delay(1_000, 3_000);
                let leave = Event::Leave { side: from, group: id.clone(), member_id, settle: true };
                timeline.schedule(d, Guard::Always, leave);
            }
        }
        self.applier = Some(to);
        self.applier_epoch += 1;
        let guard = Guard::Applier(self.applier_epoch);
        for n in 1..=self.groups[def].members {
            let member = self.new_member(to, def, n, false, timeline.rng());
            let d = timeline.delay(2_000, 5_000);
            timeline.schedule(d, guard, Event::Join { side: to, group: def, member });
        }
    }
}
