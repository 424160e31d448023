//! The bottom two lines: the status line (command or filter being typed,
//! the last message, or what `n` would do next) and the hint bar, generated
//! from the keymap with unavailable keys greyed.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::keymap::{self, Availability, Command};
use super::super::screen::Screen;
use super::super::state::Mode;
use super::super::theme::Slot;
use super::tone_slot;

pub fn status(app: &Screen, frame: &mut Frame, area: Rect) {
    let (prompt, input) = match &app.mode {
        Mode::Command(input) => (":", input),
        Mode::Filter { input, .. } => ("/", input),
        _ => return frame.render_widget(Paragraph::new(message(app)), area),
    };
    let width = area.width.saturating_sub(1) as usize;
    let scroll = input.visual_scroll(width);
    let mut spans = vec![
        app.span(Slot::Accent, prompt),
        app.span(Slot::Text, input.value().chars().skip(scroll).collect::<String>()),
    ];
    match (&app.mode, &app.filter_error) {
        (Mode::Filter { .. }, Some(e)) => spans.push(app.span(Slot::Alarm, format!("  {e}"))),
        (Mode::Filter { .. }, None) => {
            spans.push(app.span(Slot::Muted, "  regex on topics and groups, ! inverts · Enter keeps · Esc restores"))
        }
        _ => spans.push(app.span(Slot::Muted, "  Tab completes · Enter runs · Esc cancels")),
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    let x = (input.visual_cursor().saturating_sub(scroll) + 1) as u16;
    if area.width > 0 && area.height > 0 {
        frame.set_cursor_position(Position::new(area.x + x.min(area.width - 1), area.y));
    }
}

fn message<'a>(app: &Screen) -> Line<'a> {
    if let Some(m) = &app.message {
        return Line::from(app.span(tone_slot(m.tone), m.text.clone()));
    }
    if !app.drill_in_progress() {
        return Line::from(
            app.span(Slot::Muted, "no drill running: :switchover or :failback starts one · ? shows the keys"),
        );
    }
    let action =
        app.drill_view.as_ref().and_then(|v| v.current.and_then(|i| v.steps.get(i))).and_then(|s| s.action.as_ref());
    match (&app.gates.run_step, action) {
        (Availability::Enabled, Some(a)) => Line::from(vec![
            app.span(Slot::Muted, "next: "),
            app.span(Slot::Accent, "n"),
            app.span(Slot::Text, format!(" → {}", a.label())),
        ]),
        (Availability::Disabled(why), _) => Line::from(app.span(Slot::Muted, format!("n: {why}"))),
        _ => Line::default(),
    }
}

/// Bar entries dropped first when the line is too narrow.
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

pub fn bar(app: &Screen, frame: &mut Frame, area: Rect) {
    let fixed: &[(&str, &str)] = match &app.mode {
        Mode::Help { .. } => &[("Esc", "close"), ("↑↓", "scroll")],
        Mode::Confirm(_) => &[("y", "yes"), ("n Esc", "no")],
        Mode::Command(_) | Mode::Filter { .. } => &[("Enter", "apply"), ("Esc", "cancel")],
        Mode::Normal => &[],
    };
    // (command, key, label, enabled)
    let mut items: Vec<(Option<Command>, String, &str, bool)> =
        fixed.iter().map(|(k, l)| (None, (*k).to_owned(), *l, true)).collect();
    if fixed.is_empty() {
        let ctx = app.key_context();
        for (b, shown) in keymap::entries(&ctx) {
            if let (Some(label), Some(key)) = (b.hint_label(&ctx), b.keys.first()) {
                items.push((Some(b.command), key.label(), label, shown.is_enabled()));
            }
        }
    }
    let width = |items: &[(Option<Command>, String, &str, bool)]| -> usize {
        items.iter().map(|(_, k, l, _)| k.chars().count() + l.chars().count() + 4).sum()
    };
    for drop in DROP_ORDER {
        if width(&items) <= area.width as usize {
            break;
        }
        items.retain(|(c, ..)| *c != Some(drop));
    }
    let mut spans: Vec<Span> = Vec::new();
    for (_, key, label, enabled) in items {
        let (k, l) = if enabled { (Slot::Accent, Slot::Text) } else { (Slot::Muted, Slot::Muted) };
        spans.push(app.span(k, key));
        spans.push(app.span(l, format!(" {label}   ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
