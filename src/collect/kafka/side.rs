//! What one side observes: its cluster (through a [`ClusterPoller`]) and
//! MM2's footprint in that cluster's topics (through the [`Mm2Reader`] of
//! the deployments whose Connect cluster runs there), polled in parallel
//! and combined into one [`Report`].

use std::time::Duration;

use crate::config::Config;
use crate::model::{
    Checkpoint, Cluster, Heartbeat, Link, Mm2Deployment, Observed, Side, SkippedRecords, Unread, Worker,
};

use super::blank_deployment;
use super::cluster::ClusterPoller;
use super::mm2::{Mm2Footprint, Mm2Reader};

/// What one cluster's task reports after each poll.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Report {
    pub side: Side,
    pub cluster: Cluster,
    /// The deployments whose Connect cluster runs on this side.
    pub deployments: Vec<Mm2Deployment>,
}

/// Everything one side observes: the cluster (through `ClusterPoller`) and
/// MM2's footprint in its topics (through the `Mm2Reader` of the
/// deployments running on it, created lazily), polled in parallel, with the
/// last good MM2 sections kept when a read is incomplete.
pub(super) struct SidePoller {
    side: Side,
    config: Config,
    cluster: ClusterPoller,
    reader: Option<Mm2Reader>,
    heartbeats: Option<Observed<Vec<Heartbeat>>>,
    checkpoints: Option<Observed<Vec<Checkpoint>>>,
    unread: Option<Observed<Unread>>,
    /// Last good connectors and replicated offsets per deployment (by index
    /// among the deployments running on this side).
    deployments: Vec<Mm2Deployment>,
    /// Since when, poll after poll, the cluster answered while the MM2
    /// reader could not read its topics to their end.
    reader_behind: Option<std::time::Instant>,
}

