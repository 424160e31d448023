//! The assessment in the Prometheus exposition format (OpenMetrics text,
//! through `prometheus-client`). Nothing is judged here: every figure is a
//! field of `check::Report`, the same report `check --json` prints.
//!
//! A figure kdrill does not know (lag of a flow never read, workers of an
//! MM2 not observed, a heartbeat never seen) is *absent*, never 0: a 0 would
//! read as "no lag" or "no workers". Alert on `absent(...)` for those.
//! States (a side's role, a connector's or task's state, the verdict's
//! level) are state sets: one series per possible state, 1 for the current.

use super::drill::DrillStatus;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::assess::drift::TopicDrift;
use crate::assess::mm2::Mm2ProblemKind;
use crate::assess::platform::DisagreementKind;
use crate::assess::rules::Rule;
use crate::check::Report;
use crate::model::age_secs;

type Labels = Vec<(String, String)>;
type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;

/// The roles `check` reports, lower-cased as label values.
const ROLES: [&str; 4] = ["active", "passive", "idle", "unknown"];
/// Kafka Connect's states of connectors and tasks.
const CONNECT_STATES: [&str; 6] = ["UNASSIGNED", "RUNNING", "PAUSED", "FAILED", "RESTARTING", "STOPPED"];
const LEVELS: [&str; 4] = ["ok", "unknown", "warn", "alarm"];
/// The kinds of difference `assess::drift` compares.
const DRIFT_KINDS: [&str; 5] = ["missing", "partitions", "replication-factor", "min-insync-replicas", "cleanup-policy"];
/// Topics named in per-topic drift series, at most: a DR missing thousands
/// of mirrors must not make thousands of series. The counts are complete.
const DRIFT_TOPICS_NAMED: usize = 50;

