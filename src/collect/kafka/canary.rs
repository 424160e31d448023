//! The end-to-end canary of one MM2 flow: every `interval`, a small
//! timestamped record sent to the canary topic on the flow's source (created
//! there when absent and allowed), and read back from its mirror on the
//! target. Heartbeats prove MM2 alive; the canary proves that a record
//! written on one side arrives on the other, and how fast.
//!
//! Only a console that may act runs it (`spawn_acting`): it writes. Records
//! carry this console's id, so canaries of other consoles in the same topic
//! are ignored. Latency is from the send to the moment the target's
//! consumer returns the record (a fetch waits at most `FETCH_WAIT`).
//! Blocking: runs on a thread of its own until its receiver is dropped.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::Message;
use rdkafka::admin::AdminClient;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::client::{self, KdrillContext};
use super::writer;
use crate::config::{CanaryConfig, ClusterConfig, Config};
use crate::model::{Canary, CanaryRecord, Flow, Observed};

/// Records kept: `timing.canary_window` fits in them (the config says so).
const KEPT: usize = crate::config::CANARY_RECORDS_KEPT as usize;

/// The longest a fetch on the target waits for data: the most the canary
/// adds to the latency it measures.
const FETCH_WAIT: Duration = Duration::from_millis(100);

/// How long a canary topic keeps its records (they only need to cross).
const RETENTION_MS: &str = "86400000";

/// The `group.id` librdkafka requires for `assign`; never joined, never committed.
const READER_GROUP: &str = "kdrill-canary-reader";

/// One canary record's value. `kdrill` marks it as kdrill's.
#[derive(Serialize, Deserialize)]
struct Payload {
    kdrill: String,
    id: String,
    seq: u64,
    sent_at_ms: i64,
}

const MARK: &str = "canary";

/// The canary of `flow` before its prober's first report: configured,
/// proving nothing yet (so a gate that needs it stays shut until it does).
pub(super) fn starting(config: &Config, flow: Flow, canary: &CanaryConfig) -> Observed<Canary> {
    let value = Canary {
        flow,
        topic: canary.topic.clone(),
        mirror: mirror_of(config, flow, canary),
        sent: Vec::new(),
        problem: Some("starting: nothing sent yet".into()),
    };
    Observed::new(value, Utc::now())
}

/// The canary topic's mirror on the flow's target, as the replication
/// policy names it.
fn mirror_of(config: &Config, flow: Flow, canary: &CanaryConfig) -> String {
    config.settings.policy.remote_topic(&config.cluster(flow.source).alias, &canary.topic)
}

/// Runs the canary of `flow` until `tx` closes.
pub(super) fn run(config: &Config, flow: Flow, canary: &CanaryConfig, tx: &mpsc::Sender<Observed<Canary>>) {
    let mut p = Prober::new(config, flow, canary);
    // The reader first, at the mirror's end: only what is sent from now on.
    p.read_until(Instant::now());
    let mut next_send = Instant::now();
    loop {
        p.send();
        next_send += canary.interval;
        if next_send < Instant::now() {
            next_send = Instant::now() + canary.interval;
        }
        p.read_until(next_send);
        if tx.blocking_send(Observed::new(p.canary(), Utc::now())).is_err() {
            return;
        }
    }
}

struct Prober {
    flow: Flow,
    source: ClusterConfig,
    target: ClusterConfig,
    timing: crate::config::Timing,
    topic: String,
    mirror: String,
    /// This console's canaries among others' in the same topic.
    id: String,
    seq: u64,
    sent: VecDeque<CanaryRecord>,
    producer: Option<FutureProducer<KdrillContext>>,
    /// The canary topic is known to exist on the source.
    topic_ready: bool,
    /// Sends in a row that failed: the producer is renewed after `RENEW_AFTER`.
    send_failures: u32,
    consumer: Option<BaseConsumer<KdrillContext>>,
    assigned: bool,
    /// Reads in a row that failed: the consumer is renewed after `RENEW_AFTER`.
    read_failures: u32,
    send_problem: Option<String>,
    read_problem: Option<String>,
}

/// Failed sends or reads in a row after which the client is replaced (a
/// client whose connections hung with a frozen broker may never recover).
const RENEW_AFTER: u32 = 3;

impl Prober {
    fn new(config: &Config, flow: Flow, canary: &CanaryConfig) -> Prober {
        let source = config.cluster(flow.source).clone();
        let target = config.cluster(flow.target).clone();
        let mirror = mirror_of(config, flow, canary);
        let started = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        Prober {
            flow,
            source,
            target,
            timing: config.timing.clone(),
            topic: canary.topic.clone(),
            mirror,
            id: format!("{:x}-{:x}", std::process::id(), started),
            seq: 0,
            sent: VecDeque::new(),
            producer: None,
            topic_ready: false,
            send_failures: 0,
            consumer: None,
            assigned: false,
            read_failures: 0,
            send_problem: None,
            read_problem: None,
        }
    }

