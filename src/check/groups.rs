//! The consumer-group parts of `check --json`: each group's lag on its
//! side, and where each application group would resume across a flow.

use serde::Serialize;

use crate::assess::{Assessment, GroupLag, GroupTranslation};
use crate::model::Ts;

/// A group's lag on one side: committed offsets against that side's end
/// offsets. `total_records` is null when any partition's lag is unknown
/// (`unknown_because` says why): never 0 for unknown.
#[derive(Debug, Serialize)]
pub struct GroupLagReport {
    pub total_records: Option<u64>,
    pub unknown_because: Option<String>,
    /// The older of the committed offsets' and end offsets' observations.
    pub observed_at: Option<Ts>,
    /// Every partition the group committed an offset for, furthest behind first.
    pub partitions: Vec<GroupPartitionLag>,
}

#[derive(Debug, Serialize)]
pub struct GroupPartitionLag {
    pub topic: String,
    pub partition: i32,
    pub committed: i64,
    pub end_offset: Option<i64>,
    /// `end_offset - committed` (null: unknown; negative kept).
    pub records: Option<i64>,
}

pub fn lag_report(l: &GroupLag) -> GroupLagReport {
    let mut rows: Vec<_> = l.rows.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(l.records(r).map_or(i64::MAX, |n| n)));
    GroupLagReport {
        total_records: l.total,
        unknown_because: l.unknown_because.clone(),
        observed_at: l.at,
        partitions: rows
            .into_iter()
            .map(|r| GroupPartitionLag {
                topic: l.topic(r).to_owned(),
                partition: r.partition,
                committed: r.committed,
                end_offset: l.end(r),
                records: l.records(r),
            })
            .collect(),
    }
}

/// Where an application group of a flow's source would resume on its target.
#[derive(Debug, Serialize)]
pub struct TranslationReport {
    /// `DC→DR`.
    pub flow: String,
    pub group: String,
    pub members_on_source: usize,
    /// Whether every partition translates (null: cannot be judged, see
    /// `unknown_because`).
    pub translatable: Option<bool>,
    /// The reason's stable name: `no-checkpoint`, `checkpoint-behind-commit`
    /// or `sync-point-too-far-behind`. (`sync.group.offsets.enabled` is not
    /// read yet, so no reason names it.)
    pub reason: Option<&'static str>,
    pub reason_text: Option<String>,
    pub unknown_because: Option<String>,
    pub observed_at: Option<Ts>,
    /// Summed over partitions (null when any is unknown).
    pub reprocess_records: Option<u64>,
    pub skip_records: Option<u64>,
    pub partitions: Vec<PartitionTranslation>,
}

#[derive(Debug, Serialize)]
pub struct PartitionTranslation {
    /// The topic as named on the source.
    pub topic: String,
    pub partition: i32,
    /// The group's committed offset on the source.
    pub committed: i64,
    /// The latest checkpoint's upstream and translated offsets, and when
    /// MM2 wrote it.
    pub checkpoint_upstream: Option<i64>,
    pub checkpoint_downstream: Option<i64>,
    pub checkpoint_written_at: Option<Ts>,
    /// The group's committed offset on the target (where consumers resume
    /// when it exists).
    pub target_committed: Option<i64>,
    /// The offset the group would resume at on the target.
    pub resume_at: Option<i64>,
    /// The target offset of the group's source position (estimated from
    /// MM2's committed progress; no gaps assumed).
    pub position_on_target: Option<i64>,
    pub reprocess_records: Option<u64>,
    pub skip_records: Option<u64>,
    /// The time those records span on the source, where history reaches.
    pub span_secs: Option<f64>,
    pub reason: Option<&'static str>,
}

pub fn translation_report(t: &GroupTranslation) -> TranslationReport {
    let judged = t.unknown_because.is_none();
    TranslationReport {
        flow: t.flow.to_string(),
        group: t.group.clone(),
        members_on_source: t.members_on_source,
        translatable: judged.then_some(t.problem.is_none()),
        reason: t.problem.as_ref().map(|p| p.as_str()),
        reason_text: t.problem.as_ref().map(|p| p.describe()),
        unknown_because: t.unknown_because.clone(),
        observed_at: t.at,
        reprocess_records: t.reprocess(),
        skip_records: t.skip(),
        partitions: t
            .rows
            .iter()
            .map(|r| (r, r.checkpoint()))
            .map(|(r, checkpoint)| PartitionTranslation {
                topic: t.topic(r).to_owned(),
                partition: r.partition,
                committed: r.committed,
                checkpoint_upstream: checkpoint.map(|k| k.upstream_offset),
                checkpoint_downstream: checkpoint.map(|k| k.downstream_offset),
                checkpoint_written_at: checkpoint.map(|k| k.written_at),
                target_committed: r.target_committed(),
                resume_at: r.resume_at(),
                position_on_target: r.position_on_target(),
                reprocess_records: r.reprocess(),
                skip_records: r.skip(),
                span_secs: r.span_secs(),
                reason: r.problem(),
            })
            .collect(),
    }
}

/// A group that cannot be carried over as it is: a warning, not an alarm.
#[derive(Debug, Serialize)]
pub struct GroupWarning {
    /// The reason's stable name (see `TranslationReport::reason`).
    pub kind: &'static str,
    pub group: String,
    pub flow: String,
    pub text: String,
}

pub fn warnings(a: &Assessment) -> Vec<GroupWarning> {
    a.group_warnings()
        .into_iter()
        .filter_map(|t| {
            Some(GroupWarning {
                kind: t.problem.as_ref()?.as_str(),
                group: t.group.clone(),
                flow: t.flow.to_string(),
                text: t.warning()?,
            })
        })
        .collect()
}
