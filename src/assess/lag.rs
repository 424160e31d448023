//! Replication lag per mirrored partition: records (exact, from MM2's
//! committed progress) and seconds (interpolated from the source's history).

use std::sync::Arc;

use crate::config::Settings;
use crate::model::{Flow, Mm2Deployment, ReplicatedOffset, Snapshot, Ts, age_secs};

use super::groups::{NameMap, same_name};
use super::history::{History, Series};
use super::truth::Freshness;

#[derive(Clone, Debug, PartialEq)]
pub struct LagRow {
    /// Shared by every row of the topic: one allocation per topic, not per row.
    pub topic: Arc<str>,
    pub partition: i32,
    pub source_end: Option<i64>,
    /// Last upstream offset MM2 committed as replicated.
    pub replicated: Option<i64>,
    /// `source_end - (replicated + 1)`; `None` when either side is unknown.
    /// Negative when MM2's committed position is past the source's end (an
    /// echo loop, a recreated source topic): an anomaly, never shown as 0.
    pub records: Option<i64>,
    /// Age of the oldest record not yet replicated; `None` when unknown
    /// (including when history does not reach back far enough).
    pub seconds: Option<f64>,
}

/// A flow's lag against the alarm threshold (`lag_alarm_records`).
#[derive(Clone, Debug, PartialEq)]
pub enum LagLevel {
    Within,
    Above {
        threshold: u64,
    },
    /// MM2 committed positions past the source's end on some partitions.
    Ahead {
        records: u64,
        partitions: usize,
    },
    /// The lag cannot be judged: figures stale, or partitions unknown.
    Unknown(String),
}

