//! When the first records MM2 has not replicated were written: one record
//! fetched per partition asked, for a lag in seconds where no history of
//! the source's growth reaches back to them (`kdrill check` runs once).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::config::{ClusterConfig, Timing};
use crate::model::RecordTime;

use super::client::{self, KdrillContext};
use super::mm2::READER_GROUP;

/// Reads, on `cluster`, the timestamp of the record at or after each asked
/// `(topic, partition, offset)` (a record compacted or deleted away is
/// followed by the next one, still unreplicated). A partition that holds
/// nothing there by `timeout` has no timestamp, nor has a partition asked
/// twice, after its first ask (one position per partition is read). Errors
/// name the cluster.
pub fn read_record_times(
    cluster: &ClusterConfig,
    timing: &Timing,
    wanted: &[(String, i32, i64)],
    timeout: Duration,
) -> Result<Vec<RecordTime>, String> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut config = client::observer_config(cluster, timing);
    // assign() needs a group.id; it is never joined, fetched nor committed.
    // An offset the log no longer holds (deleted by retention) is an error,
    // its time unknown: jumping to the end would age the lag from a new record.
    config.set("group.id", READER_GROUP).set("fetch.max.bytes", "1048576").set("auto.offset.reset", "error");
    let consumer: BaseConsumer<KdrillContext> = config
        .create_with_context(KdrillContext::default())
        .map_err(|e| format!("{}: reading record times: {}", cluster.alias, client::describe(&e, cluster)))?;
    let mut asked: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for (topic, partition, offset) in wanted {
        asked.entry((topic.as_str(), *partition)).or_insert(*offset);
    }
    let mut tpl = TopicPartitionList::new();
    for (&(topic, partition), &offset) in &asked {
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|e| format!("{}: {topic}[{partition}] at {offset}: {e}", cluster.alias))?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| format!("{}: reading record times: {}", cluster.alias, client::describe(&e, cluster)))?;
    let mut found: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let deadline = Instant::now() + timeout;
    while found.len() < asked.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let Some(polled) = consumer.poll(left.min(Duration::from_millis(200))) else { continue };
        // Errors (a partition gone, a broker away) leave its time unknown.
        let Ok(m) = polled else { continue };
        let key = (m.topic(), m.partition());
        let Some(&from) = asked.get(&key) else { continue };
        if m.offset() < from || found.contains_key(&(key.0.to_owned(), key.1)) {
            continue;
        }
        if let Some(ms) = m.timestamp().to_millis() {
            found.insert((key.0.to_owned(), key.1), ms);
        }
    }
    Ok(wanted
        .iter()
        .map(|(topic, partition, offset)| RecordTime {
            topic: topic.clone(),
            partition: *partition,
            offset: *offset,
            timestamp: (asked.get(&(topic.as_str(), *partition)) == Some(offset))
                .then(|| found.get(&(topic.clone(), *partition)))
                .flatten()
                .and_then(|ms| Utc.timestamp_millis_opt(*ms).single()),
        })
        .collect())
}
