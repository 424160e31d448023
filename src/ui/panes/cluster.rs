//! One cluster: link, brokers, produce rate per application topic (all
//! writers, applications, MM2), and consumer groups with who is connected.

use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::assess::{GroupClass, GroupLag, Known, PlatformView, SideView, TopicView, Truth, fmt_age};
use crate::model::{Link, Side, age_secs};

use super::super::fmt;
use super::super::layout::Pane;
use super::super::screen::{Extent, Screen};
use super::super::theme::Slot;
use super::{figure_slot, frame_block, list, pad, role_slot, rpad};

pub fn pane(side: Side) -> Pane {
    match side {
        Side::Dc => Pane::Dc,
        Side::Dr => Pane::Dr,
    }
}

/// Rows the pane would like: status, two headers, topics and groups.
pub fn wanted_rows(screen: &Screen, side: Side) -> u16 {
    let i = side.index();
    let topics = screen.prepared.topics[i].len().max(1);
    let groups = screen.prepared.groups[i].len().max(1);
    let k8s = screen.shown().is_some_and(|(a, _)| a.platforms[i].is_some());
    let notes = screen.shown().map_or(0, |(a, _)| notes(screen, a, side, 60).len());
    (2 + 3 + usize::from(k8s) + notes + topics + groups).min(40) as u16
}

pub fn draw(screen: &Screen, frame: &mut Frame, area: Rect, side: Side) -> Option<Extent> {
    let p = pane(side);
    let Some((a, _)) = screen.shown() else {
        let block = frame_block(screen, p, vec![screen.span(Slot::Accent, side.label())], None);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(Line::from(screen.span(Slot::Stale, "? never observed")), inner);
        return None;
    };
    let v = a.side(side);
    let mut title = vec![
        screen.span(Slot::Accent, format!("{} · {} ", side.label(), v.alias)),
        screen.span(role_slot(v.role), format!(" {} ", v.role.label())),
    ];
    // A filter may hide a group: say so where the groups are.
    if let Some(f) = &screen.filter {
        let shown = screen.prepared.groups[side.index()].len();
        title.push(screen.span(Slot::Warn, format!(" /{}/ {shown} of {} groups", f.text, v.groups.len())));
    }
    let note =
        Line::from(screen.span(figure_slot(v.freshness, Slot::Muted), format!(" {} ", fmt::freshness(v.freshness))));
    let block = frame_block(screen, p, title, Some(note));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let i = side.index();
    let topics = &screen.prepared.topics[i];
    let groups = &screen.prepared.groups[i];
    let n_topics = topics.len().max(1);
    let n_groups = groups.len().max(1);
    let platform = a.platforms[i].as_ref();
    let k8s_rows = usize::from(platform.is_some());
    let w = inner.width as usize;
    let notes = notes(screen, a, side, w);
    let total = 1 + k8s_rows + notes.len() + 1 + n_topics + 1 + n_groups;
    let fig = figure_slot(v.freshness, Slot::Text);
    let nw = TopicCols::new(w, screen.prepared.topic_width[i]);
    let inbound = mm2_writes_here(a, side);
    let iw = id_width(w, screen.prepared.group_width[i]);
    let extent = list(screen, frame, p, inner, total, |row| {
        if row == 0 {
            return status(screen, v, a.now, w);
        }
        let row = row - 1;
        if let (Some(p), 0) = (platform, row) {
            return platform_line(screen, p, w);
        }
        let row = row - k8s_rows;
        if let Some(line) = notes.get(row) {
            return line.clone();
        }
        let row = row - notes.len();
        if row == 0 {
            return Line::from(screen.span(Slot::Muted, topic_header(w, nw)));
        }
        let row = row - 1;
        if row < n_topics {
            return match topics.get(row) {
                Some(&t) => topic_line(screen, &v.topics[t], w, nw, &inbound, fig),
                None => Line::from(screen.span(Slot::Muted, "no application topics observed")),
            };
        }
        let row = row - n_topics;
        if row == 0 {
            return Line::from(screen.span(Slot::Muted, group_header(w, iw)));
        }
        match groups.get(row - 1) {
            Some(&g) => group_line(screen, v, g, w, iw, fig),
            None => Line::from(screen.span(
                Slot::Muted,
                if v.observed_at.is_some() { "no consumer groups" } else { "? consumer groups never observed" },
            )),
        }
    });
    Some(extent)
}

