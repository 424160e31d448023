//! The canary's judgement, per flow: end-to-end latency percentiles over
//! `canary_window`, records lost (sent, not seen on the target within
//! `canary_lost_after`), and the last round trip. A running flow that loses
//! canaries is degraded and needs a person: MM2 says it runs, records do
//! not arrive.

use super::mm2::{Mm2Problem, Mm2ProblemKind, Mm2View};
use super::truth::{Freshness, fmt_age};
use super::{Health, Settings};
use crate::model::{Canary, Flow, Observed, Snapshot, Ts, age_secs};

/// One flow's canary as judged now.
#[derive(Clone, Debug, PartialEq)]
pub struct CanaryView {
    pub flow: Flow,
    pub topic: String,
    pub mirror: String,
    /// When the prober last reported, and how fresh that is.
    pub at: Ts,
    pub freshness: Freshness,
    /// Records sent within the window, and of them: seen on the target,
    /// lost, and still on their way (younger than `canary_lost_after`).
    pub sent: usize,
    pub arrived: usize,
    pub lost: usize,
    pub waiting: usize,
    /// Send-to-read latency of the records seen within the window.
    pub p50_seconds: Option<f64>,
    pub p99_seconds: Option<f64>,
    /// When the newest record seen on the target was sent and read.
    pub last_round_trip: Option<RoundTrip>,
    /// A record sent within `canary_lost_after` of the prober's last report
    /// came through: the flow delivers now, not only once.
    pub through_recently: bool,
    /// Why the canary cannot send or read back, or why its figures are stale.
    pub problem: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoundTrip {
    pub sent_at: Ts,
    pub arrived_at: Ts,
}

pub fn assess_canaries(snap: &Snapshot, settings: &Settings, now: Ts) -> Vec<CanaryView> {
    snap.canaries.iter().map(|c| assess_canary(c, settings, now)).collect()
}

fn assess_canary(c: &Observed<Canary>, settings: &Settings, now: Ts) -> CanaryView {
    let freshness = Freshness::of(Some(c.at), now, settings.stale_after);
    let from = c.at - settings.canary_window;
    let window: Vec<_> = c.value.sent.iter().filter(|r| r.sent_at >= from).collect();
    let mut latencies: Vec<f64> = window
        .iter()
        .filter_map(|r| r.arrived_at.map(|a| (a - r.sent_at).num_milliseconds().max(0) as f64 / 1000.0))
        .collect();
    latencies.sort_by(f64::total_cmp);
    // Judged at the prober's last report: a record it has not read since is
    // not lost for want of looking.
    let unseen = window.iter().filter(|r| r.arrived_at.is_none());
    let lost = unseen.clone().filter(|r| c.at - r.sent_at > settings.canary_lost_after).count();
    let last_round_trip = c
        .value
        .sent
        .iter()
        .rev()
        .find_map(|r| r.arrived_at.map(|arrived_at| RoundTrip { sent_at: r.sent_at, arrived_at }));
    let problem = match (&c.value.problem, freshness.problem("canary")) {
        (Some(p), Some(s)) => Some(format!("{p}; {s}")),
        (p, s) => p.clone().or(s),
    };
    CanaryView {
        flow: c.value.flow,
        topic: c.value.topic.clone(),
        mirror: c.value.mirror.clone(),
        at: c.at,
        freshness,
        sent: window.len(),
        arrived: latencies.len(),
        lost,
        waiting: unseen.count() - lost,
        p50_seconds: percentile(&latencies, 50),
        p99_seconds: percentile(&latencies, 99),
        through_recently: last_round_trip.is_some_and(|t| c.at - t.sent_at <= settings.canary_lost_after),
        last_round_trip,
        problem,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: usize) -> Option<f64> {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// A flow that runs while its fresh canary loses records is degraded. A
/// canary that cannot read back (its mirror not there yet: MM2 finds new
/// topics every `refresh.topics.interval.seconds`) proves nothing either way.
pub fn mark_lost_canaries(mm2: &mut [Mm2View], canaries: &[CanaryView], now: Ts) {
    for c in canaries.iter().filter(|c| c.freshness.is_fresh() && c.problem.is_none() && c.lost > 0) {
        let Some(m) = mm2.iter_mut().find(|m| m.flow == c.flow && m.running.is_yes()) else { continue };
        let since = c.last_round_trip.map_or_else(
            || "none seen yet".to_owned(),
            |t| format!("last one through {} ago", fmt_age(age_secs(t.arrived_at, now))),
        );
        m.health = Health::Degraded;
        m.problems.push(Mm2Problem::new(
            Mm2ProblemKind::CanaryLost,
            format!("{} canary record(s) sent to {} not seen in {} ({since})", c.lost, c.topic, c.mirror),
        ));
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};

    use super::*;
    use crate::model::CanaryRecord;

    /// Records sent every second for `n` s up to `at`, crossing in `latency`
    /// (None: never seen).
    fn canary(at: Ts, n: i64, latency: impl Fn(i64) -> Option<i64>) -> Observed<Canary> {
        let sent = (0..n)
            .map(|i| {
                let sent_at = at - TimeDelta::seconds(n - i);
                CanaryRecord {
                    seq: i as u64 + 1,
                    sent_at,
                    arrived_at: latency(i).map(|ms| sent_at + TimeDelta::milliseconds(ms)),
                }
            })
            .collect();
        let value = Canary {
            flow: Flow::DC_TO_DR,
            topic: "kdrill.canary".into(),
            mirror: "dc.kdrill.canary".into(),
            sent,
            problem: None,
        };
        Observed::new(value, at)
    }

    fn settings() -> Settings {
        Settings {
            stale_after: TimeDelta::seconds(10),
            canary_lost_after: TimeDelta::seconds(20),
            canary_window: TimeDelta::seconds(100),
            ..Settings::default()
        }
    }

    #[test]
    fn percentiles_are_over_the_records_seen_in_the_window() {
        let now = Utc::now();
        // 1..=100 ms for the last 100 records; 5 s for older ones, out of the window.
        let c = canary(now, 150, |i| Some(if i < 50 { 5_000 } else { i - 49 }));
        let v = assess_canary(&c, &settings(), now);
        assert_eq!((v.sent, v.arrived, v.lost, v.waiting), (100, 100, 0, 0));
        assert_eq!(v.p50_seconds, Some(0.05));
        assert_eq!(v.p99_seconds, Some(0.099));
        assert_eq!(v.last_round_trip.map(|t| t.sent_at), Some(now - TimeDelta::seconds(1)));
        assert!(v.through_recently);
        assert_eq!(v.problem, None);
    }

    #[test]
    fn unseen_records_are_waiting_then_lost_and_a_running_flow_is_degraded() {
        let now = Utc::now();
        // Everything after the 60th record unseen: the 40 sent in the last 40 s.
        let c = canary(now, 100, |i| (i < 60).then_some(300));
        let v = assess_canary(&c, &settings(), now);
        assert_eq!((v.arrived, v.lost, v.waiting), (60, 20, 20), "lost after 20 s, waiting before");
        assert!(!v.through_recently, "the last one through was sent 41 s ago");
        let mut mm2 = vec![running_flow()];
        mark_lost_canaries(&mut mm2, std::slice::from_ref(&v), now);
        assert_eq!(mm2[0].health, Health::Degraded);
        let p = mm2[0].problems.iter().find(|p| p.kind == Mm2ProblemKind::CanaryLost).map(|p| p.text.clone());
        assert!(
            p.as_deref().is_some_and(|t| t.starts_with(
                "20 canary record(s) sent to kdrill.canary not seen in dc.kdrill.canary (last one through 40"
            )),
            "{p:?}"
        );
        assert!(Mm2ProblemKind::CanaryLost.needs_a_person());
        // A canary that cannot read back raises nothing.
        let blind = CanaryView { problem: Some("DR has no kdrill.canary yet".into()), ..v.clone() };
        let mut mm2 = vec![running_flow()];
        mark_lost_canaries(&mut mm2, &[blind], now);
        assert!(mm2[0].problems.is_empty());
        // A stopped flow's canaries wait: counted, never a problem of MM2's.
        let mut stopped = vec![Mm2View { running: crate::assess::Truth::No, ..running_flow() }];
        mark_lost_canaries(&mut stopped, &[v], now);
        assert!(stopped[0].problems.is_empty());
    }

    #[test]
    fn a_stale_canary_says_so_and_raises_nothing() {
        let now = Utc::now();
        let c = canary(now - TimeDelta::seconds(60), 100, |_| None);
        let v = assess_canary(&c, &settings(), now);
        assert!(!v.freshness.is_fresh());
        assert!(v.problem.as_deref().is_some_and(|p| p.contains("canary")), "{:?}", v.problem);
        let mut mm2 = vec![running_flow()];
        mark_lost_canaries(&mut mm2, &[v], now);
        assert!(mm2[0].problems.is_empty(), "stale figures close nothing and open nothing");
    }

    fn running_flow() -> Mm2View {
        let snap = Snapshot::empty(Utc::now(), "dc", "dr");
        let d = crate::model::Mm2Deployment::unobserved("mm2", Flow::DC_TO_DR, crate::model::Side::Dr);
        let mut snap = snap;
        snap.mm2 = vec![d];
        let mut m = super::super::mm2::assess_mm2(&snap, &Settings::default(), Utc::now()).remove(0);
        m.running = crate::assess::Truth::Yes;
        m.health = Health::Healthy;
        m.problems.clear();
        m
    }
}
