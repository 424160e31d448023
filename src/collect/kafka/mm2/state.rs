//! What the MM2 reader has learnt from the topics it consumes, kept with
//! compacted-topic semantics (the latest record of a key wins, a tombstone
//! deletes it), and the model values built from it. Pure: no client, no
//! clock, so every rule here is unit-tested on hand-made records.
//!
//! Records are applied the way Kafka Connect's own stores read them
//! (`KafkaStatusBackingStore.read`, `KafkaConfigBackingStore`'s consumer
//! callback, `KafkaOffsetBackingStore`): a record Connect would discard is
//! skipped and leaves the previous state of its key in place; the caller
//! counts it as malformed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::DateTime;

use crate::collect::kafka::connect_topics::{
    self, ConfigRecord, ConnectTopicError, ConnectorConfig, MirrorOffsetKey, StatusRecord, StatusValue, TopicKind,
};
use crate::collect::kafka::wire;
use crate::config::Mm2Config;
use crate::model::naming::ReplicationPolicy;
use crate::model::{
    Checkpoint, ConnectState, Connector, ConnectorKind, Flow, Heartbeat, MirrorSettings, Names, ReplicatedOffset, Side,
    Task,
};

/// One consumed record, as far as the stores care.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub key: Option<&'a [u8]>,
    /// `None` is a tombstone.
    pub value: Option<&'a [u8]>,
    /// The record timestamp (epoch ms), if the broker gave one.
    pub timestamp_ms: Option<i64>,
}

/// The Connect status topic of one Connect cluster (`KafkaStatusBackingStore`).
#[derive(Debug, Default)]
struct StatusStore {
    connectors: BTreeMap<String, StatusValue>,
    tasks: BTreeMap<String, BTreeMap<u32, StatusValue>>,
}

/// The Connect config topic: which connectors exist and what they were asked to be.
#[derive(Debug, Default)]
struct ConfigStore {
    connectors: BTreeMap<String, ConnectorConfig>,
    target_states: BTreeMap<String, connect_topics::TargetState>,
}

/// The Connect offsets topic, restricted to MirrorSourceConnector partitions,
/// keyed by the record key's bytes as Connect's offset store is.
#[derive(Debug, Default)]
struct OffsetsStore {
    source: BTreeMap<Vec<u8>, (connect_topics::SourceOffsetKey, i64)>,
}

/// Everything learnt so far, for a fixed set of deployments on one cluster.
#[derive(Debug)]
pub struct Mm2State {
    aliases: [String; 2],
    deployments: Vec<Mm2Config>,
    policy: ReplicationPolicy,
    /// Connect stores by topic name: deployments may share a Connect cluster.
    status: BTreeMap<String, StatusStore>,
    config: BTreeMap<String, ConfigStore>,
    offsets: BTreeMap<String, OffsetsStore>,
    /// Per heartbeats topic partition, by record key.
    heartbeats: BTreeMap<(String, i32), BTreeMap<Vec<u8>, Heartbeat>>,
    /// Per checkpoints topic partition, by record key.
    checkpoints: BTreeMap<(String, i32), BTreeMap<Vec<u8>, Checkpoint>>,
    /// The group and topic names checkpoints hold, one copy each.
    names: Names,
}

impl Mm2State {
    pub fn new(aliases: [String; 2], deployments: Vec<Mm2Config>, policy: ReplicationPolicy) -> Self {
        Mm2State {
            aliases,
            deployments,
            policy,
            status: BTreeMap::new(),
            config: BTreeMap::new(),
            offsets: BTreeMap::new(),
            heartbeats: BTreeMap::new(),
            checkpoints: BTreeMap::new(),
            names: Names::default(),
        }
    }

    pub fn deployments(&self) -> &[Mm2Config] {
        &self.deployments
    }

    fn alias(&self, side: Side) -> &str {
        &self.aliases[side.index()]
    }

    fn is_status_topic(&self, topic: &str) -> bool {
        self.deployments.iter().any(|d| d.status_topic == topic)
    }

    fn is_config_topic(&self, topic: &str) -> bool {
        self.deployments.iter().any(|d| d.config_topic == topic)
    }

