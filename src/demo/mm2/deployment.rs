//! One Strimzi `KafkaMirrorMaker2` named `mm2`: its Connect pods, the
//! statuses of its three connectors and their tasks, and its replication
//! progress per mirrored partition; and what Kubernetes and Connect's REST
//! API show of it.

use crate::model::naming::ReplicationPolicy;
use crate::model::{
    self, Condition, ConnectState, Connector, ConnectorKind, DesiredConnector, Flow, MirrorMaker, MirrorSettings,
    Mm2Deployment, Observed, ReplicatedOffset, TargetState, Task, Ts, Worker,
};

use super::super::cluster::{Beat, ClusterState, alias, net};
use super::super::rng::SplitMix64;

pub(super) const PODS: usize = 2;
pub(super) const SOURCE_TASKS: usize = 4;

pub(super) struct Pod {
    pub name: String,
    pub ip: String,
    /// `Pending`, `Running`, `Terminating`, or `Gone` (no longer listed).
    pub phase: &'static str,
    pub ready: bool,
}

impl Pod {
    fn worker_id(&self) -> String {
        format!("{}:8083", self.ip)
    }
}

struct TaskState {
    state: ConnectState,
    worker: String,
    trace: Option<String>,
}

struct ConnectorState {
    kind: ConnectorKind,
    state: ConnectState,
    worker: String,
    tasks: Vec<TaskState>,
}

/// A translated group offset, as last written to `<src>.checkpoints.internal`.
#[derive(Clone, Copy)]
pub(super) struct Ckpt {
    pub upstream: i64,
    pub downstream: i64,
    pub at: Ts,
}

pub(super) struct Deployment {
    pub flow: Flow,
    hash: String,
    /// Scaled up (true) or to zero (false) by the operator.
    pub desired: bool,
    /// Bumped by every start or stop, voiding the other's pending events.
    pub generation: u64,
    pub pods: Vec<Pod>,
    /// Last known statuses; empty until the deployment first runs.
    connectors: Vec<ConnectorState>,
    /// Connectors RUNNING: replication, heartbeats and checkpoints flow.
    pub flowing: bool,
    pub ever_ran: bool,
    /// Next upstream offset to replicate, per mirrored partition.
    pub position: Vec<i64>,
    /// Last replicated upstream offset committed to Connect's offsets topic.
    pub committed: Vec<Option<i64>>,
    /// Where the next start sets this flow's source offsets: the ends of the
    /// opposite flow's data on its source when it stopped (kdrill's start
    /// action does that), per mirrored partition.
    pub start_at: Option<Vec<i64>>,
    /// (upstream, downstream) where the current run began, to translate.
    pub base: Vec<(i64, i64)>,
    pub failed_task: Option<usize>,
    /// Tasks RUNNING but replicating nothing (the StallMm2 fault).
    pub stalled: bool,
    /// The checkpoint connector names topics by the default policy (the
    /// PolicyDrift fault).
    pub policy_drift: bool,
    /// Source heartbeats read last second, written to the target next second.
    pub pending_beats: Vec<Beat>,
    /// Per source group, per partition.
    pub checkpoints: Vec<Vec<Option<Ckpt>>>,
    pub cr_ready: bool,
}

impl Deployment {
    /// A deployment scaled to zero that never ran.
    pub fn idle(flow: Flow, hash: String, partitions: usize) -> Self {
        Deployment {
            flow,
            hash,
            desired: false,
            generation: 0,
            pods: Vec::new(),
            connectors: Vec::new(),
            flowing: false,
            ever_ran: false,
            position: vec![0; partitions],
            committed: vec![None; partitions],
            start_at: None,
            base: vec![(0, 0); partitions],
            failed_task: None,
            stalled: false,
            policy_drift: false,
            pending_beats: Vec::new(),
            checkpoints: Vec::new(),
            cr_ready: true,
        }
    }

    /// The pods of a scale-up, Pending, with IPs on the target's network.
    pub fn new_pods(&self, rng: &mut SplitMix64) -> Vec<Pod> {
        (0..PODS)
            .map(|i| Pod {
                name: format!("mm2-mirrormaker2-{}-{i}", self.hash),
                ip: rng.ip(net(self.flow.target)),
                phase: "Pending",
                ready: false,
            })
            .collect()
    }

