//! The runbook's two drills as data. Switchover (DC→DR) and failback
//! (DR→DC) are the same seven steps with the sides swapped: a pre-flight
//! observed before anything is done, then the runbook's six.

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::assess::Condition;
use crate::model::{Flow, Side};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlanKind {
    /// DC→DR: runbook steps 1–5.
    Switchover,
    /// DR→DC: runbook steps 6–10.
    Failback,
}

impl PlanKind {
    /// The side applications move away from.
    pub fn from(self) -> Side {
        match self {
            PlanKind::Switchover => Side::Dc,
            PlanKind::Failback => Side::Dr,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            PlanKind::Switchover => "Switchover DC→DR",
            PlanKind::Failback => "Failback DR→DC",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub title: String,
    /// What kdrill can do for the operator here, if anything. The step is
    /// completed by observation alone, whoever performs it.
    pub action: Option<Action>,
    /// Manual items the operator confirms one by one.
    pub checklist: Vec<String>,
    /// Observed preconditions that must hold for the hold window before the
    /// step counts as done (and the next step opens).
    pub done_when: Vec<Condition>,
    /// The pre-flight: an operator may pass it while it fails, by typing
    /// `OVERRIDE_WORD`; the journal keeps what failed.
    pub preflight: bool,
}

/// What an operator types to pass a failed pre-flight.
pub const OVERRIDE_WORD: &str = "override";

/// The pre-flight's lag bound by default (records): the same as the lag
/// alarm's default (`drill.lag_alarm_records`).
pub const DEFAULT_PREFLIGHT_LAG: u64 = 10_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub kind: PlanKind,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn new(kind: PlanKind, infra_checklist: &[String]) -> Plan {
        Plan::with_preflight_lag(kind, infra_checklist, DEFAULT_PREFLIGHT_LAG)
    }

    /// The plan, its pre-flight requiring the outgoing flow's lag at most
    /// `max_lag` records.
    pub fn with_preflight_lag(kind: PlanKind, infra_checklist: &[String], max_lag: u64) -> Plan {
        let from = kind.from();
        let to = from.other();
        let out = Flow { source: from, target: to };
        let back = out.reversed();
        let quiet = Condition::NoAppClients(from);
        let checklist = infra_checklist.to_vec();
        let step = |title: String, action, checklist: Vec<String>, done_when: Vec<Condition>| Step {
            title,
            action,
            checklist,
            done_when,
            preflight: false,
        };
        let preflight = Step {
            title: format!("Pre-flight: {from} active, {to} ready to take over"),
            action: None,
            checklist: vec![],
            done_when: vec![
                Condition::ActiveToPassive { active: from },
                Condition::Reachable(to),
                Condition::Mm2Ready { flow: out, max_lag },
                Condition::NoRuleBroken,
                Condition::NoBlockingDrift,
            ],
            preflight: true,
        };
        Plan {
            kind,
            steps: vec![
                preflight,
                step(format!("Stop applications on {from}"), Some(Action::StopApps(from)), vec![], vec![quiet.clone()]),
                step(
                    format!("Let replication {out} drain"),
                    None,
                    vec![],
                    vec![Condition::LagDrained(out), quiet.clone()],
                ),
                step(
                    format!("Stop MM2 on {to}"),
                    Some(Action::StopMm2(out)),
                    vec![],
                    vec![Condition::NoMm2Running, quiet.clone()],
                ),
                step(
                    "Switch infrastructure (DB, routing, DNS)".into(),
                    None,
                    checklist,
                    vec![Condition::NoMm2Running, quiet.clone()],
                ),
                step(
                    format!("Start applications on {to}"),
                    Some(Action::StartApps(to)),
                    vec![],
                    vec![Condition::AppsActive(to), Condition::NoMm2Running, quiet.clone()],
                ),
                step(
                    format!("Start MM2 on {from} ({back})"),
                    Some(Action::StartMm2(back)),
                    vec![],
                    // With same-name topics, a flow that resumes from old
                    // offsets copies back what the other flow wrote there:
                    // duplicates (seeds 001–003). Observed, or accepted typed.
                    vec![
                        Condition::Mm2Flowing(back),
                        Condition::NothingCopiedBack(back),
                        Condition::AppsActive(to),
                        quiet,
                    ],
                ),
            ],
        }
    }
}