impl LagLevel {
    /// The level's stable name, as `check` reports it.
    pub fn as_str(&self) -> &'static str {
        match self {
            LagLevel::Within => "within",
            LagLevel::Above { .. } => "above",
            LagLevel::Ahead { .. } => "ahead-of-source",
            LagLevel::Unknown(_) => "unknown",
        }
    }

    fn judge(
        total: Option<u64>,
        ahead: (u64, usize),
        unknown_rows: usize,
        freshness: Freshness,
        threshold: i64,
    ) -> LagLevel {
        if let Some(why) = freshness.problem("lag figures") {
            return LagLevel::Unknown(why);
        }
        if let (records @ 1.., partitions) = ahead {
            return LagLevel::Ahead { records, partitions };
        }
        let threshold = threshold.max(0) as u64;
        match total {
            None => LagLevel::Unknown(format!("{unknown_rows} partition(s) with unknown lag")),
            Some(n) if n > threshold => LagLevel::Above { threshold },
            Some(_) => LagLevel::Within,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FlowLag {
    pub flow: Flow,
    pub deployment: String,
    pub rows: Vec<LagRow>,
    /// Sum of known lags behind the source; `None` if any row is unknown.
    pub total: Option<u64>,
    /// Records MM2 committed past the source's end, and on how many
    /// partitions (see `LagRow::records`).
    pub ahead: (u64, usize),
    pub unknown_rows: usize,
    /// Age of the oldest record not yet replicated; `None` while any row
    /// behind cannot be aged (never the maximum of the rows that can).
    pub max_seconds: Option<f64>,
    /// The older of the two observations the figures rest on.
    pub at: Option<Ts>,
    pub freshness: Freshness,
    pub level: LagLevel,
    /// The totals of the last polls, oldest first (`None`: unknown then),
    /// for the sparkline.
    pub spark: Vec<Option<u64>>,
}

impl FlowLag {
    /// Every mirrored partition observed fresh at zero lag.
    pub fn drained(&self) -> Result<(), String> {
        if let Some(why) = self.freshness.problem("lag figures") {
            return Err(why);
        }
        if self.rows.is_empty() {
            return Err("no mirrored partitions observed".into());
        }
        if self.unknown_rows > 0 {
            return Err(format!("{} partition(s) with unknown lag", self.unknown_rows));
        }
        if let (n @ 1.., parts) = self.ahead {
            return Err(format!(
                "MM2's committed position is {n} records past the source's end on {parts} partition(s): \
                 an echo loop or a recreated source topic"
            ));
        }
        match self.total {
            Some(0) => Ok(()),
            Some(n) => Err(format!("{n} records behind")),
            None => Err("lag unknown".into()),
        }
    }
}

pub fn assess_lag(snap: &Snapshot, history: &History, settings: &Settings, now: Ts) -> Vec<FlowLag> {
    snap.mm2.iter().map(|d| flow_lag(d, snap, history, settings, now)).collect()
}

fn flow_lag(d: &Mm2Deployment, snap: &Snapshot, history: &History, settings: &Settings, now: Ts) -> FlowLag {
    let source = snap.cluster(d.flow.source);
    let replicated = d.replicated.as_ref().map(|rep| by_topic(&rep.value)).unwrap_or_default();
    let policy = &settings.policy;
    // kdrill's own topics (drill, canary) are written during the drill
    // itself: their lag says nothing of the applications' data.
    let own = |topic: &str| settings.classification.is_own_topic(topic, policy);
    let mirrored = |topic: &str| !policy.is_internal_topic(topic) && !policy.is_heartbeats_topic(topic) && !own(topic);

    let reads = Reads { end_at: source.topics.as_ref().map(|t| t.at), rep_at: d.replicated.as_ref().map(|r| r.at) };
    // Read on demand where history is missing: (offset asked, its record's time).
    let written: NameMap<(&str, i32), (i64, Ts)> = source
        .record_times
        .iter()
        .flat_map(|o| &o.value)
        .filter_map(|r| Some(((r.topic.as_str(), r.partition), (r.offset, r.timestamp?))))
        .collect();
    // At most a row per partition: sized once, not grown by copying.
    let partitions = source.topics.iter().flat_map(|t| &t.value).map(|t| t.partitions.len()).sum();
    let mut rows = Vec::with_capacity(partitions);
    if let Some(topics) = &source.topics {
        let source_series = &history.end_offsets[d.flow.source.index()];
        for topic in topics.value.iter().filter(|t| mirrored(&t.name)) {
            let reps = replicated.get(topic.name.as_str());
            // A topic MM2 has never touched only counts if applications use it.
            if reps.is_none() && !settings.classification.is_app_topic(&topic.name, policy) {
                continue;
            }
            let name: Arc<str> = Arc::from(topic.name.as_str());
            let series = source_series.get(&topic.name);
            for p in &topic.partitions {
                let rep = reps.and_then(|r| r.get(p.id as usize).copied().flatten());
                let history = series.and_then(|s| s.get(usize::try_from(p.id).ok()?));
                let written =
                    if written.is_empty() { None } else { written.get(&(topic.name.as_str(), p.id)).copied() };
                let aging = Aging { history, written };
                rows.push(lag_row(aging, name.clone(), p.id, p.end_offset, rep, reads, now));
            }
        }
    }

    let at = match (reads.end_at, reads.rep_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    };
    let Totals { behind, unknown_rows, ahead, unaged, max_seconds } = Totals::of(&rows);
    let total = (unknown_rows == 0).then_some(behind);
    // The oldest record behind is unknown while any row behind (or of
    // unknown lag) cannot be aged: the known ones may all be younger.
    let max_seconds = if unaged { None } else { max_seconds };
    let freshness = Freshness::of(at, now, settings.stale_after);
    FlowLag {
        flow: d.flow,
        deployment: d.name.clone(),
        rows,
        total,
        ahead,
        unknown_rows,
        max_seconds,
        at,
        freshness,
        level: LagLevel::judge(total, ahead, unknown_rows, freshness, settings.lag_alarm_records),
        spark: Vec::new(),
    }
}

/// A flow's rows summed up in one walk (a flow has a row per partition).
#[derive(Default)]
struct Totals {
    /// Records behind on the rows whose lag is known.
    behind: u64,
    unknown_rows: usize,
    /// Records and rows where MM2's position is past the source's end.
    ahead: (u64, usize),
    /// Whether a row behind (or of unknown lag) cannot be aged.
    unaged: bool,
    max_seconds: Option<f64>,
}

impl Totals {
    fn of(rows: &[LagRow]) -> Totals {
        let mut t = Totals::default();
        for r in rows {
            match r.records {
                None => t.unknown_rows += 1,
                Some(n) if n < 0 => t.ahead = (t.ahead.0 + n.unsigned_abs(), t.ahead.1 + 1),
                Some(n) => t.behind += n as u64,
            }
            match r.seconds {
                Some(s) => t.max_seconds = Some(t.max_seconds.map_or(s, |m| m.max(s))),
                None => t.unaged |= r.records.is_none_or(|n| n > 0),
            }
        }
        t
    }
}

/// MM2's replicated offsets by topic, indexed by partition (a later entry
/// for the same partition wins). Entries of a topic usually come together:
/// the map is looked up once per run of them, not once per partition.
fn by_topic(offsets: &[ReplicatedOffset]) -> NameMap<&str, Vec<Option<i64>>> {
    fn merge<'a>(map: &mut NameMap<&'a str, Vec<Option<i64>>>, topic: &'a str, slots: Vec<Option<i64>>) {
        let into = map.entry(topic).or_default();
        if into.is_empty() {
            *into = slots;
            return;
        }
        if into.len() < slots.len() {
            into.resize(slots.len(), None);
        }
        for (to, from) in into.iter_mut().zip(slots) {
            if from.is_some() {
                *to = from;
            }
        }
    }
    let mut map = NameMap::default();
    for run in offsets.chunk_by(|a, b| same_name(&a.topic, &b.topic)) {
        let mut slots = Vec::new();
        for r in run {
            let Ok(idx) = usize::try_from(r.partition) else {
                continue;
            };
            if slots.len() <= idx {
                slots.resize(idx + 1, None);
            }
            slots[idx] = Some(r.upstream_offset);
        }
        if !slots.is_empty() {
            merge(&mut map, &run[0].topic, slots);
        }
    }
    map
}

/// When the two figures of a row were read: the source's end offsets and
/// MM2's position come from different polls.
#[derive(Clone, Copy, Debug)]
struct Reads {
    end_at: Option<Ts>,
    rep_at: Option<Ts>,
}

/// What a row's lag in seconds can be told from: the history of the
/// source's end offset, or the time of a record read at an offset.
#[derive(Clone, Copy, Default)]
struct Aging<'a> {
    history: Option<&'a Series>,
    written: Option<(i64, Ts)>,
}

