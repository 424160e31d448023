//! The terminal console: messages in, effects out. State and its one
//! entry point `update` live in `app`; `input` turns keys and `commands`
//! turns `:` lines into `intent`s, which the app applies; `view` and
//! `panes` draw from a read-only `screen`; `keymap` holds the bindings of
//! every mode behind dispatch, help and the hint bar; `theme` maps meanings
//! to styles; `run` owns the terminal and the event loop.

mod app;
mod bigtext;
mod commands;
mod eventlog;
mod fmt;
mod input;
mod intent;
pub mod judge;
pub mod keymap;
mod layout;
mod panes;
mod prepared;
mod run;
mod screen;
mod state;
mod terminal;
pub mod theme;
mod view;

pub use app::{App, Confirm, Effect, Message, Mode, Msg, Question, UiOptions};
pub use eventlog::{EventLog, LogEntry, Tone};
pub use keymap::{Availability, Binding, Command, Key, KeyContext, KeyMode, Risk, View};
pub use layout::Pane;
pub use prepared::{Filter, LagSort};
pub use run::run;
pub use screen::{Extent, Extents};
pub use theme::{Slot, Theme, ThemeError};
