//! What restarting MM2 in the reverse direction would do to the old
//! primary (seeds 001 and 003): the records it would copy back (from its
//! committed position in its Connect offsets topic to where the stopped
//! flow's data ended on its source), and the orphan tail, the records on
//! the old primary the stopped flow never replicated.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::model::{Flow, Ts};

use super::conditions::Eval;
use super::ends::PartitionEnd;
use super::groups::NameMap;
use super::lag::FlowLag;
use super::truth::Truth;

/// One partition's figures. A partition is named as it is on the side
/// it lives: copy-back on the reverse flow's source, orphans on the old
/// primary (the same names with identity replication).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailbackPartition {
    /// Shared by every partition of the topic.
    pub topic: Arc<str>,
    pub partition: i32,
    /// Records the reverse flow would copy again; `None` when unknown.
    pub copy_back: Option<u64>,
    /// No committed position: the reverse flow would read from the
    /// earliest offset, assumed 0 (an upper bound under retention).
    pub from_earliest: bool,
    /// Records on the old primary never replicated; `None` when unknown.
    pub orphans: Option<u64>,
    /// Age of the oldest orphan record: the tail was written since then.
    pub orphans_oldest_age_secs: Option<f64>,
}

/// One topic's figures, summed over its partitions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailbackTopic {
    pub topic: String,
    pub partitions: usize,
    pub copy_back: Option<u64>,
    pub orphans: Option<u64>,
    pub orphans_oldest_age_secs: Option<f64>,
}

/// The figures of one reverse flow before it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Failback {
    /// The reverse flow, about to start (its opposite stopped).
    pub flow: Flow,
    pub partitions: Vec<FailbackPartition>,
    /// Why the copy-back is not known, if it is not.
    pub copy_back_unknown: Option<String>,
    /// When the reverse flow's committed offsets were read.
    pub committed_at: Option<Ts>,
    /// Why the orphan tail is not known, if it is not.
    pub orphans_unknown: Option<String>,
}

impl Failback {
    /// Total records the reverse flow would copy back, when known (a
    /// partition without a figure is one only the orphan tail names).
    pub fn copy_back(&self) -> Option<u64> {
        if self.copy_back_unknown.is_some() {
            return None;
        }
        Some(self.partitions.iter().filter_map(|p| p.copy_back).sum())
    }

    /// Partitions with anything to copy back, and of those how many from
    /// their earliest offset.
    pub fn copy_back_partitions(&self) -> (usize, usize) {
        let again = self.partitions.iter().filter(|p| p.copy_back.is_some_and(|n| n > 0));
        again.fold((0, 0), |(n, e), p| (n + 1, e + usize::from(p.from_earliest)))
    }

    /// Total orphan records, when known.
    pub fn orphans(&self) -> Option<u64> {
        if self.orphans_unknown.is_some() {
            return None;
        }
        Some(self.partitions.iter().filter_map(|p| p.orphans).sum())
    }

    /// The figures per topic, in topic order.
    pub fn topics(&self) -> Vec<FailbackTopic> {
        let mut by: BTreeMap<&str, FailbackTopic> = BTreeMap::new();
        for p in &self.partitions {
            let t = by.entry(&p.topic).or_insert_with(|| FailbackTopic {
                topic: p.topic.to_string(),
                partitions: 0,
                copy_back: None,
                orphans: None,
                orphans_oldest_age_secs: None,
            });
            t.partitions += 1;
            let add = |sum: Option<u64>, n: Option<u64>| match (sum, n) {
                (s, None) => s,
                (s, Some(n)) => Some(s.unwrap_or(0) + n),
            };
            t.copy_back = add(t.copy_back, p.copy_back);
            t.orphans = add(t.orphans, p.orphans);
            if let Some(s) = p.orphans_oldest_age_secs {
                t.orphans_oldest_age_secs = Some(t.orphans_oldest_age_secs.map_or(s, |m| m.max(s)));
            }
        }
        by.into_values().collect()
    }
}

