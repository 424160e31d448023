//! Observing real clusters through the Kafka protocol.
//!
//! [`spawn`] starts one task per cluster, each owning its librdkafka client
//! and polling on a blocking thread every `poll_interval` (backing off while
//! the cluster does not answer); a publisher merges the two clusters' latest
//! reports into a [`Snapshot`] and sends it only when it differs from the
//! last one sent. Actions are answered by an executor that, for now, says
//! what kdrill cannot do on real clusters. `kdrill check` runs the same
//! [`spawn`] for a settling period.

pub mod bytes;
pub mod client;
pub mod cluster;
pub mod connect_topics;
// The crate's only unsafe code: librdkafka's C API behind safe functions.
#[allow(unsafe_code)]
pub mod ffi;
pub mod groups;
pub mod mm2;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use crate::action::Action;
use crate::config::{Config, Mm2Config};
use crate::model::{Checkpoint, Cluster, Heartbeat, Mm2Deployment, Observed, Side, Snapshot, Worker, WorkerKind};

use super::{SourceEnd, WorldLink, link};
use crate::action::Outcome;
use cluster::ClusterPoller;
use mm2::{Mm2Footprint, Mm2Reader};

/// What one cluster's task reports after each poll.
#[derive(Clone, Debug, PartialEq)]
struct Report {
    side: Side,
    cluster: Cluster,
    /// The deployments whose Connect cluster runs on this side.
    deployments: Vec<Mm2Deployment>,
}

/// Starts observing both clusters of `config`; the returned link receives a
/// snapshot whenever what is known changes, and answers every action.
/// Must be called within a Tokio runtime. Tasks end when the link is dropped.
pub fn spawn(config: Config) -> WorldLink {
    let initial = empty_snapshot(&config);
    let (world, source) = link(initial.clone());
    let SourceEnd { snapshots, outcomes, actions } = source;
    let (report_tx, report_rx) = mpsc::channel::<Report>(8);
    for side in Side::BOTH {
        let tx = report_tx.clone();
        let config = config.clone();
        tokio::spawn(async move { cluster_task(side, config, tx).await });
    }
    drop(report_tx);
    tokio::spawn(publish(initial, report_rx, snapshots));
    tokio::spawn(execute(actions, outcomes));
    world
}

fn empty_snapshot(config: &Config) -> Snapshot {
    let mut snap = Snapshot::empty(Utc::now(), &config.cluster(Side::Dc).alias, &config.cluster(Side::Dr).alias);
    snap.mm2 = config.mm2.iter().map(blank_deployment).collect();
    snap
}

fn blank_deployment(m: &Mm2Config) -> Mm2Deployment {
    Mm2Deployment {
        name: m.name.clone(),
        flow: m.flow,
        runs_on: m.runs_on,
        connectors: None,
        workers: None,
        replicated: None,
        cr_ready: None,
    }
}

/// Everything one side observes: the cluster (through `ClusterPoller`) and
/// MM2's footprint in its topics (through the `Mm2Reader` of the
/// deployments running on it, created lazily), polled in parallel, with the
/// last good MM2 sections kept when a read is incomplete.
struct SidePoller {
    side: Side,
    config: Config,
    cluster: ClusterPoller,
    reader: Option<Mm2Reader>,
    heartbeats: Option<Observed<Vec<Heartbeat>>>,
    checkpoints: Option<Observed<Vec<Checkpoint>>>,
    /// Last good connectors and replicated offsets per deployment (by index
    /// among the deployments running on this side).
    deployments: Vec<Mm2Deployment>,
}

impl SidePoller {
    fn new(config: &Config, side: Side) -> SidePoller {
        let cluster = ClusterPoller::new(
            config.cluster(side).clone(),
            config.timing.clone(),
            config.settings.classification.clone(),
        );
        SidePoller::with(config, side, cluster)
    }

    fn with(config: &Config, side: Side, cluster: ClusterPoller) -> SidePoller {
        SidePoller {
            side,
            config: config.clone(),
            cluster,
            reader: None,
            heartbeats: None,
            checkpoints: None,
            deployments: config.mm2.iter().filter(|m| m.runs_on == side).map(blank_deployment).collect(),
        }
    }

    /// After a poll thread died: a new client, the last reported state kept.
    fn resume(config: &Config, side: Side, last: &Report) -> SidePoller {
        let cluster = ClusterPoller::resume(
            config.cluster(side).clone(),
            config.timing.clone(),
            config.settings.classification.clone(),
            Cluster { heartbeats: None, checkpoints: None, ..last.cluster.clone() },
        );
        let mut p = SidePoller::with(config, side, cluster);
        p.heartbeats = last.cluster.heartbeats.clone();
        p.checkpoints = last.cluster.checkpoints.clone();
        p.deployments = last.deployments.clone();
        p
    }

    fn next_delay(&self) -> Duration {
        self.cluster.next_delay()
    }

