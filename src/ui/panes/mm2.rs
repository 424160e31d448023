//! MM2 deployments: where each runs, its direction and health, workers,
//! connectors and tasks (FAILED stands out, and so does a custom resource
//! that says Ready while a task has failed), heartbeat and checkpoint ages.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::assess::mm2::short_name;
use crate::assess::mm2_config::Mm2Settings;
use crate::assess::{CanaryView, Freshness, Health, Known, Mm2Problem, Mm2ProblemKind, Mm2View};
use crate::model::ConnectState;

use super::super::fmt;
use super::super::layout::Pane;
use super::super::screen::{Extent, Screen};
use super::super::theme::Slot;
use super::{figure_slot, frame_block, health_slot, list, pad};

pub fn wanted_rows(screen: &Screen) -> u16 {
    (lines(screen).len() + 2).min(30) as u16
}

pub fn draw(screen: &Screen, frame: &mut Frame, area: Rect) -> Extent {
    // The pane's age is its oldest deployment's; a stale one also says so
    // on its own line.
    let note = match screen.shown() {
        Some((a, _)) if !a.mm2.is_empty() => {
            let oldest = a.mm2.iter().min_by_key(|m| m.observed_at);
            let (at, fresh) = oldest.map_or((None, Freshness::Never), |m| (m.observed_at, m.freshness));
            Line::from(screen.span(figure_slot(fresh, Slot::Muted), format!(" seen {} ", fmt::ago(at, a.now))))
        }
        _ => Line::default(),
    };
    let block = frame_block(screen, Pane::Mm2, vec![screen.span(Slot::Accent, "MirrorMaker 2")], Some(note));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines = lines(screen);
    list(screen, frame, Pane::Mm2, inner, lines.len(), |i| lines[i].clone())
}

fn lines<'a>(screen: &Screen) -> Vec<Line<'a>> {
    match screen.shown() {
        None => vec![Line::from(screen.span(Slot::Stale, "? never observed"))],
        Some((a, _)) if a.mm2.is_empty() => vec![Line::from(screen.span(Slot::Muted, "no MM2 deployment configured"))],
        Some((a, _)) => a
            .mm2
            .iter()
            .enumerate()
            .flat_map(|(k, m)| {
                let mut out =
                    deployment(screen, m, screen.prepared.workers_total.get(k).copied().flatten(), m.freshness);
                if m.health != Health::Stopped
                    && let Some(c) = a.canaries.iter().find(|c| c.flow == m.flow)
                {
                    out.push(canary_line(screen, c, a.now));
                }
                out
            })
            .collect(),
    }
}

fn deployment<'a>(screen: &Screen, m: &Mm2View, total: Option<usize>, fresh: Freshness) -> Vec<Line<'a>> {
    let fig = figure_slot(fresh, Slot::Text);
    let workers = match (m.workers_alive, total) {
        (Some(a), Some(t)) => format!("{a}/{t} workers"),
        (Some(a), None) => format!("{a} workers"),
        _ => "? workers".into(),
    };
    let cr = match m.cr_ready {
        Some(true) => " · CR Ready",
        Some(false) => " · CR not Ready",
        None => "",
    };
    let mut head = vec![
        screen.span(Slot::Text, format!("{} ", m.name)),
        screen.span(Slot::Accent, format!("{} ", m.flow)),
        screen.span(Slot::Muted, format!("on {} ", m.runs_on)),
        screen.span(health_slot(m.health), m.health.label().to_uppercase()),
        screen.span(fig, format!(" {workers}")),
    ];
    // Pods as the side's Kubernetes lists them, beside Kafka's workers.
    if let Some(p) = &m.platform {
        head.push(screen.span(Slot::Muted, " · "));
        head.push(match p.pods {
            Known::Is(n) => screen.span(fig, format!("{n} pods")),
            Known::Unknown(_) => screen.span(Slot::Stale, "? pods"),
        });
    }
    head.push(screen.span(Slot::Muted, cr));
    if !fresh.is_fresh() {
        head.push(screen.span(Slot::Stale, format!(" · {}", fmt::freshness(fresh))));
    }
    let mut out = vec![Line::from(head)];
    if m.health == Health::Stopped {
        return out;
    }
    // Where each figure above comes from.
    let k8s = m.platform.as_ref().map_or(String::new(), |p| format!(" · pods, CR: k8s {}", p.short_place));
    out.push(Line::from(screen.span(Slot::Muted, format!("  workers, states: Kafka{k8s}"))));
    // Each pod, as Kubernetes lists it: what "2 pods" is made of.
    if let Some(p) = m.platform.as_ref().filter(|p| !p.pod_list.is_empty()) {
        let pods: Vec<String> = p.pod_list.iter().map(|pod| pod_summary(pod, screen.now)).collect();
        out.push(Line::from(screen.span(fig, format!("  {}", pods.join(" · ")))));
    }
    for p in m.problems.iter().filter(|p| p.kind == Mm2ProblemKind::ReadyWhileFailed) {
        out.push(Line::from(screen.span(Slot::Alarm, format!("  ⚠ {p}"))));
    }
    for c in &m.connectors {
        let running = c.tasks.iter().filter(|t| t.state == ConnectState::Running).count();
        let slot = if running == c.tasks.len() && !c.tasks.is_empty() { fig } else { Slot::Warn };
        out.push(Line::from(vec![
            Span::raw("  "),
            screen.span(Slot::Text, pad(short_name(&c.name), 26)),
            state_span(screen, &c.state, fig, 11),
            screen.span(slot, format!("{running}/{} tasks running", c.tasks.len())),
        ]));
        // Tasks not running, each on its own line with the first line of
        // its trace: the reason is what the on-call needs next.
        for t in c.tasks.iter().filter(|t| t.state != ConnectState::Running) {
            let why = t.trace.as_deref().and_then(|s| s.lines().next()).unwrap_or_default();
            out.push(Line::from(vec![
                screen.span(Slot::Muted, format!("    task #{} ", t.id)),
                state_span(screen, &t.state, fig, 0),
                screen.span(Slot::Muted, format!(" {why}")),
            ]));
        }
    }
    let hb = |label: &str, age: Option<f64>| {
        let slot = if age.is_none() { Slot::Stale } else { fig };
        vec![screen.span(Slot::Muted, format!("{label} ")), screen.span(slot, fmt::age(age))]
    };
    let mut spans = vec![Span::raw("  ")];
    spans.extend(hb("heartbeat local", m.heartbeat_local_age));
    spans.push(screen.span(Slot::Muted, " · "));
    spans.extend(hb("mirrored", m.heartbeat_mirrored_age));
    spans.push(screen.span(Slot::Muted, " · "));
    spans.extend(hb("checkpoint", m.last_checkpoint_age));
    out.push(Line::from(spans));
    if let Some(s) = &m.settings {
        out.push(settings_line(screen, s));
    }
    // Connector and task states, and the Ready alarm, are on their own
    // lines already.
    let shown = |p: &Mm2Problem| p.kind.restates_a_state() || p.kind == Mm2ProblemKind::ReadyWhileFailed;
    for p in m.problems.iter().filter(|p| !shown(p)).take(3) {
        out.push(Line::from(screen.span(Slot::Warn, format!("  ▲ {p}"))));
    }
    out
}

