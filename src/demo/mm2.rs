//! MirrorMaker 2 as Strimzi runs it: one `KafkaMirrorMaker2` named `mm2`
//! per direction, on the flow's target, with two Connect pods and the
//! Source (4 tasks), Checkpoint and Heartbeat connectors. Replication is
//! capacity-bound and its progress is committed once a second (Connect's
//! offset flush), so lag is what an operator would really read.

use crate::model::{ConnectState, ConnectorKind, Flow, GroupProtocol, Side, Ts};

use super::apps::fnv;
use super::world::{
    Beat, ClusterState, DemoWorld, Event, GroupKind, GroupState, Guard, Member, STEPS_PER_SEC, alias, net,
};

pub(super) const PODS: usize = 2;
pub(super) const SOURCE_TASKS: usize = 4;
/// Strimzi's default Connect group id for KafkaMirrorMaker2.
pub(super) const CONNECT_GROUP: &str = "mirrormaker2-cluster";
const CONNECT_TOPICS: [(&str, usize); 3] =
    [("mirrormaker2-cluster-configs", 1), ("mirrormaker2-cluster-offsets", 25), ("mirrormaker2-cluster-status", 5)];

pub(super) struct Pod {
    pub name: String,
    pub ip: String,
    /// `Pending`, `Running`, `Terminating`, or `Gone` (no longer listed).
    pub phase: &'static str,
    pub ready: bool,
}

impl Pod {
    pub fn worker_id(&self) -> String {
        format!("{}:8083", self.ip)
    }
}

pub(super) struct TaskState {
    pub state: ConnectState,
    pub worker: String,
    pub trace: Option<String>,
}

pub(super) struct ConnectorState {
    pub kind: ConnectorKind,
    pub state: ConnectState,
    pub worker: String,
    pub tasks: Vec<TaskState>,
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
    pub hash: String,
    /// Scaled up (true) or to zero (false) by the operator.
    pub desired: bool,
    /// Bumped by every start or stop, voiding the other's pending events.
    pub generation: u64,
    pub pods: Vec<Pod>,
    /// Last known statuses; empty until the deployment first runs.
    pub connectors: Vec<ConnectorState>,
    /// Connectors RUNNING: replication, heartbeats and checkpoints flow.
    pub flowing: bool,
    pub ever_ran: bool,
    /// Next upstream offset to replicate, per mirrored partition.
    pub position: Vec<i64>,
    /// Last replicated upstream offset committed to Connect's offsets topic.
    pub committed: Vec<Option<i64>>,
    /// (upstream, downstream) where the current run began, to translate.
    pub base: Vec<(i64, i64)>,
    pub failed_task: Option<usize>,
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
            base: vec![(0, 0); partitions],
            failed_task: None,
            pending_beats: Vec::new(),
            checkpoints: Vec::new(),
            cr_ready: true,
        }
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

    pub fn connector_name(&self, kind: ConnectorKind) -> String {
        let class = match kind {
            ConnectorKind::Source => "MirrorSourceConnector",
            ConnectorKind::Checkpoint => "MirrorCheckpointConnector",
            ConnectorKind::Heartbeat => "MirrorHeartbeatConnector",
            ConnectorKind::Other => "Connector",
        };
        format!("{}->{}.{class}", alias(self.flow.source), alias(self.flow.target))
    }
}

/// The deployment replicating `flow`.
pub(super) fn index(flow: Flow) -> Result<usize, String> {
    match (flow.source, flow.target) {
        (Side::Dc, Side::Dr) => Ok(0),
        (Side::Dr, Side::Dc) => Ok(1),
        _ => Err(format!("no MM2 deployment replicates {flow}")),
    }
}

/// The two clusters of a flow: (source, target).
fn ends(clusters: &mut [ClusterState; 2], flow: Flow) -> (&ClusterState, &mut ClusterState) {
    let [dc, dr] = clusters;
    match flow.source {
        Side::Dc => (dc, dr),
        Side::Dr => (dr, dc),
    }
}

