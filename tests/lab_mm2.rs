//! The MM2 reader against a real lab: two Kafka clusters and MirrorMaker 2
//! (dc→dr) running as a Strimzi-style Kafka Connect cluster on dr
//! (`scripts/lab up`). Every scenario is bounded in time, talks to 127.0.0.1
//! only, and uses its own uniquely named topics and groups: other test
//! binaries share the lab and run in parallel.
//!
//! Observing scenarios hold the shared lab lock; the one that pauses and
//! stops the shared source connector holds it exclusively, and resumes the
//! connector when it ends, also on failure.

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use kdrill::assess::mm2_config::{Mm2Settings, assess_settings};
use kdrill::collect::kafka::mm2::{DeploymentFootprint, Mm2Footprint, Mm2Reader};
use kdrill::collect::kafka::wire;
use kdrill::config::Config;
use kdrill::model::naming::ReplicationPolicy;
use kdrill::model::{ConnectState, Connector, ConnectorKind, Side, TargetState, age_secs};

use support::connect::{Resume, connector_verb, rest, rest_address, rest_with};
use support::{GroupMember, Protocol, lab, note, unique};

const SOURCE: &str = "dc->dr.MirrorSourceConnector";
const CONNECTORS: [&str; 4] = [
    "dc->dr.MirrorCheckpointConnector",
    "dc->dr.MirrorHeartbeatConnector",
    SOURCE,
    "dc->dr.upstream.MirrorHeartbeatConnector",
];

/// The lab as kdrill's config file describes it (Strimzi defaults, identity naming).
fn lab_config() -> Config {
    support::lab_config(
        r#"
[[mm2]]
name = "lab"
source = "dc"
target = "dr"
[replication]
policy = "identity"
"#,
    )
}

fn reader() -> Mm2Reader {
    let c = lab_config();
    let aliases = [c.cluster(Side::Dc).alias.clone(), c.cluster(Side::Dr).alias.clone()];
    let deployments = c.mm2.iter().filter(|d| d.runs_on == Side::Dr).cloned().collect();
    Mm2Reader::new(c.cluster(Side::Dr), &c.timing, aliases, deployments, c.settings.policy.clone())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Polls until `done` holds, for at most `limit`; panics with the last footprint.
fn poll_until(
    reader: &mut Mm2Reader,
    limit: Duration,
    what: &str,
    done: impl Fn(&Mm2Footprint) -> bool,
) -> Mm2Footprint {
    let start = Instant::now();
    loop {
        let fp = reader.poll(Duration::from_secs(5));
        if done(&fp) {
            return fp;
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}; last footprint: {fp:#?}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn deployment(fp: &Mm2Footprint) -> &DeploymentFootprint {
    fp.deployments.iter().find(|d| d.name == "lab").unwrap_or_else(|| panic!("no deployment `lab` in {fp:#?}"))
}

fn connector<'a>(fp: &'a Mm2Footprint, name: &str) -> Option<&'a Connector> {
    deployment(fp).connectors.as_ref()?.iter().find(|c| c.name == name)
}

/// The end offsets of `topic`'s partitions, from the broker.
fn end_offsets(bootstrap: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap_or_else(|e| panic!("{e}"));
    (0..partitions)
        .map(|p| consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e}")).1)
        .collect()
}

fn all_running(c: &Connector) -> bool {
    c.state == ConnectState::Running && c.tasks.iter().all(|t| t.state == ConnectState::Running)
}

#[test]
fn connectors_and_tasks_running_from_the_status_topic() {
    let _lab = support::shared();
    let start = Instant::now();
    let mut r = reader();
    let fp = poll_until(&mut r, Duration::from_secs(90), "all four connectors RUNNING", |fp| {
        CONNECTORS.iter().all(|n| {
            connector(fp, n).is_some_and(|c| {
                // The checkpoint connector has no task until a group exists.
                all_running(c) && (c.kind == ConnectorKind::Checkpoint || !c.tasks.is_empty())
            })
        })
    });
    let cs = deployment(&fp).connectors.as_deref().unwrap_or_default();
    let names: Vec<&str> = cs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, CONNECTORS, "exactly the lab's connectors, sorted");
    let kinds: Vec<ConnectorKind> = cs.iter().map(|c| c.kind).collect();
    use ConnectorKind::*;
    assert_eq!(kinds, [Checkpoint, Heartbeat, Source, Heartbeat]);
    for c in cs {
        assert_eq!(c.target_state, Some(TargetState::Started), "{}", c.name);
        assert_eq!(c.worker_id, rest_address(), "{}: the worker's advertised REST address", c.name);
        assert!(c.tasks.iter().all(|t| t.worker_id == rest_address()), "{c:?}");
    }
    assert_eq!(fp.malformed_total, 0, "{:?}", fp.error);
    note(&format!("connectors RUNNING in {:?}: {cs:#?}", start.elapsed()));
}

