//! The seam between kdrill and the world. A source (the demo world, or the
//! Kafka collectors) owns its clients, observes both clusters and MM2, and
//! pushes whole snapshots; it also executes the actions the dispatcher lets
//! through and reports their outcomes. The rest of kdrill only sees a
//! `WorldLink`, so the real world and the demo world are interchangeable.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::act::Procedure;
use crate::action::Outcome;
use crate::dispatch::Dispatcher;
use crate::model::Snapshot;

/// The console's end of a source: the latest snapshot, action outcomes, and
/// the channel actions go out on (reachable only through `split`).
pub struct WorldLink {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub outcomes: mpsc::UnboundedReceiver<Outcome>,
    actions: mpsc::UnboundedSender<Procedure>,
}

/// What the console observes of the world: snapshots and action outcomes.
pub struct Observation {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub outcomes: mpsc::UnboundedReceiver<Outcome>,
}

/// The source's end of the link.
pub struct SourceEnd {
    pub snapshots: watch::Sender<Arc<Snapshot>>,
    pub outcomes: mpsc::UnboundedSender<Outcome>,
    pub actions: mpsc::UnboundedReceiver<Procedure>,
}

/// A connected pair of ends, starting from `initial`.
pub fn link(initial: Snapshot) -> (WorldLink, SourceEnd) {
    let (snap_tx, snap_rx) = watch::channel(Arc::new(initial));
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (act_tx, act_rx) = mpsc::unbounded_channel();
    (
        WorldLink { snapshots: snap_rx, outcomes: out_rx, actions: act_tx },
        SourceEnd { snapshots: snap_tx, outcomes: out_tx, actions: act_rx },
    )
}

impl WorldLink {
    /// Splits the link, once, into what is observed and the only holder of
    /// the action sender. A read-only console drops the dispatcher: with no
    /// sender left, nothing it does can reach the world.
    pub fn split(self) -> (Observation, Dispatcher) {
        let WorldLink { snapshots, outcomes, actions } = self;
        (Observation { snapshots, outcomes }, Dispatcher::new(actions))
    }
}

pub mod kafka;
pub mod kube;
