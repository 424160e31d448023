//! The demo's faults, each a toggle: what goes wrong in real DR drills, so
//! the console's rules and health judgements can be seen firing. This part
//! keeps which faults are on and does what only they decide; the world
//! turns them on and off (see `DemoWorld::toggle`).

use crate::model::{Cluster, Link, Mm2Deployment, Platform, Side, Ts};

use super::apps::Apps;
use super::cluster::{BROKERS, Clusters};
use super::mm2::Mm2;
use super::rng::SplitMix64;
use super::timeline::{Event, Guard, STEPS_PER_SEC, Timeline};

/// How long a ProduceBurst lasts unless toggled off first.
const BURST_SECS: u64 = 20;
/// Produce-rate multiplier of the ProduceBurst fault.
const BURST: f64 = 10.0;
/// Application topics the OrphanRecords fault writes into.
const ORPHAN_TOPICS: usize = 2;
/// Records per partition (every other one) of the OrphanRecords fault.
const ORPHANS_PER_PARTITION: i64 = 40;
/// Records a second the ForeignProducer fault writes into the passive side.
const FOREIGN_RATE: f64 = 80.0;
/// The application group a stray consumer joins (`orders-service`).
const STRAY_GROUP: usize = 0;
/// The stray is its group's third instance, after the two that ran there.
const STRAY_INSTANCE: usize = 3;
/// The application group MM2's checkpoint connector leaves out
/// (`payments-service`), as a `groups.exclude` pattern catching it would.
const UNTRANSLATED_GROUP: usize = 1;

/// DC as last seen before it was cut off: kdrill keeps showing these
/// observations with their old stamps, so they age into staleness.
struct Cut {
    since: Ts,
    dc: Cluster,
    platform: Platform,
    /// Deployments running on DC.
    deployments: Vec<(usize, Mm2Deployment)>,
}

#[derive(Default)]
pub(super) struct Faults {
    /// The side and member id of the stray consumer.
    stray: Option<(Side, String)>,
    stray_epoch: u64,
    /// The reverse deployment the Bidirectional fault started.
    bidirectional: Option<usize>,
    /// The DR broker taken down.
    broker_down: Option<usize>,
    /// Orphan records were written (the OrphanRecords fault).
    orphans: bool,
    cut: Option<Box<Cut>>,
    /// The step at which a ProduceBurst ends.
    burst_until: Option<u64>,
    /// MM2's pods missing from the Kubernetes API while the workers run.
    pods_unlisted: bool,
    /// The side a producer writes straight into (ForeignProducer).
    foreign: Option<Side>,
}

impl Faults {
    /// Whether DC is cut off (CutOffDc).
    pub fn dc_cut(&self) -> bool {
        self.cut.is_some()
    }

    /// Whether kdrill (and MM2) can reach `side` at all; `Err` says why not.
    pub fn reach(&self, side: Side) -> Result<(), String> {
        if side == Side::Dc && self.dc_cut() {
            return Err(format!("{side} is unreachable: its Kafka and Kubernetes API time out"));
        }
        Ok(())
    }

    /// Whether `epoch` is the latest StrayConsumer toggle.
    pub fn stray_is_current(&self, epoch: u64) -> bool {
        self.stray_epoch == epoch
    }

    pub fn has_stray(&self) -> bool {
        self.stray.is_some()
    }

    /// The reverse deployment of the Bidirectional fault, if on.
    pub fn bidirectional(&self) -> Option<usize> {
        self.bidirectional
    }

    pub fn set_bidirectional(&mut self, dep: Option<usize>) {
        self.bidirectional = dep;
    }

    pub fn has_broker_down(&self) -> bool {
        self.broker_down.is_some()
    }

    pub fn has_burst(&self) -> bool {
        self.burst_until.is_some()
    }

    /// What producers write, as a multiple of their rate.
    pub fn produce_factor(&self) -> f64 {
        if self.has_burst() { BURST } else { 1.0 }
    }

