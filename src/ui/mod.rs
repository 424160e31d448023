//! The terminal console. State and `update` live in `app` (keys in
//! `input`, commands in `commands`); `view` and `panes` draw from state
//! only; `keymap` is the one list of bindings behind dispatch, help and the
//! hint bar; `theme` maps meanings to styles; `run` owns the terminal and
//! the event loop.

mod app;
mod bigtext;
mod commands;
mod eventlog;
mod fmt;
mod input;
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

pub use app::{App, Confirm, Effect, Message, UiOptions};
pub use eventlog::{EventLog, LogEntry, Tone};
pub use keymap::{Availability, Binding, Command, Key, KeyContext, View};
pub use layout::Pane;
pub use prepared::{Filter, LagSort};
pub use run::run;
pub use screen::{Extent, Extents};
pub use theme::{Slot, Theme, ThemeError};
