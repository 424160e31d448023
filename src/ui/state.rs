//! The console's plain state types, shared by the update (`app`) and the
//! read-only view the panes draw from (`screen`).

use std::sync::Arc;

use tui_input::Input;

use crate::assess::Assessment;
use crate::model::{Snapshot, Ts};

use super::eventlog::Tone;
use super::keymap::{Availability, KeyMode};
use super::prepared::Filter;

/// What a question asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirm {
    Quit,
    Abort,
    /// The current step's action (`App::pending` holds it).
    Action,
    /// Taking the shared drill over from a driver that stopped renewing.
    TakeOver,
    /// Passing a failing pre-flight (`:override`).
    OverridePreflight,
    /// Accepting the copy-back figure of the reverse flow (`:accept`).
    AcceptCopyBack,
}

/// An action shown to the operator before anything is sent.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The drill step it carries out; `None` for an action of its own
    /// (a restart), which no gate holds back.
    pub step: Option<usize>,
    pub title: String,
    pub procedure: crate::act::Procedure,
    /// Where it acts, in words (`DC: context dc, namespace apps`).
    pub side: crate::model::Side,
    /// What kdrill expects to observe afterwards: the step's preconditions.
    pub expect: Vec<String>,
}

/// A question awaiting an answer: y/n, or a value the operator must type
/// (for actions that must not be confirmed by a reflex).
#[derive(Clone, Debug)]
pub struct Question {
    pub about: Confirm,
    pub typed: Option<Typed>,
}

/// The value a typed question expects, and what has been typed so far.
#[derive(Clone, Debug)]
pub struct Typed {
    pub expect: String,
    pub input: Input,
}

impl Question {
    pub fn yes_no(about: Confirm) -> Question {
        Question { about, typed: None }
    }

    pub fn typed(about: Confirm, expect: impl Into<String>) -> Question {
        Question { about, typed: Some(Typed { expect: expect.into(), input: Input::default() }) }
    }

    /// Which bindings answer it.
    pub fn keys(&self) -> KeyMode {
        if self.typed.is_some() { KeyMode::ConfirmTyped } else { KeyMode::Confirm }
    }

    /// Whether the answer given so far says yes.
    pub fn typed_matches(&self) -> bool {
        self.typed.as_ref().is_none_or(|t| t.input.value() == t.expect)
    }
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
    Confirm(Question),
}

impl Mode {
    /// Which bindings are live in this mode.
    pub fn keys(&self) -> KeyMode {
        match self {
            Mode::Normal => KeyMode::Normal,
            Mode::Command(_) => KeyMode::Command,
            Mode::Filter { .. } => KeyMode::Filter,
            Mode::Help { .. } => KeyMode::Help,
            Mode::Confirm(question) => question.keys(),
        }
    }

    /// The line being typed in this mode, if any.
    pub fn line_mut(&mut self) -> Option<&mut Input> {
        match self {
            Mode::Command(input) | Mode::Filter { input, .. } => Some(input),
            Mode::Confirm(Question { typed: Some(t), .. }) => Some(&mut t.input),
            _ => None,
        }
    }
}

/// A one-line message in the status line.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub tone: Tone,
    pub text: String,
    pub at: Option<Ts>,
}

/// What the panes show while the live display is paused: the snapshot of
/// the moment of pausing, re-judged by the judge at each tick (see
/// `judge::Judged::paused`), so its figures keep the same rows but their
/// ages keep growing (a paused screen must not claim its data is fresh).
#[derive(Clone, Debug)]
pub struct Frozen {
    pub assessment: Assessment,
    pub snapshot: Arc<Snapshot>,
    pub at: Ts,
}

impl Frozen {
    pub fn new(assessment: Assessment, snapshot: Arc<Snapshot>, at: Ts) -> Frozen {
        Frozen { assessment, snapshot, at }
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
