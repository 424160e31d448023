//! `kdrill check`: one headless judgement of the pair, for cron, CI gates
//! and monitoring. Prints a summary or JSON; the exit code says whether the
//! runbook's rules hold (0), are broken or lag is too high (1), or the pair
//! could not be observed (2).

use serde::Serialize;

use crate::assess::{Assessment, Freshness, Health, Truth, fmt_age};
use crate::model::{Link, Ts, age_secs};

#[derive(Debug, Serialize)]
pub struct Report {
    pub observed_at: Ts,
    pub verdict: String,
    pub exit_code: i32,
    pub sides: Vec<SideReport>,
    pub mm2: Vec<Mm2Report>,
    pub lag: Vec<LagReport>,
    pub violations: Vec<ViolationReport>,
}

#[derive(Debug, Serialize)]
pub struct SideReport {
    pub side: String,
    pub alias: String,
    pub reachable: bool,
    pub role: String,
    pub declared_role: Option<String>,
    /// When the data this is based on was observed (null: never).
    pub observed_at: Option<Ts>,
    pub stale: bool,
    pub brokers_up: Option<usize>,
    pub brokers_known: Option<usize>,
    pub app_producers: String,
    pub app_consumers: String,
    pub groups: Vec<GroupReport>,
}

#[derive(Debug, Serialize)]
pub struct GroupReport {
    pub group: String,
    pub class: String,
    pub state: String,
    pub members: usize,
    pub clients: Vec<String>,
    pub hosts: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Mm2Report {
    pub name: String,
    pub flow: String,
    pub runs_on: String,
    pub health: String,
    pub workers_alive: Option<usize>,
    pub workers_observed_at: Option<Ts>,
    pub connectors: Vec<ConnectorReport>,
    pub connectors_observed_at: Option<Ts>,
    pub heartbeat_age_secs: Option<f64>,
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ConnectorReport {
    pub name: String,
    pub state: String,
    pub tasks: Vec<(u32, String)>,
}

#[derive(Debug, Serialize)]
pub struct LagReport {
    pub flow: String,
    pub total_records: Option<u64>,
    pub unknown_partitions: usize,
    pub max_seconds: Option<f64>,
    pub observed_at: Option<Ts>,
    pub worst: Vec<PartitionLag>,
}

#[derive(Debug, Serialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub records: Option<i64>,
    pub seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct ViolationReport {
    pub rule: String,
    pub detail: String,
    pub since: Ts,
}

fn truth(t: &Truth) -> String {
    match t {
        Truth::Yes => "yes".into(),
        Truth::No => "no".into(),
        Truth::Unknown(why) => format!("unknown: {why}"),
    }
}

pub fn report(a: &Assessment, lag_alarm_records: i64) -> Report {
    let sides = a
        .sides
        .iter()
        .map(|s| SideReport {
            side: s.side.label().into(),
            alias: s.alias.clone(),
            reachable: matches!(s.link, Link::Up { .. }),
            role: s.role.label().into(),
            declared_role: s.declared.map(|r| r.label().into()),
            observed_at: s.observed_at,
            stale: !s.freshness.is_fresh(),
            brokers_up: s.brokers_up.map(|b| b.0),
            brokers_known: s.brokers_up.map(|b| b.1),
            app_producers: truth(&s.producing),
            app_consumers: truth(&s.consuming),
            groups: s
                .groups
                .iter()
                .map(|g| GroupReport {
                    group: g.id.clone(),
                    class: format!("{:?}", g.class).to_lowercase(),
                    state: g.state.clone(),
                    members: g.members,
                    clients: g.clients.clone(),
                    hosts: g.hosts.clone(),
                })
                .collect(),
        })
        .collect();
    let mm2 = a
        .mm2
        .iter()
        .map(|m| Mm2Report {
            name: m.name.clone(),
            flow: m.flow.to_string(),
            runs_on: m.runs_on.label().into(),
            health: m.health.label().into(),
            workers_alive: m.workers_alive,
            workers_observed_at: m.workers_at,
            connectors: m
                .connectors
                .iter()
                .map(|c| ConnectorReport {
                    name: c.name.clone(),
                    state: c.state.label().into(),
                    tasks: c.tasks.iter().map(|t| (t.id, t.state.label().to_owned())).collect(),
                })
                .collect(),
            connectors_observed_at: m.connectors_at,
            heartbeat_age_secs: m.heartbeat_mirrored_age.or(m.heartbeat_local_age),
            problems: m.problems.clone(),
        })
        .collect();
    // A flow that is stopped and never committed progress has no lag to
    // report; one that ran keeps its last figures (what would be lost).
    let relevant = |l: &&crate::assess::FlowLag| {
        l.rows.iter().any(|r| r.replicated.is_some()) || a.mm2.iter().any(|m| m.flow == l.flow && !m.running.is_no())
    };
    let lag = a
        .lag
        .iter()
        .filter(relevant)
        .map(|l| {
            let mut rows: Vec<_> = l.rows.iter().collect();
            // Unknown first (they are the worst news), then by records.
            rows.sort_by_key(|r| std::cmp::Reverse(r.records.map_or(i64::MAX, |n| n)));
            LagReport {
                flow: l.flow.to_string(),
                total_records: l.total,
                unknown_partitions: l.unknown_rows,
                max_seconds: l.max_seconds,
                observed_at: l.at,
                worst: rows
                    .iter()
                    .take(5)
                    .map(|r| PartitionLag {
                        topic: r.topic.to_string(),
                        partition: r.partition,
                        records: r.records,
                        seconds: r.seconds,
                    })
                    .collect(),
            }
        })
        .collect();
    let violations: Vec<ViolationReport> = a
        .violations
        .iter()
        .map(|v| ViolationReport { rule: v.rule.statement().into(), detail: v.detail.clone(), since: v.since })
        .collect();
    Report {
        observed_at: a.now,
        verdict: a.verdict.text.clone(),
        exit_code: exit_code(a, lag_alarm_records),
        sides,
        mm2,
        lag,
        violations,
    }
}

/// 2 if either side or an MM2 deployment could not be observed, else 1 if
/// a rule is broken or the lag of a running flow is above the threshold (or
/// unknown), else 0.
pub fn exit_code(a: &Assessment, lag_alarm_records: i64) -> i32 {
    let unobserved = a.sides.iter().any(|s| !s.freshness.is_fresh() || !matches!(s.link, Link::Up { .. }))
        || a.mm2.iter().any(|m| matches!(m.running, Truth::Unknown(_)));
    if unobserved {
        return 2;
    }
    let lag_bad = a
        .mm2
        .iter()
        .filter(|m| m.running.is_yes())
        .any(|m| a.lag_of(m.flow).is_none_or(|l| l.total.is_none_or(|t| t > lag_alarm_records.max(0) as u64)));
    if !a.violations.is_empty() || lag_bad { 1 } else { 0 }
}

/// The report as a person reads it in a terminal.
pub fn human(r: &Report, a: &Assessment) -> String {
    let mut out = String::new();
    let now = a.now;
    out.push_str(&format!("kdrill check at {}\n{}\n\n", now.format("%Y-%m-%d %H:%M:%S UTC"), r.verdict));
    for s in &a.sides {
        let age = s
            .observed_at
            .map_or("never observed".to_owned(), |t| format!("observed {} ago", fmt_age(age_secs(t, now))));
        let stale = match s.freshness {
            Freshness::Fresh { .. } => "",
            _ => " (STALE)",
        };
        let link = match &s.link {
            Link::Up { .. } => "reachable".to_owned(),
            Link::Down { error, .. } => format!("UNREACHABLE: {error}"),
            Link::Connecting => "connecting".to_owned(),
        };
        let declared = s.declared.map(|d| format!(" (declared {})", d.label())).unwrap_or_default();
        out.push_str(&format!("{} [{}] {}{declared}, {link}, {age}{stale}\n", s.side, s.alias, s.role.label()));
        if let Some((up, all)) = s.brokers_up {
            out.push_str(&format!("  brokers      {up}/{all} up\n"));
        }
        out.push_str(&format!("  app writes   {}\n  app groups   {}\n", truth(&s.producing), truth(&s.consuming)));
        for g in s.groups.iter().filter(|g| g.members > 0) {
            out.push_str(&format!(
                "  group {:<24} {:<9} {:<10} {} members  {}\n",
                g.id,
                format!("{:?}", g.class).to_lowercase(),
                g.state,
                g.members,
                g.hosts.join(" ")
            ));
        }
    }
    out.push('\n');
    for m in &a.mm2 {
        let workers = m.workers_alive.map_or("?".to_owned(), |n| n.to_string());
        out.push_str(&format!("MM2 {} {} on {}: {}, {workers} workers\n", m.name, m.flow, m.runs_on, m.health.label()));
        for c in &m.connectors {
            let tasks: Vec<String> = c.tasks.iter().map(|t| format!("{}:{}", t.id, t.state.label())).collect();
            out.push_str(&format!("  {:<40} {:<11} tasks {}\n", c.name, c.state.label(), tasks.join(" ")));
        }
        for p in &m.problems {
            out.push_str(&format!("  ! {p}\n"));
        }
        if m.health == Health::Healthy
            && let Some(age) = m.heartbeat_mirrored_age.or(m.heartbeat_local_age)
        {
            out.push_str(&format!("  heartbeat {} ago\n", fmt_age(age)));
        }
    }
    for l in &r.lag {
        let total = l.total_records.map_or("unknown".to_owned(), |t| format!("{t} rec"));
        out.push_str(&format!("\nlag {}: {total} ({} partitions unknown)\n", l.flow, l.unknown_partitions));
        for p in l.worst.iter().filter(|p| p.records != Some(0)) {
            let rec = p.records.map_or("?".to_owned(), |n| format!("{n} rec"));
            let secs = p.seconds.map_or("?".to_owned(), |s| format!("{s:.1} s"));
            out.push_str(&format!("  {}[{}] {rec} {secs}\n", p.topic, p.partition));
        }
    }
    if !a.violations.is_empty() {
        out.push_str("\nRULES BROKEN\n");
        for v in &a.violations {
            out.push_str(&format!("  {}: {} (since {})\n", v.rule.statement(), v.detail, v.since.format("%H:%M:%S")));
        }
    }
    out.push_str(&format!("\nexit {}\n", r.exit_code));
    out
}
