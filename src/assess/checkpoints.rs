//! Checkpoints that stopped while groups commit. MM2 writes a group's
//! checkpoint when the offset it translates to changes, which it does once
//! an offset sync lies between the last checkpoint and the group's
//! position. A group that committed further past its last checkpoint than
//! the syncs may trail (`offset.lag.max`, and twice how far the group is
//! behind MM2's progress, where syncs are kept sparser), longer ago than two
//! checkpoint intervals and `stall_after`, has its checkpoints stopped:
//! switched over now, its consumers would resume from the old one.

use std::collections::{HashMap, HashSet};

use chrono::TimeDelta;

use super::groups::Partitioned;
use super::history::History;
use super::lag::FlowLag;
use super::mm2::{Health, Mm2Problem, Mm2ProblemKind, Mm2View};
use super::translation::GroupTranslation;
use crate::model::{Flow, Ts, age_secs};

/// The furthest a group's commit ran past its last checkpoint on a flow.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointStall {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    /// Records the group committed past its last checkpoint.
    pub records: u64,
    /// When the group was at the latest past the point MM2 should have
    /// checkpointed it.
    pub since: Ts,
}

/// When each (flow, group) was first seen past where MM2 should have
/// checkpointed it, in the current streak: the commit history alone keeps
/// too few points to reach back over a checkpoint interval of a group that
/// keeps committing.
pub type BehindSince = HashMap<(Flow, String), Ts>;

/// Marks each running flow whose checkpoints stopped while a group
/// commits: degraded, with the group, how far and since when. Only fresh
/// figures count: a checkpoint merely unobserved is not a stopped one.
pub fn mark_stalled_checkpoints(
    mm2: &mut [Mm2View],
    translations: &[GroupTranslation],
    lag: &[FlowLag],
    history: &History,
    behind: &mut BehindSince,
    stall_after: TimeDelta,
    now: Ts,
) {
    let mut seen = HashSet::new();
    for m in mm2.iter_mut().filter(|m| m.running.is_yes()) {
        let Some(stall) = stalled(m, translations, lag, history, behind, &mut seen, stall_after, now) else {
            continue;
        };
        let text = format!(
            "checkpoints stopped: group {} committed {} rec past its last checkpoint on {}/{} {} ago",
            stall.group,
            stall.records,
            stall.topic,
            stall.partition,
            super::truth::fmt_age(age_secs(stall.since, now))
        );
        m.health = Health::Degraded;
        m.problems.push(Mm2Problem::new(Mm2ProblemKind::CheckpointsStalled, text));
    }
    behind.retain(|k, _| seen.contains(k));
}