/// The figures of `flow` (the reverse flow) from `ends`, where the stopped
/// opposite flow's data ended on `flow`'s source, and the flows' lag: the
/// reverse flow's committed positions, the stopped flow's unreplicated
/// records.
pub fn failback(flow: Flow, ends: Result<&[PartitionEnd], &str>, lag: &[FlowLag]) -> Failback {
    let mut by: BTreeMap<(Arc<str>, i32), FailbackPartition> = BTreeMap::new();
    let blank = |topic: &Arc<str>, partition| FailbackPartition {
        topic: Arc::clone(topic),
        partition,
        copy_back: None,
        from_earliest: false,
        orphans: None,
        orphans_oldest_age_secs: None,
    };
    let reverse = lag.iter().find(|l| l.flow == flow);
    let committed_at = reverse.and_then(|l| l.at);
    let copy_back_unknown = match (ends, reverse) {
        (Err(why), _) => Some(format!("where {} ended is unknown: {why}", flow.reversed())),
        (_, None) => Some(format!("no MM2 deployment for {flow} configured")),
        (Ok(_), Some(l)) => l.freshness.problem(&format!("{flow}'s committed offsets")),
    };
    if let (Ok(ends), Some(l), None) = (ends, reverse, &copy_back_unknown) {
        let positions: NameMap<(&str, i32), Option<i64>> =
            l.rows.iter().map(|r| ((&*r.topic, r.partition), r.replicated)).collect();
        for e in ends {
            let replicated = positions.get(&(&*e.topic, e.partition)).copied().flatten();
            let start = replicated.map_or(0, |r| r.saturating_add(1));
            let p = by.entry((e.topic.clone(), e.partition)).or_insert_with(|| blank(&e.topic, e.partition));
            p.copy_back = Some(e.end.saturating_sub(start).max(0).unsigned_abs());
            p.from_earliest = replicated.is_none();
        }
    }
    let stopped = lag.iter().find(|l| l.flow == flow.reversed());
    let orphans_unknown = match stopped {
        None => Some(format!("no MM2 deployment for {} configured", flow.reversed())),
        // A partition of unknown lag may hold orphans: the tail is then
        // unknown, never a partial sum.
        Some(l) => l.freshness.problem(&format!("lag of {}", flow.reversed())).or_else(|| {
            (l.unknown_rows > 0)
                .then(|| format!("{} partition(s) of {} with unknown lag", l.unknown_rows, flow.reversed()))
        }),
    };
    if let (Some(l), None) = (stopped, &orphans_unknown) {
        for r in &l.rows {
            let p = by.entry((Arc::clone(&r.topic), r.partition)).or_insert_with(|| blank(&r.topic, r.partition));
            p.orphans = r.records.map(|n| n.max(0).unsigned_abs());
            p.orphans_oldest_age_secs = r.seconds.filter(|_| r.records.is_some_and(|n| n > 0));
        }
    }
    Failback { flow, partitions: by.into_values().collect(), copy_back_unknown, committed_at, orphans_unknown }
}

/// The copy-back gate judged on `figures`: passes on a fresh 0 only.
pub fn copy_back_eval(flow: Flow, figures: Result<&Failback, String>) -> Eval {
    let f = match figures {
        Ok(f) => f,
        Err(why) => return (Truth::Unknown(why), "copy-back ?".into(), None),
    };
    let at = f.committed_at;
    if let Some(why) = &f.copy_back_unknown {
        return (Truth::Unknown(why.clone()), "copy-back ?".into(), at);
    }
    match f.copy_back() {
        Some(0) => {
            (Truth::Yes, format!("0 rec: {flow}'s committed position is at or past the ends on every partition"), at)
        }
        Some(n) => (Truth::No, copy_back_text(f, n), at),
        None => (Truth::Unknown("copy-back unknown".into()), "copy-back ?".into(), at),
    }
}

/// The copy-back figure in words.
pub fn copy_back_text(f: &Failback, records: u64) -> String {
    let (parts, earliest) = f.copy_back_partitions();
    let earliest = if earliest > 0 { format!(", {earliest} from their earliest offset") } else { String::new() };
    format!("{} would copy back {records} rec {} already holds ({parts} partitions{earliest})", f.flow, f.flow.target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::lag::{LagLevel, LagRow};
    use crate::assess::truth::Freshness;

    fn stopped_flow(records: &[Option<i64>]) -> FlowLag {
        let rows: Vec<LagRow> = records
            .iter()
            .enumerate()
            .map(|(p, &records)| LagRow {
                topic: "orders".into(),
                partition: p as i32,
                source_end: Some(100),
                replicated: records.map(|n| 99 - n),
                records,
                seconds: None,
            })
            .collect();
        FlowLag {
            flow: Flow::DC_TO_DR,
            deployment: "mm2".into(),
            unknown_rows: rows.iter().filter(|r| r.records.is_none()).count(),
            rows,
            total: None,
            ahead: (0, 0),
            max_seconds: None,
            at: None,
            freshness: Freshness::Fresh { age: 1.0 },
            level: LagLevel::Within,
            spark: Vec::new(),
        }
    }

    #[test]
    fn an_orphan_tail_with_a_partition_of_unknown_lag_is_unknown_never_a_partial_sum() {
        let known = failback(Flow::DR_TO_DC, Ok(&[]), &[stopped_flow(&[Some(3), Some(0)])]);
        assert_eq!(known.orphans(), Some(3));
        let partly = failback(Flow::DR_TO_DC, Ok(&[]), &[stopped_flow(&[Some(3), None])]);
        assert_eq!(partly.orphans(), None);
        assert!(partly.orphans_unknown.as_ref().is_some_and(|why| why.contains("1 partition(s)")), "{partly:?}");
    }
}
