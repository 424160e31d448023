//! The `?` popup, generated from the keymap: every key of the normal mode
//! that works in this view, greyed with the reason when it cannot run now,
//! and a footer from the help mode's own keys. `rows` writes the help of
//! any mode.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use super::super::keymap::{self, Availability, COMMANDS, KeyContext, KeyMode, View};
use super::super::screen::Screen;
use super::super::theme::Slot;
use super::pad;
use super::popup::centered;

/// The help of a mode: (keys, description, availability) per line;
/// bindings of one group (scrolling, focus, sort) share a line.
pub fn rows(mode: KeyMode, ctx: &KeyContext) -> Vec<(String, String, Availability)> {
    let mut rows: Vec<(String, String, Availability)> = Vec::new();
    let mut last_group = None;
    for (b, shown) in keymap::entries_in(mode, ctx) {
        match (b.group, rows.last_mut()) {
            (Some(g), Some((_, _, avail))) if last_group == Some(g) => {
                if !shown.is_enabled() {
                    *avail = shown;
                }
            }
            (Some((keys, desc)), _) => rows.push((keys.to_owned(), desc.to_owned(), shown)),
            (None, _) => rows.push((b.keys_label(), b.describe(ctx).into_owned(), shown)),
        }
        last_group = b.group;
    }
    rows
}

/// The help mode's hinted keys, all of them, for the popup's border.
fn footer(ctx: &KeyContext) -> String {
    let hints: Vec<String> = keymap::entries_in(KeyMode::Help, ctx)
        .filter_map(|(b, _)| {
            let keys = b.group.map_or_else(|| b.keys_label(), |(keys, _)| keys.to_owned());
            b.hint_label(ctx).map(|hint| format!("{keys} {hint}"))
        })
        .collect();
    format!(" {} ", hints.join(" · "))
}

pub fn lines<'a>(screen: &Screen) -> Vec<Line<'a>> {
    let rows = rows(KeyMode::Normal, &screen.key_context());
    let key_w = rows.iter().map(|(k, _, _)| k.chars().count()).max().unwrap_or(0).min(20) + 2;
    let mut out: Vec<Line> = rows
        .into_iter()
        .map(|(keys, desc, shown)| match shown.reason() {
            None => Line::from(vec![screen.span(Slot::Accent, pad(&keys, key_w)), screen.span(Slot::Text, desc)]),
            Some(why) => Line::from(vec![
                screen.span(Slot::Muted, pad(&keys, key_w)),
                screen.span(Slot::Muted, desc),
                screen.span(Slot::Muted, format!(" — {why}")),
            ]),
        })
        .collect();
    out.push(Line::default());
    out.push(Line::from(screen.span(Slot::Muted, "Commands after :")));
    for (name, what) in COMMANDS {
        if name == "fault" && !screen.demo {
            continue;
        }
        out.push(Line::from(vec![
            screen.span(Slot::Accent, pad(&format!(":{name}"), key_w)),
            screen.span(Slot::Text, what),
        ]));
    }
    out
}

pub fn draw(screen: &Screen, frame: &mut Frame, area: Rect, scroll: usize) {
    let lines = lines(screen);
    let view = match screen.view {
        View::Console => format!("console view · focus: {}", screen.focus.name()),
        View::Wall => "wall view".to_owned(),
    };
    // Wide enough for the `:` key's list of commands on one line.
    let r = centered(area, 112, lines.len() as u16 + 2);
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(screen.style(Slot::Focus))
        .title(format!(" Keys · {view} "))
        .title_bottom(Line::from(footer(&screen.key_context())).right_aligned());
    let inner_h = r.height.saturating_sub(2) as usize;
    let scroll = scroll.min(lines.len().saturating_sub(inner_h));
    frame.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)).block(block), r);
}

#[cfg(test)]
mod tests {
    use super::super::super::keymap::Availability;
    use super::*;

    #[test]
    fn every_mode_has_help_and_the_help_footer_names_its_keys() {
        let e = Availability::Enabled;
        let ctx = KeyContext {
            view: View::Console,
            demo: true,
            read_only: false,
            filtering: true,
            flows: 2,
            paused: false,
            drill_running: true,
            run_step: &e,
            confirm: &e,
            abort: &e,
        };
        for mode in KeyMode::ALL {
            let rows = rows(mode, &ctx);
            assert!(rows.iter().any(|(keys, _, _)| keys.contains("Ctrl-C")), "{mode:?}: {rows:?}");
        }
        assert_eq!(footer(&ctx), " Esc ? q close · ↑↓ PgUp PgDn scroll ");
    }
}
