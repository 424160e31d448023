use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Observed, Side};

/// A replication direction between the two sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flow {
    pub source: Side,
    pub target: Side,
}

impl Flow {
    pub const DC_TO_DR: Flow = Flow { source: Side::Dc, target: Side::Dr };
    pub const DR_TO_DC: Flow = Flow { source: Side::Dr, target: Side::Dc };

    /// The flow that replicates out of `side`.
    pub fn from(side: Side) -> Flow {
        Flow { source: side, target: side.other() }
    }

    pub fn reversed(self) -> Flow {
        Flow { source: self.target, target: self.source }
    }
}

impl std::fmt::Display for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}→{}", self.source, self.target)
    }
}

/// One MM2 deployment (a Kafka Connect cluster running the mirror
/// connectors, e.g. a Strimzi `KafkaMirrorMaker2`). Its workers and internal
/// topics live on `runs_on`, which should be the flow's target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mm2Deployment {
    pub name: String,
    pub flow: Flow,
    pub runs_on: Side,
    pub connectors: Option<Observed<Vec<Connector>>>,
    /// Connect workers: the members of the deployment's Connect group.
    pub workers: Option<Observed<Vec<Worker>>>,
    /// Last replicated upstream offset per source partition, from the
    /// Connect offsets topic.
    pub replicated: Option<Observed<Vec<ReplicatedOffset>>>,
}

impl Mm2Deployment {
    /// A deployment as known before anything of it was read.
    pub fn unobserved(name: &str, flow: Flow, runs_on: Side) -> Mm2Deployment {
        Mm2Deployment { name: name.to_owned(), flow, runs_on, connectors: None, workers: None, replicated: None }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectorKind {
    Source,
    Checkpoint,
    Heartbeat,
    Other,
}

impl ConnectorKind {
    /// Recognises the mirror connectors by name or class suffix.
    pub fn of(name_or_class: &str) -> ConnectorKind {
        if name_or_class.ends_with("MirrorSourceConnector") {
            ConnectorKind::Source
        } else if name_or_class.ends_with("MirrorCheckpointConnector") {
            ConnectorKind::Checkpoint
        } else if name_or_class.ends_with("MirrorHeartbeatConnector") {
            ConnectorKind::Heartbeat
        } else {
            ConnectorKind::Other
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ConnectorKind::Source => "source",
            ConnectorKind::Checkpoint => "checkpoint",
            ConnectorKind::Heartbeat => "heartbeat",
            ConnectorKind::Other => "other",
        }
    }
}

/// Kafka Connect's runtime states for connectors and tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectState {
    Unassigned,
    Running,
    Paused,
    Failed,
    Restarting,
    Stopped,
    /// A state this version of kdrill does not know, kept verbatim.
    Other(String),
}

impl ConnectState {
    pub fn parse(s: &str) -> ConnectState {
        match s {
            "UNASSIGNED" => ConnectState::Unassigned,
            "RUNNING" => ConnectState::Running,
            "PAUSED" => ConnectState::Paused,
            "FAILED" => ConnectState::Failed,
            "RESTARTING" => ConnectState::Restarting,
            "STOPPED" => ConnectState::Stopped,
            other => ConnectState::Other(other.to_owned()),
        }
    }

    pub fn label(&self) -> &str {
        match self {
            ConnectState::Unassigned => "UNASSIGNED",
            ConnectState::Running => "RUNNING",
            ConnectState::Paused => "PAUSED",
            ConnectState::Failed => "FAILED",
            ConnectState::Restarting => "RESTARTING",
            ConnectState::Stopped => "STOPPED",
            ConnectState::Other(s) => s,
        }
    }
}

/// The state an operator asked for (Connect's config topic `target-state-*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    pub name: String,
    pub kind: ConnectorKind,
    pub state: ConnectState,
    pub target_state: Option<TargetState>,
    pub worker_id: String,
    pub trace: Option<String>,
    pub tasks: Vec<Task>,
    /// Its stored configuration, where it was read (Connect's config topic).
    #[serde(default)]
    pub settings: Option<MirrorSettings>,
}

/// What kdrill keeps of a mirror connector's stored configuration: the
/// settings that decide topic names, which topics are mirrored and how
/// consumer offsets follow. Nothing else is kept, so no credential a
/// connector's configuration carries is ever held. Values are as
/// submitted, before config providers (`${file:...}`) resolve.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorSettings {
    properties: std::collections::BTreeMap<String, String>,
}

impl MirrorSettings {
    /// The only settings kept.
    pub const NAMES: [&str; 12] = [
        "replication.policy.class",
        "replication.policy.separator",
        "replication.policy.internal.topic.separator.enabled",
        "source.cluster.alias",
        "topics",
        "topics.exclude",
        "topics.blacklist",
        "topic.filter.class",
        "sync.group.offsets.enabled",
        "emit.checkpoints.enabled",
        "emit.checkpoints.interval.seconds",
        "offset.lag.max",
    ];

    /// Keeps the settings named in [`Self::NAMES`] that `get` has.
    pub fn keep<'a>(get: impl Fn(&str) -> Option<&'a str>) -> MirrorSettings {
        let properties =
            Self::NAMES.iter().filter_map(|&name| Some((name.to_owned(), get(name)?.to_owned()))).collect();
        MirrorSettings { properties }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: u32,
    pub state: ConnectState,
    pub worker_id: String,
    pub trace: Option<String>,
}

/// A member of a Connect worker group, as Kafka reports it (MM2's pods,
/// where Kubernetes is observed, are in `Platform`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Worker {
    pub id: String,
    pub host: String,
}

/// The last upstream offset MM2 committed as replicated for one partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicatedOffset {
    /// Shared with every row of the same topic (`Names`).
    pub topic: Arc<str>,
    pub partition: i32,
    pub upstream_offset: i64,
}
