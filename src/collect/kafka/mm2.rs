//! Reads MirrorMaker 2's footprint in one cluster straight from Kafka: the
//! Connect status, config and offsets topics of the MM2 deployments that run
//! there, every heartbeats topic (`heartbeats`, `<src>.heartbeats`) and every
//! checkpoints topic (`<src>.checkpoints.internal`).
//!
//! One `BaseConsumer` per reader, configured like kdrill's other observing
//! clients (`client::observer_config`), which never joins a group and never
//! commits (the `group.id` it needs for `assign` names no real group):
//! partitions are assigned explicitly, from the beginning the
//! first time a topic is seen, and then read incrementally, each poll up to
//! the end offsets it observed when it started (Kafka Connect's own
//! read-to-end rule, `KafkaBasedLog.readToLogEnd`: caught up once the consumer's
//! position reaches the end offset). The consumer reads `read_committed`, as
//! Connect's stores do with exactly-once support, so its end offsets are last
//! stable offsets and records of aborted transactions are never seen.
//!
//! Blocking: the caller runs [`Mm2Reader::poll`] on a blocking thread.

mod state;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::client::{self, KdrillContext, Observer};
use crate::config::{ClusterConfig, Mm2Config, Timing};
use crate::model::naming::ReplicationPolicy;
use crate::model::{Checkpoint, Connector, Flow, Heartbeat, ReplicatedOffset, Ts};

use state::{Mm2State, Record};

/// The `group.id` librdkafka requires for `assign`; never joined, never committed.
pub const READER_GROUP: &str = "kdrill-mm2-reader";

/// What one poll saw of MM2 in one cluster. A section is `Some` only when
/// every topic it is built from was read up to the end offsets taken at
/// `at` during this poll (or does not exist); otherwise it is `None`
/// (unknown), so a caller keeps its previous observation, which then ages.
#[derive(Clone, Debug, PartialEq)]
pub struct Mm2Footprint {
    /// Newest heartbeat per (topic, source alias, target alias).
    pub heartbeats: Option<Vec<Heartbeat>>,
    /// Latest checkpoint per (source alias, group, topic, partition).
    pub checkpoints: Option<Vec<Checkpoint>>,
    /// One entry per deployment given to [`Mm2Reader::new`], in that order.
    pub deployments: Vec<DeploymentFootprint>,
    /// When the end offsets this footprint is complete up to were taken.
    pub at: Ts,
    /// What went wrong or is missing in this poll, never fatal and never
    /// containing secrets: cluster or topic errors, configured topics that do
    /// not exist, topics not read to their end before the deadline, and
    /// malformed records skipped in this poll (a count and the first reason).
    pub error: Option<String>,
    /// Malformed records skipped since the reader started.
    pub malformed_total: u64,
    /// The same, per topic, and the first one's reason (topic, partition,
    /// offset and why: never the record's content).
    pub malformed_by_topic: BTreeMap<String, u64>,
    pub first_malformed: Option<String>,
    /// Records read in this poll: after the first, only what was written
    /// since the previous poll.
    pub records: u64,
}

/// One MM2 deployment as its Connect topics show it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentFootprint {
    pub name: String,
    pub flow: Flow,
    /// See [`Mm2Reader`] for which connectors belong to a deployment.
    pub connectors: Option<Vec<Connector>>,
    /// Last replicated upstream offset per source partition.
    pub replicated: Option<Vec<ReplicatedOffset>>,
}

/// How far one assigned partition has been read.
#[derive(Debug)]
struct Progress {
    /// The next offset to read: everything below it has been applied.
    next: i64,
    /// Whether `next` is known to be at or past the log start offset
    /// (until then an empty partition with a non-zero start would look behind).
    start_known: bool,
    /// Records fetched at or past the end offset a read was bounded by,
    /// oldest first: written after the footprint's `at`, they wait for the
    /// next read. A footprint holds exactly what was written before its
    /// `at`; with later records in it, MM2 would seem to pass source end
    /// offsets read before them.
    held: VecDeque<Held>,
}