    /// One blocking poll of the cluster and of MM2's topics, in parallel.
    fn poll(&mut self) -> Report {
        let timeout = self.config.timing.request_timeout;
        if self.reader.is_none() {
            let aliases = Side::BOTH.map(|s| self.config.cluster(s).alias.clone());
            let mine = self.config.mm2.iter().filter(|m| m.runs_on == self.side).cloned().collect();
            match Mm2Reader::new(
                self.config.cluster(self.side),
                &self.config.timing,
                aliases,
                mine,
                self.config.settings.policy.clone(),
            ) {
                Ok(r) => self.reader = Some(r),
                Err(e) => tracing::warn!("{}: cannot read MM2 topics: {e}", self.side),
            }
        }
        let cluster = &mut self.cluster;
        let footprint = std::thread::scope(|s| {
            let reading = self.reader.as_mut().map(|r| s.spawn(move || r.poll(timeout)));
            cluster.poll();
            reading.map(|h| h.join())
        });
        match footprint {
            Some(Ok(f)) => self.absorb(f),
            Some(Err(_)) => {
                tracing::error!("{}: the MM2 reader panicked; starting a new one", self.side);
                self.reader = None;
            }
            None => {}
        }
        self.report()
    }

    fn absorb(&mut self, f: Mm2Footprint) {
        if let Some(e) = &f.error {
            tracing::debug!("{}: MM2 topics: {e}", self.side);
        }
        if let Some(h) = f.heartbeats {
            self.heartbeats = Some(Observed::new(h, f.at));
        }
        if let Some(c) = f.checkpoints {
            self.checkpoints = Some(Observed::new(c, f.at));
        }
        for d in f.deployments {
            let Some(slot) = self.deployments.iter_mut().find(|s| s.name == d.name && s.flow == d.flow) else {
                continue;
            };
            if let Some(c) = d.connectors {
                slot.connectors = Some(Observed::new(c, f.at));
            }
            if let Some(r) = d.replicated {
                slot.replicated = Some(Observed::new(r, f.at));
            }
        }
    }

    fn report(&self) -> Report {
        let mut cluster = self.cluster.cluster().clone();
        cluster.heartbeats = self.heartbeats.clone();
        cluster.checkpoints = self.checkpoints.clone();
        let deployments = self
            .deployments
            .iter()
            .map(|d| {
                let group = self.config.mm2.iter().find(|m| m.name == d.name && m.flow == d.flow).map(|m| &m.group_id);
                Mm2Deployment { workers: group.and_then(|g| workers_of(&cluster, g)), ..d.clone() }
            })
            .collect();
        Report { side: self.side, cluster, deployments }
    }
}

/// The Connect workers of a deployment: the members of its worker group
/// (protocol type `connect`), as of when the groups were observed. A group
/// that is absent or not a Connect group means no workers.
pub fn workers_of(cluster: &Cluster, group_id: &str) -> Option<Observed<Vec<Worker>>> {
    let groups = cluster.groups.as_ref()?;
    let workers = groups
        .value
        .iter()
        .find(|g| g.id == group_id && g.protocol_type == "connect")
        .map(|g| {
            g.members
                .iter()
                .map(|m| Worker { id: m.member_id.clone(), host: m.host.clone(), kind: WorkerKind::GroupMember })
                .collect()
        })
        .unwrap_or_default();
    Some(Observed::new(workers, groups.at))
}

fn merge(snap: &mut Snapshot, r: Report) {
    *snap.cluster_mut(r.side) = r.cluster;
    for d in r.deployments {
        if let Some(slot) = snap.mm2.iter_mut().find(|s| s.name == d.name && s.flow == d.flow) {
            *slot = d;
        }
    }
}

