//! MirrorMaker 2 as Strimzi runs it: one `KafkaMirrorMaker2` named `mm2`
//! per direction, on the flow's target, with two Connect pods and the
//! Source (4 tasks), Checkpoint and Heartbeat connectors. Replication is
//! capacity-bound and its progress is committed once a second (Connect's
//! offset flush), so lag is what an operator would really read. Every MM2
//! topic is named by the `ReplicationPolicy`.

mod deployment;

use crate::model::naming::ReplicationPolicy;
use crate::model::{
    self, Checkpoint, ConnectState, ConnectorKind, Flow, GroupProtocol, MirrorMaker, Mm2Deployment, Side, Ts, Worker,
};

use super::cluster::{Beat, Clusters, alias, partition_of};
use super::groups::{GroupKind, GroupSpec, Member};
use super::rng::SplitMix64;
use super::timeline::{Event, Guard, STEPS_PER_SEC, Timeline};
use deployment::{Ckpt, Deployment, PODS, SOURCE_TASKS};

/// Strimzi's Connect group id and internal topics (with their partitions)
/// for a KafkaMirrorMaker2.
const CONNECT_GROUP: GroupSpec<'static> =
    GroupSpec { id: "mirrormaker2-cluster", kind: GroupKind::Connect, protocol: GroupProtocol::Classic, topic: None };
pub(super) const CONNECT_CONFIGS: (&str, usize) = ("mirrormaker2-cluster-configs", 1);
pub(super) const CONNECT_OFFSETS: (&str, usize) = ("mirrormaker2-cluster-offsets", 25);
pub(super) const CONNECT_STATUS: (&str, usize) = ("mirrormaker2-cluster-status", 5);
const CONNECT_TOPICS: [(&str, usize); 3] = [CONNECT_CONFIGS, CONNECT_OFFSETS, CONNECT_STATUS];

/// Both deployments and what they replicate.
pub(super) struct Mm2 {
    /// Index 0 replicates DC→DR (runs on DR), index 1 DR→DC (runs on DC).
    deployments: [Deployment; 2],
    policy: ReplicationPolicy,
    /// Flat list of mirrored (app topic, partition), the unit MM2 tasks own.
    mirrored: Vec<(usize, usize)>,
    /// Index in `mirrored` of each app topic's partition 0.
    flat_start: Vec<usize>,
    /// Records per second one flow can replicate.
    capacity: f64,
    /// A group the checkpoint connectors leave out (as `groups.exclude`
    /// would): it has no checkpoint on the other side.
    unchecked_group: Option<String>,
}

impl Mm2 {
    /// Both deployments scaled to zero, never run, mirroring app topics
    /// with `partitions` each; `hashes` are their pod-template hashes.
    pub fn new(policy: ReplicationPolicy, partitions: &[usize], capacity: f64, hashes: [String; 2]) -> Self {
        let mirrored: Vec<(usize, usize)> =
            partitions.iter().enumerate().flat_map(|(t, &n)| (0..n).map(move |p| (t, p))).collect();
        let mut flat_start = Vec::new();
        let mut n = 0;
        for &p in partitions {
            flat_start.push(n);
            n += p;
        }
        let [dc_to_dr, dr_to_dc] = hashes;
        let deployments = [
            Deployment::idle(Flow::DC_TO_DR, dc_to_dr, mirrored.len()),
            Deployment::idle(Flow::DR_TO_DC, dr_to_dc, mirrored.len()),
        ];
        Mm2 { deployments, policy, mirrored, flat_start, capacity, unchecked_group: None }
    }

    /// The deployment replicating `flow`.
    pub fn index(flow: Flow) -> Result<usize, String> {
        match (flow.source, flow.target) {
            (Side::Dc, Side::Dr) => Ok(0),
            (Side::Dr, Side::Dc) => Ok(1),
            _ => Err(format!("no MM2 deployment replicates {flow}")),
        }
    }

