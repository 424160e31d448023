//! What assessment remembers between snapshots: offset series for rates and
//! time lag, lag totals for the sparkline, and when things started. A pure
//! fold: `ingest` takes a snapshot and never reads a clock.

use std::cell::Cell;
use std::collections::{HashMap, HashSet, VecDeque};

use chrono::TimeDelta;

use crate::model::{Flow, Snapshot, Ts};

/// Offsets of one partition over time: points where the value changed, plus
/// the last moment it was seen unchanged before each change, so an idle
/// hour is not mistaken for a slow trickle. Times are kept as milliseconds
/// (16 bytes a point, not 24: a console holds one series per partition).
///
/// A partition's series also notes the lowest offset asked of it, so that
/// what nothing asks can be forgotten (`forget`): a partition nobody is
/// behind on keeps its recent points, not a window of 48.
#[derive(Clone, Debug)]
pub struct Series {
    points: VecDeque<Point>,
    last: Option<Point>,
    /// The lowest offset `time_reached` was asked since the last `forget`.
    asked: Cell<i64>,
}

impl Default for Series {
    fn default() -> Self {
        Series { points: VecDeque::new(), last: None, asked: Cell::new(i64::MAX) }
    }
}

/// A moment in milliseconds since the epoch, and the value then.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Point {
    ms: i64,
    value: i64,
}

impl Point {
    fn new(at: Ts, value: i64) -> Point {
        Point { ms: at.timestamp_millis(), value }
    }

    fn at(self) -> Ts {
        Ts::from_timestamp_millis(self.ms).unwrap_or(Ts::MIN_UTC)
    }

    fn pair(self) -> (Ts, i64) {
        (self.at(), self.value)
    }
}

const SERIES_POINTS: usize = 48;

/// The newest points a partition's series keeps however old: enough to
/// tell where the end offset stood a poll ago.
const KEEP_POINTS: usize = 2;

impl Series {
    pub fn push(&mut self, at: Ts, value: i64) {
        let point = Point::new(at, value);
        match self.last {
            Some(prev) if prev.value == value => {}
            Some(prev) => {
                if self.points.back() != Some(&prev) {
                    self.points.push_back(prev);
                }
                self.points.push_back(point);
            }
            None => self.points.push_back(point),
        }
        self.last = Some(point);
        while self.points.len() > SERIES_POINTS {
            self.points.pop_front();
        }
    }

    pub fn latest(&self) -> Option<(Ts, i64)> {
        self.last.map(Point::pair)
    }

    /// Forgets the points that answer nothing: older than `keep` before the
    /// newest point (the one just before that kept, to interpolate from),
    /// and below the lowest offset asked since the last call (the one just
    /// below it kept), keeping the newest `KEEP_POINTS`. The offsets asked
    /// (MM2's and groups' positions) only move on, so the next passes ask
    /// the same or higher; one that asks lower is told "history does not
    /// reach back" (`None`), never a wrong time.
    pub fn forget(&mut self, keep: TimeDelta) {
        let asked = self.asked.replace(i64::MAX);
        let Some(newest) = self.last else { return };
        let since = newest.ms.saturating_sub(keep.num_milliseconds());
        let by_time = self.points.iter().rposition(|p| p.ms < since).unwrap_or(0);
        let by_offset = self.points.iter().rposition(|p| p.value < asked).unwrap_or(0);
        let from = by_time.min(by_offset).min(self.points.len().saturating_sub(KEEP_POINTS));
        if from > 0 {
            self.points.drain(..from);
            if self.points.capacity() > 2 * self.points.len() + 4 {
                self.points.shrink_to_fit();
            }
        }
    }

    /// The value at time `t`, interpolated; `None` before the first point.
    pub fn value_at(&self, t: Ts) -> Option<f64> {
        let t = t.timestamp_millis();
        let mut prev: Option<Point> = None;
        for &p in self.points.iter().chain(self.last.iter()) {
            if p.ms >= t {
                return match prev {
                    None if p.ms == t => Some(p.value as f64),
                    None => None,
                    Some(q) => Some(interpolate(q, p, t)),
                };
            }
            prev = Some(p);
        }
        prev.map(|p| p.value as f64)
    }