impl DemoWorld {
    pub(super) fn start_mm2(&mut self, dep: usize) -> Result<String, String> {
        let flow = self.mm2[dep].flow;
        if !self.reachable(flow.target) {
            return Err(Self::unreachable(flow.target));
        }
        if self.mm2[dep].desired {
            return Ok(format!("MM2 {flow} already running on {}", flow.target));
        }
        let hash = self.mm2[dep].hash.clone();
        let pods = (0..PODS)
            .map(|i| Pod {
                name: format!("mm2-mirrormaker2-{hash}-{i}"),
                ip: self.rng.ip(net(flow.target)),
                phase: "Pending",
                ready: false,
            })
            .collect();
        let d = &mut self.mm2[dep];
        d.desired = true;
        d.generation += 1;
        d.cr_ready = false;
        d.pods = pods;
        let guard = Guard::Mm2(dep, d.generation);
        for pod in 0..PODS {
            let running = self.delay(1_500, 2_500);
            let ready = running + self.delay(1_000, 2_000);
            self.schedule(running, guard, Event::PodRunning { dep, pod });
            self.schedule(ready, guard, Event::PodReady { dep, pod });
        }
        // Connector states are read once a second; tasks start on a whole one.
        let due = (self.tick + self.delay(5_000, 10_000)).div_ceil(STEPS_PER_SEC) * STEPS_PER_SEC;
        self.schedule(due - self.tick, guard, Event::ConnectorsRunning { dep });
        Ok(format!("scaling KafkaMirrorMaker2 mm2 on {} to {PODS} replicas ({flow})", flow.target))
    }

    pub(super) fn stop_mm2(&mut self, dep: usize) -> Result<String, String> {
        let flow = self.mm2[dep].flow;
        if !self.reachable(flow.target) {
            return Err(Self::unreachable(flow.target));
        }
        if !self.mm2[dep].desired {
            return Ok(format!("MM2 {flow} already stopped"));
        }
        // Tasks commit their progress as they stop.
        if self.mm2[dep].flowing && self.faults.cut.is_none() {
            self.flush(dep);
        }
        let d = &mut self.mm2[dep];
        d.desired = false;
        d.flowing = false;
        d.failed_task = None;
        d.cr_ready = true;
        d.generation += 1;
        for p in &mut d.pods {
            p.phase = "Terminating";
            p.ready = false;
        }
        let guard = Guard::Mm2(dep, d.generation);
        for pod in 0..d.pods.len() {
            let gone = self.delay(4_000, 8_000);
            self.schedule(gone, guard, Event::PodGone { dep, pod });
        }
        // Workers leave their Connect group as they shut down.
        let c = &mut self.clusters[flow.target.index()];
        if let Some(i) = c.group(CONNECT_GROUP) {
            let g = &mut c.groups[i];
            g.members.clear();
            g.state = "Empty";
            g.generation += 1;
        }
        Ok(format!("scaling KafkaMirrorMaker2 mm2 on {} to 0 replicas ({flow}): {PODS} pods terminating", flow.target))
    }

    pub(super) fn on_pod_running(&mut self, dep: usize, pod: usize) {
        let d = &mut self.mm2[dep];
        let target = d.flow.target;
        let Some(p) = d.pods.get_mut(pod) else { return };
        p.phase = "Running";
        let member = Member {
            member_id: format!("connect-{}-{}", pod + 1, self.rng.uuid()),
            client_id: format!("connect-{}", pod + 1),
            host: format!("/{}", p.ip),
            stray: false,
        };
        if !d.flowing {
            d.assign_connectors(ConnectState::Unassigned);
        }
        let c = &mut self.clusters[target.index()];
        for (name, parts) in CONNECT_TOPICS {
            c.ensure(name, parts, true);
        }
        c.bump("mirrormaker2-cluster-status", pod, 1);
        let i = match c.group(CONNECT_GROUP) {
            Some(i) => i,
            None => {
                c.groups.push(connect_group());
                c.groups.len() - 1
            }
        };
        let g = &mut c.groups[i];
        g.members.push(member);
        g.state = "Stable";
    }

    pub(super) fn on_pod_ready(&mut self, dep: usize, pod: usize) {
        let d = &mut self.mm2[dep];
        if let Some(p) = d.pods.get_mut(pod) {
            p.ready = true;
        }
        d.cr_ready = d.pods.iter().all(|p| p.ready);
    }

