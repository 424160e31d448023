//! What assessment remembers between snapshots: offset series for rates and
//! time lag, lag totals for the sparkline, and when things started. A pure
//! fold: `ingest` takes a snapshot and never reads a clock.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::TimeDelta;
use smallvec::SmallVec;

use crate::model::{Cluster, Flow, Group, Mm2Deployment, Snapshot, Ts};

use super::groups::{NameMap, same_name};

/// Offsets of one partition over time: points where the value changed, plus
/// the last moment it was seen unchanged before each change, so an idle
/// hour is not mistaken for a slow trickle; the newest point is the latest
/// observation. Times are kept as milliseconds (16 bytes a point, not 24),
/// and two points live inline: a console holds a series per partition, and
/// a quiet partition's is its first and latest observation.
///
/// A partition's series also notes the lowest offset asked of it, so that
/// what nothing asks can be forgotten (`forget`): a partition nobody is
/// behind on keeps its recent points, not a window of 48.
#[derive(Clone, Debug)]
pub struct Series {
    points: SmallVec<[Point; 2]>,
    /// The lowest offset `time_reached` was asked since the last `forget`.
    asked: Asked,
    /// Where thinning stands (`thin`).
    door: Door,
}

impl Default for Series {
    fn default() -> Self {
        Series { points: SmallVec::new(), asked: Asked::nothing(), door: Door::closed() }
    }
}

/// The lowest offset asked of a series: parts of one assessment pass run
/// on two threads and may ask the same series at once.
#[derive(Debug)]
struct Asked(AtomicI64);

impl Asked {
    fn nothing() -> Asked {
        Asked(AtomicI64::new(i64::MAX))
    }

    fn note(&self, value: i64) {
        self.0.fetch_min(value, Ordering::Relaxed);
    }

    /// The lowest offset asked, forgotten.
    fn take(&mut self) -> i64 {
        std::mem::replace(self.0.get_mut(), i64::MAX)
    }
}

impl Clone for Asked {
    fn clone(&self) -> Asked {
        Asked(AtomicI64::new(self.0.load(Ordering::Relaxed)))
    }
}

/// The segment a partition's series is being thinned along: from the
/// point observed at `anchor_ms`, the slopes (milliseconds per record) a
/// line may take and still pass within `THIN_TOLERANCE_MS` of every point
/// dropped after it. Each drop narrows them, so however many points a
/// segment swallows, each stays within the tolerance of the final line.
#[derive(Clone, Copy, Debug)]
struct Door {
    anchor_ms: i64,
    lo: f32,
    hi: f32,
}

impl Door {
    /// Matches no point: the next decision starts a segment.
    fn closed() -> Door {
        Door { anchor_ms: i64::MIN, lo: f32::NEG_INFINITY, hi: f32::INFINITY }
    }

