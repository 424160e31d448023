//! Centred popups: the quit and abort questions, and a drill step's action
//! shown exactly as it would be sent. The answer keys come from the keymap
//! of the question's mode.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use super::super::keymap::{self, Command};
use super::super::screen::Screen;
use super::super::state::{Confirm, Pending, Question};
use super::super::theme::Slot;

/// A centred rectangle of at most `w`×`h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))]).flex(Flex::Center).areas(area);
    let [r] = Layout::vertical([Constraint::Length(h.min(area.height))]).flex(Flex::Center).areas(r);
    r
}

/// The answer keys of the question, each with what it means here.
fn answers<'a>(screen: &Screen, question: &Question, yes: &'a str, no: &'a str) -> Line<'a> {
    let ctx = screen.key_context();
    let mut spans: Vec<Span> = Vec::new();
    for (b, _) in keymap::entries_in(question.keys(), &ctx) {
        let word = match (b.command, b.hint) {
            (Command::Yes, _) => yes,
            (Command::No, _) => no,
            (_, Some(hint)) => hint,
            (_, None) => continue,
        };
        spans.push(screen.span(Slot::Accent, b.hint_keys_label()));
        spans.push(screen.span(Slot::Text, format!(" {word}   ")));
    }
    Line::from(spans)
}

pub fn confirm(screen: &Screen, frame: &mut Frame, area: Rect, question: &Question) {
    let drill = screen.drill_view.as_ref();
    let which = drill
        .map(|v| match v.current {
            Some(i) => format!("{}, step {} of {}", v.kind.title(), i + 1, v.steps.len()),
            None => v.kind.title().to_owned(),
        })
        .unwrap_or_default();
    let (title, mut lines) = match question.about {
        Confirm::Quit => {
            let journal = match &screen.journal {
                Some(p) => format!(
                    "The journal {} keeps every step: start kdrill again with it and the drill resumes where it is.",
                    p.display()
                ),
                None => "No journal is being written: the drill's progress would be lost.".to_owned(),
            };
            let journal_slot = if screen.journal.is_some() { Slot::Text } else { Slot::Warn };
            (
                " Quit during a drill? ",
                vec![
                    Line::from(screen.span(Slot::Text, format!("A drill is in progress: {which}."))),
                    Line::from(screen.span(journal_slot, journal)),
                    Line::default(),
                    answers(screen, question, "quit", "stay"),
                ],
            )
        }
        Confirm::Action => match screen.pending {
            Some(p) if p.step.is_some() => (" Carry out this step? ", action_lines(screen, p, question)),
            Some(p) => (" Carry out this action? ", action_lines(screen, p, question)),
            None => (" Carry out this step? ", vec![answers(screen, question, "send", "cancel")]),
        },
        Confirm::TakeOver => (
            " Take the drill over? ",
            vec![
                Line::from(screen.span(
                    Slot::Text,
                    "Its driver stopped renewing the drill lease. This console will carry the drill on from",
                )),
                Line::from(
                    screen.span(Slot::Text, "the records the drill topic holds; the takeover is journaled and shared."),
                ),
                Line::default(),
                answers(screen, question, "take over", "cancel"),
            ],
        ),
        Confirm::OverridePreflight => (" Override the pre-flight? ", override_lines(screen, question)),
        Confirm::AcceptCopyBack => (" Accept the copy-back? ", accept_lines(screen, question)),
        Confirm::Abort => (
            " Abort the drill? ",
            vec![
                Line::from(screen.span(Slot::Text, format!("Abort {which}?"))),
                Line::from(screen.span(
                    Slot::Text,
                    "The journal records the abort and what was done; kdrill does not undo anything.",
                )),
                Line::default(),
                answers(screen, question, "abort", "keep going"),
            ],
        ),
    };
    if let Some(t) = &question.typed {
        let typed = Line::from(vec![
            screen.span(Slot::Text, format!("Type {} to confirm: ", t.expect)),
            screen.span(Slot::Accent, t.input.value().to_owned()),
        ]);
        lines.insert(lines.len().saturating_sub(1), typed);
    }
    let wide = matches!(question.about, Confirm::Action | Confirm::OverridePreflight | Confirm::AcceptCopyBack);
    let width = if wide { 110 } else { 72 };
    // Wrapped lines need more rows than there are lines.
    let inner = width.min(area.width).saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let r = centered(area, width, rows as u16 + 2);
    frame.render_widget(Clear, r);
    let block = Block::bordered().border_type(BorderType::Double).border_style(screen.style(Slot::Warn)).title(title);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), r);
}

