//! The simulated pair as one world: it composes the parts (clusters,
//! applications, MM2, faults) on a timeline, moves them through each
//! 100 ms step, hands each due event to the part it concerns, and carries
//! out the console's actions. Per-second work (Connect's offset flush,
//! consumer commits, heartbeats, checkpoints) runs on whole seconds, which
//! is also when the world is polled.

use chrono::TimeDelta;

use crate::action::{Action, Fault};
use crate::model::{Link, Observed, Platform, Side, Snapshot, Ts};

use super::apps::Apps;
use super::canary::DemoCanary;
use super::cluster::{Clusters, alias};
use super::faults::Faults;
use super::mm2::Mm2;
use super::setup;
use super::timeline::{Event, Guard, Timeline};

/// The simulated DC–DR pair. See the module docs of `demo` for what it does.
pub struct DemoWorld {
    timeline: Timeline,
    clusters: Clusters,
    apps: Apps,
    mm2: Mm2,
    faults: Faults,
    /// The canary a console that may act runs (`with_canary`).
    canary: Option<DemoCanary>,
}

impl DemoWorld {
    /// The runbook's steady state, with three applications on DC.
    pub fn new(seed: u64, start: Ts) -> Self {
        setup::build(seed, start, setup::STANDARD_PARTITIONS, setup::STANDARD_GROUPS)
    }

    /// The same world grown for benchmarks: extra 50-partition topics (one
    /// producing service each) up to `partitions_per_cluster` application
    /// partitions, and extra consumer groups up to `groups`.
    pub fn scaled(seed: u64, start: Ts, partitions_per_cluster: usize, groups: usize) -> Self {
        setup::build(seed, start, partitions_per_cluster, groups)
    }

    pub(super) fn compose(timeline: Timeline, clusters: Clusters, apps: Apps, mm2: Mm2) -> Self {
        DemoWorld { timeline, clusters, apps, mm2, faults: Faults::default(), canary: None }
    }

    /// The world as a console that may act sees it: with its canary
    /// through DC→DR (`[mm2.canary]`). `seed` drives the canary's latency only.
    pub fn with_canary(mut self, seed: u64) -> Self {
        self.canary = Some(DemoCanary::new(seed));
        self
    }

    /// The world's virtual time.
    pub fn now(&self) -> Ts {
        self.timeline.now()
    }

    /// Moves virtual time forward by `dt` (negative is ignored). The world
    /// changes in fixed 100 ms steps, so the result does not depend on how
    /// time is chopped.
    pub fn advance(&mut self, dt: TimeDelta) {
        self.timeline.forward(dt);
        while self.timeline.step_due() {
            self.step();
        }
    }

    /// What a collector polling both sides and both MM2 deployments would
    /// see now. A cut-off DC is shown as it was last seen, with its old
    /// stamps, never as zeros.
    pub fn observe(&self) -> Snapshot {
        let now = self.now();
        let clusters = Side::BOTH.map(|side| match self.faults.frozen_dc() {
            Some(dc) if side == Side::Dc => dc,
            _ => self.observe_cluster(side),
        });
        let mm2 = (0..2)
            .map(|dep| self.faults.frozen_deployment(dep).unwrap_or_else(|| self.mm2.observe(dep, now, &self.clusters)))
            .collect();
        let platforms = Side::BOTH.map(|side| match self.faults.frozen_platform() {
            Some(dc) if side == Side::Dc => Some(dc),
            _ => Some(self.observe_platform(side)),
        });
        let canaries = self.canary.iter().map(|c| c.observe(now)).collect();
        Snapshot { taken_at: now, clusters, mm2, platforms, canaries }
    }

    /// What `side`'s Kubernetes shows: MM2's resources and pods in namespace
    /// `kafka`, the applications' Deployments in `apps`.
    fn observe_platform(&self, side: Side) -> Platform {
        let now = self.now();
        let (resources, mut pods) = self.mm2.platform(side);
        if self.faults.pods_unlisted() {
            pods.clear();
        }
        let mut p = Platform::new(side, alias(side), "kafka");
        p.link = Link::Up { last_ok: now };
        p.mirrormakers = Some(Observed::new(resources, now));
        p.mm2_pods = Some(Observed::new(pods, now));
        p.workloads = Some(Observed::new(self.apps.workloads(side, &self.clusters), now));
        p
    }

    fn observe_cluster(&self, side: Side) -> crate::model::Cluster {
        let checkpoints = self.mm2.checkpoints_into(side, &self.clusters);
        self.clusters.side(side).observe(side, self.now(), checkpoints)
    }

