//! The wall screen, read from across a room: the role of each side in very
//! large letters, MM2's direction and health, the total lag large, the
//! runbook alarms, the drill's progress. No keys hints, no tables.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::assess::{Health, LagLevel, Role, fmt_age};
use crate::model::{Side, age_secs};

use super::super::bigtext;
use super::super::fmt;
use super::super::screen::Screen;
use super::super::theme::Slot;
use super::{figure_slot, health_slot, level_slot, level_symbol, role_slot};

/// How much room the role banner gets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Size {
    /// Side and role both in large letters.
    Tall,
    /// The role in large letters.
    Medium,
    /// Plain text.
    Small,
}

impl Size {
    fn rows(self) -> u16 {
        match self {
            Size::Tall => 2 * bigtext::HEIGHT as u16 + 3,
            Size::Medium => bigtext::HEIGHT as u16 + 2,
            Size::Small => 2,
        }
    }
}

pub fn draw(screen: &Screen, frame: &mut Frame, area: Rect) {
    let alarms = screen.live.as_ref().map_or(0, |a| a.violations.len()).clamp(1, 4) as u16;
    let mm2 =
        screen.live.as_ref().map_or(1, |a| a.mm2.iter().filter(|m| m.health != Health::Stopped).count().max(1)) as u16;
    let drill = u16::from(screen.drill_in_progress());
    let fixed = 1 + mm2 + drill + alarms + 1;
    let rest = area.height.saturating_sub(fixed);
    let (size, big_lag) = if rest >= Size::Tall.rows() + 7 {
        (Size::Tall, true)
    } else if rest >= Size::Medium.rows() + 7 {
        (Size::Medium, true)
    } else if rest > Size::Medium.rows() {
        (Size::Medium, false)
    } else {
        (Size::Small, false)
    };
    let lag_rows = if big_lag { bigtext::HEIGHT as u16 + 1 } else { 1 };
    // The role banner takes every spare row: from across a room, the
    // colour of each half is the first thing read.
    let [title, roles, gap, mm2_area, lag, drill_area, alarm_area, verdict] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(size.rows()),
        Constraint::Length(1),
        Constraint::Length(mm2),
        Constraint::Length(lag_rows),
        Constraint::Length(drill),
        Constraint::Length(alarms),
        Constraint::Length(1),
    ])
    .areas(area);
    let _ = gap;
    title_line(screen, frame, title);
    let [dc, dr] = Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).spacing(1).areas(roles);
    role(screen, frame, dc, Side::Dc, size);
    role(screen, frame, dr, Side::Dr, size);
    mm2_lines(screen, frame, mm2_area);
    lag_total(screen, frame, lag, big_lag);
    if drill > 0 {
        drill_line(screen, frame, drill_area);
    }
    alarm_lines(screen, frame, alarm_area);
    verdict_line(screen, frame, verdict);
}