    fn is_offsets_topic(&self, topic: &str) -> bool {
        self.deployments.iter().any(|d| d.offsets_topic == topic)
    }

    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        self.policy.is_heartbeats_topic(topic)
    }

    /// The source alias of a checkpoints topic (`<src>.checkpoints.internal`).
    pub fn checkpoints_source<'t>(&self, topic: &'t str) -> Option<&'t str> {
        if !self.policy.is_checkpoints_topic(topic) {
            return None;
        }
        // `checkpoints_topic("")` is exactly the suffix after the alias.
        topic.strip_suffix(self.policy.checkpoints_topic("").as_str()).filter(|alias| !alias.is_empty())
    }

    /// Whether the reader should consume `topic`.
    pub fn wants(&self, topic: &str) -> bool {
        self.is_status_topic(topic)
            || self.is_config_topic(topic)
            || self.is_offsets_topic(topic)
            || self.is_heartbeats_topic(topic)
            || self.checkpoints_source(topic).is_some()
    }

    /// Forgets everything read from `topic` (it was deleted or truncated).
    pub fn forget_topic(&mut self, topic: &str) {
        self.status.remove(topic);
        self.config.remove(topic);
        self.offsets.remove(topic);
        self.heartbeats.retain(|(t, _), _| t != topic);
        self.checkpoints.retain(|(t, _), _| t != topic);
        self.names.forget_unused();
    }

    /// Applies one record. `Err` says why it was skipped; state is unchanged then.
    pub fn apply(&mut self, rec: Record<'_>) -> Result<(), String> {
        // A topic may play several roles only under odd configurations
        // (e.g. one topic named as both status and config topic): apply all.
        if self.is_status_topic(rec.topic) {
            self.apply_status(rec)?;
        }
        if self.is_config_topic(rec.topic) {
            self.apply_config(rec)?;
        }
        if self.is_offsets_topic(rec.topic) {
            self.apply_offsets(rec)?;
        }
        if self.is_heartbeats_topic(rec.topic) {
            self.apply_heartbeat(rec)?;
        }
        if let Some(source) = self.checkpoints_source(rec.topic) {
            let source = self.names.get(source);
            self.apply_checkpoint(rec, source)?;
        }
        Ok(())
    }

    fn apply_status(&mut self, rec: Record<'_>) -> Result<(), String> {
        let key = string_key(rec)?;
        let parsed = connect_topics::parse_status_record(key, rec.value).map_err(|e| describe(&e))?;
        let store = self.status.entry(rec.topic.to_owned()).or_default();
        match parsed {
            // Keys of no known kind: Connect discards them too.
            None | Some(StatusRecord::Topic { .. }) => {}
            Some(StatusRecord::Connector { connector, status: Some(status) }) => {
                store.connectors.insert(connector, status);
            }
            // A connector tombstone removes its tasks too (`KafkaStatusBackingStore.remove(String)`).
            Some(StatusRecord::Connector { connector, status: None }) => {
                store.connectors.remove(&connector);
                store.tasks.remove(&connector);
            }
            Some(StatusRecord::Task { connector, task, status: Some(status) }) => {
                store.tasks.entry(connector).or_default().insert(task, status);
            }
            Some(StatusRecord::Task { connector, task, status: None }) => {
                if let Some(tasks) = store.tasks.get_mut(&connector) {
                    tasks.remove(&task);
                    if tasks.is_empty() {
                        store.tasks.remove(&connector);
                    }
                }
            }
        }
        Ok(())
    }

    fn apply_config(&mut self, rec: Record<'_>) -> Result<(), String> {
        let key = string_key(rec)?;
        let parsed = connect_topics::parse_config_record(key, rec.value).map_err(|e| describe(&e))?;
        let store = self.config.entry(rec.topic.to_owned()).or_default();
        match parsed {
            Some(ConfigRecord::Connector { connector, config: Some(config) }) => {
                store.connectors.insert(connector, config);
            }
            Some(ConfigRecord::Connector { connector, config: None }) => {
                store.connectors.remove(&connector);
            }
            Some(ConfigRecord::TargetState { connector, state: Some(state) }) => {
                store.target_states.insert(connector, state);
            }
            Some(ConfigRecord::TargetState { connector, state: None }) => {
                store.target_states.remove(&connector);
            }
            None | Some(ConfigRecord::Task { .. } | ConfigRecord::TasksCommit { .. }) => {}
        }
        Ok(())
    }

    fn apply_offsets(&mut self, rec: Record<'_>) -> Result<(), String> {
        let key = rec.key.ok_or_else(|| format!("{}: record without a key", rec.topic))?;
        let parsed = connect_topics::parse_offset_record(key, rec.value).map_err(|e| describe(&e))?;
        let store = self.offsets.entry(rec.topic.to_owned()).or_default();
        match parsed {
            Some(connect_topics::MirrorOffset { key: MirrorOffsetKey::Source(source), offset: Some(offset) }) => {
                store.source.insert(key.to_vec(), (source, offset));
            }
            // A tombstone, or an offset map without `offset`: nothing committed.
            Some(connect_topics::MirrorOffset { key: MirrorOffsetKey::Source(_), offset: None }) => {
                store.source.remove(key);
            }
            _ => {}
        }
        Ok(())
    }

    fn apply_heartbeat(&mut self, rec: Record<'_>) -> Result<(), String> {
        let key = rec.key.ok_or_else(|| format!("{}: heartbeat without a key", rec.topic))?;
        let slot = (rec.topic.to_owned(), rec.partition);
        let Some(value) = rec.value else {
            if let Some(keys) = self.heartbeats.get_mut(&slot) {
                keys.remove(key);
            }
            return Ok(());
        };
        let hb = wire::Heartbeat::decode(key, value).map_err(|e| format!("{}: {e}", rec.topic))?;
        let emitted_at = DateTime::from_timestamp_millis(hb.timestamp_ms)
            .ok_or_else(|| format!("{}: heartbeat timestamp {} out of range", rec.topic, hb.timestamp_ms))?;
        let heartbeat = Heartbeat {
            topic: rec.topic.to_owned(),
            source_alias: hb.source_alias,
            target_alias: hb.target_alias,
            emitted_at,
        };
        self.heartbeats.entry(slot).or_default().insert(key.to_vec(), heartbeat);
        Ok(())
    }

    fn apply_checkpoint(&mut self, rec: Record<'_>, source_alias: std::sync::Arc<str>) -> Result<(), String> {
        let key = rec.key.ok_or_else(|| format!("{}: checkpoint without a key", rec.topic))?;
        let slot = (rec.topic.to_owned(), rec.partition);
        let Some(value) = rec.value else {
            if let Some(keys) = self.checkpoints.get_mut(&slot) {
                keys.remove(key);
            }
            return Ok(());
        };
        let cp = wire::Checkpoint::decode(key, value).map_err(|e| format!("{}: {e}", rec.topic))?;
        let written_at = rec
            .timestamp_ms
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| format!("{}: checkpoint record without a usable timestamp", rec.topic))?;
        let checkpoint = Checkpoint {
            source_alias,
            group: self.names.get(&cp.group),
            topic: self.names.get(&cp.topic),
            partition: cp.partition,
            upstream_offset: cp.upstream_offset,
            downstream_offset: cp.downstream_offset,
            written_at,
        };
        self.checkpoints.entry(slot).or_default().insert(key.to_vec(), checkpoint);
        Ok(())
    }

    /// The flow a Strimzi-style connector name (`<src>-><tgt>.<rest>`) names,
    /// if its aliases are this pair's.
    fn flow_in_name(&self, name: &str) -> Option<Flow> {
        [Flow::DC_TO_DR, Flow::DR_TO_DC].into_iter().find(|f| {
            let prefix = format!("{}->{}.", self.alias(f.source), self.alias(f.target));
            name.starts_with(&prefix)
        })
    }

    /// Whether a connector belongs to deployment `d`:
    ///
    /// * a name of the form `<a>-><b>.<anything>`, with `a` and `b` this pair's
    ///   aliases, decides alone: it belongs to the deployment of flow a→b.
    ///   Strimzi names every connector so, including a heartbeat connector
    ///   run for the flow with reversed aliases (`dc->dr.upstream.…`, which
    ///   writes heartbeats into the source cluster);
    /// * otherwise (MM2 dedicated mode names connectors by class,
    ///   `MirrorSourceConnector`), its configuration decides: it belongs when
    ///   `source.cluster.alias` and `target.cluster.alias` are the flow's.
    fn belongs(&self, d: &Mm2Config, name: &str, config: &ConnectorConfig) -> bool {
        match self.flow_in_name(name) {
            Some(flow) => flow == d.flow,
            None => {
                config.source_cluster_alias() == Some(self.alias(d.flow.source))
                    && config.target_cluster_alias() == Some(self.alias(d.flow.target))
            }
        }
    }

    /// The connectors of deployment `d`, sorted by name. A connector exists
    /// while its config-topic record does (a deleted connector's config is a
    /// tombstone); membership is decided by [`Self::belongs`]. State, worker
    /// and tasks come from the status topic, as Connect's REST status shows
    /// them: a connector whose status was not written yet is `UNASSIGNED` with
    /// an empty worker id. The target state is the config topic's
    /// `target-state-<name>` (`state.v2` tells STOPPED from PAUSED); absent, it
    /// is `STARTED`, Connect's default for a connector with a config.
    pub fn connectors(&self, d: &Mm2Config) -> Vec<Connector> {
        let Some(config) = self.config.get(&d.config_topic) else {
            return Vec::new();
        };
        let status = self.status.get(&d.status_topic);
        config
            .connectors
            .iter()
            .filter(|(name, cfg)| self.belongs(d, name, cfg))
            .map(|(name, cfg)| {
                let own = status.and_then(|s| s.connectors.get(name));
                let tasks = status
                    .and_then(|s| s.tasks.get(name))
                    .map(|tasks| {
                        tasks
                            .iter()
                            .map(|(&id, t)| Task {
                                id,
                                state: t.state.clone(),
                                worker_id: t.worker_id.clone(),
                                trace: t.trace.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let kind = match cfg.connector_class().map(ConnectorKind::of) {
                    Some(kind) if kind != ConnectorKind::Other => kind,
                    _ => ConnectorKind::of(name),
                };
                let target = config.target_states.get(name).copied().unwrap_or(connect_topics::TargetState::Started);
                Connector {
                    name: name.clone(),
                    kind,
                    state: own.map_or(ConnectState::Unassigned, |s| s.state.clone()),
                    target_state: Some(target),
                    worker_id: own.map(|s| s.worker_id.clone()).unwrap_or_default(),
                    trace: own.and_then(|s| s.trace.clone()),
                    tasks,
                    settings: Some(MirrorSettings::keep(|name| cfg.get(name))),
                }
            })
            .collect()
    }

    /// The last replicated upstream offset per source partition of
    /// deployment `d`: MirrorSourceConnector offsets whose `cluster` is the
    /// flow's source alias, sorted by topic and partition. When several
    /// connectors committed offsets for one partition (a connector deleted
    /// and re-created under another name; Connect never deletes offsets), the
    /// deployment's existing connectors win; among equals the highest offset.
    pub fn replicated(&self, d: &Mm2Config) -> Vec<ReplicatedOffset> {
        let Some(store) = self.offsets.get(&d.offsets_topic) else {
            return Vec::new();
        };
        let source = self.alias(d.flow.source);
        let existing: BTreeSet<String> = self.connectors(d).into_iter().map(|c| c.name).collect();
        // (topic, partition) -> (from an existing connector, offset)
        let mut best: BTreeMap<(&str, i32), (bool, i64)> = BTreeMap::new();
        for (key, offset) in store.source.values().filter(|(k, _)| k.cluster == source) {
            let candidate = (existing.contains(&key.connector), *offset);
            best.entry((key.topic.as_str(), key.partition))
                .and_modify(|b| *b = (*b).max(candidate))
                .or_insert(candidate);
        }
        let mut names = Names::default();
        best.into_iter()
            .map(|((topic, partition), (_, upstream_offset))| ReplicatedOffset {
                topic: names.get(topic),
                partition,
                upstream_offset,
            })
            .collect()
    }

    /// The newest heartbeat per (topic, source alias, target alias), by the
    /// timestamp in the heartbeat, sorted by those three.
    pub fn heartbeats(&self) -> Vec<Heartbeat> {
        let mut newest: BTreeMap<(&str, &str, &str), &Heartbeat> = BTreeMap::new();
        for hb in self.heartbeats.values().flat_map(BTreeMap::values) {
            let slot = newest.entry((&hb.topic, &hb.source_alias, &hb.target_alias)).or_insert(hb);
            if hb.emitted_at > slot.emitted_at {
                *slot = hb;
            }
        }
        newest.into_values().cloned().collect()
    }

    /// The latest checkpoint per (source alias, group, topic, partition), by
    /// record timestamp, sorted by those four.
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        let mut latest: BTreeMap<(&str, &str, &str, i32), &Checkpoint> = BTreeMap::new();
        for cp in self.checkpoints.values().flat_map(BTreeMap::values) {
            let slot = latest.entry((&cp.source_alias, &cp.group, &cp.topic, cp.partition)).or_insert(cp);
            if cp.written_at > slot.written_at {
                *slot = cp;
            }
        }
        latest.into_values().cloned().collect()
    }
}

/// Connect's status and config keys are strings (`StringDeserializer`).
fn string_key<'a>(rec: Record<'a>) -> Result<&'a str, String> {
    let key = rec.key.ok_or_else(|| format!("{}: record without a key", rec.topic))?;
    std::str::from_utf8(key).map_err(|_| format!("{}: key is not UTF-8", rec.topic))
}