    fn canary(&self) -> Canary {
        let problem = [&self.send_problem, &self.read_problem].into_iter().flatten().cloned().collect::<Vec<_>>();
        Canary {
            flow: self.flow,
            topic: self.topic.clone(),
            mirror: self.mirror.clone(),
            sent: self.sent.iter().copied().collect(),
            problem: (!problem.is_empty()).then(|| problem.join("; ")),
        }
    }

    /// Sends the next record and waits for the source to hold it.
    fn send(&mut self) {
        self.send_problem = self.try_send().err().map(|e| client::redact(&e, &self.source));
        self.send_failures = if self.send_problem.is_some() { self.send_failures + 1 } else { 0 };
        if self.send_failures >= RENEW_AFTER {
            self.producer = None;
            self.topic_ready = false;
            self.send_failures = 0;
        }
    }

    fn try_send(&mut self) -> Result<(), String> {
        let timeout = self.timing.request_timeout;
        if self.producer.is_none() {
            let give_up = timeout.clamp(Duration::from_secs(1), Duration::from_secs(300));
            let p = writer::producer_config(&self.source, &self.timing, give_up)
                .create_with_context(KdrillContext::default())
                .map_err(|e| client::describe(&e, &self.source))?;
            self.producer = Some(p);
        }
        let Some(producer) = &self.producer else { return Ok(()) };
        if !self.topic_ready {
            let exists = writer::topic_exists(producer.client(), &self.topic, timeout)
                .map_err(|e| format!("{}: metadata of {}: {e}", self.source.alias, self.topic))?;
            if !exists {
                self.create_topic(timeout)?;
            }
            self.topic_ready = true;
        }
        self.seq += 1;
        let sent_at = Utc::now();
        let payload = Payload {
            kdrill: MARK.to_owned(),
            id: self.id.clone(),
            seq: self.seq,
            sent_at_ms: sent_at.timestamp_millis(),
        };
        let value = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
        let record = FutureRecord::to(&self.topic)
            .key(&self.id)
            .payload(&value)
            .timestamp(sent_at.timestamp_millis())
            .partition(0);
        if let Err((e, _)) = futures::executor::block_on(producer.send(record, Timeout::After(timeout))) {
            // Deleted meanwhile: looked up (and created) again.
            if e.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownTopicOrPartition) {
                self.topic_ready = false;
            }
            return Err(format!(
                "{} did not take canary record {} in {}: {e}",
                self.source.alias, self.seq, self.topic
            ));
        }
        self.sent.push_back(CanaryRecord { seq: self.seq, sent_at, arrived_at: None });
        while self.sent.len() > KEPT {
            self.sent.pop_front();
        }
        Ok(())
    }

    /// Creates the canary topic on the source when it is absent: one
    /// partition (order: a later record seen means an earlier one crossed
    /// or was lost), the cluster's default replication, a day's retention.
    fn create_topic(&self, timeout: Duration) -> Result<(), String> {
        let admin: AdminClient<KdrillContext> = client::base_config(&self.source, &self.timing)
            .create_with_context(KdrillContext::default())
            .map_err(|e| client::describe(&e, &self.source))?;
        writer::create_topic(&admin, &self.topic, &[("retention.ms", RETENTION_MS)], timeout).map_err(|why| {
            format!(
                "cannot create the canary topic {} on {} ({why}): create it, or allow kdrill to",
                self.topic, self.source.alias
            )
        })
    }

    /// Reads the mirror on the target until `until`, marking this
    /// console's records as arrived.
    fn read_until(&mut self, until: Instant) {
        if let Err(e) = self.prepare_reader() {
            self.read_problem = Some(client::redact(&e, &self.target));
            std::thread::sleep(until.saturating_duration_since(Instant::now()));
            return;
        }
        let Some(consumer) = &self.consumer else { return };
        let (mut read, mut error) = (false, None);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let msg = match consumer.poll(left) {
                None => continue,
                Some(Err(e)) => {
                    error = Some(e);
                    continue;
                }
                Some(Ok(msg)) => msg,
            };
            read = true;
            let arrived = Utc::now();
            let Some(p) = msg.payload().and_then(|v| serde_json::from_slice::<Payload>(v).ok()) else { continue };
            if p.kdrill != MARK || p.id != self.id {
                continue;
            }
            if let Some(r) = self.sent.iter_mut().find(|r| r.seq == p.seq && r.arrived_at.is_none()) {
                r.arrived_at = Some(arrived);
            }
        }
        self.judge_read(read, error);
    }

    /// A read that failed without delivering anything is said, never taken
    /// for records not arriving; the mirror gone or out of range is assigned
    /// again, and a consumer that keeps failing is replaced.
    fn judge_read(&mut self, read: bool, error: Option<rdkafka::error::KafkaError>) {
        let Some(e) = error.filter(|_| !read) else {
            self.read_problem = None;
            self.read_failures = 0;
            return;
        };
        let code = e.rdkafka_error_code();
        if matches!(code, Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::OffsetOutOfRange)) {
            self.assigned = false;
        }
        self.read_problem =
            Some(client::redact(&format!("{}: reading {}: {e}", self.target.alias, self.mirror), &self.target));
        self.read_failures += 1;
        if self.read_failures >= RENEW_AFTER {
            self.consumer = None;
            self.assigned = false;
            self.read_failures = 0;
        }
    }

    /// The target's consumer, assigned to the mirror once it exists: at its
    /// current end while nothing was sent, else from its beginning (MM2
    /// may create the mirror after the first records were sent).
    fn prepare_reader(&mut self) -> Result<(), String> {
        let timeout = self.timing.request_timeout;
        if self.consumer.is_none() {
            let mut c = client::observer_config(&self.target, &self.timing);
            c.set("group.id", READER_GROUP)
                .set("auto.offset.reset", "earliest")
                .set("fetch.wait.max.ms", FETCH_WAIT.as_millis().to_string());
            let consumer =
                c.create_with_context(KdrillContext::default()).map_err(|e| client::describe(&e, &self.target))?;
            self.consumer = Some(consumer);
        }
        let Some(consumer) = &self.consumer else { return Ok(()) };
        if self.assigned {
            return Ok(());
        }
        let md = consumer
            .fetch_metadata(Some(&self.mirror), timeout)
            .map_err(|e| format!("{}: metadata of {}: {e}", self.target.alias, self.mirror))?;
        let partitions: Vec<i32> = md
            .topics()
            .iter()
            .filter(|t| t.name() == self.mirror && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(format!(
                "{} has no {} yet: does MM2 {} replicate {}?",
                self.target.alias, self.mirror, self.flow, self.topic
            ));
        }
        let mut tpl = TopicPartitionList::new();
        for p in partitions {
            let at = if self.sent.is_empty() {
                let (_, high) = consumer
                    .fetch_watermarks(&self.mirror, p, timeout)
                    .map_err(|e| format!("{}: end of {}/{p}: {e}", self.target.alias, self.mirror))?;
                Offset::Offset(high)
            } else {
                Offset::Beginning
            };
            let _ = tpl.add_partition_offset(&self.mirror, p, at);
        }
        consumer.assign(&tpl).map_err(|e| format!("{}: assign {}: {e}", self.target.alias, self.mirror))?;
        self.assigned = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::error::KafkaError;

    use super::*;

    fn prober() -> Prober {
        let text = "[clusters.dc]\nbootstrap = \"127.0.0.1:1\"\n[clusters.dr]\nbootstrap = \"127.0.0.1:2\"\n\
                    [[mm2]]\nsource = \"dc\"\ntarget = \"dr\"\n[mm2.canary]\n";
        let config = crate::config::parse(text, std::path::Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"));
        let canary = config.mm2[0].canary.clone().unwrap_or_else(|| panic!("a canary"));
        Prober::new(&config, Flow::DC_TO_DR, &canary)
    }

    #[test]
    fn a_failed_read_is_said_and_a_consumer_that_keeps_failing_is_replaced() {
        let mut p = prober();
        p.assigned = true;
        let transport = || Some(KafkaError::MessageConsumption(RDKafkaErrorCode::BrokerTransportFailure));
        p.judge_read(false, transport());
        let problem = p.canary().problem.unwrap_or_default();
        assert!(problem.starts_with("dr: reading kdrill.canary:"), "{problem}");
        assert!(p.assigned, "one failure keeps the assignment");
        p.judge_read(false, transport());
        p.judge_read(false, transport());
        assert!(!p.assigned && p.consumer.is_none(), "three in a row: a new consumer, assigned again");
        // A read that delivered records is no failure, whatever else it saw.
        p.judge_read(true, transport());
        assert_eq!((p.canary().problem, p.read_failures), (None, 0));
        // The mirror gone: assigned again at once (from its beginning).
        p.assigned = true;
        p.judge_read(false, Some(KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition)));
        assert!(!p.assigned);
    }

    #[test]
    fn before_its_first_report_a_canary_proves_nothing() {
        let text = "[clusters.dc]\nbootstrap = \"127.0.0.1:1\"\n[clusters.dr]\nbootstrap = \"127.0.0.1:2\"\n\
                    [[mm2]]\nsource = \"dc\"\ntarget = \"dr\"\n[mm2.canary]\ntopic = \"c1\"\n\
                    [replication]\npolicy = \"default\"\n";
        let config = crate::config::parse(text, std::path::Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"));
        let canary = config.mm2[0].canary.clone().unwrap_or_else(|| panic!("a canary"));
        let c = starting(&config, Flow::DC_TO_DR, &canary).value;
        assert_eq!((c.topic.as_str(), c.mirror.as_str()), ("c1", "dc.c1"));
        assert!(c.sent.is_empty() && c.problem.is_some());
    }
}
