//! Replication lag of one flow: the total with its age and a sparkline of
//! the total over time, then one row per mirrored partition, records and
//! seconds behind. Only the visible rows are formatted; unknown is `?`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use crate::assess::{FlowLag, LagLevel, LagRow};

use super::super::fmt;
use super::super::layout::Pane;
use super::super::screen::{Extent, Screen};
use super::super::theme::Slot;
use super::{figure_slot, frame_block, list, pad, rpad};

pub fn draw(screen: &Screen, frame: &mut Frame, area: Rect) -> Option<Extent> {
    let flow = screen.shown().and_then(|(a, _)| screen.prepared.lag_flow.and_then(|i| a.lag.get(i)));
    let title = match flow {
        Some(f) => {
            let mut t = vec![
                screen.span(Slot::Accent, format!("Lag {} ", f.flow)),
                screen.span(Slot::Muted, f.deployment.clone()),
            ];
            // A flow whose MM2 is not running has lag that means little.
            let health = screen.shown().and_then(|(a, _)| a.mm2.iter().find(|m| m.flow == f.flow)).map(|m| m.health);
            if let Some(h) = health.filter(|h| *h != crate::assess::Health::Healthy) {
                t.push(screen.span(super::health_slot(h), format!(" · MM2 {}", h.label())));
            }
            t
        }
        None => vec![screen.span(Slot::Accent, "Lag")],
    };

    let order = if screen.query.reversed { "↑" } else { "↓" };
    let mut note = vec![screen.span(Slot::Muted, format!(" sort {} {order} ", screen.query.sort.label()))];
    if let Some(f) = &screen.filter {
        note.push(screen.span(Slot::Accent, format!("/{}/ ", f.text)));
    }
    let block = frame_block(screen, Pane::Lag, title, Some(Line::from(note)));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(flow) = flow else {
        let text = if screen.shown().is_some() { "no MM2 deployment configured" } else { "? never observed" };
        frame.render_widget(Line::from(screen.span(Slot::Stale, text)), inner);
        return None;
    };
    let summary_h = if inner.height >= 6 { 2 } else { 1 };
    let [top, table] = Layout::vertical([Constraint::Length(summary_h), Constraint::Min(0)]).areas(inner);
    summary(screen, frame, top, flow);
    rows(screen, frame, table, flow)
}

fn summary(screen: &Screen, frame: &mut Frame, area: Rect, flow: &FlowLag) {
    let text_w = if area.height >= 2 { 40 } else { 62 };
    let spark_w = match area.width.saturating_sub(text_w) {
        w if w >= 10 => w.min(60),
        _ => 0,
    };
    let [text, spark] = Layout::horizontal([Constraint::Min(0), Constraint::Length(spark_w)]).spacing(1).areas(area);
    let fresh = flow.freshness;
    let total_slot = match (&flow.level, flow.total) {
        (LagLevel::Unknown(_), _) | (_, None) => Slot::Stale,
        (LagLevel::Above { .. }, _) => Slot::Warn,
        (LagLevel::Ahead { .. }, _) => Slot::Alarm,
        (LagLevel::Within, Some(0)) => Slot::Ok,
        (LagLevel::Within, Some(_)) => Slot::Text,
    };
    let total = match flow.total {
        Some(n) => fmt::records(Some(n as i64)),
        None => format!("? rec ({} of {} partitions unknown)", flow.unknown_rows, flow.rows.len()),
    };
    let now = screen.shown().map(|(a, _)| a.now);
    let observed = now.map(|n| fmt::ago(flow.at, n)).unwrap_or_default();
    let mut line0 = vec![
        screen.span(Slot::Muted, "behind "),
        screen.span(total_slot, total).bold(),
        screen.span(Slot::Muted, " · oldest "),
        screen.span(
            if flow.max_seconds.is_some() { figure_slot(fresh, Slot::Text) } else { Slot::Stale },
            fmt::seconds(flow.max_seconds),
        ),
    ];
    if let LagLevel::Ahead { records, partitions } = flow.level {
        let text = format!(" · AHEAD {} on {partitions} part.", fmt::records(Some(records as i64)));
        line0.push(screen.span(Slot::Alarm, text).bold());
    }
    let line0 = Line::from(line0);
    let shown = screen.prepared.lag_rows.len();
    let parts = if shown == flow.rows.len() {
        format!(" · {} partitions", flow.rows.len())
    } else {
        format!(" · {shown} of {} partitions", flow.rows.len())
    };
    let line1 = vec![
        screen.span(Slot::Muted, "observed "),
        screen.span(figure_slot(fresh, Slot::Text), observed),
        screen.span(Slot::Muted, parts),
    ];
    // One line only: the total and its age, nothing else.
    let lines = if area.height >= 2 {
        vec![line0, Line::from(line1)]
    } else {
        let mut one = line0;
        one.spans.push(screen.span(Slot::Muted, " · "));
        one.spans.extend(line1.into_iter().take(2));
        vec![one]
    };
    frame.render_widget(Paragraph::new(lines), text);
    if spark_w > 0 && !screen.prepared.spark.is_empty() {
        let data = &screen.prepared.spark;
        let from = data.len().saturating_sub(spark_w as usize);
        let bars: Vec<Option<u64>> = data[from..].to_vec();
        let s = Sparkline::default()
            .data(bars.iter())
            .style(screen.style(figure_slot(fresh, Slot::Accent)))
            .absent_value_symbol("?")
            .absent_value_style(screen.style(Slot::Stale));
        frame.render_widget(s, spark);
    }
}