/// The decoder's message, except that a config-topic value is never quoted:
/// connector configs can hold credentials.
fn describe(e: &ConnectTopicError) -> String {
    match e {
        ConnectTopicError::BadValue { topic: topic @ TopicKind::Config, key, expected, .. } => {
            format!("{topic}: key {key:?}: expected {expected}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::config::Mm2Flavour;
    use crate::model::TargetState;
    use crate::model::Ts;

    const STATUS: &str = "mirrormaker2-cluster-status";
    const CONFIGS: &str = "mirrormaker2-cluster-configs";
    const OFFSETS: &str = "mirrormaker2-cluster-offsets";
    const MSC: &str = "dc->dr.MirrorSourceConnector";

    fn deployment(flow: Flow) -> Mm2Config {
        Mm2Config {
            name: format!("mm2-{}", flow.source.label().to_lowercase()),
            flow,
            runs_on: flow.target,
            flavour: Mm2Flavour::Strimzi,
            group_id: "mirrormaker2-cluster".into(),
            config_topic: CONFIGS.into(),
            offsets_topic: OFFSETS.into(),
            status_topic: STATUS.into(),
            connect_url: None,
            actions: crate::config::Mm2Actions::none(),
            canary: None,
        }
    }

    fn state() -> Mm2State {
        Mm2State::new(["dc".into(), "dr".into()], vec![deployment(Flow::DC_TO_DR)], ReplicationPolicy::identity())
    }

    fn put(s: &mut Mm2State, topic: &str, key: &str, value: Option<&str>) -> Result<(), String> {
        s.apply(Record {
            topic,
            partition: 0,
            key: Some(key.as_bytes()),
            value: value.map(str::as_bytes),
            timestamp_ms: Some(1_700_000_000_000),
        })
    }

    fn ok(s: &mut Mm2State, topic: &str, key: &str, value: Option<&str>) {
        put(s, topic, key, value).unwrap_or_else(|e| panic!("{key}: {e}"));
    }

    /// Connect's JSON for a connector config (`putConnectorConfig`).
    fn config(class: &str, source: &str, target: &str) -> String {
        format!(
            r#"{{"properties":{{"connector.class":"org.apache.kafka.connect.mirror.{class}","source.cluster.alias":"{source}","target.cluster.alias":"{target}","tasks.max":"1"}}}}"#
        )
    }

    /// Connect's JSON for a status value (`KafkaStatusBackingStore.serialize`).
    fn status(state: &str, worker: &str) -> String {
        format!(r#"{{"state":"{state}","trace":null,"worker_id":"{worker}","generation":3,"version":"4.3.1"}}"#)
    }

    fn names(cs: &[Connector]) -> Vec<&str> {
        cs.iter().map(|c| c.name.as_str()).collect()
    }

    fn only<'a>(cs: &'a [Connector], name: &str) -> &'a Connector {
        cs.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no connector {name} in {:?}", names(cs)))
    }

    /// The four Strimzi-named connectors of the lab, RUNNING with one task each.
    fn lab_connectors(s: &mut Mm2State) {
        for (name, class, src, tgt) in [
            (MSC, "MirrorSourceConnector", "dc", "dr"),
            ("dc->dr.MirrorCheckpointConnector", "MirrorCheckpointConnector", "dc", "dr"),
            ("dc->dr.MirrorHeartbeatConnector", "MirrorHeartbeatConnector", "dc", "dr"),
            ("dc->dr.upstream.MirrorHeartbeatConnector", "MirrorHeartbeatConnector", "dr", "dc"),
        ] {
            ok(s, CONFIGS, &format!("connector-{name}"), Some(&config(class, src, tgt)));
            ok(s, STATUS, &format!("status-connector-{name}"), Some(&status("RUNNING", "10.0.0.1:8083")));
            ok(s, STATUS, &format!("status-task-{name}-0"), Some(&status("RUNNING", "10.0.0.2:8083")));
        }
    }

    #[test]
    fn connectors_join_status_and_config() {
        let mut s = state();
        lab_connectors(&mut s);
        // Keys of other kinds, in both topics, change nothing.
        ok(&mut s, CONFIGS, "session-key", Some(r#"{"key":"x","algorithm":"HmacSHA256","creation-timestamp":1}"#));
        ok(&mut s, CONFIGS, &format!("commit-{MSC}"), Some(r#"{"tasks":1}"#));
        ok(&mut s, CONFIGS, &format!("task-{MSC}-0"), Some(r#"{"properties":{}}"#));
        ok(&mut s, CONFIGS, "restart-connector-x", Some(r#"{"only-failed":false,"include-tasks":true}"#));
        ok(&mut s, STATUS, "something-else", Some("{}"));
        ok(
            &mut s,
            STATUS,
            &format!("status-topic-dc.heartbeats:connector-{MSC}"),
            Some(r#"{"topic":{"name":"dc.heartbeats","connector":"x","task":0,"discoverTimestamp":1}}"#),
        );

        let cs = s.connectors(&deployment(Flow::DC_TO_DR));
        assert_eq!(
            names(&cs),
            [
                "dc->dr.MirrorCheckpointConnector",
                "dc->dr.MirrorHeartbeatConnector",
                MSC,
                "dc->dr.upstream.MirrorHeartbeatConnector"
            ]
        );
        let msc = only(&cs, MSC);
        assert_eq!(msc.kind, ConnectorKind::Source);
        assert_eq!(msc.state, ConnectState::Running);
        assert_eq!(msc.target_state, Some(TargetState::Started));
        assert_eq!(msc.worker_id, "10.0.0.1:8083");
        assert_eq!(
            msc.tasks,
            [Task { id: 0, state: ConnectState::Running, worker_id: "10.0.0.2:8083".into(), trace: None }]
        );
        assert_eq!(only(&cs, "dc->dr.upstream.MirrorHeartbeatConnector").kind, ConnectorKind::Heartbeat);
        assert_eq!(only(&cs, "dc->dr.MirrorCheckpointConnector").kind, ConnectorKind::Checkpoint);
        // The reverse deployment on the same topics sees none of them.
        assert!(s.connectors(&deployment(Flow::DR_TO_DC)).is_empty());
    }

    #[test]
    fn task_ids_split_at_the_last_dash() {
        let mut s = state();
        // A dedicated-mode style name with dashes and digits, aliases in its config.
        let name = "mirror-2-east";
        ok(&mut s, CONFIGS, &format!("connector-{name}"), Some(&config("MirrorSourceConnector", "dc", "dr")));
        ok(&mut s, STATUS, &format!("status-connector-{name}"), Some(&status("RUNNING", "w:1")));
        ok(&mut s, STATUS, &format!("status-task-{name}-12"), Some(&status("FAILED", "w:2")));
        ok(&mut s, STATUS, &format!("status-task-{name}-3"), Some(&status("RUNNING", "w:1")));
        ok(&mut s, STATUS, &format!("status-task-{MSC}-1"), Some(&status("RUNNING", "w:1")));
        let cs = s.connectors(&deployment(Flow::DC_TO_DR));
        assert_eq!(names(&cs), [name]);
        let ids: Vec<(u32, &ConnectState)> = cs[0].tasks.iter().map(|t| (t.id, &t.state)).collect();
        assert_eq!(ids, [(3, &ConnectState::Running), (12, &ConnectState::Failed)]);
        // A task status without a connector config is no connector.
        assert!(!names(&cs).contains(&MSC));
    }

    #[test]
    fn paused_and_stopped_differ_by_target_state() {
        let mut s = state();
        lab_connectors(&mut s);
        let hb = "dc->dr.MirrorHeartbeatConnector";
        ok(&mut s, CONFIGS, &format!("target-state-{MSC}"), Some(r#"{"state":"PAUSED","state.v2":"PAUSED"}"#));
        ok(&mut s, STATUS, &format!("status-connector-{MSC}"), Some(&status("PAUSED", "w:1")));
        ok(&mut s, STATUS, &format!("status-task-{MSC}-0"), Some(&status("PAUSED", "w:1")));
        ok(&mut s, CONFIGS, &format!("target-state-{hb}"), Some(r#"{"state":"PAUSED","state.v2":"STOPPED"}"#));
        ok(&mut s, STATUS, &format!("status-connector-{hb}"), Some(&status("STOPPED", "w:1")));
        ok(&mut s, STATUS, &format!("status-task-{hb}-0"), None);

        let cs = s.connectors(&deployment(Flow::DC_TO_DR));
        let (msc, hb_c) = (only(&cs, MSC), only(&cs, hb));
        assert_eq!((&msc.state, msc.target_state), (&ConnectState::Paused, Some(TargetState::Paused)));
        assert_eq!(msc.tasks[0].state, ConnectState::Paused);
        assert_eq!((&hb_c.state, hb_c.target_state), (&ConnectState::Stopped, Some(TargetState::Stopped)));
        assert!(hb_c.tasks.is_empty());

        // Resumed: Connect writes STARTED.
        ok(&mut s, CONFIGS, &format!("target-state-{MSC}"), Some(r#"{"state":"STARTED","state.v2":"STARTED"}"#));
        assert_eq!(only(&s.connectors(&deployment(Flow::DC_TO_DR)), MSC).target_state, Some(TargetState::Started));
        // A target-state tombstone falls back to Connect's default.
        ok(&mut s, CONFIGS, &format!("target-state-{hb}"), None);
        assert_eq!(only(&s.connectors(&deployment(Flow::DC_TO_DR)), hb).target_state, Some(TargetState::Started));
    }

    #[test]
    fn tombstones_delete() {
        let mut s = state();
        lab_connectors(&mut s);
        let cp = "dc->dr.MirrorCheckpointConnector";
        let hb = "dc->dr.MirrorHeartbeatConnector";
        ok(&mut s, STATUS, &format!("status-task-{MSC}-1"), Some(&status("RUNNING", "w:1")));
        ok(&mut s, STATUS, &format!("status-task-{MSC}-0"), None);
        // A connector status tombstone takes its tasks with it.
        ok(&mut s, STATUS, &format!("status-connector-{cp}"), None);
        // A deleted connector: config tombstone.
        ok(&mut s, CONFIGS, &format!("connector-{hb}"), None);

        let cs = s.connectors(&deployment(Flow::DC_TO_DR));
        assert!(!names(&cs).contains(&hb));
        let ids: Vec<u32> = only(&cs, MSC).tasks.iter().map(|t| t.id).collect();
        assert_eq!(ids, [1]);
        let cp_c = only(&cs, cp);
        assert_eq!((&cp_c.state, cp_c.worker_id.as_str()), (&ConnectState::Unassigned, ""));
        assert!(cp_c.tasks.is_empty());

        // Re-created: it comes back, with the status written since.
        ok(&mut s, CONFIGS, &format!("connector-{hb}"), Some(&config("MirrorHeartbeatConnector", "dc", "dr")));
        assert_eq!(only(&s.connectors(&deployment(Flow::DC_TO_DR)), hb).state, ConnectState::Running);
    }

    #[test]
    fn membership_by_name_then_by_aliases() {
        let mut s = Mm2State::new(
            ["dc".into(), "dr".into()],
            vec![deployment(Flow::DC_TO_DR), deployment(Flow::DR_TO_DC)],
            ReplicationPolicy::identity(),
        );
        let cfg = |class| config(class, "dc", "dr");
        // Strimzi names decide alone, whatever the aliases in the config.
        ok(&mut s, CONFIGS, "connector-dr->dc.MirrorSourceConnector", Some(&cfg("MirrorSourceConnector")));
        ok(&mut s, CONFIGS, "connector-dc->dr.upstream.MirrorHeartbeatConnector", Some(&config("X", "dr", "dc")));
        // Dedicated-mode names: the aliases decide.
        ok(&mut s, CONFIGS, "connector-MirrorSourceConnector", Some(&cfg("MirrorSourceConnector")));
        ok(
            &mut s,
            CONFIGS,
            "connector-MirrorHeartbeatConnector",
            Some(&config("MirrorHeartbeatConnector", "dr", "dc")),
        );
        // Another pair's flow, and a connector with no aliases at all.
        ok(
            &mut s,
            CONFIGS,
            "connector-eu->us.MirrorSourceConnector",
            Some(&config("MirrorSourceConnector", "eu", "us")),
        );
        ok(&mut s, CONFIGS, "connector-jdbc-sink", Some(r#"{"properties":{"connector.class":"io.x.JdbcSink"}}"#));

        let dc_dr = s.connectors(&deployment(Flow::DC_TO_DR));
        assert_eq!(names(&dc_dr), ["MirrorSourceConnector", "dc->dr.upstream.MirrorHeartbeatConnector"]);
        // Kind from the class when it names one, else from the name.
        assert_eq!(only(&dc_dr, "dc->dr.upstream.MirrorHeartbeatConnector").kind, ConnectorKind::Heartbeat);
        let dr_dc = s.connectors(&deployment(Flow::DR_TO_DC));
        assert_eq!(names(&dr_dc), ["MirrorHeartbeatConnector", "dr->dc.MirrorSourceConnector"]);
    }

    #[test]
    fn malformed_records_are_skipped_and_keep_the_previous_state() {
        let mut s = state();
        lab_connectors(&mut s);
        let err = put(&mut s, STATUS, &format!("status-connector-{MSC}"), Some("{not json")).unwrap_err();
        assert!(err.contains("status topic") && err.contains("not JSON"), "{err}");
        let err = put(&mut s, STATUS, &format!("status-task-{MSC}-x"), Some(&status("FAILED", "w"))).unwrap_err();
        assert!(err.contains("status-task-<connector>-<task id>"), "{err}");
        assert_eq!(only(&s.connectors(&deployment(Flow::DC_TO_DR)), MSC).state, ConnectState::Running);

        let no_key = Record { topic: STATUS, partition: 0, key: None, value: Some(b"{}"), timestamp_ms: None };
        assert_eq!(s.apply(no_key), Err(format!("{STATUS}: record without a key")));
        let bad_utf8 = Record { key: Some(&[0xff, 0xfe]), ..no_key };
        assert_eq!(s.apply(bad_utf8), Err(format!("{STATUS}: key is not UTF-8")));

        // A config value is never quoted back: it may carry credentials.
        let secret = r#"{"properties":"sasl.password=hunter2"}"#;
        let err = put(&mut s, CONFIGS, &format!("connector-{MSC}"), Some(secret)).unwrap_err();
        assert!(err.contains("`properties` object") && !err.contains("hunter2"), "{err}");
        assert_eq!(names(&s.connectors(&deployment(Flow::DC_TO_DR))).len(), 4);
    }

    fn offsets_key(connector: &str, cluster: &str, topic: &str, partition: i32) -> String {
        format!(r#"["{connector}",{{"cluster":"{cluster}","partition":{partition},"topic":"{topic}"}}]"#)
    }

    #[test]
    fn replicated_offsets_of_the_flow_source() {
        let mut s = state();
        lab_connectors(&mut s);
        let d = deployment(Flow::DC_TO_DR);
        ok(&mut s, OFFSETS, &offsets_key(MSC, "dc", "orders", 0), Some(r#"{"offset":41}"#));
        ok(&mut s, OFFSETS, &offsets_key(MSC, "dc", "orders", 0), Some(r#"{"offset":99}"#));
        ok(&mut s, OFFSETS, &offsets_key(MSC, "dc", "orders", 1), Some(r#"{"offset":7}"#));
        ok(&mut s, OFFSETS, &offsets_key(MSC, "dc", "gone", 0), Some(r#"{"offset":5}"#));
        ok(&mut s, OFFSETS, &offsets_key(MSC, "dc", "gone", 0), None);
        ok(&mut s, OFFSETS, &offsets_key(MSC, "dc", "reset", 0), Some(r#"{"offset":null}"#));
        // Another source cluster's partitions are not this flow's.
        ok(&mut s, OFFSETS, &offsets_key("eu->dr.MirrorSourceConnector", "eu", "orders", 0), Some(r#"{"offset":1}"#));
        // Other MM2 connectors and other connectors' offsets are ignored.
        ok(
            &mut s,
            OFFSETS,
            r#"["dc->dr.MirrorHeartbeatConnector",{"sourceClusterAlias":"dc","targetClusterAlias":"dr"}]"#,
            Some(r#"{"offset":0}"#),
        );
        ok(&mut s, OFFSETS, r#"["jdbc",{"table":"t"}]"#, Some(r#"{"position":3}"#));
        // A deleted connector's higher offset loses to an existing connector's.
        ok(&mut s, OFFSETS, &offsets_key("old-source", "dc", "orders", 1), Some(r#"{"offset":500}"#));
        // ...but stands where no existing connector committed.
        ok(&mut s, OFFSETS, &offsets_key("old-source", "dc", "legacy", 0), Some(r#"{"offset":12}"#));

        let got: Vec<(String, i32, i64)> =
            s.replicated(&d).into_iter().map(|r| (r.topic.to_string(), r.partition, r.upstream_offset)).collect();
        assert_eq!(got, [("legacy".into(), 0, 12), ("orders".into(), 0, 99), ("orders".into(), 1, 7)]);

        let err = put(&mut s, OFFSETS, "not json", Some("{}")).unwrap_err();
        assert!(err.starts_with("offsets topic"), "{err}");
    }

    fn at(ms: i64) -> Ts {
        Utc.timestamp_millis_opt(ms).single().expect("valid")
    }

    fn beat(
        s: &mut Mm2State,
        topic: &str,
        partition: i32,
        src: &str,
        tgt: &str,
        ms: Option<i64>,
    ) -> Result<(), String> {
        let hb = wire::Heartbeat { source_alias: src.into(), target_alias: tgt.into(), timestamp_ms: ms.unwrap_or(0) };
        let key = hb.encode_key().expect("short aliases");
        let value = ms.map(|_| hb.encode_value());
        s.apply(Record { topic, partition, key: Some(&key), value: value.as_deref(), timestamp_ms: Some(1) })
    }

    #[test]
    fn newest_heartbeat_per_topic_and_alias_pair() {
        let mut s = state();
        for (topic, p, src, tgt, ms) in [
            ("heartbeats", 0, "dc", "dr", 1_000),
            ("heartbeats", 0, "dc", "dr", 3_000),
            ("heartbeats", 0, "dr", "dc", 2_000),
            ("dc.heartbeats", 0, "dc", "dr", 2_500),
            // Another partition with an older beat of the same pair.
            ("dc.heartbeats", 1, "dc", "dr", 500),
            ("dr.dc.heartbeats", 0, "dc", "dr", 100),
        ] {
            beat(&mut s, topic, p, src, tgt, Some(ms)).expect("valid heartbeat");
        }
        let got: Vec<(String, String, String, Ts)> =
            s.heartbeats().into_iter().map(|h| (h.topic, h.source_alias, h.target_alias, h.emitted_at)).collect();
        let row = |t: &str, s: &str, g: &str, ms| (t.to_owned(), s.to_owned(), g.to_owned(), at(ms));
        assert_eq!(
            got,
            [
                row("dc.heartbeats", "dc", "dr", 2_500),
                row("dr.dc.heartbeats", "dc", "dr", 100),
                row("heartbeats", "dc", "dr", 3_000),
                row("heartbeats", "dr", "dc", 2_000),
            ]
        );
        // A tombstone deletes its key in its partition only.
        beat(&mut s, "dc.heartbeats", 0, "dc", "dr", None).expect("tombstone");
        assert_eq!(s.heartbeats().iter().find(|h| h.topic == "dc.heartbeats").map(|h| h.emitted_at), Some(at(500)));

        let key = wire::Heartbeat { source_alias: "dc".into(), target_alias: "dr".into(), timestamp_ms: 0 }
            .encode_key()
            .expect("short");
        let bad =
            Record { topic: "heartbeats", partition: 0, key: Some(&key), value: Some(&[0, 1]), timestamp_ms: None };
        let err = s.apply(bad).unwrap_err();
        assert!(err.starts_with("heartbeats: heartbeat value"), "{err}");
        let err = beat(&mut s, "heartbeats", 0, "dc", "dr", Some(i64::MAX)).unwrap_err();
        assert!(err.contains("out of range"), "{err}");
        assert_eq!(s.heartbeats().len(), 4);
    }

    fn checkpoint(
        s: &mut Mm2State,
        topic: &str,
        group: &str,
        upstream: i64,
        written_ms: Option<i64>,
    ) -> Result<(), String> {
        let cp = wire::Checkpoint {
            group: group.into(),
            topic: "orders".into(),
            partition: 2,
            upstream_offset: upstream,
            downstream_offset: upstream - 1,
            metadata: String::new(),
        };
        let (key, value) = (cp.encode_key().expect("short"), cp.encode_value().expect("short"));
        s.apply(Record { topic, partition: 0, key: Some(&key), value: Some(&value), timestamp_ms: written_ms })
    }

    #[test]
    fn latest_checkpoint_per_source_group_and_partition() {
        let mut s = state();
        checkpoint(&mut s, "dc.checkpoints.internal", "orders-app", 10, Some(1_000)).expect("valid");
        checkpoint(&mut s, "dc.checkpoints.internal", "orders-app", 20, Some(2_000)).expect("valid");
        checkpoint(&mut s, "dc.checkpoints.internal", "billing", 5, Some(1_500)).expect("valid");
        checkpoint(&mut s, "eu.checkpoints.internal", "orders-app", 7, Some(1_200)).expect("valid");
        let all = s.checkpoints();
        assert!(Arc::ptr_eq(&all[1].group, &all[2].group), "one copy of a group's name");
        assert!(Arc::ptr_eq(&all[0].topic, &all[2].topic), "one copy of a topic's name");
        assert!(Arc::ptr_eq(&all[0].source_alias, &all[1].source_alias), "one copy of a source alias");
        let got: Vec<(String, String, i64, i64, Ts)> = all
            .into_iter()
            .map(|c| {
                (c.source_alias.to_string(), c.group.to_string(), c.upstream_offset, c.downstream_offset, c.written_at)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("dc".into(), "billing".into(), 5, 4, at(1_500)),
                ("dc".into(), "orders-app".into(), 20, 19, at(2_000)),
                ("eu".into(), "orders-app".into(), 7, 6, at(1_200)),
            ]
        );
        let err = checkpoint(&mut s, "dc.checkpoints.internal", "g", 1, None).unwrap_err();
        assert!(err.contains("timestamp"), "{err}");

        s.forget_topic("dc.checkpoints.internal");
        assert_eq!(s.checkpoints().len(), 1);
    }

    #[test]
    fn which_topics_are_read() {
        let s = state();
        for topic in
            [STATUS, CONFIGS, OFFSETS, "heartbeats", "dc.heartbeats", "dr.dc.heartbeats", "dc.checkpoints.internal"]
        {
            assert!(s.wants(topic), "{topic}");
        }
        for topic in
            ["orders", "myheartbeats", "mm2-offset-syncs.dr.internal", "__consumer_offsets", ".checkpoints.internal"]
        {
            assert!(!s.wants(topic), "{topic}");
        }
        assert_eq!(s.checkpoints_source("dc.checkpoints.internal"), Some("dc"));

        let custom = Mm2State::new(
            ["dc".into(), "dr".into()],
            Vec::new(),
            ReplicationPolicy::Default { separator: "__".into(), internal_topic_separator_enabled: true },
        );
        assert_eq!(custom.checkpoints_source("dc__checkpoints__internal"), Some("dc"));
        assert!(custom.wants("dc__heartbeats") && !custom.wants("dc.heartbeats"));
    }
}