    /// Someone left a consumer of an app group running on the passive side.
    pub fn stray_on(&mut self, apps: &Apps, timeline: &mut Timeline) -> Result<String, String> {
        let passive = apps.passive_side().ok_or("no single active side: applications must run on exactly one side")?;
        self.reach(passive)?;
        let member = apps.new_member(passive, STRAY_GROUP, STRAY_INSTANCE, true, timeline.rng());
        let client = member.client_id.clone();
        self.stray_epoch += 1;
        self.stray = Some((passive, member.member_id.clone()));
        let d = timeline.delay(1_000, 3_000);
        let join = Event::Join { side: passive, group: STRAY_GROUP, member };
        timeline.schedule(d, Guard::Stray(self.stray_epoch), join);
        Ok(format!("consumer {client} joins group {} on {passive}, the passive side", apps.group_id(STRAY_GROUP)))
    }

    pub fn stray_off(&mut self, apps: &Apps, timeline: &mut Timeline) -> String {
        self.stray_epoch += 1;
        let Some((side, member_id)) = self.stray.take() else {
            return "no stray consumer".into();
        };
        let group = apps.group_id(STRAY_GROUP).to_owned();
        let d = timeline.delay(500, 1_000);
        timeline.schedule(d, Guard::Always, Event::Leave { side, group, member_id, settle: true });
        format!("the stray consumer leaves {side}")
    }

    pub fn broker_down(&mut self, clusters: &mut Clusters, rng: &mut SplitMix64) -> String {
        let id = rng.range(0, BROKERS as u64 - 1) as usize;
        clusters.side_mut(Side::Dr).set_broker_up(id, false);
        self.broker_down = Some(id);
        format!("broker {id} of DR (dr-kafka-{id}.kafka.svc) is down; its partition leaderships moved")
    }

    pub fn broker_up(&mut self, clusters: &mut Clusters) -> String {
        let id = self.broker_down.take().unwrap_or_default();
        clusters.side_mut(Side::Dr).set_broker_up(id, true);
        format!("broker {id} of DR is back; preferred leaders restored")
    }

    /// DC is cut off at `since`; `dc` and `deployments` (those running on
    /// DC) are what was last seen of it.
    pub fn cut_off(
        &mut self,
        since: Ts,
        dc: Cluster,
        platform: Platform,
        deployments: Vec<(usize, Mm2Deployment)>,
    ) -> String {
        self.cut = Some(Box::new(Cut { since, dc, platform, deployments }));
        "DC is cut off: neither kdrill nor MM2 can reach it".into()
    }

    pub fn reconnect(&mut self) -> String {
        self.cut = None;
        "DC is reachable again".into()
    }

    /// DC as kdrill still shows it while cut off: the last observations,
    /// behind a link that times out.
    pub fn frozen_dc(&self) -> Option<Cluster> {
        let cut = self.cut.as_deref()?;
        let mut c = cut.dc.clone();
        c.link = Link::Down {
            since: cut.since,
            last_ok: Some(cut.since),
            error: "dc-kafka-0.kafka.svc:9093/0: Connect to ipv4#10.20.0.11:9093 failed: \
                    Operation timed out (after 30012ms in state CONNECT)"
                .into(),
        };
        Some(c)
    }

    /// DC's Kubernetes as kdrill still shows it while cut off.
    pub fn frozen_platform(&self) -> Option<Platform> {
        let cut = self.cut.as_deref()?;
        let mut p = cut.platform.clone();
        p.link = Link::Down {
            since: cut.since,
            last_ok: Some(cut.since),
            error: "context dc: https://dc-api.example:6443/version: operation timed out".into(),
        };
        Some(p)
    }

    pub fn pods_unlisted(&self) -> bool {
        self.pods_unlisted
    }

    /// MM2's pod objects vanish from (or return to) the Kubernetes API while
    /// the Connect workers keep running: the two sources disagree.
    pub fn unlist_pods(&mut self, on: bool) -> String {
        self.pods_unlisted = on;
        match on {
            true => "MM2's pods are no longer listed by Kubernetes; their Connect workers still run".into(),
            false => "MM2's pods are listed by Kubernetes again".into(),
        }
    }

