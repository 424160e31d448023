//! Consumer lag as Kafka's `kafka-consumer-groups --describe` prints it,
//! computed from what kdrill observed of a cluster, so lab tests can compare
//! the two. Not part of kdrill: the console judges replication lag in
//! `assess`, never consumer lag.

use std::collections::HashMap;

use kdrill::model::Cluster;

/// Consumer lag of one partition of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub committed: i64,
    /// The partition's log-end offset, when observed.
    pub end: Option<i64>,
    /// `end - committed` (never negative), as Kafka's
    /// `kafka-consumer-groups --describe` prints it in its LAG column.
    pub lag: Option<i64>,
}

/// A group's consumer lag per committed partition, from what `cluster` last
/// observed; `None` when the group or its committed offsets are unknown.
pub fn consumer_lag(cluster: &Cluster, group: &str) -> Option<Vec<PartitionLag>> {
    let g = cluster.groups.as_ref()?.value.iter().find(|g| g.id == group)?;
    let committed = g.committed.as_ref()?;
    let ends: HashMap<(&str, i32), Option<i64>> = cluster
        .topics
        .as_ref()
        .map(|t| {
            t.value
                .iter()
                .flat_map(|t| t.partitions.iter().map(move |p| ((t.name.as_str(), p.id), p.end_offset)))
                .collect()
        })
        .unwrap_or_default();
    Some(
        committed
            .iter()
            .map(|c| {
                let end = ends.get(&(&*c.topic, c.partition)).copied().flatten();
                PartitionLag {
                    topic: c.topic.to_string(),
                    partition: c.partition,
                    committed: c.offset,
                    end,
                    lag: end.map(|e| (e - c.offset).max(0)),
                }
            })
            .collect(),
    )
}
