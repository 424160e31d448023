//! The `?` popup, generated from the keymap of the current view: every key
//! that works here, greyed with the reason when it cannot run now.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use super::super::keymap::{self, Availability, COMMANDS, View};
use super::super::screen::Screen;
use super::super::theme::Slot;
use super::pad;
use super::popup::centered;

pub fn lines<'a>(app: &Screen) -> Vec<Line<'a>> {
    let ctx = app.key_context();
    // Bindings of one group (scrolling, focus, sort) share a line.
    let mut rows: Vec<(String, String, Availability)> = Vec::new();
    let mut last_group = None;
    for (b, shown) in keymap::entries(&ctx) {
        match (b.group, rows.last_mut()) {
            (Some(g), Some((_, _, avail))) if last_group == Some(g) => {
                if !shown.is_enabled() {
                    *avail = shown;
                }
            }
            (Some((keys, desc)), _) => rows.push((keys.to_owned(), desc.to_owned(), shown)),
            (None, _) => rows.push((b.keys_label(), b.describe(&ctx).into_owned(), shown)),
        }
        last_group = b.group;
    }
    let key_w = rows.iter().map(|(k, _, _)| k.chars().count()).max().unwrap_or(0).min(20) + 2;
    let mut out: Vec<Line> = rows
        .into_iter()
        .map(|(keys, desc, shown)| match shown.reason() {
            None => Line::from(vec![app.span(Slot::Accent, pad(&keys, key_w)), app.span(Slot::Text, desc)]),
            Some(why) => Line::from(vec![
                app.span(Slot::Muted, pad(&keys, key_w)),
                app.span(Slot::Muted, desc),
                app.span(Slot::Muted, format!(" — {why}")),
            ]),
        })
        .collect();
    out.push(Line::default());
    out.push(Line::from(app.span(Slot::Muted, "Commands after :")));
    for (name, what) in COMMANDS {
        if name == "fault" && !app.demo {
            continue;
        }
        out.push(Line::from(vec![app.span(Slot::Accent, pad(&format!(":{name}"), key_w)), app.span(Slot::Text, what)]));
    }
    out
}

pub fn draw(app: &Screen, frame: &mut Frame, area: Rect, scroll: usize) {
    let lines = lines(app);
    let view = match app.view {
        View::Console => format!("console view · focus: {}", app.focus.name()),
        View::Wall => "wall view".to_owned(),
    };
    let r = centered(area, 100, lines.len() as u16 + 2);
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(app.style(Slot::Focus))
        .title(format!(" Keys · {view} "))
        .title_bottom(Line::from(" Esc or ? closes · ↑↓ scroll ").right_aligned());
    let inner_h = r.height.saturating_sub(2) as usize;
    let scroll = scroll.min(lines.len().saturating_sub(inner_h));
    frame.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)).block(block), r);
}