async fn cluster_task(side: Side, config: Config, tx: mpsc::Sender<Report>) {
    let mut poller = Some(SidePoller::new(&config, side));
    let mut last: Option<Report> = None;
    loop {
        let mut p = match (poller.take(), &last) {
            (Some(p), _) => p,
            (None, Some(last)) => SidePoller::resume(&config, side, last),
            (None, None) => SidePoller::new(&config, side),
        };
        let started = std::time::Instant::now();
        let polled = tokio::task::spawn_blocking(move || {
            let report = p.poll();
            (p, report)
        })
        .await;
        let delay = match polled {
            Ok((p, report)) => {
                let delay = p.next_delay().saturating_sub(started.elapsed());
                poller = Some(p);
                last = Some(report.clone());
                if tx.send(report).await.is_err() {
                    return;
                }
                delay
            }
            Err(e) => {
                tracing::error!("{side}: poll thread failed, starting a new client: {e}");
                config.timing.poll_interval
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = tx.closed() => return,
        }
    }
}

/// Merges reports into snapshots and sends one only when it differs from
/// the last sent (ignoring `taken_at`). Every successful poll restamps its
/// sections, so fresh observations always go out; a cluster that keeps
/// failing the same way sends nothing new.
async fn publish(
    mut current: Snapshot,
    mut reports: mpsc::Receiver<Report>,
    tx: tokio::sync::watch::Sender<Arc<Snapshot>>,
) {
    loop {
        let report = tokio::select! {
            r = reports.recv() => r,
            _ = tx.closed() => return,
        };
        let Some(report) = report else { return };
        let mut next = current.clone();
        merge(&mut next, report);
        if same_content(&next, &current) {
            continue;
        }
        next.taken_at = Utc::now();
        current = next;
        if tx.send(Arc::new(current.clone())).is_err() {
            return;
        }
    }
}

fn same_content(a: &Snapshot, b: &Snapshot) -> bool {
    a.clusters == b.clusters && a.mm2 == b.mm2
}

/// What kdrill answers to an action on real clusters until real backends
/// land behind the same dispatcher: a refusal that tells the operator to do
/// it by their usual means (the drill step still completes by observation).
pub fn refusal(action: &Action) -> String {
    format!(
        "kdrill cannot {} on real clusters yet: do it by your usual means; the step completes when kdrill observes it",
        action.label()
    )
}

async fn execute(mut actions: mpsc::UnboundedReceiver<Action>, outcomes: mpsc::UnboundedSender<Outcome>) {
    while let Some(action) = actions.recv().await {
        let result = Err(refusal(&action));
        if outcomes.send(Outcome { action, result, at: Utc::now() }).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Flow, Group, GroupProtocol, Member};

    #[test]
    fn refusals_name_the_action() {
        let text = refusal(&Action::StopApps(Side::Dc));
        assert_eq!(
            text,
            "kdrill cannot stop applications on DC on real clusters yet: do it by your usual means; the step completes when kdrill observes it"
        );
    }

    #[test]
    fn workers_are_the_members_of_the_connect_group() {
        let at = Utc::now();
        let member = |id: &str| Member {
            member_id: id.into(),
            client_id: "connect-1".into(),
            host: "/127.0.0.1".into(),
            assignment: vec![],
        };
        let group = |id: &str, pt: &str, members: Vec<Member>| Group {
            id: id.into(),
            state: "Stable".into(),
            protocol_type: pt.into(),
            protocol: GroupProtocol::Classic,
            members,
            committed: None,
        };
        let mut c = Cluster::new(Side::Dr, "dr");
        assert_eq!(workers_of(&c, "mirrormaker2-cluster"), None, "groups never observed: unknown");
        c.groups = Some(Observed::new(
            vec![
                group("mirrormaker2-cluster", "connect", vec![member("w1"), member("w2")]),
                group("orders-app", "consumer", vec![member("c1")]),
            ],
            at,
        ));
        let w = workers_of(&c, "mirrormaker2-cluster");
        assert_eq!(w.as_ref().map(|w| w.value.len()), Some(2));
        assert_eq!(w.as_ref().map(|w| w.at), Some(at));
        assert_eq!(workers_of(&c, "orders-app").map(|w| w.value.len()), Some(0), "not a Connect group");
        assert_eq!(workers_of(&c, "gone").map(|w| w.value.len()), Some(0), "no group: no workers");
    }

    #[test]
    fn merge_replaces_one_side_and_its_deployments() {
        let mut snap = Snapshot::empty(Utc::now(), "dc", "dr");
        snap.mm2 = vec![Mm2Deployment {
            name: "mm2".into(),
            flow: Flow::DC_TO_DR,
            runs_on: Side::Dr,
            connectors: None,
            workers: None,
            replicated: None,
            cr_ready: None,
        }];
        let before = snap.clone();
        let mut dr = Cluster::new(Side::Dr, "dr");
        dr.link = crate::model::Link::Up { last_ok: Utc::now() };
        let dep = Mm2Deployment { workers: Some(Observed::new(vec![], Utc::now())), ..snap.mm2[0].clone() };
        merge(&mut snap, Report { side: Side::Dr, cluster: dr.clone(), deployments: vec![dep] });
        assert_eq!(snap.cluster(Side::Dr), &dr);
        assert_eq!(snap.cluster(Side::Dc), before.cluster(Side::Dc));
        assert!(snap.mm2[0].workers.is_some());
        assert!(!same_content(&snap, &before));
    }

    #[tokio::test]
    async fn every_action_gets_an_outcome() {
        let (act_tx, act_rx) = mpsc::unbounded_channel();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        let h = tokio::spawn(execute(act_rx, out_tx));
        act_tx.send(Action::StopMm2(Flow::DC_TO_DR)).ok();
        act_tx.send(Action::StartApps(Side::Dr)).ok();
        drop(act_tx);
        let a = out_rx.recv().await;
        let b = out_rx.recv().await;
        assert_eq!(a.map(|o| o.action), Some(Action::StopMm2(Flow::DC_TO_DR)));
        assert!(matches!(b.map(|o| o.result), Some(Err(m)) if m.contains("start applications on DR")));
        let _ = h.await;
    }
}
