//! The drill wizard: every step with ✓ done / ▶ current / · locked; for the
//! current step its live preconditions (✓ ✗ ? with what was observed and
//! when), the hold progress, manual items, and why it is blocked.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::Line;

use crate::action::Action;
use crate::assess::Truth;
use crate::drill::{DrillView, StepState, StepView};
use crate::model::{Flow, Ts, age_secs};

use super::super::fmt;
use super::super::keymap::Availability;
use super::super::layout::Pane;
use super::super::screen::{Extent, Screen};
use super::super::theme::Slot;
use super::{frame_block, list_following, truth_mark, wrap};

/// Rows the pane would like at `width` columns (borders included).
pub fn wanted_rows(screen: &Screen, width: u16) -> u16 {
    (lines(screen, width.saturating_sub(2) as usize).0.len() + 2).min(40) as u16
}

pub fn draw(screen: &Screen, frame: &mut Frame, area: Rect) -> Extent {
    let (title, note) = match &screen.drill_view {
        Some(v) => (v.kind.title(), status(v)),
        None => ("Drill", "none running".to_owned()),
    };
    let block = frame_block(
        screen,
        Pane::Drill,
        vec![screen.span(Slot::Accent, title)],
        Some(Line::from(screen.span(Slot::Muted, format!(" {note} ")))),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Until scrolled by hand, the view follows the current step.
    let (lines, current) = lines(screen, inner.width as usize);
    list_following(screen, frame, Pane::Drill, inner, lines.len(), current.saturating_sub(1), |i| lines[i].clone())
}

fn status(v: &DrillView) -> String {
    if let Some(why) = &v.aborted {
        return format!("ABORTED: {}", fmt::clip(why, 40));
    }
    match v.current {
        Some(i) => format!("step {} of {}", i + 1, v.steps.len()),
        None => "finished".into(),
    }
}

/// The pane's lines, and the index of the current step's line.
fn lines<'a>(screen: &Screen, width: usize) -> (Vec<Line<'a>>, usize) {
    let sharing = screen.sharing.as_ref().map(|(warn, text)| {
        let slot = if *warn { Slot::Warn } else { Slot::Muted };
        Line::from(screen.span(slot, fmt::clip(text, width)))
    });
    let Some(v) = &screen.drill_view else {
        let mut out: Vec<Line> = sharing.into_iter().collect();
        out.extend(idle(screen));
        return (out, 0);
    };
    let mut at = 0;
    let now = screen.now.unwrap_or(v.started_at);
    let mut out: Vec<Line> = sharing.into_iter().collect();
    out.push(Line::from(vec![screen.span(
        Slot::Muted,
        format!("started {} · every gate must hold {:.0} s", fmt::clock(v.started_at), v.hold_secs),
    )]));
    for (i, s) in v.steps.iter().enumerate() {
        match &s.state {
            StepState::Done { at } if s.overridden.is_some() => out.push(Line::from(vec![
                screen.span(Slot::Alarm, format!("⚠ {} ", i + 1)),
                screen.span(Slot::Text, fmt::clip(&s.title, width.saturating_sub(4 + 27))),
                screen.span(Slot::Alarm, format!("  OVERRIDDEN {}", fmt::clock(*at))),
            ])),
            // The time stays whole; the title gives way.
            StepState::Done { at } => out.push(Line::from(vec![
                screen.span(Slot::Ok, format!("✓ {} ", i + 1)),
                screen.span(Slot::Text, fmt::clip(&s.title, width.saturating_sub(4 + 15))),
                screen.span(Slot::Muted, format!("  done {}", fmt::clock(*at))),
            ])),
            StepState::Current { .. } if v.current == Some(i) => {
                at = out.len();
                out.push(Line::from(vec![
                    screen.span(Slot::Focus, format!("▶ {} ", i + 1)),
                    screen.span(Slot::Focus, s.title.clone()).bold(),
                ]));
                current(screen, v, s, now, width, &mut out);
            }
            StepState::Current { .. } | StepState::Locked => out.push(Line::from(vec![
                screen.span(Slot::Muted, format!("· {} ", i + 1)),
                screen.span(Slot::Muted, s.title.clone()),
            ])),
        }
    }
    if let Some(why) = &v.aborted {
        out.push(Line::from(screen.span(Slot::Warn, format!("Aborted: {why}. The journal keeps what was done."))));
    } else if v.current.is_none() {
        let at =
            v.steps.iter().filter_map(|s| if let StepState::Done { at } = s.state { Some(at) } else { None }).max();
        let when = at.map(fmt::clock).unwrap_or_default();
        let text = format!("✓ Drill finished at {when}: the journal holds the evidence.");
        wrapped(screen, &mut out, &text, width, "  ", Slot::Ok);
    }
    (out, at)
}