/// Columns right of the topic when offsets are shown, and when not.
const WIDE_FIXED: usize = 5 + 12 + 12 + 12 + 10;
const NARROW_FIXED: usize = 5 + 12 + 10;

/// Room for the source and replicated offsets beside the lag, with the
/// topic names still readable.
fn wide(w: usize, longest: usize) -> bool {
    w >= WIDE_FIXED + (longest + 1).min(14)
}

/// The topic column: as wide as the longest name shown, within what the
/// other columns leave.
fn topic_width(w: usize, longest: usize) -> usize {
    let fixed = if wide(w, longest) { WIDE_FIXED } else { NARROW_FIXED };
    w.saturating_sub(fixed).max(6).min(longest.max(5) + 1)
}

fn rows(screen: &Screen, frame: &mut Frame, area: Rect, flow: &FlowLag) -> Option<Extent> {
    if area.height == 0 {
        return None;
    }
    let w = area.width as usize;
    let tw = topic_width(w, screen.prepared.lag_topic_width);
    let header = if wide(w, screen.prepared.lag_topic_width) {
        format!(
            "{}{}{}{}{}{}",
            pad("topic", tw),
            rpad("part", 5),
            rpad("source end", 12),
            rpad("replicated", 12),
            rpad("lag", 12),
            rpad("lag time", 10)
        )
    } else {
        format!("{}{}{}{}", pad("topic", tw), rpad("part", 5), rpad("lag", 12), rpad("lag time", 10))
    };
    frame.render_widget(Line::from(screen.span(Slot::Muted, header)), Rect { height: 1, ..area });
    let body = Rect { y: area.y + 1, height: area.height - 1, ..area };
    let idx = &screen.prepared.lag_rows;
    if idx.is_empty() {
        let text = match (&screen.filter, flow.rows.is_empty()) {
            (_, true) => "no mirrored partitions observed".to_owned(),
            (Some(f), false) => format!("no partition matches the filter /{}/", f.text),
            (None, false) => String::new(),
        };
        frame.render_widget(Line::from(screen.span(Slot::Muted, text)), body);
        return None;
    }
    let fig = figure_slot(flow.freshness, Slot::Text);
    Some(list(screen, frame, Pane::Lag, body, idx.len(), |i| row(screen, &flow.rows[idx[i]], w, tw, fig)))
}

fn row<'a>(screen: &Screen, r: &LagRow, w: usize, tw: usize, fig: Slot) -> Line<'a> {
    let offset = |o: Option<i64>| match o {
        Some(o) if o >= 0 => fmt::thousands(o as u64),
        Some(o) => o.to_string(),
        None => "?".into(),
    };
    let lag_slot = match r.records {
        None => Slot::Stale,
        Some(0) => figure_slot_muted(fig),
        // Past the source's end: an anomaly, shown with its sign.
        Some(n) if n < 0 => Slot::Alarm,
        Some(_) => fig,
    };
    let secs_slot = if r.seconds.is_none() { Slot::Stale } else { lag_slot };
    let mut spans: Vec<Span> =
        vec![screen.span(Slot::Text, pad(&r.topic, tw)), screen.span(Slot::Muted, rpad(&r.partition.to_string(), 5))];
    if wide(w, screen.prepared.lag_topic_width) {
        spans
            .push(screen.span(if r.source_end.is_some() { fig } else { Slot::Stale }, rpad(&offset(r.source_end), 12)));
        spans
            .push(screen.span(if r.replicated.is_some() { fig } else { Slot::Stale }, rpad(&offset(r.replicated), 12)));
    }
    spans.push(screen.span(lag_slot, rpad(&fmt::records(r.records), 12)));
    spans.push(screen.span(secs_slot, rpad(&fmt::seconds(r.seconds), 10)));
    Line::from(spans)
}

/// Zero lag is calm (muted) when fresh, stale otherwise.
fn figure_slot_muted(fig: Slot) -> Slot {
    if fig == Slot::Stale { Slot::Stale } else { Slot::Muted }
}
