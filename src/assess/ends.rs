//! Where the data a stopped flow mirrored ends on its target: per
//! partition of its remote topics, the target's end offset. With nothing
//! else writing to the target before its applications start, that is the
//! exact point the reverse flow must start copying from.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::model::{Flow, Partition, Snapshot, Topic, Ts};

use super::groups::{NameMap, same_name};
use super::lag::FlowLag;
use super::truth::Freshness;

/// One partition's end offset on a flow's target, under its name there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEnd {
    /// Shared by every partition of the topic.
    pub topic: Arc<str>,
    pub partition: i32,
    pub end: i64,
}

/// The ends of one stopped flow's mirrored data, or why they are not known.
#[derive(Clone, Debug, PartialEq)]
pub struct MirrorEnds {
    pub flow: Flow,
    pub ends: Result<Vec<PartitionEnd>, String>,
    /// When the target's end offsets were read.
    pub at: Option<Ts>,
}

/// The ends of every mirrored partition of `lag`'s flow on its target, from
/// fresh end offsets only; any partition unknown makes the whole unknown.
pub fn mirror_ends(lag: &FlowLag, snap: &Snapshot, settings: &Settings, now: Ts) -> MirrorEnds {
    let flow = lag.flow;
    let target = snap.cluster(flow.target);
    let source_alias = &snap.cluster(flow.source).alias;
    let at = target.topics.as_ref().map(|t| t.at);
    let ends = (|| {
        let topics = target.topics.as_ref().ok_or(format!("{}'s topics never observed", flow.target))?;
        if let Some(why) = Freshness::of(Some(topics.at), now, settings.stale_after).problem("end offsets") {
            return Err(format!("{} {why}", flow.target));
        }
        if lag.rows.is_empty() {
            return Err(format!("no mirrored partition of {flow} observed"));
        }
        let mut out = Vec::with_capacity(lag.rows.len());
        let by_name: NameMap<&str, &Topic> = topics.value.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut last: Option<(&str, Option<&Topic>, Arc<str>)> = None;
        for row in &lag.rows {
            if last.as_ref().is_none_or(|(t, _, _)| !same_name(t, &row.topic)) {
                let remote: Arc<str> = settings.policy.remote_topic(source_alias, &row.topic).into();
                let topic = by_name.get(&*remote).copied();
                last = Some((&row.topic, topic, remote));
            }
            let Some((_, topic, remote)) = &last else { continue };
            let end = topic
                .and_then(|t| partition(t, row.partition))
                .and_then(|p| p.end_offset)
                .ok_or_else(|| format!("end offset of {remote}[{}] on {} unknown", row.partition, flow.target))?;
            out.push(PartitionEnd { topic: Arc::clone(remote), partition: row.partition, end });
        }
        Ok(out)
    })();
    MirrorEnds { flow, ends, at }
}

/// What a reverse flow would copy again if started from its own committed
/// position: the records between that position and where the opposite
/// flow's data ended, which the other side already holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyBack {
    pub records: u64,
    /// Partitions with anything to copy again.
    pub partitions: usize,
    /// Of those, partitions with no committed position: they start from
    /// their earliest offset, assumed 0 (retention may have deleted some,
    /// so the figure is an upper bound for them).
    pub from_earliest: usize,
}

/// The copy-back figure of a reverse flow, from the ends recorded when the
/// opposite flow stopped and the reverse flow's committed upstream offsets
/// (`replicated`, by source topic and partition: the ends' topics).
pub fn copy_back(ends: &[PartitionEnd], replicated: &[crate::model::ReplicatedOffset]) -> CopyBack {
    let mut out = CopyBack { records: 0, partitions: 0, from_earliest: 0 };
    // The first position of each partition, as a search from the start finds it.
    let mut positions: NameMap<(&str, i32), i64> =
        NameMap::with_capacity_and_hasher(replicated.len(), Default::default());
    for r in replicated {
        positions.entry((&*r.topic, r.partition)).or_insert(r.upstream_offset);
    }
    for e in ends {
        let position = positions.get(&(&*e.topic, e.partition));
        let start = position.map_or(0, |r| r.saturating_add(1));
        let again = e.end.saturating_sub(start);
        if again > 0 {
            out.records += again.unsigned_abs();
            out.partitions += 1;
            out.from_earliest += usize::from(position.is_none());
        }
    }
    out
}

/// Partition `id` of `topic`: where ids are listed in order, at its index.
fn partition(topic: &Topic, id: i32) -> Option<&Partition> {
    let at = usize::try_from(id).ok().and_then(|i| topic.partitions.get(i)).filter(|p| p.id == id);
    at.or_else(|| topic.partitions.iter().find(|p| p.id == id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ReplicatedOffset;

    #[test]
    fn the_copy_back_counts_what_lies_between_the_reverse_position_and_the_ends() {
        let end = |topic: &str, partition, end| PartitionEnd { topic: topic.into(), partition, end };
        let rep = |topic: &str, partition, upstream_offset| ReplicatedOffset {
            topic: topic.into(),
            partition,
            upstream_offset,
        };
        let ends = [end("orders", 0, 100), end("orders", 1, 50), end("orders", 2, 30), end("orders", 3, 0)];
        // p0 copied up to 89: 10 again; p1 already at the end; p2 never: 30 from the start; p3 empty.
        let figure = copy_back(&ends, &[rep("orders", 0, 89), rep("orders", 1, 49), rep("other", 2, 5)]);
        assert_eq!(figure, CopyBack { records: 40, partitions: 2, from_earliest: 1 });
        // Set exactly at the ends: nothing copied back.
        let set = copy_back(&ends, &[rep("orders", 0, 99), rep("orders", 1, 49), rep("orders", 2, 29)]);
        assert_eq!(set.records, 0);
    }
}
