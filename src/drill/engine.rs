//! The drill as a pure state machine. Its state is a fold over an
//! append-only list of `DrillEvent`s, so the journal on disk is the drill:
//! replaying it after a crash gives back the same drill. Only the hold
//! timer is transient, and it restarts on resume (fail closed).

use std::collections::BTreeMap;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::action::Outcome;
use crate::action::{Action, RequestResult};
use crate::assess::Condition;
use crate::assess::failback::{copy_back_eval, failback};
use crate::assess::rules::violation_key;
use crate::assess::{Assessment, Check, Failback, PartitionEnd, Rule, Truth, evaluate};
use crate::model::{Flow, Ts};

use super::evidence::{Evidence, TopicLag, topic_lag};
use super::plan::{DEFAULT_PREFLIGHT_LAG, OVERRIDE_WORD, Plan, PlanKind};

/// One thing that happened in a drill. Serde names are the journal's
/// format: renaming a variant or a field changes what journals say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DrillEvent {
    /// The plan's parameters are recorded so a replay rebuilds the same plan.
    Started {
        plan: PlanKind,
        at: Ts,
        hold_ms: i64,
        checklist: Vec<String>,
        /// A fingerprint of the configuration's non-secret parts, to tell
        /// whether two drills ran with the same settings.
        config: String,
        /// How long after an action its effect must be observed before the
        /// step says it did not come (absent: the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verify_ms: Option<i64>,
        /// The pre-flight's bound on the outgoing flow's lag, in records
        /// (absent: the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preflight_lag: Option<u64>,
    },
    ActionRequested {
        step: usize,
        action: Action,
        at: Ts,
        /// The exact requests previewed and confirmed (never a secret).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        requests: Vec<String>,
        /// What the operator typed to confirm it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirmed_as: Option<String>,
    },
    ActionOutcome {
        step: usize,
        ok: bool,
        detail: String,
        at: Ts,
        /// Each request's answer, in order, with the values read before
        /// changing them (previous replicas, restored later from here).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        results: Vec<RequestResult>,
    },
    Confirmed {
        step: usize,
        item: usize,
        at: Ts,
    },
    StepCompleted {
        step: usize,
        at: Ts,
        evidence: Vec<Evidence>,
        /// When the gate began to hold (observation time): the step waited
        /// on its gate from the operator's last act until here, then held.
        held_since: Option<Ts>,
        /// The drained flow's lag per topic, for the drain and stop-MM2 steps.
        lag: Vec<TopicLag>,
    },
    RuleViolated {
        rule: Rule,
        subject: String,
        detail: String,
        at: Ts,
    },
    /// A violation raised during the drill is no longer observed.
    RuleCleared {
        rule: Rule,
        subject: String,
        at: Ts,
    },
    /// The drill's outgoing flow was first observed stopped, with what it
    /// had not replicated then, per topic: the RPO.
    ReplicationStopped {
        flow: Flow,
        lag: Vec<TopicLag>,
        at: Ts,
    },
    /// Where the stopped flow's mirrored data ends on its target, per
    /// partition, as its stop step completes (written just before that
    /// step's `StepCompleted`; the last one counts): the reverse flow
    /// starts there. `unknown` says why the ends could not be observed.
    MirrorEnded {
        flow: Flow,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ends: Vec<PartitionEnd>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unknown: Option<String>,
        at: Ts,
    },
    Aborted {
        reason: String,
        at: Ts,
    },
    /// This console took the drill over from a driver whose lease had
    /// gone stale (named as `user@host (pid N)`), after a typed
    /// confirmation; the records before it are that driver's.
    TakenOver {
        from: String,
        at: Ts,
    },
    /// The operator passed a failing pre-flight by typing the override
    /// word: `failed` is every condition not observed true at that moment.
    PreflightOverridden {
        step: usize,
        failed: Vec<Evidence>,
        confirmed_as: String,
        at: Ts,
    },
    /// The reverse flow was observed running while its copy-back figure was
    /// not 0: it copies back (or did) records its target already holds.
    CopyBackObserved {
        step: usize,
        flow: Flow,
        records: u64,
        partitions: usize,
        at: Ts,
    },
    /// The operator accepted a copy-back figure by typing it.
    CopyBackAccepted {
        step: usize,
        flow: Flow,
        records: u64,
        confirmed_as: String,
        at: Ts,
    },
}