fn status<'a>(screen: &Screen, v: &SideView, now: crate::model::Ts, w: usize) -> Line<'a> {
    let mut spans: Vec<Span> = Vec::new();
    match &v.link {
        Link::Up { .. } => spans.push(screen.span(Slot::Ok, "link up")),
        Link::Connecting => spans.push(screen.span(Slot::Stale, "connecting…")),
        Link::Down { since, error, .. } => spans.push(screen.span(
            Slot::Alarm,
            format!(
                "UNREACHABLE since {} ({}): {}",
                fmt::clock(*since),
                fmt_age(age_secs(*since, now)),
                fmt::clip(error, 72)
            ),
        )),
    }
    spans.push(screen.span(Slot::Muted, if wide(w) { " · brokers " } else { " · " }));
    match v.brokers_up {
        Some((up, all)) => {
            let slot = if up < all { Slot::Warn } else { figure_slot(v.freshness, Slot::Text) };
            spans.push(
                screen.span(slot, if wide(w) { format!("{up}/{all} up") } else { format!("{up}/{all} brokers") }),
            );
        }
        None => spans.push(screen.span(Slot::Stale, "? up")),
    }
    let apps = v.app_groups().map(|g| g.members).sum::<usize>();
    spans.push(screen.span(Slot::Muted, if wide(w) { " · app consumers " } else { " · consumers " }));
    spans.push(screen.span(figure_slot(v.freshness, Slot::Text), apps.to_string()));
    Line::from(spans)
}

/// What the side's figures may be missing or where its topics differ from
/// their sources: the first of each, in words (the rest in `kdrill check`).
fn notes<'a>(screen: &Screen, a: &crate::assess::Assessment, side: Side, w: usize) -> Vec<Line<'a>> {
    let more = |n: usize| if n > 1 { format!(" (+{} in check)", n - 1) } else { String::new() };
    let mut out = Vec::new();
    if let Some(sec) = &a.side(side).security {
        out.push(security_line(screen, sec, w));
    }
    // Said only when it costs the cluster a request per group.
    if let Some(per_group @ crate::model::OffsetsSource::PerGroup(_)) = &a.side(side).offsets_source {
        let text = fmt::clip(&format!("group offsets {}", per_group.describe()), w);
        out.push(Line::from(screen.span(Slot::Muted, text)));
    }
    let unread = &a.side(side).unread;
    if let Some(first) = unread.first() {
        let text = fmt::clip(&format!("▲ {first}{}", more(unread.len())), w);
        out.push(Line::from(screen.span(Slot::Warn, text)));
    }
    // A part of an answered poll that failed keeps its last value, aging.
    let unread = a.side(side).last_poll_unread().unwrap_or_default();
    if let Some(first) = unread.first() {
        let text = fmt::clip(&format!("▲ last poll: {first}{}", more(unread.len())), w);
        out.push(Line::from(screen.span(Slot::Warn, text)));
    }
    let untranslatable: Vec<String> = a
        .group_warnings()
        .into_iter()
        .filter(|t| t.flow.source == side)
        .filter_map(|t| Some(format!("{} → {}: {}", t.group, t.flow.target, t.problem.as_ref()?.describe())))
        .collect();
    if let Some(first) = untranslatable.first() {
        let text = fmt::clip(&format!("▲ {first}{}", more(untranslatable.len())), w);
        out.push(Line::from(screen.span(Slot::Warn, text)));
    }
    let drift: Vec<&crate::assess::drift::Difference> =
        a.drift.iter().filter(|d| d.target == side).flat_map(|d| &d.differences).collect();
    if let Some(first) = drift.iter().find(|d| d.blocking).or(drift.first()) {
        let slot = if first.blocking { Slot::Alarm } else { Slot::Warn };
        // The count first: the line may be clipped, the full list is in check.
        let count = if drift.len() > 1 { format!(" ×{}", drift.len()) } else { String::new() };
        let text = fmt::clip(&format!("▲ drift{count}: {}", first.text), w);
        out.push(Line::from(screen.span(slot, text)));
    }
    out
}

