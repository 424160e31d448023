//! What the panes draw from: a read-only view of the console's state,
//! built once per frame. Panes return what they measured (`Extent`), which
//! goes back to the app as a message, so scrolling can stop at the end.

use std::path::PathBuf;

use ratatui::style::Style;
use ratatui::text::Span;

use crate::action::Fault;
use crate::assess::Assessment;
use crate::drill::DrillView;
use crate::model::{Snapshot, Ts};

use super::eventlog::EventLog;
use super::keymap::{KeyContext, View};
use super::layout::Pane;
use super::prepared::{Filter, LagQuery, Prepared};
use super::state::{Frozen, Gates, Message, Mode};
use super::theme::{Slot, Theme};

pub struct Screen<'a> {
    pub theme: &'a Theme,
    pub demo: bool,
    pub read_only: bool,
    pub view: View,
    pub mode: &'a Mode,
    pub focus: Pane,
    pub now: Option<Ts>,
    pub snapshot: Option<&'a Snapshot>,
    /// The latest assessment: the drill, the header and alarms use it.
    pub live: &'a Option<Assessment>,
    /// Set while paused: the detail panes keep showing this.
    pub frozen: &'a Option<Frozen>,
    pub prepared: &'a Prepared,
    pub query: &'a LagQuery,
    pub filter: &'a Option<Filter>,
    pub filter_error: &'a Option<String>,
    pub drill_view: &'a Option<DrillView>,
    /// A drill is running and not over.
    pub drill_in_progress: bool,
    /// Who drives the drill and where it is shared, in one line; `true`
    /// when it needs attention (not shared, taken over, contested).
    pub sharing: Option<(bool, String)>,
    pub gates: &'a Gates,
    pub log: &'a EventLog,
    pub message: &'a Option<Message>,
    pub faults_on: &'a [Fault],
    pub journal: &'a Option<PathBuf>,
    /// The action awaiting its typed confirmation.
    pub pending: &'a Option<super::state::Pending>,
    /// First visible line per pane (index = `Pane::index`).
    pub scroll: [usize; Pane::ALL.len()],
}

impl Screen<'_> {
    pub fn style(&self, slot: Slot) -> Style {
        self.theme.get(slot)
    }

    pub fn span<'s>(&self, slot: Slot, text: impl Into<std::borrow::Cow<'s, str>>) -> Span<'s> {
        Span::styled(text, self.theme.get(slot))
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn drill_in_progress(&self) -> bool {
        self.drill_in_progress
    }

    /// The assessment and snapshot the detail panes show.
    pub fn shown(&self) -> Option<(&Assessment, &Snapshot)> {
        match self.frozen {
            Some(f) => Some((&f.assessment, &f.snapshot)),
            None => Some((self.live.as_ref()?, self.snapshot?)),
        }
    }

    pub fn key_context(&self) -> KeyContext<'_> {
        KeyContext {
            view: self.view,
            demo: self.demo,
            read_only: self.read_only,
            filtering: self.filter.is_some() || !matches!(self.mode, Mode::Normal),
            flows: self.live.as_ref().map_or(0, |a| a.lag.len()),
            paused: self.frozen.is_some(),
            drill_running: self.drill_in_progress,
            run_step: &self.gates.run_step,
            confirm: &self.gates.confirm,
            abort: &self.gates.abort,
        }
    }
}

/// A scrolling pane's size as last drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    /// Lines of content.
    pub content: usize,
    /// Lines that fit.
    pub visible: usize,
}

impl Extent {
    /// The last first-line that still fills the pane.
    pub fn max_scroll(&self) -> usize {
        self.content.saturating_sub(self.visible)
    }
}

/// What a frame measured, per pane; `None` for panes not drawn as a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extents(pub [Option<Extent>; Pane::ALL.len()]);

impl Extents {
    pub fn set(&mut self, pane: Pane, extent: Option<Extent>) {
        if let Some(e) = extent {
            self.0[pane.index()] = Some(e);
        }
    }

    /// Takes in what a newer frame measured; panes it did not draw keep theirs.
    pub fn update(&mut self, newer: Extents) {
        for (mine, new) in self.0.iter_mut().zip(newer.0) {
            if new.is_some() {
                *mine = new;
            }
        }
    }

    pub fn of(&self, pane: Pane) -> Extent {
        self.0[pane.index()].unwrap_or_default()
    }
}
