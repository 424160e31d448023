//! Where each application group would resume across a flow, drawn under
//! the drill step that starts applications on the flow's target, before its
//! action: per group, what it would re-process or skip there, and the named
//! reason when it cannot be translated.

use ratatui::text::Line;

use crate::assess::{Assessment, GroupTranslation};
use crate::model::Flow;

use super::super::fmt;
use super::super::screen::Screen;
use super::super::theme::Slot;
use super::{pad, rpad};

const IN: &str = "    ";
/// Partition lines shown per group; the rest are in `kdrill check --json`.
const PARTITIONS_SHOWN: usize = 2;

/// The table for `flow`, indented under a drill step, at most `width` wide.
pub fn lines<'a>(screen: &Screen, a: &Assessment, flow: Flow, width: usize) -> Vec<Line<'a>> {
    let groups: Vec<&GroupTranslation> = a.translations_of(flow).collect();
    let mut out = vec![Line::from(screen.span(
        Slot::Text,
        fmt::clip(&format!("{IN}where applications resume on {} (MM2's checkpoints):", flow.target), width),
    ))];
    if groups.is_empty() {
        let text = format!("{IN}? no application group with committed offsets on {}", flow.source);
        out.push(Line::from(screen.span(Slot::Stale, fmt::clip(&text, width))));
        return out;
    }
    let gw = groups.iter().map(|g| g.group.chars().count()).max().unwrap_or(5).clamp(5, 24) + 1;
    let header = format!("{IN}{}{:>6} {:>11} {:>11}  span", pad("group", gw), "parts", "re-process", "skip");
    out.push(Line::from(screen.span(Slot::Muted, fmt::clip(&header, width))));
    for g in groups {
        out.push(group_line(screen, g, gw, width));
        if let Some(p) = &g.problem {
            let more = g.partitions_with_problem();
            let text = format!("{IN}  ▲ {} on {more} of {} partition(s)", p.describe(), g.rows.len());
            out.push(Line::from(screen.span(Slot::Warn, fmt::clip(&text, width))));
        }
        if let Some(why) = &g.unknown_because {
            out.push(Line::from(screen.span(Slot::Stale, fmt::clip(&format!("{IN}  ? {why}"), width))));
        }
        // Partitions whose figures are known and not zero; unknown ones
        // are counted in the group's line.
        let moved = g.rows.iter().filter(|r| matches!((r.reprocess(), r.skip()), (Some(a), Some(b)) if a + b > 0));
        for r in moved.clone().take(PARTITIONS_SHOWN) {
            let resume = r.resume_at().map_or("?".to_owned(), |o| fmt::thousands(o.max(0) as u64));
            let text = format!(
                "{IN}  {}/{} resumes at {resume} · re-process {} · skip {}",
                g.topic(r),
                r.partition,
                fmt::records(r.reprocess().map(|n| n as i64)),
                fmt::records(r.skip().map(|n| n as i64)),
            );
            out.push(Line::from(screen.span(Slot::Muted, fmt::clip(&text, width))));
        }
        let more = moved.count().saturating_sub(PARTITIONS_SHOWN);
        if more > 0 {
            let text = format!("{IN}  +{more} partition(s) more in kdrill check --json");
            out.push(Line::from(screen.span(Slot::Muted, fmt::clip(&text, width))));
        }
    }
    out
}

fn group_line<'a>(screen: &Screen, g: &GroupTranslation, gw: usize, width: usize) -> Line<'a> {
    let judged = g.unknown_because.is_none();
    let (mark, slot) = match (&g.problem, judged) {
        (_, false) => ("?", Slot::Stale),
        (Some(_), true) => ("▲", Slot::Warn),
        (None, true) => ("✓", Slot::Ok),
    };
    let figure = |n: Option<u64>| rpad(&fmt::records_compact(n.map(|n| n as i64)), 11);
    let span = g.rows.iter().map(|r| r.span_secs()).try_fold(0.0_f64, |acc, s| s.map(|s| acc.max(s)));
    let text = format!(
        "{}{:>6} {} {}  {}",
        pad(&g.group, gw),
        g.rows.len(),
        figure(g.reprocess()),
        figure(g.skip()),
        fmt::seconds(span)
    );
    Line::from(vec![
        screen.span(slot, format!("{}{mark} ", &IN[..IN.len() - 2])),
        screen.span(if judged { Slot::Text } else { Slot::Stale }, fmt::clip(&text, width.saturating_sub(IN.len()))),
    ])
}
