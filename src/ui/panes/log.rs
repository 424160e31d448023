//! The event log, newest first; scrollable when focused.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::super::eventlog::Tone;
use super::super::fmt;
use super::super::layout::Pane;
use super::super::screen::{Extent, Screen};
use super::super::theme::Slot;
use super::{frame_block, list, tone_slot};

pub fn draw(screen: &Screen, frame: &mut Frame, area: Rect) -> Option<Extent> {
    let note = Line::from(screen.span(Slot::Muted, format!(" {} events, newest first ", screen.log.len())));
    let block = frame_block(screen, Pane::Log, vec![screen.span(Slot::Accent, "Events")], Some(note));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if screen.log.is_empty() {
        frame.render_widget(Line::from(screen.span(Slot::Muted, "nothing yet")), inner);
        return None;
    }
    let extent = list(screen, frame, Pane::Log, inner, screen.log.len(), |i| match screen.log.newest(i) {
        Some(e) => {
            let mark = match e.tone {
                Tone::Info => "·",
                Tone::Ok => "✓",
                Tone::Warn => "▲",
                Tone::Alarm => "⚠",
            };
            let text_slot = if e.tone == Tone::Alarm { Slot::Warn } else { Slot::Text };
            Line::from(vec![
                screen.span(Slot::Muted, format!("{} ", fmt::clock(e.at))),
                screen.span(tone_slot(e.tone), mark),
                screen.span(text_slot, format!(" {}", e.text)),
            ])
        }
        None => Line::default(),
    });
    Some(extent)
}
