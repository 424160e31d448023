//! The demo's faults, each a toggle: what goes wrong in real DR drills, so
//! the console's rules and health judgements can be seen firing.

use crate::action::Fault;
use crate::model::{Cluster, Mm2Deployment, Side, Ts};

use super::mm2::SOURCE_TASKS;
use super::world::{DemoWorld, Event, Guard, STEPS_PER_SEC, alias};

/// How long a ProduceBurst lasts unless toggled off first.
const BURST_SECS: u64 = 20;

/// DC as last seen before it was cut off: kdrill keeps showing these
/// observations with their old stamps, so they age into staleness.
pub(super) struct Cut {
    pub since: Ts,
    pub dc: Cluster,
    /// Deployments running on DC (observed through DC's Kubernetes API).
    pub deployments: Vec<(usize, Mm2Deployment)>,
}

#[derive(Default)]
pub(super) struct Faults {
    /// The side and member id of the stray consumer.
    pub stray: Option<(Side, String)>,
    pub stray_epoch: u64,
    /// The reverse deployment the Bidirectional fault started.
    pub bidirectional: Option<usize>,
    /// The DR broker taken down.
    pub broker_down: Option<usize>,
    pub cut: Option<Box<Cut>>,
    /// The step at which a ProduceBurst ends.
    pub burst_until: Option<u64>,
}

impl DemoWorld {
    pub(super) fn fault_on(&self, fault: Fault) -> bool {
        let f = &self.faults;
        match fault {
            Fault::FailMm2Task => self.mm2.iter().any(|d| d.failed_task.is_some()),
            Fault::StrayConsumer => f.stray.is_some(),
            Fault::Bidirectional => f.bidirectional.is_some_and(|d| self.mm2[d].desired),
            Fault::BrokerDown => f.broker_down.is_some(),
            Fault::CutOffDc => f.cut.is_some(),
            Fault::ProduceBurst => f.burst_until.is_some(),
        }
    }

    /// Turns `fault` on if it is off, off if it is on.
    pub(super) fn toggle(&mut self, fault: Fault) -> Result<String, String> {
        let on = !self.fault_on(fault);
        let text = match (fault, on) {
            (Fault::FailMm2Task, true) => self.fail_mm2_task()?,
            (Fault::FailMm2Task, false) => {
                let dep = self.mm2.iter().position(|d| d.failed_task.is_some());
                if let Some(dep) = dep {
                    self.restart_task(dep);
                }
                "the failed MirrorSourceConnector task is restarted; its partitions catch up".into()
            }
            (Fault::StrayConsumer, true) => self.stray_on()?,
            (Fault::StrayConsumer, false) => self.stray_off(),
            (Fault::Bidirectional, true) => self.bidirectional_on()?,
            (Fault::Bidirectional, false) => match self.faults.bidirectional.take() {
                Some(dep) => self.stop_mm2(dep)?,
                None => "nothing to stop".into(),
            },
            (Fault::BrokerDown, true) => {
                let id = self.rng.range(0, 2) as usize;
                self.clusters[Side::Dr.index()].brokers_up[id] = false;
                self.faults.broker_down = Some(id);
                format!("broker {id} of DR (dr-kafka-{id}.kafka.svc) is down; its partition leaderships moved")
            }
            (Fault::BrokerDown, false) => {
                let id = self.faults.broker_down.take().unwrap_or_default();
                self.clusters[Side::Dr.index()].brokers_up[id] = true;
                format!("broker {id} of DR is back; preferred leaders restored")
            }
            (Fault::CutOffDc, true) => {
                let deployments = (0..self.mm2.len())
                    .filter(|&d| self.mm2[d].flow.target == Side::Dc)
                    .map(|d| (d, self.deployment_view(d)))
                    .collect();
                self.faults.cut = Some(Box::new(Cut { since: self.now, dc: self.cluster_view(Side::Dc), deployments }));
                "DC is cut off: neither kdrill nor MM2 can reach it".into()
            }
            (Fault::CutOffDc, false) => {
                self.faults.cut = None;
                "DC is reachable again".into()
            }
            (Fault::ProduceBurst, true) => {
                let sides: Vec<String> =
                    Side::BOTH.iter().filter(|s| self.apps.up[s.index()]).map(|s| s.to_string()).collect();
                if sides.is_empty() {
                    return Err("no applications are running: nothing to burst".into());
                }
                self.faults.burst_until = Some(self.tick + BURST_SECS * STEPS_PER_SEC);
                format!("producers on {} write 10× for {BURST_SECS} s", sides.join(" and "))
            }
            (Fault::ProduceBurst, false) => {
                self.faults.burst_until = None;
                "the produce burst ends".into()
            }
        };
        Ok(format!("{}: {text}", if on { "on" } else { "off" }))
    }

    pub(super) fn expire_burst(&mut self) {
        if self.faults.burst_until.is_some_and(|t| self.tick >= t) {
            self.faults.burst_until = None;
        }
    }

    fn fail_mm2_task(&mut self) -> Result<String, String> {
        let dep = self.mm2.iter().position(|d| d.flowing).ok_or("no MirrorSourceConnector is RUNNING")?;
        if !self.reachable(self.mm2[dep].flow.target) {
            return Err(Self::unreachable(self.mm2[dep].flow.target));
        }
        // Task 0 also carries the heartbeats topic; another task fails.
        let task = self.rng.range(1, SOURCE_TASKS as u64 - 1) as usize;
        self.fail_task(dep, task);
        let name = self.mm2[dep].connector_name(crate::model::ConnectorKind::Source);
        Ok(format!("{name} task {task} FAILED (RecordTooLargeException); the CR still reports Ready"))
    }

    /// Someone left a consumer of an app group running on the passive side.
    fn stray_on(&mut self) -> Result<String, String> {
        let passive = match self.apps.up {
            [true, false] => Side::Dr,
            [false, true] => Side::Dc,
            _ => return Err("no single active side: applications must run on exactly one side".into()),
        };
        if !self.reachable(passive) {
            return Err(Self::unreachable(passive));
        }
        let member = self.new_member(passive, 0, 3, true);
        let (client, group) = (member.client_id.clone(), self.apps.groups[0].id.clone());
        self.faults.stray_epoch += 1;
        self.faults.stray = Some((passive, member.member_id.clone()));
        let d = self.delay(1_000, 3_000);
        self.schedule(d, Guard::Stray(self.faults.stray_epoch), Event::Join { side: passive, group: 0, member });
        Ok(format!("consumer {client} joins group {group} on {passive}, the passive side"))
    }

    fn stray_off(&mut self) -> String {
        self.faults.stray_epoch += 1;
        let Some((side, member_id)) = self.faults.stray.take() else {
            return "no stray consumer".into();
        };
        let group = self.apps.groups[0].id.clone();
        let d = self.delay(500, 1_000);
        self.schedule(d, Guard::Always, Event::Leave { side, group, member_id, settle: true });
        format!("the stray consumer leaves {side}")
    }

    fn bidirectional_on(&mut self) -> Result<String, String> {
        let running: Vec<usize> = (0..self.mm2.len()).filter(|&d| self.mm2[d].desired).collect();
        let [one] = running[..] else {
            return Err("MM2 must run in exactly one direction to start the reverse one".into());
        };
        let reverse = 1 - one;
        let text = self.start_mm2(reverse)?;
        self.faults.bidirectional = Some(reverse);
        Ok(format!("{text}; {} and {} now replicate into each other", alias(Side::Dc), alias(Side::Dr)))
    }
}
