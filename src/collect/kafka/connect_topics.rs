//! Decoders for the three internal topics of the Kafka Connect cluster that
//! runs MM2: status, config and offsets.
//!
//! Reading these topics tells kdrill what the Connect REST API would, without
//! reaching the REST port (which Strimzi's NetworkPolicy closes to outsiders,
//! and which MM2's dedicated mode does not expose at all).
//!
//! Connect writes every value with its internal converter, a `JsonConverter`
//! with `schemas.enable=false` (`Worker`), so values are bare JSON; status and
//! config keys are plain strings, offsets keys JSON arrays. A `None` value is a
//! tombstone. Checked against Kafka 3.9.1 and 4.2.0 (`KafkaStatusBackingStore`,
//! `KafkaConfigBackingStore`, `OffsetStorageWriter`, `OffsetUtils`,
//! `MirrorUtils`); the JSON in the tests was printed by Kafka 4.2.0's own
//! serialisers.
//!
//! Keys that belong to Connect features kdrill does not read (restart
//! requests, session keys, ...) or to other connectors' offsets decode to
//! `Ok(None)`; a key or value that claims to be one kdrill reads but is
//! malformed is an error naming the topic, the key and what was expected.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};
use thiserror::Error;

/// Which Connect topic a [`ConnectTopicError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    Status,
    Config,
    Offsets,
}

impl fmt::Display for TopicKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Status => "status topic",
            Self::Config => "config topic",
            Self::Offsets => "offsets topic",
        })
    }
}

/// A record of a Connect topic that kdrill cannot make sense of.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnectTopicError {
    #[error("{topic}: key {key:?}: expected {expected}")]
    BadKey { topic: TopicKind, key: String, expected: &'static str },
    #[error("{topic}: key {key:?}: value is not JSON: {reason}")]
    NotJson { topic: TopicKind, key: String, reason: String },
    #[error("{topic}: key {key:?}: expected {expected}, found {found}")]
    BadValue { topic: TopicKind, key: String, expected: &'static str, found: String },
}

/// Builds errors for one record, so each parser states only what it expected.
struct Ctx<'a> {
    topic: TopicKind,
    key: &'a str,
}

impl Ctx<'_> {
    fn bad_key(&self, expected: &'static str) -> ConnectTopicError {
        ConnectTopicError::BadKey { topic: self.topic, key: self.key.to_owned(), expected }
    }

    fn bad_value(&self, expected: &'static str, found: Option<&Value>) -> ConnectTopicError {
        ConnectTopicError::BadValue {
            topic: self.topic,
            key: self.key.to_owned(),
            expected,
            found: found.map_or_else(|| "nothing".to_owned(), describe),
        }
    }

    fn json(&self, bytes: &[u8]) -> Result<Value, ConnectTopicError> {
        serde_json::from_slice(bytes).map_err(|e| ConnectTopicError::NotJson {
            topic: self.topic,
            key: self.key.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Parses a value that must be a JSON object; `None` stays a tombstone.
    fn object(
        &self,
        value: Option<&[u8]>,
        expected: &'static str,
    ) -> Result<Option<Map<String, Value>>, ConnectTopicError> {
        match value.map(|bytes| self.json(bytes)).transpose()? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(self.bad_value(expected, Some(&other))),
        }
    }

    fn string(
        &self,
        map: &Map<String, Value>,
        field: &str,
        expected: &'static str,
    ) -> Result<String, ConnectTopicError> {
        match map.get(field) {
            Some(Value::String(s)) => Ok(s.clone()),
            other => Err(self.bad_value(expected, other)),
        }
    }

    fn optional_string(
        &self,
        map: &Map<String, Value>,
        field: &str,
        expected: &'static str,
    ) -> Result<Option<String>, ConnectTopicError> {
        match map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            other => Err(self.bad_value(expected, other)),
        }
    }

    fn integer(&self, map: &Map<String, Value>, field: &str, expected: &'static str) -> Result<i64, ConnectTopicError> {
        let value = map.get(field);
        value.and_then(Value::as_i64).ok_or_else(|| self.bad_value(expected, value))
    }

    /// A task id or partition number: Java reads these as an `int`.
    fn index<T: TryFrom<i64>>(
        &self,
        map: &Map<String, Value>,
        field: &str,
        expected: &'static str,
    ) -> Result<T, ConnectTopicError> {
        let n = self.integer(map, field, expected)?;
        T::try_from(n).map_err(|_| self.bad_value(expected, map.get(field)))
    }
}

/// A short description of a JSON value for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("string {s:?}"),
        Value::String(_) => "a long string".to_owned(),
        Value::Array(a) => format!("an array of {} element(s)", a.len()),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Splits `<name>-<id>` at the last `-`: connector names may contain `-`
/// (Strimzi's are `dc->dr.MirrorSourceConnector`) but task ids cannot.
/// Java splits on every `-` and rejoins all but the last piece; the result is
/// the same for every key Connect writes. Ids are Java `int`s.
fn split_task_id(rest: &str) -> Option<(&str, u32)> {
    let (connector, id) = rest.rsplit_once('-')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let task = id.parse::<i32>().ok().and_then(|n| u32::try_from(n).ok())?;
    Some((connector, task))
}

