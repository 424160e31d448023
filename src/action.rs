//! What kdrill can ask of the world, and what the world answers: the
//! actions a drill step (or the demo's fault keys) requests and the outcome
//! a backend reports for each. Plain data; sending one is the dispatcher's
//! job (`dispatch.rs`).

use serde::{Deserialize, Serialize};

use crate::model::{Flow, Side, Ts};

/// A fault the demo world can be told to simulate. Its name (`as_str`, and
/// the same in serde) is what `:fault` takes and the console shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// An MM2 task goes FAILED while the custom resource still says Ready.
    FailMm2Task,
    /// A stray application consumer joins on the passive side.
    StrayConsumer,
    /// MM2 is started in the reverse direction too.
    Bidirectional,
    /// One broker of DR goes down.
    BrokerDown,
    /// DC cannot be reached at all.
    CutOffDc,
    /// Applications on the active side burst-produce for a while.
    ProduceBurst,
    /// MM2's pods vanish from the Kubernetes API while the workers run.
    PodsUnlisted,
    /// MM2's tasks stay RUNNING but stop moving data.
    StallMm2,
    /// MM2's checkpoint connector leaves an application group out: it
    /// cannot be translated to the other side.
    UntranslatableGroup,
    /// Records written on the side a stopped flow left, after it stopped:
    /// never replicated, the orphan tail a failback must account for.
    OrphanRecords,
    /// MM2's checkpoint connector names topics by another replication
    /// policy than its siblings.
    PolicyDrift,
    /// A producer writes straight into a topic of the passive side that MM2
    /// also writes into.
    ForeignProducer,
}

impl Fault {
    pub const ALL: [Fault; 12] = [
        Fault::FailMm2Task,
        Fault::StrayConsumer,
        Fault::Bidirectional,
        Fault::BrokerDown,
        Fault::CutOffDc,
        Fault::ProduceBurst,
        Fault::PodsUnlisted,
        Fault::StallMm2,
        Fault::UntranslatableGroup,
        Fault::OrphanRecords,
        Fault::PolicyDrift,
        Fault::ForeignProducer,
    ];

    /// The fault's stable name, as typed after `:fault`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::FailMm2Task => "fail-mm2-task",
            Fault::StrayConsumer => "stray-consumer",
            Fault::Bidirectional => "bidirectional",
            Fault::BrokerDown => "broker-down",
            Fault::CutOffDc => "cut-off-dc",
            Fault::ProduceBurst => "produce-burst",
            Fault::PodsUnlisted => "pods-unlisted",
            Fault::StallMm2 => "stall-mm2",
            Fault::UntranslatableGroup => "untranslatable-group",
            Fault::OrphanRecords => "orphan-records",
            Fault::PolicyDrift => "policy-drift",
            Fault::ForeignProducer => "foreign-producer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Fault::FailMm2Task => "fail an MM2 task",
            Fault::StrayConsumer => "stray consumer on passive side",
            Fault::Bidirectional => "start MM2 in both directions",
            Fault::BrokerDown => "take a DR broker down",
            Fault::CutOffDc => "cut DC off",
            Fault::ProduceBurst => "produce burst",
            Fault::PodsUnlisted => "MM2 pods vanish from Kubernetes",
            Fault::StallMm2 => "MM2 runs but stops moving",
            Fault::UntranslatableGroup => "a group MM2 cannot translate",
            Fault::OrphanRecords => "orphan records before failback",
            Fault::PolicyDrift => "an MM2 connector names topics another way",
            Fault::ForeignProducer => "a producer writes into the passive side",
        }
    }
}

/// A request to change the world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    StopApps(Side),
    StartApps(Side),
    /// Stop the MM2 deployment replicating `flow`.
    StopMm2(Flow),
    /// Start (or scale up) the MM2 deployment replicating `flow`.
    StartMm2(Flow),
    /// Restart the FAILED connectors and tasks of the MM2 replicating `flow`.
    RestartMm2(Flow),
    /// Toggle a simulated fault (demo world only).
    Fault(Fault),
}

impl Action {
    /// The side it acts on: where the applications are, where MM2 runs
    /// (its target). Confirming it means typing this side's name.
    pub fn side(&self) -> Side {
        match self {
            Action::StopApps(s) | Action::StartApps(s) => *s,
            Action::StopMm2(f) | Action::StartMm2(f) | Action::RestartMm2(f) => f.target,
            // Demo faults are not confirmed by typing.
            Action::Fault(_) => Side::Dc,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Action::StopApps(s) => format!("stop applications on {s}"),
            Action::StartApps(s) => format!("start applications on {s}"),
            Action::StopMm2(f) => format!("stop MM2 {f} (on {})", f.target),
            Action::StartMm2(f) => format!("start MM2 {f} (on {})", f.target),
            Action::RestartMm2(f) => format!("restart MM2 {f}'s failed connectors and tasks (on {})", f.target),
            Action::Fault(f) => format!("demo fault: {}", f.label()),
        }
    }
}

/// What happened to an action a backend was asked to carry out.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub action: Action,
    /// A short description of what was done, or why it failed.
    pub result: Result<String, String>,
    pub at: Ts,
    /// Each request's answer, where the action was carried out by requests.
    pub results: Vec<RequestResult>,
}

impl Outcome {
    pub fn new(action: Action, result: Result<String, String>, at: Ts) -> Outcome {
        Outcome { action, result, at, results: Vec::new() }
    }
}

/// What one request did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestResult {
    /// The request's first preview line (what was sent).
    pub request: String,
    pub ok: bool,
    /// The answer in a few words: `200 OK`, `exit 0`, `403 Forbidden: …`,
    /// `timed out after 30 s: …`.
    pub detail: String,
    /// Values read before changing them, by `<object path>#<pointer>`, to
    /// restore later (previous replicas).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recorded: Vec<(String, serde_json::Value)>,
}
