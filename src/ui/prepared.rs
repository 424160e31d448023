//! View data prepared once per assessment (or per sort/filter change), never
//! per frame: which lag rows, topics and groups are shown and in what order,
//! the sparkline samples, MM2 worker totals. Panes index into the shown
//! assessment with these and format only the rows that are visible.

use std::cmp::Ordering;
use std::collections::HashMap;

use regex::{Regex, RegexBuilder};

use crate::assess::{Assessment, GroupClass, GroupView, LagRow};
use crate::model::Snapshot;

/// A `/` filter: a case-insensitive regex; a leading `!` inverts it.
#[derive(Clone, Debug)]
pub struct Filter {
    pub text: String,
    regex: Regex,
    invert: bool,
}

impl Filter {
    /// `Ok(None)` for an empty filter; `Err` says what is wrong with the regex.
    pub fn parse(text: &str) -> Result<Option<Filter>, String> {
        let (invert, pattern) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if pattern.is_empty() {
            return Ok(None);
        }
        let regex = RegexBuilder::new(pattern)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("bad regex: {}", last_line(&e.to_string())))?;
        Ok(Some(Filter { text: text.to_owned(), regex, invert }))
    }

    pub fn matches(&self, s: &str) -> bool {
        self.regex.is_match(s) != self.invert
    }

    fn matches_group(&self, g: &GroupView) -> bool {
        let hit = self.regex.is_match(&g.id)
            || g.clients.iter().any(|c| self.regex.is_match(c))
            || g.hosts.iter().any(|h| self.regex.is_match(h));
        hit != self.invert
    }
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).map_or(s, str::trim)
}

/// The lag table's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LagSort {
    /// Most records behind first (unknown first of all).
    #[default]
    Records,
    /// Oldest unreplicated record first (unknown first of all).
    Seconds,
    /// By topic, then partition.
    TopicPartition,
}

impl LagSort {
    pub fn next(self) -> LagSort {
        match self {
            LagSort::Records => LagSort::Seconds,
            LagSort::Seconds => LagSort::TopicPartition,
            LagSort::TopicPartition => LagSort::Records,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LagSort::Records => "records",
            LagSort::Seconds => "seconds",
            LagSort::TopicPartition => "topic/partition",
        }
    }
}

