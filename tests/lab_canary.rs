//! The end-to-end canary against the real lab: kdrill writes timestamped
//! records to a canary topic on DC, MM2 DC→DR mirrors them, kdrill reads
//! them back on DR. Each scenario uses its own canary topic and deletes it
//! (on DC, then DR) when it ends.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};

use kdrill::assess::{Assessment, Assessor, CanaryView, Mm2ProblemKind};
use kdrill::config::Config;
use kdrill::model::{Flow, Snapshot};
use support::connect::{Resume, connector_verb};
use support::{lab, unique};

const SOURCE: &str = "dc->dr.MirrorSourceConnector";

/// The lab with MM2 DC→DR and a canary every half second through it.
fn config(topic: &str) -> Config {
    support::lab_config(&format!(
        r#"
[[mm2]]
source = "dc"
target = "dr"
[mm2.canary]
topic = "{topic}"
interval = "500ms"
[replication]
policy = "identity"
[timing]
poll_interval = "1s"
stale_after = "10s"
canary_lost_after = "5s"
canary_window = "5m"
"#
    ))
}

/// A collector of `cfg` (acting: with its canaries, or observing only)
/// and an assessor of what it sends.
struct Probe {
    _rt: tokio::runtime::Runtime,
    snapshots: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    assessor: Assessor,
    _observation: kdrill::collect::Observation,
}

impl Probe {
    fn start(cfg: Config, acting: bool) -> Probe {
        let (rt, link) = support::console::collector(&cfg, acting);
        let (observation, _dispatcher) = link.split();
        Probe {
            _rt: rt,
            snapshots: observation.snapshots.clone(),
            assessor: Assessor::new(cfg.settings.clone()),
            _observation: observation,
        }
    }

    fn assess(&mut self) -> Assessment {
        let snap = self.snapshots.borrow().clone();
        self.assessor.assess(&snap, Utc::now())
    }

    /// Assesses every 200 ms until `done` gives a value, for at most `secs`.
    fn until<T>(&mut self, what: &str, secs: u64, done: impl Fn(&Assessment) -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            let a = self.assess();
            if let Some(v) = done(&a) {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "{what}: not within {secs} s; canaries: {:#?}",
                a.canaries
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn canary(a: &Assessment) -> Option<&CanaryView> {
    a.canaries.iter().find(|c| c.flow == Flow::DC_TO_DR)
}

/// Deletes the canary topic on DC, then on DR (MM2 would copy it back).
struct DeleteTopic(String);

impl Drop for DeleteTopic {
    fn drop(&mut self) {
        support::delete_topics(&lab().dc, std::slice::from_ref(&self.0));
        support::delete_topics(&lab().dr, std::slice::from_ref(&self.0));
    }
}

/// Each record of `topic` on `bootstrap`: its payload's `seq` and `sent_at_ms`
/// and its Kafka timestamp.
fn mirrored(bootstrap: &str, topic: &str) -> Vec<(u64, i64, Option<i64>)> {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "kdrill-test-canary")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap_or_else(|e| panic!("consumer: {e}"));
    let (_, end) =
        consumer.fetch_watermarks(topic, 0, Duration::from_secs(10)).unwrap_or_else(|e| panic!("{topic}: {e}"));
    let mut tpl = rdkafka::TopicPartitionList::new();
    let _ = tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning);
    consumer.assign(&tpl).unwrap_or_else(|e| panic!("assign: {e}"));
    let mut out = Vec::new();
    let start = Instant::now();
    while (out.len() as i64) < end && start.elapsed() < Duration::from_secs(30) {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) else { continue };
        let v: serde_json::Value = m.payload().and_then(|p| serde_json::from_slice(p).ok()).unwrap_or_default();
        out.push((v["seq"].as_u64().unwrap_or(0), v["sent_at_ms"].as_i64().unwrap_or(0), m.timestamp().to_millis()));
    }
    out
}