impl DrillEvent {
    pub fn at(&self) -> Ts {
        match self {
            DrillEvent::Started { at, .. }
            | DrillEvent::ActionRequested { at, .. }
            | DrillEvent::ActionOutcome { at, .. }
            | DrillEvent::Confirmed { at, .. }
            | DrillEvent::StepCompleted { at, .. }
            | DrillEvent::RuleViolated { at, .. }
            | DrillEvent::RuleCleared { at, .. }
            | DrillEvent::ReplicationStopped { at, .. }
            | DrillEvent::MirrorEnded { at, .. }
            | DrillEvent::Aborted { at, .. }
            | DrillEvent::TakenOver { at, .. }
            | DrillEvent::PreflightOverridden { at, .. }
            | DrillEvent::CopyBackObserved { at, .. }
            | DrillEvent::CopyBackAccepted { at, .. } => *at,
        }
    }

    /// An operator did this (the rest is observed): the journal says who.
    pub fn by_operator(&self) -> bool {
        matches!(
            self,
            DrillEvent::Started { .. }
                | DrillEvent::ActionRequested { .. }
                | DrillEvent::Confirmed { .. }
                | DrillEvent::Aborted { .. }
                | DrillEvent::TakenOver { .. }
                | DrillEvent::PreflightOverridden { .. }
                | DrillEvent::CopyBackAccepted { .. }
        )
    }
}

/// How long an action's effect may take to be observed, by default.
pub const DEFAULT_VERIFY: TimeDelta = TimeDelta::seconds(120);

