//! Consumer groups' lag on one side: each group's committed offset per
//! partition against that side's end offset, and in total.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::config::Settings;
use crate::model::{Cluster, Group, Topic, Ts};

use super::truth::Freshness;

/// One partition a group committed an offset for. A console holds one per
/// committed offset (250,000 a side at 100,000 partitions): 24 bytes, its
/// topic an index into its group's `topics`, its end offset read through
/// `GroupLag`, which knows whether the figures are too old to judge by.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupLagRow {
    topic: u32,
    pub partition: i32,
    pub committed: i64,
    /// The side's end offset of that partition, `ABSENT` when not read.
    end: i64,
}

/// An offset not known, in rows kept small (no `Option`'s 8 more bytes).
pub(super) const ABSENT: i64 = i64::MIN;

/// An offset kept with `ABSENT`, as an `Option`.
pub(super) fn known(offset: i64) -> Option<i64> {
    (offset != ABSENT).then_some(offset)
}

// What the console's memory at 100,000 partitions rests on.
const _: () = assert!(std::mem::size_of::<GroupLagRow>() <= 24);

/// A group's lag on one side.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupLag {
    /// The topics its rows name (`GroupLag::topic`), in the order committed.
    pub topics: Vec<Arc<str>>,
    pub rows: Vec<GroupLagRow>,
    /// The figures are too old to judge by: every row's lag is unknown.
    pub stale: bool,
    /// Records behind over every partition; `None` when any is unknown.
    pub total: Option<u64>,
    /// The row furthest behind (an unknown one first).
    pub worst: Option<usize>,
    /// The older of the committed offsets' and end offsets' observations.
    pub at: Option<Ts>,
    pub unknown_because: Option<String>,
}

impl GroupLag {
    pub fn worst_row(&self) -> Option<&GroupLagRow> {
        self.worst.and_then(|i| self.rows.get(i))
    }

    /// The topic of one of its rows.
    pub fn topic(&self, row: &GroupLagRow) -> &str {
        self.topics.get(row.topic as usize).map_or("", |t| t)
    }

    /// The side's end offset of a row's partition, when read.
    pub fn end(&self, row: &GroupLagRow) -> Option<i64> {
        known(row.end)
    }

    /// A row's `end - committed`; `None` when the end is unknown or the
    /// figures are stale. Negative (a recreated topic) keeps its sign.
    pub fn records(&self, row: &GroupLagRow) -> Option<i64> {
        records(row, self.stale)
    }
}

fn records(row: &GroupLagRow, stale: bool) -> Option<i64> {
    known(row.end).filter(|_| !stale).map(|end| end - row.committed)
}

/// A group's lag on `cluster`: `None` for groups that commit nothing to
/// Kafka (Connect workers).
pub fn group_lag(
    group: &Group,
    cluster: &Cluster,
    ends: &EndOffsets<'_>,
    settings: &Settings,
    now: Ts,
) -> Option<GroupLag> {
    if group.protocol_type == "connect" {
        return None;
    }
    let at = match (&cluster.groups, &cluster.topics) {
        (Some(g), Some(t)) => Some(g.at.min(t.at)),
        _ => None,
    };
    let why_stale = Freshness::of(at, now, settings.stale_after).problem("group lag figures");
    let stale = why_stale.is_some();
    let Some(committed) = &group.committed else {
        let why = "committed offsets not read".to_owned();
        let (topics, rows) = (Vec::new(), Vec::new());
        return Some(GroupLag { topics, rows, stale, total: None, worst: None, at, unknown_because: Some(why) });
    };
    // A group's commits come topic by topic: each topic is looked up once.
    let mut topics: Vec<Arc<str>> = Vec::new();
    let mut run: Option<(&str, Option<&Topic>)> = None;
    let rows: Vec<GroupLagRow> = committed
        .iter()
        .map(|c| {
            let topic = match run {
                Some((t, topic)) if same_name(t, &c.topic) => topic,
                _ => {
                    topics.push(Arc::clone(&c.topic));
                    let topic = ends.topic(&c.topic);
                    run = Some((&c.topic, topic));
                    topic
                }
            };
            let end = topic.and_then(|t| end_offset(t, c.partition)).unwrap_or(ABSENT);
            let index = u32::try_from(topics.len().saturating_sub(1)).unwrap_or(u32::MAX);
            GroupLagRow { topic: index, partition: c.partition, committed: c.offset, end }
        })
        .collect();
    let unknown = rows.iter().filter(|r| records(r, stale).is_none()).count();
    let unknown_because =
        why_stale.or_else(|| (unknown > 0).then(|| format!("{unknown} partition(s) with no end offset")));
    let total =
        unknown_because.is_none().then(|| rows.iter().filter_map(|r| records(r, stale)).map(|n| n.max(0) as u64).sum());
    let worst = (0..rows.len()).max_by_key(|&i| records(&rows[i], stale).map_or(i64::MAX, |n| n));
    Some(GroupLag { topics, rows, stale, total, worst, at, unknown_because })
}