fn lag_row(
    aging: Aging<'_>,
    topic: Arc<str>,
    partition: i32,
    end: Option<i64>,
    rep: Option<i64>,
    reads: Reads,
    now: Ts,
) -> LagRow {
    let records = match (end, rep) {
        (Some(e), Some(r)) if e - (r + 1) < 0 => match written_between(aging.history, reads) {
            Some(may) if may >= (r + 1) - e => Some(0),
            Some(_) => Some(e - (r + 1)),
            // The race cannot be told from an anomaly yet.
            None => None,
        },
        (Some(e), Some(r)) => Some(e - (r + 1)),
        // An empty partition has nothing to replicate.
        (Some(0), None) => Some(0),
        _ => None,
    };
    let seconds = match (records, rep) {
        (Some(0), _) => Some(0.0),
        // Ahead of the source: no unreplicated record to age.
        (Some(n), _) if n < 0 => None,
        // The oldest unreplicated record (r + 1) was written when the end
        // offset passed r + 2; without that history, its own timestamp,
        // if it was read for this very position (a producer's clock ahead
        // of ours says nothing of its age).
        (Some(_), Some(r)) => aging
            .history
            .and_then(|s| s.time_reached(r + 2))
            .or(aging.written.filter(|(asked, t)| *asked == r + 1 && *t <= now).map(|(_, t)| t))
            .map(|t| age_secs(t, now)),
        _ => None,
    };
    LagRow { topic, partition, source_end: end, replicated: rep, records, seconds }
}

