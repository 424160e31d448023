//! `kdrill check`: one headless judgement of the pair, for cron, CI gates
//! and monitoring. Prints a summary or JSON; the exit code is the verdict's
//! standing: all is well (0); a person is needed — a rule broken, lag too
//! high, unknown or ahead of the source, an MM2 connector or task FAILED,
//! Kubernetes and Kafka disagreeing (1); or the pair could not be observed
//! (2). Nothing is judged
//! here: every figure and verdict comes from the assessment.

mod groups;

use serde::Serialize;

pub use groups::{GroupLagReport, GroupPartitionLag, GroupWarning, PartitionTranslation, TranslationReport};

use crate::assess::{Assessment, Freshness, Health, Standing, Truth, fmt_age};
use crate::model::{Link, Side, Ts, age_secs};

#[derive(Debug, Serialize)]
pub struct Report {
    pub observed_at: Ts,
    pub verdict: String,
    /// `ok`, `unknown`, `warn` or `alarm`, as the console's header shows it.
    pub level: &'static str,
    /// `holds`, `fails` or `unobserved`: what the exit code says.
    pub standing: &'static str,
    pub exit_code: i32,
    /// The flow whose lag the console shows first (its MM2 runs, or it
    /// leaves the active side).
    pub live_flow: Option<String>,
    pub sides: Vec<SideReport>,
    pub mm2: Vec<Mm2Report>,
    /// Each side's Kubernetes, for the sides where one is configured.
    pub kubernetes: Vec<PlatformReport>,
    pub lag: Vec<LagReport>,
    pub violations: Vec<ViolationReport>,
    /// Application topics whose mirror differs: each difference with a
    /// stable kind and whether it blocks (missing, fewer partitions).
    pub drift: Vec<crate::assess::drift::TopicDrift>,
    /// For each stopped flow, what its reverse flow would copy back if
    /// started now (from its committed offsets to the stopped flow's data
    /// ends) and the orphan tail left on the old primary.
    pub failback: Vec<FailbackReport>,
    /// Why the rules could not be checked (a side's data not fresh): an
    /// empty `violations` then proves nothing.
    pub rules_unchecked_because: Vec<String>,
    /// For every configured flow, where each application group of its
    /// source would resume on its target, from MM2's checkpoints there.
    pub translations: Vec<TranslationReport>,
    /// Groups of the flow out of the active side (else the live flow) that
    /// cannot be translated as they are: warnings, they do not change the
    /// exit code.
    pub group_warnings: Vec<GroupWarning>,
}