/// A cluster's end offsets by topic name, built once per assessment: group
/// lag and translations look up thousands of partitions.
pub struct EndOffsets<'a>(NameMap<&'a str, &'a Topic>);

impl<'a> EndOffsets<'a> {
    pub fn of(cluster: &'a Cluster) -> EndOffsets<'a> {
        let topics = cluster.topics.as_ref().map(|t| t.value.iter().map(|t| (t.name.as_str(), t)).collect());
        EndOffsets(topics.unwrap_or_default())
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        end_offset(self.topic(topic)?, partition)
    }

    /// The topic, to look up many of its partitions with `end_offset`.
    pub fn topic(&self, topic: &str) -> Option<&'a Topic> {
        self.0.get(topic).copied()
    }
}

/// A partition's end offset, when read.
pub fn end_offset(t: &Topic, partition: i32) -> Option<i64> {
    // Partitions are listed by id; look further only if they are not.
    let at = usize::try_from(partition).ok().and_then(|i| t.partitions.get(i)).filter(|p| p.id == partition);
    at.or_else(|| t.partitions.iter().find(|p| p.id == partition))?.end_offset
}

/// Values by partition id: a slot per id for the usual dense ids from 0, a
/// list for any other. Inserting an id again replaces its value, as a map
/// would.
#[derive(Debug)]
pub struct ByPartition<T> {
    dense: Vec<Option<T>>,
    other: Vec<(i32, T)>,
}

impl<T> Default for ByPartition<T> {
    fn default() -> Self {
        ByPartition { dense: Vec::new(), other: Vec::new() }
    }
}

impl<T: Copy> ByPartition<T> {
    /// Ids up to this get a slot; Kafka numbers partitions from 0 on.
    const DENSE_MAX: usize = 1 << 16;

    pub fn insert(&mut self, partition: i32, value: T) {
        match usize::try_from(partition).ok().filter(|&i| i < Self::DENSE_MAX) {
            Some(i) => {
                if self.dense.len() <= i {
                    self.dense.resize(i + 1, None);
                }
                self.dense[i] = Some(value);
            }
            None => match self.other.iter_mut().find(|(p, _)| *p == partition) {
                Some((_, v)) => *v = value,
                None => self.other.push((partition, value)),
            },
        }
    }

    pub fn get(&self, partition: i32) -> Option<T> {
        match usize::try_from(partition).ok().filter(|&i| i < Self::DENSE_MAX) {
            Some(i) => self.dense.get(i).copied().flatten(),
            None => self.other.iter().find(|(p, _)| *p == partition).map(|(_, v)| *v),
        }
    }
}

