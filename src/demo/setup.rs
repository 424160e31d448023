//! The runbook's steady state: applications on DC, MM2 on DR replicating
//! DC→DR and long since caught up, the DR→DC deployment scaled to zero.
//! Offsets look like a month of traffic, so nothing starts suspiciously at 0.

use crate::model::naming::ReplicationPolicy;
use crate::model::{GroupProtocol, Side, Ts};

use super::apps::{AppDef, Apps, GroupDef};
use super::cluster::{CONSUMER_OFFSETS, CONSUMER_OFFSETS_PARTITIONS, ClusterState, Clusters, TopicState, alias};
use super::groups::GroupKind;
use super::mm2::{CONNECT_CONFIGS, CONNECT_OFFSETS, CONNECT_STATUS, Mm2};
use super::rng::SplitMix64;
use super::timeline::Timeline;
use super::world::DemoWorld;

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
    let policy = ReplicationPolicy::identity();
    let (dc, dr) = (alias(Side::Dc), alias(Side::Dr));
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
            dc_parts.push((end, share));
            dr_parts.push((end - e0, share));
        }
        // MM2 does not sync min.insync.replicas: DR's copies have the default.
        dc_topics.push(TopicState::app(s.topic.clone(), dc_parts, 2));
        dr_topics.push(TopicState::app(policy.remote_topic(dc, &s.topic), dr_parts, 1));
    }

    let uptime = rng.range(1_500_000, 3_000_000) as i64;
    // Heartbeats have been written once a second since the clusters started.
    let internal = |rng: &mut SplitMix64, names: &[(&str, usize)]| -> Vec<TopicState> {
        names
            .iter()
            .map(|&(name, parts)| {
                let mut ends: Vec<i64> = (0..parts).map(|_| rng.range(10_000, 900_000) as i64).collect();
                if policy.is_heartbeats_topic(name)
                    && let Some(end) = ends.first_mut()
                {
                    *end = uptime;
                }
                TopicState::internal(name.into(), ends, true)
            })
            .collect()
    };
    let offsets = (CONSUMER_OFFSETS, CONSUMER_OFFSETS_PARTITIONS as usize);
    let heartbeats = policy.heartbeats_topic();
    let dc_internal = internal(&mut rng, &[offsets, (heartbeats, 1), (&policy.offset_syncs_topic(dr), 1)]);
    let dr_internal = internal(
        &mut rng,
        &[
            offsets,
            (heartbeats, 1),
            (&policy.remote_topic(dc, heartbeats), 1),
            (&policy.checkpoints_topic(dc), 1),
            CONNECT_CONFIGS,
            CONNECT_OFFSETS,
            CONNECT_STATUS,
        ],
    );

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
    let apps = Apps::new(defs, group_defs, Side::Dc, Side::Dr);
    let partitions: Vec<usize> = specs.iter().map(|s| s.partitions).collect();
    let hashes = [rng.hex(10), rng.hex(10)];
    let mut mm2 = Mm2::new(policy, &partitions, total_rate * CAPACITY_FACTOR, hashes);
    let mut clusters =
        Clusters::new(ClusterState::new(dc_topics, dc_internal), ClusterState::new(dr_topics, dr_internal));
    let mut timeline = Timeline::new(start, rng);

    // Every consumer seated, MM2 DC→DR up as if long running.
    apps.seat(&mut clusters, &mut timeline);
    let dc_to_dr = 0;
    mm2.run_steady(dc_to_dr, &first_start, start, &mut clusters, timeline.rng());
    for side in Side::BOTH {
        clusters.side_mut(side).groups_mut().settle_all();
    }
    clusters.commit_groups();
    // Seating consumers queued rebalance settles; the world starts settled.
    timeline.forget_pending();
    // The checkpoint connector's first pass, so DR starts with checkpoints.
    mm2.write_checkpoints(dc_to_dr, start, &mut clusters);
    DemoWorld::compose(timeline, clusters, apps, mm2)
}