/// The action's popup: where, the exact requests in order, what kdrill
/// will then wait to observe, and the typed confirmation.
fn action_lines<'a>(screen: &Screen, p: &'a Pending, question: &'a Question) -> Vec<Line<'a>> {
    let mut lines = vec![
        Line::from(vec![
            screen.span(Slot::Text, p.step.map(|s| format!("Step {}: ", s + 1)).unwrap_or_default()),
            screen.span(Slot::Warn, p.title.clone()),
            screen.span(Slot::Text, format!(" — on {}", p.side)),
        ]),
        Line::default(),
        Line::from(screen.span(Slot::Muted, "Sends, in order (stopping at the first failure):")),
    ];
    for line in p.procedure.preview() {
        lines.push(Line::from(screen.span(Slot::Text, format!("  {line}"))));
    }
    for note in &p.procedure.notes {
        lines.push(Line::from(screen.span(Slot::Warn, format!("! {note}"))));
    }
    if !p.expect.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(screen.span(Slot::Muted, "Done only when kdrill observes, held for the hold window:")));
        for e in &p.expect {
            lines.push(Line::from(screen.span(Slot::Text, format!("  {e}"))));
        }
    }
    lines.push(Line::default());
    lines.push(answers(screen, question, "send", "cancel, nothing sent"));
    lines
}

/// The pre-flight's failing conditions, as the drill pane shows them now.
fn override_lines<'a>(screen: &Screen, question: &'a Question) -> Vec<Line<'a>> {
    let mut lines = vec![Line::from(screen.span(Slot::Warn, "The pre-flight does not pass. Failing now:"))];
    let step = screen.drill_view.as_ref().and_then(|v| v.current_step());
    for c in step.map(|(_, s)| s.checks.as_slice()).unwrap_or_default().iter().filter(|c| !c.truth.is_yes()) {
        let why = match &c.truth {
            crate::assess::Truth::Unknown(why) => format!("unknown, {why}"),
            _ => c.observed.clone(),
        };
        lines.push(Line::from(screen.span(Slot::Text, format!("  ✗ {}: {why}", c.label))));
    }
    lines.push(Line::from(
        screen.span(Slot::Muted, "Overriding journals exactly what failed at this moment; the report shows it first."),
    ));
    lines.push(Line::default());
    lines.push(answers(screen, question, "override", "cancel"));
    lines
}

/// The copy-back figure being accepted, per topic.
fn accept_lines<'a>(screen: &Screen, question: &'a Question) -> Vec<Line<'a>> {
    let figures = screen.drill_view.as_ref().and_then(|v| v.failback.as_ref());
    let mut lines = Vec::new();
    if let Some(f) = figures {
        lines.push(Line::from(screen.span(
            Slot::Warn,
            format!("{} copies back records {} already holds: duplicates there.", f.flow, f.flow.target),
        )));
        for t in f.topics().iter().filter(|t| t.copy_back.is_some_and(|n| n > 0)) {
            let n = t.copy_back.unwrap_or(0);
            lines.push(Line::from(screen.span(Slot::Text, format!("  {}: {n} rec", t.topic))));
        }
    }
    lines.push(Line::from(screen.span(Slot::Muted, "Accepting journals the figure; the report shows it.")));
    lines.push(Line::default());
    lines.push(answers(screen, question, "accept", "cancel"));
    lines
}