/// A map keyed by names read from a cluster (topics, groups). Assessment
/// hashes every topic of both sides each pass; foldhash is several times
/// quicker than the standard SipHash on short names and is seeded per
/// process, so names chosen to collide cannot be prepared in advance.
pub type NameMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A set of names read from a cluster, hashed as `NameMap` is.
pub type NameSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// Whether two names are equal, told first by where they live: the model
/// shares one string per topic and group name among all rows naming it
/// (`Names`), so walking a run of rows mostly reads no bytes.
pub fn same_name(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// A key of `Partitioned`, compared with `same_name`.
pub trait NameKey: Copy + Eq + std::hash::Hash {
    fn same(self, other: Self) -> bool;
}

impl NameKey for &str {
    fn same(self, other: Self) -> bool {
        same_name(self, other)
    }
}

impl NameKey for (&str, &str) {
    fn same(self, other: Self) -> bool {
        same_name(self.0, other.0) && same_name(self.1, other.1)
    }
}

/// Values by a key (a topic; a group and a topic) and partition id. Kafka
/// lists a key's partitions together, so inserting them looks the key up
/// once per run of them, not once per partition; a key met again later
/// adds to its partitions, the later value winning, as a map would.
#[derive(Debug)]
pub struct Partitioned<K, T> {
    slots: NameMap<K, usize>,
    keys: Vec<ByPartition<T>>,
    last: Option<(K, usize)>,
}

impl<K, T> Default for Partitioned<K, T> {
    fn default() -> Self {
        Partitioned { slots: NameMap::default(), keys: Vec::new(), last: None }
    }
}

impl<K: NameKey, T: Copy> Partitioned<K, T> {
    pub fn insert(&mut self, key: K, partition: i32, value: T) {
        let slot = match self.last {
            Some((k, slot)) if k.same(key) => slot,
            _ => {
                let next = self.keys.len();
                let slot = *self.slots.entry(key).or_insert(next);
                if slot == next {
                    // Sized as the key before: a key's partitions are added
                    // one by one, and keys of a cluster tend to have as many.
                    let like = self.keys.last().map_or(0, |k| k.dense.len());
                    self.keys.push(ByPartition { dense: Vec::with_capacity(like), other: Vec::new() });
                }
                self.last = Some((key, slot));
                slot
            }
        };
        if let Some(values) = self.keys.get_mut(slot) {
            values.insert(partition, value);
        }
    }

    /// The partitions of `key`, to look up many of them.
    pub fn get<Q>(&self, key: &Q) -> Option<&ByPartition<T>>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.keys.get(*self.slots.get(key)?)
    }

    /// Where `key`'s partitions are kept, for `in_slot`: a composite key
    /// built of shorter-lived names can look them up this way.
    pub fn slot(&self, key: &K) -> Option<usize> {
        self.slots.get(key).copied()
    }

    pub fn in_slot(&self, slot: usize) -> Option<&ByPartition<T>> {
        self.keys.get(slot)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::{Committed, GroupProtocol, Observed, Partition, Side};
    use chrono::{TimeDelta, Utc};

    /// A group without members that committed `committed` on `orders`/0.
    pub(in crate::assess) fn group(id: &str, committed: Option<i64>) -> Group {
        Group {
            id: id.into(),
            state: "Empty".into(),
            protocol_type: "consumer".into(),
            protocol: GroupProtocol::Classic,
            members: Vec::new(),
            committed: Some(
                committed
                    .into_iter()
                    .map(|offset| Committed { topic: "orders".into(), partition: 0, offset })
                    .collect(),
            ),
        }
    }

    #[test]
    fn by_partition_keeps_the_last_value_of_any_id() {
        let mut by = ByPartition::default();
        for (p, v) in [(0, 1), (2, 2), (0, 3), (-1, 4), (1 << 20, 5), (-1, 6)] {
            by.insert(p, v);
        }
        let got: Vec<_> = [0, 1, 2, 3, -1, 1 << 20, i32::MIN].iter().map(|&p| by.get(p)).collect();
        assert_eq!(got, [Some(3), None, Some(2), None, Some(6), Some(5), None]);
    }

    #[test]
    fn partitioned_tells_keys_by_their_bytes_not_only_where_they_live() {
        // Equal names in different strings are one key; a shorter name
        // starting at the same address is another.
        let (orders, copy) = (String::from("orders"), String::from("orders"));
        let mut by = Partitioned::default();
        by.insert(orders.as_str(), 0, 1);
        by.insert(copy.as_str(), 1, 2);
        by.insert(&orders[..5], 0, 3);
        let got = |k: &str, p| by.get(k).and_then(|b| b.get(p));
        assert_eq!((got("orders", 0), got("orders", 1), got("order", 0)), (Some(1), Some(2), Some(3)));
        assert!(same_name(&orders, &copy) && !same_name(&orders, &orders[..5]));
    }

    #[test]
    fn group_lag_is_committed_against_end_and_unknown_when_stale_never_zero() {
        let now = Utc::now();
        let mut dc = Cluster::new(Side::Dc, "dc");
        let partitions = vec![Partition { id: 0, leader: Some(1), end_offset: Some(10_000) }];
        let topic = Topic {
            name: "orders".into(),
            partitions,
            replication_factor: None,
            min_insync_replicas: None,
            cleanup_policy: None,
        };
        dc.topics = Some(Observed::new(vec![topic], now));
        dc.groups = Some(Observed::new(Vec::new(), now));
        let dc = &dc;
        let settings = Settings::default();
        let ends = EndOffsets::of(dc);
        let lag = group_lag(&group("app", Some(9_000)), dc, &ends, &settings, now).unwrap_or_else(|| panic!("a lag"));
        assert_eq!((lag.total, lag.records(&lag.rows[0])), (Some(1_000), Some(1_000)));
        let later = now + settings.stale_after + TimeDelta::seconds(1);
        let stale =
            group_lag(&group("app", Some(9_000)), dc, &ends, &settings, later).unwrap_or_else(|| panic!("a lag"));
        assert_eq!((stale.total, stale.records(&stale.rows[0])), (None, None));
        assert!(stale.unknown_because.unwrap_or_default().contains("stale"));
        let unread = Group { committed: None, ..group("app", None) };
        assert_eq!(group_lag(&unread, dc, &ends, &settings, now).and_then(|l| l.total), None);
    }
}
