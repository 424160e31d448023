//! Where the data a stopped flow mirrored ends on its target: per
//! partition of its remote topics, the target's end offset. With nothing
//! else writing to the target before its applications start, that is the
//! exact point the reverse flow must start copying from.

use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::model::{Flow, Snapshot, Ts};

use super::lag::FlowLag;
use super::truth::Freshness;

/// One partition's end offset on a flow's target, under its name there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEnd {
    pub topic: String,
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
        let mut last: Option<(&str, Option<&crate::model::Topic>, String)> = None;
        for row in &lag.rows {
            if last.as_ref().is_none_or(|(t, _, _)| *t != &*row.topic) {
                let remote = settings.policy.remote_topic(source_alias, &row.topic);
                let topic = topics.value.iter().find(|t| t.name == remote);
                last = Some((&row.topic, topic, remote));
            }
            let Some((_, topic, remote)) = &last else { continue };
            let end = topic
                .and_then(|t| t.partitions.iter().find(|p| p.id == row.partition))
                .and_then(|p| p.end_offset)
                .ok_or(format!("end offset of {remote}[{}] on {} unknown", row.partition, flow.target))?;
            out.push(PartitionEnd { topic: remote.clone(), partition: row.partition, end });
        }
        Ok(out)
    })();
    MirrorEnds { flow, ends, at }
}
