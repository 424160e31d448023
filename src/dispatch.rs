//! The one place actions leave kdrill. Every request to change the world —
//! stop or start applications, stop or start MM2, inject a demo fault —
//! passes through `dispatch`. Read-only is enforced by construction: a
//! read-only console has no `Dispatcher` (its link's sender was dropped at
//! start), so every action it asks for is refused here.

use tokio::sync::mpsc::UnboundedSender;

use crate::act::Procedure;

/// Why an action was not sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("read-only: {0} refused")]
    ReadOnly(String),
    #[error("the world backend has stopped; {0} not sent")]
    Disconnected(String),
    /// Its request could not be journaled, so it was not sent.
    #[error("the journal could not be written ({0}): nothing sent")]
    Unjournaled(String),
}

/// Sends actions to the world backend; only a read-write console has one.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    tx: UnboundedSender<Procedure>,
}

impl Dispatcher {
    pub(crate) fn new(tx: UnboundedSender<Procedure>) -> Self {
        Dispatcher { tx }
    }

    /// Never blocks: the backend executes asynchronously and reports an
    /// outcome through the world link.
    pub fn dispatch(&self, procedure: Procedure) -> Result<(), Refusal> {
        let label = procedure.action.label();
        self.tx.send(procedure).map_err(|_| Refusal::Disconnected(label))
    }
}

/// Sends `action` through the console's dispatcher; a console without one
/// is read-only, and the action is refused.
pub fn dispatch(dispatcher: Option<&Dispatcher>, procedure: Procedure) -> Result<(), Refusal> {
    match dispatcher {
        Some(d) => d.dispatch(procedure),
        None => Err(Refusal::ReadOnly(procedure.action.label())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, Fault};
    use crate::model::{Flow, Side};

    #[test]
    fn read_only_sends_nothing() {
        let (link, mut source) = crate::collect::link(crate::model::Snapshot::empty(Default::default(), "dc", "dr"));
        // A read-only console keeps the observation and drops the dispatcher.
        let (_observation, dispatcher) = link.split();
        drop(dispatcher);
        for a in [Action::StopApps(Side::Dc), Action::StartMm2(Flow::DR_TO_DC), Action::Fault(Fault::CutOffDc)] {
            assert!(matches!(dispatch(None, Procedure::bare(a)), Err(Refusal::ReadOnly(_))));
        }
        assert!(source.actions.try_recv().is_err(), "a read-only console must send nothing");
    }

    #[test]
    fn read_write_sends_in_order() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let d = Dispatcher::new(tx);
        assert_eq!(dispatch(Some(&d), Procedure::bare(Action::StopApps(Side::Dc))), Ok(()));
        assert_eq!(d.dispatch(Procedure::bare(Action::StopMm2(Flow::DC_TO_DR))), Ok(()));
        assert_eq!(rx.try_recv().ok().map(|p| p.action), Some(Action::StopApps(Side::Dc)));
        assert_eq!(rx.try_recv().ok().map(|p| p.action), Some(Action::StopMm2(Flow::DC_TO_DR)));
    }
}