    /// Deployment `dep` as last seen, if it runs on a cut-off DC.
    pub fn frozen_deployment(&self, dep: usize) -> Option<Mm2Deployment> {
        let cut = self.cut.as_deref()?;
        cut.deployments.iter().find(|(d, _)| *d == dep).map(|(_, v)| v.clone())
    }

    /// Producers on every side with applications write 10× from `tick`.
    pub fn burst_on(&mut self, apps: &Apps, tick: u64) -> Result<String, String> {
        let sides: Vec<String> = Side::BOTH.iter().filter(|s| apps.is_up(**s)).map(|s| s.to_string()).collect();
        if sides.is_empty() {
            return Err("no applications are running: nothing to burst".into());
        }
        self.burst_until = Some(tick + BURST_SECS * STEPS_PER_SEC);
        Ok(format!("producers on {} write 10× for {BURST_SECS} s", sides.join(" and ")))
    }

    /// Writes a straggler's records on `side`'s application topics after
    /// its outgoing flow stopped: no MM2 will ever replicate them.
    pub fn write_orphans(&mut self, side: Side, clusters: &mut Clusters) -> Result<String, String> {
        let c = clusters.side_mut(side);
        let mut written = 0;
        for topic in 0..ORPHAN_TOPICS {
            let Some(parts) = c.app_topic(topic).map(|t| t.partitions()) else { continue };
            for p in (0..parts).step_by(2) {
                c.append(topic, p, ORPHANS_PER_PARTITION);
                written += ORPHANS_PER_PARTITION;
            }
        }
        self.orphans = true;
        Ok(format!("a straggler wrote {written} records on {side} after its MM2 stopped: an orphan tail"))
    }

    pub fn orphans_written(&self) -> bool {
        self.orphans
    }

    pub fn forget_orphans(&mut self) -> String {
        self.orphans = false;
        "the orphan records stay where they were written".into()
    }

    /// Someone's producer writes into the first application topic of the
    /// side without applications, which MM2 also writes into.
    pub fn foreign_on(&mut self, apps: &Apps) -> Result<String, String> {
        let side = Side::BOTH.into_iter().rev().find(|s| !apps.is_up(*s)).ok_or("applications run on both sides")?;
        self.foreign = Some(side);
        Ok(format!("a producer writes {FOREIGN_RATE} records/s straight into {side}'s first application topic"))
    }

    pub fn foreign_off(&mut self) -> String {
        self.foreign = None;
        "the foreign producer stops".into()
    }

    pub fn foreign(&self) -> Option<Side> {
        self.foreign
    }

    /// What the foreign producer writes in one step.
    pub fn produce_foreign(&self, clusters: &mut Clusters) {
        if let Some(side) = self.foreign {
            clusters.side_mut(side).produce(0, FOREIGN_RATE / STEPS_PER_SEC as f64);
        }
    }

    pub fn burst_off(&mut self) -> String {
        self.burst_until = None;
        "the produce burst ends".into()
    }

    /// A ProduceBurst ends by itself once its time is up.
    pub fn expire_burst(&mut self, tick: u64) {
        if self.burst_until.is_some_and(|t| tick >= t) {
            self.burst_until = None;
        }
    }

    /// MM2 stops checkpointing an application group: it has no checkpoint
    /// on the other side, so where it would resume there is not known.
    pub fn untranslatable_on(&mut self, apps: &Apps, mm2: &mut Mm2) -> String {
        let group = apps.group_id(UNTRANSLATED_GROUP).to_owned();
        mm2.leave_out_of_checkpoints(Some(group.clone()));
        format!("MM2's checkpoint connector leaves group {group} out: it has no checkpoint on the other side")
    }

    pub fn untranslatable_off(&mut self, mm2: &mut Mm2) -> String {
        let group = mm2.group_left_out().unwrap_or("no group").to_owned();
        mm2.leave_out_of_checkpoints(None);
        format!("MM2 checkpoints {group} again from its next commit")
    }
}