#[allow(clippy::too_many_arguments)]
fn stalled(
    m: &Mm2View,
    translations: &[GroupTranslation],
    lag: &[FlowLag],
    history: &History,
    behind: &mut BehindSince,
    seen: &mut HashSet<(Flow, String)>,
    stall_after: TimeDelta,
    now: Ts,
) -> Option<CheckpointStall> {
    let settings = m.settings.as_ref()?;
    // Checkpoints not emitted, or their cadence not read: nothing to expect.
    let interval = TimeDelta::try_seconds(i64::try_from(settings.checkpoint_interval_s?).ok()?)?;
    let window = interval.checked_mul(2)?.checked_add(&stall_after)?;
    let lag_max = i64::try_from(settings.offset_lag_max.unwrap_or(100)).unwrap_or(i64::MAX);
    let flow_lag = lag.iter().find(|l| l.flow == m.flow && l.freshness.is_fresh())?;
    // Built only once a group is found past its checkpoint: most are not.
    let mut replicated: Option<Partitioned<&str, i64>> = None;
    let index = || {
        let mut index = Partitioned::default();
        for r in &flow_lag.rows {
            if let Some(rep) = r.replicated {
                index.insert(&*r.topic, r.partition, rep);
            }
        }
        index
    };
    let mut worst: Option<CheckpointStall> = None;
    // Syncs may trail by `offset.lag.max` at least (`slack` below): only a
    // group further past a checkpoint than that can be stopped.
    let candidates = translations.iter().filter(|t| {
        t.flow == m.flow && t.unknown_because.is_none() && t.furthest_past_checkpoint.is_some_and(|p| p > lag_max)
    });
    for t in candidates {
        // Looked up only for a group found behind: most are not.
        let commits = || history.group_commits[m.flow.source.index()].get(&t.group);
        for (topic, rows) in t.by_topic() {
            for r in rows {
                let Some(cp) = r.checkpoint() else { continue };
                let past = r.committed.saturating_sub(cp.upstream_offset);
                if past <= lag_max {
                    continue;
                }
                let replicated = replicated.get_or_insert_with(index);
                let Some(rep) = replicated.get(topic).and_then(|p| p.get(r.partition)) else {
                    continue;
                };
                // No sync lies past what MM2 replicated.
                if r.committed > rep.saturating_add(1) {
                    continue;
                }
                // Syncs near the group are kept about as sparse as it is behind MM2.
                let slack = lag_max.saturating_add(rep.saturating_add(1).saturating_sub(r.committed).saturating_mul(2));
                let beyond = past.saturating_sub(slack);
                if beyond <= 0 {
                    continue;
                }
                let key = (m.flow, t.group.clone());
                let first_seen = *behind.entry(key.clone()).or_insert(now);
                seen.insert(key);
                // The group's total was below `total - beyond` until its commit
                // here passed where a sync must lie: a bound on when that was.
                let bound = commits().and_then(|c| c.time_reached(c.latest()?.1.saturating_sub(beyond)));
                let since = bound.map_or(first_seen, |b| b.min(first_seen));
                let quiet = now - cp.written_at >= window;
                if !quiet || now - since < window || worst.as_ref().is_some_and(|w| w.records >= past as u64) {
                    continue;
                }
                worst = Some(CheckpointStall {
                    group: t.group.clone(),
                    topic: topic.to_owned(),
                    partition: r.partition,
                    records: past as u64,
                    since,
                });
            }
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::Assessor;
    use crate::assess::groups::tests::group;
    use crate::assess::mm2_config::Mm2Settings;
    use crate::assess::truth::Truth;
    use crate::config::Settings;
    use crate::model::{Checkpoint, Flow, Mm2Deployment, Observed, Partition, ReplicatedOffset, Side, Snapshot, Topic};
    use chrono::Utc;

    /// `app` on DC committed `committed` of `orders`/0 (10,000 records,
    /// all replicated to DR); DR's last checkpoint of it at `checkpoint`.
    fn world(at: Ts, committed: i64, checkpoint: (i64, Ts)) -> Snapshot {
        let mut snap = Snapshot::empty(at, "dc", "dr");
        let orders = Topic {
            name: "orders".into(),
            partitions: vec![Partition { id: 0, leader: Some(1), end_offset: Some(10_000) }],
            replication_factor: None,
            min_insync_replicas: None,
            cleanup_policy: None,
        };
        for side in Side::BOTH {
            let c = snap.cluster_mut(side);
            c.topics = Some(Observed::new(vec![orders.clone()], at));
            c.groups = Some(Observed::new(Vec::new(), at));
        }
        snap.cluster_mut(Side::Dc).groups = Some(Observed::new(vec![group("app", Some(committed))], at));
        let (upstream_offset, written_at) = checkpoint;
        let cp = Checkpoint {
            source_alias: "dc".into(),
            group: "app".into(),
            topic: "orders".into(),
            partition: 0,
            upstream_offset,
            downstream_offset: upstream_offset,
            written_at,
        };
        snap.cluster_mut(Side::Dr).checkpoints = Some(Observed::new(vec![cp], at));
        let replicated = vec![ReplicatedOffset { topic: "orders".into(), partition: 0, upstream_offset: 9_999 }];
        snap.mm2 = vec![Mm2Deployment {
            replicated: Some(Observed::new(replicated, at)),
            ..Mm2Deployment::unobserved("mm2", Flow::DC_TO_DR, Side::Dr)
        }];
        snap
    }

    /// The views as a running flow's, checkpoints every 60 s and
    /// `offset.lag.max` 100.
    fn running(mut mm2: Vec<Mm2View>) -> Vec<Mm2View> {
        for m in &mut mm2 {
            m.running = Truth::Yes;
            m.health = Health::Healthy;
            m.problems.clear();
            m.settings = Some(Mm2Settings {
                policy: None,
                sync_group_offsets: Some(false),
                checkpoint_interval_s: Some(60),
                offset_lag_max: Some(100),
                unchecked: Vec::new(),
            });
        }
        mm2
    }

    /// The running flow as judged now, after `app` committed each `(seconds
    /// ago, offset)`, with its last checkpoint `(upstream offset, seconds
    /// ago)`; checkpoints every 60 s, `offset.lag.max` 100, `stall_after` 30 s.
    fn judged(commits: &[(i64, i64)], checkpoint: (i64, i64)) -> Mm2View {
        let now = Utc::now();
        let ago = |s: i64| now - TimeDelta::seconds(s);
        let mut assessor = Assessor::new(Settings::default());
        let mut history = History::default();
        let mut last = None;
        for &(secs, committed) in commits {
            let snap = world(ago(secs), committed, (checkpoint.0, ago(checkpoint.1)));
            history.ingest(&snap);
            last = Some(assessor.assess(&snap, ago(secs)));
        }
        let a = last.unwrap_or_else(|| panic!("no commits"));
        let mut mm2 = running(a.mm2.clone());
        let mut behind = BehindSince::new();
        mark_stalled_checkpoints(&mut mm2, &a.translations, &a.lag, &history, &mut behind, TimeDelta::seconds(30), now);
        mm2.remove(0)
    }

    #[test]
    fn a_group_far_past_its_last_checkpoint_for_long_has_its_checkpoints_stopped() {
        // Committed 1,000 then 9,000 from 200 s ago; checkpointed at 1,000.
        let m = judged(&[(300, 1_000), (200, 9_000), (0, 9_000)], (1_000, 250));
        assert_eq!(m.health, Health::Degraded);
        let p = m.problems.iter().find(|p| p.kind == Mm2ProblemKind::CheckpointsStalled);
        let text = p.map(|p| p.text.clone()).unwrap_or_default();
        assert!(text.contains("group app committed 8000 rec past its last checkpoint on orders/0"), "{text}");
        assert!(Mm2ProblemKind::CheckpointsStalled.needs_a_person());
    }

    #[test]
    fn checkpoints_that_may_still_come_are_not_stopped() {
        let stopped = |m: &Mm2View| m.problems.iter().any(|p| p.kind == Mm2ProblemKind::CheckpointsStalled);
        // A checkpoint within two intervals and stall_after.
        assert!(!stopped(&judged(&[(300, 1_000), (200, 9_000), (0, 9_000)], (1_000, 100))));
        // The group moved past only lately.
        assert!(!stopped(&judged(&[(300, 1_000), (60, 1_000), (50, 9_000), (0, 9_000)], (1_000, 250))));
        // Within what sparse syncs allow: 150 past, MM2 100 ahead of the group.
        assert!(!stopped(&judged(&[(300, 1_000), (200, 9_900), (0, 9_900)], (9_750, 250))));
        // The same far from MM2's progress: checkpoints translate from syncs
        // as sparse as the group is behind, so nothing is expected yet.
        assert!(!stopped(&judged(&[(300, 1_000), (200, 5_000), (0, 5_000)], (1_000, 250))));
        // Figures not fresh: unobserved, not stopped.
        let settings = Settings { stale_after: TimeDelta::seconds(10), ..Settings::default() };
        let now = Utc::now();
        let snap = world(now - TimeDelta::seconds(60), 9_000, (1_000, now - TimeDelta::seconds(250)));
        let a = Assessor::new(settings).assess(&snap, now);
        assert!(a.lag_of(Flow::DC_TO_DR).is_some_and(|l| !l.freshness.is_fresh()));
        let mut mm2 = running(a.mm2.clone());
        let mut history = History::default();
        history.ingest(&snap);
        let mut behind = BehindSince::new();
        mark_stalled_checkpoints(&mut mm2, &a.translations, &a.lag, &history, &mut behind, TimeDelta::seconds(30), now);
        assert!(!stopped(&mm2[0]));
    }

    #[test]
    fn without_history_reaching_back_the_wait_counts_from_first_sight() {
        // One point of history: when the group passed is not known.
        let now = Utc::now();
        let snap = world(now, 9_000, (1_000, now - TimeDelta::seconds(250)));
        let a = Assessor::new(Settings::default()).assess(&snap, now);
        let mut history = History::default();
        history.ingest(&snap);
        let mut behind = BehindSince::new();
        let stopped = |behind: &mut BehindSince, at: Ts| {
            let mut mm2 = running(a.mm2.clone());
            mark_stalled_checkpoints(&mut mm2, &a.translations, &a.lag, &history, behind, TimeDelta::seconds(30), at);
            mm2[0].problems.iter().any(|p| p.kind == Mm2ProblemKind::CheckpointsStalled)
        };
        assert!(!stopped(&mut behind, now), "first seen now");
        assert!(!stopped(&mut behind, now + TimeDelta::seconds(100)));
        assert!(stopped(&mut behind, now + TimeDelta::seconds(151)), "two intervals and stall_after later");
    }
}
