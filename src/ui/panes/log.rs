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

pub fn draw(app: &Screen, frame: &mut Frame, area: Rect) -> Option<Extent> {
    let note = Line::from(app.span(Slot::Muted, format!(" {} events, newest first ", app.log.len())));
    let block = frame_block(app, Pane::Log, vec![app.span(Slot::Accent, "Events")], Some(note));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.log.is_empty() {
        frame.render_widget(Line::from(app.span(Slot::Muted, "nothing yet")), inner);
        return None;
    }
    let extent = list(app, frame, Pane::Log, inner, app.log.len(), |i| match app.log.newest(i) {
        Some(e) => {
            let mark = match e.tone {
                Tone::Info => "·",
                Tone::Ok => "✓",
                Tone::Warn => "▲",
                Tone::Alarm => "⚠",
            };
            let text_slot = if e.tone == Tone::Alarm { Slot::Warn } else { Slot::Text };
            Line::from(vec![
                app.span(Slot::Muted, format!("{} ", fmt::clock(e.at))),
                app.span(tone_slot(e.tone), mark),
                app.span(text_slot, format!(" {}", e.text)),
            ])
        }
        None => Line::default(),
    });
    Some(extent)
}