// ---------------------------------------------------------------------------
// Status topic

const CONNECTOR_STATUS_PREFIX: &str = "status-connector-";
const TASK_STATUS_PREFIX: &str = "status-task-";
const TOPIC_STATUS_PREFIX: &str = "status-topic-";
const TOPIC_STATUS_SEPARATOR: &str = ":connector-";

/// What a status-topic record is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatusKey {
    /// `status-connector-<name>`.
    Connector(String),
    /// `status-task-<name>-<id>`.
    Task { connector: String, task: u32 },
    /// `status-topic-<topic>:connector-<name>`: a topic the connector used (KIP-558).
    Topic { topic: String, connector: String },
}

/// Parses a status-topic key; `Ok(None)` for a key of no known kind (Connect
/// discards those too).
pub fn parse_status_key(key: &str) -> Result<Option<StatusKey>, ConnectTopicError> {
    let ctx = Ctx { topic: TopicKind::Status, key };
    // Same order of tests as KafkaStatusBackingStore.read.
    if let Some(name) = key.strip_prefix(CONNECTOR_STATUS_PREFIX) {
        if name.is_empty() {
            return Err(ctx.bad_key("a connector name after `status-connector-`"));
        }
        Ok(Some(StatusKey::Connector(name.to_owned())))
    } else if let Some(rest) = key.strip_prefix(TASK_STATUS_PREFIX) {
        let (connector, task) =
            split_task_id(rest).ok_or_else(|| ctx.bad_key("`status-task-<connector>-<task id>`"))?;
        Ok(Some(StatusKey::Task { connector: connector.to_owned(), task }))
    } else if let Some(rest) = key.strip_prefix(TOPIC_STATUS_PREFIX) {
        // Topic names cannot contain ':', so the first one ends the topic.
        let expected = "`status-topic-<topic>:connector-<connector>`";
        let colon = rest.find(':').ok_or_else(|| ctx.bad_key(expected))?;
        let (topic, rest) = rest.split_at(colon);
        let connector = rest
            .strip_prefix(TOPIC_STATUS_SEPARATOR)
            .filter(|c| !c.is_empty() && !topic.is_empty())
            .ok_or_else(|| ctx.bad_key(expected))?;
        Ok(Some(StatusKey::Topic { topic: topic.to_owned(), connector: connector.to_owned() }))
    } else {
        Ok(None)
    }
}

/// A connector's or task's state (`AbstractStatus.State`): the model's own
/// type. Unknown names are kept, so a newer Connect cannot make kdrill drop
/// a status.
pub use crate::model::ConnectState;

/// The value of a `status-connector-*` or `status-task-*` record:
/// `{"state":..,"trace":..,"worker_id":..,"generation":..,"version":..}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusValue {
    pub state: ConnectState,
    /// The stack trace of a FAILED connector or task.
    pub trace: Option<String>,
    /// `host:port` of the worker's REST listener.
    pub worker_id: String,
    /// The Connect group generation that wrote it: a lower generation than
    /// the last one seen is stale.
    pub generation: i64,
    /// The connector plugin version; written since Kafka 4.1, absent before.
    pub version: Option<String>,
}

/// The value of a `status-topic-*` record: `{"topic":{"name":..,"connector":..,
/// "task":..,"discoverTimestamp":..}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStatus {
    pub topic: String,
    pub connector: String,
    pub task: u32,
    pub discover_timestamp_ms: i64,
}

/// One status-topic record; a `None` status is a tombstone: the connector or
/// task was deleted (or the topic's usage was reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusRecord {
    Connector { connector: String, status: Option<StatusValue> },
    Task { connector: String, task: u32, status: Option<StatusValue> },
    Topic { topic: String, connector: String, status: Option<TopicStatus> },
}

/// Parses a status-topic record; `Ok(None)` for a key of no known kind.
pub fn parse_status_record(key: &str, value: Option<&[u8]>) -> Result<Option<StatusRecord>, ConnectTopicError> {
    let ctx = Ctx { topic: TopicKind::Status, key };
    let record = match parse_status_key(key)? {
        None => return Ok(None),
        Some(StatusKey::Connector(connector)) => {
            StatusRecord::Connector { connector, status: status_value(&ctx, value)? }
        }
        Some(StatusKey::Task { connector, task }) => {
            StatusRecord::Task { connector, task, status: status_value(&ctx, value)? }
        }
        Some(StatusKey::Topic { topic, connector }) => {
            StatusRecord::Topic { topic, connector, status: topic_status_value(&ctx, value)? }
        }
    };
    Ok(Some(record))
}