    pub(super) fn on_pod_gone(&mut self, dep: usize, pod: usize) {
        let d = &mut self.mm2[dep];
        if let Some(p) = d.pods.get_mut(pod) {
            p.phase = "Gone";
        }
        if d.pods.iter().all(|p| p.phase == "Gone") {
            d.pods.clear();
            for c in &mut d.connectors {
                c.state = ConnectState::Unassigned;
                for t in &mut c.tasks {
                    t.state = ConnectState::Unassigned;
                    t.trace = None;
                }
            }
        }
    }

    /// Tasks start: a first run begins at the source's end offsets (as with
    /// `auto.offset.reset=latest`), a restart resumes from committed ones.
    pub(super) fn on_connectors_running(&mut self, dep: usize) {
        let flow = self.mm2[dep].flow;
        let (src, tgt) = ends(&mut self.clusters, flow);
        let d = &mut self.mm2[dep];
        if !d.pods.iter().any(|p| p.phase == "Running") {
            return;
        }
        d.assign_connectors(ConnectState::Running);
        d.flowing = true;
        for (i, &(t, p)) in self.mirrored.iter().enumerate() {
            let src_end = src.apps[t].parts[p].end;
            let pos = match d.committed[i] {
                Some(c) if d.ever_ran => c + 1,
                _ => src_end,
            };
            d.position[i] = pos;
            d.base[i] = (pos, tgt.apps[t].parts[p].end);
            // The starting point is committed at once, so a first run's lag
            // is known from its first second.
            d.committed[i] = Some(pos - 1);
        }
        d.ever_ran = true;
        // Source heartbeats written from now on reach the target a second later.
        d.pending_beats.clear();
        tgt.ensure(&format!("{}.heartbeats", alias(flow.source)), 1, true);
        tgt.ensure(&format!("{}.checkpoints.internal", alias(flow.source)), 1, true);
        tgt.bump("mirrormaker2-cluster-status", dep, 6);
        self.clusters[flow.source.index()].ensure(
            &format!("mm2-offset-syncs.{}.internal", alias(flow.target)),
            1,
            true,
        );
        self.move_applier(flow.target);
    }

    /// One step of replication for every flowing deployment: each task moves
    /// its partitions toward the source end within its share of capacity.
    pub(super) fn replicate(&mut self) {
        if self.faults.cut.is_some() {
            // Every flow has DC at one end: nothing crosses.
            return;
        }
        let budget = self.capacity / (STEPS_PER_SEC as f64 * SOURCE_TASKS as f64);
        for d in &mut self.mm2 {
            if !d.flowing {
                continue;
            }
            let (src, tgt) = ends(&mut self.clusters, d.flow);
            let mut backlog = [0i64; SOURCE_TASKS];
            for (i, &(t, p)) in self.mirrored.iter().enumerate() {
                backlog[i % SOURCE_TASKS] += (src.apps[t].parts[p].end - d.position[i]).max(0);
            }
            let scale = backlog.map(|b| if b as f64 <= budget { 1.0 } else { budget / b as f64 });
            for (i, &(t, p)) in self.mirrored.iter().enumerate() {
                let task = i % SOURCE_TASKS;
                let behind = src.apps[t].parts[p].end - d.position[i];
                if behind <= 0 || d.failed_task == Some(task) {
                    continue;
                }
                let moved = (behind as f64 * scale[task]).floor() as i64;
                d.position[i] += moved;
                tgt.apps[t].parts[p].end += moved;
            }
        }
    }

    /// Once a second while flowing: heartbeats, the offset flush, mirrored
    /// heartbeats (a second behind) and checkpoints.
    pub(super) fn mm2_second(&mut self, dep: usize) {
        let d = &self.mm2[dep];
        if !d.flowing {
            return;
        }
        let flow = d.flow;
        let at = self.step_time();
        // The heartbeat connector writes into the target; its source-side
        // twin (a Connect on the source, as Strimzi v1 advises) into the source.
        for side in [flow.target, flow.source] {
            self.clusters[side.index()].beat(Beat {
                topic: "heartbeats".into(),
                source: flow.source,
                target: flow.target,
                at,
            });
        }
        if self.faults.cut.is_some() {
            return;
        }
        self.flush(dep);
        self.mirror_beats(dep);
        self.write_checkpoints(dep, at);
    }