    /// When the series last crossed up to `value`, interpolated; `None` if
    /// it has not reached it, or history does not go back far enough to
    /// tell. Scans from the newest point: a partition that is behind is
    /// usually behind by moments.
    pub fn time_reached(&self, value: i64) -> Option<Ts> {
        self.asked.set(self.asked.get().min(value));
        let mut newer: Option<Point> = None;
        for &p in self.last.iter().chain(self.points.iter().rev()) {
            if p.value < value {
                let n = newer?;
                let frac = (value - p.value) as f64 / (n.value - p.value) as f64;
                let span = (n.ms - p.ms) as f64;
                return Some(p.at() + TimeDelta::milliseconds((span * frac) as i64));
            }
            newer = Some(p);
        }
        None
    }

    /// Since when the value has been what it is now (as far back as kept).
    pub fn unchanged_since(&self) -> Option<Ts> {
        let now = self.last?;
        let mut since = None;
        for &p in self.points.iter().rev() {
            if p.value != now.value {
                break;
            }
            since = Some(p);
        }
        Some(since.unwrap_or(now).at())
    }

    /// The oldest point kept.
    pub fn first(&self) -> Option<(Ts, i64)> {
        self.points.front().or(self.last.as_ref()).map(|p| p.pair())
    }
}

/// The value at `t` (milliseconds) on the line from `a` to `b`.
fn interpolate(a: Point, b: Point, t: i64) -> f64 {
    let span = (b.ms - a.ms) as f64;
    if span <= 0.0 {
        return b.value as f64;
    }
    a.value as f64 + (b.value - a.value) as f64 * ((t - a.ms) as f64 / span)
}

/// Offset series of every partition of one side, by topic then partition id.
pub type TopicSeries = HashMap<String, Vec<Series>>;

/// `f` on the series of `topic`'s partitions, looked up once per topic; the
/// name is copied only the first time the topic is seen.
fn with_topic_series<R>(map: &mut TopicSeries, topic: &str, f: impl FnOnce(&mut Vec<Series>) -> R) -> R {
    match map.get_mut(topic) {
        Some(series) => f(series),
        None => f(map.entry(topic.to_owned()).or_default()),
    }
}

fn push_partition(parts: &mut Vec<Series>, partition: i32, at: Ts, value: i64, keep: Horizon) {
    let Ok(idx) = usize::try_from(partition) else {
        return;
    };
    if parts.len() <= idx {
        parts.resize_with(idx + 1, Series::default);
    }
    parts[idx].push(at, value);
    parts[idx].forget(keep.0);
}

/// How long a partition's end-offset series keeps every point: twice the
/// age at which data goes stale. The race check of a lag row (`lag.rs`,
/// `written_between`) asks the end offset `2 × gap` before it was read,
/// where the gap between the two reads is at most `stale_after` while the
/// row is fresh enough to judge at all.
#[derive(Clone, Copy, Debug)]
pub struct Horizon(TimeDelta);

impl Horizon {
    pub fn of(stale_after: TimeDelta) -> Horizon {
        Horizon(stale_after * 2)
    }
}

impl Default for Horizon {
    fn default() -> Self {
        Horizon::of(crate::config::Settings::default().stale_after)
    }
}

fn push_total(map: &mut HashMap<String, Series>, topic: &str, at: Ts, value: i64) {
    match map.get_mut(topic) {
        Some(s) => s.push(at, value),
        None => map.entry(topic.to_owned()).or_default().push(at, value),
    }
}

/// Totals sampled over time for sparklines, newest last.
pub const SPARK_POINTS: usize = 120;