fn status_value(ctx: &Ctx<'_>, value: Option<&[u8]>) -> Result<Option<StatusValue>, ConnectTopicError> {
    let Some(map) = ctx.object(value, "a JSON object with `state`, `worker_id` and `generation`")? else {
        return Ok(None);
    };
    Ok(Some(StatusValue {
        state: ConnectState::parse(&ctx.string(&map, "state", "`state` as a string")?),
        trace: ctx.optional_string(&map, "trace", "`trace` as a string or null")?,
        worker_id: ctx.string(&map, "worker_id", "`worker_id` as a string")?,
        generation: ctx.integer(&map, "generation", "`generation` as an integer")?,
        version: ctx.optional_string(&map, "version", "`version` as a string or null")?,
    }))
}

fn topic_status_value(ctx: &Ctx<'_>, value: Option<&[u8]>) -> Result<Option<TopicStatus>, ConnectTopicError> {
    let Some(outer) = ctx.object(value, "a JSON object with a `topic` object")? else {
        return Ok(None);
    };
    let Some(Value::Object(map)) = outer.get("topic") else {
        return Err(ctx.bad_value("a `topic` object", outer.get("topic")));
    };
    Ok(Some(TopicStatus {
        topic: ctx.string(map, "name", "`topic.name` as a string")?,
        connector: ctx.string(map, "connector", "`topic.connector` as a string")?,
        task: ctx.index(map, "task", "`topic.task` as a task id")?,
        discover_timestamp_ms: ctx.integer(map, "discoverTimestamp", "`topic.discoverTimestamp` as an integer")?,
    }))
}

// ---------------------------------------------------------------------------
// Config topic

const TARGET_STATE_PREFIX: &str = "target-state-";
const CONNECTOR_PREFIX: &str = "connector-";
const TASK_PREFIX: &str = "task-";
const COMMIT_TASKS_PREFIX: &str = "commit-";

/// What the user asked a connector to be (`TargetState`), as opposed to what
/// it is (`ConnectState`): the model's own type.
pub use crate::model::TargetState;

fn parse_target_state(name: &str) -> Option<TargetState> {
    match name {
        "STARTED" => Some(TargetState::Started),
        "PAUSED" => Some(TargetState::Paused),
        "STOPPED" => Some(TargetState::Stopped),
        _ => None,
    }
}

/// A connector's or task's configuration as stored: `{"properties":{...}}`.
/// Values are as submitted, before config providers (`${file:...}`) resolve.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectorConfig {
    /// Connect allows null property values.
    pub properties: BTreeMap<String, Option<String>>,
}

impl ConnectorConfig {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(Option::as_deref)
    }

    /// E.g. `org.apache.kafka.connect.mirror.MirrorSourceConnector`.
    pub fn connector_class(&self) -> Option<&str> {
        self.get("connector.class")
    }

    pub fn source_cluster_alias(&self) -> Option<&str> {
        self.get("source.cluster.alias")
    }

    pub fn target_cluster_alias(&self) -> Option<&str> {
        self.get("target.cluster.alias")
    }
}

/// One config-topic record kdrill reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigRecord {
    /// `target-state-<name>`; `None` = tombstone, written when the connector
    /// is deleted.
    TargetState { connector: String, state: Option<TargetState> },
    /// `connector-<name>`; `None` = tombstone: the connector was deleted. The
    /// connectors that exist are those whose latest record here has a config.
    Connector { connector: String, config: Option<ConnectorConfig> },
    /// `task-<name>-<id>`. Connect never writes a tombstone here (and ignores
    /// one); task configs outlive a deleted connector until compaction.
    Task { connector: String, task: u32, config: Option<ConnectorConfig> },
    /// `commit-<name>`: `{"tasks":N}` makes the preceding N task configs take effect.
    TasksCommit { connector: String, tasks: u32 },
}

/// Parses a config-topic record; `Ok(None)` for keys kdrill does not read
/// (`restart-connector-`, `tasks-fencing-`, `session-key`, `logger-cluster-`, ...).
pub fn parse_config_record(key: &str, value: Option<&[u8]>) -> Result<Option<ConfigRecord>, ConnectTopicError> {
    let ctx = Ctx { topic: TopicKind::Config, key };
    // Same order of tests as KafkaConfigBackingStore's consumer callback.
    let record = if let Some(name) = key.strip_prefix(TARGET_STATE_PREFIX) {
        ConfigRecord::TargetState { connector: name.to_owned(), state: target_state(&ctx, value)? }
    } else if let Some(name) = key.strip_prefix(CONNECTOR_PREFIX) {
        ConfigRecord::Connector { connector: name.to_owned(), config: connector_config(&ctx, value)? }
    } else if let Some(rest) = key.strip_prefix(TASK_PREFIX) {
        let (connector, task) = split_task_id(rest).ok_or_else(|| ctx.bad_key("`task-<connector>-<task id>`"))?;
        ConfigRecord::Task { connector: connector.to_owned(), task, config: connector_config(&ctx, value)? }
    } else if let Some(name) = key.strip_prefix(COMMIT_TASKS_PREFIX) {
        let expected = "a JSON object with `tasks`";
        let map = ctx.object(value, expected)?.ok_or_else(|| ctx.bad_value(expected, None))?;
        ConfigRecord::TasksCommit {
            connector: name.to_owned(),
            tasks: ctx.index(&map, "tasks", "`tasks` as a task count")?,
        }
    } else {
        return Ok(None);
    };
    Ok(Some(record))
}

