//! The one place actions leave kdrill. Every request to change the world —
//! stop or start applications, stop or start MM2, inject a demo fault —
//! passes through `Dispatcher::dispatch`, which is where read-only mode is
//! enforced. Nothing else holds the sender.

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

use crate::model::{Flow, Side};

/// A fault the demo world can be told to simulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::FailMm2Task,
        Fault::StrayConsumer,
        Fault::Bidirectional,
        Fault::BrokerDown,
        Fault::CutOffDc,
        Fault::ProduceBurst,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Fault::FailMm2Task => "fail an MM2 task",
            Fault::StrayConsumer => "stray consumer on passive side",
            Fault::Bidirectional => "start MM2 in both directions",
            Fault::BrokerDown => "take a DR broker down",
            Fault::CutOffDc => "cut DC off",
            Fault::ProduceBurst => "produce burst",
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
    /// Toggle a simulated fault (demo world only).
    Fault(Fault),
}

impl Action {
    pub fn label(&self) -> String {
        match self {
            Action::StopApps(s) => format!("stop applications on {s}"),
            Action::StartApps(s) => format!("start applications on {s}"),
            Action::StopMm2(f) => format!("stop MM2 {f} (on {})", f.target),
            Action::StartMm2(f) => format!("start MM2 {f} (on {})", f.target),
            Action::Fault(f) => format!("demo fault: {}", f.label()),
        }
    }
}

/// Why an action was not sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("read-only: {0} refused")]
    ReadOnly(String),
    #[error("the world backend has stopped; {0} not sent")]
    Disconnected(String),
}

/// Sends actions to the world backend, unless read-only.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    read_only: bool,
    tx: UnboundedSender<Action>,
}

impl Dispatcher {
    pub fn new(read_only: bool, tx: UnboundedSender<Action>) -> Self {
        Dispatcher { read_only, tx }
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Never blocks: the backend executes asynchronously and reports an
    /// outcome through the world link.
    pub fn dispatch(&self, action: Action) -> Result<(), Refusal> {
        if self.read_only {
            return Err(Refusal::ReadOnly(action.label()));
        }
        let label = action.label();
        self.tx.send(action).map_err(|_| Refusal::Disconnected(label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_sends_nothing() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let d = Dispatcher::new(true, tx);
        for a in [Action::StopApps(Side::Dc), Action::StartMm2(Flow::DR_TO_DC), Action::Fault(Fault::CutOffDc)] {
            assert!(matches!(d.dispatch(a), Err(Refusal::ReadOnly(_))));
        }
        assert!(rx.try_recv().is_err(), "a read-only dispatcher must send nothing");
    }

    #[test]
    fn read_write_sends_in_order() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let d = Dispatcher::new(false, tx);
        assert_eq!(d.dispatch(Action::StopApps(Side::Dc)), Ok(()));
        assert_eq!(d.dispatch(Action::StopMm2(Flow::DC_TO_DR)), Ok(()));
        assert_eq!(rx.try_recv().ok(), Some(Action::StopApps(Side::Dc)));
        assert_eq!(rx.try_recv().ok(), Some(Action::StopMm2(Flow::DC_TO_DR)));
    }
}
