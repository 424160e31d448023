//! The one place actions leave kdrill. Every request to change the world —
//! stop or start applications, stop or start MM2, inject a demo fault —
//! passes through `Dispatcher::dispatch`, which is where read-only mode is
//! enforced. Nothing else holds the sender.

use tokio::sync::mpsc::UnboundedSender;

use crate::action::Action;

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
    use crate::action::Fault;
    use crate::model::{Flow, Side};

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
