//! The bottom two lines: the status line (command or filter being typed,
//! the last message, or what `n` would do next) and the hint bar, generated
//! from the keymap of the current mode with unavailable keys greyed.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::keymap::{self, Availability, Command};
use super::super::screen::Screen;
use super::super::state::Mode;
use super::super::theme::Slot;
use super::tone_slot;

pub fn status(screen: &Screen, frame: &mut Frame, area: Rect) {
    let (prompt, input) = match &screen.mode {
        Mode::Command(input) => (":", input),
        Mode::Filter { input, .. } => ("/", input),
        _ => return frame.render_widget(Paragraph::new(message(screen)), area),
    };
    let width = area.width.saturating_sub(1) as usize;
    let scroll = input.visual_scroll(width);
    let mut spans = vec![
        screen.span(Slot::Accent, prompt),
        screen.span(Slot::Text, input.value().chars().skip(scroll).collect::<String>()),
    ];
    match (&screen.mode, &screen.filter_error) {
        (Mode::Filter { .. }, Some(e)) => spans.push(screen.span(Slot::Alarm, format!("  {e}"))),
        (mode, _) => {
            if let Some(summary) = mode.keys().summary() {
                spans.push(screen.span(Slot::Muted, format!("  {summary}")));
            }
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    let x = (input.visual_cursor().saturating_sub(scroll) + 1) as u16;
    if area.width > 0 && area.height > 0 {
        frame.set_cursor_position(Position::new(area.x + x.min(area.width - 1), area.y));
    }
}

fn message<'a>(screen: &Screen) -> Line<'a> {
    if let Some(m) = &screen.message {
        return Line::from(screen.span(tone_slot(m.tone), m.text.clone()));
    }
    if !screen.drill_in_progress() {
        return Line::from(
            screen.span(Slot::Muted, "no drill running: :switchover or :failback starts one · ? shows the keys"),
        );
    }
    let action =
        screen.drill_view.as_ref().and_then(|v| v.current.and_then(|i| v.steps.get(i))).and_then(|s| s.action.as_ref());
    match (&screen.gates.run_step, action) {
        (Availability::Enabled, Some(a)) => Line::from(vec![
            screen.span(Slot::Muted, "next: "),
            screen.span(Slot::Accent, "n"),
            screen.span(Slot::Text, format!(" → {}", a.label())),
        ]),
        (Availability::Disabled(why), _) => Line::from(screen.span(Slot::Muted, format!("n: {why}"))),
        _ => Line::default(),
    }
}

/// Normal-mode bar entries dropped first when the line is too narrow (the
/// other modes have few enough to fit).
const DROP_ORDER: [Command; 9] = [
    Command::SortNext,
    Command::FocusNext,
    Command::Wall,
    Command::Pause,
    Command::Filter,
    Command::CommandMode,
    Command::Abort,
    Command::Confirm,
    Command::Help,
];

pub fn bar(screen: &Screen, frame: &mut Frame, area: Rect) {
    let ctx = screen.key_context();
    // (command, key, label, enabled)
    let mut items: Vec<(Command, String, &str, bool)> = Vec::new();
    for (b, shown) in keymap::entries_in(screen.mode.keys(), &ctx) {
        if let Some(label) = b.hint_label(&ctx) {
            items.push((b.command, b.hint_keys_label(), label, shown.is_enabled()));
        }
    }
    let width = |items: &[(Command, String, &str, bool)]| -> usize {
        items.iter().map(|(_, k, l, _)| k.chars().count() + l.chars().count() + 4).sum()
    };
    for drop in DROP_ORDER {
        if width(&items) <= area.width as usize {
            break;
        }
        items.retain(|(c, ..)| *c != drop);
    }
    let mut spans: Vec<Span> = Vec::new();
    for (_, key, label, enabled) in items {
        let (k, l) = if enabled { (Slot::Accent, Slot::Text) } else { (Slot::Muted, Slot::Muted) };
        spans.push(screen.span(k, key));
        spans.push(screen.span(l, format!(" {label}   ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
