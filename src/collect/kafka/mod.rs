//! Observing real clusters through the Kafka protocol.
//!
//! [`spawn`] starts one task per cluster, each owning its librdkafka client
//! and polling on a blocking thread every `poll_interval` (backing off while
//! the cluster does not answer); a publisher merges the two clusters' latest
//! reports into a [`Snapshot`] and sends it only when it differs from the
//! last one sent. Actions are answered by an executor that, for now, says
//! what kdrill cannot do on real clusters. `kdrill check` runs the same
//! [`spawn`] for a settling period.
//!
//! # Modules, one job each
//!
//! * this module: the tasks (one per side, the publisher, the executor);
//! * `side`: what one side observes: its cluster and MM2's topics there,
//!   polled in parallel into one report;
//! * `cluster`: one bounded poll of one cluster (brokers, topics, end
//!   offsets, configs, groups), its last good sections and its backoff;
//! * `groups`: the consumer groups of one cluster, whatever their protocol,
//!   with members, assignments and committed offsets;
//! * `client`: the read-only librdkafka client configuration and context;
//! * `mm2` (with `mm2::state`): MM2's footprint read from its Connect,
//!   heartbeats and checkpoints topics;
//! * `connect_topics`: decoders of Kafka Connect's status, config and
//!   offsets topics (JSON);
//! * `wire`: codecs of MM2's binary records (heartbeat, checkpoint, offset sync);
//! * `bytes`: the one reader of Kafka's binary types, shared by `wire` and
//!   `groups`;
//! * `ffi`: the only unsafe code, librdkafka's C API behind safe functions.

pub mod bytes;
mod canary;
pub mod client;
pub mod cluster;
pub mod committed;
pub mod connect_topics;
// The crate's only unsafe code: librdkafka's C API behind safe functions.
#[allow(unsafe_code)]
pub mod ffi;
pub mod groups;
pub mod mm2;
pub mod record_times;
pub mod security;
mod side;
pub mod wire;
pub mod writer;

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;

use super::{SourceEnd, WorldLink, link};
use crate::act::Procedure;
use crate::act::run::Executor;
use crate::action::Outcome;
use crate::config::{Config, Mm2Config, action_secrets};
use crate::model::{Canary, Mm2Deployment, Observed, Platform, Side, Snapshot};
use side::{Report, SidePoller};

pub use side::workers_of;

/// Starts observing both clusters of `config`; the returned link receives a
/// snapshot whenever what is known changes, and answers every action.
/// Must be called within a Tokio runtime. Tasks end when the link is dropped.
/// Observing writes nothing to the clusters.
pub fn spawn(config: Config) -> WorldLink {
    spawn_with(config, false)
}

/// `spawn`, for a console that may act: it also runs the canaries the
/// configuration names (`[mm2.canary]`), which write to the clusters.
pub fn spawn_acting(config: Config) -> WorldLink {
    spawn_with(config, true)
}

fn spawn_with(config: Config, acting: bool) -> WorldLink {
    let mut initial = empty_snapshot(&config);
    let canaries: Vec<_> =
        config.mm2.iter().filter(|_| acting).filter_map(|m| Some((m.flow, m.canary.clone()?))).collect();
    initial.canaries = canaries.iter().map(|(flow, c)| canary::starting(&config, *flow, c)).collect();
    let (world, source) = link(initial.clone());
    let SourceEnd { snapshots, outcomes, actions } = source;
    let (report_tx, report_rx) = mpsc::channel::<Report>(8);
    for side in Side::BOTH {
        let tx = report_tx.clone();
        let config = config.clone();
        tokio::spawn(async move { cluster_task(side, config, tx).await });
    }
    drop(report_tx);
    let (platform_tx, platform_rx) = mpsc::channel::<Platform>(8);
    for side in Side::BOTH {
        if let Some(kube) = config.cluster(side).kube.clone() {
            let timing = crate::collect::kube::KubeTiming {
                poll: config.timing.poll_interval,
                timeout: config.timing.request_timeout,
                retry_max: side::backoff_max(&config),
            };
            tokio::spawn(crate::collect::kube::watch_side(side, kube, timing, platform_tx.clone()));
        }
    }
    drop(platform_tx);
    let (canary_tx, canary_rx) = mpsc::channel::<Observed<Canary>>(8);
    for (flow, c) in canaries {
        let (tx, config) = (canary_tx.clone(), config.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("canary {flow}"))
            .spawn(move || canary::run(&config, flow, &c, &tx));
        if let Err(e) = spawned {
            tracing::error!("{flow}: cannot start the canary: {e}");
        }
    }
    drop(canary_tx);
    tokio::spawn(publish(
        initial,
        Inputs { reports: report_rx, platforms: platform_rx, canaries: canary_rx },
        snapshots,
    ));
    // Every secret of the configuration is kept out of command output.
    let mut redact = action_secrets(config.mm2.iter().map(|m| &m.actions));
    redact.extend(config.clusters.iter().flat_map(|c| c.secrets.values().cloned()));
    let executor = Executor::new(config.timing.request_timeout, redact);
    tokio::spawn(execute(actions, outcomes, executor));
    world
}

