//! What a console that may act writes with: the end-to-end canary and the
//! drill topic share one producer configuration and one way of finding and
//! creating their topic. An observing console builds none of this.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{Client, ClientContext};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::util::Timeout;

use super::client::{self, KdrillContext};
use crate::config::{ClusterConfig, Timing};

/// A producer's configuration: every in-sync replica holds a record before
/// it counts as sent (`acks=all`), nothing waits to batch, and a record not
/// taken within `give_up_after` (at least a second) fails instead of
/// waiting on.
pub fn producer_config(cluster: &ClusterConfig, timing: &Timing, give_up_after: Duration) -> ClientConfig {
    let mut c = client::base_config(cluster, timing);
    let ms = (give_up_after.as_millis().min(u128::from(u32::MAX >> 1)) as u64).max(1_000);
    c.set("acks", "all").set("message.timeout.ms", ms.to_string()).set("linger.ms", "0");
    c
}

/// Whether `topic` exists with partitions; `Err` when the cluster does not
/// answer or refuses to say.
pub fn topic_exists<C: ClientContext>(client: &Client<C>, topic: &str, timeout: Duration) -> Result<bool, String> {
    let md = client.fetch_metadata(Some(topic), timeout).map_err(|e| e.to_string())?;
    match md.topics().iter().find(|t| t.name() == topic) {
        Some(t) if t.error().is_none() => Ok(!t.partitions().is_empty()),
        Some(t) => match t.error().map(RDKafkaErrorCode::from) {
            Some(RDKafkaErrorCode::UnknownTopicOrPartition) => Ok(false),
            Some(RDKafkaErrorCode::TopicAuthorizationFailed) => Err(format!("not allowed to read {topic}")),
            other => Err(format!("{topic}: {other:?}")),
        },
        None => Ok(false),
    }
}

/// Creates `topic` with one partition (its records stay in order), the
/// cluster's default replication and `configs`. One that exists already,
/// created meanwhile by another console, counts as created.
pub fn create_topic(
    admin: &AdminClient<KdrillContext>,
    topic: &str,
    configs: &[(&str, &str)],
    timeout: Duration,
) -> Result<(), String> {
    let mut new = NewTopic::new(topic, 1, TopicReplication::Fixed(-1));
    for (k, v) in configs {
        new = new.set(k, v);
    }
    let opts = AdminOptions::new().operation_timeout(Some(Timeout::After(timeout)));
    let results = futures::executor::block_on(admin.create_topics([&new], &opts)).map_err(|e| e.to_string())?;
    match results.into_iter().next() {
        Some(Ok(_)) | None | Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Ok(()),
        Some(Err((_, code))) => Err(code.to_string()),
    }
}