fn title_line(screen: &Screen, frame: &mut Frame, area: Rect) {
    let clock = screen.now.map_or("--:--:--".to_owned(), fmt::clock);
    let mut spans = vec![screen.span(Slot::Accent, "kdrill"), screen.span(Slot::Muted, " · DC/DR wall")];
    if screen.read_only() {
        spans.push(Span::raw("  "));
        spans.push(screen.span(Slot::Badge, " READ-ONLY "));
    }
    if screen.frozen.is_some() {
        spans.push(Span::raw("  "));
        spans.push(screen.span(Slot::Badge, " PAUSED "));
    }
    if screen.demo {
        spans.push(Span::raw("  "));
        spans.push(screen.span(Slot::Badge, " DEMO "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    frame.render_widget(
        Paragraph::new(Line::from(screen.span(Slot::Text, format!("{clock} UTC")).bold())).alignment(Alignment::Right),
        area,
    );
}

fn role(screen: &Screen, frame: &mut Frame, area: Rect, side: Side, size: Size) {
    let view = screen.live.as_ref().map(|a| a.side(side));
    let r = view.map_or(Role::Unknown, |v| v.role);
    let style = screen.style(role_slot(r));
    frame.render_widget(Paragraph::new("").style(style), area);
    let cols = area.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    // One scale for both words, so the banner reads as one piece.
    let scale = bigtext::fit(r.label(), cols).or(bigtext::fit("PASSIVE", cols));
    let big = |text: &str, lines: &mut Vec<Line>| match scale.filter(|&s| bigtext::width(text, s) <= cols) {
        Some(scale) => lines.extend(bigtext::render(text, scale).into_iter().map(Line::from)),
        None => lines.push(Line::from(Span::from(text.to_owned()).bold())),
    };
    match size {
        Size::Tall => {
            big(side.label(), &mut lines);
            lines.push(Line::default());
            big(r.label(), &mut lines);
        }
        Size::Medium => {
            lines.push(Line::from(Span::from(side.label()).bold()));
            big(r.label(), &mut lines);
        }
        Size::Small => lines.push(Line::from(Span::from(format!("{} {}", side.label(), r.label())).bold())),
    }
    let sub = match (view, view.and_then(|v| v.declared)) {
        (Some(v), Some(d)) if d != r => Line::from(
            screen.span(Slot::Warn, format!(" ⚠ declared {} · data {} ", d.label(), fmt::freshness(v.freshness))),
        ),
        (Some(v), _) => Line::from(format!("data {}", fmt::freshness(v.freshness))),
        (None, _) => Line::from("waiting for data"),
    };
    lines.push(sub);
    let h = lines.len() as u16;
    let y = area.y + area.height.saturating_sub(h) / 2;
    let inner = Rect { y, height: h.min(area.height), ..area };
    frame.render_widget(Paragraph::new(lines).alignment(Alignment::Center).style(style), inner);
}

fn mm2_lines(screen: &Screen, frame: &mut Frame, area: Rect) {
    let Some(a) = &screen.live else {
        return frame.render_widget(Line::from(screen.span(Slot::Stale, "MM2 ? never observed")), area);
    };
    let running: Vec<_> = a.mm2.iter().enumerate().filter(|(_, m)| m.health != Health::Stopped).collect();
    let lines: Vec<Line> = if running.is_empty() {
        vec![Line::from(vec![screen.span(Slot::Text, "MM2 ").bold(), screen.span(Slot::Muted, "stopped everywhere")])]
    } else {
        running
            .iter()
            .map(|&(k, m)| {
                let hb = m.heartbeat_mirrored_age.or(m.heartbeat_local_age);
                let total = screen.prepared.workers_total.get(k).copied().flatten();
                let workers = match (m.workers_alive, total) {
                    (Some(n), Some(t)) => format!("{n}/{t}"),
                    (Some(n), None) => n.to_string(),
                    _ => "?".into(),
                };
                let mut line = Line::from(vec![
                    screen.span(Slot::Text, "MM2 ").bold(),
                    screen.span(Slot::Accent, format!("{} ", m.flow)).bold(),
                    screen.span(Slot::Muted, format!("runs on {}  ", m.runs_on)),
                    screen.span(health_slot(m.health), format!(" {} ", m.health.label().to_uppercase())).bold(),
                    screen.span(Slot::Muted, format!("  workers {workers}  ·  heartbeat {}", fmt::age(hb))),
                ]);
                // The first problem, if the line has room for it.
                if let Some(p) = m.problems.first() {
                    let extra = format!("  ▲ {p}");
                    if line.width() + extra.chars().count() <= area.width as usize {
                        line.spans.push(screen.span(Slot::Warn, extra));
                    }
                }
                line
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).alignment(Alignment::Center), area);
}

fn lag_total(screen: &Screen, frame: &mut Frame, area: Rect, big: bool) {
    let Some(a) = &screen.live else { return };
    let Some(l) = a.live_lag() else {
        return frame
            .render_widget(Line::from(screen.span(Slot::Muted, "no MM2 deployment configured")).centered(), area);
    };
    let slot = match (&l.level, l.total) {
        (LagLevel::Unknown(_), _) | (_, None) => Slot::Stale,
        (LagLevel::Above { .. }, _) => Slot::Warn,
        (LagLevel::Ahead { .. }, _) => Slot::Alarm,
        (LagLevel::Within, Some(_)) => Slot::Text,
    };
    let number = l.total.map_or("?".to_owned(), fmt::thousands);
    let caption = format!(
        "lag {} · {} rec · oldest {} · observed {}",
        l.flow,
        number,
        fmt::seconds(l.max_seconds),
        fmt::ago(l.at, a.now)
    );
    let cols = area.width as usize;
    match bigtext::fit(&number, cols.saturating_sub(12)).filter(|_| big) {
        Some(scale) => {
            let mut lines: Vec<Line> =
                bigtext::render(&number, scale).into_iter().map(|r| Line::from(screen.span(slot, r))).collect();
            lines.push(Line::from(screen.span(figure_slot(l.freshness, Slot::Muted), caption)));
            frame.render_widget(Paragraph::new(lines).alignment(Alignment::Center), area);
        }
        None => frame.render_widget(
            Paragraph::new(Line::from(screen.span(slot, caption).bold())).alignment(Alignment::Center),
            area,
        ),
    }
}

fn drill_line(screen: &Screen, frame: &mut Frame, area: Rect) {
    let Some(v) = &screen.drill_view else { return };
    let step = v.current.and_then(|i| v.steps.get(i).map(|s| (i, s)));
    let mut spans = vec![screen.span(Slot::Accent, format!("DRILL {} ", v.kind.title())).bold()];
    if let Some((i, s)) = step {
        spans.push(screen.span(Slot::Text, format!("· step {} of {}: {}", i + 1, v.steps.len(), s.title)));
    }
    if let Some(why) = &v.blocked {
        spans.push(screen.span(Slot::Muted, format!(" · {why}")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).alignment(Alignment::Center), area);
}

fn alarm_lines(screen: &Screen, frame: &mut Frame, area: Rect) {
    let Some(a) = &screen.live else { return };
    if a.violations.is_empty() {
        let blind = a.rules_unchecked_because();
        let line = if blind.is_empty() {
            Line::from(screen.span(Slot::Ok, "✓ every runbook rule is kept"))
        } else {
            Line::from(screen.span(Slot::Stale, format!("? runbook rules cannot be checked: {}", blind.join(", "))))
        };
        return frame.render_widget(line.centered(), area);
    }
    let mut lines: Vec<Line> = a
        .violations
        .iter()
        .take(area.height as usize)
        .map(|v| {
            let age = fmt_age(age_secs(v.since, a.now));
            Line::from(format!(" ⚠ RULE BROKEN: {} · for {age} ", v.rule.statement())).centered()
        })
        .collect();
    if a.violations.len() > lines.len() {
        lines.pop();
        lines.push(Line::from(format!(" ⚠ {} rules broken ", a.violations.len())).centered());
    }
    frame.render_widget(Paragraph::new(lines).style(screen.style(Slot::Alarm)), area);
}

fn verdict_line(screen: &Screen, frame: &mut Frame, area: Rect) {
    let line = match &screen.live {
        // The alarms above already say it.
        Some(a) if !a.violations.is_empty() => Line::from(screen.span(Slot::Muted, "details on the console: w")),
        Some(a) => Line::from(
            screen.span(level_slot(a.verdict.level), format!("{} {}", level_symbol(a.verdict.level), a.verdict.text)),
        ),
        None => Line::from(screen.span(Slot::Stale, "? nothing observed yet")),
    };
    frame.render_widget(Paragraph::new(line).alignment(Alignment::Center), area);
}
