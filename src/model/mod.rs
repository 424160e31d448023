//! Plain data: what was observed of both clusters and of MirrorMaker 2, each
//! fact stamped with when it was seen. No behaviour beyond small accessors;
//! judgement lives in `assess`.

mod canary;
mod cluster;
mod mm2;
mod names;
pub mod naming;
mod observed;
mod platform;

pub use canary::{Canary, CanaryRecord};
pub use cluster::{
    Broker, Checkpoint, Cluster, Committed, Group, GroupProtocol, Heartbeat, Link, Member, OffsetsSource, Partition,
    PollCounts, RecordTime, Security, SkippedRecords, Topic, Unread,
};
pub use mm2::{
    ConnectState, Connector, ConnectorKind, Flow, MirrorSettings, Mm2Deployment, ReplicatedOffset, TargetState, Task,
    Worker,
};
pub use names::Names;
pub use observed::{Observed, Ts, age_secs};
pub use platform::{
    AutoRestart, Condition, DesiredConnector, MirrorMaker, Platform, Pod, ReadRefusal, Section, Workload, WorkloadKind,
};

use serde::{Deserialize, Serialize};

/// One of the two data centres of the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Dc,
    Dr,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Dc, Side::Dr];

    pub fn other(self) -> Side {
        match self {
            Side::Dc => Side::Dr,
            Side::Dr => Side::Dc,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Side::Dc => "DC",
            Side::Dr => "DR",
        }
    }

    pub fn index(self) -> usize {
        match self {
            Side::Dc => 0,
            Side::Dr => 1,
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Everything a source could see at one moment: both clusters and every MM2
/// deployment it knows of (running or not).
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// When the source assembled this snapshot (each fact has its own stamp).
    pub taken_at: Ts,
    pub clusters: [Cluster; 2],
    pub mm2: Vec<Mm2Deployment>,
    /// Each side's Kubernetes, where one is configured (`None`: the side is
    /// observed through Kafka alone).
    pub platforms: [Option<Platform>; 2],
    /// kdrill's canaries, one per flow that has one running.
    pub canaries: Vec<Observed<Canary>>,
}

impl Snapshot {
    pub fn empty(taken_at: Ts, dc_alias: &str, dr_alias: &str) -> Self {
        Snapshot {
            taken_at,
            clusters: [Cluster::new(Side::Dc, dc_alias), Cluster::new(Side::Dr, dr_alias)],
            mm2: Vec::new(),
            platforms: [None, None],
            canaries: Vec::new(),
        }
    }

    pub fn cluster(&self, side: Side) -> &Cluster {
        &self.clusters[side.index()]
    }

    pub fn platform(&self, side: Side) -> Option<&Platform> {
        self.platforms[side.index()].as_ref()
    }

    pub fn cluster_mut(&mut self, side: Side) -> &mut Cluster {
        &mut self.clusters[side.index()]
    }
}