    /// Connect's offset flush: progress becomes visible in `replicated`.
    pub(super) fn flush(&mut self, dep: usize) {
        let d = &mut self.mm2[dep];
        let (mut changed, mut moved) = (0, 0);
        for (c, &pos) in d.committed.iter_mut().zip(&d.position) {
            if *c != Some(pos - 1) {
                changed += 1;
                moved += pos - 1 - c.unwrap_or(pos - 1);
                *c = Some(pos - 1);
            }
        }
        let flow = d.flow;
        let part = (fnv(&d.connector_name(ConnectorKind::Source)) % 25) as usize;
        self.clusters[flow.target.index()].bump("mirrormaker2-cluster-offsets", part, changed);
        let syncs = format!("mm2-offset-syncs.{}.internal", alias(flow.target));
        self.clusters[flow.source.index()].bump(&syncs, 0, moved / 100 + i64::from(changed > 0));
    }

    /// The source's `heartbeats` records reach the target as `<src>.heartbeats`.
    fn mirror_beats(&mut self, dep: usize) {
        let flow = self.mm2[dep].flow;
        let remote = format!("{}.heartbeats", alias(flow.source));
        for b in std::mem::take(&mut self.mm2[dep].pending_beats) {
            self.clusters[flow.target.index()].beat(Beat { topic: remote.clone(), ..b });
        }
        self.mm2[dep].pending_beats =
            self.clusters[flow.source.index()].beats.iter().filter(|b| b.topic == "heartbeats").cloned().collect();
    }

    /// Translates the source's group offsets that moved, as the checkpoint
    /// connector does.
    pub(super) fn write_checkpoints(&mut self, dep: usize, at: Ts) {
        let DemoWorld { mm2, clusters, flat_start, .. } = self;
        let d = &mut mm2[dep];
        let (src, tgt) = ends(clusters, d.flow);
        let mut written = 0;
        d.checkpoints.resize_with(src.groups.len(), Vec::new);
        for (group, slots) in src.groups.iter().zip(&mut d.checkpoints) {
            let Some(t) = group.topic else { continue };
            slots.resize(group.committed.len(), None);
            for (p, (c, slot)) in group.committed.iter().zip(slots.iter_mut()).enumerate() {
                let (Some(c), Some(&start)) = (*c, flat_start.get(t)) else { continue };
                let i = start + p;
                let (up, down) = d.base[i];
                if c < up || c > d.position[i] || slot.is_some_and(|k| k.upstream == c) {
                    continue;
                }
                *slot = Some(Ckpt { upstream: c, downstream: down + (c - up), at });
                written += 1;
            }
        }
        tgt.bump(&format!("{}.checkpoints.internal", alias(d.flow.source)), 0, written);
    }

    /// The FailMm2Task fault: one source task dies with uncommitted progress
    /// lost (it is replicated again, as duplicates, after a restart).
    pub(super) fn fail_task(&mut self, dep: usize, task: usize) {
        let d = &mut self.mm2[dep];
        d.failed_task = Some(task);
        if let Some(t) =
            d.connectors.iter_mut().find(|c| c.kind == ConnectorKind::Source).and_then(|c| c.tasks.get_mut(task))
        {
            t.state = ConnectState::Failed;
            t.trace = Some(TASK_TRACE.to_owned());
        }
        for (i, (pos, c)) in d.position.iter_mut().zip(&d.committed).enumerate() {
            if i % SOURCE_TASKS == task
                && let Some(c) = c
            {
                *pos = c + 1;
            }
        }
    }

    pub(super) fn restart_task(&mut self, dep: usize) {
        let d = &mut self.mm2[dep];
        let Some(task) = d.failed_task.take() else { return };
        if let Some(t) =
            d.connectors.iter_mut().find(|c| c.kind == ConnectorKind::Source).and_then(|c| c.tasks.get_mut(task))
        {
            t.state = ConnectState::Running;
            t.trace = None;
        }
    }
}

pub(super) fn connect_group() -> GroupState {
    GroupState {
        id: CONNECT_GROUP.to_owned(),
        kind: GroupKind::Connect,
        protocol: GroupProtocol::Classic,
        state: "Empty",
        members: Vec::new(),
        topic: None,
        committed: Vec::new(),
        generation: 0,
        offsets_partition: (fnv(CONNECT_GROUP) % 50) as usize,
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