    fn open(anchor: Point) -> Door {
        Door { anchor_ms: anchor.ms, ..Door::closed() }
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
/// How far past `SERIES_POINTS` a series grows before its oldest are dropped.
const SERIES_SLACK: usize = 16;

/// The newest points a partition's series keeps however old: enough to
/// tell where the end offset stood a poll ago, and when it last changed.
const KEEP_POINTS: usize = 3;

/// A partition's series longer than this is thinned (`thin`): a partition
/// far behind keeps its points back to where MM2 or a group stands, and at
/// 100,000 partitions 48 points each would be ≈ 77 MB a side. Up to here
/// every point is kept, so a partition a few polls behind is aged exactly
/// as read; past it the series stays in the 8 points' room it grew to.
const THIN_ABOVE: usize = 7;

/// How far in time a thinned series may place a crossing from where its
/// full series would: a quarter of a poll at the default 2 s interval.
const THIN_TOLERANCE_MS: f64 = 500.0;

impl Series {
    /// Adds an observation; one no newer than the latest is ignored (a
    /// side's data is re-sent in every snapshot until it is read again).
    /// Whether it added a point (not only moved the latest on).
    pub fn push(&mut self, at: Ts, value: i64) -> bool {
        let point = Point::new(at, value);
        if self.points.last().is_some_and(|last| last.ms >= point.ms) {
            return false;
        }
        let n = self.points.len();
        // Unchanged since a point that already marks it unchanged: that mark moves on.
        let marks_unchanged = n >= 2 && self.points[n - 2].value == value && self.points[n - 1].value == value;
        match self.points.last_mut() {
            Some(last) if marks_unchanged => *last = point,
            _ => self.points.push(point),
        }
        // Trimmed a few points at a time: a series at its cap (a busy
        // topic's total) would otherwise shift every point on every push.
        if self.points.len() >= SERIES_POINTS + SERIES_SLACK {
            let over = self.points.len() - SERIES_POINTS;
            self.points.drain(..over);
        }
        !marks_unchanged
    }

    /// A partition's end offset read: added, thinned, and what nothing
    /// asked forgotten.
    pub fn observe(&mut self, at: Ts, value: i64) {
        if self.push(at, value) {
            self.thin();
        }
        self.forget();
    }

    pub fn latest(&self) -> Option<(Ts, i64)> {
        self.points.last().map(|p| p.pair())
    }

    /// Forgets the points that answer nothing: those below the lowest
    /// offset asked since the last call (the one just below it kept),
    /// keeping the newest `KEEP_POINTS`. The offsets asked (MM2's and
    /// groups' positions) only move on, so the next passes ask the same or
    /// higher; one that asks lower is told "history does not reach back"
    /// (`None`), never a wrong time.
    pub fn forget(&mut self) {
        let asked = self.asked.take();
        let by_offset = self.points.iter().rposition(|p| p.value < asked).unwrap_or(0);
        let from = by_offset.min(self.points.len().saturating_sub(KEEP_POINTS));
        if from > 0 {
            self.points.drain(..from);
        }
        if self.points.capacity() > 2 * self.points.len() + 4 {
            self.points.shrink_to_fit();
        }
    }

    /// Decides, once per point added, whether the point before the one
    /// that just left the newest `KEEP_POINTS` can go: it can when the
    /// line from the segment's anchor to the point after it passes within
    /// `THIN_TOLERANCE_MS` of it and of every point the segment dropped
    /// before (`Door`); otherwise it anchors the next segment. A partition
    /// written at a steady rate keeps a handful of points however far
    /// behind its readers are; a burst after an idle spell keeps both
    /// knees; where offsets went down (a recreated topic) the points on
    /// either side of the drop stay.
    fn thin(&mut self) {
        let n = self.points.len();
        if n <= THIN_ABOVE {
            return;
        }
        let (a, p, next) = (n - KEEP_POINTS - 3, n - KEEP_POINTS - 2, n - KEEP_POINTS - 1);
        let (anchor, point, after) = (self.points[a], self.points[p], self.points[next]);
        if self.door.anchor_ms != anchor.ms {
            // A new segment, or its anchor forgotten or trimmed away.
            self.door = Door::open(anchor);
        }
        // Reckoned in f64 (an f32 holds a day's milliseconds to 8 ms) and
        // kept in f32 rounded inwards, so the window only ever narrows.
        let (dv, dt) = ((point.value - anchor.value) as f64, (point.ms - anchor.ms) as f64);
        let monotone = anchor.value <= point.value && point.value <= after.value && anchor.value < after.value;
        let (door_lo, door_hi) = (f64::from(self.door.lo), f64::from(self.door.hi));
        // The slopes that pass within the tolerance of `point`; a point
        // level with the anchor is passed at the anchor's time whatever the slope.
        let (lo, hi) = match dv > 0.0 {
            true => (door_lo.max((dt - THIN_TOLERANCE_MS) / dv), door_hi.min((dt + THIN_TOLERANCE_MS) / dv)),
            false if dt <= THIN_TOLERANCE_MS => (door_lo, door_hi),
            false => (f64::INFINITY, f64::NEG_INFINITY),
        };
        let slope = (after.ms - anchor.ms) as f64 / (after.value - anchor.value) as f64;
        if monotone && lo <= slope && slope <= hi {
            self.points.remove(p);
            self.door.lo = f32_at_least(lo);
            self.door.hi = f32_at_most(hi);
        } else {
            self.door = Door::open(point);
        }
    }

    /// The value at time `t`, interpolated; `None` before the first point.
    pub fn value_at(&self, t: Ts) -> Option<f64> {
        let t = t.timestamp_millis();
        let mut prev: Option<Point> = None;
        for &p in &self.points {
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

    /// Growth per millisecond between the last two points at or before `t`
    /// (the last two reads, or the last change and the read just before
    /// it); `None` with fewer than two.
    pub fn recent_rate(&self, t: Ts) -> Option<f64> {
        let t = t.timestamp_millis();
        let mut upto = self.points.iter().rev().skip_while(|p| p.ms > t);
        let (newer, older) = (upto.next()?, upto.next()?);
        let span = newer.ms - older.ms;
        (span > 0).then(|| ((newer.value - older.value) as f64 / span as f64).max(0.0))
    }

    /// When the series last crossed up to `value`, interpolated; `None` if
    /// it has not reached it, or history does not go back far enough to
    /// tell. Scans from the newest point: a partition that is behind is
    /// usually behind by moments.
    pub fn time_reached(&self, value: i64) -> Option<Ts> {
        self.asked.note(value);
        let mut newer: Option<Point> = None;
        for &p in self.points.iter().rev() {
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
        let now = self.points.last()?;
        let run = self.points.iter().rev().take_while(|p| p.value == now.value);
        run.last().map(|p| p.at())
    }

    /// The oldest point kept.
    pub fn first(&self) -> Option<(Ts, i64)> {
        self.points.first().map(|p| p.pair())
    }
}

/// The smallest `f32` not below `x`.
fn f32_at_least(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x { f.next_up() } else { f }
}

/// The largest `f32` not above `x`.
fn f32_at_most(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x { f.next_down() } else { f }
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
pub type TopicSeries = NameMap<String, Vec<Series>>;

/// `f` on the series of `topic`'s partitions, looked up once per topic; the
/// name is copied only the first time the topic is seen.
fn with_topic_series<R>(map: &mut TopicSeries, topic: &str, f: impl FnOnce(&mut Vec<Series>) -> R) -> R {
    match map.get_mut(topic) {
        Some(series) => f(series),
        None => f(map.entry(topic.to_owned()).or_default()),
    }
}

fn push_partition(parts: &mut Vec<Series>, partition: i32, at: Ts, value: i64) {
    let Ok(idx) = usize::try_from(partition) else {
        return;
    };
    if parts.len() <= idx {
        parts.resize_with(idx + 1, Series::default);
    }
    parts[idx].observe(at, value);
}

fn push_total(map: &mut NameMap<String, Series>, topic: &str, at: Ts, value: i64) {
    let series = match map.get_mut(topic) {
        Some(s) => s,
        None => map.entry(topic.to_owned()).or_default(),
    };
    series.push(at, value);
}

/// One cluster's end offsets and topic totals, into its side's series.
fn ingest_ends(cluster: &Cluster, end_offsets: &mut TopicSeries, topic_totals: &mut NameMap<String, Series>) {
    if let Some(topics) = &cluster.topics {
        for topic in &topics.value {
            let total = with_topic_series(end_offsets, &topic.name, |series| {
                let mut total = Some(0);
                for p in &topic.partitions {
                    match p.end_offset {
                        Some(end) => {
                            push_partition(series, p.id, topics.at, end);
                            total = total.map(|t| t + end);
                        }
                        None => total = None,
                    }
                }
                total
            });
            // A partly unknown total would look like a drop: skip it.
            if let Some(total) = total {
                push_total(topic_totals, &topic.name, topics.at, total);
            }
        }
    }
}

/// Each consumer group's committed-offset total over time, sorted by group
/// id. A snapshot lists its groups sorted by id (the collector sorts them),
/// so folding one in walks both lists side by side, with no hashing; a
/// group gone from the listing is forgotten, so memory stays bounded.
#[derive(Clone, Debug, Default)]
pub struct GroupCommits(Vec<(String, Series)>);

impl GroupCommits {
    pub fn get(&self, id: &str) -> Option<&Series> {
        let found = self.0.binary_search_by(|(g, _)| g.as_str().cmp(id));
        found.ok().map(|i| &self.0[i].1)
    }

    /// One cluster's group commits, folded in.
    fn ingest(&mut self, cluster: &Cluster) {
        let Some(groups) = &cluster.groups else { return };
        let mut listed: Vec<&Group> = groups.value.iter().collect();
        if !listed.is_sorted_by(|a, b| a.id <= b.id) {
            listed.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        }
        let mut before = std::mem::take(&mut self.0).into_iter().peekable();
        let mut kept = Vec::with_capacity(listed.len());
        for g in listed {
            // Each id compared once: a listing holds thousands.
            let known = loop {
                let Some((id, _)) = before.peek() else { break None };
                match id.as_str().cmp(&g.id) {
                    std::cmp::Ordering::Less => drop(before.next()),
                    std::cmp::Ordering::Equal => break before.next(),
                    std::cmp::Ordering::Greater => break None,
                }
            };
            let Some(committed) = &g.committed else {
                kept.extend(known);
                continue;
            };
            let (id, mut series) = known.unwrap_or_else(|| (g.id.clone(), Series::default()));
            series.push(groups.at, committed.iter().map(|c| c.offset).sum());
            kept.push((id, series));
        }
        self.0 = kept;
    }
}

/// Each MM2 deployment's replicated upstream offsets, summed per topic.
fn ingest_progress(deployments: &[Mm2Deployment], replicated_totals: &mut HashMap<Flow, NameMap<String, Series>>) {
    for dep in deployments {
        let Some(rep) = &dep.replicated else { continue };
        // Offsets of a topic usually come together: the map is touched
        // once per run of them, not once per partition.
        let mut totals: NameMap<&str, i64> = NameMap::default();
        for run in rep.value.chunk_by(|a, b| same_name(&a.topic, &b.topic)) {
            *totals.entry(&run[0].topic).or_default() += run.iter().map(|r| r.upstream_offset).sum::<i64>();
        }
        let series = replicated_totals.entry(dep.flow).or_default();
        for (topic, total) in totals {
            push_total(series, topic, rep.at, total);
        }
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
    pub topic_totals: [NameMap<String, Series>; 2],
    /// Sum of each consumer group's committed offsets, per side: a group
    /// whose commits stop while it is behind is stalled.
    pub group_commits: [GroupCommits; 2],
    /// Sum of MM2's replicated upstream offsets per upstream topic, per flow.
    pub replicated_totals: HashMap<Flow, NameMap<String, Series>>,
    /// Total replication lag per flow, one sample per snapshot (None = unknown).
    pub lag_totals: HashMap<Flow, VecDeque<Option<u64>>>,
    /// When each flow was first seen running in its current run, and
    /// whether its source side had apps active at that moment.
    pub flow_started: HashMap<Flow, FlowStart>,
    /// When each rule violation was first seen in its current streak.
    pub violation_since: HashMap<String, Ts>,
    /// Stamp of the newest snapshot ingested.
    pub last_snapshot: Option<Ts>,
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
        // The two sides' series are apart: DC's end offsets are folded in
        // beside DR's, the groups' commits and MM2's progress.
        let [dc_ends, dr_ends] = &mut self.end_offsets;
        let [dc_totals, dr_totals] = &mut self.topic_totals;
        let [dc_commits, dr_commits] = &mut self.group_commits;
        let replicated = &mut self.replicated_totals;
        let [dc, dr] = &snap.clusters;
        super::split::join(
            || {
                ingest_ends(dr, dr_ends, dr_totals);
                dc_commits.ingest(dc);
                dr_commits.ingest(dr);
                ingest_progress(&snap.mm2, replicated);
            },
            || ingest_ends(dc, dc_ends, dc_totals),
        );
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
    fn group_commits_follow_a_listing_in_any_order_and_forget_groups_gone() {
        use crate::assess::groups::tests::group;
        use crate::model::{Observed, Side};
        let listing = |at: Ts, groups: Vec<Group>| {
            let mut cluster = Cluster::new(Side::Dc, "dc");
            cluster.groups = Some(Observed::new(groups, at));
            cluster
        };
        let mut commits = GroupCommits::default();
        commits.ingest(&listing(t(0), vec![group("b", Some(5)), group("a", Some(1)), group("c", Some(7))]));
        let unread = Group { committed: None, ..group("c", None) };
        commits.ingest(&listing(t(10), vec![unread, group("a", Some(3)), group("d", Some(2))]));
        let latest = |id: &str| commits.get(id).and_then(Series::latest);
        assert_eq!(latest("a"), Some((t(10), 3)));
        assert_eq!(commits.get("a").and_then(Series::first), Some((t(0), 1)));
        assert_eq!(latest("b"), None, "a group gone from the listing is forgotten");
        assert_eq!(latest("c"), Some((t(0), 7)), "kept while listed, though its offsets were not read");
        assert_eq!(latest("d"), Some((t(10), 2)));
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
        assert!(s.points.len() <= SERIES_POINTS + SERIES_SLACK);
        assert_eq!(s.latest(), Some((t(999), 999)));
    }

    /// A partition written 10 records a second for 40 s, read every second,
    /// forgetting what was not asked after every read.
    fn written(asked: Option<i64>) -> Series {
        let mut s = Series::default();
        for i in 0..=40 {
            if let Some(offset) = asked {
                s.time_reached(offset);
            }
            s.observe(t(i), 1_000 + 10 * i);
        }
        s
    }

    #[test]
    fn forgetting_keeps_what_was_asked_and_the_newest_points() {
        // Nothing asked: the newest points, enough for the recent rate.
        let s = written(None);
        assert_eq!(s.points.len(), KEEP_POINTS, "{:?}", s.points);
        assert_eq!(s.latest(), Some((t(40), 1_400)));
        assert_eq!(s.recent_rate(t(40)), Some(0.01), "10 records a second");
        assert_eq!(s.time_reached(1_395).map(|ts| (ts - t(0)).num_milliseconds()), Some(39_500), "a poll ago");
        assert_eq!(s.time_reached(1_200), None, "further back: unknown, never a wrong time");
        // An offset asked all along is answered however old.
        let mut s = written(Some(1_055));
        assert_eq!(s.time_reached(1_055).map(|ts| (ts - t(0)).num_milliseconds()), Some(5_500));
        assert!(s.points.len() < 40, "{} points kept", s.points.len());
        // Once no longer asked, it is forgotten at the next read.
        s.observe(t(41), 1_410);
        s.observe(t(42), 1_420);
        assert_eq!(s.time_reached(1_055), None);
        assert_eq!(s.time_reached(1_405).map(|ts| (ts - t(0)).num_milliseconds()), Some(40_500));
    }

    #[test]
    fn a_partition_far_behind_keeps_few_points_and_the_same_answers() {
        // Written steadily for 40 s while its reader stays at 1_055.
        let s = written(Some(1_055));
        assert!(s.points.len() <= THIN_ABOVE, "{:?}", s.points);
        for (offset, ms) in [(1_055, 5_500), (1_200, 20_000), (1_395, 39_500)] {
            assert_eq!(s.time_reached(offset).map(|ts| (ts - t(0)).num_milliseconds()), Some(ms), "offset {offset}");
        }
    }

    /// Reads `(ms, end offset)` into a series as a partition's are read,
    /// its reader staying at the first offset, and beside it the same
    /// points kept whole; checks every crossing of the thinned series
    /// against the whole one and returns how many points it kept.
    fn thinned_like_whole(reads: &[(i64, i64)]) -> usize {
        let reader = reads.first().map_or(0, |&(_, v)| v + 1);
        thinned_like_whole_read_at(reads, |_| reader)
    }

    /// `thinned_like_whole`, its reader at `reader(i)` before the i-th read
    /// (never moving back); crossings are checked from where it ends.
    fn thinned_like_whole_read_at(reads: &[(i64, i64)], reader: impl Fn(usize) -> i64) -> usize {
        let (mut thinned, mut whole) = (Series::default(), Vec::new());
        for (i, &(ms, end)) in reads.iter().enumerate() {
            let at = Ts::from_timestamp_millis(ms).unwrap_or_default();
            thinned.time_reached(reader(i));
            thinned.observe(at, end);
            whole.push(Point::new(at, end));
        }
        let reader = reader(reads.len());
        let whole = Series { points: whole.into_iter().collect(), ..Series::default() };
        let last = whole.latest().map_or(0, |(_, v)| v);
        let step = ((last - reader) / 5_000).max(1) as usize;
        for offset in (reader..=last).step_by(step) {
            let (a, b) = (thinned.time_reached(offset), whole.time_reached(offset));
            let off = match (a, b) {
                (Some(a), Some(b)) => (a - b).num_milliseconds().abs(),
                _ => panic!("offset {offset}: thinned {a:?}, whole {b:?}"),
            };
            assert!(off as f64 <= THIN_TOLERANCE_MS + 1.0, "offset {offset} moved {off} ms: {:?}", thinned.points);
        }
        assert_eq!(thinned.latest(), whole.latest());
        assert_eq!(thinned.recent_rate(Ts::MAX_UTC), whole.recent_rate(Ts::MAX_UTC));
        assert_eq!(thinned.unchanged_since(), whole.unchanged_since());
        thinned.points.len()
    }

    /// Uneven reads: bursts, idle spells, a steady trickle.
    fn uneven_reads(seed: u64, count: usize) -> Vec<(i64, i64)> {
        let (mut ms, mut end, mut seed) = (0_i64, 10_000_i64, seed);
        (0..count)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let r = seed >> 33;
                ms += 500 + (r % 3_000) as i64;
                end += match r % 4 {
                    0 => 0,
                    1 => (r % 7) as i64,
                    2 => 50 + (r % 500) as i64,
                    _ => 5,
                };
                (ms, end)
            })
            .collect()
    }

    #[test]
    fn thinning_moves_no_crossing_by_more_than_its_tolerance() {
        // Points a later pass would have dropped against a line that
        // earlier drops were never checked against.
        let mut reads = vec![(0, 0), (1_400, 100), (2_000, 200), (2_300, 300)];
        reads.extend((0..6).map(|k| (4_000 + 1_000 * k, 400 + 100 * k)));
        thinned_like_whole(&reads);
        // Two minutes of a rate rising from 100 to 130 records a second.
        let mut end = 1_000_000;
        let ramp: Vec<(i64, i64)> = (0..120)
            .map(|s| {
                end += 100 + s / 4;
                (1_000 * s, end)
            })
            .collect();
        assert!(thinned_like_whole(&ramp) < 40, "a smooth ramp keeps few points");
        // Bursts, idle spells and uneven reads.
        for seed in 1..=40_u64 {
            thinned_like_whole(&uneven_reads(seed, SERIES_POINTS));
        }
        // Two and a half days of a slow, steady writer.
        let slow: Vec<(i64, i64)> = (0..60).map(|k| (k * 3_600_000 + k % 3 * 150, 5_000_000 + 7 * k)).collect();
        thinned_like_whole(&slow);
        // A record 42 hours after the one before, 511 ms off the line to the
        // next: in f32 (16 ms steps past 37 hours) it would pass for 500 ms.
        let (a, t) = (10_000, 150_000_009);
        let mut days = vec![(0, 100), (5_000, 101), (a, 1_000), (a + t, 1_001), (a + 2 * t + 2 * 511, 1_002)];
        days.extend((1..=4).map(|k| (a + 2 * t + 2 * 511 + 1_000 * k, 1_002 + k)));
        thinned_like_whole(&days);
    }

    #[test]
    fn a_reader_moving_on_meanwhile_finds_the_same_crossings_ahead_of_it() {
        for seed in 1..=40_u64 {
            let reads = uneven_reads(seed, 4 * SERIES_POINTS);
            // The reader follows 30 reads behind: what it passed is
            // forgotten while the rest is being thinned.
            let reader = |i: usize| reads.get(i.saturating_sub(30)).map_or(0, |&(_, end)| end);
            thinned_like_whole_read_at(&reads, reader);
        }
    }

    #[test]
    fn offsets_that_went_down_keep_the_drop() {
        // A topic deleted and created again between two reads 400 ms apart.
        let mut reads: Vec<(i64, i64)> = (0..20).map(|k| (400 * k, 1_000 + 40 * k)).collect();
        reads.extend((20..40).map(|k| (400 * k, 40 * (k - 20))));
        let mut s = Series::default();
        for &(ms, end) in &reads {
            s.time_reached(0);
            s.observe(Ts::from_timestamp_millis(ms).unwrap_or_default(), end);
        }
        let kept: Vec<(i64, i64)> = s.points.iter().map(|p| (p.ms, p.value)).collect();
        assert!(kept.contains(&(7_600, 1_760)) && kept.contains(&(8_000, 0)), "{kept:?}");
        assert!(kept.len() < reads.len() / 2, "the ramps either side are thinned: {kept:?}");
    }

    #[test]
    fn an_observation_sent_again_adds_nothing() {
        let mut s = Series::default();
        s.push(t(0), 100);
        s.push(t(1), 110);
        s.push(t(1), 110);
        s.push(t(1), 120);
        assert_eq!(s.points.len(), 2);
        assert_eq!(s.recent_rate(t(1)), Some(0.01), "the rate between two reads, never over none");
    }

    #[test]
    fn a_quiet_partition_keeps_when_it_last_moved() {
        let mut s = Series::default();
        s.push(t(0), 5);
        s.push(t(100), 6);
        for i in 101..=200 {
            s.observe(t(i), 6);
        }
        assert_eq!(s.time_reached(6).map(|ts| (ts - t(0)).num_seconds()), Some(100));
        assert_eq!(s.unchanged_since(), Some(t(100)));
        assert_eq!(s.recent_rate(t(200)), Some(0.0), "idle since");
        // Two points inline: a quiet series allocates nothing of its own.
        let mut quiet = Series::default();
        for i in 0..100 {
            quiet.observe(t(i), 7);
        }
        assert!(!quiet.points.spilled(), "{:?}", quiet.points);
        assert_eq!(quiet.unchanged_since(), Some(t(0)));
    }
}