impl Progress {
    fn new() -> Progress {
        Progress { next: 0, start_known: false, held: VecDeque::new() }
    }

    /// The offset after the last record read, applied or held: the
    /// partition's end was at least this when it was fetched.
    fn read_to(&self) -> i64 {
        self.held.back().map_or(self.next, |h| h.offset + 1).max(self.next)
    }
}

/// A record held for the next read (`Progress::held`).
#[derive(Debug)]
struct Held {
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    timestamp_ms: Option<i64>,
}

/// Reads MM2's footprint in one cluster, incrementally. Which connectors
/// belong to a deployment: a connector named `<a>-><b>.<…>` with `a`, `b`
/// this pair's aliases belongs to the deployment of flow a→b (Strimzi's
/// naming, including a reversed-alias heartbeat connector run for the flow);
/// any other connector belongs when its `source.cluster.alias` and
/// `target.cluster.alias` are the deployment's source and target aliases
/// (MM2 dedicated mode).
pub struct Mm2Reader {
    consumer: Observer,
    /// What `consumer` was built from, to build a fresh one when it stalls.
    client_config: rdkafka::ClientConfig,
    /// This cluster's alias, for messages.
    alias: String,
    state: Mm2State,
    progress: BTreeMap<(String, i32), Progress>,
    skipped: Skipped,
}

/// Records skipped as malformed since the reader started.
#[derive(Default)]
struct Skipped {
    total: u64,
    by_topic: BTreeMap<String, u64>,
    first: Option<String>,
}

/// Problems of one poll, joined into `Mm2Footprint::error`.
#[derive(Default)]
struct Notes {
    lines: Vec<String>,
    records: u64,
    consume_errors: u64,
    first_consume_error: Option<String>,
    malformed: u64,
    first_malformed: Option<String>,
}

impl Notes {
    fn into_error(self) -> Option<String> {
        let mut lines = self.lines;
        if let Some(first) = self.first_consume_error {
            lines.push(format!("{} consume error(s), first: {first}", self.consume_errors));
        }
        if let Some(first) = self.first_malformed {
            lines.push(format!("{} malformed record(s) skipped, first: {first}", self.malformed));
        }
        (!lines.is_empty()).then(|| lines.join("; "))
    }
}

/// What an end-offset listing found for one partition.
type Ends = BTreeMap<(String, i32), i64>;

impl Mm2Reader {
    /// `aliases` are the MM2 aliases of the DC and DR clusters, in that
    /// order; `deployments` those whose Connect cluster runs on `cluster`.
    /// The client is kdrill's observer configuration (`client::observer_config`),
    /// reading `read_committed`.
    pub fn new(
        cluster: &ClusterConfig,
        timing: &Timing,
        aliases: [String; 2],
        deployments: Vec<Mm2Config>,
        policy: ReplicationPolicy,
    ) -> Result<Mm2Reader, String> {
        if let Some(d) = deployments.iter().find(|d| d.runs_on != cluster.side) {
            return Err(format!(
                "MM2 deployment {} runs on {}, not on {} ({}): its topics are not there",
                d.name, d.runs_on, cluster.side, cluster.alias
            ));
        }
        let mut config = client::observer_config(cluster, timing);
        // librdkafka refuses assign() without a group.id (`_UNKNOWN_GROUP`,
        // "Requires a consumer with group.id configured"). The group is never
        // joined (no subscribe), offsets are never fetched (every partition
        // is assigned at an explicit offset) nor committed (auto commit off,
        // no commit call), so it never exists on the broker.
        config.set("group.id", READER_GROUP);
        // Connect's stores read committed data only; with exactly-once source
        // support its topics carry transactions. A position out of range
        // (records deleted meanwhile) restarts from the earliest record.
        config.set("isolation.level", "read_committed").set("auto.offset.reset", "earliest");
        let consumer = config
            .create_with_context(KdrillContext::default())
            .map_err(|e| format!("{}: MM2 reader: {}", cluster.alias, client::describe(&e, cluster)))?;
        Ok(Mm2Reader {
            consumer,
            client_config: config,
            alias: cluster.alias.clone(),
            state: Mm2State::new(aliases, deployments, policy),
            progress: BTreeMap::new(),
            skipped: Skipped::default(),
        })
    }

