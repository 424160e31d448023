//! What a collector would observe of the world, as `model` data: every
//! section stamped with the moment it was read. A cut-off DC is shown as it
//! was last seen, with its old stamps, never as zeros.

use crate::model::{
    Broker, Checkpoint, Cluster, Committed, Connector, Group, Heartbeat, Link, Member, Mm2Deployment, Observed,
    Partition, ReplicatedOffset, Side, Snapshot, TargetState, Task, Topic, Worker, WorkerKind,
};

use super::world::{ClusterState, DemoWorld, GroupKind, GroupState, TopicState, alias};

const BROKER_PORT: u16 = 9093;

impl DemoWorld {
    pub(super) fn snapshot(&self) -> Snapshot {
        let cut = self.faults.cut.as_deref();
        let clusters = Side::BOTH.map(|side| match cut {
            Some(cut) if side == Side::Dc => {
                let mut c = cut.dc.clone();
                c.link = Link::Down {
                    since: cut.since,
                    last_ok: Some(cut.since),
                    error: "dc-kafka-0.kafka.svc:9093/0: Connect to ipv4#10.20.0.11:9093 failed: \
                            Operation timed out (after 30012ms in state CONNECT)"
                        .into(),
                };
                c
            }
            _ => self.cluster_view(side),
        });
        let mm2 = (0..self.mm2.len())
            .map(|dep| {
                let frozen = cut.and_then(|c| c.deployments.iter().find(|(d, _)| *d == dep));
                frozen.map_or_else(|| self.deployment_view(dep), |(_, v)| v.clone())
            })
            .collect();
        Snapshot { taken_at: self.now, clusters, mm2, platforms: [None, None] }
    }

    pub(super) fn cluster_view(&self, side: Side) -> Cluster {
        let c = &self.clusters[side.index()];
        let at = self.now;
        let a = alias(side);
        let brokers = (0..c.brokers_up.len())
            .map(|id| Broker {
                id: id as i32,
                host: format!("{a}-kafka-{id}.kafka.svc"),
                port: BROKER_PORT,
                up: c.brokers_up[id],
            })
            .collect();
        let topics =
            c.apps.iter().chain(&c.internal).enumerate().map(|(i, t)| topic_view(t, i, &c.brokers_up)).collect();
        let groups = c.groups.iter().map(|g| group_view(g, c)).collect();
        let heartbeats = c
            .beats
            .iter()
            .map(|b| Heartbeat {
                topic: b.topic.clone(),
                source_alias: alias(b.source).into(),
                target_alias: alias(b.target).into(),
                emitted_at: b.at,
            })
            .collect();
        let mut cluster = Cluster::new(side, a);
        cluster.link = Link::Up { last_ok: at };
        cluster.brokers = Some(Observed::new(brokers, at));
        cluster.topics = Some(Observed::new(topics, at));
        cluster.groups = Some(Observed::new(groups, at));
        cluster.heartbeats = Some(Observed::new(heartbeats, at));
        cluster.checkpoints = Some(Observed::new(self.checkpoints_into(side), at));
        cluster
    }

    /// Checkpoints in `side`'s `<src>.checkpoints.internal` topics.
    fn checkpoints_into(&self, side: Side) -> Vec<Checkpoint> {
        let mut out = Vec::new();
        for d in self.mm2.iter().filter(|d| d.flow.target == side) {
            let src = &self.clusters[d.flow.source.index()];
            for (group, slots) in src.groups.iter().zip(&d.checkpoints) {
                let Some(topic) = group.topic.and_then(|t| src.apps.get(t)) else { continue };
                for (p, k) in slots.iter().enumerate() {
                    let Some(k) = k else { continue };
                    out.push(Checkpoint {
                        source_alias: alias(d.flow.source).into(),
                        group: group.id.clone(),
                        topic: topic.name.clone(),
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

    pub(super) fn deployment_view(&self, dep: usize) -> Mm2Deployment {
        let d = &self.mm2[dep];
        let at = self.now;
        let connectors = d
            .connectors
            .iter()
            .map(|c| Connector {
                name: d.connector_name(c.kind),
                kind: c.kind,
                state: c.state.clone(),
                target_state: Some(TargetState::Started),
                worker_id: c.worker.clone(),
                trace: None,
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
            .collect();
        let workers = d
            .pods
            .iter()
            .filter(|p| p.phase != "Gone")
            .map(|p| Worker {
                id: p.name.clone(),
                host: p.ip.clone(),
                kind: WorkerKind::Pod { phase: p.phase.into(), ready: p.ready },
            })
            .collect();
        let src = &self.clusters[d.flow.source.index()];
        let replicated = self
            .mirrored
            .iter()
            .zip(&d.committed)
            .filter_map(|(&(t, p), c)| {
                Some(ReplicatedOffset {
                    topic: src.apps.get(t)?.name.clone(),
                    partition: p as i32,
                    upstream_offset: (*c)?,
                })
            })
            .collect();
        Mm2Deployment {
            name: "mm2".into(),
            flow: d.flow,
            runs_on: d.flow.target,
            connectors: Some(Observed::new(connectors, at)),
            workers: Some(Observed::new(workers, at)),
            replicated: Some(Observed::new(replicated, at)),
            cr_ready: Some(Observed::new(d.cr_ready, at)),
        }
    }
}

/// Replicas rotate over the brokers; the first live one leads.
fn topic_view(t: &TopicState, shift: usize, up: &[bool; 3]) -> Topic {
    let partitions = t
        .parts
        .iter()
        .enumerate()
        .map(|(p, part)| Partition {
            id: p as i32,
            leader: (0..up.len()).map(|k| (shift + p + k) % up.len()).find(|&b| up[b]).map(|b| b as i32),
            end_offset: Some(part.end),
        })
        .collect();
    Topic {
        name: t.name.clone(),
        partitions,
        replication_factor: Some(t.rf),
        min_insync_replicas: Some(t.min_isr),
        cleanup_policy: Some(if t.compact { "compact" } else { "delete" }.into()),
    }
}

fn group_view(g: &GroupState, c: &ClusterState) -> Group {
    let topic = g.topic.and_then(|t| c.apps.get(t));
    let n = topic.map_or(0, |t| t.parts.len());
    let m = g.members.len();
    let members = g
        .members
        .iter()
        .map(|member| {
            // Range assignor over members sorted by id; nothing is assigned
            // while the group rebalances.
            let rank = g.members.iter().filter(|o| o.member_id < member.member_id).count();
            let assignment = match topic {
                Some(t) if g.state == "Stable" && m > 0 => {
                    let (per, extra) = (n / m, n % m);
                    let from = rank * per + rank.min(extra);
                    let len = per + usize::from(rank < extra);
                    (from..from + len).map(|p| (t.name.clone(), p as i32)).collect()
                }
                _ => Vec::new(),
            };
            Member {
                member_id: member.member_id.clone(),
                client_id: member.client_id.clone(),
                host: member.host.clone(),
                assignment,
            }
        })
        .collect();
    let committed = match (g.kind, topic) {
        (GroupKind::Connect, _) | (_, None) => None,
        (_, Some(t)) => Some(
            g.committed
                .iter()
                .enumerate()
                .filter_map(|(p, o)| Some(Committed { topic: t.name.clone(), partition: p as i32, offset: (*o)? }))
                .collect(),
        ),
    };
    Group {
        id: g.id.clone(),
        state: g.state.into(),
        protocol_type: if g.kind == GroupKind::Connect { "connect" } else { "consumer" }.into(),
        protocol: g.protocol,
        members,
        committed,
    }
}