/// `canary p50 340 ms · p99 1.2 s · 0 lost · 3 s ago`: kdrill's own records
/// through the flow over the canary window, and when the last came through.
fn canary_line<'a>(screen: &Screen, c: &CanaryView, now: crate::model::Ts) -> Line<'a> {
    let fig = figure_slot(c.freshness, Slot::Text);
    let mut spans = vec![
        Span::raw("  "),
        screen.span(Slot::Muted, "canary p50 "),
        screen.span(fig, fmt::latency(c.p50_seconds)),
        screen.span(Slot::Muted, " · p99 "),
        screen.span(fig, fmt::latency(c.p99_seconds)),
        screen.span(Slot::Muted, " · "),
        screen.span(if c.lost > 0 { Slot::Warn } else { fig }, format!("{} lost", c.lost)),
        screen.span(Slot::Muted, " · "),
        screen.span(fig, fmt::ago(c.last_round_trip.map(|t| t.arrived_at), now)),
    ];
    if let Some(p) = &c.problem {
        spans.push(screen.span(Slot::Warn, format!(" · {p}")));
    }
    Line::from(spans)
}

/// `identity names · offsets synced · checkpoint every 60 s`:
/// what the connectors were configured to do, from Connect's config topic.
fn settings_line<'a>(screen: &Screen, s: &Mm2Settings) -> Line<'a> {
    let names = match &s.policy {
        Some(p) => screen.span(Slot::Text, format!("{p} names")),
        None => screen.span(Slot::Warn, "names differ"),
    };
    let mut rest = Vec::new();
    match s.sync_group_offsets {
        Some(true) => rest.push("offsets synced".to_owned()),
        Some(false) => rest.push("offsets not synced".to_owned()),
        None => {}
    }
    if let Some(secs) = s.checkpoint_interval_s {
        rest.push(format!("checkpoint every {secs} s"));
    }
    let mut spans = vec![Span::raw("  "), names];
    for r in rest {
        spans.push(screen.span(Slot::Muted, " · "));
        spans.push(screen.span(Slot::Text, r));
    }
    Line::from(spans)
}

/// `…-0 Running ready ↻2 18m`: the pod's short name, phase (or
/// Terminating), readiness, restarts when any, and age.
fn pod_summary(pod: &crate::model::Pod, now: Option<crate::model::Ts>) -> String {
    let name = pod.name.rsplit_once('-').map_or(pod.name.as_str(), |(_, n)| n);
    let phase = if pod.terminating { "Terminating" } else { pod.phase.as_str() };
    let ready = if pod.ready { " ready" } else { "" };
    let restarts = if pod.restarts > 0 { format!(" ↻{}", pod.restarts) } else { String::new() };
    let age = match (pod.created, now) {
        (Some(c), Some(n)) => format!(" {}", fmt::age(Some(crate::model::age_secs(c, n)))),
        _ => String::new(),
    };
    format!("#{name} {phase}{ready}{restarts}{age}")
}

fn state_span<'a>(screen: &Screen, s: &ConnectState, fig: Slot, width: usize) -> Span<'a> {
    let slot = match s {
        ConnectState::Running => fig,
        ConnectState::Failed => Slot::Alarm,
        _ => Slot::Warn,
    };
    let text = if matches!(s, ConnectState::Failed) { format!("✗ {}", s.label()) } else { s.label().to_owned() };
    screen.span(slot, if width == 0 { text } else { pad(&text, width) })
}