/// Reads `state.v2` when it is a string, else `state`, as Connect does:
/// `STOPPED` (Kafka ≥ 3.5) is written as `state: PAUSED` plus
/// `state.v2: STOPPED`, so older workers pause instead.
fn target_state(ctx: &Ctx<'_>, value: Option<&[u8]>) -> Result<Option<TargetState>, ConnectTopicError> {
    let expected = "`state.v2` or `state` as STARTED, PAUSED or STOPPED";
    let Some(map) = ctx.object(value, "a JSON object with `state`")? else {
        return Ok(None);
    };
    let name = match (map.get("state.v2"), map.get("state")) {
        (Some(Value::String(v2)), _) => v2,
        (_, Some(Value::String(v1))) => v1,
        (_, other) => return Err(ctx.bad_value(expected, other)),
    };
    parse_target_state(name).map(Some).ok_or_else(|| ctx.bad_value(expected, Some(&Value::String(name.clone()))))
}

fn connector_config(ctx: &Ctx<'_>, value: Option<&[u8]>) -> Result<Option<ConnectorConfig>, ConnectTopicError> {
    let Some(map) = ctx.object(value, "a JSON object with `properties`")? else {
        return Ok(None);
    };
    let Some(Value::Object(props)) = map.get("properties") else {
        return Err(ctx.bad_value("a `properties` object", map.get("properties")));
    };
    let properties = props
        .iter()
        .map(|(name, v)| match v {
            Value::String(s) => Ok((name.clone(), Some(s.clone()))),
            Value::Null => Ok((name.clone(), None)),
            other => Err(ctx.bad_value("property values as strings or null", Some(other))),
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(ConnectorConfig { properties }))
}

// ---------------------------------------------------------------------------
// Offsets topic

/// A MirrorSourceConnector source partition, `{"cluster","topic","partition"}`
/// (`MirrorUtils.wrapPartition`): one partition of a source-cluster topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceOffsetKey {
    pub connector: String,
    /// The source cluster alias.
    pub cluster: String,
    /// The topic's name on the source cluster.
    pub topic: String,
    pub partition: i32,
}

/// A MirrorCheckpointConnector source partition, `{"group","topic","partition"}`
/// (`Checkpoint.connectPartition`); `topic` is the target-side name. Its
/// offset is always 0: the position lives in the checkpoints topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckpointOffsetKey {
    pub connector: String,
    pub group: String,
    pub topic: String,
    pub partition: i32,
}

/// A MirrorHeartbeatConnector source partition,
/// `{"sourceClusterAlias","targetClusterAlias"}` (`Heartbeat.connectPartition`);
/// its offset is always 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeartbeatOffsetKey {
    pub connector: String,
    pub source_cluster_alias: String,
    pub target_cluster_alias: String,
}

/// An offsets-topic key written by one of MM2's connectors, recognised by the
/// shape of its partition map (connector names are free: `MirrorSourceConnector`
/// in dedicated mode, `dc->dr.MirrorSourceConnector` under Strimzi).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MirrorOffsetKey {
    Source(SourceOffsetKey),
    Checkpoint(CheckpointOffsetKey),
    Heartbeat(HeartbeatOffsetKey),
}

/// One offsets-topic record of an MM2 connector. For `Source`, `offset` is
/// the upstream offset of the last record whose replication was committed,
/// so the partition's replication lag is `log-end offset - (offset + 1)`.
/// `None`: a tombstone (offsets reset), or an offset map without `offset`,
/// which MM2 reads as "nothing committed".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorOffset {
    pub key: MirrorOffsetKey,
    pub offset: Option<i64>,
}

/// Parses an offsets-topic key: a JSON array `[connector name, partition map]`
/// (`OffsetStorageWriter`). `Ok(None)` when it is a well-formed Connect key of
/// some other connector, or has a null partition (which Connect skips).
pub fn parse_offset_key(key: &[u8]) -> Result<Option<MirrorOffsetKey>, ConnectTopicError> {
    let key_text = String::from_utf8_lossy(key);
    let ctx = Ctx { topic: TopicKind::Offsets, key: &key_text };
    let expected = "a JSON array [connector name, partition map]";
    let parsed: Value = serde_json::from_slice(key).map_err(|_| ctx.bad_key(expected))?;
    let [Value::String(connector), partition] = parsed.as_array().map(Vec::as_slice).unwrap_or_default() else {
        return Err(ctx.bad_key(expected));
    };
    let map = match partition {
        Value::Object(map) => map,
        Value::Null => return Ok(None),
        _ => return Err(ctx.bad_key(expected)),
    };
    mirror_partition(&ctx, connector, map)
}

