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
pub mod translation;
pub mod wall;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};

use crate::assess::{Freshness, Health, Level, Role, Truth};

use super::eventlog::Tone;
use super::layout::Pane;
use super::screen::{Extent, Screen};
use super::theme::Slot;

/// The frame of a pane: its title, a right-hand note, focus shown.
pub fn frame_block<'a>(screen: &Screen, pane: Pane, title: Vec<Span<'a>>, note: Option<Line<'a>>) -> Block<'a> {
    let focused = screen.focus == pane;
    let border = if focused { screen.style(Slot::Focus) } else { screen.style(Slot::Border) };
    let mut spans = vec![Span::raw(" ")];
    if focused {
        spans.push(screen.span(Slot::Focus, "▸ "));
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
/// fit, and returns the extent so scrolling can stop at the end.
pub fn list<'a>(
    screen: &Screen,
    frame: &mut Frame,
    pane: Pane,
    area: Rect,
    total: usize,
    line: impl Fn(usize) -> Line<'a>,
) -> Extent {
    list_following(screen, frame, pane, area, total, 0, line)
}

/// Like `list`; until the user scrolls the pane, the view starts at line
/// `follow` (as far as the content allows).
pub fn list_following<'a>(
    screen: &Screen,
    frame: &mut Frame,
    pane: Pane,
    area: Rect,
    total: usize,
    follow: usize,
    line: impl Fn(usize) -> Line<'a>,
) -> Extent {
    let visible = area.height as usize;
    let scrolled = screen.scroll[pane.index()];
    let offset = if scrolled == 0 { follow } else { scrolled }.min(total.saturating_sub(visible));
    let lines: Vec<Line> = (offset..total.min(offset + visible)).map(line).collect();
    frame.render_widget(Paragraph::new(lines), area);
    Extent { content: total, visible }
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

/// Left-aligns `s` in `w` columns; a longer `s` is cut with `…` one
/// column short, so the next column never touches it.
pub fn pad(s: &str, w: usize) -> String {
    let fits = s.chars().count() < w;
    let s = if fits { s.to_owned() } else { super::fmt::clip(s, w.saturating_sub(1)) };
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(w.saturating_sub(n)))
}

/// Right-aligns `s` in `w` columns.
pub fn rpad(s: &str, w: usize) -> String {
    let s = super::fmt::clip(s, w);
    let n = s.chars().count();
    format!("{}{s}", " ".repeat(w.saturating_sub(n)))
}

/// Greedy word wrap of `text` to `width` columns; the first line keeps the
/// text's own leading spaces, continuation lines start with `indent`. A
/// word longer than a line is cut.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let width = width.max(indent.chars().count() + 8);
    let body = text.trim_start_matches(' ');
    let mut line = text[..text.len() - body.len()].to_owned();
    let mut len = line.chars().count();
    let mut lines = Vec::new();
    let mut started = false;
    for word in body.split(' ') {
        let w = word.chars().count();
        if started && len + 1 + w > width {
            lines.push(std::mem::take(&mut line));
            line.push_str(indent);
            len = indent.chars().count();
        } else if started {
            line.push(' ');
            len += 1;
        }
        started = true;
        let room = width.saturating_sub(len);
        if w > room {
            line.push_str(&super::fmt::clip(word, room));
            len = width;
        } else {
            line.push_str(word);
            len += w;
        }
    }
    if !body.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrap_keeps_words_and_indents() {
        let got = super::wrap("blocked: no app clients on DC: observed 6 app consumers", 24, "  ");
        assert_eq!(got, ["blocked: no app clients", "  on DC: observed 6 app", "  consumers"]);
        assert!(super::wrap("", 10, "").is_empty());
        assert_eq!(super::wrap("    ✗ a b", 40, "  "), ["    ✗ a b"]);
        for l in super::wrap("averyveryverylongwordthatdoesnotfit and more", 12, "  ") {
            assert!(l.chars().count() <= 12, "{l}");
        }
    }
}