    /// Carries out an action: `Ok` says what was done (or that nothing was
    /// needed), `Err` why it could not be.
    pub fn apply(&mut self, action: &Action) -> Result<String, String> {
        match action {
            Action::StopApps(side) => self.stop_apps(*side),
            Action::StartApps(side) => self.start_apps(*side),
            Action::StopMm2(flow) => self.stop_mm2(Mm2::index(*flow)?),
            Action::StartMm2(flow) => self.start_mm2(Mm2::index(*flow)?),
            Action::RestartMm2(_) if self.mm2.has_failed_task() => {
                self.mm2.restart_failed_task();
                Ok("the failed task is restarted; its partitions catch up".into())
            }
            Action::RestartMm2(flow) => Ok(format!("nothing FAILED in MM2 {flow}: nothing restarted")),
            Action::Fault(fault) => self.toggle(*fault),
        }
    }

    /// Whether a fault is currently on (a ProduceBurst ends by itself).
    pub fn fault_active(&self, fault: Fault) -> bool {
        let f = &self.faults;
        match fault {
            Fault::FailMm2Task => self.mm2.has_failed_task(),
            Fault::StrayConsumer => f.has_stray(),
            Fault::Bidirectional => f.bidirectional().is_some_and(|d| self.mm2.is_desired(d)),
            Fault::BrokerDown => f.has_broker_down(),
            Fault::CutOffDc => f.dc_cut(),
            Fault::ProduceBurst => f.has_burst(),
            Fault::PodsUnlisted => f.pods_unlisted(),
            Fault::StallMm2 => self.mm2.is_stalled(),
            Fault::UntranslatableGroup => self.mm2.group_left_out().is_some(),
            Fault::OrphanRecords => self.faults.orphans_written(),
            Fault::PolicyDrift => self.mm2.has_policy_drift(),
            Fault::ForeignProducer => self.faults.foreign().is_some(),
        }
    }

    /// One 100 ms step. MM2 replicates what existed before the step (its
    /// fetch latency), then producers write, then due reactions happen.
    fn step(&mut self) {
        if !self.faults.dc_cut() {
            // Every flow has DC at one end: while it is cut, nothing crosses.
            self.mm2.replicate(&mut self.clusters);
        }
        self.apps.produce(&mut self.clusters, self.faults.produce_factor());
        self.faults.produce_foreign(&mut self.clusters);
        let whole_second = self.timeline.end_step();
        if let Some(c) = &mut self.canary {
            let replicating = !self.faults.dc_cut() && self.mm2.flowing() == Some(0) && !self.mm2.is_stalled();
            c.step(self.timeline.step_time(), replicating);
        }
        while let Some((guard, event)) = self.timeline.next_due() {
            if self.is_current(guard) {
                self.handle(event);
            }
        }
        if whole_second {
            self.apps.jitter(self.timeline.rng());
            self.faults.expire_burst(self.timeline.tick());
            self.clusters.commit_groups();
            self.mm2.second(self.timeline.step_time(), &mut self.clusters, self.faults.dc_cut());
            if let Some(c) = &mut self.canary {
                c.second(self.timeline.tick() / super::timeline::STEPS_PER_SEC, self.timeline.step_time());
            }
        }
    }

    /// Whether the intent an event belongs to still holds.
    fn is_current(&self, guard: Guard) -> bool {
        match guard {
            Guard::Always => true,
            Guard::Apps(side, epoch) => self.apps.is_current(side, epoch),
            Guard::Mm2(dep, generation) => self.mm2.is_current(dep, generation),
            Guard::Applier(epoch) => self.apps.applier_is_current(epoch),
            Guard::Stray(epoch) => self.faults.stray_is_current(epoch),
        }
    }

    fn handle(&mut self, event: Event) {
        let DemoWorld { timeline, clusters, apps, mm2, .. } = self;
        match event {
            Event::Producer { side, app, on } => apps.set_producing(side, app, on),
            Event::Join { side, group, member } => apps.join(side, group, member, clusters, timeline),
            Event::Leave { side, group, member_id, settle } => {
                clusters.side_mut(side).groups_mut().leave(side, &group, &member_id, settle, timeline);
            }
            Event::Rebalance { side, group } => clusters.side_mut(side).groups_mut().rebalance(side, &group, timeline),
            Event::Settle { side, group, generation } => {
                clusters.side_mut(side).groups_mut().settle(&group, generation)
            }
            Event::PodRunning { dep, pod } => mm2.on_pod_running(dep, pod, clusters, timeline.rng()),
            Event::PodReady { dep, pod } => mm2.on_pod_ready(dep, pod),
            Event::PodGone { dep, pod } => mm2.on_pod_gone(dep, pod),
            Event::ConnectorsRunning { dep } => {
                if let Some(target) = mm2.on_connectors_running(dep, clusters) {
                    apps.move_applier(target, clusters, timeline);
                }
            }
        }
    }

