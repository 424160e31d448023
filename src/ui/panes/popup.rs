//! Centred popups: the quit and abort questions.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use super::super::screen::Screen;
use super::super::state::Confirm;
use super::super::theme::Slot;

/// A centred rectangle of at most `w`×`h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))]).flex(Flex::Center).areas(area);
    let [r] = Layout::vertical([Constraint::Length(h.min(area.height))]).flex(Flex::Center).areas(r);
    r
}

pub fn confirm(app: &Screen, frame: &mut Frame, area: Rect, what: Confirm) {
    let drill = app.drill_view.as_ref();
    let which = drill
        .map(|v| match v.current {
            Some(i) => format!("{}, step {} of {}", v.kind.title(), i + 1, v.steps.len()),
            None => v.kind.title().to_owned(),
        })
        .unwrap_or_default();
    let (title, lines) = match what {
        Confirm::Quit => {
            let journal = match &app.journal {
                Some(p) => format!(
                    "The journal {} keeps every step: start kdrill again with it and the drill resumes where it is.",
                    p.display()
                ),
                None => "No journal is being written: the drill's progress would be lost.".to_owned(),
            };
            let journal_slot = if app.journal.is_some() { Slot::Text } else { Slot::Warn };
            (
                " Quit during a drill? ",
                vec![
                    Line::from(app.span(Slot::Text, format!("A drill is in progress: {which}."))),
                    Line::from(app.span(journal_slot, journal)),
                    Line::default(),
                    Line::from(vec![
                        app.span(Slot::Accent, "y"),
                        app.span(Slot::Text, " quit   "),
                        app.span(Slot::Accent, "n"),
                        app.span(Slot::Text, " / Esc stay"),
                    ]),
                ],
            )
        }
        Confirm::Abort => (
            " Abort the drill? ",
            vec![
                Line::from(app.span(Slot::Text, format!("Abort {which}?"))),
                Line::from(app.span(
                    Slot::Text,
                    "The journal records the abort and what was done; kdrill does not undo anything.",
                )),
                Line::default(),
                Line::from(vec![
                    app.span(Slot::Accent, "y"),
                    app.span(Slot::Text, " abort   "),
                    app.span(Slot::Accent, "n"),
                    app.span(Slot::Text, " / Esc keep going"),
                ]),
            ],
        ),
    };
    let r = centered(area, 72, 8);
    frame.render_widget(Clear, r);
    let block = Block::bordered().border_type(BorderType::Double).border_style(app.style(Slot::Warn)).title(title);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }).block(block), r);
}
