//! Drift between the sides: each application topic and its mirror,
//! compared fact by fact (existence, partitions, replication factor,
//! `min.insync.replicas`, `cleanup.policy`). MM2 resets replication factor
//! and `min.insync.replicas` on the topics it creates (seed 003), so a DR
//! that silently differs is what an operator finds out on the drill day.
//! A missing mirror or fewer partitions blocks: data would not fit.

use std::fmt::Display;

use serde::Serialize;

use crate::config::Settings;
use crate::model::{Side, Snapshot, Topic, Ts};

use super::groups::{NameMap, NameSet};
use super::truth::Freshness;

/// One application topic and its mirror on the other side.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopicDrift {
    /// The topic on the flow's source side.
    pub topic: String,
    pub source: Side,
    /// Its name on the target (the replication policy's remote name).
    pub mirror: String,
    pub target: Side,
    pub differences: Vec<Difference>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    /// `missing`, `partitions`, `replication-factor`, `min-insync-replicas`,
    /// `cleanup-policy`.
    pub kind: &'static str,
    pub text: String,
    /// The mirror cannot take the source's data as it is.
    pub blocking: bool,
}

/// Every application topic of each configured flow's source, with its
/// differences; topics that match are left out. Facts not yet read (topic
/// configs come at a slower cadence) are not compared, and neither is a
/// side whose topics are stale: drift is judged on fresh evidence only.
pub fn topic_drift(snap: &Snapshot, settings: &Settings, now: Ts) -> Vec<TopicDrift> {
    let policy = &settings.policy;
    let mut out: Vec<TopicDrift> = Vec::new();
    // Topics already paired, by side: with identity names the reverse flow
    // pairs the same two topics the other way round.
    let mut paired: NameSet<(Side, String)> = NameSet::default();
    for flow in snap.mm2.iter().map(|d| d.flow) {
        let (src, tgt) = (snap.cluster(flow.source), snap.cluster(flow.target));
        let (Some(src_topics), Some(tgt_topics)) = (&src.topics, &tgt.topics) else { continue };
        let fresh = |at| Freshness::of(Some(at), now, settings.stale_after).is_fresh();
        if !fresh(src_topics.at) || !fresh(tgt_topics.at) {
            continue;
        }
        // By name: thousands of topics are compared every pass.
        let targets: NameMap<&str, &Topic> = tgt_topics.value.iter().map(|m| (m.name.as_str(), m)).collect();
        for t in src_topics.value.iter().filter(|t| settings.classification.is_source_app_topic(&t.name, policy)) {
            let mirror = policy.remote_topic(&src.alias, &t.name);
            if !paired.insert((flow.source, t.name.clone())) {
                continue;
            }
            paired.insert((flow.target, mirror.clone()));
            let differences = match targets.get(mirror.as_str()) {
                None => vec![Difference {
                    kind: "missing",
                    text: format!("{} on {} has no mirror {mirror} on {}", t.name, flow.source, flow.target),
                    blocking: true,
                }],
                Some(m) => compare(t, m, flow.source, flow.target),
            };
            if !differences.is_empty() {
                out.push(TopicDrift {
                    topic: t.name.clone(),
                    source: flow.source,
                    mirror,
                    target: flow.target,
                    differences,
                });
            }
        }
    }
    out
}

fn compare(t: &Topic, m: &Topic, source: Side, target: Side) -> Vec<Difference> {
    let mut out = Vec::new();
    let (a, b) = (t.partitions.len(), m.partitions.len());
    if a != b {
        out.push(Difference {
            kind: "partitions",
            text: format!("{}: {a} partitions on {source}, {b} on {target}", t.name),
            blocking: b < a,
        });
    }
    // Formatted only where they differ: thousands of topics match every pass.
    let mut fact = |kind: &'static str, label: &str, differs: Option<(&dyn Display, &dyn Display)>| {
        if let Some((x, y)) = differs {
            out.push(Difference {
                kind,
                text: format!("{}: {label} {x} on {source}, {y} on {target}", t.name),
                blocking: false,
            });
        }
    };
    fact("replication-factor", "replication factor", differ(&t.replication_factor, &m.replication_factor));
    fact("min-insync-replicas", "min.insync.replicas", differ(&t.min_insync_replicas, &m.min_insync_replicas));
    fact("cleanup-policy", "cleanup.policy", differ(&t.cleanup_policy, &m.cleanup_policy));
    out
}

/// Both values, when both were read and they differ.
fn differ<'a, T: PartialEq + Display>(
    x: &'a Option<T>,
    y: &'a Option<T>,
) -> Option<(&'a dyn Display, &'a dyn Display)> {
    match (x, y) {
        (Some(x), Some(y)) if x != y => Some((x, y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Flow, Mm2Deployment, Observed, Partition};
    use chrono::Utc;

    fn topic(name: &str, parts: i32, rf: u16, min_isr: u16) -> Topic {
        Topic {
            name: name.into(),
            partitions: (0..parts).map(|id| Partition { id, leader: Some(0), end_offset: Some(0) }).collect(),
            replication_factor: Some(rf),
            min_insync_replicas: Some(min_isr),
            cleanup_policy: Some("delete".into()),
        }
    }

    #[test]
    fn each_difference_is_named_and_only_shortfalls_block() {
        let now = Utc::now();
        let mut snap = Snapshot::empty(now, "dc", "dr");
        snap.mm2 = vec![Mm2Deployment::unobserved("mm2", Flow::DC_TO_DR, Side::Dr)];
        let dc = vec![topic("orders", 6, 3, 2), topic("payments", 6, 3, 2), topic("redis-writes", 12, 3, 2)];
        let dr = vec![topic("orders", 6, 3, 1), topic("redis-writes", 8, 3, 2)];
        snap.cluster_mut(Side::Dc).topics = Some(Observed::new(dc, now));
        snap.cluster_mut(Side::Dr).topics = Some(Observed::new(dr, now));
        let drift = topic_drift(&snap, &Settings::default(), now);
        let kinds: Vec<(&str, &str, bool)> = drift
            .iter()
            .flat_map(|d| d.differences.iter().map(move |x| (d.topic.as_str(), x.kind, x.blocking)))
            .collect();
        assert_eq!(
            kinds,
            [
                ("orders", "min-insync-replicas", false),
                ("payments", "missing", true),
                ("redis-writes", "partitions", true)
            ]
        );
        assert_eq!(drift[0].differences[0].text, "orders: min.insync.replicas 2 on DC, 1 on DR");
        // Stale topics are not judged: no alarm on old evidence.
        let later = now + chrono::TimeDelta::seconds(60);
        assert!(topic_drift(&snap, &Settings::default(), later).is_empty());
    }
}
