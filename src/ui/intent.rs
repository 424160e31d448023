//! What the operator asked for, as a value: `input` turns keys into
//! intents, `commands` turns `:` lines into intents, and the app's update
//! applies them. Neither of the first two sees the app's state.

use ratatui::crossterm::event::KeyEvent;

use crate::action::Fault;
use crate::drill::PlanKind;

use super::keymap::{Command, Key};

#[derive(Clone, Debug, PartialEq)]
pub enum Intent {
    /// A binding's command, available now in the mode it was pressed in.
    Run(Command),
    /// A bound key whose command cannot run now: the app says why.
    Unavailable { key: Key, description: String, why: String },
    /// A key typed into the line of the current mode.
    Edit(KeyEvent),
    /// `:switchover`, `:failback`.
    Start(PlanKind),
    /// `:abort`: asks first, if a drill is in progress.
    AskAbort,
    /// `:takeover`: carry on a shared drill whose driver stopped renewing.
    TakeOver,
    /// `:theme <name>`.
    Theme(String),
    /// `:fault <name>`.
    Fault(Fault),
    /// `:restart <flow>`: restart MM2's failed connectors and tasks (asks first).
    Restart(crate::model::Flow),
    /// `:override`: pass a failing pre-flight (typed confirmation).
    OverridePreflight,
    /// `:accept`: accept the copy-back figure shown (typed confirmation).
    AcceptCopyBack,
    /// A `:` line that cannot run: the reason, for the status line.
    Warn(String),
}
