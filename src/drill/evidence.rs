//! What the journal keeps as proof: the checks a gate opened on, and the
//! replication lag per topic at the moments the RPO is judged from (the
//! drain and the stop of replication).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::assess::Assessment;
use crate::model::{Flow, Ts};

/// What a completed check looked like, kept as evidence in the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub label: String,
    pub observed: String,
    pub at: Option<Ts>,
}

/// One topic's replication lag, observed at `at`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicLag {
    pub topic: String,
    pub partitions: usize,
    /// Records not yet replicated; `None` when any partition's lag is unknown.
    pub records: Option<u64>,
    /// Age of the oldest record not yet replicated: the span of time the
    /// missing records cover. `None` when unknown (or nothing is missing).
    pub seconds: Option<f64>,
    pub at: Option<Ts>,
}

/// The flow's lag per topic, in topic order (deterministic for reports).
pub fn topic_lag(a: &Assessment, flow: Flow) -> Vec<TopicLag> {
    let Some(lag) = a.lag_of(flow) else { return Vec::new() };
    let mut by_topic: BTreeMap<&str, TopicLag> = BTreeMap::new();
    for row in &lag.rows {
        let t = by_topic.entry(&row.topic).or_insert_with(|| TopicLag {
            topic: row.topic.to_string(),
            partitions: 0,
            records: Some(0),
            seconds: None,
            at: lag.at,
        });
        t.partitions += 1;
        t.records = match (t.records, row.records) {
            (Some(sum), Some(n)) => Some(sum + n.max(0) as u64),
            _ => None,
        };
        // Only partitions actually behind say how old the missing data is.
        if row.records.is_some_and(|n| n > 0)
            && let Some(s) = row.seconds
        {
            t.seconds = Some(t.seconds.map_or(s, |m: f64| m.max(s)));
        }
    }
    by_topic.into_values().collect()
}