/// How the lag table is asked to look.
#[derive(Clone, Debug, Default)]
pub struct LagQuery {
    pub sort: LagSort,
    pub reversed: bool,
    /// Index into `Assessment::lag` of the flow shown.
    pub flow: usize,
    /// Set once the operator picks a flow (`f`); until then the table
    /// follows the flow whose MM2 runs, so a switchover moves it along.
    pub pinned: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prepared {
    /// Index into `Assessment::lag` of the flow shown, if any flow exists.
    pub lag_flow: Option<usize>,
    /// Indices into that flow's rows, filtered and sorted.
    pub lag_rows: Vec<usize>,
    /// Lag totals of the shown flow, oldest first (None = unknown then).
    pub spark: Vec<Option<u64>>,
    /// Per side: indices of application topics, busiest first.
    pub topics: [Vec<usize>; 2],
    /// Per side: indices of groups, applications first, then furthest behind.
    pub groups: [Vec<usize>; 2],
    /// Per MM2 view: total workers (alive or not) when observed.
    pub workers_total: Vec<Option<usize>>,
    /// Longest topic name among the lag rows shown (for column widths).
    pub lag_topic_width: usize,
    /// Per side: longest topic name and group id shown.
    pub topic_width: [usize; 2],
    pub group_width: [usize; 2],
}

impl Prepared {
    pub fn build(a: &Assessment, snap: &Snapshot, query: &LagQuery, filter: Option<&Filter>) -> Prepared {
        let live = a.live_flow.and_then(|f| a.lag.iter().position(|l| l.flow == f));
        let lag_flow = match (a.lag.len(), live) {
            (0, _) => None,
            (_, Some(i)) if !query.pinned => Some(i),
            (n, _) => Some(query.flow.min(n - 1)),
        };
        let (lag_rows, spark) = match lag_flow.and_then(|i| a.lag.get(i)) {
            Some(flow) => {
                let rows = lag_rows(&flow.rows, query, filter);
                (rows, flow.spark.clone())
            }
            None => (Vec::new(), Vec::new()),
        };
        let topics = a.sides.each_ref().map(|s| {
            let mut idx: Vec<usize> = (0..s.topics.len())
                .filter(|&i| s.topics[i].app && filter.is_none_or(|f| f.matches(&s.topics[i].name)))
                .collect();
            idx.sort_by(|&x, &y| {
                let (x, y) = (&s.topics[x], &s.topics[y]);
                desc_unknown_first(x.rate, y.rate).then_with(|| x.name.cmp(&y.name))
            });
            idx
        });
        let groups = a.sides.each_ref().map(|s| {
            let mut idx: Vec<usize> =
                (0..s.groups.len()).filter(|&i| filter.is_none_or(|f| f.matches_group(&s.groups[i]))).collect();
            idx.sort_by(|&x, &y| {
                let (x, y) = (&s.groups[x], &s.groups[y]);
                // Within a class, furthest behind first (unknown before any figure).
                let lag = |g: &GroupView| g.lag.as_ref().map(|l| l.total);
                class_rank(x.class)
                    .cmp(&class_rank(y.class))
                    .then_with(|| match (lag(x), lag(y)) {
                        (Some(a), Some(b)) => desc_unknown_first(a, b),
                        (a, b) => b.is_some().cmp(&a.is_some()),
                    })
                    .then_with(|| x.id.cmp(&y.id))
            });
            idx
        });
        let workers_total = a
            .mm2
            .iter()
            .map(|m| {
                let dep = snap.mm2.iter().find(|d| d.name == m.name && d.flow == m.flow)?;
                dep.workers.as_ref().map(|w| w.value.len())
            })
            .collect();
        let longest = |names: &mut dyn Iterator<Item = &str>| names.map(|n| n.chars().count()).max().unwrap_or(0);
        let lag_topic_width = match lag_flow.and_then(|i| a.lag.get(i)) {
            // Rows of one topic are many; measure each topic once.
            Some(flow) => {
                let mut seen: Option<&str> = None;
                let mut w = 0;
                for &i in &lag_rows {
                    let t = &*flow.rows[i].topic;
                    if seen != Some(t) {
                        w = w.max(t.chars().count());
                        seen = Some(t);
                    }
                }
                w
            }
            None => 0,
        };
        let topic_width = [0, 1].map(|i| longest(&mut topics[i].iter().map(|&t| a.sides[i].topics[t].name.as_str())));
        let group_width = [0, 1].map(|i| longest(&mut groups[i].iter().map(|&g| a.sides[i].groups[g].id.as_str())));
        Prepared { lag_flow, lag_rows, spark, topics, groups, workers_total, lag_topic_width, topic_width, group_width }
    }
}

fn class_rank(c: GroupClass) -> u8 {
    match c {
        GroupClass::App => 0,
        GroupClass::Plumbing => 1,
        GroupClass::Mm2 => 2,
        GroupClass::Foreign => 0,
        GroupClass::Other => 3,
    }
}

/// Larger first, unknown before any known value.
fn desc_unknown_first<T: PartialOrd>(x: Option<T>, y: Option<T>) -> Ordering {
    match (x, y) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
    }
}

fn lag_rows(rows: &[LagRow], query: &LagQuery, filter: Option<&Filter>) -> Vec<usize> {
    // Each distinct topic is named once (rows of a topic come together) and
    // ranked by name once; rows then sort on plain integers: at 100,000 rows
    // comparing names row against row is most of a sort.
    let mut topic_of: Vec<u32> = Vec::with_capacity(rows.len());
    let mut names: Vec<&str> = Vec::new();
    let mut ids: HashMap<&str, u32> = HashMap::new();
    for r in rows {
        let id = match names.last() {
            Some(last) if *last == &*r.topic => names.len() as u32 - 1,
            _ => *ids.entry(&r.topic).or_insert_with(|| {
                names.push(&r.topic);
                names.len() as u32 - 1
            }),
        };
        topic_of.push(id);
    }
    let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
    by_name.sort_unstable_by_key(|&i| names[i as usize]);
    let mut rank = vec![0u32; names.len()];
    for (r, &i) in by_name.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    // The regex runs once per topic, not once per partition.
    let shown: Vec<bool> = names.iter().map(|n| filter.is_none_or(|f| f.matches(n))).collect();
    let mut keyed: Vec<(Primary, u32, i32, usize)> = rows
        .iter()
        .enumerate()
        .filter(|&(i, _)| shown[topic_of[i] as usize])
        .map(|(i, r)| {
            let primary = match query.sort {
                LagSort::Records => Primary::larger_first(r.records),
                LagSort::Seconds => Primary::larger_first(r.seconds.map(ordered)),
                LagSort::TopicPartition => Primary::default(),
            };
            (primary, rank[topic_of[i] as usize], r.partition, i)
        })
        .collect();
    keyed.sort_unstable();
    let mut idx: Vec<usize> = keyed.into_iter().map(|k| k.3).collect();
    if query.reversed {
        idx.reverse();
    }
    idx
}

