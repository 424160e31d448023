//! The runbook's steady state: applications on DC, MM2 on DR replicating
//! DC→DR and long since caught up, the DR→DC deployment scaled to zero.
//! Offsets look like a month of traffic, so nothing starts suspiciously at 0.

use std::collections::BTreeMap;

use crate::model::{ConnectState, Flow, GroupProtocol, Side, Ts};

use super::apps::{AppDef, Apps, GroupDef};
use super::faults::Faults;
use super::mm2::{Deployment, PODS, Pod, connect_group};
use super::rng::SplitMix64;
use super::world::{Beat, ClusterState, DemoWorld, GroupKind, Member, Part, TopicState, net};

/// Partitions of the three standard application topics.
pub(super) const STANDARD_PARTITIONS: usize = 24;
/// Application groups of the standard world.
pub(super) const STANDARD_GROUPS: usize = 3;
/// Partitions per extra topic of a scaled world.
const SCALED_TOPIC_PARTITIONS: usize = 50;
/// Steady rate of each extra topic of a scaled world.
const SCALED_TOPIC_RATE: f64 = 5.0;
/// MM2 is sized at this multiple of normal traffic, so a 10× burst outruns it.
const CAPACITY_FACTOR: f64 = 7.5;

struct Spec {
    topic: String,
    partitions: usize,
    rate: f64,
    /// How unevenly keys spread over partitions (0 = even).
    skew: f64,
    app: String,
}

fn spec(topic: &str, partitions: usize, rate: f64, skew: f64, app: &str) -> Spec {
    Spec { topic: topic.into(), partitions, rate, skew, app: app.into() }
}

pub(super) fn build(seed: u64, start: Ts, partitions: usize, groups: usize) -> DemoWorld {
    let mut rng = SplitMix64::new(seed);
    let mut specs = vec![
        spec("redis-writes", 12, 150.0, 0.5, "redis-journal"),
        spec("orders", 6, 80.0, 0.2, "orders-service"),
        spec("payments", 6, 40.0, 0.2, "payments-service"),
    ];
    let extra = partitions.saturating_sub(STANDARD_PARTITIONS);
    for i in 0..extra.div_ceil(SCALED_TOPIC_PARTITIONS) {
        let n = (extra - i * SCALED_TOPIC_PARTITIONS).min(SCALED_TOPIC_PARTITIONS);
        specs.push(spec(&format!("svc{i:03}-events"), n, SCALED_TOPIC_RATE, 0.2, &format!("svc{i:03}")));
    }

    // DC has a month of data; MM2 first started at a fraction of it (at the
    // then end offsets), so DR holds the rest and its offsets are smaller.
    let (mut dc_topics, mut dr_topics, mut first_start) = (Vec::new(), Vec::new(), Vec::new());
    for s in &specs {
        let weights: Vec<f64> = (0..s.partitions).map(|_| rng.between(1.0 - s.skew, 1.0 + s.skew)).collect();
        let sum: f64 = weights.iter().sum();
        let days = rng.between(20.0, 40.0);
        let since = rng.between(0.1, 0.3);
        let mut dc_parts = Vec::new();
        let mut dr_parts = Vec::new();
        for w in &weights {
            let share = w / sum;
            let end = (s.rate * 86_400.0 * days * share) as i64;
            let e0 = (end as f64 * since) as i64;
            first_start.push(e0);
            dc_parts.push(Part { end, share, carry: 0.0 });
            dr_parts.push(Part { end: end - e0, share, carry: 0.0 });
        }
        // MM2 does not sync min.insync.replicas: DR's copies have the default.
        dc_topics.push(TopicState { name: s.topic.clone(), parts: dc_parts, rf: 3, min_isr: 2, compact: false });
        dr_topics.push(TopicState { name: s.topic.clone(), parts: dr_parts, rf: 3, min_isr: 1, compact: false });
    }
    let mirrored: Vec<(usize, usize)> =
        specs.iter().enumerate().flat_map(|(t, s)| (0..s.partitions).map(move |p| (t, p))).collect();
    let mut flat_start = Vec::new();
    let mut n = 0;
    for s in &specs {
        flat_start.push(n);
        n += s.partitions;
    }

    let uptime = rng.range(1_500_000, 3_000_000) as i64;
    let internal = |rng: &mut SplitMix64, names: &[(&str, usize, bool)]| -> Vec<TopicState> {
        names
            .iter()
            .map(|&(name, parts, compact)| {
                let ends = (0..parts).map(|_| rng.range(10_000, 900_000) as i64).collect();
                TopicState::new(name.into(), ends, 3, 2, compact)
            })
            .collect()
    };
    let mut dc_internal = internal(
        &mut rng,
        &[("__consumer_offsets", 50, true), ("heartbeats", 1, true), ("mm2-offset-syncs.dr.internal", 1, true)],
    );
    let mut dr_internal = internal(
        &mut rng,
        &[
            ("__consumer_offsets", 50, true),
            ("heartbeats", 1, true),
            ("dc.heartbeats", 1, true),
            ("dc.checkpoints.internal", 1, true),
            ("mirrormaker2-cluster-configs", 1, true),
            ("mirrormaker2-cluster-offsets", 25, true),
            ("mirrormaker2-cluster-status", 5, true),
        ],
    );
    for t in dc_internal.iter_mut().chain(dr_internal.iter_mut()).filter(|t| t.name.ends_with("heartbeats")) {
        if let Some(p) = t.parts.first_mut() {
            p.end = uptime;
        }
    }

    let hash = |rng: &mut SplitMix64| [rng.hex(5), rng.hex(5)];
    let defs: Vec<AppDef> = specs
        .iter()
        .enumerate()
        .map(|(t, s)| AppDef { name: s.app.clone(), topic: t, rate: s.rate, hash: hash(&mut rng) })
        .collect();
    let group = |id: &str, app: usize, topic: usize, protocol| GroupDef {
        id: id.into(),
        kind: GroupKind::App,
        topic,
        members: 2,
        protocol,
        client: defs[app].hash.clone().map(|h| format!("{}-{h}", defs[app].name)),
    };
    // payments-service reacts to orders; cache-invalidator reads the journal.
    let mut group_defs = vec![
        group("orders-service", 1, 1, GroupProtocol::Classic),
        group("payments-service", 2, 1, GroupProtocol::Classic),
        group("cache-invalidator", 0, 0, GroupProtocol::Consumer),
    ];
    let extra_topics = specs.len() - 3;
    for j in 0..groups.saturating_sub(STANDARD_GROUPS) {
        let topic = if extra_topics > 0 { 3 + j % extra_topics } else { j % 3 };
        let round = j / extra_topics.max(3);
        let protocol = if j % 2 == 0 { GroupProtocol::Classic } else { GroupProtocol::Consumer };
        group_defs.push(group(&format!("{}-consumer-{round}", specs[topic].app), topic, topic, protocol));
    }
    let applier = [rng.hex(5), rng.hex(5)].map(|h| format!("redis-applier-{h}"));
    group_defs.push(GroupDef {
        id: "redis-applier".into(),
        kind: GroupKind::Plumbing,
        topic: 0,
        members: 2,
        protocol: GroupProtocol::Classic,
        client: applier,
    });

    let total_rate: f64 = specs.iter().map(|s| s.rate).sum();
    let n_apps = defs.len();
    let apps = Apps {
        defs,
        groups: group_defs,
        up: [true, false],
        epoch: [0, 0],
        producing: [vec![true; n_apps], vec![false; n_apps]],
        factor: vec![1.0; n_apps],
        applier: Some(Side::Dr),
        applier_epoch: 0,
    };
    let cluster =
        |apps, internal| ClusterState { brokers_up: [true; 3], apps, internal, groups: Vec::new(), beats: Vec::new() };
    let dc_to_dr = Deployment::idle(Flow::DC_TO_DR, rng.hex(10), mirrored.len());
    let dr_to_dc = Deployment::idle(Flow::DR_TO_DC, rng.hex(10), mirrored.len());
    let mut world = DemoWorld {
        start,
        now: start,
        tick: 0,
        rng,
        clusters: [cluster(dc_topics, dc_internal), cluster(dr_topics, dr_internal)],
        apps,
        mm2: [dc_to_dr, dr_to_dc],
        faults: Faults::default(),
        mirrored,
        flat_start,
        capacity: total_rate * CAPACITY_FACTOR,
        queue: BTreeMap::new(),
        seq: 0,
    };
    world.settle_steady_state(&first_start);
    world
}

