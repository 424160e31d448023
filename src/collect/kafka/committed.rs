//! Every consumer group's committed offsets, read from `__consumer_offsets`
//! the way Burrow reads them, instead of one OffsetFetch per group each poll:
//! a poll then costs the same few requests whatever the number of groups.
//!
//! The group coordinator writes each commit as a record of that topic
//! (`CoordinatorRecordSerde`): the key is an `INT16` record type, then the
//! key's fields; the value an `INT16` version, then the value's fields.
//! kdrill reads only what it uses:
//!
//! * key types 0 and 1, `OffsetCommitKey`: `group STRING`, `topic STRING`,
//!   `partition INT32` (type 0 is the legacy spelling of the same layout);
//! * their value, `OffsetCommitValue` versions 0–4: `offset INT64` comes
//!   first in every one of them; a null value (tombstone) removes the commit
//!   (offsets deleted or expired, the group deleted);
//! * every other record type (group metadata, KIP-848 consumer groups,
//!   share and streams groups, ...) is skipped unread.
//!
//! Transactional offset commits count only once committed: the reader
//! consumes `read_committed`, so records of aborted transactions never
//! arrive. Like MM2's topics (`mm2`), partitions are assigned explicitly,
//! never through a group, read incrementally, and caught up once every
//! position reached the end offset taken at the start of the read.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::bytes::{ByteReader, ReadError};
use super::client::{self, KdrillContext, Observer};
use crate::config::{ClusterConfig, Timing};
use crate::model::{Committed, Names};

/// The topic Kafka's group coordinator keeps committed offsets in.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The `group.id` librdkafka requires for `assign`; never joined, never committed.
const READER_GROUP: &str = "kdrill-offsets-reader";

/// The newest `OffsetCommitValue` version kdrill knows (Kafka 4.x).
const NEWEST_VALUE_VERSION: i16 = 4;

/// A record of `__consumer_offsets` that kdrill applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OffsetRecord {
    Commit {
        group: String,
        topic: String,
        partition: i32,
        offset: i64,
    },
    /// A tombstone: the group's commit for this partition is gone.
    Removed {
        group: String,
        topic: String,
        partition: i32,
    },
}

/// Decodes one record; `Ok(None)` for record types kdrill does not read.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Option<OffsetRecord>, String> {
    let mut k = ByteReader::new(key);
    let kind = k.i16("record type").map_err(|e| e.to_string())?;
    match kind {
        0 | 1 => {}
        2.. => return Ok(None),
        _ => return Err(format!("record type {kind} is negative")),
    }
    let read_key = |k: &mut ByteReader<'_>| -> Result<(String, String, i32), ReadError> {
        Ok((k.string("group")?, k.string("topic")?, k.i32("partition")?))
    };
    let (group, topic, partition) = read_key(&mut k).map_err(|e| format!("OffsetCommitKey: {e}"))?;
    let Some(value) = value else {
        return Ok(Some(OffsetRecord::Removed { group, topic, partition }));
    };
    let mut v = ByteReader::new(value);
    let version = v.i16("version").map_err(|e| format!("OffsetCommitValue: {e}"))?;
    if !(0..=NEWEST_VALUE_VERSION).contains(&version) {
        return Err(format!("OffsetCommitValue version {version} is not one kdrill knows (0–{NEWEST_VALUE_VERSION})"));
    }
    let offset = v.i64("offset").map_err(|e| format!("OffsetCommitValue v{version}: {e}"))?;
    Ok(Some(OffsetRecord::Commit { group, topic, partition, offset }))
}

/// Committed offsets per group, as applied from the topic. Topic names are
/// shared (`Names`): thousands of groups commit to the same topics, and the
/// rows `of` hands out share them too.
#[derive(Debug, Default)]
pub struct CommittedOffsets {
    groups: HashMap<String, BTreeMap<Arc<str>, BTreeMap<i32, i64>>>,
    names: Names,
}