/// Recognises MM2's partition maps by their exact set of fields.
fn mirror_partition(
    ctx: &Ctx<'_>,
    connector: &str,
    map: &Map<String, Value>,
) -> Result<Option<MirrorOffsetKey>, ConnectTopicError> {
    let has = |fields: &[&str]| map.len() == fields.len() && fields.iter().all(|f| map.contains_key(*f));
    let text = |field: &str| match map.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(ctx.bad_key("MM2 partition fields as strings")),
    };
    let partition = || {
        map.get("partition")
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| ctx.bad_key("`partition` as a 32-bit integer"))
    };
    let connector = connector.to_owned();
    let key = if has(&["cluster", "topic", "partition"]) {
        MirrorOffsetKey::Source(SourceOffsetKey {
            connector,
            cluster: text("cluster")?,
            topic: text("topic")?,
            partition: partition()?,
        })
    } else if has(&["group", "topic", "partition"]) {
        MirrorOffsetKey::Checkpoint(CheckpointOffsetKey {
            connector,
            group: text("group")?,
            topic: text("topic")?,
            partition: partition()?,
        })
    } else if has(&["sourceClusterAlias", "targetClusterAlias"]) {
        MirrorOffsetKey::Heartbeat(HeartbeatOffsetKey {
            connector,
            source_cluster_alias: text("sourceClusterAlias")?,
            target_cluster_alias: text("targetClusterAlias")?,
        })
    } else {
        return Ok(None);
    };
    Ok(Some(key))
}

