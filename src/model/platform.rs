//! What a side's Kubernetes API shows: Strimzi's `KafkaMirrorMaker2`
//! resources, the MM2 pods, and the applications' workloads. Plain data,
//! kept apart from what Kafka shows of the same things, so that the two
//! sources can be compared (a disagreement is a fact too).

use serde::{Deserialize, Serialize};

use super::{Connector, Link, Observed, Side, Ts};

/// One side's Kubernetes cluster as kdrill last saw it. Each section is
/// stamped with the last moment it was known current: its watch unbroken
/// and the API server answering. `None` means never observed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Platform {
    pub side: Side,
    /// The kubeconfig context (or `in-cluster`) the facts come from.
    pub context: String,
    /// The namespace MM2's resources and pods are looked for in.
    pub namespace: String,
    pub link: Link,
    pub mirrormakers: Option<Observed<Vec<MirrorMaker>>>,
    /// MM2 pods of this side (Strimzi's labels), whichever resource owns them.
    pub mm2_pods: Option<Observed<Vec<Pod>>>,
    /// The applications' workloads declared for this side, each with its pods.
    pub workloads: Option<Observed<Vec<Workload>>>,
    /// Sections that could not be read, with the reason in words (a 403
    /// names the user, verb, resource and namespace).
    pub refusals: Vec<ReadRefusal>,
}

impl Platform {
    pub fn new(side: Side, context: &str, namespace: &str) -> Platform {
        Platform {
            side,
            context: context.to_owned(),
            namespace: namespace.to_owned(),
            link: Link::Connecting,
            mirrormakers: None,
            mm2_pods: None,
            workloads: None,
            refusals: Vec::new(),
        }
    }

    /// "context dr, namespace kafka": where a fact was looked for, in words.
    pub fn place(&self) -> String {
        format!("context {}, namespace {}", self.context, self.namespace)
    }

    /// "dr/kafka": the same, where space is short.
    pub fn short_place(&self) -> String {
        format!("{}/{}", self.context, self.namespace)
    }
}

/// What the platform keeps per section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    Mirrormakers,
    Mm2Pods,
    Workloads,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Mirrormakers => "kafkamirrormaker2s",
            Section::Mm2Pods => "MM2 pods",
            Section::Workloads => "application workloads",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadRefusal {
    pub section: Section,
    pub why: String,
    pub since: Ts,
}

/// A Strimzi `KafkaMirrorMaker2` resource, read in either API shape
/// (`kafka.strimzi.io/v1`: `target`, `mirrors[].source`; `v1beta2`:
/// `connectCluster`, `clusters[]`, `mirrors[].sourceCluster`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MirrorMaker {
    pub name: String,
    pub namespace: String,
    /// The API version it was read as.
    pub api_version: String,
    /// The Connect cluster's alias: the flow's target.
    pub target_alias: Option<String>,
    /// The aliases MM2 mirrors from.
    pub source_aliases: Vec<String>,
    /// `spec.replicas`: the workers asked for.
    pub replicas: Option<i32>,
    /// `status.replicas`: the workers Strimzi reports.
    pub status_replicas: Option<i32>,
    /// The desired state of each mirror connector in the spec
    /// (`running`, `paused`, `stopped`), by connector kind.
    pub desired: Vec<DesiredConnector>,
    pub generation: Option<i64>,
    pub observed_generation: Option<i64>,
    pub ready: Option<Condition>,
    /// `strimzi.io/pause-reconciliation` or a ReconciliationPaused condition.
    pub reconciliation_paused: bool,
    /// `status.connectors[]`: Connect's own status JSON as Strimzi copied it.
    pub connectors: Vec<Connector>,
    pub auto_restarts: Vec<AutoRestart>,
    /// `status.labelSelector`: selects the resource's pods.
    pub label_selector: Option<String>,
}

impl MirrorMaker {
    /// A spec change the operator has not reconciled yet.
    pub fn unreconciled(&self) -> bool {
        match (self.generation, self.observed_generation) {
            (Some(g), Some(o)) => o < g,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DesiredConnector {
    /// `source`, `checkpoint` or `heartbeat`.
    pub kind: String,
    /// `running` when the spec does not say.
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// `True`, `False` or `Unknown`, as the resource says.
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
}

impl Condition {
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoRestart {
    pub connector: String,
    pub count: i64,
    pub last: Option<String>,
}

/// A pod, as the API server holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pod {
    pub name: String,
    pub namespace: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub phase: String,
    pub ready: bool,
    /// Deletion requested: the pod may still run (and commit) until it is gone.
    pub terminating: bool,
    pub restarts: i32,
    pub node: Option<String>,
    pub created: Option<Ts>,
    /// `strimzi.io/cluster`: the resource the pod belongs to, when labelled.
    pub owner: Option<String>,
}

impl Pod {
    /// Counts as running while it exists and has not finished: a pending
    /// pod is about to run, a terminating one may still be running.
    pub fn is_present(&self) -> bool {
        self.phase != "Succeeded" && self.phase != "Failed"
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        }
    }
}

/// An application workload declared in the configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
    pub namespace: String,
    /// False when the declared workload does not exist.
    pub exists: bool,
    pub desired: i32,
    pub ready: i32,
    pub available: i32,
    pub pods: Vec<Pod>,
}