/// How kdrill connects to the side and when the server certificate
/// expires, warned below the configured days.
fn security_line<'a>(screen: &Screen, sec: &crate::assess::SecurityView, w: usize) -> Line<'a> {
    let mut spans = vec![screen.span(Slot::Muted, fmt::clip(&format!("security {}", sec.text), w))];
    if let Some(days) = sec.cert_days_left {
        let (slot, text) = match days {
            d if d < 0 => (Slot::Alarm, format!(" · certificate EXPIRED {} days ago", -d)),
            d if sec.cert_warn => (Slot::Warn, format!(" · ▲ certificate expires in {d} days")),
            d => (Slot::Muted, format!(" · certificate expires in {d} days")),
        };
        spans.push(screen.span(slot, text));
    }
    Line::from(spans)
}

/// The side's Kubernetes: MM2 pods and the applications' workloads, or
/// why they are not known.
fn platform_line<'a>(screen: &Screen, p: &PlatformView, w: usize) -> Line<'a> {
    let mut spans = vec![screen.span(Slot::Muted, format!("k8s {} · ", p.short_place))];
    let room = w.saturating_sub(p.short_place.len() + 7);
    if let Some(why) = &p.unreachable {
        spans.push(screen.span(Slot::Alarm, fmt::clip(&format!("UNREACHABLE: {why}"), room)));
        return Line::from(spans);
    }
    if let Some(why) = p.refusals.first() {
        spans.push(screen.span(Slot::Warn, fmt::clip(why, room)));
        return Line::from(spans);
    }
    let figure = |k: &Known<String>| match k {
        Known::Is(s) => screen.span(Slot::Text, s.clone()),
        Known::Unknown(_) => screen.span(Slot::Stale, "?"),
    };
    spans.push(screen.span(Slot::Muted, "MM2 pods "));
    spans.push(figure(&match &p.mm2_pods {
        Known::Is(n) => Known::Is(n.to_string()),
        Known::Unknown(w) => Known::Unknown(w.clone()),
    }));
    if let Some(apps) = &p.apps {
        spans.push(screen.span(Slot::Muted, " · workloads "));
        spans.push(figure(&match (&apps.ready, &apps.desired) {
            (Known::Is(r), Known::Is(d)) => Known::Is(format!("{r}/{d} ready")),
            _ => Known::Unknown(String::new()),
        }));
    }
    Line::from(spans)
}

fn wide(w: usize) -> bool {
    w >= 50
}

/// The topic columns: the name as wide as the longest shown, then the
/// partition count if it still fits beside the rates.
#[derive(Clone, Copy)]
struct TopicCols {
    name: usize,
    parts: bool,
}

impl TopicCols {
    fn new(w: usize, longest: usize) -> TopicCols {
        let rates = 12 * if wide(w) { 3 } else { 2 };
        let name = w.saturating_sub(rates).max(8).min(longest.max(5) + 1);
        TopicCols { name, parts: name + rates + 6 <= w }
    }
}

fn topic_header(w: usize, c: TopicCols) -> String {
    let mut h = pad("topic", c.name);
    if c.parts {
        h.push_str(&rpad("parts", 6));
    }
    h.push_str(&format!(" {:>11} {:>11}", "written", "by apps"));
    if wide(w) {
        h.push_str(&format!(" {:>11}", "by MM2"));
    }
    h
}

/// Whether MM2 writes into this side: a flow into it runs (Yes), none
/// can (No), or that is not known.
fn mm2_writes_here(a: &crate::assess::Assessment, side: Side) -> Truth {
    a.mm2.iter().filter(|m| m.flow.target == side).fold(Truth::No, |acc, m| acc.or(m.running.clone()))
}

fn topic_line<'a>(screen: &Screen, t: &TopicView, w: usize, c: TopicCols, inbound: &Truth, fig: Slot) -> Line<'a> {
    let cell = |r: Option<f64>| {
        let slot = if r.is_none() { Slot::Stale } else { fig };
        screen.span(slot, format!(" {:>11}", fmt::rate(r)))
    };
    // MM2's share only where an MM2 flow writes into this side.
    let mm2 = match inbound {
        Truth::No => screen.span(Slot::Muted, format!(" {:>11}", "—")),
        _ => cell(t.mm2_rate),
    };
    let mut spans = vec![screen.span(Slot::Text, pad(&t.name, c.name))];
    if c.parts {
        spans.push(screen.span(fig, rpad(&t.partitions.to_string(), 6)));
    }
    spans.push(cell(t.rate));
    spans.push(cell(t.app_rate));
    if wide(w) {
        spans.push(mm2);
    }
    Line::from(spans)
}