/// Parses an offsets-topic record; `Ok(None)` unless the key is an MM2 one.
/// The value is `{"offset":N}` (`MirrorUtils.wrapOffset`).
pub fn parse_offset_record(key: &[u8], value: Option<&[u8]>) -> Result<Option<MirrorOffset>, ConnectTopicError> {
    let Some(mirror_key) = parse_offset_key(key)? else {
        return Ok(None);
    };
    let key_text = String::from_utf8_lossy(key);
    let ctx = Ctx { topic: TopicKind::Offsets, key: &key_text };
    let offset = match ctx.object(value, "a JSON object with `offset`")? {
        None => None,
        // MirrorUtils.unwrapOffset reads a missing or null offset as "none".
        Some(map) => match map.get("offset") {
            None | Some(Value::Null) => None,
            Some(_) => Some(ctx.integer(&map, "offset", "`offset` as an integer")?),
        },
    };
    Ok(Some(MirrorOffset { key: mirror_key, offset }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::rng::SplitMix64;

    // Golden JSON: printed by Kafka 4.2.0's own code from a single-file
    // `Gen.java` (`java -cp <kafka 4.2.0 jars> Gen.java`): KafkaStatusBackingStore
    // .serialize and KafkaConfigBackingStore.serializeTargetState called by
    // reflection with a JsonConverter configured as Worker does
    // (schemas.enable=false); the connector config and offsets records built
    // exactly as putConnectorConfig and OffsetStorageWriter.doFlush build them,
    // with MirrorUtils.wrapPartition / wrapOffset and Checkpoint/Heartbeat
    // .connectPartition. Kafka 3.9.1 printed the same, minus status `version`.

    const STATUS_CONNECTOR_RUNNING: &str =
        r#"{"state":"RUNNING","trace":null,"worker_id":"10.0.0.1:8083","generation":7,"version":"4.2.0"}"#;
    const STATUS_TASK_FAILED: &str = r#"{"state":"FAILED","trace":"org.apache.kafka.connect.errors.ConnectException: boom\n\tat X","worker_id":"10.0.0.2:8083","generation":8,"version":"4.2.0"}"#;
    const STATUS_TASK_FAILED_3_9: &str = r#"{"state":"FAILED","trace":"org.apache.kafka.connect.errors.ConnectException: boom\n\tat X","worker_id":"10.0.0.2:8083","generation":8}"#;
    const TARGET_STARTED: &str = r#"{"state":"STARTED","state.v2":"STARTED"}"#;
    const TARGET_PAUSED: &str = r#"{"state":"PAUSED","state.v2":"PAUSED"}"#;
    const TARGET_STOPPED: &str = r#"{"state":"PAUSED","state.v2":"STOPPED"}"#;
    const CONNECTOR_CONFIG: &str = r#"{"properties":{"connector.class":"org.apache.kafka.connect.mirror.MirrorSourceConnector","source.cluster.alias":"dc","target.cluster.alias":"dr"}}"#;
    const OFFSETS_SOURCE_KEY: &str =
        r#"["dc->dr.MirrorSourceConnector",{"cluster":"dc","partition":3,"topic":"orders"}]"#;
    const OFFSETS_SOURCE_VALUE: &str = r#"{"offset":123456}"#;
    const OFFSETS_CHECKPOINT_KEY: &str =
        r#"["dc->dr.MirrorCheckpointConnector",{"partition":3,"topic":"dc.orders","group":"orders-app"}]"#;
    const OFFSETS_ZERO_VALUE: &str = r#"{"offset":0}"#;
    const OFFSETS_HEARTBEAT_KEY: &str =
        r#"["dc->dr.MirrorHeartbeatConnector",{"sourceClusterAlias":"dc","targetClusterAlias":"dr"}]"#;

    const MSC: &str = "dc->dr.MirrorSourceConnector";

    fn status(key: &str, value: Option<&str>) -> Result<Option<StatusRecord>, ConnectTopicError> {
        parse_status_record(key, value.map(str::as_bytes))
    }

    fn config(key: &str, value: Option<&str>) -> Result<Option<ConfigRecord>, ConnectTopicError> {
        parse_config_record(key, value.map(str::as_bytes))
    }

    fn offset(key: &str, value: Option<&str>) -> Result<Option<MirrorOffset>, ConnectTopicError> {
        parse_offset_record(key.as_bytes(), value.map(str::as_bytes))
    }

    #[test]
    fn status_keys() {
        let key = |k| parse_status_key(k).expect("valid key");
        assert_eq!(key("status-connector-dc->dr.MirrorSourceConnector"), Some(StatusKey::Connector(MSC.into())));
        assert_eq!(
            key("status-task-dc->dr.MirrorSourceConnector-12"),
            Some(StatusKey::Task { connector: MSC.into(), task: 12 })
        );
        // A connector name that itself ends in -<digits>.
        assert_eq!(key("status-task-sink-2-0"), Some(StatusKey::Task { connector: "sink-2".into(), task: 0 }));
        assert_eq!(
            key("status-topic-dc.orders:connector-dc->dr.MirrorSourceConnector"),
            Some(StatusKey::Topic { topic: "dc.orders".into(), connector: MSC.into() })
        );
        assert_eq!(key("something-else"), None);

        for bad in [
            "status-connector-",
            "status-task-foo",
            "status-task-foo-",
            "status-task-foo-x1",
            "status-task-foo-2147483648",
            "status-topic-orders",
            "status-topic-:connector-x",
            "status-topic-orders:connector-",
            "status-topic-orders:task-x",
        ] {
            let err = parse_status_key(bad).expect_err(bad);
            assert!(matches!(err, ConnectTopicError::BadKey { topic: TopicKind::Status, .. }), "{bad}");
        }
        assert_eq!(
            parse_status_key("status-task-foo").unwrap_err().to_string(),
            r#"status topic: key "status-task-foo": expected `status-task-<connector>-<task id>`"#
        );
    }

    #[test]
    fn golden_status_values() {
        assert_eq!(
            status("status-connector-dc->dr.MirrorSourceConnector", Some(STATUS_CONNECTOR_RUNNING)),
            Ok(Some(StatusRecord::Connector {
                connector: MSC.into(),
                status: Some(StatusValue {
                    state: ConnectState::Running,
                    trace: None,
                    worker_id: "10.0.0.1:8083".into(),
                    generation: 7,
                    version: Some("4.2.0".into()),
                }),
            }))
        );
        let failed = |version: Option<&str>| StatusRecord::Task {
            connector: MSC.into(),
            task: 2,
            status: Some(StatusValue {
                state: ConnectState::Failed,
                trace: Some("org.apache.kafka.connect.errors.ConnectException: boom\n\tat X".into()),
                worker_id: "10.0.0.2:8083".into(),
                generation: 8,
                version: version.map(Into::into),
            }),
        };
        let key = "status-task-dc->dr.MirrorSourceConnector-2";
        assert_eq!(status(key, Some(STATUS_TASK_FAILED)), Ok(Some(failed(Some("4.2.0")))));
        assert_eq!(status(key, Some(STATUS_TASK_FAILED_3_9)), Ok(Some(failed(None))));
    }

    #[test]
    fn status_tombstones_states_and_errors() {
        assert_eq!(
            status("status-task-x-0", None),
            Ok(Some(StatusRecord::Task { connector: "x".into(), task: 0, status: None }))
        );
        for (name, state) in [
            ("UNASSIGNED", ConnectState::Unassigned),
            ("PAUSED", ConnectState::Paused),
            ("RESTARTING", ConnectState::Restarting),
            ("STOPPED", ConnectState::Stopped),
            ("DESTROYED", ConnectState::Other("DESTROYED".into())),
        ] {
            let json = format!(r#"{{"state":"{name}","worker_id":"w:1","generation":1}}"#);
            let Ok(Some(StatusRecord::Connector { status: Some(s), .. })) = status("status-connector-c", Some(&json))
            else {
                panic!("{json}");
            };
            assert_eq!(s.state, state);
            assert_eq!(s.state.label(), name);
        }

        let err =
            status("status-connector-c", Some(r#"{"state":"RUNNING","worker_id":"w","generation":"7"}"#)).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"status topic: key "status-connector-c": expected `generation` as an integer, found string "7""#
        );
        let err = status("status-connector-c", Some(r#"{"worker_id":"w","generation":7}"#)).unwrap_err();
        assert!(err.to_string().ends_with("expected `state` as a string, found nothing"), "{err}");
        let err = status("status-connector-c", Some("[1]")).unwrap_err();
        assert!(matches!(err, ConnectTopicError::BadValue { .. }), "{err}");
        let err = status("status-connector-c", Some("{nope")).unwrap_err();
        assert!(matches!(err, ConnectTopicError::NotJson { topic: TopicKind::Status, .. }), "{err}");
    }

    #[test]
    fn topic_status() {
        let json = r#"{"topic":{"name":"dc.orders","connector":"c","task":1,"discoverTimestamp":1700000000000}}"#;
        assert_eq!(
            status("status-topic-dc.orders:connector-c", Some(json)),
            Ok(Some(StatusRecord::Topic {
                topic: "dc.orders".into(),
                connector: "c".into(),
                status: Some(TopicStatus {
                    topic: "dc.orders".into(),
                    connector: "c".into(),
                    task: 1,
                    discover_timestamp_ms: 1_700_000_000_000,
                }),
            }))
        );
        let err = status("status-topic-t:connector-c", Some(r#"{"name":"t"}"#)).unwrap_err();
        assert!(err.to_string().ends_with("expected a `topic` object, found nothing"), "{err}");
    }

    #[test]
    fn golden_target_states() {
        for (json, state) in [
            (TARGET_STARTED, TargetState::Started),
            (TARGET_PAUSED, TargetState::Paused),
            (TARGET_STOPPED, TargetState::Stopped),
        ] {
            assert_eq!(
                config("target-state-dc->dr.MirrorSourceConnector", Some(json)),
                Ok(Some(ConfigRecord::TargetState { connector: MSC.into(), state: Some(state) }))
            );
        }
    }

    #[test]
    fn target_state_fallbacks_like_connect() {
        let state = |json: Option<&str>| match config("target-state-c", json) {
            Ok(Some(ConfigRecord::TargetState { state, .. })) => Ok(state),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        // Written by a pre-3.5 worker: no state.v2.
        assert_eq!(state(Some(r#"{"state":"PAUSED"}"#)), Ok(Some(TargetState::Paused)));
        // A non-string state.v2 is ignored in favour of state.
        assert_eq!(state(Some(r#"{"state":"PAUSED","state.v2":5}"#)), Ok(Some(TargetState::Paused)));
        assert_eq!(state(Some(r#"{"state":"PAUSED","state.v2":null}"#)), Ok(Some(TargetState::Paused)));
        assert_eq!(state(None), Ok(None));
        let err = state(Some(r#"{"state":"paused"}"#)).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"config topic: key "target-state-c": expected `state.v2` or `state` as STARTED, PAUSED or STOPPED, found string "paused""#
        );
        assert!(state(Some(r#"{"state.v2":7}"#)).is_err());
    }

    #[test]
    fn golden_connector_config() {
        let Ok(Some(ConfigRecord::Connector { connector, config: Some(cfg) })) =
            config("connector-dc->dr.MirrorSourceConnector", Some(CONNECTOR_CONFIG))
        else {
            panic!("connector config did not parse");
        };
        assert_eq!(connector, MSC);
        assert_eq!(cfg.connector_class(), Some("org.apache.kafka.connect.mirror.MirrorSourceConnector"));
        assert_eq!(cfg.source_cluster_alias(), Some("dc"));
        assert_eq!(cfg.target_cluster_alias(), Some("dr"));
        assert_eq!(cfg.get("tasks.max"), None);

        assert_eq!(
            config("connector-gone", None),
            Ok(Some(ConfigRecord::Connector { connector: "gone".into(), config: None }))
        );
    }

    #[test]
    fn task_configs_commits_and_other_keys() {
        let Ok(Some(ConfigRecord::Task { connector, task, config: Some(cfg) })) = config(
            "task-dc->dr.MirrorSourceConnector-3",
            Some(r#"{"properties":{"task.assigned.partitions":"orders-0","x":null}}"#),
        ) else {
            panic!("task config did not parse");
        };
        assert_eq!((connector.as_str(), task), (MSC, 3));
        assert_eq!(cfg.get("task.assigned.partitions"), Some("orders-0"));
        assert_eq!(cfg.properties.get("x"), Some(&None));

        assert_eq!(
            config("commit-dc->dr.MirrorSourceConnector", Some(r#"{"tasks":4}"#)),
            Ok(Some(ConfigRecord::TasksCommit { connector: MSC.into(), tasks: 4 }))
        );
        for ignored in
            ["restart-connector-c", "tasks-fencing-c", "session-key", "logger-cluster-org.apache", "whatever"]
        {
            assert_eq!(config(ignored, Some("{}")), Ok(None), "{ignored}");
        }

        assert!(matches!(
            config("task-nodash", Some("{}")),
            Err(ConnectTopicError::BadKey { topic: TopicKind::Config, .. })
        ));
        let err = config("connector-c", Some(r#"{"properties":{"tasks.max":4}}"#)).unwrap_err();
        assert!(err.to_string().ends_with("expected property values as strings or null, found number 4"), "{err}");
        let err = config("connector-c", Some(r#"{"config":{}}"#)).unwrap_err();
        assert!(err.to_string().ends_with("expected a `properties` object, found nothing"), "{err}");
        assert!(config("commit-c", None).is_err());
    }

    #[test]
    fn golden_offsets() {
        assert_eq!(
            offset(OFFSETS_SOURCE_KEY, Some(OFFSETS_SOURCE_VALUE)),
            Ok(Some(MirrorOffset {
                key: MirrorOffsetKey::Source(SourceOffsetKey {
                    connector: MSC.into(),
                    cluster: "dc".into(),
                    topic: "orders".into(),
                    partition: 3,
                }),
                offset: Some(123_456),
            }))
        );
        assert_eq!(
            offset(OFFSETS_CHECKPOINT_KEY, Some(OFFSETS_ZERO_VALUE)),
            Ok(Some(MirrorOffset {
                key: MirrorOffsetKey::Checkpoint(CheckpointOffsetKey {
                    connector: "dc->dr.MirrorCheckpointConnector".into(),
                    group: "orders-app".into(),
                    topic: "dc.orders".into(),
                    partition: 3,
                }),
                offset: Some(0),
            }))
        );
        assert_eq!(
            offset(OFFSETS_HEARTBEAT_KEY, None),
            Ok(Some(MirrorOffset {
                key: MirrorOffsetKey::Heartbeat(HeartbeatOffsetKey {
                    connector: "dc->dr.MirrorHeartbeatConnector".into(),
                    source_cluster_alias: "dc".into(),
                    target_cluster_alias: "dr".into(),
                }),
                offset: None,
            }))
        );
    }

    #[test]
    fn offsets_of_other_connectors_and_malformed_keys() {
        // Well-formed Connect keys that are not MM2's.
        for other in [
            r#"["jdbc-source",{"table":"t"}]"#,
            r#"["x",{"cluster":"dc","topic":"t","partition":0,"extra":1}]"#,
            r#"["x",null]"#,
        ] {
            assert_eq!(offset(other, Some(r#"{"position":5}"#)), Ok(None), "{other}");
        }
        for bad in ["not json", "{}", r#"["a"]"#, r#"[1,{}]"#, r#"["a",{},3]"#, r#"["a",7]"#] {
            let err = offset(bad, Some("{}")).expect_err(bad);
            assert!(matches!(err, ConnectTopicError::BadKey { topic: TopicKind::Offsets, .. }), "{bad}");
        }
        assert_eq!(
            parse_offset_key(b"[1,{}]").unwrap_err().to_string(),
            r#"offsets topic: key "[1,{}]": expected a JSON array [connector name, partition map]"#
        );
        let err = offset(r#"["x",{"cluster":"dc","topic":"t","partition":"0"}]"#, None).unwrap_err();
        assert!(err.to_string().ends_with("expected `partition` as a 32-bit integer"), "{err}");

        // Values: MirrorUtils.unwrapOffset treats a missing/null offset as none.
        let value = |v| offset(OFFSETS_SOURCE_KEY, v).map(|r| r.and_then(|m| m.offset));
        assert_eq!(value(Some("{}")), Ok(None));
        assert_eq!(value(Some(r#"{"offset":null}"#)), Ok(None));
        let err = value(Some(r#"{"offset":1.5}"#)).unwrap_err();
        assert!(err.to_string().ends_with("expected `offset` as an integer, found number 1.5"), "{err}");
        assert!(value(Some("12")).is_err());
    }

    #[test]
    fn never_panics_on_mangled_records() {
        let samples = [
            ("status-task-dc->dr.MirrorSourceConnector-2", STATUS_TASK_FAILED),
            (
                "status-topic-dc.orders:connector-c",
                r#"{"topic":{"name":"t","connector":"c","task":1,"discoverTimestamp":1}}"#,
            ),
            ("target-state-c", TARGET_STOPPED),
            ("connector-c", CONNECTOR_CONFIG),
            ("commit-c", r#"{"tasks":4}"#),
            (OFFSETS_SOURCE_KEY, OFFSETS_SOURCE_VALUE),
            (OFFSETS_CHECKPOINT_KEY, OFFSETS_ZERO_VALUE),
        ];
        let mut rng = SplitMix64::new(0x2545_f491_4f6c_dd1d);
        for (key, value) in samples {
            for cut in 0..=key.len().max(value.len()) {
                let k = key.get(..cut.min(key.len())).unwrap_or(key);
                let v = value.as_bytes().get(..cut.min(value.len())).unwrap_or_default();
                let _ = parse_status_record(k, Some(v));
                let _ = parse_config_record(k, Some(v));
                let _ = parse_offset_record(k.as_bytes(), Some(v));
                let _ = parse_offset_record(key.as_bytes(), Some(v));
            }
            for _ in 0..500 {
                let mut k = key.as_bytes().to_vec();
                let mut v = value.as_bytes().to_vec();
                for buf in [&mut k, &mut v] {
                    if let Some(len) = u64::try_from(buf.len()).ok().filter(|l| *l > 0) {
                        let at = usize::try_from(rng.next_u64() % len).unwrap_or(0);
                        if let Some(b) = buf.get_mut(at) {
                            *b = rng.next_u64().to_le_bytes()[0];
                        }
                    }
                }
                let text = String::from_utf8_lossy(&k);
                let _ = parse_status_record(&text, Some(&v));
                let _ = parse_config_record(&text, Some(&v));
                let _ = parse_offset_record(&k, Some(&v));
            }
        }
    }
}
