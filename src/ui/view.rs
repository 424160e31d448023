//! The whole screen, from the read-only `Screen`: the console (header, rule
//! banner, panes, status line, hint bar) or the wall, then any popup on
//! top. Returns what the scrolling panes measured.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::model::Side;

use super::keymap::View;
use super::layout::{Claim, Pane, stack};
use super::panes::{cluster, drill, header, help, hints, lag, log, mm2, popup, wall};
use super::screen::{Extents, Screen};
use super::state::Mode;
use super::theme::Slot;

/// Below this the console shows a few lines of text instead of panes.
const MIN_W: u16 = 40;
const MIN_H: u16 = 12;

pub fn draw(screen: &Screen, frame: &mut Frame) -> Extents {
    let area = frame.area();
    let mut measured = Extents::default();
    if area.width < MIN_W || area.height < MIN_H {
        tiny(screen, frame, area);
    } else {
        match screen.view {
            View::Console => console(screen, frame, area, &mut measured),
            View::Wall => wall::draw(screen, frame, area),
        }
    }
    match screen.mode {
        Mode::Help { scroll } => help::draw(screen, frame, area, *scroll),
        Mode::Confirm(question) => popup::confirm(screen, frame, area, question),
        _ => {}
    }
    measured
}

fn console(screen: &Screen, frame: &mut Frame, area: Rect, measured: &mut Extents) {
    let [head, banner, body, status, bar] = Layout::vertical([
        Constraint::Length(header::HEIGHT),
        Constraint::Length(header::banner_height(screen, area.width)),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(screen, frame, head);
    header::banner(screen, frame, banner);
    panes(screen, frame, body, measured);
    hints::status(screen, frame, status);
    hints::bar(screen, frame, bar);
}

fn draw_pane(screen: &Screen, frame: &mut Frame, pane: Pane, r: Rect, measured: &mut Extents) {
    let extent = match pane {
        Pane::Drill => Some(drill::draw(screen, frame, r)),
        Pane::Mm2 => Some(mm2::draw(screen, frame, r)),
        Pane::Lag => lag::draw(screen, frame, r),
        Pane::Dc => cluster::draw(screen, frame, r, Side::Dc),
        Pane::Dr => cluster::draw(screen, frame, r, Side::Dr),
        Pane::Log => log::draw(screen, frame, r),
    };
    measured.set(pane, extent);
}

fn panes(screen: &Screen, frame: &mut Frame, area: Rect, measured: &mut Extents) {
    let claim = |pane, min, want| Claim { pane, min, want };
    if area.width >= 100 {
        let [left, right] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
        let left_claims = [
            claim(Pane::Dc, 4, cluster::wanted_rows(screen, Side::Dc)),
            claim(Pane::Dr, 4, cluster::wanted_rows(screen, Side::Dr)),
            claim(Pane::Log, 3, u16::MAX),
        ];
        let right_claims = [
            claim(Pane::Drill, 4, drill::wanted_rows(screen, right.width)),
            claim(Pane::Mm2, 3, mm2::wanted_rows(screen)),
            claim(Pane::Lag, 5, u16::MAX),
        ];
        let shown = stack(left, &left_claims, &[Pane::Dc, Pane::Dr, Pane::Log], screen.focus).into_iter().chain(stack(
            right,
            &right_claims,
            &[Pane::Drill, Pane::Mm2, Pane::Lag],
            screen.focus,
        ));
        for (pane, r) in shown {
            draw_pane(screen, frame, pane, r, measured);
        }
        return;
    }
    // One column; DC and DR share a row. The drill pane only while a drill
    // exists: otherwise the status line says how to start one.
    let sides_focus = if screen.focus == Pane::Dr { Pane::Dc } else { screen.focus };
    let mut claims = Vec::new();
    if screen.drill_view.is_some() {
        // During a drill its pane comes first: half the height at least.
        let want = drill::wanted_rows(screen, area.width);
        claims.push(claim(Pane::Drill, want.min((area.height / 2).max(4)), want));
    }
    claims.push(claim(Pane::Mm2, 3, mm2::wanted_rows(screen)));
    claims.push(claim(Pane::Lag, 5, 12));
    let sides = cluster::wanted_rows(screen, Side::Dc).max(cluster::wanted_rows(screen, Side::Dr));
    claims.push(claim(Pane::Dc, 4, sides));
    claims.push(claim(Pane::Log, 3, u16::MAX));
    let prio = [Pane::Drill, Pane::Mm2, Pane::Lag, Pane::Dc, Pane::Log];
    for (pane, r) in stack(area, &claims, &prio, sides_focus) {
        if pane == Pane::Dc {
            let [dc, dr] = Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(r);
            draw_pane(screen, frame, Pane::Dc, dc, measured);
            draw_pane(screen, frame, Pane::Dr, dr, measured);
        } else {
            draw_pane(screen, frame, pane, r, measured);
        }
    }
}

/// Very small terminals: the essentials as wrapped text, never a panic.
fn tiny(screen: &Screen, frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    for s in Side::BOTH {
        let role = screen.live.as_ref().map_or(crate::assess::Role::Unknown, |a| a.side(s).role);
        lines.push(Line::from(screen.span(super::panes::role_slot(role), format!("{} {}", s.label(), role.label()))));
    }
    match &screen.live {
        Some(a) => {
            if !a.violations.is_empty() {
                lines.push(Line::from(screen.span(Slot::Alarm, format!("⚠ {} RULE(S) BROKEN", a.violations.len()))));
            }
            lines.push(Line::from(screen.span(super::panes::level_slot(a.verdict.level), a.verdict.text.clone())));
        }
        None => lines.push(Line::from(screen.span(Slot::Stale, "? nothing observed yet"))),
    }
    lines.push(Line::from(screen.span(Slot::Muted, format!("enlarge to {MIN_W}×{MIN_H} for panes"))));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}