impl CommittedOffsets {
    pub fn apply(&mut self, record: OffsetRecord) {
        match record {
            OffsetRecord::Commit { group, topic, partition, offset } => {
                let topics = self.groups.entry(group).or_default();
                match topics.get_mut(topic.as_str()) {
                    Some(partitions) => {
                        partitions.insert(partition, offset);
                    }
                    None => {
                        topics.insert(self.names.get(&topic), BTreeMap::from([(partition, offset)]));
                    }
                }
            }
            OffsetRecord::Removed { group, topic, partition } => {
                let Some(topics) = self.groups.get_mut(&group) else { return };
                let Some(partitions) = topics.get_mut(topic.as_str()) else { return };
                partitions.remove(&partition);
                if partitions.is_empty() {
                    topics.remove(topic.as_str());
                }
                if topics.is_empty() {
                    self.groups.remove(&group);
                }
            }
        }
    }

    /// Drops the names no group commits to any more: once per read, not per
    /// tombstone (a deleted group's tombstones would scan every name each).
    fn forget_unused_names(&mut self) {
        self.names.forget_unused();
    }

    /// A group's committed offsets, sorted by topic and partition (empty
    /// when it has none, as OffsetFetch answers).
    pub fn of(&self, group: &str) -> Vec<Committed> {
        let Some(topics) = self.groups.get(group) else { return Vec::new() };
        topics
            .iter()
            .flat_map(|(topic, partitions)| {
                partitions.iter().map(|(&partition, &offset)| Committed { topic: Arc::clone(topic), partition, offset })
            })
            .collect()
    }
}

/// Reads `__consumer_offsets` of one cluster, incrementally.
pub struct CommittedReader {
    consumer: Observer,
    /// What `consumer` was built from, to build a fresh one.
    client_config: rdkafka::ClientConfig,
    context: KdrillContext,
    alias: String,
    /// The next offset to read per partition; empty until assigned.
    next: BTreeMap<i32, i64>,
    offsets: CommittedOffsets,
    /// Records skipped as undecodable since the reader started, and the
    /// first: while there is one, `read` never calls the offsets complete.
    malformed: u64,
    first_malformed: Option<String>,
    /// The refusal last seen, until a record is read or a read completes.
    refused: Option<String>,
}