fn idle<'a>(screen: &Screen) -> Vec<Line<'a>> {
    if screen.read_only() {
        return vec![
            Line::from(screen.span(Slot::Text, "No drill running.")),
            Line::from(screen.span(Slot::Muted, "Read-only: this console follows drills, it drives none.")),
        ];
    }
    vec![
        Line::from(screen.span(Slot::Text, "No drill running. Start one with a command:")),
        Line::from(vec![
            screen.span(Slot::Accent, "  :switchover  "),
            screen.span(Slot::Muted, "DC→DR, runbook steps 1–5"),
        ]),
        Line::from(vec![
            screen.span(Slot::Accent, "  :failback    "),
            screen.span(Slot::Muted, "DR→DC, runbook steps 6–10"),
        ]),
    ]
}

/// `text` wrapped under a 4-column indent, each line in `slot`.
fn wrapped<'a>(screen: &Screen, out: &mut Vec<Line<'a>>, text: &str, width: usize, indent: &str, slot: Slot) {
    for l in wrap(text, width, indent) {
        out.push(Line::from(screen.span(slot, l)));
    }
}

fn current<'a>(screen: &Screen, v: &DrillView, s: &StepView, now: Ts, width: usize, out: &mut Vec<Line<'a>>) {
    const IN: &str = "    ";
    const IN2: &str = "        ";
    if let Some(action) = &s.action {
        let (slot, what) = match &screen.gates.run_step {
            Availability::Enabled if screen.read_only() => {
                (Slot::Muted, format!("n → {} (read-only: the dispatcher will refuse it)", action.label()))
            }
            Availability::Enabled => (Slot::Text, format!("n → {}", action.label())),
            Availability::Disabled(why) => (Slot::Muted, format!("n → {} — {why}", action.label())),
        };
        let mut text = format!("{IN}action: {what}");
        if let Some(at) = s.requested_at {
            text.push_str(&format!(" · requested {}", fmt::clock(at)));
        }
        wrapped(screen, out, &text, width, IN2, slot);
        // Before applications start on a side: where each group resumes there.
        if let (Action::StartApps(to), None, Some((a, _))) = (action, s.requested_at, screen.shown()) {
            out.extend(super::translation::lines(screen, a, Flow::from(to.other()), width));
        }
        match &s.outcome {
            Some((true, detail)) => wrapped(screen, out, &format!("{IN}✓ done: {detail}"), width, IN2, Slot::Ok),
            Some((false, detail)) => wrapped(screen, out, &format!("{IN}✗ FAILED: {detail}"), width, IN2, Slot::Alarm),
            None if s.requested_at.is_some() => {
                out.push(Line::from(screen.span(Slot::Stale, format!("{IN}… waiting for the outcome"))))
            }
            None => {}
        }
    } else {
        out.push(Line::from(screen.span(Slot::Muted, format!("{IN}no action here: the step completes when observed"))));
    }
    for c in &s.checks {
        let (mark, slot) = truth_mark(&c.truth);
        let age =
            c.at.map_or("never observed".to_owned(), |at| format!("{} ago", crate::assess::fmt_age(age_secs(at, now))));
        out.push(Line::from(vec![
            screen.span(slot, format!("{IN}{mark} ")),
            screen.span(Slot::Text, c.label.clone()),
            screen.span(Slot::Muted, format!(" · {age}")),
        ]));
        let (text, slot) = match &c.truth {
            Truth::Unknown(why) => (format!("{IN2}unknown: {why} (seen: {})", c.observed), Slot::Stale),
            _ => (format!("{IN2}observed {}", c.observed), Slot::Muted),
        };
        wrapped(screen, out, &text, width, IN2, slot);
    }
    if s.checks.is_empty() {
        out.push(Line::from(screen.span(Slot::Stale, format!("{IN}? waiting for the first observation"))));
    }
    if s.preflight && s.checks.iter().any(|c| !c.truth.is_yes()) && !screen.read_only() {
        let text = format!("{IN}:override passes it anyway (type override; the journal keeps what failed)");
        wrapped(screen, out, &text, width, IN2, Slot::Muted);
    }
    if let Some(f) = &v.failback {
        failback(screen, f, width, out);
    }
    for (item, at) in &s.checklist {
        let (mark, mark_slot, note) = match at {
            Some(at) => ("☑", Slot::Ok, format!("  confirmed {}", fmt::clock(*at))),
            None => ("☐", Slot::Warn, "  — c confirms once done".to_owned()),
        };
        let text = format!("{IN}{mark} {item}{note}");
        for (k, l) in wrap(&text, width, IN2).into_iter().enumerate() {
            out.push(Line::from(match k {
                0 => vec![
                    screen.span(mark_slot, format!("{IN}{mark} ")),
                    screen.span(Slot::Text, l.chars().skip(IN.len() + 2).collect::<String>()),
                ],
                _ => vec![screen.span(Slot::Text, l)],
            }));
        }
    }
    if let Some(held) = v.holding {
        let frac = if v.hold_secs > 0.0 { (held / v.hold_secs).min(1.0) } else { 1.0 };
        let filled = (frac * 10.0).round() as usize;
        out.push(Line::from(vec![
            screen.span(Slot::Ok, format!("{IN}holding {held:.0} s of {:.0} s  ", v.hold_secs)),
            screen.span(Slot::Ok, "█".repeat(filled)),
            screen.span(Slot::Muted, "░".repeat(10 - filled)),
        ]));
    } else if let Some(why) = &v.blocked {
        wrapped(screen, out, &format!("{IN}▲ blocked: {why}"), width, IN2, Slot::Warn);
    }
}