    pub fn flow(&self, dep: usize) -> Flow {
        self.deployments[dep].flow
    }

    /// Scaled up by the operator.
    pub fn is_desired(&self, dep: usize) -> bool {
        self.deployments[dep].desired
    }

    /// Whether `generation` is the latest start or stop of `dep`.
    pub fn is_current(&self, dep: usize, generation: u64) -> bool {
        self.deployments[dep].generation == generation
    }

    /// Deployments running on `side`.
    pub fn on(&self, side: Side) -> impl Iterator<Item = usize> + '_ {
        (0..self.deployments.len()).filter(move |&d| self.deployments[d].flow.target == side)
    }

    /// The deployment scaled up, when exactly one is.
    pub fn sole_desired(&self) -> Option<usize> {
        let desired: Vec<usize> = (0..self.deployments.len()).filter(|&d| self.deployments[d].desired).collect();
        match desired[..] {
            [one] => Some(one),
            _ => None,
        }
    }

    pub fn start(&mut self, dep: usize, timeline: &mut Timeline) -> String {
        let flow = self.deployments[dep].flow;
        if self.deployments[dep].desired {
            return format!("MM2 {flow} already running on {}", flow.target);
        }
        let pods = self.deployments[dep].new_pods(timeline.rng());
        let d = &mut self.deployments[dep];
        // A flow that ran resumes from its offsets, set first at the ends
        // of the opposite flow's data: nothing is copied back.
        if d.ever_ran
            && let Some(ends) = d.start_at.take()
        {
            for (c, end) in d.committed.iter_mut().zip(ends) {
                *c = Some(end - 1);
            }
        }
        d.desired = true;
        d.generation += 1;
        d.cr_ready = false;
        d.pods = pods;
        let guard = Guard::Mm2(dep, d.generation);
        for pod in 0..PODS {
            let running = timeline.delay(1_500, 2_500);
            let ready = running + timeline.delay(1_000, 2_000);
            timeline.schedule(running, guard, Event::PodRunning { dep, pod });
            timeline.schedule(ready, guard, Event::PodReady { dep, pod });
        }
        // Connector states are read once a second; tasks start on a whole one.
        let due = timeline.delay_to_whole_second(5_000, 10_000);
        timeline.schedule(due, guard, Event::ConnectorsRunning { dep });
        format!("scaling KafkaMirrorMaker2 mm2 on {} to {PODS} replicas ({flow})", flow.target)
    }

    /// Scales `dep` to zero; its tasks commit their progress as they stop,
    /// unless DC is `cut` off.
    pub fn stop(&mut self, dep: usize, clusters: &mut Clusters, timeline: &mut Timeline, cut: bool) -> String {
        let flow = self.deployments[dep].flow;
        if !self.deployments[dep].desired {
            return format!("MM2 {flow} already stopped");
        }
        if self.deployments[dep].flowing && !cut {
            self.flush(dep, clusters);
        }
        // Where this flow's data ends on its target: the reverse flow's start.
        let ends = self.mirrored.iter().map(|&(t, p)| clusters.side(flow.target).app_end(t, p)).collect();
        self.deployments[1 - dep].start_at = Some(ends);
        let d = &mut self.deployments[dep];
        d.desired = false;
        d.flowing = false;
        d.failed_task = None;
        d.stalled = false;
        d.cr_ready = true;
        d.generation += 1;
        for p in &mut d.pods {
            p.phase = "Terminating";
            p.ready = false;
        }
        let guard = Guard::Mm2(dep, d.generation);
        for pod in 0..d.pods.len() {
            let gone = timeline.delay(4_000, 8_000);
            timeline.schedule(gone, guard, Event::PodGone { dep, pod });
        }
        // Workers leave their Connect group as they shut down.
        clusters.side_mut(flow.target).groups_mut().empty(CONNECT_GROUP.id);
        format!("scaling KafkaMirrorMaker2 mm2 on {} to 0 replicas ({flow}): {PODS} pods terminating", flow.target)
    }

    pub fn on_pod_running(&mut self, dep: usize, pod: usize, clusters: &mut Clusters, rng: &mut SplitMix64) {
        let d = &mut self.deployments[dep];
        let target = d.flow.target;
        let Some(p) = d.pods.get_mut(pod) else { return };
        p.phase = "Running";
        let member = worker_member(pod, &p.ip, rng);
        if !d.flowing {
            d.assign_connectors(ConnectState::Unassigned);
        }
        let c = clusters.side_mut(target);
        for (name, parts) in CONNECT_TOPICS {
            c.ensure(name, parts, true);
        }
        c.bump(CONNECT_STATUS.0, pod, 1);
        c.groups_mut().join_stable(&CONNECT_GROUP, member);
    }

    pub fn on_pod_ready(&mut self, dep: usize, pod: usize) {
        let d = &mut self.deployments[dep];
        if let Some(p) = d.pods.get_mut(pod) {
            p.ready = true;
        }
        d.cr_ready = d.pods.iter().all(|p| p.ready);
    }

    pub fn on_pod_gone(&mut self, dep: usize, pod: usize) {
        let d = &mut self.deployments[dep];
        if let Some(p) = d.pods.get_mut(pod) {
            p.phase = "Gone";
        }
        if d.pods.iter().all(|p| p.phase == "Gone") {
            d.pods.clear();
            d.unassign_connectors();
        }
    }

    /// Tasks start: a first run begins at the source's end offsets (as with
    /// `auto.offset.reset=latest`), a restart resumes from committed ones.
    /// Returns the side replication now flows into, if the tasks started.
    pub fn on_connectors_running(&mut self, dep: usize, clusters: &mut Clusters) -> Option<Side> {
        let d = &mut self.deployments[dep];
        let flow = d.flow;
        if !d.pods.iter().any(|p| p.phase == "Running") {
            return None;
        }
        let (src, tgt) = clusters.ends_mut(flow);
        d.assign_connectors(ConnectState::Running);
        d.flowing = true;
        for (i, &(t, p)) in self.mirrored.iter().enumerate() {
            let src_end = src.app_end(t, p);
            let pos = match d.committed[i] {
                Some(c) if d.ever_ran => c + 1,
                _ => src_end,
            };
            d.position[i] = pos;
            d.base[i] = (pos, tgt.app_end(t, p));
            // The starting point is committed at once, so a first run's lag
            // is known from its first second.
            d.committed[i] = Some(pos - 1);
        }
        d.ever_ran = true;
        // Source heartbeats written from now on reach the target a second later.
        d.pending_beats.clear();
        let (source, target) = (alias(flow.source), alias(flow.target));
        tgt.ensure(&self.policy.remote_topic(source, self.policy.heartbeats_topic()), 1, true);
        tgt.ensure(&self.policy.checkpoints_topic(source), 1, true);
        tgt.bump(CONNECT_STATUS.0, dep, 6);
        clusters.side_mut(flow.source).ensure(&self.policy.offset_syncs_topic(target), 1, true);
        Some(flow.target)
    }

    /// One step of replication for every flowing deployment: each task moves
    /// its partitions toward the source end within its share of capacity.
    pub fn replicate(&mut self, clusters: &mut Clusters) {
        let budget = self.capacity / (STEPS_PER_SEC as f64 * SOURCE_TASKS as f64);
        for d in &mut self.deployments {
            if !d.flowing || d.stalled {
                continue;
            }
            let (src, tgt) = clusters.ends_mut(d.flow);
            let mut backlog = [0i64; SOURCE_TASKS];
            for (i, &(t, p)) in self.mirrored.iter().enumerate() {
                backlog[i % SOURCE_TASKS] += (src.app_end(t, p) - d.position[i]).max(0);
            }
            let scale = backlog.map(|b| if b as f64 <= budget { 1.0 } else { budget / b as f64 });
            for (i, &(t, p)) in self.mirrored.iter().enumerate() {
                let task = i % SOURCE_TASKS;
                let behind = src.app_end(t, p) - d.position[i];
                if behind <= 0 || d.failed_task == Some(task) {
                    continue;
                }
                let moved = (behind as f64 * scale[task]).floor() as i64;
                d.position[i] += moved;
                tgt.append(t, p, moved);
            }
        }
    }

    /// Once a second (`at`) for every flowing deployment: heartbeats, and
    /// unless DC is `cut` off, the offset flush, mirrored heartbeats (a
    /// second behind) and checkpoints.
    pub fn second(&mut self, at: Ts, clusters: &mut Clusters, cut: bool) {
        for dep in 0..self.deployments.len() {
            let d = &self.deployments[dep];
            if !d.flowing {
                continue;
            }
            let flow = d.flow;
            // The heartbeat connector writes into the target; its source-side
            // twin (a Connect on the source, as Strimzi v1 advises) into the source.
            for side in [flow.target, flow.source] {
                let beat =
                    Beat { topic: self.policy.heartbeats_topic().into(), source: flow.source, target: flow.target, at };
                clusters.side_mut(side).beat(beat);
            }
            if cut {
                continue;
            }
            self.flush(dep, clusters);
            self.mirror_beats(dep, clusters);
            self.write_checkpoints(dep, at, clusters);
        }
    }

    /// Connect's offset flush: progress becomes visible in `replicated`.
    fn flush(&mut self, dep: usize, clusters: &mut Clusters) {
        let d = &mut self.deployments[dep];
        let (changed, moved) = d.flush();
        let part = partition_of(&d.connector_name(ConnectorKind::Source), CONNECT_OFFSETS.1 as u64);
        let flow = d.flow;
        clusters.side_mut(flow.target).bump(CONNECT_OFFSETS.0, part, changed);
        let syncs = self.policy.offset_syncs_topic(alias(flow.target));
        clusters.side_mut(flow.source).bump(&syncs, 0, moved / 100 + i64::from(changed > 0));
    }

    /// The source's `heartbeats` records reach the target as `<src>.heartbeats`.
    fn mirror_beats(&mut self, dep: usize, clusters: &mut Clusters) {
        let d = &mut self.deployments[dep];
        let flow = d.flow;
        let heartbeats = self.policy.heartbeats_topic();
        let remote = self.policy.remote_topic(alias(flow.source), heartbeats);
        for b in std::mem::take(&mut d.pending_beats) {
            clusters.side_mut(flow.target).beat(Beat { topic: remote.clone(), ..b });
        }
        d.pending_beats = clusters.side(flow.source).beats_in(heartbeats).cloned().collect();
    }

    /// Translates the source's group offsets that moved, as the checkpoint
    /// connector does.
    pub fn write_checkpoints(&mut self, dep: usize, at: Ts, clusters: &mut Clusters) {
        let d = &mut self.deployments[dep];
        let (src, tgt) = clusters.ends_mut(d.flow);
        let mut written = 0;
        d.checkpoints.resize_with(src.groups().len(), Vec::new);
        for (group, slots) in src.groups().iter().zip(&mut d.checkpoints) {
            if self.unchecked_group.as_deref() == Some(group.id()) {
                slots.clear();
                continue;
            }
            let Some(t) = group.topic() else { continue };
            slots.resize(group.committed().len(), None);
            for (p, (c, slot)) in group.committed().iter().zip(slots.iter_mut()).enumerate() {
                let (Some(c), Some(&start)) = (*c, self.flat_start.get(t)) else { continue };
                let i = start + p;
                let (up, down) = d.base[i];
                if c < up || c > d.position[i] || slot.is_some_and(|k| k.upstream == c) {
                    continue;
                }
                *slot = Some(Ckpt { upstream: c, downstream: down + (c - up), at });
                written += 1;
            }
        }
        tgt.bump(&self.policy.checkpoints_topic(alias(d.flow.source)), 0, written);
    }

    /// Leaves `group` out of every checkpoint connector (`None`: none),
    /// dropping what was written for it, as for a group MM2 never saw.
    pub fn leave_out_of_checkpoints(&mut self, group: Option<String>) {
        self.unchecked_group = group;
    }

    pub fn group_left_out(&self) -> Option<&str> {
        self.unchecked_group.as_deref()
    }

    /// The first deployment whose connectors are RUNNING.
    pub fn flowing(&self) -> Option<usize> {
        self.deployments.iter().position(|d| d.flowing)
    }

    pub fn is_stalled(&self) -> bool {
        self.deployments.iter().any(|d| d.stalled)
    }

    /// The StallMm2 fault: `dep`'s tasks stay RUNNING (heartbeats too) but
    /// replicate nothing, as a source task stuck on a fetch does.
    pub fn stall(&mut self, dep: usize) -> String {
        let d = &mut self.deployments[dep];
        d.stalled = true;
        format!("MM2 {} keeps its tasks RUNNING but replicates nothing", d.flow)
    }

    /// A stopped flow, one that ran first: records written on its source
    /// from now on are never replicated (an orphan tail).
    pub fn stopped(&self) -> Option<usize> {
        let ran = self.deployments.iter().position(|d| !d.desired && d.ever_ran);
        ran.or_else(|| self.deployments.iter().position(|d| !d.desired))
    }

    /// The PolicyDrift fault: `dep`'s checkpoint connector is configured
    /// with the default replication policy, its siblings with identity.
    pub fn drift_policy(&mut self, dep: usize) -> String {
        let d = &mut self.deployments[dep];
        d.policy_drift = true;
        format!("MM2 {}'s checkpoint connector now names topics by the default policy", d.flow)
    }

    pub fn undrift_policy(&mut self) -> String {
        for d in &mut self.deployments {
            d.policy_drift = false;
        }
        "MM2's connectors all name topics by the identity policy again".into()
    }

    pub fn has_policy_drift(&self) -> bool {
        self.deployments.iter().any(|d| d.policy_drift)
    }

    pub fn unstall(&mut self) -> String {
        for d in &mut self.deployments {
            d.stalled = false;
        }
        "MM2 moves again".into()
    }

    pub fn has_failed_task(&self) -> bool {
        self.deployments.iter().any(|d| d.failed_task.is_some())
    }

    /// The FailMm2Task fault: a source task of `dep` other than task 0
    /// (which also carries the heartbeats topic) dies.
    pub fn fail_task(&mut self, dep: usize, rng: &mut SplitMix64) -> String {
        let task = rng.range(1, SOURCE_TASKS as u64 - 1) as usize;
        let d = &mut self.deployments[dep];
        d.fail_task(task);
        let name = d.connector_name(ConnectorKind::Source);
        format!("{name} task {task} FAILED (RecordTooLargeException); the CR still reports Ready")
    }

    /// The failed source task, if any, is restarted.
    pub fn restart_failed_task(&mut self) {
        if let Some(d) = self.deployments.iter_mut().find(|d| d.failed_task.is_some()) {
            d.restart_failed_task();
        }
    }

    /// Brings `dep` up as if long running: pods Ready, workers in the
    /// Connect group, connectors RUNNING, everything replicated and
    /// committed. `first_start` is where each mirrored partition's
    /// replication began, and heartbeats are as of `at`.
    pub fn run_steady(
        &mut self,
        dep: usize,
        first_start: &[i64],
        at: Ts,
        clusters: &mut Clusters,
        rng: &mut SplitMix64,
    ) {
        let d = &mut self.deployments[dep];
        let flow = d.flow;
        let mut pods = d.new_pods(rng);
        for (i, p) in pods.iter_mut().enumerate() {
            p.phase = "Running";
            p.ready = true;
            let member = worker_member(i, &p.ip, rng);
            clusters.side_mut(flow.target).groups_mut().join_stable(&CONNECT_GROUP, member);
        }
        d.desired = true;
        d.generation = 1;
        d.pods = pods;
        d.assign_connectors(ConnectState::Running);
        d.flowing = true;
        d.ever_ran = true;
        for (i, &(t, p)) in self.mirrored.iter().enumerate() {
            let end = clusters.side(flow.source).app_end(t, p);
            d.position[i] = end;
            d.committed[i] = Some(end - 1);
            d.base[i] = (first_start.get(i).copied().unwrap_or(end), 0);
        }
        let heartbeats = self.policy.heartbeats_topic();
        let beat = |topic: &str, at| Beat { topic: topic.into(), source: flow.source, target: flow.target, at };
        clusters.side_mut(flow.source).note_beat(beat(heartbeats, at));
        clusters.side_mut(flow.target).note_beat(beat(heartbeats, at));
        let remote = self.policy.remote_topic(alias(flow.source), heartbeats);
        clusters.side_mut(flow.target).note_beat(beat(&remote, at - chrono::TimeDelta::seconds(1)));
        d.pending_beats = vec![beat(heartbeats, at)];
    }

    /// What Kubernetes and Connect show of `dep` at `at`.
    pub fn observe(&self, dep: usize, at: Ts, clusters: &Clusters) -> Mm2Deployment {
        let d = &self.deployments[dep];
        let workers = clusters
            .side(d.flow.target)
            .groups()
            .members(CONNECT_GROUP.id)
            .iter()
            .map(|m| Worker { id: m.member_id.clone(), host: m.host.to_string() })
            .collect();
        d.observe(at, clusters.side(d.flow.source), &self.mirrored, workers)
    }

    /// What `side`'s Kubernetes shows of MM2: the resources of the
    /// deployments running there, and their pods.
    pub fn platform(&self, side: Side) -> (Vec<MirrorMaker>, Vec<model::Pod>) {
        let here: Vec<&Deployment> = self.deployments.iter().filter(|d| d.flow.target == side).collect();
        (here.iter().map(|d| d.resource()).collect(), here.iter().flat_map(|d| d.pod_objects()).collect())
    }

    /// Checkpoints in `side`'s `<src>.checkpoints.internal` topics.
    pub fn checkpoints_into(&self, side: Side, clusters: &Clusters) -> Vec<Checkpoint> {
        let mut out = Vec::new();
        for d in self.deployments.iter().filter(|d| d.flow.target == side) {
            let src = clusters.side(d.flow.source);
            let source_alias: std::sync::Arc<str> = alias(d.flow.source).into();
            for (group, slots) in src.groups().iter().zip(&d.checkpoints) {
                if self.unchecked_group.as_deref() == Some(group.id()) {
                    continue;
                }
                let Some(topic) = group.topic().and_then(|t| src.app_topic(t)) else { continue };
                for (p, k) in slots.iter().enumerate() {
                    let Some(k) = k else { continue };
                    out.push(Checkpoint {
                        source_alias: source_alias.clone(),
                        group: group.shared_id(),
                        topic: topic.shared_name(),
                        partition: p as i32,
                        upstream_offset: k.upstream,
                        downstream_offset: k.downstream,
                        written_at: k.at,
                    });
                }
            }
        }
        out
    }
}

/// The Connect group member of the `pod`th worker, at `ip`.
fn worker_member(pod: usize, ip: &str, rng: &mut SplitMix64) -> Member {
    Member {
        member_id: format!("connect-{}-{}", pod + 1, rng.uuid()),
        client_id: format!("connect-{}", pod + 1).into(),
        host: format!("/{ip}").into(),
        stray: false,
    }
}