fn empty_snapshot(config: &Config) -> Snapshot {
    let mut snap = Snapshot::empty(Utc::now(), &config.cluster(Side::Dc).alias, &config.cluster(Side::Dr).alias);
    snap.mm2 = config.mm2.iter().map(blank_deployment).collect();
    snap.platforms = Side::BOTH.map(|side| {
        let kube = config.cluster(side).kube.as_ref()?;
        Some(Platform::new(side, &kube.context, &kube.namespace))
    });
    snap
}

fn blank_deployment(m: &Mm2Config) -> Mm2Deployment {
    Mm2Deployment::unobserved(&m.name, m.flow, m.runs_on)
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

/// What the publisher merges: each side's reports, each side's platform,
/// each canary.
struct Inputs {
    reports: mpsc::Receiver<Report>,
    platforms: mpsc::Receiver<Platform>,
    canaries: mpsc::Receiver<Observed<Canary>>,
}

/// Merges reports into snapshots and sends one only when it differs from
/// the last sent (ignoring `taken_at`). Every successful poll restamps its
/// sections, so fresh observations always go out; a cluster that keeps
/// failing the same way sends nothing new.
async fn publish(mut current: Snapshot, mut inputs: Inputs, tx: tokio::sync::watch::Sender<Arc<Snapshot>>) {
    let (mut platforms_open, mut canaries_open) = (true, true);
    loop {
        let mut next = current.clone();
        tokio::select! {
            r = inputs.reports.recv() => match r {
                Some(report) => merge(&mut next, report),
                None => return,
            },
            p = inputs.platforms.recv(), if platforms_open => match p {
                Some(p) => {
                    let side = p.side;
                    next.platforms[side.index()] = Some(p);
                }
                None => platforms_open = false,
            },
            c = inputs.canaries.recv(), if canaries_open => match c {
                Some(c) => {
                    next.canaries.retain(|o| o.value.flow != c.value.flow);
                    next.canaries.push(c);
                    next.canaries.sort_by_key(|o| (o.value.flow.source, o.value.flow.target));
                }
                None => canaries_open = false,
            },
            _ = tx.closed() => return,
        }
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
    a.clusters == b.clusters && a.mm2 == b.mm2 && a.platforms == b.platforms && a.canaries == b.canaries
}

/// Carries out each procedure in turn (one at a time: a drill's actions
/// are sequential, and a second must never overtake the first).
async fn execute(
    mut procedures: mpsc::UnboundedReceiver<Procedure>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    mut executor: Executor,
) {
    while let Some(p) = procedures.recv().await {
        let outcome = executor.run(p).await;
        if outcomes.send(outcome).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Cluster, Flow, Observed};

    #[test]
    fn merge_replaces_one_side_and_its_deployments() {
        let mut snap = Snapshot::empty(Utc::now(), "dc", "dr");
        snap.mm2 = vec![Mm2Deployment::unobserved("mm2", Flow::DC_TO_DR, Side::Dr)];
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
    async fn every_procedure_gets_an_outcome_and_nothing_is_sent_without_requests() {
        let (act_tx, act_rx) = mpsc::unbounded_channel();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        let executor = Executor::new(std::time::Duration::from_secs(1), Vec::new());
        let h = tokio::spawn(execute(act_rx, out_tx, executor));
        act_tx.send(Procedure::bare(crate::action::Action::StopMm2(Flow::DC_TO_DR))).ok();
        act_tx.send(Procedure::bare(crate::action::Action::StartApps(Side::Dr))).ok();
        drop(act_tx);
        let a = out_rx.recv().await;
        let b = out_rx.recv().await;
        assert_eq!(a.map(|o| o.action), Some(crate::action::Action::StopMm2(Flow::DC_TO_DR)));
        assert!(
            matches!(b.map(|o| o.result), Some(Err(m)) if m.contains("start applications on DR") && m.contains("nothing was sent"))
        );
        let _ = h.await;
    }
}