#[test]
fn replicated_offset_reaches_the_source_end() {
    let _lab = support::shared();
    let start = Instant::now();
    let topic = unique("kdrill-mm2-repl");
    let counts = [20, 35, 1];
    support::create_topic(&lab().dc, &topic, counts.len() as i32);
    support::produce(&lab().dc, &topic, &counts);
    let ends = end_offsets(&lab().dc, &topic, counts.len() as i32);
    assert_eq!(ends, [20, 35, 1]);
    let mut r = reader();
    let fp = poll_until(&mut r, Duration::from_secs(90), "replicated offsets of the new topic", |fp| {
        let replicated = deployment(fp).replicated.as_deref().unwrap_or_default();
        ends.iter().enumerate().all(|(p, &end)| {
            replicated.iter().any(|o| *o.topic == *topic && o.partition as usize == p && o.upstream_offset + 1 >= end)
        })
    });
    let mine: Vec<_> = deployment(&fp).replicated.iter().flatten().filter(|o| *o.topic == *topic).collect();
    assert_eq!(mine.len(), ends.len(), "{mine:?}");
    for o in mine {
        let end = ends[o.partition as usize];
        assert_eq!(o.upstream_offset, end - 1, "{o:?}");
        assert_eq!(end - (o.upstream_offset + 1), 0, "replication lag of {}/{}", o.topic, o.partition);
    }
    note(&format!("replicated {topic} up to its end offsets {ends:?} in {:?}", start.elapsed()));
}

#[test]
fn heartbeats_mirrored_and_local_are_fresh() {
    let _lab = support::shared();
    let start = Instant::now();
    let mut r = reader();
    let fresh = |fp: &Mm2Footprint, topic: &str, src: &str, tgt: &str| {
        fp.heartbeats.as_deref().unwrap_or_default().iter().any(|h| {
            h.topic == topic
                && h.source_alias == src
                && h.target_alias == tgt
                && age_secs(h.emitted_at, Utc::now()) < 10.0
        })
    };
    // Local: dc->dr.MirrorHeartbeatConnector writes (dc, dr) into dr's `heartbeats`.
    // Mirrored: dc->dr.upstream.MirrorHeartbeatConnector writes (dr, dc) into
    // dc's `heartbeats`, which the source connector copies to dr as `dc.heartbeats`.
    let fp = poll_until(&mut r, Duration::from_secs(60), "fresh heartbeats", |fp| {
        fresh(fp, "heartbeats", "dc", "dr") && fresh(fp, "dc.heartbeats", "dr", "dc")
    });
    note(&format!("fresh heartbeats in {:?}: {:#?}", start.elapsed(), fp.heartbeats));
}

#[test]
fn checkpoint_for_a_group_that_committed_on_dc() {
    let _lab = support::shared();
    let start = Instant::now();
    let topic = unique("kdrill-mm2-cp");
    support::create_topic(&lab().dc, &topic, 1);
    support::produce(&lab().dc, &topic, &[10]);
    // A real classic consumer group on dc (outside MM2's groups.exclude).
    let member = GroupMember::join(&lab().dc, &unique("kdrill-mm2-cp-group"), &topic, Protocol::Classic, "mm2-cp");
    // A commit is refused while the member's first rebalance is under way: retry.
    support::wait_for("the group's commit", Duration::from_secs(30), || member.commit(&[(&topic, 0, 7)]));

    let mut r = reader();
    let fp = poll_until(&mut r, Duration::from_secs(120), "a checkpoint for the group", |fp| {
        fp.checkpoints.iter().flatten().any(|c| *c.group == *member.group && c.upstream_offset == 7)
    });
    let cp = fp.checkpoints.iter().flatten().find(|c| *c.group == *member.group).cloned();
    let cp = cp.unwrap_or_else(|| panic!("no checkpoint for {}", member.group));
    assert_eq!((&*cp.source_alias, &*cp.topic, cp.partition), ("dc", topic.as_str(), 0));
    // Translated through the sparse offset syncs: never past the replica's end.
    assert!((0..=10).contains(&cp.downstream_offset), "{cp:?}");
    assert!(age_secs(cp.written_at, Utc::now()) < 120.0, "{cp:?}");
    note(&format!("checkpoint in {:?}: {cp:?}", start.elapsed()));
}

