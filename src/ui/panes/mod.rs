//! The panes, each drawn from state only. Shared pieces: the pane frame,
//! a list that builds only its visible lines, and the slot of a meaning.

pub mod cluster;
pub mod drill;
pub mod header;
pub mod help;
pub mod hints;
pub mod lag;
pub mod log;
pub mod mm2;
pub mod popup;
pub mod wall;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};

use crate::assess::{Freshness, Health, Level, Role, Truth};

use super::app::App;
use super::eventlog::Tone;
use super::layout::Pane;
use super::theme::Slot;

impl App {
    pub(crate) fn style(&self, slot: Slot) -> Style {
        self.theme.get(slot)
    }

    pub(crate) fn span<'a>(&self, slot: Slot, text: impl Into<std::borrow::Cow<'a, str>>) -> Span<'a> {
        Span::styled(text, self.theme.get(slot))
    }
}

/// The frame of a pane: its title, a right-hand note, focus shown.
pub fn frame_block<'a>(app: &App, pane: Pane, title: Vec<Span<'a>>, note: Option<Line<'a>>) -> Block<'a> {
    let focused = app.focus == pane;
    let border = if focused { app.style(Slot::Focus) } else { app.style(Slot::Border) };
    let mut spans = vec![Span::raw(" ")];
    if focused {
        spans.push(app.span(Slot::Focus, "▸ "));
    }
    spans.extend(title);
    spans.push(Span::raw(" "));
    let mut block = Block::bordered()
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(border)
        .title(Line::from(spans));
    if let Some(note) = note {
        block = block.title(note.right_aligned());
    }
    block
}

/// Draws lines `offset..` of a list of `total`, building only those that
/// fit, and records the extent so scrolling stops at the end.
pub fn list<'a>(app: &App, frame: &mut Frame, pane: Pane, area: Rect, total: usize, line: impl Fn(usize) -> Line<'a>) {
    let visible = area.height as usize;
    let offset = app.scroll[pane.index()].min(total.saturating_sub(visible));
    app.extent[pane.index()].set((total, visible));
    let lines: Vec<Line> = (offset..total.min(offset + visible)).map(line).collect();
    frame.render_widget(Paragraph::new(lines), area);
}

pub fn tone_slot(t: Tone) -> Slot {
    match t {
        Tone::Info => Slot::Text,
        Tone::Ok => Slot::Ok,
        Tone::Warn => Slot::Warn,
        Tone::Alarm => Slot::Alarm,
    }
}

pub fn level_slot(l: Level) -> Slot {
    match l {
        Level::Ok => Slot::Ok,
        Level::Unknown => Slot::Stale,
        Level::Warn => Slot::Warn,
        Level::Alarm => Slot::Alarm,
    }
}

pub fn level_symbol(l: Level) -> &'static str {
    match l {
        Level::Ok => "●",
        Level::Unknown => "?",
        Level::Warn => "▲",
        Level::Alarm => "⚠",
    }
}

pub fn role_slot(r: Role) -> Slot {
    match r {
        Role::Active => Slot::Active,
        Role::Passive => Slot::Passive,
        Role::Idle => Slot::Muted,
        Role::Unknown => Slot::Stale,
    }
}

pub fn health_slot(h: Health) -> Slot {
    match h {
        Health::Healthy => Slot::Ok,
        Health::Degraded => Slot::Warn,
        Health::Stopped => Slot::Muted,
        Health::Unknown => Slot::Stale,
    }
}

/// `✓`, `✗` or `?` with its meaning.
pub fn truth_mark(t: &Truth) -> (&'static str, Slot) {
    match t {
        Truth::Yes => ("✓", Slot::Ok),
        Truth::No => ("✗", Slot::Warn),
        Truth::Unknown(_) => ("?", Slot::Stale),
    }
}

/// Figures observed long ago are drawn in the stale style, whatever they say.
pub fn figure_slot(fresh: Freshness, otherwise: Slot) -> Slot {
    if fresh.is_fresh() { otherwise } else { Slot::Stale }
}

/// Left-aligns `s` in `w` columns (cutting with `…`).
pub fn pad(s: &str, w: usize) -> String {
    let s = super::fmt::clip(s, w);
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(w.saturating_sub(n)))
}

/// Right-aligns `s` in `w` columns.
pub fn rpad(s: &str, w: usize) -> String {
    let s = super::fmt::clip(s, w);
    let n = s.chars().count();
    format!("{}{s}", " ".repeat(w.saturating_sub(n)))
}