    /// Discovers topics, assigns new ones from the beginning, reads what was
    /// written since the last poll (bounded by `timeout`) and builds the footprint.
    pub fn poll(&mut self, timeout: Duration) -> Mm2Footprint {
        let deadline = Instant::now() + timeout;
        let mut notes = Notes::default();
        let wanted = match self.discover(deadline, &mut notes) {
            Ok(wanted) => wanted,
            Err(e) => {
                notes.lines.insert(0, e);
                return self.footprint(Utc::now(), None, notes);
            }
        };
        self.sync_assignment(&wanted, &mut notes);
        // Paused between reads (`client::fetching`); new partitions too.
        client::fetching(&self.consumer, false);
        let ends = self.list_offsets(Offset::End, |_| true, deadline, &mut notes);
        let at = Utc::now();
        self.learn_starts(deadline, &mut notes);
        self.reset_truncated(&ends, &mut notes);
        self.consume(&ends, deadline, &mut notes);
        client::fetching(&self.consumer, false);
        self.footprint(at, Some((&wanted, &ends)), notes)
    }

    /// Replaces the consumer by a fresh one, assigned at the next offset of
    /// every partition (what was read is kept, nothing is read twice): a
    /// consumer whose connections hung with its broker may never fetch
    /// again. The caller decides when (`side::SidePoller`).
    pub fn renew_consumer(&mut self) {
        let fresh: Observer = match self.client_config.create_with_context(KdrillContext::default()) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("{}: MM2 reader stalled; a new client failed: {}", self.alias, brief(&e));
                return;
            }
        };
        let mut tpl = TopicPartitionList::new();
        for ((t, p), pr) in &self.progress {
            let at = if pr.start_known { Offset::Offset(pr.next) } else { Offset::Beginning };
            let _ = tpl.add_partition_offset(t, *p, at);
        }
        if let Err(e) = fresh.incremental_assign(&tpl) {
            tracing::warn!("{}: MM2 reader stalled; assigning a new client failed: {}", self.alias, brief(&e));
            return;
        }
        // The new client fetches them again from `next`.
        for pr in self.progress.values_mut() {
            pr.held.clear();
        }
        self.consumer = fresh;
        client::fetching(&self.consumer, false);
    }

    /// The partitions of every topic this reader wants, from fresh metadata.
    fn discover(&self, deadline: Instant, notes: &mut Notes) -> Result<BTreeMap<String, Vec<i32>>, String> {
        let metadata = self
            .consumer
            .fetch_metadata(None, remaining(deadline))
            .map_err(|e| format!("{}: metadata: {}", self.alias, brief(&e)))?;
        let mut wanted = BTreeMap::new();
        for topic in metadata.topics().iter().filter(|t| self.state.wants(t.name())) {
            if let Some(err) = topic.error() {
                notes.lines.push(format!("{}: topic {}: {}", self.alias, topic.name(), RDKafkaErrorCode::from(err)));
                continue;
            }
            wanted.insert(topic.name().to_owned(), topic.partitions().iter().map(|p| p.id()).collect());
        }
        let configured: BTreeSet<&str> = self
            .state
            .deployments()
            .iter()
            .flat_map(|d| [&d.status_topic, &d.config_topic, &d.offsets_topic])
            .map(String::as_str)
            .collect();
        for topic in configured {
            if !metadata.topics().iter().any(|t| t.name() == topic) {
                notes.lines.push(format!("{}: topic {topic} does not exist", self.alias));
            }
        }
        Ok(wanted)
    }

    /// Assigns partitions that appeared (from the beginning) and drops those
    /// that disappeared, with what was learnt from their topics.
    fn sync_assignment(&mut self, wanted: &BTreeMap<String, Vec<i32>>, notes: &mut Notes) {
        let is_wanted = |(t, p): &(String, i32)| wanted.get(t).is_some_and(|ps| ps.contains(p));
        let gone: Vec<(String, i32)> = self.progress.keys().filter(|tp| !is_wanted(tp)).cloned().collect();
        if !gone.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for (t, p) in &gone {
                tpl.add_partition(t, *p);
                self.progress.remove(&(t.clone(), *p));
            }
            if let Err(e) = self.consumer.incremental_unassign(&tpl) {
                notes.lines.push(format!("{}: unassign: {}", self.alias, brief(&e)));
            }
            let topics: BTreeSet<&String> = gone.iter().map(|(t, _)| t).collect();
            for topic in topics.into_iter().filter(|t| !wanted.contains_key(*t)) {
                self.state.forget_topic(topic);
            }
        }
        let mut tpl = TopicPartitionList::new();
        for (topic, partitions) in wanted {
            for &p in partitions {
                if !self.progress.contains_key(&(topic.clone(), p)) {
                    // Offset::Beginning is a valid, in-range offset: this cannot fail.
                    let _ = tpl.add_partition_offset(topic, p, Offset::Beginning);
                }
            }
        }
        if tpl.count() == 0 {
            return;
        }
        match self.consumer.incremental_assign(&tpl) {
            Ok(()) => {
                for e in tpl.elements() {
                    self.progress.insert((e.topic().to_owned(), e.partition()), Progress::new());
                }
            }
            Err(e) => notes.lines.push(format!("{}: assign: {}", self.alias, brief(&e))),
        }
    }

    /// One batched ListOffsets for the assigned partitions `which` selects:
    /// `Offset::End` gives end offsets, `Offset::Beginning` log start offsets.
    fn list_offsets(
        &self,
        what: Offset,
        which: impl Fn(&Progress) -> bool,
        deadline: Instant,
        notes: &mut Notes,
    ) -> Ends {
        let mut tpl = TopicPartitionList::new();
        for ((t, p), _) in self.progress.iter().filter(|(_, pr)| which(pr)) {
            let _ = tpl.add_partition_offset(t, *p, what);
        }
        let mut found = Ends::new();
        if tpl.count() == 0 {
            return found;
        }
        let listed = match self.consumer.offsets_for_times(tpl, remaining(deadline)) {
            Ok(listed) => listed,
            Err(e) => {
                notes.lines.push(format!("{}: list offsets: {}", self.alias, brief(&e)));
                return found;
            }
        };
        for e in listed.elements() {
            match (e.error(), e.offset()) {
                (Ok(()), Offset::Offset(n)) => {
                    found.insert((e.topic().to_owned(), e.partition()), n);
                }
                (Err(err), _) => notes.lines.push(format!(
                    "{}: offsets of {}/{}: {}",
                    self.alias,
                    e.topic(),
                    e.partition(),
                    brief(&err)
                )),
                (Ok(()), _) => {}
            }
        }
        found
    }

    /// Moves `next` of newly assigned partitions to their log start offset.
    fn learn_starts(&mut self, deadline: Instant, notes: &mut Notes) {
        let starts = self.list_offsets(Offset::Beginning, |p| !p.start_known, deadline, notes);
        for (tp, start) in starts {
            if let Some(p) = self.progress.get_mut(&tp) {
                p.next = p.next.max(start);
                p.start_known = true;
            }
        }
    }

    /// A partition whose end is below what was already read was truncated
    /// or re-created: its topic is forgotten and read again from the beginning.
    fn reset_truncated(&mut self, ends: &Ends, notes: &mut Notes) {
        let topics: BTreeSet<String> = self
            .progress
            .iter()
            .filter(|(tp, p)| ends.get(*tp).is_some_and(|&end| end < p.read_to()))
            .map(|((t, _), _)| t.clone())
            .collect();
        for topic in topics {
            notes.lines.push(format!("{}: topic {topic} shrank (re-created?): reading it again", self.alias));
            self.state.forget_topic(&topic);
            let mut tpl = TopicPartitionList::new();
            for ((t, p), pr) in self.progress.iter_mut().filter(|((t, _), _)| *t == topic) {
                let _ = tpl.add_partition_offset(t, *p, Offset::Beginning);
                *pr = Progress::new();
            }
            let reassigned =
                self.consumer.incremental_unassign(&tpl).and_then(|()| self.consumer.incremental_assign(&tpl));
            if let Err(e) = reassigned {
                notes.lines.push(format!("{}: reassign {topic}: {}", self.alias, brief(&e)));
            }
        }
    }

    /// Partitions not yet read up to their end offset.
    fn behind(&self, ends: &Ends) -> BTreeSet<(String, i32)> {
        self.progress
            .iter()
            .filter(|(tp, p)| ends.get(*tp).is_some_and(|&end| p.next < end))
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Takes the consumer's positions into account: they move past
    /// transaction markers, which are never delivered as messages (never
    /// past a held record, which the position has passed).
    fn refresh_positions(&mut self) {
        let Ok(positions) = self.consumer.position() else { return };
        for e in positions.elements() {
            if let (Offset::Offset(n), Some(p)) =
                (e.offset(), self.progress.get_mut(&(e.topic().to_owned(), e.partition())))
            {
                let held = p.held.front().map_or(i64::MAX, |h| h.offset);
                p.next = p.next.max(n.min(held));
            }
        }
    }

    /// Applies the records held by the last read that this read's end
    /// offsets now cover; all of a partition's whose end is unknown in this
    /// read (its section is incomplete anyway), so that records never
    /// apply out of order.
    fn apply_held(&mut self, ends: &Ends, notes: &mut Notes) {
        let mut due = Vec::new();
        for (tp, pr) in &mut self.progress {
            let end = ends.get(tp).copied().unwrap_or(i64::MAX);
            while pr.held.front().is_some_and(|h| h.offset < end) {
                if let Some(h) = pr.held.pop_front() {
                    pr.next = pr.next.max(h.offset + 1);
                    due.push((tp.clone(), h));
                }
            }
        }
        for ((topic, partition), h) in due {
            let record = Record {
                topic: &topic,
                partition,
                key: h.key.as_deref(),
                value: h.value.as_deref(),
                timestamp_ms: h.timestamp_ms,
            };
            apply(&mut self.state, &mut self.skipped, record, h.offset, notes);
        }
    }

    /// Applies records until every partition reached its end offset or the
    /// deadline passed; records past the end are held for the next read.
    fn consume(&mut self, ends: &Ends, deadline: Instant, notes: &mut Notes) {
        self.apply_held(ends, notes);
        let mut behind = self.behind(ends);
        // Paused between reads (`client::fetching`): resumed only to catch up.
        if !behind.is_empty() {
            client::fetching(&self.consumer, true);
        }
        while !behind.is_empty() {
            let left = remaining(deadline);
            if left.is_zero() {
                break;
            }
            match self.consumer.poll(left.min(Duration::from_millis(100))) {
                None => {
                    self.refresh_positions();
                    behind = self.behind(ends);
                }
                Some(Err(e)) => {
                    notes.consume_errors += 1;
                    notes.first_consume_error.get_or_insert_with(|| format!("{}: {}", self.alias, brief(&e)));
                }
                Some(Ok(msg)) => {
                    let tp = (msg.topic().to_owned(), msg.partition());
                    let Some(progress) = self.progress.get_mut(&tp) else { continue };
                    let offset = msg.offset();
                    // Already applied or held (a re-fetch after reassignment).
                    if offset < progress.next || progress.held.back().is_some_and(|h| offset <= h.offset) {
                        continue;
                    }
                    let end = ends.get(&tp).copied();
                    if end.is_some_and(|end| offset >= end) {
                        progress.held.push_back(Held {
                            offset,
                            key: msg.key().map(<[u8]>::to_vec),
                            value: msg.payload().map(<[u8]>::to_vec),
                            timestamp_ms: msg.timestamp().to_millis(),
                        });
                        behind.remove(&tp);
                        continue;
                    }
                    progress.next = offset + 1;
                    let record = Record {
                        topic: msg.topic(),
                        partition: msg.partition(),
                        key: msg.key(),
                        value: msg.payload(),
                        timestamp_ms: msg.timestamp().to_millis(),
                    };
                    apply(&mut self.state, &mut self.skipped, record, offset, notes);
                    if end.is_none_or(|end| offset + 1 >= end) {
                        behind.remove(&tp);
                    }
                }
            }
        }
        self.refresh_positions();
    }

    /// Whether every partition of `topic` was read to its end offset in this
    /// poll; a topic that does not exist is complete (and empty).
    fn complete(&self, topic: &str, wanted: &BTreeMap<String, Vec<i32>>, ends: &Ends) -> bool {
        let Some(partitions) = wanted.get(topic) else { return true };
        partitions.iter().all(|&p| {
            let tp = (topic.to_owned(), p);
            matches!((ends.get(&tp), self.progress.get(&tp)), (Some(&end), Some(pr)) if pr.next >= end)
        })
    }

    /// Builds the footprint; `read` is `None` when this poll could not even
    /// learn which topics exist (every section unknown), else the wanted
    /// partitions and the end offsets they were read against.
    fn footprint(&self, at: Ts, read: Option<(&BTreeMap<String, Vec<i32>>, &Ends)>, mut notes: Notes) -> Mm2Footprint {
        let complete = |topic: &str| read.is_some_and(|(wanted, ends)| self.complete(topic, wanted, ends));
        let wanted_topics: Vec<&str> =
            read.map_or_else(Vec::new, |(wanted, _)| wanted.keys().map(String::as_str).collect());
        for topic in wanted_topics.iter().filter(|t| !complete(t)) {
            notes.lines.push(format!("{}: topic {topic} not read to its end before the deadline", self.alias));
        }
        let all_complete = |role: &dyn Fn(&str) -> bool| {
            read.is_some() && wanted_topics.iter().filter(|t| role(t)).all(|t| complete(t))
        };
        let heartbeats = all_complete(&|t| self.state.is_heartbeats_topic(t)).then(|| self.state.heartbeats());
        let checkpoints =
            all_complete(&|t| self.state.checkpoints_source(t).is_some()).then(|| self.state.checkpoints());
        let deployments = self
            .state
            .deployments()
            .iter()
            .map(|d| DeploymentFootprint {
                name: d.name.clone(),
                flow: d.flow,
                connectors: (complete(&d.status_topic) && complete(&d.config_topic)).then(|| self.state.connectors(d)),
                replicated: (complete(&d.offsets_topic) && complete(&d.config_topic)).then(|| self.state.replicated(d)),
            })
            .collect();
        let records = notes.records;
        Mm2Footprint {
            heartbeats,
            checkpoints,
            deployments,
            at,
            error: notes.into_error(),
            malformed_total: self.skipped.total,
            malformed_by_topic: self.skipped.by_topic.clone(),
            first_malformed: self.skipped.first.clone(),
            records,
        }
    }
}

/// Applies one record to the state, counting it (or why it was skipped).
fn apply(state: &mut Mm2State, skipped: &mut Skipped, record: Record<'_>, offset: i64, notes: &mut Notes) {
    notes.records += 1;
    if let Err(reason) = state.apply(record) {
        notes.malformed += 1;
        skipped.total += 1;
        *skipped.by_topic.entry(record.topic.to_owned()).or_default() += 1;
        let why = format!("{}/{}@{offset}: {reason}", record.topic, record.partition);
        skipped.first.get_or_insert_with(|| why.clone());
        notes.first_malformed.get_or_insert(why);
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// A Kafka error in a few words: its code, which cannot carry a secret.
fn brief(e: &KafkaError) -> String {
    match e.rdkafka_error_code() {
        Some(code) => code.to_string(),
        None => e.to_string(),
    }
}