#[test]
fn paused_then_stopped_then_resumed() {
    let _lab = support::exclusive();
    let start = Instant::now();
    let mut r = reader();
    poll_until(&mut r, Duration::from_secs(90), "source connector RUNNING", |fp| {
        connector(fp, SOURCE).is_some_and(|c| all_running(c) && !c.tasks.is_empty())
    });
    let _resume = Resume(SOURCE);

    assert_eq!(connector_verb(SOURCE, "pause", Duration::from_secs(30)), Ok(202));
    let fp = poll_until(&mut r, Duration::from_secs(60), "source connector PAUSED", |fp| {
        connector(fp, SOURCE).is_some_and(|c| {
            c.state == ConnectState::Paused
                && c.target_state == Some(TargetState::Paused)
                && !c.tasks.is_empty()
                && c.tasks.iter().all(|t| t.state == ConnectState::Paused)
        })
    });
    note(&format!("paused: {:#?}", connector(&fp, SOURCE)));

    assert_eq!(connector_verb(SOURCE, "stop", Duration::from_secs(30)), Ok(204));
    // Connect writes the task UNASSIGNED, then a tombstone: a stopped connector has no tasks.
    let fp = poll_until(&mut r, Duration::from_secs(60), "source connector STOPPED", |fp| {
        connector(fp, SOURCE).is_some_and(|c| {
            c.state == ConnectState::Stopped && c.target_state == Some(TargetState::Stopped) && c.tasks.is_empty()
        })
    });
    note(&format!("stopped: {:#?}", connector(&fp, SOURCE)));

    assert_eq!(connector_verb(SOURCE, "resume", Duration::from_secs(30)), Ok(202));
    let fp = poll_until(&mut r, Duration::from_secs(90), "source connector RUNNING again", |fp| {
        connector(fp, SOURCE)
            .is_some_and(|c| all_running(c) && !c.tasks.is_empty() && c.target_state == Some(TargetState::Started))
    });
    note(&format!("resumed in {:?}: {:#?}", start.elapsed(), connector(&fp, SOURCE)));
}

