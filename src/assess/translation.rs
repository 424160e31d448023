//! Where each application group of a flow's source would resume on its
//! target, from MM2's checkpoints there (or the offsets MM2 synced into the
//! target's group): how many records it would re-process or skip, and the
//! named reason when it cannot be translated.

use std::sync::Arc;

use crate::config::Settings;
use crate::model::{Checkpoint, Flow, Group, Snapshot, Ts};

use super::groups::{ABSENT, ByPartition, EndOffsets, NameMap, Partitioned, end_offset, known, same_name};
use super::history::{History, Series};
use super::sides::GroupClass;
use super::truth::Freshness;

/// A checkpoint whose translation rests on an offset sync more than this
/// many records behind the group's position makes the group re-process
/// them all on the other side. MM2 writes a sync at least every
/// `offset.lag.max` (default 100) records while it keeps up; ten times that
/// means syncs are too sparse for this group.
pub const SYNC_BEHIND_MAX: u64 = 1_000;

/// Why a group's position cannot be carried to the other side as it is.
#[derive(Clone, Debug, PartialEq)]
pub enum Untranslatable {
    /// MM2 wrote no checkpoint for this group and partition yet.
    NoCheckpoint,
    /// The group, stopped, committed past the last checkpoint: the records
    /// between the two would be consumed again.
    CheckpointBehindCommit { records: u64, seconds: Option<f64> },
    /// The checkpoint translates to an offset sync far behind the group's
    /// position (see `SYNC_BEHIND_MAX`).
    SyncTooFarBehind { records: u64 },
}

impl Untranslatable {
    /// The reason's stable name, as `check` reports it.
    pub fn as_str(&self) -> &'static str {
        self.reason().as_str()
    }

    fn reason(&self) -> Reason {
        match self {
            Untranslatable::NoCheckpoint => Reason::NoCheckpoint,
            Untranslatable::CheckpointBehindCommit { .. } => Reason::CheckpointBehindCommit,
            Untranslatable::SyncTooFarBehind { .. } => Reason::SyncTooFarBehind,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Untranslatable::NoCheckpoint => "no checkpoint yet".into(),
            Untranslatable::CheckpointBehindCommit { records, seconds } => {
                let span = seconds.map(|s| format!(", {}", super::fmt_age(s))).unwrap_or_default();
                format!("checkpoint {records} records{span} behind the group's commit")
            }
            Untranslatable::SyncTooFarBehind { records } => {
                format!("offset sync {records} records behind the group's position")
            }
        }
    }
}

/// What a checkpoint says of one partition (its key is the row's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckpointOffsets {
    pub upstream_offset: i64,
    pub downstream_offset: i64,
    pub written_at: Ts,
}

/// Where one partition of a group would resume on the flow's target.
///
/// A console holds one row per committed offset (250,000 at 100,000
/// partitions), so a row is kept to 72 bytes: its topic is an index into
/// its group's `topics`, absent figures are sentinels read through
/// accessors, and what follows from the figures is computed when asked.
#[derive(Clone, Debug, PartialEq)]
pub struct TranslationRow {
    /// Index of the topic, as named on the source, in `GroupTranslation::topics`.
    topic: u32,
    pub partition: i32,
    /// The group's committed offset on the source.
    pub committed: i64,
    /// The latest checkpoint on the target for this partition (`ABSENT` when
    /// there is none).
    checkpoint_upstream: i64,
    checkpoint_downstream: i64,
    checkpoint_written_at: Ts,
    target_committed: i64,
    position_on_target: i64,
    /// Milliseconds, `-1` when unknown.
    span_ms: i64,
    problem: Option<Reason>,
}

// What the console's memory at 100,000 partitions rests on.
const _: () = assert!(std::mem::size_of::<TranslationRow>() <= 72);

/// A row's reason, without the figures `Untranslatable` carries for the
/// group's first, in the order a group names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reason {
    NoCheckpoint,
    CheckpointBehindCommit,
    SyncTooFarBehind,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::NoCheckpoint => "no-checkpoint",
            Reason::CheckpointBehindCommit => "checkpoint-behind-commit",
            Reason::SyncTooFarBehind => "sync-point-too-far-behind",
        }
    }
}

impl TranslationRow {
    /// The latest checkpoint on the target for this partition.
    pub fn checkpoint(&self) -> Option<CheckpointOffsets> {
        Some(CheckpointOffsets {
            upstream_offset: known(self.checkpoint_upstream)?,
            downstream_offset: self.checkpoint_downstream,
            written_at: self.checkpoint_written_at,
        })
    }