/// A flow as a label value: `DC→DR` reads `dc-dr`.
pub fn flow_label(flow: &str) -> String {
    flow.replace('→', "-").to_lowercase()
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Gauges registered by name, in the order they are first set. Counters
/// are not used: `promtool check metrics` lints the classic text format,
/// whose counters are named differently from OpenMetrics' (`_total`).
struct Sink {
    families: Vec<(&'static str, &'static str, Gauges)>,
}

impl Sink {
    fn set(&mut self, name: &'static str, help: &'static str, pairs: &[(&str, &str)], value: f64) {
        let family = match self.families.iter().position(|(n, _, _)| *n == name) {
            Some(i) => &self.families[i].2,
            None => {
                self.families.push((name, help, Gauges::default()));
                &self.families[self.families.len() - 1].2
            }
        };
        family.get_or_create(&labels(pairs)).set(value);
    }
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The report as Prometheus text.
pub fn render(r: &Report) -> String {
    render_with_drill(r, None)
}

/// As [`render`], with the drill in progress (from the drill topic).
pub fn render_with_drill(r: &Report, d: Option<&DrillStatus>) -> String {
    let now = r.observed_at;
    let mut s = Sink { families: Vec::new() };
    if let Some(d) = d {
        drill(&mut s, d, now);
    }
    for level in LEVELS {
        s.set(
            "kdrill_verdict_level",
            "The verdict's level, 1 for the current one",
            &[("level", level)],
            flag(r.level == level),
        );
    }
    s.set(
        "kdrill_check_exit_code",
        "What `kdrill check` would exit with: 0 holds, 1 a person is needed, 2 unobserved",
        &[],
        r.exit_code as f64,
    );
    for side in &r.sides {
        let name = side.side.to_lowercase();
        let role = side.role.to_lowercase();
        for candidate in ROLES {
            s.set(
                "kdrill_side_role",
                "Each side's observed role, 1 for the current one",
                &[("side", &name), ("role", candidate)],
                flag(role == candidate),
            );
        }
        if let Some(declared) = &side.declared_role {
            s.set(
                "kdrill_side_declared_role",
                "The role the configuration declares for the side",
                &[("side", &name), ("role", &declared.to_lowercase())],
                1.0,
            );
        }
        s.set("kdrill_side_reachable", "1 while the side's cluster answers", &[("side", &name)], flag(side.reachable));
        s.set(
            "kdrill_side_stale",
            "1 while the side's data is older than stale_after or missing",
            &[("side", &name)],
            flag(side.stale),
        );
        if let Some(at) = side.observed_at {
            s.set(
                "kdrill_side_observation_age_seconds",
                "Age of the data the side's judgement rests on",
                &[("side", &name)],
                age_secs(at, now),
            );
        }
        if let (Some(up), Some(known)) = (side.brokers_up, side.brokers_known) {
            s.set("kdrill_side_brokers_up", "Brokers of the side that answer", &[("side", &name)], up as f64);
            s.set("kdrill_side_brokers", "Brokers of the side known from metadata", &[("side", &name)], known as f64);
        }
        if !side.stale {
            s.set(
                "kdrill_consumer_groups_stalled",
                "Application consumer groups of the side that are behind and do not move",
                &[("side", &name)],
                side.groups.iter().filter(|g| g.stalled_since.is_some()).count() as f64,
            );
        }
        for skipped in &side.skipped_records {
            s.set(
                "kdrill_mm2_records_skipped",
                "Records of MM2's topics kdrill skipped as undecodable since it started",
                &[("side", &name), ("topic", &skipped.topic)],
                skipped.count as f64,
            );
        }
        collector(&mut s, &name, &side.collector, side.last_poll_unread.as_deref());
    }
    for m in &r.mm2 {
        let flow = flow_label(&m.flow);
        let dep: [(&str, &str); 2] = [("deployment", &m.name), ("flow", &flow)];
        for c in &m.connectors {
            for state in CONNECT_STATES {
                s.set(
                    "kdrill_mm2_connector_state",
                    "Each MM2 connector's state, 1 for the current one",
                    &[dep[0], dep[1], ("connector", &c.name), ("state", state)],
                    flag(c.state == state),
                );
            }
            for (task, task_state) in &c.tasks {
                let task = task.to_string();
                for state in CONNECT_STATES {
                    s.set(
                        "kdrill_mm2_task_state",
                        "Each MM2 task's state, 1 for the current one",
                        &[dep[0], dep[1], ("connector", &c.name), ("task", &task), ("state", state)],
                        flag(task_state == state),
                    );
                }
            }
        }
        if let Some(n) = m.workers_alive {
            s.set("kdrill_mm2_workers", "Live members of the MM2 Connect worker group", &dep, n as f64);
        }
        if let Some(n) = m.pods {
            s.set("kdrill_mm2_pods", "MM2 pods on the side it runs on (Kubernetes observed)", &dep, n as f64);
        }
        if let Some(ready) = m.cr_ready {
            s.set("kdrill_mm2_resource_ready", "The KafkaMirrorMaker2 resource's Ready condition", &dep, flag(ready));
        }
        if let Some(age) = m.heartbeat_age_secs {
            s.set("kdrill_mm2_heartbeat_age_seconds", "Age of the newest MM2 heartbeat of the flow", &dep, age);
        }
        if let Some(age) = m.checkpoint_age_secs {
            s.set("kdrill_mm2_checkpoint_age_seconds", "Age of the newest MM2 checkpoint of the flow", &dep, age);
        }
        disagreements(&mut s, m, &dep);
        if let Some(at) = m.observed_at {
            s.set(
                "kdrill_mm2_observation_age_seconds",
                "Age of the older of the workers' and connectors' observations",
                &dep,
                age_secs(at, now),
            );
        }
        s.set("kdrill_mm2_problems", "Problems kdrill sees with the MM2 deployment", &dep, m.problems.len() as f64);
        s.set(
            "kdrill_mm2_stalled",
            "1 while the flow runs, is behind and its committed progress does not move",
            &dep,
            flag(m.problems.iter().any(|p| p.kind == Mm2ProblemKind::Stalled.as_str())),
        );
    }
    for p in &r.kubernetes {
        let side = p.side.to_lowercase();
        s.set(
            "kdrill_kubernetes_reachable",
            "1 while the side's Kubernetes API server answers",
            &[("side", &side)],
            flag(p.unreachable.is_none()),
        );
        if let Some(at) = p.mm2_pods_observed_at {
            s.set(
                "kdrill_kubernetes_observation_age_seconds",
                "Age of the side's Kubernetes observation of MM2 pods",
                &[("side", &side)],
                age_secs(at, now),
            );
        }
        if p.unreachable.is_none() {
            s.set(
                "kdrill_kubernetes_read_failures",
                "Collections (MM2 resources, pods, workloads) kdrill cannot read from the side's API server",
                &[("side", &side)],
                p.refusals.len() as f64,
            );
        }
        if let Some(n) = p.workloads_ready {
            s.set(
                "kdrill_workloads_ready_replicas",
                "Ready replicas of the declared application workloads",
                &[("side", &side)],
                n as f64,
            );
        }
        if let Some(n) = p.workloads_desired {
            s.set(
                "kdrill_workloads_desired_replicas",
                "Desired replicas of the declared application workloads",
                &[("side", &side)],
                n as f64,
            );
        }
    }
    for l in &r.lag {
        let flow = flow_label(&l.flow);
        let f = [("flow", flow.as_str())];
        s.set(
            "kdrill_replication_flow_live",
            "1 for the flow whose lag matters now (it leaves the active side)",
            &f,
            flag(l.live),
        );
        if let Some(n) = l.total_records {
            s.set(
                "kdrill_replication_lag_records",
                "Records of the flow's source not yet replicated, all partitions",
                &f,
                n as f64,
            );
        }
        if let Some(secs) = l.max_seconds {
            s.set("kdrill_replication_lag_seconds", "Age of the oldest unreplicated record of the flow", &f, secs);
        }
        for p in &l.worst {
            let partition = p.partition.to_string();
            let at = [f[0], ("topic", p.topic.as_str()), ("partition", partition.as_str())];
            if let Some(n) = p.records {
                s.set(
                    "kdrill_replication_partition_lag_records",
                    "Records not yet replicated, for the flow's most lagging partitions only (at most 5)",
                    &at,
                    n as f64,
                );
            }
            if let Some(secs) = p.seconds {
                s.set(
                    "kdrill_replication_partition_lag_seconds",
                    "Age of the oldest unreplicated record, for the flow's most lagging partitions only (at most 5)",
                    &at,
                    secs,
                );
            }
        }
        s.set(
            "kdrill_replication_lag_unknown_partitions",
            "Partitions of the flow whose lag is unknown",
            &f,
            l.unknown_partitions as f64,
        );
        if let Some(at) = l.observed_at {
            s.set(
                "kdrill_replication_lag_observation_age_seconds",
                "Age of the observation the flow's lag rests on",
                &f,
                age_secs(at, now),
            );
        }
    }
    let rules_checked = r.rules_unchecked_because.is_empty();
    drift(&mut s, &r.drift, rules_checked);
    s.set("kdrill_rules_checked", "1 when the rules could be checked (both sides fresh)", &[], flag(rules_checked));
    for rule in Rule::ALL {
        let broken = r.violations.iter().any(|v| v.id == rule.as_str());
        // Unchecked rules are unknown, not kept: only a broken one is shown.
        if broken || rules_checked {
            s.set(
                "kdrill_rule_violation",
                "1 while the runbook's rule is broken",
                &[("rule", rule.as_str())],
                flag(broken),
            );
        }
    }
    let mut registry = Registry::default();
    for (name, help, family) in s.families {
        registry.register(name, help, family);
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

/// How the side's collector fares, once it has polled (the demo world has
/// no collector: nothing, rather than zeros). The last poll's unread parts
/// only while the cluster answers: before, they are not known.
fn collector(s: &mut Sink, side: &str, c: &crate::model::PollCounts, last_poll_unread: Option<&[String]>) {
    if c.polls == 0 {
        return;
    }
    let at = [("side", side)];
    s.set(
        "kdrill_kafka_failing_polls",
        "Polls in a row the side's cluster did not answer (0 while it answers)",
        &at,
        f64::from(c.failing),
    );
    if let Some(unread) = last_poll_unread {
        s.set(
            "kdrill_kafka_section_errors",
            "Parts of the last poll that could not be read (each keeps its last good value)",
            &at,
            unread.len() as f64,
        );
    }
    if let Some(n) = c.requests_per_poll {
        s.set(
            "kdrill_kafka_requests_per_poll",
            "Requests one poll sends the side's cluster, over the last polls (librdkafka's statistics)",
            &at,
            n,
        );
    }
}

/// Each disagreement between two sources of an MM2 deployment, 1 while
/// it lasts. None served when they agree, or could not be compared (the
/// sources were not fresh): a 0 would claim a comparison not made.
fn disagreements(s: &mut Sink, m: &crate::check::Mm2Report, dep: &[(&str, &str); 2]) {
    for kind in DisagreementKind::ALL.map(DisagreementKind::as_str) {
        if m.problems.iter().any(|p| p.kind == kind) {
            s.set(
                "kdrill_mm2_disagreement",
                "1 while two sources disagree on the MM2 deployment (resource, pods, Connect's topics)",
                &[dep[0], dep[1], ("kind", kind)],
                1.0,
            );
        }
    }
}

/// The shared drill: its plan and state, its step, each gate of the step.
fn drill(s: &mut Sink, d: &DrillStatus, now: crate::model::Ts) {
    if let Some(at) = d.observed_at {
        s.set(
            "kdrill_drill_observation_age_seconds",
            "Age of the last read of the drill topic to its end: the drill is as of then",
            &[("plan", &d.plan)],
            age_secs(at, now),
        );
    }
    for state in ["in-progress", "finished", "aborted"] {
        s.set(
            "kdrill_drill_state",
            "The latest shared drill's state, 1 for the current one",
            &[("plan", &d.plan), ("state", state)],
            flag(d.state == state),
        );
    }
    s.set("kdrill_drill_steps", "Steps in the latest shared drill's plan", &[("plan", &d.plan)], d.steps as f64);
    // Compared only while both sides' drill topics are followed.
    if d.disagreement.is_some() || d.shared_on.len() == 2 {
        s.set(
            "kdrill_drill_sources_disagree",
            "1 while the two sides' drill topics, or the leases on them, differ",
            &[("plan", &d.plan)],
            flag(d.disagreement.is_some()),
        );
    }
    if let Some(step) = d.step {
        s.set("kdrill_drill_step", "The current step of the shared drill, from 1", &[("plan", &d.plan)], step as f64);
    }
    for g in &d.gates {
        for state in ["yes", "no", "unknown"] {
            s.set(
                "kdrill_drill_gate",
                "Each precondition of the current drill step, 1 for its observed state",
                &[("gate", &g.label), ("state", state)],
                flag(g.state == state),
            );
        }
    }
}

/// Drift as counts per kind of difference, and per topic for the first
/// `DRIFT_TOPICS_NAMED` drifting topics. Drift is judged on fresh sides
/// only: the counts (0 included) are shown when both sides are fresh.
fn drift(s: &mut Sink, drift: &[TopicDrift], sides_fresh: bool) {
    for kind in DRIFT_KINDS.iter().copied().filter(|_| sides_fresh) {
        let topics = drift.iter().filter(|d| d.differences.iter().any(|x| x.kind == kind)).count();
        s.set(
            "kdrill_topic_drift_topics",
            "Application topics whose mirror differs, by kind of difference",
            &[("difference", kind)],
            topics as f64,
        );
    }
    for d in drift.iter().take(DRIFT_TOPICS_NAMED) {
        let target = d.target.to_string().to_lowercase();
        for x in &d.differences {
            s.set(
                "kdrill_topic_drift",
                "1 for each difference between an application topic and its mirror (first topics only)",
                &[
                    ("topic", &d.topic),
                    ("target", &target),
                    ("difference", x.kind),
                    ("blocking", &x.blocking.to_string()),
                ],
                1.0,
            );
        }
    }
}