    /// Connector statuses as Connect assigns them across the pods.
    pub fn assign_connectors(&mut self, state: ConnectState) {
        let workers: Vec<String> = self.pods.iter().map(Pod::worker_id).collect();
        let w = |i: usize| workers.get(i % workers.len().max(1)).cloned().unwrap_or_default();
        let kinds =
            [(ConnectorKind::Source, SOURCE_TASKS), (ConnectorKind::Checkpoint, 1), (ConnectorKind::Heartbeat, 1)];
        self.connectors = kinds
            .iter()
            .enumerate()
            .map(|(c, &(kind, n))| ConnectorState {
                kind,
                state: state.clone(),
                worker: w(c),
                tasks: (0..n).map(|t| TaskState { state: state.clone(), worker: w(c + t + 1), trace: None }).collect(),
            })
            .collect();
    }

    /// Every connector and task back to UNASSIGNED (no worker left).
    pub fn unassign_connectors(&mut self) {
        for c in &mut self.connectors {
            c.state = ConnectState::Unassigned;
            for t in &mut c.tasks {
                t.state = ConnectState::Unassigned;
                t.trace = None;
            }
        }
    }

    pub fn connector_name(&self, kind: ConnectorKind) -> String {
        let class = match kind {
            ConnectorKind::Source => "MirrorSourceConnector",
            ConnectorKind::Checkpoint => "MirrorCheckpointConnector",
            ConnectorKind::Heartbeat => "MirrorHeartbeatConnector",
            ConnectorKind::Other => "Connector",
        };
        format!("{}->{}.{class}", alias(self.flow.source), alias(self.flow.target))
    }

    fn source_task(&mut self, task: usize) -> Option<&mut TaskState> {
        self.connectors.iter_mut().find(|c| c.kind == ConnectorKind::Source).and_then(|c| c.tasks.get_mut(task))
    }

    /// One source task dies with its uncommitted progress lost (it is
    /// replicated again, as duplicates, after a restart).
    pub fn fail_task(&mut self, task: usize) {
        self.failed_task = Some(task);
        if let Some(t) = self.source_task(task) {
            t.state = ConnectState::Failed;
            t.trace = Some(TASK_TRACE.to_owned());
        }
        for (i, (pos, c)) in self.position.iter_mut().zip(&self.committed).enumerate() {
            if i % SOURCE_TASKS == task
                && let Some(c) = c
            {
                *pos = c + 1;
            }
        }
    }

    /// The failed source task, if any, is restarted.
    pub fn restart_failed_task(&mut self) {
        let Some(task) = self.failed_task.take() else { return };
        if let Some(t) = self.source_task(task) {
            t.state = ConnectState::Running;
            t.trace = None;
        }
    }

    /// Connect's offset flush: every position is committed. Returns how
    /// many partitions changed and how many records they moved by.
    pub fn flush(&mut self) -> (i64, i64) {
        let (mut changed, mut moved) = (0, 0);
        for (c, &pos) in self.committed.iter_mut().zip(&self.position) {
            if *c != Some(pos - 1) {
                changed += 1;
                moved += pos - 1 - c.unwrap_or(pos - 1);
                *c = Some(pos - 1);
            }
        }
        (changed, moved)
    }

    /// What Kafka shows of the deployment at `at`: connector states (status
    /// topic), progress (offsets topic) and `workers`, the members of its
    /// Connect group; `src` names the replicated partitions of `mirrored`.
    pub fn observe(
        &self,
        at: Ts,
        src: &ClusterState,
        mirrored: &[(usize, usize)],
        workers: Vec<Worker>,
    ) -> Mm2Deployment {
        let replicated = mirrored
            .iter()
            .zip(&self.committed)
            .filter_map(|(&(t, p), c)| {
                Some(ReplicatedOffset {
                    topic: src.app_topic(t)?.shared_name(),
                    partition: p as i32,
                    upstream_offset: (*c)?,
                })
            })
            .collect();
        Mm2Deployment {
            name: "mm2".into(),
            flow: self.flow,
            runs_on: self.flow.target,
            connectors: Some(Observed::new(self.connectors(), at)),
            workers: Some(Observed::new(workers, at)),
            replicated: Some(Observed::new(replicated, at)),
        }
    }

