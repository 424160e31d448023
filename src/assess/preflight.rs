//! The pre-flight of a drill: what must be observed before the first
//! action, each condition in words a person can act on. Unknown (stale,
//! never observed) never passes.

use crate::model::{Flow, Link, Side};

use super::Assessment;
use super::conditions::{Eval, all, older};
use super::mm2::Mm2ProblemKind;
use super::sides::Role;
use super::truth::{Truth, fmt_age};

/// Applications run on `active`, and the other side is passive (MM2
/// replicates into it, no application uses it).
pub fn roles(a: &Assessment, active: Side) -> Eval {
    let (x, y) = (a.side(active), a.side(active.other()));
    let observed = format!("{} {}, {} {}", x.side, x.role.label(), y.side, y.role.label());
    let at = older(x.observed_at, y.observed_at);
    let unknown = |s: &super::SideView| {
        s.freshness.problem(&format!("{} data", s.side)).unwrap_or_else(|| format!("{}'s role not observed", s.side))
    };
    let truth = match (x.role, y.role) {
        (Role::Active, Role::Passive) => Truth::Yes,
        (Role::Unknown, _) => Truth::Unknown(unknown(x)),
        (_, Role::Unknown) => Truth::Unknown(unknown(y)),
        _ => Truth::No,
    };
    let observed = match (&truth, x.role, y.role) {
        (Truth::No, _, Role::Active) => format!("{observed}: applications run on {}", y.side),
        (Truth::No, _, Role::Idle) => format!("{observed}: nothing replicates into {}", y.side),
        (Truth::No, r, _) if r != Role::Active => format!("{observed}: no application runs on {}", x.side),
        _ => observed,
    };
    (truth, observed, at)
}

/// `side` answers and every broker of its metadata is up.
pub fn reachable(a: &Assessment, side: Side) -> Eval {
    let s = a.side(side);
    let at = s.observed_at;
    if let Link::Down { since, error, .. } = &s.link {
        let age = fmt_age(crate::model::age_secs(*since, a.now));
        return (Truth::No, format!("{side} unreachable for {age}: {error}"), at);
    }
    if let Some(why) = s.freshness.problem(&format!("{side} data")) {
        return (Truth::Unknown(why.clone()), why, at);
    }
    match s.brokers_up {
        Some((up, known)) if known > 0 && up == known => {
            (Truth::Yes, format!("{side} reachable, {up}/{known} brokers up"), at)
        }
        Some((up, known)) => (Truth::No, format!("{side}: only {up} of {known} brokers up"), at),
        None => (Truth::Unknown(format!("{side}'s brokers never observed")), format!("{side}: brokers ?"), at),
    }
}

/// The flow healthy, not stalled, and its lag at most `max_lag` records.
pub fn mm2_ready(a: &Assessment, flow: Flow, max_lag: u64) -> Eval {
    let Some(m) = a.mm2.iter().find(|m| m.flow == flow) else {
        return (Truth::Unknown(format!("no MM2 deployment for {flow} configured")), "—".into(), None);
    };
    let health = match m.health {
        super::Health::Healthy => match &m.flowing {
            Truth::Yes => Truth::Yes,
            other => other.clone(),
        },
        super::Health::Unknown => {
            Truth::Unknown(m.problems.first().map_or_else(|| format!("MM2 {flow}'s state unknown"), |p| p.text.clone()))
        }
        super::Health::Degraded | super::Health::Stopped => Truth::No,
    };
    let stalled = m.problems.iter().any(|p| p.kind == Mm2ProblemKind::Stalled);
    let health = if stalled { Truth::No } else { health };
    let mut parts = vec![format!("MM2 {flow} {}", m.health.label())];
    parts.extend(m.problems.iter().map(|p| p.text.clone()));
    let (lag_truth, lag_text, lag_at) = match a.lag_of(flow) {
        None => (Truth::Unknown(format!("no lag figures for {flow}")), "lag ?".to_owned(), None),
        Some(l) => match (l.freshness.problem(&format!("lag of {flow}")), l.total) {
            (Some(why), _) => (Truth::Unknown(why.clone()), format!("lag ? ({why})"), l.at),
            // Committed past the source's end: an anomaly, never "no lag".
            (None, _) if l.ahead.1 > 0 => {
                let (records, partitions) = l.ahead;
                let text = format!("MM2 {records} rec AHEAD of the source on {partitions} partition(s)");
                (Truth::No, text, l.at)
            }
            (None, Some(n)) if n <= max_lag => (Truth::Yes, format!("lag {n} rec"), l.at),
            (None, Some(n)) => (Truth::No, format!("lag {n} rec, above the pre-flight bound of {max_lag}"), l.at),
            (None, None) => {
                let why = format!("lag of {} of {} partitions unknown", l.unknown_rows, l.rows.len());
                (Truth::Unknown(why.clone()), format!("lag ? ({why})"), l.at)
            }
        },
    };
    parts.push(lag_text);
    (all(health, lag_truth), parts.join("; "), older(m.observed_at, lag_at))
}

/// No rule of the runbook broken, with both sides fresh enough to check.
pub fn no_rule_broken(a: &Assessment) -> Eval {
    let at = older(a.sides[0].observed_at, a.sides[1].observed_at);
    if !a.violations.is_empty() {
        let broken: Vec<&str> = a.violations.iter().map(|v| v.detail.as_str()).collect();
        return (Truth::No, format!("broken: {}", broken.join("; ")), at);
    }
    let unchecked = a.rules_unchecked_because();
    if !unchecked.is_empty() {
        let why = unchecked.join(", ");
        return (Truth::Unknown(format!("rules cannot be checked: {why}")), "rules unchecked".into(), at);
    }
    (Truth::Yes, "none broken".into(), at)
}

/// No application topic whose mirror cannot take its data. Drift is judged
/// on fresh topics only, so both sides must be fresh for "none" to count.
pub fn no_blocking_drift(a: &Assessment) -> Eval {
    let at = older(a.sides[0].observed_at, a.sides[1].observed_at);
    let blocking: Vec<&str> =
        a.drift.iter().flat_map(|d| &d.differences).filter(|d| d.blocking).map(|d| d.text.as_str()).collect();
    if !blocking.is_empty() {
        return (Truth::No, blocking.join("; "), at);
    }
    for s in &a.sides {
        if let Some(why) = s.freshness.problem(&format!("{} topics", s.side)) {
            return (Truth::Unknown(format!("drift cannot be judged: {why}")), "drift unjudged".into(), at);
        }
    }
    let other = a.drift.iter().map(|d| d.differences.len()).sum::<usize>();
    let text = match other {
        0 => "every application topic mirrored alike".to_owned(),
        n => format!("no blocking difference ({n} non-blocking, see drift)"),
    };
    (Truth::Yes, text, at)
}
