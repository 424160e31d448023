//! Preconditions the drill gates on, evaluated against an assessment. Each
//! check says what was observed, when, and whether it is satisfied; unknown
//! never satisfies.

use serde::{Deserialize, Serialize};

use crate::model::{Flow, Side, Ts, age_secs};

use super::Assessment;
use super::platform::{Known, WorkloadsView};
use super::truth::Truth;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    /// No application producer writes and no application group has members.
    NoAppClients(Side),
    /// Application producers write and application groups are stable.
    AppsActive(Side),
    /// Zero lag on every mirrored partition of the flow, heartbeats fresh.
    LagDrained(Flow),
    /// No MM2 worker (Connect group member) for any deployment and no MM2
    /// pod on either side's Kubernetes.
    NoMm2Running,
    /// The flow's connectors and tasks run and heartbeats prove data flows.
    Mm2Flowing(Flow),
    /// Pre-flight: applications run on `active` and the other side is passive.
    ActiveToPassive { active: Side },
    /// Pre-flight: the side answers and every broker it knows is up.
    Reachable(Side),
    /// Pre-flight: the flow is healthy (every connector and task RUNNING,
    /// heartbeats fresh, not stalled) and its lag at most `max_lag` records.
    Mm2Ready { flow: Flow, max_lag: u64 },
    /// Pre-flight: no runbook rule broken, checked on fresh data.
    NoRuleBroken,
    /// Pre-flight: no application topic lacks its mirror or has fewer
    /// partitions there (see `drift`).
    NoBlockingDrift,
    /// The reverse flow copies nothing back that its source received from
    /// the stopped flow (see `failback`): judged by the drill, which holds
    /// where the stopped flow's data ended.
    NothingCopiedBack(Flow),
}

impl Condition {
    pub fn label(&self) -> String {
        match self {
            Condition::NoAppClients(s) => format!("no app clients on {s}"),
            Condition::AppsActive(s) => format!("apps active and stable on {s}"),
            Condition::LagDrained(f) => format!("replication {f} drained to 0"),
            Condition::NoMm2Running => "no MM2 worker or pod anywhere".into(),
            Condition::Mm2Flowing(f) => format!("MM2 {f} running, heartbeats flowing"),
            Condition::ActiveToPassive { active } => format!("{active} active, {} passive", active.other()),
            Condition::Reachable(s) => format!("{s} reachable, all brokers up"),
            Condition::Mm2Ready { flow, max_lag } => {
                format!("MM2 {flow} healthy (tasks RUNNING, heartbeats fresh, not stalled), lag ≤ {max_lag} rec")
            }
            Condition::NoRuleBroken => "no runbook rule broken".into(),
            Condition::NoBlockingDrift => "no blocking topic drift (missing mirror, fewer partitions)".into(),
            Condition::NothingCopiedBack(f) => format!("MM2 {f} copies nothing back into {}", f.target),
        }
    }
}

/// One evaluated precondition.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub label: String,
    /// `Yes` = satisfied.
    pub truth: Truth,
    /// What was seen, in a few words with units.
    pub observed: String,
    pub at: Option<Ts>,
}

pub fn evaluate(cond: &Condition, a: &Assessment) -> Check {
    let (truth, observed, at) = match cond {
        Condition::NoAppClients(side) => no_app_clients(a, *side),
        Condition::AppsActive(side) => apps_active(a, *side),
        Condition::LagDrained(flow) => lag_drained(a, *flow),
        Condition::NoMm2Running => no_mm2(a),
        Condition::Mm2Flowing(flow) => mm2_flowing(a, *flow),
        Condition::ActiveToPassive { active } => super::preflight::roles(a, *active),
        Condition::Reachable(side) => super::preflight::reachable(a, *side),
        Condition::Mm2Ready { flow, max_lag } => super::preflight::mm2_ready(a, *flow, *max_lag),
        Condition::NoRuleBroken => super::preflight::no_rule_broken(a),
        Condition::NoBlockingDrift => super::preflight::no_blocking_drift(a),
        Condition::NothingCopiedBack(flow) => {
            // Outside a drill: from the stopped flow's current ends.
            let figures = a.failback.iter().find(|f| f.flow == *flow);
            let why = || format!("MM2 {} not observed stopped", flow.reversed());
            super::failback::copy_back_eval(*flow, figures.ok_or_else(why))
        }
    };
    Check { label: cond.label(), truth, observed, at }
}