/// The group state column shows from this width on.
fn state_shown(w: usize) -> bool {
    w >= 70
}

/// The worst partition's column shows from this width on.
fn worst_shown(w: usize) -> bool {
    w >= 90
}

/// `redis-writes/11` and a space.
const WORST: usize = 18;

/// Columns right of the group id: class, state, members, lag, worst partition.
fn group_fixed(w: usize) -> usize {
    9 + if state_shown(w) { 9 } else { 0 } + 5 + 11 + if worst_shown(w) { WORST } else { 0 }
}

/// The group column: the longest id shown, leaving the clients 16.
fn id_width(w: usize, longest: usize) -> usize {
    w.saturating_sub(group_fixed(w) + 16).max(8).min(longest.max(5) + 1)
}

fn group_header(w: usize, iw: usize) -> String {
    let state = if state_shown(w) { pad("state", 9) } else { String::new() };
    let worst = if worst_shown(w) { pad("worst", WORST) } else { String::new() };
    format!("{}{}{state}{:>4} {:>10} {worst}clients @ hosts", pad("group", iw), pad("class", 9), "mem", "lag")
}

/// `orders-1 +1 @ 10.0.0.5 +1`: the first of each, and how many more.
fn who(clients: &[Arc<str>], hosts: &[Arc<str>]) -> String {
    let first = |v: &[Arc<str>]| match v {
        [] => String::new(),
        [one] => one.to_string(),
        [one, rest @ ..] => format!("{one} +{}", rest.len()),
    };
    match (first(clients), first(hosts)) {
        (c, h) if h.is_empty() => c,
        (c, h) => format!("{c} @ {h}"),
    }
}

fn group_line<'a>(screen: &Screen, v: &SideView, g: usize, w: usize, iw: usize, fig: Slot) -> Line<'a> {
    let g = &v.groups[g];
    let (class, slot) = match g.class {
        GroupClass::App => ("app", Slot::Text),
        GroupClass::Plumbing => ("plumbing", Slot::Muted),
        GroupClass::Mm2 => ("MM2", Slot::Accent),
        GroupClass::Foreign => ("foreign", Slot::Warn),
        GroupClass::Other => ("other", Slot::Muted),
    };
    let mut spans = vec![screen.span(Slot::Text, pad(&g.id, iw)), screen.span(slot, pad(class, 9))];
    // A stalled group's state and lag stand out: behind and not moving.
    let stalled = g.stalled_since.is_some();
    if state_shown(w) {
        let (state, slot) = if stalled { ("STALLED", Slot::Warn) } else { (g.state.as_str(), fig) };
        spans.push(screen.span(slot, pad(state, 9)));
    }
    spans.push(screen.span(fig, format!("{:>4} ", g.members)));
    spans.extend(lag_cells(screen, g.lag.as_ref(), w, if stalled { Slot::Warn } else { fig }));
    let room = w.saturating_sub(iw + group_fixed(w));
    spans.push(screen.span(Slot::Muted, fmt::clip(&who(&g.clients, &g.hosts), room)));
    Line::from(spans)
}

/// The group's total lag on this side (`?` unknown, `—` for groups that
/// commit nothing) and, when wide, its partition furthest behind.
fn lag_cells<'a>(screen: &Screen, lag: Option<&GroupLag>, w: usize, fig: Slot) -> Vec<Span<'a>> {
    let total = match lag {
        None => screen.span(Slot::Muted, format!("{:>10} ", "—")),
        Some(l) if l.total.is_none() => screen.span(Slot::Stale, format!("{:>10} ", fmt::records_compact(None))),
        Some(l) => screen.span(fig, format!("{:>10} ", fmt::records_compact(l.total.map(|n| n as i64)))),
    };
    let mut out = vec![total];
    if worst_shown(w) {
        let worst = lag.and_then(|l| Some((l, l.worst_row()?))).filter(|(l, r)| l.records(r) != Some(0));
        let text = worst.map_or(String::new(), |(l, r)| format!("{}/{}", l.topic(r), r.partition));
        out.push(screen.span(Slot::Muted, pad(&text, WORST)));
    }
    out
}