impl DemoWorld {
    /// Seats every consumer and brings MM2 DC→DR up as if long running.
    fn settle_steady_state(&mut self, first_start: &[i64]) {
        for g in 0..self.apps.groups.len() {
            let side = match self.apps.groups[g].kind {
                GroupKind::App => Side::Dc,
                _ => Side::Dr,
            };
            for n in 1..=self.apps.groups[g].members {
                let m = self.new_member(side, g, n, false);
                self.on_join(side, g, m);
            }
        }
        let dr = Side::Dr.index();
        let pods: Vec<(String, String)> = (0..PODS)
            .map(|i| (format!("mm2-mirrormaker2-{}-{i}", self.mm2[0].hash), self.rng.ip(net(Side::Dr))))
            .collect();
        let mut connect = connect_group();
        for (i, (_, ip)) in pods.iter().enumerate() {
            connect.members.push(Member {
                member_id: format!("connect-{}-{}", i + 1, self.rng.uuid()),
                client_id: format!("connect-{}", i + 1),
                host: format!("/{ip}"),
                stray: false,
            });
        }
        self.clusters[dr].groups.push(connect);
        for c in &mut self.clusters {
            for g in &mut c.groups {
                g.state = "Stable";
            }
        }
        self.commit_groups();

        let d = &mut self.mm2[0];
        d.desired = true;
        d.generation = 1;
        d.pods = pods.into_iter().map(|(name, ip)| Pod { name, ip, phase: "Running", ready: true }).collect();
        d.assign_connectors(ConnectState::Running);
        d.flowing = true;
        d.ever_ran = true;
        for (i, &(t, p)) in self.mirrored.iter().enumerate() {
            let end = self.clusters[Side::Dc.index()].apps[t].parts[p].end;
            d.position[i] = end;
            d.committed[i] = Some(end - 1);
            d.base[i] = (first_start.get(i).copied().unwrap_or(end), 0);
        }
        let at = self.now;
        let prev = at - chrono::TimeDelta::seconds(1);
        let beat = |topic: &str, at| Beat { topic: topic.into(), source: Side::Dc, target: Side::Dr, at };
        self.clusters[Side::Dc.index()].beats.push(beat("heartbeats", at));
        self.clusters[dr].beats.push(beat("heartbeats", at));
        self.clusters[dr].beats.push(beat("dc.heartbeats", prev));
        self.mm2[0].pending_beats = vec![beat("heartbeats", at)];
        // Seating consumers queued rebalance settles; the world starts settled.
        self.queue.clear();
        // The checkpoint connector's first pass, so DR starts with checkpoints.
        self.write_checkpoints(0, at);
    }
}