pub(super) type Eval = (Truth, String, Option<Ts>);

fn app_summary(a: &Assessment, side: Side) -> String {
    let s = a.side(side);
    let members: usize = s.app_groups().map(|g| g.members).sum();
    let rate: f64 = s.topics.iter().filter_map(|t| t.app_rate).sum();
    format!("{members} app consumers, {rate:.0} rec/s app writes")
}

fn no_app_clients(a: &Assessment, side: Side) -> Eval {
    let s = a.side(side);
    let kafka = s.apps_active().negate();
    match workloads(a, side) {
        // Kafka alone.
        None => (kafka, app_summary(a, side), s.observed_at),
        Some(w) => {
            let none_ready = match &w.ready {
                Known::Is(n) => Truth::from_bool(*n == 0),
                Known::Unknown(why) => Truth::Unknown(why.clone()),
            };
            let text = format!("{} · {}", app_summary(a, side), workloads_text(w));
            (all(kafka, none_ready), text, older(s.observed_at, w.at))
        }
    }
}

/// The declared workloads of `side`, `None` when the side has none.
fn workloads(a: &Assessment, side: Side) -> Option<&WorkloadsView> {
    a.platforms[side.index()].as_ref()?.apps.as_ref()
}

fn workloads_text(w: &WorkloadsView) -> String {
    match (&w.ready, &w.desired) {
        (Known::Is(r), Known::Is(d)) => format!("workloads {r}/{d} ready"),
        _ => "workloads ?".to_owned(),
    }
}

/// Both must hold; a known `No` wins over unknowns.
pub(super) fn all(a: Truth, b: Truth) -> Truth {
    a.negate().or(b.negate()).negate()
}

pub(super) fn older(a: Option<Ts>, b: Option<Ts>) -> Option<Ts> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn apps_active(a: &Assessment, side: Side) -> Eval {
    let s = a.side(side);
    let groups: Vec<_> = s.app_groups().collect();
    let stable = match &s.consuming {
        Truth::Yes => Truth::from_bool(groups.iter().filter(|g| g.members > 0).all(|g| g.state == "Stable")),
        other => other.clone(),
    };
    let truth = match (&s.producing, &stable) {
        (Truth::Yes, Truth::Yes) => Truth::Yes,
        (Truth::Unknown(w), _) | (_, Truth::Unknown(w)) => Truth::Unknown(w.clone()),
        _ => Truth::No,
    };
    match workloads(a, side) {
        None => (truth, app_summary(a, side), s.observed_at),
        Some(w) => {
            let all_ready = match (&w.ready, &w.desired) {
                (Known::Is(r), Known::Is(d)) => Truth::from_bool(*d > 0 && r >= d),
                (Known::Unknown(why), _) | (_, Known::Unknown(why)) => Truth::Unknown(why.clone()),
            };
            let text = format!("{} · {}", app_summary(a, side), workloads_text(w));
            (all(truth, all_ready), text, older(s.observed_at, w.at))
        }
    }
}

fn lag_drained(a: &Assessment, flow: Flow) -> Eval {
    let Some(lag) = a.lag.iter().find(|l| l.flow == flow) else {
        return (Truth::Unknown(format!("no MM2 deployment for {flow} configured")), "—".into(), None);
    };
    let observed = match lag.total {
        Some(n) => format!("{n} rec over {} partitions", lag.rows.len()),
        None => format!("{} of {} partitions unknown", lag.unknown_rows, lag.rows.len()),
    };
    let canary = a.canaries.iter().find(|c| c.flow == flow);
    let observed = match canary {
        Some(c) => {
            let through = c.last_round_trip.map_or_else(
                || "none through".to_owned(),
                |t| format!("through {} ago", super::fmt_age(age_secs(t.arrived_at, a.now))),
            );
            format!("{observed} · canary {through}, {} lost", c.lost)
        }
        None => observed,
    };
    let truth = match lag.drained() {
        Ok(()) => match a.mm2.iter().find(|m| m.flow == flow).map(|m| &m.flowing) {
            // Zero lag must be current: the flow must still be seen flowing,
            // and where a canary runs, its records must come through.
            Some(Truth::Yes) => canary.map_or(Truth::Yes, canary_through),
            Some(Truth::No) => Truth::Unknown("MM2 is not running, lag may be frozen".into()),
            Some(Truth::Unknown(w)) => Truth::Unknown(w.clone()),
            None => Truth::Unknown("MM2 not observed".into()),
        },
        Err(why) if lag.total.is_some_and(|n| n > 0) => {
            let _ = why;
            Truth::No
        }
        Err(why) => Truth::Unknown(why),
    };
    (truth, observed, lag.at)
}