    /// The group's committed offset on the target, if it has one (MM2's
    /// `sync.group.offsets.enabled` writes it there): consumers resume
    /// there, whatever the checkpoint says.
    pub fn target_committed(&self) -> Option<i64> {
        known(self.target_committed)
    }

    /// The target offset holding the record at the group's source
    /// position, estimated from MM2's committed progress and the target's
    /// end offset (no gaps assumed).
    pub fn position_on_target(&self) -> Option<i64> {
        known(self.position_on_target)
    }

    /// How long a stretch of the source the records re-processed or
    /// skipped span, where its history reaches back that far.
    pub fn span_secs(&self) -> Option<f64> {
        (self.span_ms >= 0).then(|| self.span_ms as f64 / 1000.0)
    }

    /// The stable name of this partition's reason (`Untranslatable::as_str`).
    pub fn problem(&self) -> Option<&'static str> {
        self.problem.map(Reason::as_str)
    }

    /// The offset the group would resume at on the target.
    pub fn resume_at(&self) -> Option<i64> {
        let checkpointed = (self.checkpoint_upstream != ABSENT).then_some(self.checkpoint_downstream);
        self.target_committed().or(checkpointed)
    }

    /// Records the group would consume again there.
    pub fn reprocess(&self) -> Option<u64> {
        moved(self.position_on_target(), self.resume_at()).0
    }

    /// Records it would never see there.
    pub fn skip(&self) -> Option<u64> {
        moved(self.position_on_target(), self.resume_at()).1
    }
}

fn resume_at(target_committed: Option<i64>, checkpoint: Option<&CheckpointOffsets>) -> Option<i64> {
    target_committed.or(checkpoint.map(|k| k.downstream_offset))
}

/// Records re-processed and skipped when resuming at `resume` with the
/// group's position at `position` on the target.
fn moved(position: Option<i64>, resume: Option<i64>) -> (Option<u64>, Option<u64>) {
    match (position, resume) {
        (Some(p), Some(r)) => (Some((p - r).max(0) as u64), Some((r - p).max(0) as u64)),
        _ => (None, None),
    }
}

/// Where an application group of a flow's source would resume on its target.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupTranslation {
    pub flow: Flow,
    pub group: String,
    pub members_on_source: usize,
    /// The source topics its rows name (`topic`), one per run of rows.
    pub topics: Vec<Arc<str>>,
    pub rows: Vec<TranslationRow>,
    /// The most records it committed past its last checkpoint on any one
    /// partition (`None`: no partition has a checkpoint).
    pub furthest_past_checkpoint: Option<i64>,
    /// The first partition's reason, in the order of `Untranslatable`.
    pub problem: Option<Untranslatable>,
    /// Why the translation cannot be judged (figures missing or stale).
    pub unknown_because: Option<String>,
    /// The oldest observation the figures rest on.
    pub at: Option<Ts>,
}

impl GroupTranslation {
    pub fn reprocess(&self) -> Option<u64> {
        self.rows.iter().map(TranslationRow::reprocess).sum()
    }

    pub fn skip(&self) -> Option<u64> {
        self.rows.iter().map(TranslationRow::skip).sum()
    }

    /// The topic of one of its rows, as named on the source.
    pub fn topic(&self, row: &TranslationRow) -> &str {
        self.topics.get(row.topic as usize).map_or("", |t| t)
    }

    /// Its rows topic by topic, as the group committed them.
    pub fn by_topic(&self) -> impl Iterator<Item = (&str, &[TranslationRow])> {
        self.rows.chunk_by(|a, b| a.topic == b.topic).map(|run| (self.topic(&run[0]), run))
    }

    /// Partitions with `problem`'s reason.
    pub fn partitions_with_problem(&self) -> usize {
        let kind = self.problem.as_ref().map(Untranslatable::reason);
        self.rows.iter().filter(|r| r.problem == kind).count()
    }

    /// `orders-service → DR: no checkpoint yet (orders/0 +2)`.
    pub fn warning(&self) -> Option<String> {
        let p = self.problem.as_ref()?;
        let first = self.rows.iter().find(|r| r.problem == Some(p.reason()))?;
        let more = self.partitions_with_problem().saturating_sub(1);
        let more = if more > 0 { format!(" +{more}") } else { String::new() };
        Some(format!(
            "group {} cannot be translated to {}: {} ({}/{}{more})",
            self.group,
            self.flow.target,
            p.describe(),
            self.topic(first),
            first.partition
        ))
    }
}