/// Partitions listed one by one under the per-topic figures, at most.
const PARTITION_ROWS: usize = 8;

/// What the reverse flow would copy back and the orphan tail, per topic
/// then per partition (those with anything to show).
fn failback<'a>(screen: &Screen, f: &crate::assess::Failback, width: usize, out: &mut Vec<Line<'a>>) {
    const IN: &str = "    ";
    const IN2: &str = "        ";
    let total = match (&f.copy_back_unknown, f.copy_back()) {
        (Some(why), _) => format!("unknown ({why})"),
        (None, Some(n)) => format!("{n} rec"),
        (None, None) => "unknown".to_owned(),
    };
    let orphans = match (&f.orphans_unknown, f.orphans()) {
        (Some(why), _) => format!("unknown ({why})"),
        (None, Some(n)) => format!("{n} rec"),
        (None, None) => "unknown".to_owned(),
    };
    let text = format!(
        "{IN}{} would copy back {total} into {} · orphan tail on {} (never replicated): {orphans}",
        f.flow, f.flow.target, f.flow.target
    );
    wrapped(screen, out, &text, width, IN2, Slot::Text);
    let rec = |n: Option<u64>| n.map_or("?".to_owned(), |n| n.to_string());
    let age = |s: Option<f64>| s.map_or(String::new(), |s| format!(", oldest {} ago", crate::assess::fmt_age(s)));
    for t in f.topics() {
        let text = format!(
            "{IN2}{}: copy back {} rec · orphans {} rec{} ({} partitions)",
            t.topic,
            rec(t.copy_back),
            rec(t.orphans),
            age(t.orphans_oldest_age_secs),
            t.partitions
        );
        out.push(Line::from(screen.span(Slot::Muted, fmt::clip(&text, width))));
    }
    let shown: Vec<_> = f
        .partitions
        .iter()
        .filter(|p| p.copy_back.is_some_and(|n| n > 0) || p.orphans.is_some_and(|n| n > 0))
        .collect();
    for p in shown.iter().take(PARTITION_ROWS) {
        let earliest = if p.from_earliest { " from earliest" } else { "" };
        let text = format!(
            "{IN2}  {}[{}]: copy back {} rec{earliest} · orphans {} rec{}",
            p.topic,
            p.partition,
            rec(p.copy_back),
            rec(p.orphans),
            age(p.orphans_oldest_age_secs)
        );
        out.push(Line::from(screen.span(Slot::Muted, fmt::clip(&text, width))));
    }
    if shown.len() > PARTITION_ROWS {
        let text = format!("{IN2}  … {} more partitions (kdrill check --json lists all)", shown.len() - PARTITION_ROWS);
        out.push(Line::from(screen.span(Slot::Muted, text)));
    }
    if f.copy_back().is_some_and(|n| n > 0) && !screen.read_only() {
        let text = format!(
            "{IN}judged again once it runs (kdrill's start sets offsets at the ends where it can: n previews it); :accept takes the figure as duplicates, typed"
        );
        wrapped(screen, out, &text, width, IN2, Slot::Muted);
    }
}
