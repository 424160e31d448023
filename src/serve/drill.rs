//! The drill in progress as `kdrill serve` shows it: the drill the drill
//! topic shares, replayed and judged against the server's own assessment
//! (a copy: nothing is recorded here), with who drives it and since when.

use serde::Serialize;

use crate::assess::{Assessment, Truth};
use crate::drill::StepState;
use crate::model::{Side, Ts};
use crate::share::SharedDrill;

/// Bumped when a field changes meaning or goes away.
pub const DRILL_FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DrillStatus {
    pub drill_format: u32,
    /// `switchover` or `failback`.
    pub plan: String,
    pub title: String,
    /// `in-progress`, `finished` or `aborted`.
    pub state: &'static str,
    pub started_at: Ts,
    /// The current step, from 1; none once over.
    pub step: Option<usize>,
    pub steps: usize,
    pub step_title: Option<String>,
    /// Why the current step cannot complete yet.
    pub blocked: Option<String>,
    pub aborted: Option<String>,
    /// The current step's preconditions as observed now.
    pub gates: Vec<Gate>,
    pub driver: Option<String>,
    pub driver_since: Option<Ts>,
    /// The sides whose drill topic is followed.
    pub shared_on: Vec<String>,
    /// When the drill topic was last read to its end: the drill is as of then.
    pub observed_at: Option<Ts>,
    /// The two sides' drill topics differ (a record, or who holds the lease).
    pub disagreement: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gate {
    pub label: String,
    /// `yes`, `no` or `unknown`.
    pub state: &'static str,
    pub observed: String,
    pub at: Option<Ts>,
}

/// The latest shared drill, judged on `a`; `None` when the topic holds none.
pub fn status(shared: &SharedDrill, a: &Assessment) -> Option<DrillStatus> {
    let run = shared.run.as_ref()?;
    let mut drill = run.replay().ok()?;
    let _ = drill.observe(a);
    let v = drill.view();
    let current = v.current_step();
    let state = if v.aborted.is_some() {
        "aborted"
    } else if v.steps.iter().all(|s| matches!(s.state, StepState::Done { .. })) {
        "finished"
    } else {
        "in-progress"
    };
    let gates = current
        .map(|(_, s)| {
            s.checks
                .iter()
                .map(|c| Gate {
                    label: c.label.clone(),
                    state: match c.truth {
                        Truth::Yes => "yes",
                        Truth::No => "no",
                        Truth::Unknown(_) => "unknown",
                    },
                    observed: c.observed.clone(),
                    at: c.at,
                })
                .collect()
        })
        .unwrap_or_default();
    Some(DrillStatus {
        drill_format: DRILL_FORMAT,
        plan: format!("{:?}", v.kind).to_lowercase(),
        title: v.kind.title().to_owned(),
        state,
        started_at: v.started_at,
        step: current.map(|(i, _)| i + 1),
        steps: v.steps.len(),
        step_title: current.map(|(_, s)| s.title.clone()),
        blocked: v.blocked.clone(),
        aborted: v.aborted.clone(),
        gates,
        driver: shared.lease.as_ref().map(|h| h.driver.label()),
        driver_since: shared.lease.as_ref().map(|h| h.since),
        shared_on: Side::BOTH
            .into_iter()
            .filter(|s| shared.feed(*s).is_following())
            .map(|s| s.label().to_owned())
            .collect(),
        observed_at: shared.observed_at,
        disagreement: run.disagreement.clone().or_else(|| shared.lease_disagreement.clone()),
    })
}