/// For every configured flow: each application group of its source with
/// committed offsets on mirrored topics, translated to its target.
/// `classes` holds the class of every group each side lists, in order.
pub fn translations(
    snap: &Snapshot,
    classes: &[Vec<GroupClass>; 2],
    history: &History,
    settings: &Settings,
    now: Ts,
) -> Vec<GroupTranslation> {
    let mut flows: Vec<Flow> = Vec::new();
    for d in &snap.mm2 {
        if !flows.contains(&d.flow) {
            flows.push(d.flow);
        }
    }
    let mut out = Vec::new();
    for flow in flows {
        let Some(groups) = &snap.cluster(flow.source).groups else { continue };
        // Built once the source is found to hold an application group.
        let mut index = None;
        let classes = &classes[flow.source.index()];
        for (group, _) in groups.value.iter().zip(classes).filter(|(_, class)| **class == GroupClass::App) {
            let index = index.get_or_insert_with(|| FlowIndex::of(flow, snap));
            if let Some(t) = translate(flow, group, snap, index, history, settings, now) {
                out.push(t);
            }
        }
    }
    out
}

/// What a flow's translations look up, indexed once per flow.
struct FlowIndex<'a> {
    /// The target's latest checkpoints from this source, by group, topic and partition.
    checkpoints: Partitioned<(&'a str, &'a str), &'a Checkpoint>,
    /// MM2's last replicated upstream offset, by source topic and partition.
    replicated: Partitioned<&'a str, i64>,
    target_groups: NameMap<&'a str, &'a Group>,
    target_ends: EndOffsets<'a>,
}

impl<'a> FlowIndex<'a> {
    fn of(flow: Flow, snap: &'a Snapshot) -> FlowIndex<'a> {
        let source = snap.cluster(flow.source);
        let target = snap.cluster(flow.target);
        let mut checkpoints = Partitioned::default();
        // Checkpoints share a few alias strings: each is compared once.
        let mut alias_seen: Option<(&str, bool)> = None;
        let mut from_source = |alias: &'a str| match alias_seen {
            Some((seen, is)) if std::ptr::eq(seen, alias) => is,
            _ => alias_seen.insert((alias, alias == source.alias)).1,
        };
        for k in target.checkpoints.iter().flat_map(|c| &c.value).filter(|k| from_source(&k.source_alias)) {
            checkpoints.insert((&*k.group, &*k.topic), k.partition, k);
        }
        let deployment = snap.mm2.iter().find(|d| d.flow == flow && d.replicated.is_some());
        let mut replicated = Partitioned::default();
        for o in deployment.and_then(|d| d.replicated.as_ref()).iter().flat_map(|r| &r.value) {
            replicated.insert(&*o.topic, o.partition, o.upstream_offset);
        }
        let target_groups = target
            .groups
            .as_ref()
            .map_or_else(NameMap::default, |g| g.value.iter().map(|g| (g.id.as_str(), g)).collect());
        FlowIndex { checkpoints, replicated, target_groups, target_ends: EndOffsets::of(target) }
    }
}