/// A sort key: unknown first, then larger first.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Primary(bool, std::cmp::Reverse<i64>);

impl Primary {
    fn larger_first(v: Option<i64>) -> Primary {
        match v {
            None => Primary(false, std::cmp::Reverse(0)),
            Some(v) => Primary(true, std::cmp::Reverse(v)),
        }
    }
}

/// `x` as an integer in the same order (`f64::total_cmp`'s).
fn ordered(x: f64) -> i64 {
    let bits = x.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(topic: &str, partition: i32, records: Option<i64>, seconds: Option<f64>) -> LagRow {
        LagRow { topic: topic.into(), partition, source_end: None, replicated: None, records, seconds }
    }

    #[test]
    fn integer_keys_sort_as_comparing_the_rows_would() {
        // Topics interleaved and out of order, negative and equal lags, unknowns.
        let rows: Vec<LagRow> = (0..600)
            .map(|i: i64| {
                let topic = ["zeta", "alpha", "mid", "alpha-2"][(i * 7 % 4) as usize];
                let records = (i % 9 != 0).then_some((i * 37 % 23) - 5);
                let seconds = (i % 5 != 0).then_some(((i * 13 % 17) as f64 - 3.0) / 4.0);
                row(topic, (i % 50) as i32, records, seconds)
            })
            .collect();
        let by_topic = |x: &LagRow, y: &LagRow| x.topic.cmp(&y.topic).then(x.partition.cmp(&y.partition));
        for sort in [LagSort::Records, LagSort::Seconds, LagSort::TopicPartition] {
            let q = LagQuery { sort, ..LagQuery::default() };
            let keys = |r: &LagRow| (r.topic.clone(), r.partition, r.records, r.seconds.map(f64::to_bits));
            let got: Vec<_> = lag_rows(&rows, &q, None).into_iter().map(|i| keys(&rows[i])).collect();
            let mut want: Vec<&LagRow> = rows.iter().collect();
            want.sort_by(|x, y| match sort {
                LagSort::Records => desc_unknown_first(x.records, y.records).then_with(|| by_topic(x, y)),
                LagSort::Seconds => desc_unknown_first(x.seconds, y.seconds).then_with(|| by_topic(x, y)),
                LagSort::TopicPartition => by_topic(x, y),
            });
            assert_eq!(got, want.into_iter().map(keys).collect::<Vec<_>>(), "{sort:?}");
        }
    }

    #[test]
    fn unknown_lag_sorts_first_and_filters_apply_per_topic() {
        let rows = vec![
            row("orders", 0, Some(5), Some(1.0)),
            row("orders", 1, None, None),
            row("payments", 0, Some(50), Some(0.5)),
            row("audit", 0, Some(0), Some(0.0)),
        ];
        let q = LagQuery::default();
        assert_eq!(lag_rows(&rows, &q, None), vec![1, 2, 0, 3]);
        let q = LagQuery { sort: LagSort::Seconds, ..LagQuery::default() };
        assert_eq!(lag_rows(&rows, &q, None), vec![1, 0, 2, 3]);
        let q = LagQuery { sort: LagSort::TopicPartition, reversed: true, ..LagQuery::default() };
        assert_eq!(lag_rows(&rows, &q, None), vec![2, 1, 0, 3]);
        let f = Filter::parse("^ORD").ok().flatten();
        assert_eq!(lag_rows(&rows, &LagQuery::default(), f.as_ref()), vec![1, 0]);
        let f = Filter::parse("!orders").ok().flatten();
        assert_eq!(lag_rows(&rows, &LagQuery::default(), f.as_ref()), vec![2, 3]);
    }

    #[test]
    fn bad_regex_is_an_error_not_a_panic() {
        let e = Filter::parse("orders(").err().unwrap_or_default();
        assert!(e.starts_with("bad regex"), "{e}");
        assert!(!e.contains('\n'));
        assert!(matches!(Filter::parse(""), Ok(None)));
        assert!(matches!(Filter::parse("!"), Ok(None)));
    }
}