    /// The `KafkaMirrorMaker2` resource as Strimzi keeps it on the target's
    /// Kubernetes: scaled to 2 or 0, its status copied from Connect's REST.
    pub fn resource(&self) -> MirrorMaker {
        let pods = self.pods.iter().filter(|p| p.phase != "Gone").count() as i32;
        let (source, target) = (alias(self.flow.source), alias(self.flow.target));
        MirrorMaker {
            name: "mm2".into(),
            namespace: "kafka".into(),
            api_version: "kafka.strimzi.io/v1".into(),
            target_alias: Some(target.to_owned()),
            source_aliases: vec![source.to_owned()],
            replicas: Some(if self.desired { PODS as i32 } else { 0 }),
            status_replicas: Some(pods),
            desired: ["source", "checkpoint", "heartbeat"]
                .map(|kind| DesiredConnector { kind: kind.into(), state: "running".into() })
                .into(),
            generation: Some(self.generation as i64 + 1),
            observed_generation: Some(self.generation as i64 + 1),
            ready: Some(Condition {
                status: if self.cr_ready { "True" } else { "False" }.into(),
                reason: None,
                message: None,
            }),
            reconciliation_paused: false,
            connectors: self.connectors(),
            auto_restarts: Vec::new(),
            label_selector: Some(
                "strimzi.io/cluster=mm2,strimzi.io/name=mm2-mirrormaker2,strimzi.io/kind=KafkaMirrorMaker2".into(),
            ),
        }
    }

    /// The deployment's pods as the API server lists them.
    pub fn pod_objects(&self) -> Vec<model::Pod> {
        self.pods
            .iter()
            .filter(|p| p.phase != "Gone")
            .map(|p| model::Pod {
                name: p.name.clone(),
                namespace: "kafka".into(),
                // A terminating pod keeps its phase; deletion is a mark.
                phase: if p.phase == "Terminating" { "Running" } else { p.phase }.into(),
                ready: p.ready,
                terminating: p.phase == "Terminating",
                restarts: 0,
                node: None,
                created: None,
                owner: Some("mm2".into()),
            })
            .collect()
    }

    fn connectors(&self) -> Vec<Connector> {
        self.connectors
            .iter()
            .map(|c| Connector {
                name: self.connector_name(c.kind),
                kind: c.kind,
                state: c.state.clone(),
                target_state: Some(TargetState::Started),
                worker_id: c.worker.clone(),
                trace: None,
                settings: Some(self.settings(c.kind)),
                tasks: c
                    .tasks
                    .iter()
                    .enumerate()
                    .map(|(id, t)| Task {
                        id: id as u32,
                        state: t.state.clone(),
                        worker_id: t.worker.clone(),
                        trace: t.trace.clone(),
                    })
                    .collect(),
            })
            .collect()
    }
}

impl Deployment {
    /// A connector's stored settings: identity names, offsets synced,
    /// checkpoints every minute (Kafka's default).
    fn settings(&self, kind: ConnectorKind) -> MirrorSettings {
        let class = if self.policy_drift && kind == ConnectorKind::Checkpoint {
            ReplicationPolicy::DEFAULT_CLASS
        } else {
            ReplicationPolicy::IDENTITY_CLASS
        };
        let checkpoint = kind == ConnectorKind::Checkpoint;
        MirrorSettings::keep(|name| match name {
            "replication.policy.class" => Some(class),
            "source.cluster.alias" => Some(alias(self.flow.source)),
            "sync.group.offsets.enabled" if checkpoint => Some("true"),
            "emit.checkpoints.interval.seconds" if checkpoint => Some("60"),
            _ => None,
        })
    }
}

/// What a MirrorSourceTask dies of most often in practice: a record larger
/// than the target producer's `max.request.size`.
const TASK_TRACE: &str = "org.apache.kafka.connect.errors.ConnectException: Unrecoverable exception from producer send callback
\tat org.apache.kafka.connect.runtime.WorkerSourceTask.maybeThrowProducerSendException(WorkerSourceTask.java:340)
\tat org.apache.kafka.connect.runtime.AbstractWorkerSourceTask.execute(AbstractWorkerSourceTask.java:367)
\tat org.apache.kafka.connect.runtime.WorkerTask.doRun(WorkerTask.java:204)
\tat org.apache.kafka.connect.runtime.WorkerTask.run(WorkerTask.java:259)
\tat org.apache.kafka.connect.runtime.AbstractWorkerSourceTask.run(AbstractWorkerSourceTask.java:77)
\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)
\tat java.base/java.lang.Thread.run(Thread.java:840)
Caused by: org.apache.kafka.common.errors.RecordTooLargeException: The message is 1318472 bytes when serialized which is larger than 1048576, which is the value of the max.request.size configuration.";