fn translate<'a>(
    flow: Flow,
    group: &'a Group,
    snap: &'a Snapshot,
    flow_index: &FlowIndex<'a>,
    history: &History,
    settings: &Settings,
    now: Ts,
) -> Option<GroupTranslation> {
    let source = snap.cluster(flow.source);
    let target = snap.cluster(flow.target);
    let policy = &settings.policy;
    let committed = group.committed.as_ref()?;
    let checkpoints = target.checkpoints.as_ref();
    // The same group's offsets on the target, by topic and partition.
    let mut target_committed = Partitioned::default();
    let on_target_group = flow_index.target_groups.get(group.id.as_str()).and_then(|g| g.committed.as_ref());
    for t in on_target_group.into_iter().flatten() {
        target_committed.insert(&*t.topic, t.partition, t.offset);
    }
    let stamps = [
        ("consumer groups", flow.source, source.groups.as_ref().map(|o| o.at)),
        ("consumer groups", flow.target, target.groups.as_ref().map(|o| o.at)),
        ("end offsets", flow.target, target.topics.as_ref().map(|o| o.at)),
        ("checkpoints", flow.target, checkpoints.map(|o| o.at)),
    ];
    let never = stamps.iter().find(|(_, _, at)| at.is_none());
    let at = stamps.iter().filter_map(|(_, _, at)| *at).min();
    let unknown_because = match never {
        Some((what, side, _)) => Some(format!("{what} on {side} never read")),
        None => Freshness::of(at, now, settings.stale_after).problem("translation figures"),
    };
    let members = group.members.len();
    let source_series = &history.end_offsets[flow.source.index()];
    // A group's commits come topic by topic: what one topic's rows look
    // up, per run of its commits (only an application topic's are rows).
    #[derive(Default)]
    struct Run<'r> {
        topic: &'r str,
        // Its index in `topics`; `None` for a topic that is not an application's.
        index: Option<u32>,
        series: Option<&'r Vec<Series>>,
        // The checkpoints' topic is the target-side name; the source's is accepted too.
        checkpoints_remote: Option<&'r ByPartition<&'r Checkpoint>>,
        checkpoints_source: Option<&'r ByPartition<&'r Checkpoint>>,
        target_committed: Option<&'r ByPartition<i64>>,
        replicated: Option<&'r ByPartition<i64>>,
        target_topic: Option<&'r crate::model::Topic>,
    }
    let mut run: Option<Run<'_>> = None;
    let mut topics: Vec<Arc<str>> = Vec::new();
    let mut rows: Vec<TranslationRow> = Vec::with_capacity(committed.len());
    let mut problem: Option<Untranslatable> = None;
    let mut furthest_past_checkpoint: Option<i64> = None;
    for c in committed {
        let r = match &mut run {
            Some(r) if same_name(r.topic, &c.topic) => r,
            _ if !settings.classification.is_app_topic(&c.topic, policy) => {
                run.insert(Run { topic: &c.topic, ..Run::default() })
            }
            _ => {
                let index = u32::try_from(topics.len()).ok();
                topics.push(Arc::clone(&c.topic));
                let remote = policy.remote_topic(&source.alias, &c.topic);
                let cps = &flow_index.checkpoints;
                let in_group = |topic: &str| cps.slot(&(group.id.as_str(), topic)).and_then(|s| cps.in_slot(s));
                run.insert(Run {
                    topic: &c.topic,
                    index,
                    series: source_series.get(&*c.topic),
                    checkpoints_remote: in_group(&remote),
                    checkpoints_source: in_group(&c.topic),
                    target_committed: target_committed.get(remote.as_str()),
                    replicated: flow_index.replicated.get(&*c.topic),
                    target_topic: flow_index.target_ends.topic(&remote),
                })
            }
        };
        let Some(topic) = r.index else { continue };
        let checkpoint = r
            .checkpoints_remote
            .and_then(|k| k.get(c.partition))
            .or_else(|| r.checkpoints_source.and_then(|k| k.get(c.partition)));
        let checkpoint = checkpoint.map(|k| CheckpointOffsets {
            upstream_offset: k.upstream_offset,
            downstream_offset: k.downstream_offset,
            written_at: k.written_at,
        });
        if let Some(k) = &checkpoint {
            let past = c.offset.saturating_sub(k.upstream_offset);
            furthest_past_checkpoint = furthest_past_checkpoint.max(Some(past));
        }
        let target_committed = r.target_committed.and_then(|t| t.get(c.partition));
        // Where the source's offset `x` lands on the target: MM2 wrote
        // upstream `r` as the target's last record, so `x` is
        // `end - (r + 1 - x)` where nothing left a gap.
        let last_replicated = r.replicated.and_then(|t| t.get(c.partition));
        let target_end = r.target_topic.and_then(|t| end_offset(t, c.partition));
        let on_target = |x: i64| target_end?.checked_sub(last_replicated?.checked_add(1)?.checked_sub(x)?);
        let series = r.series.and_then(|s| s.get(usize::try_from(c.partition).ok()?));
        let position = Position { committed: c.offset, checkpoint, target_committed, members, series };
        let (row, why) = row(topic, c.partition, position, on_target);
        if let Some(why) = why.filter(|w| problem.as_ref().is_none_or(|p| w.reason() < p.reason())) {
            problem = Some(why);
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return None;
    }
    Some(GroupTranslation {
        flow,
        group: group.id.clone(),
        members_on_source: members,
        topics,
        rows,
        furthest_past_checkpoint,
        problem: problem.filter(|_| unknown_because.is_none()),
        unknown_because,
        at,
    })
}

