//! The report of a drill, from its journal alone: a timeline of steps with
//! their evidence, the RTO and RPO, alarms, confirmations, actions, and the
//! journal's own health. Pure: records in, `Report` out; no clock, no
//! unordered iteration, so the same journal always gives the same bytes.
//! `to_markdown` reads well pasted into a ticket; `to_json` is for tools.

mod markdown;

use serde::Serialize;

use crate::action::Action;
use crate::drill::journal::{Record, Recovered};
use crate::drill::{DrillEvent, Evidence, Plan, PlanKind, TopicLag};
use crate::model::{Flow, Ts};

pub use markdown::to_markdown;

/// Bumped when a field of the JSON report changes meaning or goes away.
pub const REPORT_FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub report_format: u32,
    pub drill: String,
    pub plan: PlanKind,
    pub outcome: Outcome,
    pub started_at: Ts,
    /// When it finished or was aborted; the last event's time otherwise.
    pub ended_at: Ts,
    pub hold_ms: i64,
    pub config: String,
    /// `user@host` of everyone who acted, in order of first appearance.
    pub operators: Vec<String>,
    pub steps: Vec<StepReport>,
    pub rto: Rto,
    pub rpo: Rpo,
    pub alarms: Vec<Alarm>,
    pub confirmations: Vec<Confirmation>,
    pub actions: Vec<ActionReport>,
    /// Where each stopped flow's mirrored data ended (the reverse flow's
    /// start), as recorded when its MM2 stop completed.
    pub mirror_ends: Vec<MirrorEndsReport>,
    /// Departures from the plan kdrill guided: steps done without kdrill's
    /// action, actions that failed. kdrill has no way to force a gate.
    pub overrides: Vec<String>,
    /// The drill changed drivers: a console took over a stale lease.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub takeovers: Vec<Takeover>,
    /// A failed pre-flight passed by an operator's typed override, with
    /// every condition that failed then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preflight_override: Option<PreflightOverride>,
    /// Copy-back figures observed while the reverse flow ran, and whether
    /// an operator accepted them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copy_back: Vec<CopyBackReport>,
    pub journal: JournalFacts,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Takeover {
    pub at: Ts,
    pub from: String,
    pub by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PreflightOverride {
    pub step: usize,
    pub at: Ts,
    pub by: Option<String>,
    pub confirmed_as: String,
    pub failed: Vec<Evidence>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CopyBackReport {
    pub step: usize,
    pub flow: String,
    /// Observed while the flow ran (absent: accepted before it started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<CopyBackObserved>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<CopyBackAccepted>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CopyBackObserved {
    pub records: u64,
    pub partitions: usize,
    pub at: Ts,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CopyBackAccepted {
    pub records: u64,
    pub at: Ts,
    pub by: Option<String>,
    pub confirmed_as: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Outcome {
    Finished,
    Aborted {
        reason: String,
    },
    /// The journal ends mid-drill (still running, or never resumed).
    InProgress,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepReport {
    pub number: usize,
    pub title: String,
    /// When the step became current: the previous step done (or the start).
    pub opened_at: Option<Ts>,
    pub done_at: Option<Ts>,
    pub duration_ms: Option<i64>,
    /// From opening to the operator's last act in the step (action request
    /// or confirmation): time the step waited on people.
    pub operator_ms: Option<i64>,
    /// From then to done: time the step waited on its gate, hold included.
    pub gate_ms: Option<i64>,
    /// When the gate began holding.
    pub held_since: Option<Ts>,
    pub by: Vec<String>,
    pub evidence: Vec<Evidence>,
    pub lag: Vec<TopicLag>,
    /// Passed by an operator's override: `evidence` is what failed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub overridden: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rto {
    /// The first application stop on the old active side: kdrill's request,
    /// else the moment their absence was first observed.
    pub from: Option<Ts>,
    pub from_source: Option<String>,
    /// Applications first observed serving on the new active side (the
    /// start of the hold that completed that step).
    pub to: Option<Ts>,
    pub ms: Option<i64>,
    /// Of which the steps in between waited on operators, and on gates.
    pub operator_ms: i64,
    pub gate_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rpo {
    pub flow: String,
    /// When replication was observed stopped; `None` if it never was.
    pub observed_at: Option<Ts>,
    /// What was not replicated then, per topic.
    pub topics: Vec<TopicLag>,
    /// Sum over topics; `None` if any topic's lag was unknown (or no stop).
    pub records: Option<u64>,
    /// The oldest unreplicated record's age: the span the loss covers.
    pub seconds: Option<f64>,
}

impl Rpo {
    /// Replication stopped with nothing left behind, observed.
    pub fn is_zero(&self) -> bool {
        self.observed_at.is_some() && self.records == Some(0)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alarm {
    pub rule: String,
    pub statement: String,
    pub subject: String,
    pub detail: String,
    pub raised_at: Ts,
    pub cleared_at: Option<Ts>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Confirmation {
    pub step: usize,
    pub item: String,
    pub at: Ts,
    pub by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionReport {
    pub step: usize,
    /// The exact request, as journaled.
    pub request: Action,
    pub label: String,
    pub requested_at: Ts,
    pub by: Option<String>,
    /// The exact requests previewed and confirmed, and what was typed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_as: Option<String>,
    pub result: Option<ActionResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MirrorEndsReport {
    pub flow: crate::model::Flow,
    pub partitions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
    pub at: Ts,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionResult {
    pub ok: bool,
    pub detail: String,
    pub at: Ts,
    /// Each request's answer, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<crate::action::RequestResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JournalFacts {
    pub records: usize,
    /// Lines a crash tore, each found on resume (or still the last line).
    pub torn_lines: Vec<usize>,
    pub first_written_at: Option<Ts>,
    pub last_written_at: Option<Ts>,
}

/// A step's completion as journaled: when, held since, evidence, lag.
type Completed = (Ts, Option<Ts>, Vec<Evidence>, Vec<TopicLag>);

/// Builds the report of the drill a journal holds; `Err` when the journal
/// holds no drill start.
pub fn build(journal: &Recovered) -> Result<Report, String> {
    let records = &journal.records;
    let Some(first) = records.first() else {
        return Err("the journal holds no event".into());
    };
    let DrillEvent::Started { plan: kind, at: started_at, hold_ms, checklist, config, preflight_lag, .. } =
        &first.event
    else {
        return Err("the journal does not begin with a drill start".into());
    };
    let plan = Plan::with_preflight_lag(*kind, checklist, preflight_lag.unwrap_or(crate::drill::DEFAULT_PREFLIGHT_LAG));
    let who = |r: &Record| r.who.as_ref().map(|w| w.label());

    let mut operators: Vec<String> = Vec::new();
    let mut alarms: Vec<Alarm> = Vec::new();
    let mut confirmations = Vec::new();
    let mut actions: Vec<ActionReport> = Vec::new();
    let mut done: Vec<Option<Completed>> = vec![None; plan.steps.len()];
    let mut acts: Vec<Vec<(Ts, Option<String>)>> = vec![Vec::new(); plan.steps.len()];
    let mut stopped: Option<(Flow, Vec<TopicLag>, Ts)> = None;
    let mut outcome = Outcome::InProgress;
    let mut mirror_ends = Vec::new();
    let mut takeovers = Vec::new();
    let mut ended_at = *started_at;
    let mut preflight_override = None;
    let mut copy_back: Vec<CopyBackReport> = Vec::new();

    for r in records {
        if let Some(w) = who(r).filter(|w| !operators.contains(w)) {
            operators.push(w);
        }
        ended_at = ended_at.max(r.event.at());
        match &r.event {
            DrillEvent::Started { .. } => {}
            DrillEvent::ActionRequested { step, action, at, requests, confirmed_as } => {
                if let Some(a) = acts.get_mut(*step) {
                    a.push((*at, who(r)));
                }
                actions.push(ActionReport {
                    step: step + 1,
                    request: action.clone(),
                    label: action.label(),
                    requested_at: *at,
                    by: who(r),
                    requests: requests.clone(),
                    confirmed_as: confirmed_as.clone(),
                    result: None,
                });
            }
            DrillEvent::ActionOutcome { step, ok, detail, at, results } => {
                let pending = actions.iter_mut().rev().find(|a| a.step == step + 1 && a.result.is_none());
                if let Some(a) = pending {
                    let results = results.clone();
                    a.result = Some(ActionResult { ok: *ok, detail: detail.clone(), at: *at, results });
                }
            }
            DrillEvent::Confirmed { step, item, at } => {
                if let Some(a) = acts.get_mut(*step) {
                    a.push((*at, who(r)));
                }
                let text = plan.steps.get(*step).and_then(|s| s.checklist.get(*item)).cloned().unwrap_or_default();
                confirmations.push(Confirmation { step: step + 1, item: text, at: *at, by: who(r) });
            }
            DrillEvent::StepCompleted { step, at, evidence, held_since, lag } => {
                if let Some(slot) = done.get_mut(*step) {
                    *slot = Some((*at, *held_since, evidence.clone(), lag.clone()));
                }
            }
            DrillEvent::RuleViolated { rule, subject, detail, at } => alarms.push(Alarm {
                rule: rule.as_str().to_owned(),
                statement: rule.statement().to_owned(),
                subject: subject.clone(),
                detail: detail.clone(),
                raised_at: *at,
                cleared_at: None,
            }),
            DrillEvent::RuleCleared { rule, subject, at } => {
                let open = alarms
                    .iter_mut()
                    .rev()
                    .find(|a| a.rule == rule.as_str() && &a.subject == subject && a.cleared_at.is_none());
                if let Some(a) = open {
                    a.cleared_at = Some(*at);
                }
            }
            DrillEvent::ReplicationStopped { flow, lag, at } => {
                if stopped.is_none() {
                    stopped = Some((*flow, lag.clone(), *at));
                }
            }
            DrillEvent::MirrorEnded { flow, ends, unknown, at } => {
                // Recorded again after a crash before its step completed: the last counts.
                mirror_ends.retain(|m: &MirrorEndsReport| m.flow != *flow);
                mirror_ends.push(MirrorEndsReport {
                    flow: *flow,
                    partitions: ends.len(),
                    unknown: unknown.clone(),
                    at: *at,
                })
            }
            DrillEvent::Aborted { reason, .. } => outcome = Outcome::Aborted { reason: reason.clone() },
            DrillEvent::TakenOver { from, at } => takeovers.push(Takeover { at: *at, from: from.clone(), by: who(r) }),
            DrillEvent::PreflightOverridden { step, failed, confirmed_as, at } => {
                if let Some(a) = acts.get_mut(*step) {
                    a.push((*at, who(r)));
                }
                if let Some(slot) = done.get_mut(*step) {
                    *slot = Some((*at, None, failed.clone(), Vec::new()));
                }
                preflight_override = Some(PreflightOverride {
                    step: step + 1,
                    at: *at,
                    by: who(r),
                    confirmed_as: confirmed_as.clone(),
                    failed: failed.clone(),
                });
            }
            DrillEvent::CopyBackObserved { step, flow, records, partitions, at } => {
                let seen = CopyBackObserved { records: *records, partitions: *partitions, at: *at };
                match copy_back.iter_mut().find(|c| c.step == step + 1) {
                    Some(c) => c.observed = Some(seen),
                    None => copy_back.push(CopyBackReport {
                        step: step + 1,
                        flow: flow.to_string(),
                        observed: Some(seen),
                        accepted: None,
                    }),
                }
            }
            DrillEvent::CopyBackAccepted { step, flow, records, confirmed_as, at } => {
                if let Some(a) = acts.get_mut(*step) {
                    a.push((*at, who(r)));
                }
                let accepted =
                    CopyBackAccepted { records: *records, at: *at, by: who(r), confirmed_as: confirmed_as.clone() };
                match copy_back.iter_mut().find(|c| c.step == step + 1) {
                    Some(c) => c.accepted = Some(accepted),
                    None => copy_back.push(CopyBackReport {
                        step: step + 1,
                        flow: flow.to_string(),
                        observed: None,
                        accepted: Some(accepted),
                    }),
                }
            }
        }
    }
    if outcome == Outcome::InProgress && done.iter().all(Option::is_some) {
        outcome = Outcome::Finished;
    }

    let ms = |from: Ts, to: Ts| (to - from).num_milliseconds();
    let mut steps = Vec::new();
    let mut opened = Some(*started_at);
    for (i, step) in plan.steps.iter().enumerate() {
        let finished = done[i].clone();
        let last_act = acts[i].iter().map(|(t, _)| *t).filter(|t| finished.as_ref().is_none_or(|f| *t <= f.0)).max();
        let mut by: Vec<String> = Vec::new();
        for w in acts[i].iter().filter_map(|(_, w)| w.clone()) {
            if !by.contains(&w) {
                by.push(w);
            }
        }
        let (done_at, held_since, evidence, lag) = match finished {
            Some((at, held, ev, lag)) => (Some(at), held, ev, lag),
            None => (None, None, Vec::new(), Vec::new()),
        };
        let (operator_ms, gate_ms) = match (opened, done_at) {
            (Some(o), Some(d)) => {
                let acted = last_act.map_or(o, |t| t.max(o));
                (Some(ms(o, acted)), Some(ms(acted, d)))
            }
            _ => (None, None),
        };
        steps.push(StepReport {
            number: i + 1,
            title: step.title.clone(),
            opened_at: opened,
            done_at,
            duration_ms: opened.zip(done_at).map(|(o, d)| ms(o, d)),
            operator_ms,
            gate_ms,
            held_since,
            by,
            evidence,
            lag,
            overridden: preflight_override.as_ref().is_some_and(|o: &PreflightOverride| o.step == i + 1),
        });
        opened = done_at;
    }

    let rto = rto(&plan, &steps, &actions);
    let from = kind.from();
    let outgoing = Flow { source: from, target: from.other() };
    let rpo = match stopped {
        Some((flow, topics, at)) => {
            let records = topics.iter().try_fold(0u64, |sum, t| t.records.map(|n| sum + n));
            let seconds =
                topics.iter().filter_map(|t| t.seconds).fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
            Rpo { flow: flow.to_string(), observed_at: Some(at), topics, records, seconds }
        }
        None => Rpo { flow: outgoing.to_string(), observed_at: None, topics: Vec::new(), records: None, seconds: None },
    };
    let mut overrides = Vec::new();
    for (i, s) in plan.steps.iter().enumerate() {
        if let (Some(action), Some(_)) = (&s.action, &steps[i].done_at)
            && !actions.iter().any(|a| a.step == i + 1)
        {
            overrides.push(format!(
                "step {}: done outside kdrill (\"{}\" was never requested here)",
                i + 1,
                action.label()
            ));
        }
    }
    if let Some(o) = &preflight_override {
        let failed: Vec<String> = o.failed.iter().map(|e| format!("{} ({})", e.label, e.observed)).collect();
        overrides.push(format!("step {}: pre-flight OVERRIDDEN while failing: {}", o.step, failed.join("; ")));
    }
    for c in &copy_back {
        match (&c.observed, &c.accepted) {
            (_, Some(a)) => overrides
                .push(format!("step {}: {} rec copied back by {} accepted by the operator", c.step, a.records, c.flow)),
            (Some(o), None) => {
                overrides.push(format!("step {}: {} ran with {} rec to copy back", c.step, c.flow, o.records))
            }
            (None, None) => {}
        }
    }
    for a in &actions {
        if let Some(r) = a.result.as_ref().filter(|r| !r.ok) {
            overrides.push(format!("step {}: {} failed: {}", a.step, a.label, r.detail));
        }
    }
    let mut torn_lines: Vec<usize> = records.iter().filter_map(|r| r.after_torn_line).collect();
    torn_lines.extend(journal.torn.map(|t| t.line));

    Ok(Report {
        report_format: REPORT_FORMAT,
        drill: kind.title().to_owned(),
        plan: *kind,
        outcome,
        started_at: *started_at,
        ended_at,
        hold_ms: *hold_ms,
        config: config.clone(),
        operators,
        steps,
        rto,
        rpo,
        alarms,
        confirmations,
        actions,
        mirror_ends,
        overrides,
        takeovers,
        preflight_override,
        copy_back,
        journal: JournalFacts {
            records: records.len(),
            torn_lines,
            first_written_at: records.first().map(|r| r.written_at),
            last_written_at: records.last().map(|r| r.written_at),
        },
    })
}

/// From the first application stop on the old side to applications seen
/// serving on the new one.
fn rto(plan: &Plan, steps: &[StepReport], actions: &[ActionReport]) -> Rto {
    let from_side = plan.kind.from();
    let to_side = from_side.other();
    let stop_step = plan.steps.iter().position(|s| s.action == Some(Action::StopApps(from_side)));
    let start_step = plan.steps.iter().position(|s| s.action == Some(Action::StartApps(to_side)));
    let requested = stop_step.and_then(|i| actions.iter().find(|a| a.step == i + 1).map(|a| a.requested_at));
    let observed = stop_step.and_then(|i| steps.get(i)).and_then(|s| s.held_since.or(s.done_at));
    let (from, from_source) = match (requested, observed) {
        (Some(t), _) => (Some(t), Some("stop requested by kdrill".to_owned())),
        (None, Some(t)) => (Some(t), Some("no application observed (stopped outside kdrill)".to_owned())),
        (None, None) => (None, None),
    };
    let to = start_step.and_then(|i| steps.get(i)).and_then(|s| s.held_since.or(s.done_at));
    let ms = from.zip(to).map(|(f, t)| (t - f).num_milliseconds());
    // Each step's time splits at the operator's last act: before it the
    // step waited on people, after it on its gate. Clipped to the RTO.
    let operator_ms = match from.zip(to) {
        Some((f, t)) => steps
            .iter()
            .filter_map(|s| {
                let opened = s.opened_at?;
                let acted = opened + chrono::TimeDelta::milliseconds(s.operator_ms?);
                let (a, b) = (opened.max(f), acted.min(t));
                Some((b - a).num_milliseconds().max(0))
            })
            .sum(),
        None => 0,
    };
    Rto { from, from_source, to, ms, operator_ms, gate_ms: ms.map_or(0, |m| m - operator_ms) }
}

/// The report as JSON, pretty-printed, ending with a newline.
pub fn to_json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