#[derive(Clone, Debug, PartialEq)]
pub enum StepState {
    Done {
        at: Ts,
    },
    /// The step in progress; `held` = seconds every precondition has held.
    Current {
        held: Option<f64>,
    },
    Locked,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepView {
    pub title: String,
    pub state: StepState,
    pub action: Option<Action>,
    pub requested_at: Option<Ts>,
    pub outcome: Option<(bool, String)>,
    /// Live checks for the current step, evidence for done ones.
    pub checks: Vec<Check>,
    pub checklist: Vec<(String, Option<Ts>)>,
    /// The pre-flight was passed by an operator's override while these
    /// conditions failed.
    pub overridden: Option<Vec<Evidence>>,
    /// The step may be passed by `override_preflight` while it fails.
    pub preflight: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DrillView {
    pub kind: PlanKind,
    pub started_at: Ts,
    pub hold_secs: f64,
    pub steps: Vec<StepView>,
    pub current: Option<usize>,
    /// Why the current step cannot complete yet, in one line.
    pub blocked: Option<String>,
    pub aborted: Option<String>,
    /// Seconds the current step has held so far, while its hold runs: every
    /// precondition observed true and every manual item confirmed.
    pub holding: Option<f64>,
    /// The current step's copy-back and orphan figures, where it starts the
    /// reverse flow (from the ends this drill recorded).
    pub failback: Option<Failback>,
}

impl DrillView {
    /// The current step, with its index.
    pub fn current_step(&self) -> Option<(usize, &StepView)> {
        let i = self.current?;
        Some((i, self.steps.get(i)?))
    }
}

impl StepView {
    /// The step has no action of its own: it completes when observed.
    pub fn completes_when_observed(&self) -> bool {
        self.action.is_none()
    }

    /// Some manual checklist item still awaits confirmation.
    pub fn awaits_confirmation(&self) -> bool {
        self.checklist.iter().any(|(_, at)| at.is_none())
    }
}

#[derive(Clone, Debug)]
pub struct Drill {
    plan: Plan,
    hold: TimeDelta,
    events: Vec<DrillEvent>,
    started_at: Ts,
    completed: Vec<Option<(Ts, Vec<Evidence>)>>,
    confirmed: Vec<Vec<Option<Ts>>>,
    requested: Vec<Option<Ts>>,
    outcomes: Vec<Option<(bool, String)>>,
    aborted: Option<String>,
    /// Violations raised and not yet cleared, by key (ordered: the events
    /// they cause come out in the same order on every run).
    violations_seen: BTreeMap<String, (Rule, String)>,
    replication_stopped: bool,
    /// Pre-flight overrides, by step: what failed then.
    overridden: Vec<Option<Vec<Evidence>>>,
    /// Copy-back figures observed while the reverse flow ran, by step.
    copy_back_seen: Vec<Option<(u64, usize)>>,
    /// Copy-back figures the operator accepted, by step.
    copy_back_accepted: Vec<Option<(u64, Ts)>>,
    // Transient: not journaled, restarts on resume.
    /// The current step's action was sent and has not answered yet: asking
    /// again would queue a second run behind it, planned on older facts.
    /// (After a resume nothing is in flight: the old process is gone.)
    in_flight: Option<usize>,
    holding_since: Option<Ts>,
    /// How long after an action its effect may take to be observed.
    verify: TimeDelta,
    /// The newest observation time the hold has been confirmed up to.
    held_until: Ts,
    checks: Vec<Check>,
    /// The current step's failback figures, when it has a copy-back gate.
    failback: Option<Failback>,
    now: Ts,
}

impl Drill {
    /// Starts a drill; the `Started` event is the first of `events()`.
    pub fn start(kind: PlanKind, hold: TimeDelta, checklist: &[String], at: Ts) -> Drill {
        Drill::start_with_config(kind, hold, checklist, "", at)
    }

    /// Starts a drill recording the configuration's fingerprint.
    pub fn start_with_config(kind: PlanKind, hold: TimeDelta, checklist: &[String], config: &str, at: Ts) -> Drill {
        let ev = DrillEvent::Started {
            plan: kind,
            at,
            hold_ms: hold.num_milliseconds(),
            checklist: checklist.to_vec(),
            config: config.to_owned(),
            verify_ms: None,
            preflight_lag: None,
        };
        let mut d = Drill::empty(kind, hold, checklist, at);
        d.events.push(ev);
        d
    }

    fn empty(kind: PlanKind, hold: TimeDelta, checklist: &[String], at: Ts) -> Drill {
        let plan = Plan::new(kind, checklist);
        let n = plan.steps.len();
        let confirmed = plan.steps.iter().map(|s| vec![None; s.checklist.len()]).collect();
        Drill {
            plan,
            hold,
            events: Vec::new(),
            started_at: at,
            completed: vec![None; n],
            confirmed,
            requested: vec![None; n],
            outcomes: vec![None; n],
            aborted: None,
            violations_seen: BTreeMap::new(),
            replication_stopped: false,
            overridden: vec![None; n],
            copy_back_seen: vec![None; n],
            copy_back_accepted: vec![None; n],
            in_flight: None,
            holding_since: None,
            verify: DEFAULT_VERIFY,
            held_until: at,
            checks: Vec::new(),
            failback: None,
            now: at,
        }
    }

    /// Sets the pre-flight's bound on the outgoing flow's lag (recorded in
    /// the `Started` event, so a resumed drill keeps it).
    pub fn preflight_lag_within(mut self, records: u64) -> Drill {
        if let Some(DrillEvent::Started { preflight_lag, checklist, .. }) = self.events.first_mut() {
            *preflight_lag = Some(records);
            self.plan = Plan::with_preflight_lag(self.plan.kind, checklist, records);
        }
        self
    }

    /// Sets how long after an action its effect may take to be observed
    /// (recorded in the `Started` event, so a resumed drill keeps it).
    pub fn verify_within(mut self, within: TimeDelta) -> Drill {
        self.verify = within;
        if let Some(DrillEvent::Started { verify_ms, .. }) = self.events.first_mut() {
            *verify_ms = Some(within.num_milliseconds());
        }
        self
    }

    /// Rebuilds a drill from its journal.
    pub fn replay(events: &[DrillEvent]) -> Result<Drill, String> {
        let Some(DrillEvent::Started { plan, at, hold_ms, checklist, verify_ms, preflight_lag, .. }) = events.first()
        else {
            return Err("the journal does not begin with a Started event".into());
        };
        let mut d = Drill::empty(*plan, TimeDelta::milliseconds(*hold_ms), checklist, *at);
        if let Some(ms) = verify_ms {
            d.verify = TimeDelta::milliseconds(*ms);
        }
        let records = preflight_lag.unwrap_or(DEFAULT_PREFLIGHT_LAG);
        d.plan = Plan::with_preflight_lag(*plan, checklist, records);
        d.events.push(events[0].clone());
        for (i, ev) in events.iter().enumerate().skip(1) {
            d.apply(ev.clone()).map_err(|e| format!("journal event {}: {e}", i + 1))?;
        }
        Ok(d)
    }

    /// Records an event decided outside the plan (a takeover).
    pub fn record_decided(&mut self, ev: DrillEvent) -> Result<(), String> {
        self.apply(ev)
    }

    fn apply(&mut self, ev: DrillEvent) -> Result<(), String> {
        let n = self.plan.steps.len();
        let check = |step: usize| {
            if step < n { Ok(()) } else { Err(format!("step {} does not exist", step + 1)) }
        };
        match &ev {
            DrillEvent::Started { .. } => return Err("a second Started event".into()),
            DrillEvent::ActionRequested { step, at, .. } => {
                check(*step)?;
                self.requested[*step] = Some(*at);
                self.outcomes[*step] = None;
            }
            DrillEvent::ActionOutcome { step, ok, detail, .. } => {
                check(*step)?;
                self.outcomes[*step] = Some((*ok, detail.clone()));
            }
            DrillEvent::Confirmed { step, item, at } => {
                check(*step)?;
                let slot = self.confirmed[*step]
                    .get_mut(*item)
                    .ok_or(format!("checklist item {} does not exist", item + 1))?;
                *slot = Some(*at);
            }
            DrillEvent::StepCompleted { step, at, evidence, .. } => {
                check(*step)?;
                self.completed[*step] = Some((*at, evidence.clone()));
                self.holding_since = None;
            }
            DrillEvent::RuleViolated { rule, subject, .. } => {
                self.violations_seen.insert(violation_key(*rule, subject), (*rule, subject.clone()));
            }
            DrillEvent::RuleCleared { rule, subject, .. } => {
                self.violations_seen.remove(&violation_key(*rule, subject));
            }
            DrillEvent::ReplicationStopped { .. } => self.replication_stopped = true,
            DrillEvent::MirrorEnded { .. } | DrillEvent::TakenOver { .. } => {}
            DrillEvent::Aborted { reason, .. } => self.aborted = Some(reason.clone()),
            DrillEvent::PreflightOverridden { step, failed, at, .. } => {
                check(*step)?;
                if !self.plan.steps[*step].preflight {
                    return Err(format!("step {} is not a pre-flight", step + 1));
                }
                self.completed[*step] = Some((*at, failed.clone()));
                self.overridden[*step] = Some(failed.clone());
                self.holding_since = None;
            }
            DrillEvent::CopyBackObserved { step, records, partitions, .. } => {
                check(*step)?;
                self.copy_back_seen[*step] = Some((*records, *partitions));
            }
            DrillEvent::CopyBackAccepted { step, records, at, .. } => {
                check(*step)?;
                self.copy_back_accepted[*step] = Some((*records, *at));
            }
        }
        self.now = self.now.max(ev.at());
        self.events.push(ev);
        Ok(())
    }

    /// Applies an event built here; these are valid by construction.
    fn record(&mut self, ev: DrillEvent) -> DrillEvent {
        let _ = self.apply(ev.clone());
        ev
    }

    pub fn events(&self) -> &[DrillEvent] {
        &self.events
    }

    pub fn kind(&self) -> PlanKind {
        self.plan.kind
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The first step not yet done; `None` once the drill is finished.
    pub fn current(&self) -> Option<usize> {
        self.completed.iter().position(Option::is_none)
    }

    pub fn is_finished(&self) -> bool {
        self.current().is_none()
    }

    pub fn is_over(&self) -> bool {
        self.is_finished() || self.aborted.is_some()
    }

    /// Feeds a fresh assessment in. Returns the events it caused (a step
    /// completed after its hold, a rule newly broken), for the journal.
    pub fn observe(&mut self, a: &Assessment) -> Vec<DrillEvent> {
        self.now = self.now.max(a.now);
        let mut out = Vec::new();
        if self.is_over() {
            self.checks.clear();
            return out;
        }
        // Raised once per streak: a violation that cleared may be raised again.
        let cleared: Vec<(Rule, String)> = self
            .violations_seen
            .iter()
            .filter(|(k, _)| !a.violations.iter().any(|v| &v.key() == *k))
            .map(|(_, v)| v.clone())
            .collect();
        for (rule, subject) in cleared {
            out.push(self.record(DrillEvent::RuleCleared { rule, subject, at: a.now }));
        }
        for v in &a.violations {
            if !self.violations_seen.contains_key(&v.key()) {
                out.push(self.record(DrillEvent::RuleViolated {
                    rule: v.rule,
                    subject: v.subject.clone(),
                    detail: v.detail.clone(),
                    at: a.now,
                }));
            }
        }
        let outgoing = self.outgoing();
        if !self.replication_stopped && a.mm2.iter().any(|m| m.flow == outgoing && m.running.is_no()) {
            let lag = topic_lag(a, outgoing);
            out.push(self.record(DrillEvent::ReplicationStopped { flow: outgoing, lag, at: a.now }));
        }
        let Some(step) = self.current() else {
            return out;
        };
        self.failback = None;
        let conditions = self.plan.steps[step].done_when.clone();
        self.checks = conditions
            .iter()
            .map(|c| match c {
                Condition::NothingCopiedBack(flow) => self.copy_back_check(step, *flow, a, &mut out),
                c => evaluate(c, a),
            })
            .collect();
        let confirmed = self.confirmed[step].iter().all(Option::is_some);
        // The hold is measured in observation time: data that stopped
        // arriving cannot keep a condition "holding", however fresh it is.
        let observed = self
            .checks
            .iter()
            .map(|c| c.at)
            .try_fold(None::<Ts>, |acc, at| at.map(|t| Some(acc.map_or(t, |a| a.min(t)))));
        let observed = observed.flatten();
        if let (true, true, Some(observed)) = (confirmed, self.checks.iter().all(|c| c.truth.is_yes()), observed) {
            // Observations further apart than the hold window were not
            // watched in between (the console paused, or its data stopped
            // and came back): a hold never spans such a gap.
            if observed - self.held_until > self.hold {
                self.holding_since = None;
            }
            let since = *self.holding_since.get_or_insert(observed);
            self.held_until = observed;
            if observed - since >= self.hold {
                let evidence = self
                    .checks
                    .iter()
                    .map(|c| Evidence { label: c.label.clone(), observed: c.observed.clone(), at: c.at })
                    .collect();
                let lag = self.drained_flow(step).map(|f| topic_lag(a, f)).unwrap_or_default();
                let held_since = Some(since);
                // The ends go first: a crash between the two records leaves
                // the step to complete again, recording them again, where
                // the other order would lose them for good and shut the
                // copy-back gate of the drill's last step.
                if let Some(Action::StopMm2(flow)) = self.plan.steps[step].action {
                    out.push(self.record(mirror_ended(a, flow)));
                }
                out.push(self.record(DrillEvent::StepCompleted { step, at: a.now, evidence, held_since, lag }));
                self.checks.clear();
            }
        } else {
            self.holding_since = None;
        }
        out
    }

    /// The flow the drill drains and stops: from the side apps leave.
    fn outgoing(&self) -> Flow {
        let from = self.plan.kind.from();
        Flow { source: from, target: from.other() }
    }

    /// The flow whose lag is the evidence of `step`: the one it drains or
    /// whose MM2 it stops.
    fn drained_flow(&self, step: usize) -> Option<Flow> {
        let s = self.plan.steps.get(step)?;
        let drains = s.done_when.iter().find_map(|c| if let Condition::LagDrained(f) = c { Some(*f) } else { None });
        let stops = match &s.action {
            Some(Action::StopMm2(f)) => Some(*f),
            _ => None,
        };
        drains.or(stops)
    }

    /// Whether the current step's action may run now, without recording
    /// anything: it is enabled only while the previous step's
    /// preconditions still hold, observed now.
    pub fn action_gate(&self, a: &Assessment) -> Result<Action, String> {
        if let Some(why) = &self.aborted {
            return Err(format!("the drill was aborted: {why}"));
        }
        let step = self.current().ok_or("the drill is finished")?;
        let action =
            self.plan.steps[step].action.clone().ok_or("this step has no action: it completes when observed")?;
        if self.in_flight == Some(step) {
            return Err("this step's action is being carried out: wait for its outcome".into());
        }
        // A pre-flight passed by override no longer gates: what failed is journaled.
        if step > 0 && self.overridden[step - 1].is_none() {
            for cond in &self.plan.steps[step - 1].done_when {
                let check = evaluate(cond, a);
                match check.truth {
                    Truth::Yes => {}
                    Truth::No => return Err(format!("blocked: {} no longer holds ({})", check.label, check.observed)),
                    Truth::Unknown(why) => return Err(format!("blocked: {} unknown ({why})", check.label)),
                }
            }
        }
        Ok(action)
    }

    /// Asks for the current step's action, if `action_gate` allows it, and
    /// records the request.
    pub fn request_action(&mut self, a: &Assessment) -> Result<(Action, DrillEvent), String> {
        self.request_confirmed(a, Vec::new(), None)
    }

    /// As `request_action`, recording the exact requests the operator saw
    /// and what they typed to confirm them.
    pub fn request_confirmed(
        &mut self,
        a: &Assessment,
        requests: Vec<String>,
        confirmed_as: Option<String>,
    ) -> Result<(Action, DrillEvent), String> {
        let action = self.action_gate(a)?;
        let step = self.current().ok_or("the drill is finished")?;
        let ev = self.record(DrillEvent::ActionRequested {
            step,
            action: action.clone(),
            at: a.now,
            requests,
            confirmed_as,
        });
        self.in_flight = Some(step);
        Ok((action, ev))
    }

    /// Values this drill's actions read before changing them (previous
    /// replicas), by key. The first meaningful reading of a key is kept: a
    /// retried stop reads back its own 0, which must not replace the count
    /// to restore.
    pub fn recorded(&self) -> BTreeMap<String, serde_json::Value> {
        let mut out = BTreeMap::new();
        for ev in &self.events {
            if let DrillEvent::ActionOutcome { results, .. } = ev {
                for (key, value) in results.iter().flat_map(|r| &r.recorded) {
                    let meaningful = !value.is_null() && value.as_i64() != Some(0);
                    if meaningful && !out.contains_key(key) {
                        out.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        out
    }

    /// Where `flow`'s mirrored data ended when this drill stopped it.
    pub fn mirror_ends(&self, flow: Flow) -> Option<Result<&[PartitionEnd], &str>> {
        self.events.iter().rev().find_map(|ev| match ev {
            DrillEvent::MirrorEnded { flow: f, ends, unknown, .. } if *f == flow => Some(match unknown {
                Some(why) => Err(why.as_str()),
                None => Ok(ends.as_slice()),
            }),
            _ => None,
        })
    }

    /// Records the outcome of the current step's action, if it is one.
    pub fn record_outcome(&mut self, outcome: &Outcome) -> Option<DrillEvent> {
        let step = self.current()?;
        let requested =
            self.requested[step].is_some() && self.plan.steps[step].action.as_ref() == Some(&outcome.action);
        if !requested {
            return None;
        }
        let (ok, detail) = match &outcome.result {
            Ok(d) => (true, d.clone()),
            Err(e) => (false, e.clone()),
        };
        let results = outcome.results.clone();
        self.in_flight = None;
        Some(self.record(DrillEvent::ActionOutcome { step, ok, detail, at: outcome.at, results }))
    }

    /// Confirms the next unconfirmed manual item of the current step.
    pub fn confirm_next(&mut self, now: Ts) -> Result<DrillEvent, String> {
        if self.aborted.is_some() {
            return Err("the drill was aborted".into());
        }
        let step = self.current().ok_or("the drill is finished")?;
        let item = self.confirmed[step].iter().position(Option::is_none).ok_or("nothing to confirm in this step")?;
        Ok(self.record(DrillEvent::Confirmed { step, item, at: now }))
    }

    pub fn abort(&mut self, reason: &str, now: Ts) -> Option<DrillEvent> {
        if self.is_over() {
            return None;
        }
        Some(self.record(DrillEvent::Aborted { reason: reason.to_owned(), at: now }))
    }

    /// The copy-back gate of `step`, judged from the ends this drill
    /// recorded when the opposite flow stopped. Once the reverse flow is
    /// seen running with a figure above 0, that is journaled and the gate
    /// stays shut until the operator accepts it: the figure falls back to
    /// 0 as the flow copies, which must not read as "nothing copied".
    fn copy_back_check(&mut self, step: usize, flow: Flow, a: &Assessment, out: &mut Vec<DrillEvent>) -> Check {
        let label = Condition::NothingCopiedBack(flow).label();
        let figures = self.failback_of(flow, a);
        let (mut truth, mut observed, at) = copy_back_eval(flow, Ok(&figures));
        // Copying means a source task RUNNING: workers up with connectors
        // still stopped are where start offsets get set, not copying yet.
        let copying = a.mm2.iter().any(|m| {
            m.flow == flow
                && m.running.is_yes()
                && m.connectors.iter().any(|c| {
                    c.kind == crate::model::ConnectorKind::Source
                        && c.state == crate::model::ConnectState::Running
                        && c.tasks.iter().any(|t| t.state == crate::model::ConnectState::Running)
                })
        });
        if copying && truth.is_no() && self.copy_back_seen[step].is_none() {
            let records = figures.copy_back().unwrap_or(0);
            let partitions = figures.copy_back_partitions().0;
            out.push(self.record(DrillEvent::CopyBackObserved { step, flow, records, partitions, at: a.now }));
        }
        if let Some((records, when)) = self.copy_back_accepted[step] {
            truth = Truth::Yes;
            observed = format!("{records} rec copied back, accepted by the operator at {}", when.format("%H:%M:%S"));
        } else if let Some((records, _)) = self.copy_back_seen[step]
            && !truth.is_no()
        {
            truth = Truth::No;
            observed =
                format!("{flow} ran with {records} rec to copy back: accept the figure typed (:accept) to go on");
        }
        self.failback = Some(figures);
        Check { label, truth, observed, at }
    }

    /// The failback figures of the reverse `flow`, from the ends recorded.
    fn failback_of(&self, flow: Flow, a: &Assessment) -> Failback {
        let ends = match self.mirror_ends(flow.reversed()) {
            Some(ends) => ends,
            None => Err("this drill did not record it"),
        };
        failback(flow, ends, &a.lag)
    }

    /// What failed in the current step, if it is a pre-flight that fails
    /// now: the conditions an override passes by, as evidence.
    pub fn preflight_failures(&self, a: &Assessment) -> Result<Vec<Evidence>, String> {
        if let Some(why) = &self.aborted {
            return Err(format!("the drill was aborted: {why}"));
        }
        let step = self.current().ok_or("the drill is finished")?;
        let s = &self.plan.steps[step];
        if !s.preflight {
            return Err("only a pre-flight can be overridden".into());
        }
        let failed: Vec<Evidence> = s
            .done_when
            .iter()
            .map(|c| evaluate(c, a))
            .filter_map(|c| match c.truth {
                Truth::Yes => None,
                Truth::No => Some(Evidence { label: c.label, observed: c.observed, at: c.at }),
                Truth::Unknown(why) => Some(Evidence { label: c.label, observed: format!("unknown: {why}"), at: c.at }),
            })
            .collect();
        if failed.is_empty() {
            return Err("the pre-flight passes: nothing to override, it completes after its hold".into());
        }
        Ok(failed)
    }

    /// Passes a failing pre-flight, if `typed` is the override word; the
    /// event carries every condition failing at `a`.
    pub fn override_preflight(&mut self, a: &Assessment, typed: &str) -> Result<DrillEvent, String> {
        let failed = self.preflight_failures(a)?;
        if typed != OVERRIDE_WORD {
            return Err(format!("type {OVERRIDE_WORD:?} exactly to override the pre-flight"));
        }
        let step = self.current().ok_or("the drill is finished")?;
        let confirmed_as = typed.to_owned();
        Ok(self.record(DrillEvent::PreflightOverridden { step, failed, confirmed_as, at: a.now }))
    }

    /// The copy-back figure the operator may accept now, in records: the
    /// one observed while the reverse flow ran, else the current one.
    pub fn copy_back_to_accept(&self, a: &Assessment) -> Result<(Flow, u64), String> {
        if let Some(why) = &self.aborted {
            return Err(format!("the drill was aborted: {why}"));
        }
        let step = self.current().ok_or("the drill is finished")?;
        let flow = self.plan.steps[step]
            .done_when
            .iter()
            .find_map(|c| if let Condition::NothingCopiedBack(f) = c { Some(*f) } else { None })
            .ok_or("this step has no copy-back figure to accept")?;
        if let Some((records, at)) = self.copy_back_accepted[step] {
            return Err(format!("{records} rec already accepted at {}", at.format("%H:%M:%S")));
        }
        if let Some((records, _)) = self.copy_back_seen[step] {
            return Ok((flow, records));
        }
        let figures = self.failback_of(flow, a);
        match (&figures.copy_back_unknown, figures.copy_back()) {
            (Some(why), _) => Err(format!("the copy-back figure is unknown: {why}")),
            (None, Some(0)) => Err("nothing would be copied back: no figure to accept".into()),
            (None, Some(n)) => Ok((flow, n)),
            (None, None) => Err("the copy-back figure is unknown".into()),
        }
    }

    /// Accepts the copy-back figure, if `typed` is that figure.
    pub fn accept_copy_back(&mut self, a: &Assessment, typed: &str) -> Result<DrillEvent, String> {
        let (flow, records) = self.copy_back_to_accept(a)?;
        if typed != records.to_string() {
            return Err(format!("type {records} (the records to accept) exactly"));
        }
        let step = self.current().ok_or("the drill is finished")?;
        let confirmed_as = typed.to_owned();
        Ok(self.record(DrillEvent::CopyBackAccepted { step, flow, records, confirmed_as, at: a.now }))
    }

    pub fn view(&self) -> DrillView {
        let current = if self.aborted.is_some() { None } else { self.current() };
        let steps = self
            .plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (state, checks) = match &self.completed[i] {
                    Some((at, ev)) if self.overridden[i].is_some() => {
                        (StepState::Done { at: *at }, ev.iter().map(failed_check).collect())
                    }
                    Some((at, ev)) => (StepState::Done { at: *at }, ev.iter().map(evidence_check).collect()),
                    None if Some(i) == current => {
                        let held = self.held_secs();
                        (StepState::Current { held }, self.checks.clone())
                    }
                    None => (StepState::Locked, Vec::new()),
                };
                StepView {
                    title: s.title.clone(),
                    state,
                    action: s.action.clone(),
                    requested_at: self.requested[i],
                    outcome: self.outcomes[i].clone(),
                    checks,
                    checklist: s.checklist.iter().cloned().zip(self.confirmed[i].iter().copied()).collect(),
                    overridden: self.overridden[i].clone(),
                    preflight: s.preflight,
                }
            })
            .collect();
        DrillView {
            kind: self.plan.kind,
            started_at: self.started_at,
            hold_secs: self.hold.num_milliseconds() as f64 / 1000.0,
            steps,
            current,
            blocked: current.and_then(|i| self.blocked_reason(i)),
            aborted: self.aborted.clone(),
            holding: current.filter(|&i| self.hold_runs(i)).map(|_| self.held_secs().unwrap_or(0.0).max(0.0)),
            failback: current.and(self.failback.clone()),
        }
    }

    /// The hold of `step` runs: its checks all hold and its items are confirmed.
    fn hold_runs(&self, step: usize) -> bool {
        let all_yes = !self.checks.is_empty() && self.checks.iter().all(|c| c.truth.is_yes());
        all_yes && self.confirmed[step].iter().all(Option::is_some)
    }

    fn held_secs(&self) -> Option<f64> {
        self.holding_since.map(|t| (self.held_until - t).num_milliseconds() as f64 / 1000.0)
    }

    fn blocked_reason(&self, step: usize) -> Option<String> {
        let reason = self.gate_reason(step)?;
        // An action's answer is not its effect: say when the effect is late.
        Some(match (&self.outcomes[step], self.requested[step]) {
            (Some((false, detail)), _) => format!("the action failed: {detail}; n to retry · {reason}"),
            (Some((true, _)), Some(at)) if self.now - at >= self.verify => format!(
                "the action was carried out {} ago but its effect is not observed: {reason}; n to retry",
                crate::assess::fmt_age((self.now - at).num_milliseconds() as f64 / 1000.0)
            ),
            _ => reason,
        })
    }

    fn gate_reason(&self, step: usize) -> Option<String> {
        if self.checks.is_empty() {
            return Some("waiting for the first observation".into());
        }
        for c in &self.checks {
            match &c.truth {
                Truth::Yes => {}
                Truth::No => return Some(format!("{}: observed {}", c.label, c.observed)),
                Truth::Unknown(why) => return Some(format!("{}: unknown, {why}", c.label)),
            }
        }
        if let Some(item) = self.plan.steps[step].checklist.iter().zip(&self.confirmed[step]).find(|(_, c)| c.is_none())
        {
            return Some(format!("awaiting confirmation: {}", item.0));
        }
        let held = self.held_secs().unwrap_or(0.0);
        Some(format!("holding {:.0} s of {:.0} s", held, self.hold.num_milliseconds() as f64 / 1000.0))
    }
}

fn mirror_ended(a: &Assessment, flow: Flow) -> DrillEvent {
    let (ends, unknown) = match a.mirror_ends_of(flow).map(|e| &e.ends) {
        Some(Ok(ends)) => (ends.clone(), None),
        Some(Err(why)) => (Vec::new(), Some(why.clone())),
        None => (Vec::new(), Some(format!("MM2 {flow} not observed stopped"))),
    };
    DrillEvent::MirrorEnded { flow, ends, unknown, at: a.now }
}

/// A condition that failed when a pre-flight was overridden.
fn failed_check(e: &Evidence) -> Check {
    Check { label: e.label.clone(), truth: Truth::No, observed: e.observed.clone(), at: e.at }
}

fn evidence_check(e: &Evidence) -> Check {
    Check { label: e.label.clone(), truth: Truth::Yes, observed: e.observed.clone(), at: e.at }
}
