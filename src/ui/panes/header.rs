//! The header: which side is active (the largest element), the verdict,
//! the clock, data freshness per side and the mode badges; below it, a
//! banner for every broken runbook rule.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::assess::{Role, SideView, fmt_age};
use crate::model::{Side, age_secs};

use super::super::fmt;
use super::super::screen::Screen;
use super::super::theme::Slot;
use super::{figure_slot, level_slot, level_symbol, role_slot};

pub const HEIGHT: u16 = 3;

pub fn draw(screen: &Screen, frame: &mut Frame, area: Rect) {
    if area.width < 44 {
        return compact(screen, frame, area);
    }
    let box_w = if area.width >= 100 { 22 } else { 16 };
    let [dc, dr, info] =
        Layout::horizontal([Constraint::Length(box_w), Constraint::Length(box_w + 1), Constraint::Min(0)])
            .spacing(1)
            .areas(area);
    role_box(screen, frame, dc, Side::Dc);
    role_box(screen, frame, dr.inner(ratatui::layout::Margin::new(0, 0)), Side::Dr);
    info_lines(screen, frame, info);
}

fn side<'a>(screen: &Screen<'a>, side: Side) -> Option<&'a SideView> {
    screen.live.as_ref().map(|a| a.side(side))
}

fn role_box(screen: &Screen, frame: &mut Frame, area: Rect, s: Side) {
    let view = side(screen, s);
    let role = view.map_or(Role::Unknown, |v| v.role);
    let style = screen.style(role_slot(role));
    let declared = view.and_then(|v| v.declared);
    let third = match declared {
        Some(d) if d != role => Line::from(screen.span(Slot::Warn, format!("⚠ declared {}", d.label()))),
        Some(d) => Line::from(format!("declared {}", d.label())),
        None => Line::from(match view {
            Some(v) => fmt::freshness(v.freshness),
            None => "waiting for data".into(),
        }),
    };
    let lines =
        vec![Line::from(format!("{} · observed", s.label())), Line::from(Span::from(role.label()).bold()), third];
    let p = Paragraph::new(lines).alignment(Alignment::Center).block(Block::new()).style(style);
    frame.render_widget(p, area);
}

fn info_lines(screen: &Screen, frame: &mut Frame, area: Rect) {
    let clock = match screen.now {
        Some(t) => format!(" {} UTC", fmt::clock(t)),
        None => " --:--:-- UTC".into(),
    };
    let [verdict_area, clock_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(clock.chars().count() as u16)])
            .areas(Rect { height: 1, ..area });
    let verdict = match &screen.live {
        Some(a) => Line::from(vec![
            screen.span(level_slot(a.verdict.level), format!("{} {}", level_symbol(a.verdict.level), a.verdict.text)),
        ]),
        None => Line::from(screen.span(Slot::Stale, "? nothing observed yet")),
    };
    frame.render_widget(Paragraph::new(verdict), verdict_area);
    frame.render_widget(Paragraph::new(Line::from(screen.span(Slot::Text, clock).bold())), clock_area);

    let mut fresh = vec![screen.span(Slot::Muted, "data ")];
    for s in Side::BOTH {
        if s == Side::Dr {
            fresh.push(screen.span(Slot::Muted, "  ·  "));
        }
        fresh.push(screen.span(Slot::Text, format!("{} ", s.label())));
        match side(screen, s) {
            // One state per fact: unreachable (and how old its data is), or
            // how fresh the data is.
            Some(v) => match &v.link {
                crate::model::Link::Down { since, .. } => {
                    let age = screen.now.map(|n| fmt_age(age_secs(*since, n))).unwrap_or_default();
                    fresh.push(screen.span(Slot::Alarm, format!("unreachable for {age}")));
                    let data = match (v.observed_at, screen.now) {
                        (Some(at), Some(now)) => format!(" · last seen {}", fmt::ago(Some(at), now)),
                        _ => " · never seen".to_owned(),
                    };
                    fresh.push(screen.span(Slot::Stale, data));
                }
                _ => fresh.push(screen.span(figure_slot(v.freshness, Slot::Ok), fmt::freshness(v.freshness))),
            },
            None => fresh.push(screen.span(Slot::Stale, "never observed")),
        }
    }
    let mut badges: Vec<Span> = Vec::new();
    let mut badge = |slot: Slot, text: String| {
        badges.push(screen.span(slot, format!(" {text} ")));
        badges.push(Span::raw(" "));
    };
    if screen.read_only() {
        badge(Slot::Badge, "READ-ONLY".into());
    }
    if let Some(f) = &screen.frozen {
        let age = screen.now.map(|n| fmt_age(age_secs(f.at, n))).unwrap_or_default();
        badge(Slot::Badge, format!("PAUSED at {} ({age}) · p resumes", fmt::clock(f.at)));
    }
    if screen.demo {
        let faults: Vec<String> = screen.faults_on.iter().map(|f| super::super::commands::fault_name(*f)).collect();
        let text = if faults.is_empty() { "DEMO".to_owned() } else { format!("DEMO · faults: {}", faults.join(", ")) };
        badge(Slot::Badge, text);
    }
    if badges.is_empty() {
        badges.push(screen.span(Slot::Muted, format!("theme {}", screen.theme.name())));
    }
    let rest = Rect { y: area.y.saturating_add(1), height: area.height.saturating_sub(1), ..area };
    frame.render_widget(Paragraph::new(vec![Line::from(fresh), Line::from(badges)]), rest);
}

/// One line for very narrow terminals.
fn compact(screen: &Screen, frame: &mut Frame, area: Rect) {
    let mut roles = Vec::new();
    for s in Side::BOTH {
        let role = side(screen, s).map_or(Role::Unknown, |v| v.role);
        roles.push(screen.span(role_slot(role), format!("{} {}", s.label(), role.label())));
        roles.push(Span::raw(" "));
    }
    let verdict = match &screen.live {
        Some(a) => screen.span(level_slot(a.verdict.level), a.verdict.text.clone()),
        None => screen.span(Slot::Stale, "? nothing observed yet"),
    };
    let mut lines = vec![Line::from(roles), Line::from(verdict)];
    if screen.read_only() {
        lines.push(Line::from(screen.span(Slot::Badge, "READ-ONLY")));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The rule banner's lines at `width`: each broken rule, since when, the
/// runbook's words and the detail, in at most two lines; at most five.
fn banner_lines(screen: &Screen, width: u16) -> Vec<String> {
    let Some(a) = &screen.live else { return Vec::new() };
    let mut out = Vec::new();
    for v in &a.violations {
        let since = format!("{} ({})", fmt::clock(v.since), fmt_age(age_secs(v.since, a.now)));
        let text = format!(" ⚠ RULE BROKEN since {since} · {} — {}", v.rule.statement(), v.detail);
        let mut lines = super::wrap(&text, width as usize, "   ");
        if lines.len() > 2 {
            lines.truncate(2);
            lines[1] = fmt::clip(&format!("{}…", lines[1]), width as usize);
        }
        out.extend(lines);
    }
    if out.len() > 5 {
        out.truncate(4);
        out.push(format!(" ⚠ {} rules broken in all: see the event log", a.violations.len()));
    }
    out
}

/// Rows the rule banner needs at `width`.
pub fn banner_height(screen: &Screen, width: u16) -> u16 {
    banner_lines(screen, width).len() as u16
}

pub fn banner(screen: &Screen, frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = banner_lines(screen, area.width).into_iter().map(Line::from).collect();
    frame.render_widget(Paragraph::new(lines).style(screen.style(Slot::Alarm)), area);
}
