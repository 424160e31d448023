//! The console's plain state types, shared by the update (`app`) and the
//! read-only view the panes draw from (`screen`).

use std::sync::Arc;

use tui_input::Input;

use crate::assess::{Assessment, Assessor};
use crate::model::{Snapshot, Ts};

use super::eventlog::Tone;
use super::keymap::Availability;
use super::prepared::Filter;

/// A question awaiting y/n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirm {
    Quit,
    Abort,
}

#[derive(Clone, Debug)]
pub enum Mode {
    Normal,
    Command(Input),
    /// Editing the filter; `before` is restored by Esc.
    Filter {
        input: Input,
        before: Option<Filter>,
    },
    Help {
        scroll: usize,
    },
    Confirm(Confirm),
}

/// A one-line message in the status line.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub tone: Tone,
    pub text: String,
    pub at: Option<Ts>,
}

/// What the panes show while the live display is paused: the snapshot of
/// the moment of pausing, re-judged at each tick by a copy of the assessor
/// taken then, so its figures keep the same rows but their ages keep
/// growing (a paused screen must not claim its data is fresh).
#[derive(Clone, Debug)]
pub struct Frozen {
    pub assessor: Assessor,
    pub assessment: Assessment,
    pub snapshot: Arc<Snapshot>,
    pub at: Ts,
}

impl Frozen {
    pub fn new(assessor: Assessor, assessment: Assessment, snapshot: Arc<Snapshot>, at: Ts) -> Frozen {
        Frozen { assessor, assessment, snapshot, at }
    }
}

/// Availability of the drill keys, worked out once per assessment.
#[derive(Clone, Debug)]
pub struct Gates {
    pub run_step: Availability,
    pub confirm: Availability,
    pub abort: Availability,
}

impl Default for Gates {
    fn default() -> Self {
        let none = || Availability::Disabled("no drill running".into());
        Gates { run_step: none(), confirm: none(), abort: none() }
    }
}