impl CommittedReader {
    /// `context` is the poller's, so that its count of requests sent
    /// includes this client's.
    pub fn new(cluster: &ClusterConfig, timing: &Timing, context: KdrillContext) -> Result<CommittedReader, String> {
        let mut config = client::counting_requests(client::observer_config(cluster, timing), cluster);
        // As the MM2 reader: a group.id for assign() that is never joined
        // nor committed; committed data only; a position out of range
        // (compacted or deleted meanwhile) restarts from the earliest record.
        config
            .set("group.id", READER_GROUP)
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "earliest");
        let consumer = config
            .create_with_context(context.clone())
            .map_err(|e| format!("{}: offsets reader: {}", cluster.alias, client::describe(&e, cluster)))?;
        Ok(CommittedReader {
            consumer,
            client_config: config,
            context,
            alias: cluster.alias.clone(),
            next: BTreeMap::new(),
            offsets: CommittedOffsets::default(),
            malformed: 0,
            first_malformed: None,
            refused: None,
        })
    }

    /// Continues with a new client where this one stopped (nothing read
    /// twice, nothing forgotten): one whose connections lived through an
    /// outage of its broker may never fetch again.
    pub fn renew_consumer(&mut self) {
        let Ok(fresh) = self.client_config.create_with_context::<_, Observer>(self.context.clone()) else { return };
        let mut tpl = TopicPartitionList::new();
        for (&p, &next) in &self.next {
            let _ = tpl.add_partition_offset(OFFSETS_TOPIC, p, Offset::Offset(next));
        }
        if tpl.count() > 0 && fresh.assign(&tpl).is_err() {
            return;
        }
        self.context.retire(&super::ffi::client_name(self.consumer.client()));
        self.consumer = fresh;
        client::fetching(&self.consumer, false);
    }

    /// What was applied so far (complete as of the last `Ok` of `read`).
    pub fn offsets(&self) -> &CommittedOffsets {
        &self.offsets
    }

    /// Reads what was committed since the last call, up to the end offsets
    /// taken now. `Ok` once every commit is in: caught up, no record it
    /// could not decode, and no transaction open on the topic (its last
    /// stable offset below `high_watermarks`, the ends a read_uncommitted
    /// client saw, holds back the commits after it, which OffsetFetch
    /// answers). `Err` says why not, and the caller asks per group.
    ///
    /// A refusal (no read access) is remembered until a record is read or a
    /// read completes: a read that fails otherwise meanwhile (not caught up
    /// in time, as a refused fetch leaves it) still gives the refusal as why.
    pub fn read(&mut self, deadline: Instant, high_watermarks: &BTreeMap<i32, i64>) -> Result<(), String> {
        let read = self.read_to_end(deadline, high_watermarks);
        self.offsets.forget_unused_names();
        match &read {
            Ok(()) => self.refused = None,
            Err(why) if *why == no_read_access() => self.refused = Some(why.clone()),
            Err(_) => {}
        }
        read.map_err(|why| self.refused.clone().unwrap_or(why))
    }

    fn read_to_end(&mut self, deadline: Instant, high_watermarks: &BTreeMap<i32, i64>) -> Result<(), String> {
        if self.next.is_empty() {
            self.assign(deadline)?;
        }
        // Paused already, unless the last read ended early.
        client::fetching(&self.consumer, false);
        let ends = self.list(Offset::End, deadline)?;
        // A partition whose end fell below what was read was re-created:
        // start again from nothing rather than keep commits it no longer has.
        if ends.iter().any(|(p, &end)| self.next.get(p).is_some_and(|&n| end < n)) {
            self.next.clear();
            self.offsets = CommittedOffsets::default();
            return Err(format!("{OFFSETS_TOPIC} shrank (re-created?): reading it again"));
        }
        let behind = |next: &BTreeMap<i32, i64>| ends.iter().any(|(p, &end)| next.get(p).is_none_or(|&n| n < end));
        // At least one poll of the consumer per read, even with nothing new:
        // it also serves the client's events (errors, statistics).
        let mut polled = false;
        if behind(&self.next) {
            client::fetching(&self.consumer, true);
        }
        while !polled || behind(&self.next) {
            // Positions move past transaction markers, never delivered.
            self.refresh_positions();
            if polled && !behind(&self.next) {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() && behind(&self.next) {
                let lag: i64 = ends.iter().map(|(p, &end)| end - self.next.get(p).copied().unwrap_or(0)).sum();
                return Err(format!("{OFFSETS_TOPIC} not read to its end in time ({lag} records behind)"));
            }
            let wait = if behind(&self.next) { left.min(Duration::from_millis(100)) } else { Duration::ZERO };
            polled = true;
            match self.consumer.poll(wait) {
                None => {}
                Some(Err(e)) => return Err(self.refusal(&e)),
                Some(Ok(msg)) => {
                    // A record delivered: the topic can be read.
                    self.refused = None;
                    let partition = msg.partition();
                    if msg.offset() < self.next.get(&partition).copied().unwrap_or(0) {
                        continue;
                    }
                    match decode(msg.key().unwrap_or_default(), msg.payload()) {
                        Ok(Some(record)) => self.offsets.apply(record),
                        Ok(None) => {}
                        Err(why) => {
                            self.malformed += 1;
                            self.first_malformed.get_or_insert_with(|| {
                                format!("{OFFSETS_TOPIC}/{partition} offset {}: {why}", msg.offset())
                            });
                        }
                    }
                    self.next.insert(partition, msg.offset() + 1);
                }
            }
        }
        client::fetching(&self.consumer, false);
        // A commit skipped leaves its group at an older offset: not complete.
        if let Some(first) = &self.first_malformed {
            return Err(format!("{} commit record(s) kdrill cannot decode, first: {first}", self.malformed));
        }
        for (p, end) in &ends {
            match high_watermarks.get(p) {
                Some(hw) if end < hw => {
                    return Err(format!(
                        "a transaction is open on {OFFSETS_TOPIC}/{p}: later commits not readable yet"
                    ));
                }
                Some(_) => {}
                None => return Err(format!("the end offset of {OFFSETS_TOPIC}/{p} is not known")),
            }
        }
        Ok(())
    }

    /// Assigns every partition of the topic at its log start offset.
    fn assign(&mut self, deadline: Instant) -> Result<(), String> {
        let left = deadline.saturating_duration_since(Instant::now());
        let md = self
            .consumer
            .fetch_metadata(Some(OFFSETS_TOPIC), left)
            .map_err(|e| format!("{}: metadata of {OFFSETS_TOPIC}: {e}", self.alias))?;
        let topic = md.topics().iter().find(|t| t.name() == OFFSETS_TOPIC);
        let partitions: Vec<i32> = match topic {
            Some(t) if t.error().is_none() => t.partitions().iter().map(|p| p.id()).collect(),
            Some(t) => return Err(self.topic_error(t.error().map(RDKafkaErrorCode::from))),
            None => Vec::new(),
        };
        if partitions.is_empty() {
            // No group ever committed here: nothing to read yet.
            return Err(format!("{OFFSETS_TOPIC} does not exist yet"));
        }
        let mut tpl = TopicPartitionList::new();
        for &p in &partitions {
            let _ = tpl.add_partition_offset(OFFSETS_TOPIC, p, Offset::Beginning);
        }
        self.consumer.assign(&tpl).map_err(|e| format!("{}: assign {OFFSETS_TOPIC}: {e}", self.alias))?;
        client::fetching(&self.consumer, false);
        let starts = self.list(Offset::Beginning, deadline)?;
        self.next = partitions.iter().map(|p| (*p, starts.get(p).copied().unwrap_or(0))).collect();
        Ok(())
    }

    /// One batched ListOffsets for every partition: end (last stable) or
    /// log start offsets.
    fn list(&self, what: Offset, deadline: Instant) -> Result<BTreeMap<i32, i64>, String> {
        let mut tpl = TopicPartitionList::new();
        let partitions: Vec<i32> = match self.consumer.assignment() {
            Ok(a) => a.elements().iter().map(|e| e.partition()).collect(),
            Err(e) => return Err(format!("{}: {e}", self.alias)),
        };
        for p in partitions {
            let _ = tpl.add_partition_offset(OFFSETS_TOPIC, p, what);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let listed = self.consumer.offsets_for_times(tpl, left).map_err(|e| self.refusal(&e))?;
        let mut out = BTreeMap::new();
        for e in listed.elements() {
            match (e.error(), e.offset()) {
                (Ok(()), Offset::Offset(n)) => {
                    out.insert(e.partition(), n);
                }
                (Err(err), _) => return Err(self.refusal(&err)),
                (Ok(()), _) => return Err(format!("{}: no offset for {OFFSETS_TOPIC}/{}", self.alias, e.partition())),
            }
        }
        Ok(out)
    }

    /// Positions move past transaction markers, never delivered as messages.
    fn refresh_positions(&mut self) {
        let Ok(positions) = self.consumer.position() else { return };
        for e in positions.elements() {
            if let (Offset::Offset(n), Some(next)) = (e.offset(), self.next.get_mut(&e.partition())) {
                *next = (*next).max(n);
            }
        }
    }

    fn refusal(&self, e: &KafkaError) -> String {
        match e.rdkafka_error_code() {
            Some(code @ (RDKafkaErrorCode::TopicAuthorizationFailed | RDKafkaErrorCode::GroupAuthorizationFailed)) => {
                self.topic_error(Some(code))
            }
            _ => format!("{}: reading {OFFSETS_TOPIC}: {e}", self.alias),
        }
    }

    fn topic_error(&self, code: Option<RDKafkaErrorCode>) -> String {
        match code {
            Some(RDKafkaErrorCode::TopicAuthorizationFailed | RDKafkaErrorCode::GroupAuthorizationFailed) => {
                no_read_access()
            }
            other => format!("{}: {OFFSETS_TOPIC}: {other:?}", self.alias),
        }
    }
}

/// Why the topic cannot be read when an ACL refuses it.
fn no_read_access() -> String {
    format!("no read access to {OFFSETS_TOPIC}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: i16, group: &str, topic: &str, partition: i32) -> Vec<u8> {
        let mut out = kind.to_be_bytes().to_vec();
        for s in [group, topic] {
            out.extend((s.len() as i16).to_be_bytes());
            out.extend(s.as_bytes());
        }
        out.extend(partition.to_be_bytes());
        out
    }

    /// A value of `version` as Kafka lays it out (`OffsetCommitValue.json`).
    fn value(version: i16, offset: i64) -> Vec<u8> {
        let mut out = version.to_be_bytes().to_vec();
        out.extend(offset.to_be_bytes());
        if version >= 3 {
            out.extend(7i32.to_be_bytes()); // leaderEpoch
        }
        if version >= 4 {
            out.push(1); // compact string: empty metadata
        } else {
            out.extend(0i16.to_be_bytes());
        }
        out.extend(1_700_000_000_000i64.to_be_bytes()); // commitTimestamp
        if version == 1 {
            out.extend((-1i64).to_be_bytes()); // expireTimestamp
        }
        if version >= 4 {
            out.push(0); // no tagged fields
        }
        out
    }

    #[test]
    fn commits_of_every_value_version_and_tombstones() {
        for version in 0..=4 {
            let got = decode(&key(1, "g", "orders", 3), Some(&value(version, 42)));
            let want = OffsetRecord::Commit { group: "g".into(), topic: "orders".into(), partition: 3, offset: 42 };
            assert_eq!(got, Ok(Some(want)), "version {version}");
        }
        let legacy = decode(&key(0, "g", "t", 0), Some(&value(0, 5)));
        assert!(matches!(legacy, Ok(Some(OffsetRecord::Commit { offset: 5, .. }))), "{legacy:?}");
        assert_eq!(
            decode(&key(1, "g", "t", 1), None),
            Ok(Some(OffsetRecord::Removed { group: "g".into(), topic: "t".into(), partition: 1 }))
        );
    }

    fn unhex(h: &str) -> Vec<u8> {
        (0..h.len()).step_by(2).filter_map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok()).collect()
    }

    /// Keys and values written by Kafka 4.3.1's own
    /// `GroupCoordinatorRecordSerde` (`OffsetCommitKey` and
    /// `OffsetCommitValue` versions 0–4, `LegacyOffsetCommitKey`, a
    /// tombstone): group "g", metadata "m", leader epoch 7 where the version
    /// has one, an expire timestamp in version 1. Made by
    /// `scripts/lab.d/OffsetCommitGolden.java`.
    #[test]
    fn records_kafka_itself_wrote_decode() {
        let key = "000100016700066f726465727300000003";
        let values = [
            "0000000000000000002a00016d0000018bcfe56800",
            "0001000000000000002a00016d0000018bcfe568000000018bcfe65260",
            "0002000000000000002a00016d0000018bcfe56800",
            "0003000000000000002a0000000700016d0000018bcfe56800",
            "0004000000000000002a00000007026d0000018bcfe5680000",
        ];
        for (version, value) in values.iter().enumerate() {
            let got = decode(&unhex(key), Some(&unhex(value)));
            let want = OffsetRecord::Commit { group: "g".into(), topic: "orders".into(), partition: 3, offset: 42 };
            assert_eq!(got, Ok(Some(want)), "value version {version}");
        }
        let legacy =
            decode(&unhex("000000016700017400000000"), Some(&unhex("0000000000000000000500000000000000000001")));
        let want = OffsetRecord::Commit { group: "g".into(), topic: "t".into(), partition: 0, offset: 5 };
        assert_eq!(legacy, Ok(Some(want)));
        let gone = decode(&unhex("000100016700017400000001"), None);
        assert_eq!(gone, Ok(Some(OffsetRecord::Removed { group: "g".into(), topic: "t".into(), partition: 1 })));
    }

    #[test]
    fn other_record_types_are_skipped_and_bad_ones_named() {
        // Group metadata (2) and KIP-848 / share / streams group records.
        for kind in [2i16, 3, 8, 11, 16, 100] {
            assert_eq!(decode(&kind.to_be_bytes(), Some(b"anything")), Ok(None), "type {kind}");
        }
        let newer = decode(&key(1, "g", "t", 0), Some(&value(5, 1)));
        assert!(newer.is_err_and(|e| e.contains("version 5")));
        let short = decode(&key(1, "g", "t", 0), Some(&[0, 3, 0, 0]));
        assert!(short.is_err_and(|e| e.contains("offset")));
        assert!(decode(&[0xff, 0xff], None).is_err());
        assert!(decode(&[0, 1, 0, 9, b'g'], None).is_err_and(|e| e.contains("group")));
    }

    #[test]
    fn never_panics_on_mangled_records() {
        // Every prefix and every single-byte change of real layouts.
        let k = key(1, "group", "topic", 2);
        let v = value(4, 99);
        let mut seed = 0x9e37_79b9_u32;
        for cut in 0..=k.len() {
            let _ = decode(&k[..cut], Some(&v));
        }
        for cut in 0..=v.len() {
            let _ = decode(&k, Some(&v[..cut]));
        }
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let (mut k2, mut v2) = (k.clone(), v.clone());
            let i = seed as usize;
            k2[i % k.len()] = (seed >> 8) as u8;
            v2[(i >> 4) % v.len()] = (seed >> 16) as u8;
            let _ = decode(&k2, Some(&v2));
        }
    }

    #[test]
    fn commits_replace_and_tombstones_remove() {
        let mut c = CommittedOffsets::default();
        let commit = |p, offset| OffsetRecord::Commit { group: "g".into(), topic: "t".into(), partition: p, offset };
        c.apply(commit(1, 10));
        c.apply(commit(0, 5));
        c.apply(commit(1, 12));
        let offsets: Vec<(i32, i64)> = c.of("g").iter().map(|x| (x.partition, x.offset)).collect();
        assert_eq!(offsets, [(0, 5), (1, 12)]);
        c.apply(OffsetRecord::Removed { group: "g".into(), topic: "t".into(), partition: 0 });
        c.apply(OffsetRecord::Removed { group: "g".into(), topic: "t".into(), partition: 1 });
        assert!(c.of("g").is_empty());
        assert!(c.groups.is_empty(), "a group with no commit left is forgotten");
        c.apply(OffsetRecord::Removed { group: "other".into(), topic: "t".into(), partition: 0 });
        assert!(c.of("other").is_empty());
    }

    #[test]
    fn rows_of_one_topic_share_its_name() {
        let mut c = CommittedOffsets::default();
        for (group, partition) in [("a", 0), ("a", 1), ("b", 0)] {
            let record = key(1, group, "orders", partition);
            match decode(&record, Some(&value(4, 7))) {
                Ok(Some(r)) => c.apply(r),
                other => panic!("{other:?}"),
            }
        }
        let (a, b) = (c.of("a"), c.of("b"));
        assert_eq!(a.len(), 2);
        assert!(Arc::ptr_eq(&a[0].topic, &a[1].topic), "within a group");
        assert!(Arc::ptr_eq(&a[0].topic, &b[0].topic), "across groups");
        assert_eq!(&*b[0].topic, "orders");
    }
}
