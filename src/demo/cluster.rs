//! One Kafka cluster of the pair: its brokers, topics (the mirrored
//! application topics, then every other topic in creation order), consumer
//! groups and newest heartbeats, and what a collector reads of them.

use std::sync::Arc;

use crate::model::{Broker, Checkpoint, Cluster, Flow, Heartbeat, Link, Observed, Partition, Side, Topic, Ts};

use super::groups::Groups;

/// Kafka's own topic of committed group offsets.
pub(super) const CONSUMER_OFFSETS: &str = "__consumer_offsets";
pub(super) const CONSUMER_OFFSETS_PARTITIONS: u64 = 50;
/// Brokers per cluster.
pub(super) const BROKERS: usize = 3;
const BROKER_PORT: u16 = 9093;

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

/// The partition `key` lands in among `partitions` (FNV-1a), as a group's
/// commits in `__consumer_offsets` or a connector's in Connect's offsets topic.
pub(super) fn partition_of(key: &str, partitions: u64) -> usize {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash % partitions) as usize
}

/// One partition's log. For application topics, `share` is the fraction of
/// the topic's records that land here (keys hash unevenly) and `carry` the
/// fractional record not yet written.
struct Part {
    end: i64,
    share: f64,
    carry: f64,
}

pub(super) struct TopicState {
    /// Shared by every row of every snapshot that names the topic.
    name: Arc<str>,
    parts: Vec<Part>,
    rf: u16,
    min_isr: u16,
    compact: bool,
}

impl TopicState {
    /// An application topic: (end offset, share of the records) per partition.
    pub fn app(name: String, parts: Vec<(i64, f64)>, min_isr: u16) -> Self {
        let parts = parts.into_iter().map(|(end, share)| Part { end, share, carry: 0.0 }).collect();
        TopicState { name: name.into(), parts, rf: 3, min_isr, compact: false }
    }

    /// Any other topic, spread evenly.
    pub fn internal(name: String, ends: Vec<i64>, compact: bool) -> Self {
        let n = ends.len().max(1) as f64;
        let parts = ends.into_iter().map(|end| Part { end, share: 1.0 / n, carry: 0.0 }).collect();
        TopicState { name: name.into(), parts, rf: 3, min_isr: 2, compact }
    }

    /// The name for per-partition rows: one copy however many rows.
    pub fn shared_name(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    pub fn partitions(&self) -> usize {
        self.parts.len()
    }

    pub fn ends(&self) -> impl Iterator<Item = i64> + '_ {
        self.parts.iter().map(|p| p.end)
    }

    /// Writes `n` records (fractions carry over) spread by the partitions' shares.
    fn produce(&mut self, n: f64) {
        for p in &mut self.parts {
            p.carry += n * p.share;
            let whole = p.carry.floor();
            p.carry -= whole;
            p.end += whole as i64;
        }
    }

    /// Replicas rotate over the brokers; the first live one leads.
    fn observe(&self, shift: usize, up: &[bool; BROKERS]) -> Topic {
        let partitions = self
            .parts
            .iter()
            .enumerate()
            .map(|(p, part)| Partition {
                id: p as i32,
                leader: (0..up.len()).map(|k| (shift + p + k) % up.len()).find(|&b| up[b]).map(|b| b as i32),
                end_offset: Some(part.end),
            })
            .collect();
        Topic {
            name: self.name.to_string(),
            partitions,
            replication_factor: Some(self.rf),
            min_insync_replicas: Some(self.min_isr),
            cleanup_policy: Some(if self.compact { "compact" } else { "delete" }.into()),
        }
    }
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
    brokers_up: [bool; BROKERS],
    /// Application topics: mirrored, so the same names in the same order on
    /// both sides (IdentityReplicationPolicy).
    apps: Vec<TopicState>,
    /// Every other topic, in creation order.
    internal: Vec<TopicState>,
    groups: Groups,
    beats: Vec<Beat>,
}

impl ClusterState {
    pub fn new(apps: Vec<TopicState>, internal: Vec<TopicState>) -> Self {
        ClusterState { brokers_up: [true; BROKERS], apps, internal, groups: Groups::default(), beats: Vec::new() }
    }

    pub fn app_topic(&self, topic: usize) -> Option<&TopicState> {
        self.apps.get(topic)
    }

    /// End offset of an application partition.
    pub fn app_end(&self, topic: usize, partition: usize) -> i64 {
        self.apps[topic].parts[partition].end
    }

    /// Appends `n` records to an application partition (as MM2 does).
    pub fn append(&mut self, topic: usize, partition: usize, n: i64) {
        self.apps[topic].parts[partition].end += n;
    }