    fn start_apps(&mut self, side: Side) -> Result<String, String> {
        self.faults.reach(side)?;
        Ok(self.apps.start(side, &mut self.timeline))
    }

    fn stop_apps(&mut self, side: Side) -> Result<String, String> {
        self.faults.reach(side)?;
        Ok(self.apps.stop(side, &self.clusters, &mut self.timeline))
    }

    fn start_mm2(&mut self, dep: usize) -> Result<String, String> {
        self.faults.reach(self.mm2.flow(dep).target)?;
        Ok(self.mm2.start(dep, &mut self.timeline))
    }

    fn stop_mm2(&mut self, dep: usize) -> Result<String, String> {
        self.faults.reach(self.mm2.flow(dep).target)?;
        Ok(self.mm2.stop(dep, &mut self.clusters, &mut self.timeline, self.faults.dc_cut()))
    }

    /// Turns `fault` on if it is off, off if it is on.
    fn toggle(&mut self, fault: Fault) -> Result<String, String> {
        let on = !self.fault_active(fault);
        let text = match (fault, on) {
            (Fault::FailMm2Task, true) => {
                let dep = self.mm2.flowing().ok_or("no MirrorSourceConnector is RUNNING")?;
                self.faults.reach(self.mm2.flow(dep).target)?;
                self.mm2.fail_task(dep, self.timeline.rng())
            }
            (Fault::FailMm2Task, false) => {
                self.mm2.restart_failed_task();
                "the failed MirrorSourceConnector task is restarted; its partitions catch up".into()
            }
            (Fault::StrayConsumer, true) => self.faults.stray_on(&self.apps, &mut self.timeline)?,
            (Fault::StrayConsumer, false) => self.faults.stray_off(&self.apps, &mut self.timeline),
            (Fault::Bidirectional, true) => {
                let one =
                    self.mm2.sole_desired().ok_or("MM2 must run in exactly one direction to start the reverse one")?;
                let reverse = 1 - one;
                let text = self.start_mm2(reverse)?;
                self.faults.set_bidirectional(Some(reverse));
                format!("{text}; {} and {} now replicate into each other", alias(Side::Dc), alias(Side::Dr))
            }
            (Fault::Bidirectional, false) => {
                let reverse = self.faults.bidirectional();
                self.faults.set_bidirectional(None);
                match reverse {
                    Some(dep) => self.stop_mm2(dep)?,
                    None => "nothing to stop".into(),
                }
            }
            (Fault::BrokerDown, true) => self.faults.broker_down(&mut self.clusters, self.timeline.rng()),
            (Fault::BrokerDown, false) => self.faults.broker_up(&mut self.clusters),
            (Fault::CutOffDc, true) => {
                let now = self.now();
                let deployments =
                    self.mm2.on(Side::Dc).map(|dep| (dep, self.mm2.observe(dep, now, &self.clusters))).collect();
                let dc = self.observe_cluster(Side::Dc);
                let platform = self.observe_platform(Side::Dc);
                self.faults.cut_off(now, dc, platform, deployments)
            }
            (Fault::CutOffDc, false) => self.faults.reconnect(),
            (Fault::ProduceBurst, true) => self.faults.burst_on(&self.apps, self.timeline.tick())?,
            (Fault::ProduceBurst, false) => self.faults.burst_off(),
            (Fault::PodsUnlisted, on) => self.faults.unlist_pods(on),
            (Fault::StallMm2, true) => {
                let dep = self.mm2.flowing().ok_or("no MM2 flow is replicating")?;
                self.mm2.stall(dep)
            }
            (Fault::StallMm2, false) => self.mm2.unstall(),
            (Fault::UntranslatableGroup, true) => self.faults.untranslatable_on(&self.apps, &mut self.mm2),
            (Fault::UntranslatableGroup, false) => self.faults.untranslatable_off(&mut self.mm2),
            (Fault::OrphanRecords, true) => {
                let dep =
                    self.mm2.stopped().ok_or("no MM2 flow is stopped: orphan records are written where one stopped")?;
                let side = self.mm2.flow(dep).source;
                self.faults.reach(side)?;
                self.faults.write_orphans(side, &mut self.clusters)?
            }
            (Fault::OrphanRecords, false) => self.faults.forget_orphans(),
            (Fault::PolicyDrift, true) => {
                let dep = self.mm2.flowing().ok_or("no MM2 flow is replicating")?;
                self.mm2.drift_policy(dep)
            }
            (Fault::PolicyDrift, false) => self.mm2.undrift_policy(),
            (Fault::ForeignProducer, true) => self.faults.foreign_on(&self.apps)?,
            (Fault::ForeignProducer, false) => self.faults.foreign_off(),
        };
        Ok(format!("{}: {text}", if on { "on" } else { "off" }))
    }
}