#[derive(Clone, Debug, Default)]
pub struct History {
    /// End offsets per partition, per side (index = `Side::index`): for
    /// time lag, read only for partitions that are behind.
    pub end_offsets: [TopicSeries; 2],
    /// Sum of a topic's end offsets, per side: for produce rates, so a pass
    /// costs a lookup per topic, not per partition.
    pub topic_totals: [HashMap<String, Series>; 2],
    /// Sum of each consumer group's committed offsets, per side: a group
    /// whose commits stop while it is behind is stalled.
    pub group_commits: [HashMap<String, Series>; 2],
    /// Sum of MM2's replicated upstream offsets per upstream topic, per flow.
    pub replicated_totals: HashMap<Flow, HashMap<String, Series>>,
    /// Total replication lag per flow, one sample per snapshot (None = unknown).
    pub lag_totals: HashMap<Flow, VecDeque<Option<u64>>>,
    /// When each flow was first seen running in its current run, and
    /// whether its source side had apps active at that moment.
    pub flow_started: HashMap<Flow, FlowStart>,
    /// When each rule violation was first seen in its current streak.
    pub violation_since: HashMap<String, Ts>,
    /// Stamp of the newest snapshot ingested.
    pub last_snapshot: Option<Ts>,
    /// How far back partition series are kept in full.
    pub horizon: Horizon,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowStart {
    pub at: Ts,
    /// Whether apps were observed active on the flow's source when it started.
    pub apps_active_on_source: Option<bool>,
}

impl History {
    /// Folds the offsets of a snapshot in. Only observations newer than what
    /// is kept are added, so re-sent snapshots change nothing.
    pub fn ingest(&mut self, snap: &Snapshot) {
        let horizon = self.horizon;
        for cluster in &snap.clusters {
            let Some(topics) = &cluster.topics else {
                continue;
            };
            let side = cluster.side.index();
            for topic in &topics.value {
                let total = with_topic_series(&mut self.end_offsets[side], &topic.name, |series| {
                    let mut total = Some(0);
                    for p in &topic.partitions {
                        match p.end_offset {
                            Some(end) => {
                                push_partition(series, p.id, topics.at, end, horizon);
                                total = total.map(|t| t + end);
                            }
                            None => total = None,
                        }
                    }
                    total
                });
                // A partly unknown total would look like a drop: skip it.
                if let Some(total) = total {
                    push_total(&mut self.topic_totals[side], &topic.name, topics.at, total);
                }
            }
        }
        for cluster in &snap.clusters {
            let Some(groups) = &cluster.groups else { continue };
            let series = &mut self.group_commits[cluster.side.index()];
            // Groups gone from the listing are forgotten: memory stays bounded.
            let listed: HashSet<&str> = groups.value.iter().map(|g| g.id.as_str()).collect();
            series.retain(|id, _| listed.contains(id.as_str()));
            for g in &groups.value {
                if let Some(committed) = &g.committed {
                    push_total(series, &g.id, groups.at, committed.iter().map(|c| c.offset).sum());
                }
            }
        }
        for dep in &snap.mm2 {
            let Some(rep) = &dep.replicated else { continue };
            let mut totals: HashMap<&str, i64> = HashMap::new();
            for r in &rep.value {
                *totals.entry(&*r.topic).or_default() += r.upstream_offset;
            }
            let series = self.replicated_totals.entry(dep.flow).or_default();
            for (topic, total) in totals {
                push_total(series, topic, rep.at, total);
            }
        }
        self.last_snapshot = Some(snap.taken_at);
    }

    /// Since when none of `flow`'s replicated totals has moved.
    pub fn progress_unchanged_since(&self, flow: Flow) -> Option<Ts> {
        self.replicated_totals.get(&flow)?.values().filter_map(Series::unchanged_since).max()
    }

    pub fn record_lag_total(&mut self, flow: Flow, total: Option<u64>) {
        let ring = self.lag_totals.entry(flow).or_default();
        ring.push_back(total);
        while ring.len() > SPARK_POINTS {
            ring.pop_front();
        }
    }