impl SidePoller {
    pub(super) fn new(config: &Config, side: Side) -> SidePoller {
        let cluster = ClusterPoller::new(
            config.cluster(side).clone(),
            config.timing.clone(),
            config.settings.classification.clone(),
        )
        .with_backoff_max(backoff_max(config));
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
            unread: None,
            deployments: config.mm2.iter().filter(|m| m.runs_on == side).map(blank_deployment).collect(),
            reader_behind: None,
        }
    }

    /// After a poll thread died: a new client, the last reported state kept.
    pub(super) fn resume(config: &Config, side: Side, last: &Report) -> SidePoller {
        let cluster = ClusterPoller::resume(
            config.cluster(side).clone(),
            config.timing.clone(),
            config.settings.classification.clone(),
            Cluster { heartbeats: None, checkpoints: None, unread: None, ..last.cluster.clone() },
        )
        .with_backoff_max(backoff_max(config));
        let mut p = SidePoller::with(config, side, cluster);
        p.heartbeats = last.cluster.heartbeats.clone();
        p.checkpoints = last.cluster.checkpoints.clone();
        p.unread = last.cluster.unread.clone();
        p.deployments = last.deployments.clone();
        p
    }

    pub(super) fn next_delay(&self) -> Duration {
        self.cluster.next_delay()
    }

    /// One blocking poll of the cluster and of MM2's topics, in parallel.
    pub(super) fn poll(&mut self) -> Report {
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
        // The reader's connections lived through the outage the last poll
        // saw: read with a new client now, not one poll (and one request
        // timeout spent on a hung connection) after the cluster answers.
        let after_outage = matches!(self.cluster.cluster().link, Link::Down { .. });
        if after_outage && let Some(r) = self.reader.as_mut() {
            tracing::debug!("{}: the cluster was down: reading MM2 topics with a new client", self.side);
            r.renew_consumer();
            self.reader_behind = None;
        }
        let cluster = &mut self.cluster;
        let (answered, footprint) = std::thread::scope(|s| {
            let reading = self.reader.as_mut().map(|r| s.spawn(move || r.poll(timeout)));
            let stats = cluster.poll();
            if stats.brokers > 0 {
                tracing::debug!(
                    "{}: polled in {} ms: {} brokers, {} topics, {} partitions, {} section error(s)",
                    self.side,
                    stats.elapsed.as_millis(),
                    stats.brokers,
                    stats.topics,
                    stats.partitions,
                    stats.errors.len()
                );
            }
            let answered = stats.brokers > 0;
            (answered, reading.map(|h| h.join()))
        });
        match footprint {
            Some(Ok(f)) => {
                let back = after_outage && matches!(self.cluster.cluster().link, Link::Up { .. });
                self.watch_reader(answered, back, &f);
                self.absorb(f)
            }
            Some(Err(_)) => {
                tracing::error!("{}: the MM2 reader panicked; starting a new one", self.side);
                self.reader = None;
            }
            None => {}
        }
        self.report()
    }

    /// A reader whose client hung with its broker (a SIGSTOP, a network
    /// stall) may keep failing while the cluster answers the poller's
    /// client. While the cluster answers and MM2's sections stay incomplete
    /// for half of `stale_after`, the reader continues with a new client,
    /// where it stopped (a reader merely catching up loses nothing by it).
    ///
    /// After an outage the reader was renewed before this poll's read, so
    /// its client was made while the broker did not answer: connections
    /// made then may leave requests unanswered once it resumes. When this
    /// poll found the cluster back (`back`: its metadata answers again),
    /// the next poll reads with a client made now, as the cluster poller
    /// does with its own.
    fn watch_reader(&mut self, answered: bool, back: bool, f: &Mm2Footprint) {
        if back && let Some(r) = self.reader.as_mut() {
            tracing::debug!("{}: the cluster answers again: reading MM2 topics with a new client", self.side);
            r.renew_consumer();
            self.reader_behind = None;
            return;
        }
        let incomplete = f.deployments.iter().any(|d| d.connectors.is_none() || d.replicated.is_none())
            || f.heartbeats.is_none()
            || f.checkpoints.is_none();
        if !(answered && incomplete) {
            self.reader_behind = None;
            return;
        }
        let since = *self.reader_behind.get_or_insert_with(std::time::Instant::now);
        let patience = self.config.settings.stale_after.to_std().map_or(Duration::from_secs(5), |s| s / 2);
        if since.elapsed() >= patience
            && let Some(r) = self.reader.as_mut()
        {
            tracing::info!(
                "{}: MM2 topics not read to their end for {:.0} s while the cluster answers: reading with a new client",
                self.side,
                since.elapsed().as_secs_f64()
            );
            r.renew_consumer();
            self.reader_behind = None;
        }
    }

    fn absorb(&mut self, f: Mm2Footprint) {
        if let Some(e) = &f.error {
            tracing::debug!("{}: MM2 topics: {e}", self.side);
        }
        let skipped =
            f.malformed_by_topic.iter().map(|(t, n)| SkippedRecords { topic: t.clone(), count: *n }).collect();
        let unread = Unread { skipped, first_skipped: f.first_malformed.clone(), problem: f.error.clone() };
        self.unread = Some(Observed::new(unread, f.at));
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
        cluster.unread = self.unread.clone();
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

/// How long a side that stopped answering (its cluster, its Kubernetes API
/// server) may wait between attempts: half of `stale_after`, so one that
/// comes back (a broker resumed after hanging) is seen fresh again within
/// `stale_after` of returning, however long it was gone.
pub(super) fn backoff_max(config: &Config) -> Duration {
    config.settings.stale_after.to_std().map_or(super::cluster::BACKOFF_MAX, |s| s / 2)
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
        .map(|g| g.members.iter().map(|m| Worker { id: m.member_id.clone(), host: m.host.to_string() }).collect())
        .unwrap_or_default();
    Some(Observed::new(workers, groups.at))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::{Group, GroupProtocol, Member};

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
}