/// What one partition's translation starts from.
struct Position<'a> {
    /// The group's committed offset on the source.
    committed: i64,
    checkpoint: Option<CheckpointOffsets>,
    target_committed: Option<i64>,
    /// The group's members on the source.
    members: usize,
    /// The partition's end-offset history on the source.
    series: Option<&'a Series>,
}

/// One partition's row, and its reason with the figures it carries.
fn row(
    topic: u32,
    partition: i32,
    p: Position<'_>,
    on_target: impl Fn(i64) -> Option<i64>,
) -> (TranslationRow, Option<Untranslatable>) {
    let Position { committed, checkpoint, target_committed, members, series } = p;
    let resume_at = resume_at(target_committed, checkpoint.as_ref());
    let position_on_target = on_target(committed);
    let (reprocess, skip) = moved(position_on_target, resume_at);
    // Records the group would see again end at its position; those it
    // would miss start there.
    let span_secs = match (reprocess, skip) {
        (Some(n @ 1..), _) => span(series, committed - n as i64, committed),
        (_, Some(n @ 1..)) => span(series, committed, committed + n as i64),
        (Some(0), Some(0)) => Some(0.0),
        _ => None,
    };
    let problem = match &checkpoint {
        None => Some(Untranslatable::NoCheckpoint),
        Some(k) => {
            let behind = committed - k.upstream_offset;
            // A group still consuming always commits ahead of the
            // checkpoint connector (it emits every
            // `emit.checkpoints.interval.seconds`, 60 by default): the gap
            // is in the re-process figure. Once the group stops, the
            // checkpoint must catch up with its last commit.
            let settled = members == 0;
            let slack = on_target(k.upstream_offset).map(|d| d - k.downstream_offset);
            if behind > 0 && settled {
                let seconds = span(series, k.upstream_offset, committed);
                Some(Untranslatable::CheckpointBehindCommit { records: behind as u64, seconds })
            } else {
                let far = slack.filter(|&n| n > SYNC_BEHIND_MAX as i64);
                far.map(|n| Untranslatable::SyncTooFarBehind { records: n as u64 })
            }
        }
    };
    let row = TranslationRow {
        topic,
        partition,
        committed,
        checkpoint_upstream: checkpoint.map_or(ABSENT, |k| k.upstream_offset),
        checkpoint_downstream: checkpoint.map_or(ABSENT, |k| k.downstream_offset),
        checkpoint_written_at: checkpoint.map_or(Ts::UNIX_EPOCH, |k| k.written_at),
        target_committed: target_committed.unwrap_or(ABSENT),
        position_on_target: position_on_target.unwrap_or(ABSENT),
        span_ms: span_secs.map_or(-1, |s| (s * 1000.0).round() as i64),
        problem: problem.as_ref().map(Untranslatable::reason),
    };
    (row, problem)
}