#[derive(Debug, Serialize)]
pub struct SideReport {
    pub side: String,
    pub alias: String,
    pub reachable: bool,
    /// Why the cluster does not answer, in words (never a secret).
    pub unreachable_because: Option<String>,
    /// How kdrill connects: `SASL_SSL · SCRAM-SHA-512 · user kdrill`
    /// (null: plaintext).
    pub security: Option<String>,
    /// Whole days until the server certificate expires, where read.
    pub cert_days_left: Option<i64>,
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
    /// What kdrill could not read of MM2's topics on this side: records
    /// skipped as undecodable per topic, an incomplete last read.
    pub unread: Vec<String>,
    pub skipped_records: Vec<crate::model::SkippedRecords>,
    /// Where the groups' committed offsets came from: "from
    /// __consumer_offsets", or "per-group requests (why)".
    pub group_offsets: Option<String>,
    /// How the collector fares (after one poll for `check`): `polls`,
    /// `failing` (polls in a row unanswered), `section_errors` (parts of
    /// the last answered poll not read, in words), `requests_sent` and
    /// `requests_per_poll` (from librdkafka's statistics; `null` before
    /// their first report).
    pub collector: crate::model::PollCounts,
    /// `collector.section_errors` while polls are answered; `null` while
    /// they are not (then not known).
    pub last_poll_unread: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct GroupReport {
    pub group: String,
    pub class: String,
    pub state: String,
    pub members: usize,
    pub clients: Vec<String>,
    pub hosts: Vec<String>,
    /// Committed offsets against this side's end offsets (null: the group
    /// commits nothing to Kafka, as Connect workers).
    pub lag: Option<GroupLagReport>,
    /// Members connected and behind, committed offsets unchanged since then
    /// for at least `stall_after` (null: not stalled).
    pub stalled_since: Option<Ts>,
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
    /// The older of the workers' and connectors' observations.
    pub observed_at: Option<Ts>,
    pub stale: bool,
    /// From the `KafkaMirrorMaker2` resource, where Kubernetes is observed.
    pub cr_ready: Option<bool>,
    /// The resource's pods on the side it runs on (null: not known fresh,
    /// or that side's Kubernetes is not configured).
    pub pods: Option<usize>,
    pub pods_observed_at: Option<Ts>,
    pub heartbeat_age_secs: Option<f64>,
    /// Age of the newest checkpoint MM2 wrote for the flow, where read.
    pub checkpoint_age_secs: Option<f64>,
    /// What the connectors are configured to do, from Connect's config
    /// topic (null: not read there).
    pub config: Option<crate::assess::mm2_config::Mm2Settings>,
    pub problems: Vec<ProblemReport>,
}

#[derive(Debug, Serialize)]
pub struct PlatformReport {
    pub side: String,
    /// `context dr, namespace kafka`.
    pub source: String,
    /// Why the API server does not answer, when it does not.
    pub unreachable: Option<String>,
    /// MM2 pods on this side, whatever resource owns them (null: unknown).
    pub mm2_pods: Option<usize>,
    pub mm2_pods_observed_at: Option<Ts>,
    /// Each of those pods (empty when unknown): phase, ready, terminating,
    /// restarts, node, created.
    pub mm2_pod_list: Vec<crate::model::Pod>,
    /// Ready and desired replicas of the declared workloads (null: unknown
    /// or none declared).
    pub workloads_ready: Option<i32>,
    pub workloads_desired: Option<i32>,
    pub workloads: Vec<String>,
    /// Sections that could not be read, with why.
    pub refusals: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ProblemReport {
    /// A stable name for the kind of problem (`task-not-running`...).
    pub kind: &'static str,
    pub text: String,
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
    pub live: bool,
    /// `within`, `above` or `unknown` the alarm threshold.
    pub level: &'static str,
    /// Why the level is unknown.
    pub unknown_because: Option<String>,
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
    /// The rule's stable name (`apps-on-both-sides`...).
    pub id: &'static str,
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

pub fn report(a: &Assessment) -> Report {
    let sides = a
        .sides
        .iter()
        .map(|s| SideReport {
            side: s.side.label().into(),
            alias: s.alias.clone(),
            reachable: matches!(s.link, Link::Up { .. }),
            unreachable_because: match &s.link {
                Link::Down { error, .. } => Some(error.clone()),
                _ => None,
            },
            security: s.security.as_ref().map(|v| v.text.clone()),
            cert_days_left: s.security.as_ref().and_then(|v| v.cert_days_left),
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
                    class: g.class.as_str().into(),
                    state: g.state.clone(),
                    members: g.members,
                    clients: g.clients.iter().map(|c| c.to_string()).collect(),
                    hosts: g.hosts.iter().map(|h| h.to_string()).collect(),
                    lag: g.lag.as_ref().map(groups::lag_report),
                    stalled_since: g.stalled_since,
                })
                .collect(),
            unread: s.unread.clone(),
            skipped_records: s.skipped.clone(),
            group_offsets: s.offsets_source.as_ref().map(crate::model::OffsetsSource::describe),
            collector: s.polls.clone(),
            last_poll_unread: s.last_poll_unread().map(<[String]>::to_vec),
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
            observed_at: m.observed_at,
            stale: !m.freshness.is_fresh(),
            cr_ready: m.cr_ready,
            pods: m.platform.as_ref().and_then(|p| p.pods.value()),
            pods_observed_at: m.platform.as_ref().and_then(|p| p.pods_at),
            heartbeat_age_secs: m.heartbeat_mirrored_age.or(m.heartbeat_local_age),
            checkpoint_age_secs: m.last_checkpoint_age,
            config: m.settings.clone(),
            problems: m
                .problems
                .iter()
                .map(|p| ProblemReport { kind: p.kind.as_str(), text: p.text.clone() })
                .collect(),
        })
        .collect();
    let kubernetes = a
        .platforms
        .iter()
        .flatten()
        .map(|p| PlatformReport {
            side: p.side.label().into(),
            source: p.place.clone(),
            unreachable: p.unreachable.clone(),
            mm2_pods: p.mm2_pods.value(),
            mm2_pods_observed_at: p.mm2_pods_at,
            mm2_pod_list: p.mm2_pod_list.clone(),
            workloads_ready: p.apps.as_ref().and_then(|w| w.ready.value()),
            workloads_desired: p.apps.as_ref().and_then(|w| w.desired.value()),
            workloads: p.apps.as_ref().map(|w| w.detail.clone()).unwrap_or_default(),
            refusals: p.refusals.clone(),
        })
        .collect();
    let lag = a
        .lag_that_matters()
        .map(|l| {
            let mut rows: Vec<_> = l.rows.iter().collect();
            // Unknown first (they are the worst news), then by records.
            rows.sort_by_key(|r| std::cmp::Reverse(r.records.map_or(i64::MAX, |n| n)));
            LagReport {
                flow: l.flow.to_string(),
                live: a.live_flow == Some(l.flow),
                level: l.level.as_str(),
                unknown_because: match &l.level {
                    crate::assess::LagLevel::Unknown(why) => Some(why.clone()),
                    _ => None,
                },
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
        .map(|v| ViolationReport {
            id: v.rule.as_str(),
            rule: v.rule.statement().into(),
            detail: v.detail.clone(),
            since: v.since,
        })
        .collect();
    Report {
        observed_at: a.now,
        verdict: a.verdict.text.clone(),
        level: a.verdict.level.as_str(),
        standing: a.verdict.standing.as_str(),
        exit_code: exit_code(a),
        live_flow: a.live_flow.map(|f| f.to_string()),
        sides,
        mm2,
        kubernetes,
        lag,
        violations,
        drift: a.drift.clone(),
        failback: a.failback.iter().map(failback_report).collect(),
        rules_unchecked_because: a.rules_unchecked_because(),
        translations: a.translations.iter().map(groups::translation_report).collect(),
        group_warnings: groups::warnings(a),
    }
}

/// One reverse flow's figures before it starts: totals, per topic, per
/// partition. A figure is `null` when it is not known, with why.
#[derive(Debug, Serialize)]
pub struct FailbackReport {
    /// The reverse flow (`DR→DC`): its opposite is stopped.
    pub flow: String,
    /// Records it would copy again into its target.
    pub copy_back_records: Option<u64>,
    pub copy_back_unknown: Option<String>,
    /// When its committed offsets (the figure's base) were read.
    pub committed_offsets_at: Option<Ts>,
    /// Records on its target (the old primary) never replicated.
    pub orphan_records: Option<u64>,
    pub orphans_unknown: Option<String>,
    pub topics: Vec<crate::assess::FailbackTopic>,
    pub partitions: Vec<crate::assess::FailbackPartition>,
}

fn failback_report(f: &crate::assess::Failback) -> FailbackReport {
    FailbackReport {
        flow: f.flow.to_string(),
        copy_back_records: f.copy_back(),
        copy_back_unknown: f.copy_back_unknown.clone(),
        committed_offsets_at: f.committed_at,
        orphan_records: f.orphans(),
        orphans_unknown: f.orphans_unknown.clone(),
        topics: f.topics(),
        partitions: f.partitions.clone(),
    }
}

/// Most partitions whose first unreplicated record is read, per side: those
/// furthest behind (one record fetched each).
const UNAGED_MAX: usize = 1000;

/// `(topic, partition, offset)` of one cluster.
pub type PartitionOffsets = Vec<(String, i32, i64)>;

/// Where a flow is behind and its lag could not be aged from history: per
/// source side, each partition's first unreplicated offset, furthest
/// behind first — what `check` reads the record times of.
pub fn unaged_lag(a: &Assessment) -> Vec<(Side, PartitionOffsets)> {
    Side::BOTH
        .into_iter()
        .filter_map(|side| {
            let mut behind: Vec<_> = a
                .lag_that_matters()
                .filter(|l| l.flow.source == side)
                .flat_map(|l| &l.rows)
                .filter(|r| r.seconds.is_none())
                .filter_map(|r| match (r.records, r.replicated) {
                    (Some(n @ 1..), Some(rep)) => Some((n, (r.topic.to_string(), r.partition, rep + 1))),
                    _ => None,
                })
                .collect();
            behind.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
            behind.truncate(UNAGED_MAX);
            (!behind.is_empty()).then(|| (side, behind.into_iter().map(|(_, at)| at).collect()))
        })
        .collect()
}

/// The verdict's standing as an exit code: 0 holds, 1 fails (a rule broken,
/// lag above the threshold or unknown), 2 could not be observed.
pub fn exit_code(a: &Assessment) -> i32 {
    match a.verdict.standing {
        Standing::Holds => 0,
        Standing::Fails => 1,
        Standing::Unobserved => 2,
    }
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
        for line in &s.unread {
            out.push_str(&format!("  ! {line}\n"));
        }
        for e in s.last_poll_unread().unwrap_or_default() {
            out.push_str(&format!("  ! not read in the last poll: {e}\n"));
        }
        if let Some(per_group @ crate::model::OffsetsSource::PerGroup(_)) = &s.offsets_source {
            out.push_str(&format!("  group offsets {}\n", per_group.describe()));
        }
        for g in s.groups.iter().filter(|g| g.members > 0) {
            let lag = match g.lag.as_ref().map(|l| l.total) {
                None => String::new(),
                Some(Some(n)) => format!("  lag {n} rec"),
                Some(None) => "  lag unknown".into(),
            };
            out.push_str(&format!(
                "  group {:<24} {:<9} {:<10} {} members  {}{lag}\n",
                g.id,
                g.class.as_str(),
                g.state,
                g.members,
                g.hosts.join(" ")
            ));
        }
    }
    out.push('\n');
    for p in &r.kubernetes {
        let pods = p.mm2_pods.map_or("?".to_owned(), |n| n.to_string());
        out.push_str(&format!("{} Kubernetes ({}): ", p.side, p.source));
        match &p.unreachable {
            Some(why) => out.push_str(&format!("UNREACHABLE: {why}\n")),
            None => out.push_str(&format!("{pods} MM2 pods\n")),
        }
        for w in &p.workloads {
            out.push_str(&format!("  {w}\n"));
        }
        for why in &p.refusals {
            out.push_str(&format!("  ! {why}\n"));
        }
    }
    if !r.kubernetes.is_empty() {
        out.push('\n');
    }
    for (m, mr) in a.mm2.iter().zip(&r.mm2) {
        let workers = m.workers_alive.map_or("?".to_owned(), |n| n.to_string());
        let pods = match (&m.platform, mr.pods) {
            (None, _) => String::new(),
            (Some(_), Some(n)) => format!(", {n} pods"),
            (Some(_), None) => ", ? pods".to_owned(),
        };
        out.push_str(&format!(
            "MM2 {} {} on {}: {}, {workers} workers{pods}\n",
            m.name,
            m.flow,
            m.runs_on,
            m.health.label()
        ));
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
    if !a.drift.is_empty() {
        out.push_str("\ntopic drift\n");
        for x in a.drift.iter().flat_map(|d| &d.differences) {
            out.push_str(&format!("  {} {}\n", if x.blocking { "!" } else { "-" }, x.text));
        }
    }
    if !r.group_warnings.is_empty() {
        out.push_str("\nconsumer groups\n");
        for w in &r.group_warnings {
            out.push_str(&format!("  - {}\n", w.text));
        }
    }
    for f in &r.failback {
        let figure = |n: Option<u64>, why: &Option<String>| match (n, why) {
            (Some(n), _) => format!("{n} rec"),
            (None, Some(why)) => format!("unknown ({why})"),
            (None, None) => "unknown".to_owned(),
        };
        out.push_str(&format!(
            "\nbefore {} starts: would copy back {}; orphan tail {}\n",
            f.flow,
            figure(f.copy_back_records, &f.copy_back_unknown),
            figure(f.orphan_records, &f.orphans_unknown)
        ));
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
