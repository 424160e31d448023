//! One cluster: link, brokers, produce rate per application topic (all
//! writers, applications, MM2), and consumer groups with who is connected.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::assess::{GroupClass, SideView, TopicView, fmt_age};
use crate::model::{Link, Side, age_secs};

use super::super::app::App;
use super::super::fmt;
use super::super::layout::Pane;
use super::super::theme::Slot;
use super::{figure_slot, frame_block, list, pad, role_slot, rpad};

pub fn pane(side: Side) -> Pane {
    match side {
        Side::Dc => Pane::Dc,
        Side::Dr => Pane::Dr,
    }
}

/// Rows the pane would like: status, two headers, topics and groups.
pub fn wanted_rows(app: &App, side: Side) -> u16 {
    let i = side.index();
    let topics = app.prepared.topics[i].len().max(1);
    let groups = app.prepared.groups[i].len().max(1);
    (2 + 3 + topics + groups).min(40) as u16
}

pub fn draw(app: &App, frame: &mut Frame, area: Rect, side: Side) {
    let p = pane(side);
    let Some((a, _)) = app.shown() else {
        let block = frame_block(app, p, vec![app.span(Slot::Accent, side.label())], None);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(Line::from(app.span(Slot::Stale, "? never observed")), inner);
        return;
    };
    let v = a.side(side);
    let title = vec![
        app.span(Slot::Accent, format!("{} · {} ", side.label(), v.alias)),
        app.span(role_slot(v.role), format!(" {} ", v.role.label())),
    ];
    let note =
        Line::from(app.span(figure_slot(v.freshness, Slot::Muted), format!(" {} ", fmt::freshness(v.freshness))));
    let block = frame_block(app, p, title, Some(note));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let i = side.index();
    let topics = &app.prepared.topics[i];
    let groups = &app.prepared.groups[i];
    let n_topics = topics.len().max(1);
    let n_groups = groups.len().max(1);
    let total = 1 + 1 + n_topics + 1 + n_groups;
    let w = inner.width as usize;
    let fig = figure_slot(v.freshness, Slot::Text);
    list(app, frame, p, inner, total, |row| {
        if row == 0 {
            return status(app, v, a.now);
        }
        let row = row - 1;
        if row == 0 {
            return Line::from(app.span(Slot::Muted, topic_header(w)));
        }
        let row = row - 1;
        if row < n_topics {
            return match topics.get(row) {
                Some(&t) => topic_line(app, &v.topics[t], w, fig),
                None => Line::from(app.span(Slot::Muted, "no application topics observed")),
            };
        }
        let row = row - n_topics;
        if row == 0 {
            return Line::from(app.span(Slot::Muted, group_header(w)));
        }
        match groups.get(row - 1) {
            Some(&g) => group_line(app, v, g, w, fig),
            None => Line::from(app.span(
                Slot::Muted,
                if v.observed_at.is_some() { "no consumer groups" } else { "? consumer groups never observed" },
            )),
        }
    });
}

fn status<'a>(app: &App, v: &SideView, now: crate::model::Ts) -> Line<'a> {
    let mut spans: Vec<Span> = Vec::new();
    match &v.link {
        Link::Up { .. } => spans.push(app.span(Slot::Ok, "link up")),
        Link::Connecting => spans.push(app.span(Slot::Stale, "connecting…")),
        Link::Down { since, error, .. } => spans.push(app.span(
            Slot::Alarm,
            format!(
                "UNREACHABLE since {} ({}): {}",
                fmt::clock(*since),
                fmt_age(age_secs(*since, now)),
                fmt::clip(error, 40)
            ),
        )),
    }
    spans.push(app.span(Slot::Muted, " · brokers "));
    match v.brokers_up {
        Some((up, all)) => {
            let slot = if up < all { Slot::Warn } else { figure_slot(v.freshness, Slot::Text) };
            spans.push(app.span(slot, format!("{up}/{all} up")));
        }
        None => spans.push(app.span(Slot::Stale, "? up")),
    }
    let apps = v.app_groups().map(|g| g.members).sum::<usize>();
    spans.push(app.span(Slot::Muted, " · app consumers "));
    spans.push(app.span(figure_slot(v.freshness, Slot::Text), apps.to_string()));
    Line::from(spans)
}

fn wide(w: usize) -> bool {
    w >= 50
}

fn name_width(w: usize) -> usize {
    let fixed = if wide(w) { 6 + 3 * 12 } else { 2 * 12 };
    w.saturating_sub(fixed).max(8)
}

fn topic_header(w: usize) -> String {
    let nw = name_width(w);
    if wide(w) {
        format!("{}{} {:>11} {:>11} {:>11}", pad("topic", nw), rpad("parts", 6), "written", "by apps", "by MM2")
    } else {
        format!("{} {:>11} {:>11}", pad("topic", nw), "written", "by apps")
    }
}

fn topic_line<'a>(app: &App, t: &TopicView, w: usize, fig: Slot) -> Line<'a> {
    let nw = name_width(w);
    let mm2 = match (t.rate, t.app_rate) {
        (Some(r), Some(a)) => Some((r - a).max(0.0)),
        _ => None,
    };
    let cell = |r: Option<f64>| {
        let slot = if r.is_none() { Slot::Stale } else { fig };
        app.span(slot, format!(" {:>11}", fmt::rate(r)))
    };
    let mut spans = vec![app.span(Slot::Text, pad(&t.name, nw))];
    if wide(w) {
        spans.push(app.span(fig, rpad(&t.partitions.to_string(), 6)));
    }
    spans.push(cell(t.rate));
    spans.push(cell(t.app_rate));
    if wide(w) {
        spans.push(cell(mm2));
    }
    Line::from(spans)
}

fn id_width(w: usize) -> usize {
    let fixed = if wide(w) { 9 + 12 + 4 + 3 } else { 9 + 4 + 2 };
    (w.saturating_sub(fixed) / 2).clamp(8, 26)
}

fn group_header(w: usize) -> String {
    let iw = id_width(w);
    if wide(w) {
        format!("{} {} {} {:>4} clients @ hosts", pad("group", iw), pad("class", 8), pad("state", 11), "mem")
    } else {
        format!("{} {} {:>4} clients", pad("group", iw), pad("class", 8), "mem")
    }
}

fn group_line<'a>(app: &App, v: &SideView, g: usize, w: usize, fig: Slot) -> Line<'a> {
    let g = &v.groups[g];
    let iw = id_width(w);
    let (class, slot) = match g.class {
        GroupClass::App => ("app", Slot::Text),
        GroupClass::Plumbing => ("plumbing", Slot::Muted),
        GroupClass::Mm2 => ("MM2", Slot::Accent),
        GroupClass::Other => ("other", Slot::Muted),
    };
    let who = if g.hosts.is_empty() {
        g.clients.join(", ")
    } else if wide(w) {
        format!("{} @ {}", g.clients.join(", "), g.hosts.join(", "))
    } else {
        g.clients.join(", ")
    };
    let mut spans = vec![app.span(Slot::Text, pad(&g.id, iw)), Span::raw(" "), app.span(slot, pad(class, 8))];
    if wide(w) {
        spans.push(Span::raw(" "));
        spans.push(app.span(fig, pad(&g.state, 11)));
    }
    spans.push(app.span(fig, format!(" {:>4} ", g.members)));
    let used = iw + 1 + 8 + if wide(w) { 12 } else { 0 } + 6;
    spans.push(app.span(Slot::Muted, fmt::clip(&who, w.saturating_sub(used))));
    Line::from(spans)
}