/// Seconds between the writes of source records `from` and `to - 1`, from
/// the source's end-offset history (record `k` was written when the end
/// offset reached `k + 1`).
fn span(series: Option<&Series>, from: i64, to: i64) -> Option<f64> {
    let s = series?;
    let (first, last) = (s.time_reached(from + 1)?, s.time_reached(to)?);
    Some(((last - first).num_milliseconds() as f64 / 1000.0).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::Assessor;
    use crate::model::{Mm2Deployment, Observed, Partition, ReplicatedOffset, Side, Topic};
    use chrono::Utc;

    fn topic(end: i64) -> Topic {
        Topic {
            name: "orders".into(),
            partitions: vec![Partition { id: 0, leader: Some(1), end_offset: Some(end) }],
            replication_factor: None,
            min_insync_replicas: None,
            cleanup_policy: None,
        }
    }

    use super::super::groups::tests::group;

    /// DC holds 10,000 records of `orders`, `app` committed at 9,000; DR holds
    /// the 10,000 mirrored at the same offsets.
    fn world(now: Ts, checkpoint: Option<(i64, i64)>) -> Snapshot {
        let mut snap = Snapshot::empty(now, "dc", "dr");
        for side in Side::BOTH {
            let c = snap.cluster_mut(side);
            c.topics = Some(Observed::new(vec![topic(10_000)], now));
            c.groups = Some(Observed::new(Vec::new(), now));
        }
        snap.cluster_mut(Side::Dc).groups = Some(Observed::new(vec![group("app", Some(9_000))], now));
        let cps = checkpoint.map(|(up, down)| Checkpoint {
            source_alias: "dc".into(),
            group: "app".into(),
            topic: "orders".into(),
            partition: 0,
            upstream_offset: up,
            downstream_offset: down,
            written_at: now,
        });
        snap.cluster_mut(Side::Dr).checkpoints = Some(Observed::new(cps.into_iter().collect(), now));
        let replicated = vec![ReplicatedOffset { topic: "orders".into(), partition: 0, upstream_offset: 9_999 }];
        snap.mm2 = vec![Mm2Deployment {
            replicated: Some(Observed::new(replicated, now)),
            ..Mm2Deployment::unobserved("mm2", Flow::DC_TO_DR, Side::Dr)
        }];
        snap
    }

    fn translation(snap: &Snapshot, now: Ts) -> GroupTranslation {
        let a = Assessor::new(Settings::default()).assess(snap, now);
        let t = a.translations_of(Flow::DC_TO_DR).find(|t| t.group == "app").cloned();
        t.unwrap_or_else(|| panic!("no translation of app in {:?}", a.translations))
    }

    #[test]
    fn an_exact_checkpoint_resumes_where_the_group_stopped() {
        let now = Utc::now();
        let t = translation(&world(now, Some((9_000, 9_000))), now);
        assert_eq!(t.problem, None);
        let r = &t.rows[0];
        assert_eq!(
            (r.resume_at(), r.position_on_target(), r.reprocess(), r.skip()),
            (Some(9_000), Some(9_000), Some(0), Some(0))
        );
    }

    #[test]
    fn each_reason_is_named() {
        let now = Utc::now();
        assert_eq!(translation(&world(now, None), now).problem, Some(Untranslatable::NoCheckpoint));
        let behind = translation(&world(now, Some((8_980, 8_980))), now);
        assert_eq!(behind.problem, Some(Untranslatable::CheckpointBehindCommit { records: 20, seconds: None }));
        assert_eq!(behind.reprocess(), Some(20));
        let sparse = translation(&world(now, Some((9_000, 0))), now);
        assert_eq!(sparse.problem, Some(Untranslatable::SyncTooFarBehind { records: 9_000 }));
        assert!(sparse.warning().unwrap_or_default().contains("group app cannot be translated to DR"));
    }

    #[test]
    fn the_targets_committed_offset_wins_over_the_checkpoint() {
        let now = Utc::now();
        let mut snap = world(now, Some((9_000, 9_000)));
        snap.cluster_mut(Side::Dr).groups = Some(Observed::new(vec![group("app", Some(9_050))], now));
        let r = translation(&snap, now).rows[0].clone();
        assert_eq!((r.resume_at(), r.skip(), r.reprocess()), (Some(9_050), Some(50), Some(0)));
    }

    #[test]
    fn rows_name_their_topic_and_the_first_reason_keeps_its_figures() {
        let now = Utc::now();
        let mut snap = world(now, Some((8_980, 8_980)));
        let dc = snap.cluster_mut(Side::Dc);
        if let Some(g) = dc.groups.as_mut().and_then(|g| g.value.first_mut()) {
            let payments = crate::model::Committed { topic: "payments".into(), partition: 3, offset: 5 };
            g.committed.get_or_insert_with(Vec::new).push(payments);
        }
        let t = translation(&snap, now);
        let runs: Vec<(&str, usize)> = t.by_topic().map(|(topic, rows)| (topic, rows.len())).collect();
        assert_eq!(runs, [("orders", 1), ("payments", 1)]);
        assert_eq!(t.topic(&t.rows[1]), "payments");
        assert_eq!(
            t.rows.iter().map(TranslationRow::problem).collect::<Vec<_>>(),
            [Some("checkpoint-behind-commit"), Some("no-checkpoint")]
        );
        // The group names its first reason in `Untranslatable`'s order.
        assert_eq!(t.problem, Some(Untranslatable::NoCheckpoint));
        assert!(t.warning().unwrap_or_default().ends_with("(payments/3)"), "{:?}", t.warning());
        let behind = t.rows[0].checkpoint().map(|k| (k.upstream_offset, k.downstream_offset, k.written_at));
        assert_eq!(behind, Some((8_980, 8_980, now)));
    }
}