/// Drained, as the canary sees it: nothing lost, a record sent lately through.
fn canary_through(c: &super::CanaryView) -> Truth {
    match (&c.problem, c.lost, c.through_recently) {
        (Some(p), _, _) => Truth::Unknown(format!("canary: {p}")),
        (None, 0, true) => Truth::Yes,
        (None, 0, false) => Truth::Unknown("no canary record sent lately has come through yet".into()),
        (None, _, _) => Truth::No,
    }
}

fn no_mm2(a: &Assessment) -> Eval {
    if a.mm2.is_empty() {
        return (Truth::Unknown("no MM2 deployment configured".into()), "—".into(), None);
    }
    let mut truth = Truth::Yes;
    let mut parts = Vec::new();
    let mut at: Option<Ts> = None;
    for m in &a.mm2 {
        parts.push(match m.workers_alive {
            Some(n) if m.stopped_by_connectors && m.running.is_no() => {
                format!("{n} on {} (connectors STOPPED)", m.runs_on)
            }
            Some(n) => format!("{n} on {}", m.runs_on),
            None => format!("? on {}", m.runs_on),
        });
        at = match (at, m.workers_at) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        truth = match (&truth, &m.running) {
            (Truth::No, _) => Truth::No,
            (_, Truth::Yes) => Truth::No,
            (Truth::Unknown(w), _) => Truth::Unknown(w.clone()),
            (_, Truth::Unknown(w)) => Truth::Unknown(w.clone()),
            _ => truth,
        };
    }
    // No MM2 pod on either side's Kubernetes, whoever owns it.
    let mut pods = Vec::new();
    for p in a.platforms.iter().flatten() {
        at = older(at, p.mm2_pods_at);
        // A flow stopped by its connectors keeps its own pods (judged
        // above); any other MM2 pod on the side still counts.
        let kept: Known<usize> = a
            .mm2
            .iter()
            .filter(|m| m.runs_on == p.side && m.stopped_by_connectors && m.running.is_no())
            .map(|m| m.platform.as_ref().map_or(Known::Is(0), |pl| pl.pods.clone()))
            .try_fold(0usize, |sum, k| match k {
                Known::Is(n) => Ok(sum + n),
                Known::Unknown(why) => Err(why),
            })
            .map_or_else(Known::Unknown, Known::Is);
        let others = match (&p.mm2_pods, kept) {
            (Known::Is(n), Known::Is(k)) => Known::Is(n.saturating_sub(k)),
            (Known::Unknown(why), _) => Known::Unknown(why.clone()),
            (_, Known::Unknown(why)) => Known::Unknown(why),
        };
        match others {
            Known::Is(n) => {
                pods.push(format!("{n} on {}", p.side));
                if n > 0 {
                    truth = Truth::No;
                }
            }
            Known::Unknown(why) => {
                pods.push(format!("? on {}", p.side));
                if !truth.is_no() {
                    truth = Truth::Unknown(why.clone());
                }
            }
        }
    }
    let pods = if pods.is_empty() { String::new() } else { format!(" · pods: {}", pods.join(", ")) };
    (truth, format!("MM2 workers: {}{pods}", parts.join(", ")), at)
}

fn mm2_flowing(a: &Assessment, flow: Flow) -> Eval {
    let Some(m) = a.mm2.iter().find(|m| m.flow == flow) else {
        return (Truth::Unknown(format!("no MM2 deployment for {flow} configured")), "—".into(), None);
    };
    let running = m.connectors.iter().filter(|c| c.state == crate::model::ConnectState::Running).count();
    let hb = m
        .heartbeat_mirrored_age
        .or(m.heartbeat_local_age)
        .map_or("no heartbeat".to_owned(), |age| format!("heartbeat {} ago", super::truth::fmt_age(age)));
    let observed = format!("{running}/{} connectors RUNNING, {hb}", m.connectors.len());
    (m.flowing.clone(), observed, m.connectors_at)
}