    pub fn end_series(&self, side: crate::model::Side, topic: &str, partition: i32) -> Option<&Series> {
        self.end_offsets[side.index()].get(topic)?.get(usize::try_from(partition).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn t(s: i64) -> Ts {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap_or_default()
    }

    #[test]
    fn idle_then_burst_is_not_a_trickle() {
        let mut s = Series::default();
        s.push(t(0), 100);
        for i in 1..=60 {
            s.push(t(i), 100);
        }
        s.push(t(61), 200);
        // Offset 150 was written between 60 s and 61 s, not half an hour ago.
        let reached = s.time_reached(150).map(|ts| (ts - t(0)).num_milliseconds());
        assert_eq!(reached, Some(60_500));
        assert_eq!(s.value_at(t(30)), Some(100.0));
    }

    #[test]
    fn time_reached_unknown_before_history() {
        let mut s = Series::default();
        s.push(t(0), 500);
        s.push(t(10), 600);
        assert_eq!(s.time_reached(400), None, "history starts above the value");
        assert_eq!(s.time_reached(700), None, "not reached yet");
        assert_eq!(s.time_reached(550).map(|ts| (ts - t(0)).num_seconds()), Some(5));
    }

    #[test]
    fn series_keeps_a_bounded_number_of_points() {
        let mut s = Series::default();
        for i in 0..1000 {
            s.push(t(i), i);
        }
        assert!(s.points.len() <= SERIES_POINTS);
        assert_eq!(s.latest(), Some((t(999), 999)));
    }

    /// A partition written 10 records a second for 40 s, read every second,
    /// forgetting what is older than 10 s and not asked after every read.
    fn written(asked: Option<i64>) -> Series {
        let mut s = Series::default();
        for i in 0..=40 {
            if let Some(offset) = asked {
                s.time_reached(offset);
            }
            s.push(t(i), 1_000 + 10 * i);
            s.forget(TimeDelta::seconds(10));
        }
        s
    }

    #[test]
    fn forgetting_keeps_the_horizon_and_what_was_asked() {
        // Nothing asked: the last 10 s, and the point just before them.
        let s = written(None);
        assert_eq!(s.points.len(), 12, "{:?}", s.points);
        assert_eq!(s.latest(), Some((t(40), 1_400)));
        assert_eq!(s.value_at(t(30)), Some(1_300.0), "inside the horizon");
        assert_eq!(s.value_at(t(29) + TimeDelta::milliseconds(500)), Some(1_295.0), "interpolated at its edge");
        assert_eq!(s.value_at(t(20)), None, "beyond it: unknown, never a wrong value");
        // An offset asked all along is answered however old.
        let mut s = written(Some(1_055));
        assert_eq!(s.time_reached(1_055).map(|ts| (ts - t(0)).num_milliseconds()), Some(5_500));
        assert!(s.points.len() < 40, "{} points kept", s.points.len());
        // Once no longer asked, it is forgotten at the next read.
        s.push(t(41), 1_410);
        s.forget(TimeDelta::seconds(10));
        s.push(t(42), 1_420);
        s.forget(TimeDelta::seconds(10));
        assert_eq!(s.time_reached(1_055), None);
        assert_eq!(s.time_reached(1_405).map(|ts| (ts - t(0)).num_milliseconds()), Some(40_500));
    }

    #[test]
    fn a_quiet_partition_keeps_its_newest_points() {
        let mut s = Series::default();
        s.push(t(0), 5);
        s.push(t(100), 6);
        for i in 101..=200 {
            s.push(t(i), 6);
            s.forget(TimeDelta::seconds(10));
        }
        // When it last moved is still known, long after the horizon.
        assert_eq!(s.time_reached(6).map(|ts| (ts - t(0)).num_seconds()), Some(100));
        assert_eq!(s.unchanged_since(), Some(t(100)));
    }
}