/// A one-shot `kdrill check` has only its settle time of history: the
/// age of a lag older than that comes from the first unreplicated record.
#[test]
fn a_one_shot_check_ages_the_lag_from_the_first_unreplicated_record() {
    let _lab = support::exclusive();
    let mut r = reader();
    poll_until(&mut r, Duration::from_secs(90), "source connector RUNNING", |fp| {
        connector(fp, SOURCE).is_some_and(|c| all_running(c) && !c.tasks.is_empty())
    });
    let _resume = Resume(SOURCE);
    assert_eq!(connector_verb(SOURCE, "stop", Duration::from_secs(30)), Ok(204));
    poll_until(&mut r, Duration::from_secs(60), "source connector STOPPED", |fp| {
        connector(fp, SOURCE).is_some_and(|c| c.state == ConnectState::Stopped && c.tasks.is_empty())
    });
    // MM2 committed where the source ended; these records stay behind.
    let written = Utc::now();
    support::produce(&lab().dc, "orders", &[5, 5, 0, 0, 0, 0]);
    std::thread::sleep(Duration::from_secs(4));

    let config = std::env::temp_dir().join(format!("{}.toml", unique("kdrill-check-age")));
    let text = format!(
        "[clusters.dc]\nbootstrap = \"{}\"\n[clusters.dr]\nbootstrap = \"{}\"\n[[mm2]]\nsource = \"dc\"\ntarget = \"dr\"\n",
        lab().dc,
        lab().dr
    );
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
    let started = Utc::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kdrill"))
        .arg("--config")
        .arg(&config)
        .args(["check", "--json", "--settle", "3s"])
        .env_remove("KDRILL_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("kdrill check: {e}"));
    let ended = Utc::now();
    let _ = std::fs::remove_file(&config);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check --json: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    let lag = json["lag"].as_array().and_then(|l| l.iter().find(|l| l["flow"] == "DC→DR")).cloned();
    let lag = lag.unwrap_or_else(|| panic!("no DC→DR lag in {json:#}"));
    note(&format!("DC→DR lag: {lag:#}"));
    assert!(lag["total_records"].as_u64().is_some_and(|n| n >= 10), "{lag:#}");
    // The records were written before the check started, its 3 s of
    // history included: only their own time can say how old they are.
    let seconds = lag["max_seconds"].as_f64().unwrap_or_else(|| panic!("no lag in seconds: {lag:#}"));
    let secs = |from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>| (to - from).num_milliseconds() as f64 / 1000.0;
    let (least, most) = (secs(written, started) + 3.0 - 1.0, secs(written, ended) + 1.0);
    assert!(seconds >= least && seconds <= most, "{seconds} s, expected {least:.1}–{most:.1} s: {lag:#}");
}

const CHECKPOINT: &str = "dc->dr.MirrorCheckpointConnector";

/// Puts a connector's configuration back when dropped, whatever happened.
struct RestoreConfig(&'static str, String);

impl Drop for RestoreConfig {
    fn drop(&mut self) {
        if let Err(e) = put_config(self.0, &self.1) {
            eprintln!("could not restore {}'s configuration: {e}", self.0);
        }
    }
}

fn put_config(name: &str, config: &str) -> Result<(), String> {
    let path = format!("/connectors/{}/config", name.replace('>', "%3E"));
    let start = Instant::now();
    loop {
        let last = match rest_with("PUT", &path, config) {
            Ok((200..=299, _)) => return Ok(()),
            Ok((code, body)) => format!("HTTP {code}: {body}"),
            Err(e) => e,
        };
        if start.elapsed() > Duration::from_secs(30) {
            return Err(format!("PUT {path}: {last}"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The settings kdrill judges MM2 by, as read from the lab's config topic.
fn settings_of(fp: &Mm2Footprint) -> Option<(Mm2Settings, Vec<String>)> {
    let cs = deployment(fp).connectors.as_deref()?;
    assess_settings(cs, &ReplicationPolicy::identity(), Some(&["orders", "redis-writes"]))
}

#[test]
fn connector_settings_from_the_config_topic_and_a_connector_set_apart() {
    let _lab = support::exclusive();
    let mut r = reader();
    let fp = poll_until(&mut r, Duration::from_secs(90), "every connector's settings read", |fp| {
        CONNECTORS.iter().all(|n| connector(fp, n).is_some_and(|c| c.settings.is_some()))
    });
    // As `scripts/lab.d/connector-*.json` configures them.
    let (s, problems) = settings_of(&fp).unwrap_or_else(|| panic!("no settings in {fp:#?}"));
    assert_eq!(s.policy.as_deref(), Some("identity"));
    assert_eq!((s.sync_group_offsets, s.checkpoint_interval_s), (Some(true), Some(1)));
    assert!(problems.is_empty() && s.unchecked.is_empty(), "{problems:?} {s:?}");

    // The checkpoint connector reconfigured by hand with the default policy.
    let path = format!("/connectors/{}/config", CHECKPOINT.replace('>', "%3E"));
    let original = match rest("GET", &path) {
        Ok((200, body)) => body,
        other => panic!("GET {path}: {other:?}"),
    };
    let mut drifted: serde_json::Value = serde_json::from_str(&original).unwrap_or_else(|e| panic!("{e}: {original}"));
    drifted["replication.policy.class"] = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy".into();
    let _restore = RestoreConfig(CHECKPOINT, original.clone());
    put_config(CHECKPOINT, &drifted.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let fp = poll_until(&mut r, Duration::from_secs(60), "the drifted policy read", |fp| {
        settings_of(fp).is_some_and(|(s, _)| s.policy.is_none())
    });
    let (_, problems) = settings_of(&fp).unwrap_or_else(|| panic!("no settings"));
    assert_eq!(problems, ["connectors name topics differently: default (checkpoint), identity (heartbeat, source)"]);

    put_config(CHECKPOINT, &original).unwrap_or_else(|e| panic!("{e}"));
    poll_until(&mut r, Duration::from_secs(60), "the policy put back", |fp| {
        settings_of(fp).is_some_and(|(s, p)| s.policy.as_deref() == Some("identity") && p.is_empty())
    });
}

/// Deletes the topics when dropped, whatever happened.
struct DeleteTopics(String, Vec<String>);

impl Drop for DeleteTopics {
    fn drop(&mut self) {
        support::delete_topics(&self.0, &self.1);
    }
}

/// A deployment nobody else reads, on Connect topics made for one test on
/// dr (status with `status_partitions`, configs with one, offsets with
/// two), and a reader of it; the topics go when the guard drops.
struct HandMade {
    status: String,
    configs: String,
    offsets: String,
    _cleanup: DeleteTopics,
}

fn hand_made(name: &str, status_partitions: i32) -> (HandMade, Mm2Reader) {
    let l = lab();
    let [status, configs, offsets] =
        ["status", "configs", "offsets"].map(|t| unique(&format!("kdrill-mm2-{name}-{t}")));
    support::create_topic(&l.dr, &status, status_partitions);
    support::create_topic(&l.dr, &configs, 1);
    support::create_topic(&l.dr, &offsets, 2);
    let cleanup = DeleteTopics(l.dr.clone(), vec![status.clone(), configs.clone(), offsets.clone()]);
    let c = support::lab_config(&format!(
        "[[mm2]]\nname = \"{name}\"\nsource = \"dc\"\ntarget = \"dr\"\n\
         status_topic = \"{status}\"\nconfig_topic = \"{configs}\"\noffsets_topic = \"{offsets}\"\n"
    ));
    let aliases = [c.cluster(Side::Dc).alias.clone(), c.cluster(Side::Dr).alias.clone()];
    let r = Mm2Reader::new(c.cluster(Side::Dr), &c.timing, aliases, c.mm2.clone(), c.settings.policy.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    (HandMade { status, configs, offsets, _cleanup: cleanup }, r)
}

#[test]
fn reads_incrementally_and_follows_topics_that_appear_and_vanish() {
    let _lab = support::shared();
    let start = Instant::now();
    let mut r = reader();
    let first = poll_until(&mut r, Duration::from_secs(60), "every section known", |fp| {
        fp.heartbeats.is_some() && fp.checkpoints.is_some() && deployment(fp).connectors.is_some()
    });
    let again = r.poll(Duration::from_secs(5));
    assert!(again.heartbeats.is_some() && deployment(&again).replicated.is_some(), "{again:#?}");
    // Only what MM2 wrote in between (heartbeats, offsets commits), never the history again.
    assert!(again.records < first.records, "first poll {} records, second {}", first.records, again.records);

    // A checkpoints topic of a source alias nobody uses, created after the reader started.
    let alias = unique("kdrill-mm2-src");
    let topic = format!("{alias}.checkpoints.internal");
    support::create_topic(&lab().dr, &topic, 1);
    let _cleanup = DeleteTopics(lab().dr.clone(), vec![topic.clone()]);
    let cp = wire::Checkpoint {
        group: unique("kdrill-mm2-g"),
        topic: "orders".into(),
        partition: 4,
        upstream_offset: 120,
        downstream_offset: 118,
        metadata: String::new(),
    };
    let (key, value) = (cp.encode_key().unwrap_or_default(), cp.encode_value().unwrap_or_default());
    let producer: BaseProducer =
        ClientConfig::new().set("bootstrap.servers", &lab().dr).create().unwrap_or_else(|e| panic!("{e}"));
    producer.send(BaseRecord::to(&topic).key(&key).payload(&value)).unwrap_or_else(|(e, _)| panic!("{e}"));
    producer.flush(Duration::from_secs(20)).unwrap_or_else(|e| panic!("{e}"));

    let fp = poll_until(&mut r, Duration::from_secs(60), "the new topic's checkpoint", |fp| {
        fp.checkpoints.iter().flatten().any(|c| *c.source_alias == *alias)
    });
    let seen = fp.checkpoints.iter().flatten().find(|c| *c.source_alias == *alias).cloned();
    let seen = seen.unwrap_or_else(|| panic!("no checkpoint of {alias}"));
    assert_eq!(
        (&*seen.group, &*seen.topic, seen.partition, seen.upstream_offset, seen.downstream_offset),
        (cp.group.as_str(), "orders", 4, 120, 118)
    );

    support::delete_topics(&lab().dr, std::slice::from_ref(&topic));
    poll_until(&mut r, Duration::from_secs(60), "the deleted topic's checkpoint forgotten", |fp| {
        fp.checkpoints.as_ref().is_some_and(|cs| cs.iter().all(|c| *c.source_alias != *alias))
    });
    note(&format!(
        "first poll {} records, second {}; topic appeared and vanished; in {:?}",
        first.records,
        again.records,
        start.elapsed()
    ));
}

/// Writes records to the given topics inside one transaction, committed or aborted.
fn transaction(
    producer: &ThreadedProducer<DefaultProducerContext>,
    records: &[(&str, &str, Option<&str>)],
    commit: bool,
) {
    let t = Duration::from_secs(30);
    producer.begin_transaction().unwrap_or_else(|e| panic!("begin: {e}"));
    for (topic, key, value) in records {
        let mut record = BaseRecord::<str, str>::to(topic).key(*key);
        if let Some(v) = value {
            record = record.payload(*v);
        }
        producer.send(record).unwrap_or_else(|(e, _)| panic!("send: {e}"));
    }
    if commit {
        producer.commit_transaction(t).unwrap_or_else(|e| panic!("commit: {e}"));
    } else {
        producer.abort_transaction(t).unwrap_or_else(|e| panic!("abort: {e}"));
    }
}

/// Connect topics of a deployment nobody else reads, written by hand in
/// transactions (as Connect does with exactly-once support): aborted and
/// still-open records are never seen, a poll still completes with
/// transaction markers at the ends of the partitions, and a malformed
/// record is counted and skipped.
#[test]
fn hand_written_connect_topics_in_transactions() {
    let _lab = support::shared();
    let start = Instant::now();
    let l = lab();
    let (hand_made, mut r) = hand_made("hand", 3);
    let HandMade { status, configs, offsets, .. } = &hand_made;

    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &l.dr)
        .set("transactional.id", unique("kdrill-mm2-hand-tx"))
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    producer.init_transactions(Duration::from_secs(30)).unwrap_or_else(|e| panic!("init: {e}"));
    let name = "dc->dr.MirrorSourceConnector";
    let config_key = format!("connector-{name}");
    let config_value = r#"{"properties":{"connector.class":"org.apache.kafka.connect.mirror.MirrorSourceConnector","source.cluster.alias":"dc","target.cluster.alias":"dr"}}"#;
    let conn_key = format!("status-connector-{name}");
    let task_key = format!("status-task-{name}-0");
    let running = r#"{"state":"RUNNING","trace":null,"worker_id":"w:1","generation":1}"#;
    let failed = r#"{"state":"FAILED","trace":"boom","worker_id":"w:1","generation":2}"#;
    let offset_key = format!(r#"["{name}",{{"cluster":"dc","partition":0,"topic":"orders"}}]"#);
    transaction(
        &producer,
        &[
            (configs, &config_key, Some(config_value)),
            (status, &conn_key, Some(running)),
            (status, &task_key, Some(running)),
            (status, "status-connector-garbage", Some("{not json")),
            (offsets, &offset_key, Some(r#"{"offset":41}"#)),
        ],
        true,
    );
    transaction(
        &producer,
        &[(status, &conn_key, Some(failed)), (offsets, &offset_key, Some(r#"{"offset":99}"#))],
        false,
    );
    // An open transaction holds the last stable offset back: invisible until committed.
    producer.begin_transaction().unwrap_or_else(|e| panic!("begin: {e}"));
    let paused = r#"{"state":"PAUSED","state.v2":"STOPPED"}"#;
    let target_key = format!("target-state-{name}");
    producer
        .send(BaseRecord::<str, str>::to(configs).key(&target_key).payload(paused))
        .unwrap_or_else(|(e, _)| panic!("{e}"));
    producer.flush(Duration::from_secs(20)).unwrap_or_else(|e| panic!("flush: {e}"));

    let hand = |fp: &Mm2Footprint| fp.deployments.iter().find(|d| d.name == "hand").cloned();
    let fp = poll_until(&mut r, Duration::from_secs(60), "the hand-written deployment", |fp| {
        hand(fp).is_some_and(|d| d.connectors.is_some() && d.replicated.is_some())
    });
    let d = hand(&fp).unwrap_or_else(|| panic!("no deployment"));
    let cs = d.connectors.unwrap_or_default();
    assert_eq!(cs.len(), 1, "{cs:#?}");
    assert_eq!((&cs[0].state, cs[0].target_state), (&ConnectState::Running, Some(TargetState::Started)));
    assert_eq!(cs[0].tasks.len(), 1);
    let replicated: Vec<(String, i32, i64)> = d
        .replicated
        .unwrap_or_default()
        .into_iter()
        .map(|o| (o.topic.to_string(), o.partition, o.upstream_offset))
        .collect();
    assert_eq!(replicated, [("orders".to_owned(), 0, 41)]);
    assert_eq!(fp.malformed_total, 1, "{:?}", fp.error);
    // Counted per topic, with where and why (never the record itself).
    let per_topic: Vec<u64> = fp.malformed_by_topic.values().copied().collect();
    assert_eq!(per_topic, [1], "{:?}", fp.malformed_by_topic);
    assert!(fp.first_malformed.as_deref().is_some_and(|w| w.contains('@')), "{:?}", fp.first_malformed);

    producer.commit_transaction(Duration::from_secs(30)).unwrap_or_else(|e| panic!("commit: {e}"));
    // Tombstones, committed: the task status goes, the connector stays.
    transaction(&producer, &[(status, &task_key, None)], true);
    let fp = poll_until(&mut r, Duration::from_secs(60), "the committed target state and tombstone", |fp| {
        hand(fp)
            .and_then(|d| d.connectors)
            .is_some_and(|cs| cs.iter().any(|c| c.target_state == Some(TargetState::Stopped) && c.tasks.is_empty()))
    });
    assert_eq!(fp.malformed_total, 1, "the malformed record is not read twice: {:?}", fp.error);
    note(&format!("hand-written Connect topics read in {:?}", start.elapsed()));
}

/// MM2 commits offsets while kdrill reads them: a footprint stamped `at`
/// holds no record written after `at`, however the fetches fall (else MM2
/// seems to pass source end offsets read before it). Records are written
/// without pause to two partitions of a hand-made offsets topic, each with
/// a distinct upstream offset whose creation time the test keeps.
#[test]
fn a_footprint_holds_nothing_written_after_its_stamp() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let _lab = support::shared();
    let l = lab();
    let (hand_made, mut r) = hand_made("race", 1);
    let HandMade { configs, offsets, .. } = &hand_made;
    let name = "dc->dr.MirrorSourceConnector";
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &l.dr)
        .set("linger.ms", "0")
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    let config_value = r#"{"properties":{"connector.class":"org.apache.kafka.connect.mirror.MirrorSourceConnector","source.cluster.alias":"dc","target.cluster.alias":"dr"}}"#;
    producer
        .send(BaseRecord::to(configs).key(&format!("connector-{name}")).payload(config_value))
        .unwrap_or_else(|(e, _)| panic!("{e}"));
    producer.flush(Duration::from_secs(20)).unwrap_or_else(|e| panic!("{e}"));

    // Upstream offset n was created at created[n] (epoch ms), on partition n % 2.
    let created = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (created, stop, offsets) = (created.clone(), stop.clone(), offsets.clone());
        std::thread::spawn(move || {
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let source_partition = n % 2;
                let key = format!(r#"["{name}",{{"cluster":"dc","partition":{source_partition},"topic":"orders"}}]"#);
                let value = format!(r#"{{"offset":{n}}}"#);
                let now = Utc::now().timestamp_millis();
                if let Ok(mut c) = created.lock() {
                    c.push(now);
                }
                let record = BaseRecord::to(&offsets).key(&key).payload(&value).partition(source_partition as i32);
                if producer.send(record.timestamp(now)).is_err() {
                    break;
                }
                producer.poll(Duration::ZERO);
                n += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = producer.flush(Duration::from_secs(20));
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut checked = 0;
    while checked < 60 && Instant::now() < deadline {
        let fp = r.poll(Duration::from_secs(5));
        let Some(replicated) = fp.deployments.iter().find(|d| d.name == "race").and_then(|d| d.replicated.clone())
        else {
            continue;
        };
        let created = created.lock().map(|c| c.clone()).unwrap_or_default();
        for o in &replicated {
            let made = usize::try_from(o.upstream_offset).ok().and_then(|n| created.get(n)).copied();
            let made = made.unwrap_or_else(|| panic!("upstream offset {} never written", o.upstream_offset));
            assert!(
                made <= fp.at.timestamp_millis(),
                "poll {checked}: offset {} of partition {} was created {} ms after the footprint's stamp {}",
                o.upstream_offset,
                o.partition,
                made - fp.at.timestamp_millis(),
                fp.at
            );
        }
        checked += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();
    assert!(checked >= 20, "only {checked} complete footprints in 30 s");
    note(&format!("{checked} footprints, none holding a record created after its stamp"));
}