    /// Producers write `n` records to an application topic, if it exists.
    pub fn produce(&mut self, topic: usize, n: f64) {
        if let Some(t) = self.apps.get_mut(topic) {
            t.produce(n);
        }
    }

    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    pub fn groups_mut(&mut self) -> &mut Groups {
        &mut self.groups
    }

    /// Groups with members commit their position, into `__consumer_offsets`.
    pub fn commit_groups(&mut self) {
        for (p, n) in self.groups.commit(&self.apps) {
            self.bump(CONSUMER_OFFSETS, p, n);
        }
    }

    pub fn set_broker_up(&mut self, id: usize, up: bool) {
        if let Some(b) = self.brokers_up.get_mut(id) {
            *b = up;
        }
    }

    /// Appends `n` records to an internal topic, if it exists.
    pub fn bump(&mut self, topic: &str, partition: usize, n: i64) {
        if let Some(t) = self.internal.iter_mut().find(|t| &*t.name == topic) {
            let len = t.parts.len().max(1);
            if let Some(p) = t.parts.get_mut(partition % len) {
                p.end += n;
            }
        }
    }

    /// Creates an internal topic unless it exists (MM2 and Connect create
    /// theirs on first start).
    pub fn ensure(&mut self, name: &str, partitions: usize, compact: bool) {
        if !self.internal.iter().any(|t| &*t.name == name) {
            self.internal.push(TopicState::internal(name.to_owned(), vec![0; partitions], compact));
        }
    }

    /// A heartbeat is written: one record, and the newest for its key.
    pub fn beat(&mut self, b: Beat) {
        self.bump(&b.topic, 0, 1);
        self.note_beat(b);
    }

    /// Records the newest heartbeat for its (topic, source, target) key,
    /// already counted in the topic's end offset.
    pub fn note_beat(&mut self, b: Beat) {
        match self.beats.iter_mut().find(|x| x.topic == b.topic && x.source == b.source && x.target == b.target) {
            Some(x) => x.at = x.at.max(b.at),
            None => self.beats.push(b),
        }
    }

    pub fn beats_in<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a Beat> + 'a {
        self.beats.iter().filter(move |b| b.topic == topic)
    }

    /// What a collector reads of the cluster at `at`; checkpoints come from
    /// MM2, which knows what it wrote.
    pub fn observe(&self, side: Side, at: Ts, checkpoints: Vec<Checkpoint>) -> Cluster {
        let a = alias(side);
        let brokers = (0..self.brokers_up.len())
            .map(|id| Broker {
                id: id as i32,
                host: format!("{a}-kafka-{id}.kafka.svc"),
                port: BROKER_PORT,
                up: self.brokers_up[id],
            })
            .collect();
        let topics =
            self.apps.iter().chain(&self.internal).enumerate().map(|(i, t)| t.observe(i, &self.brokers_up)).collect();
        let heartbeats = self
            .beats
            .iter()
            .map(|b| Heartbeat {
                topic: b.topic.clone(),
                source_alias: alias(b.source).into(),
                target_alias: alias(b.target).into(),
                emitted_at: b.at,
            })
            .collect();
        let mut cluster = Cluster::new(side, a);
        cluster.link = Link::Up { last_ok: at };
        cluster.brokers = Some(Observed::new(brokers, at));
        cluster.topics = Some(Observed::new(topics, at));
        cluster.groups = Some(Observed::new(self.groups.observe(&self.apps), at));
        cluster.heartbeats = Some(Observed::new(heartbeats, at));
        cluster.checkpoints = Some(Observed::new(checkpoints, at));
        cluster
    }
}

/// The pair, indexed by side.
pub(super) struct Clusters([ClusterState; 2]);

impl Clusters {
    pub fn new(dc: ClusterState, dr: ClusterState) -> Self {
        Clusters([dc, dr])
    }

    pub fn side(&self, side: Side) -> &ClusterState {
        &self.0[side.index()]
    }

    pub fn side_mut(&mut self, side: Side) -> &mut ClusterState {
        &mut self.0[side.index()]
    }

    /// The two clusters of a flow: (source, target).
    pub fn ends_mut(&mut self, flow: Flow) -> (&ClusterState, &mut ClusterState) {
        let [dc, dr] = &mut self.0;
        match flow.source {
            Side::Dc => (dc, dr),
            Side::Dr => (dr, dc),
        }
    }

    pub fn commit_groups(&mut self) {
        for c in &mut self.0 {
            c.commit_groups();
        }
    }
}