#[test]
fn a_canary_through_mm2_measures_latency_and_counts_losses_while_mm2_is_paused() {
    let _lab = support::exclusive();
    let topic = unique("kdrill-canary");
    let _delete = DeleteTopic(topic.clone());
    let mut p = Probe::start(config(&topic), true);

    // The topic is created on DC, MM2 finds it (refresh every 5 s) and mirrors it.
    let first = p.until("ten canary records through MM2", 120, |a| canary(a).filter(|c| c.arrived >= 10).cloned());
    let (p50, p99) = (first.p50_seconds.unwrap_or(-1.0), first.p99_seconds.unwrap_or(-1.0));
    eprintln!("CANARY\tp50 {p50:.3} s\tp99 {p99:.3} s\tsent {}\tarrived {}", first.sent, first.arrived);
    // The first records wait for MM2 to find the new topic (every 5 s here).
    assert!(p50 > 0.0 && p50 <= p99 && p50 < 10.0 && p99 < 60.0, "implausible latency: {first:#?}");
    assert_eq!(first.lost, 0, "{first:#?}");
    assert_eq!(first.problem, None);
    // The mirrored records are kdrill's, timestamped when they were sent.
    let copies = mirrored(&lab().dr, &topic);
    assert!(copies.len() >= 10, "{} mirrored records", copies.len());
    for (seq, sent_ms, ts) in &copies {
        assert!(*seq > 0, "a record that is not a canary in {topic}");
        assert_eq!(Some(*sent_ms), *ts, "canary {seq}: MM2 keeps the send time as the record's timestamp");
    }

    // MM2 paused: records sent since are not seen within canary_lost_after,
    // and the running flow is degraded with a canary problem.
    let _resume = Resume(SOURCE);
    assert_eq!(connector_verb(SOURCE, "pause", Duration::from_secs(30)), Ok(202));
    let paused_at = Utc::now();
    let text = p.until("canary records lost while MM2 is paused", 60, |a| {
        let lost = canary(a).is_some_and(|c| c.lost > 0);
        let problem = a.mm2.iter().flat_map(|m| &m.problems).find(|pr| pr.kind == Mm2ProblemKind::CanaryLost);
        problem.filter(|_| lost).map(|pr| pr.text.clone())
    });
    eprintln!("CANARY\tpaused: {text}");
    assert!(text.contains(&topic), "{text}");

    // Resumed: the held records arrive, after the resume, and none stays lost.
    assert_eq!(connector_verb(SOURCE, "resume", Duration::from_secs(30)), Ok(202));
    let resumed_at = Utc::now();
    let after = p.until("every canary record through after MM2 resumed", 120, |a| {
        canary(a).filter(|c| c.lost == 0 && c.last_round_trip.is_some_and(|t| t.sent_at > resumed_at)).cloned()
    });
    eprintln!(
        "CANARY\tresumed: p99 {:?} s over the window, {} sent, {} arrived",
        after.p99_seconds, after.sent, after.arrived
    );
    let snap = p.snapshots.borrow().clone();
    let held: Vec<_> = snap
        .canaries
        .iter()
        .flat_map(|c| &c.value.sent)
        // Connect pauses its task a moment after answering the request.
        .filter(|r| r.sent_at > paused_at + chrono::TimeDelta::seconds(3) && r.sent_at < resumed_at)
        .collect();
    assert!(held.len() >= 3, "records sent while paused: {held:?}");
    assert!(
        held.iter().all(|r| r.arrived_at.is_some_and(|t| t > resumed_at)),
        "held records arrive after the resume: {held:?}"
    );
}

#[test]
fn a_console_that_only_observes_sends_no_canary() {
    let _lab = support::shared();
    let topic = unique("kdrill-canary");
    let _delete = DeleteTopic(topic.clone());
    let mut p = Probe::start(config(&topic), false);
    p.until("both sides observed", 60, |a| a.sides.iter().all(|s| s.freshness.is_fresh()).then_some(()));
    std::thread::sleep(Duration::from_secs(3));
    let a = p.assess();
    assert!(a.canaries.is_empty(), "{:#?}", a.canaries);
    let md = a.sides[0].topics.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    assert!(!md.contains(&topic), "the canary topic was created on DC: {md:?}");
}