/// How far MM2's position may pass the end offset `end` without being
/// ahead of the source: nothing when the position was read first (it can
/// never pass an end read after it); when it was read `gap` after the end,
/// what the source may have grown meanwhile, bounded by twice its rate
/// between the last two reads of its end (so a writer may double its rate;
/// a recreated topic or an echo loop passes the end by more, source idle
/// or not). `None` when the position was read later and the end was read
/// only once (the first poll): neither caught up nor ahead.
fn written_between(history: Option<&Series>, reads: Reads) -> Option<i64> {
    let (Some(end_at), Some(rep_at)) = (reads.end_at, reads.rep_at) else {
        return Some(0);
    };
    if rep_at <= end_at {
        return Some(0);
    }
    let gap = (rep_at - end_at).num_milliseconds() as f64;
    let rate = history?.recent_rate(end_at)?;
    Some((2.0 * rate * gap).ceil() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Flow, Observed, Partition, RecordTime, ReplicatedOffset, Side, Topic};
    use chrono::Utc;

    /// `orders` on DC, every partition ending at 100, MM2's committed
    /// upstream offset per partition as `replicated`, all read at `now`.
    fn orders(now: Ts, replicated: &[i64]) -> Snapshot {
        let mut snap = Snapshot::empty(now, "dc", "dr");
        let partitions =
            (0..replicated.len() as i32).map(|id| Partition { id, leader: Some(0), end_offset: Some(100) }).collect();
        let topic = Topic {
            name: "orders".into(),
            partitions,
            replication_factor: None,
            min_insync_replicas: None,
            cleanup_policy: None,
        };
        snap.cluster_mut(Side::Dc).topics = Some(Observed::new(vec![topic], now));
        let replicated = (0..)
            .zip(replicated)
            .map(|(partition, &upstream_offset)| ReplicatedOffset {
                topic: "orders".into(),
                partition,
                upstream_offset,
            })
            .collect();
        snap.mm2 = vec![Mm2Deployment {
            replicated: Some(Observed::new(replicated, now)),
            ..Mm2Deployment::unobserved("mm2", Flow::DC_TO_DR, Side::Dr)
        }];
        snap
    }

    #[test]
    fn replicated_offsets_are_indexed_by_topic_and_partition_the_later_winning() {
        let r = |topic: &str, partition, upstream_offset| ReplicatedOffset {
            topic: topic.into(),
            partition,
            upstream_offset,
        };
        let offsets = [r("orders", 1, 10), r("payments", 0, 5), r("orders", 0, 7), r("orders", 1, 12), r("x", -1, 3)];
        let map = by_topic(&offsets);
        assert_eq!(map.get("orders"), Some(&vec![Some(7), Some(12)]));
        assert_eq!(map.get("payments"), Some(&vec![Some(5)]));
        assert_eq!(map.get("x"), None, "a negative partition is no slot");
    }

    #[test]
    fn a_committed_position_past_the_source_end_is_an_anomaly_never_zero() {
        let now = Utc::now();
        // Partition 0 replicated to its end; partition 1 committed 30 records
        // past it (an echo loop, or the source topic recreated).
        let snap = orders(now, &[99, 129]);
        let lag = assess_lag(&snap, &History::default(), &Settings::default(), now);
        let l = &lag[0];
        assert_eq!(l.rows[1].records, Some(-30), "the row keeps its sign");
        assert_eq!(l.total, Some(0), "nothing is behind");
        assert_eq!(l.ahead, (30, 1));
        assert_eq!(l.level, LagLevel::Ahead { records: 30, partitions: 1 });
        let why = l.drained().err().unwrap_or_default();
        assert!(why.contains("30 records past the source's end on 1 partition"), "{why}");
    }

    #[test]
    fn kdrills_own_topics_are_never_lag() {
        let now = Utc::now();
        let mut snap = orders(now, &[50]);
        // The canary topic, mirrored and behind: written during the drill itself.
        let mut canary = snap.cluster(Side::Dc).topics.clone().map(|t| t.value).unwrap_or_default();
        canary[0].name = "kdrill.canary".into();
        if let Some(t) = snap.cluster_mut(Side::Dc).topics.as_mut() {
            t.value.extend(canary);
        }
        if let Some(r) = snap.mm2[0].replicated.as_mut() {
            r.value.push(ReplicatedOffset { topic: "kdrill.canary".into(), partition: 0, upstream_offset: 10 });
        }
        let mut settings = Settings::default();
        let orders_only = assess_lag(&orders(now, &[50]), &History::default(), &settings, now)[0].total;
        let lag = assess_lag(&snap, &History::default(), &settings, now);
        assert_eq!(lag[0].total, orders_only.map(|n| n + 89), "a topic MM2 replicates counts");
        settings.classification.own_topics = vec!["kdrill.canary".into()];
        let lag = assess_lag(&snap, &History::default(), &settings, now);
        assert_eq!(lag[0].total, orders_only, "only orders is behind");
        assert!(lag[0].rows.iter().all(|r| &*r.topic == "orders"));
    }

    #[test]
    fn without_history_the_lag_is_aged_from_the_first_unreplicated_records_time() {
        let now = Utc::now();
        let secs = |n: i64| chrono::TimeDelta::seconds(n);
        let mut snap = orders(now, &[59, 59]);
        let lag = |snap: &Snapshot| assess_lag(snap, &History::default(), &Settings::default(), now).remove(0);
        let l = lag(&snap);
        assert_eq!(l.rows[0].seconds, None, "no history, no record read: unknown");
        assert_eq!(l.max_seconds, None, "never the oldest of the rows that can be aged");
        // Partition 0's record 60 was read; partition 1's read was for an
        // earlier position (MM2 has replicated it since): not its age.
        let read = |partition, offset| RecordTime {
            topic: "orders".into(),
            partition,
            offset,
            timestamp: Some(now - secs(42)),
        };
        snap.cluster_mut(Side::Dc).record_times = Some(Observed::new(vec![read(0, 60), read(1, 31)], now));
        let l = lag(&snap);
        assert_eq!(l.rows[0].records, Some(40));
        assert_eq!(l.rows[0].seconds.map(f64::round), Some(42.0));
        assert_eq!(l.rows[1].seconds, None);
        assert_eq!(l.max_seconds, None, "partition 1 still cannot be aged");
        snap.cluster_mut(Side::Dc).record_times = Some(Observed::new(vec![read(0, 60), read(1, 60)], now));
        assert_eq!(lag(&snap).max_seconds.map(f64::round), Some(42.0));
    }

    /// One partition of `orders` whose source ends were read at `history`
    /// (seconds before `now`, end offset) and MM2's position `rep` read
    /// `rep_secs_after` the last end read.
    fn one_partition(history: &[(i64, i64)], rep: i64, rep_secs_after: i64) -> FlowLag {
        let now = Utc::now();
        let at = |secs_ago: i64| now - chrono::TimeDelta::seconds(secs_ago);
        let (last_ago, end) = history.last().copied().unwrap_or_default();
        let mut snap = Snapshot::empty(now, "dc", "dr");
        let topic = Topic {
            name: "orders".into(),
            partitions: vec![Partition { id: 0, leader: Some(0), end_offset: Some(end) }],
            replication_factor: None,
            min_insync_replicas: None,
            cleanup_policy: None,
        };
        let mut h = History::default();
        for &(ago, e) in history {
            let mut s = Snapshot::empty(at(ago), "dc", "dr");
            let mut t = topic.clone();
            t.partitions[0].end_offset = Some(e);
            s.cluster_mut(Side::Dc).topics = Some(Observed::new(vec![t], at(ago)));
            h.ingest(&s);
        }
        snap.cluster_mut(Side::Dc).topics = Some(Observed::new(vec![topic], at(last_ago)));
        let replicated = vec![ReplicatedOffset { topic: "orders".into(), partition: 0, upstream_offset: rep }];
        snap.mm2 = vec![Mm2Deployment {
            replicated: Some(Observed::new(replicated, at(last_ago - rep_secs_after))),
            ..Mm2Deployment::unobserved("mm2", Flow::DC_TO_DR, Side::Dr)
        }];
        assess_lag(&snap, &h, &Settings::default(), now).remove(0)
    }

    #[test]
    fn a_position_read_after_the_end_may_pass_it_by_what_the_source_grew_meanwhile() {
        // The source grows 10 records a second; MM2's position, read 1 s
        // after the end offsets, is 8 records past them: caught up.
        let l = one_partition(&[(4, 1000), (3, 1010), (2, 1020)], 1027, 1);
        assert_eq!(l.rows[0].records, Some(0));
        assert_eq!(l.level, LagLevel::Within);
        // 300 records past them is no race: the source never grew that fast.
        let l = one_partition(&[(4, 1000), (3, 1010), (2, 1020)], 1319, 1);
        assert_eq!(l.ahead, (300, 1));
        // An idle source allows nothing, however late the position was read.
        let l = one_partition(&[(4, 1020), (3, 1020), (2, 1020)], 1022, 1);
        assert_eq!(l.ahead, (3, 1));
    }

    #[test]
    fn a_position_read_before_the_end_may_never_pass_it() {
        let l = one_partition(&[(4, 1000), (3, 1010), (2, 1020)], 1025, -1);
        assert_eq!(l.ahead, (6, 1), "read first, it cannot have seen records the end did not");
        // Without history to bound the race, a later read is neither.
        let l = one_partition(&[(2, 1020)], 1025, 1);
        assert_eq!((l.rows[0].records, l.ahead), (None, (0, 0)));
        assert!(matches!(l.level, LagLevel::Unknown(_)), "{:?}", l.level);
    }

    #[test]
    fn a_long_history_bounds_the_race_by_the_recent_rate() {
        // Ten minutes of a source growing 10 records a second, read every
        // second: history keeps a few points of it, and the race allows
        // twice what the source grew over the position's delay.
        let mut history: Vec<(i64, i64)> = (0..600).map(|i| (615 - i, 1_000 + 10 * i)).collect();
        let end = history.last().map_or(0, |h| h.1);
        // The other side's polls re-send the same read in their snapshots.
        history.extend(history.last().copied());
        let l = one_partition(&history, end - 1 + 10 * 5, 5);
        assert_eq!(l.rows[0].records, Some(0), "the source grew by as much meanwhile");
        let l = one_partition(&history, end - 1 + 10 * 5 * 3, 5);
        assert_eq!(l.ahead.1, 1, "three times that is ahead");
    }
}
