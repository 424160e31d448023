//! The event log: what changed, when. Entries come from comparing each
//! assessment with the previous one (rules, roles, MM2 health, links) and
//! from the drill and the dispatcher. Bounded; newest kept.

use std::collections::VecDeque;

use crate::assess::{Assessment, Health, Role};
use crate::drill::{DrillEvent, Plan};
use crate::model::{Link, Ts};

/// How an entry reads at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Info,
    Ok,
    Warn,
    Alarm,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub at: Ts,
    pub tone: Tone,
    pub text: String,
}

const CAPACITY: usize = 1_000;

#[derive(Clone, Debug, Default)]
pub struct EventLog {
    entries: VecDeque<LogEntry>,
}

impl EventLog {
    pub fn push(&mut self, at: Ts, tone: Tone, text: impl Into<String>) {
        self.entries.push_back(LogEntry { at, tone, text: text.into() });
        while self.entries.len() > CAPACITY {
            self.entries.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `i`-th newest entry.
    pub fn newest(&self, i: usize) -> Option<&LogEntry> {
        self.entries.len().checked_sub(i + 1).and_then(|j| self.entries.get(j))
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogEntry> {
        self.entries.iter()
    }

    /// Records what changed between two assessments.
    pub fn compare(&mut self, prev: Option<&Assessment>, next: &Assessment) {
        let at = next.now;
        for v in &next.violations {
            if !prev.is_some_and(|p| p.violations.iter().any(|o| o.key() == v.key())) {
                self.push(at, Tone::Alarm, format!("RULE BROKEN: {} — {}", v.rule.statement(), v.detail));
            }
        }
        if let Some(p) = prev {
            for v in &p.violations {
                if !next.violations.iter().any(|n| n.key() == v.key()) {
                    self.push(at, Tone::Ok, format!("rule kept again: {} ({} cleared)", v.rule.statement(), v.detail));
                }
            }
        }
        for (i, side) in next.sides.iter().enumerate() {
            let old = prev.map(|p| &p.sides[i]);
            let was = old.map_or(Role::Unknown, |o| o.role);
            if was != side.role && !(old.is_none() && side.role == Role::Unknown) {
                let tone = if side.role == Role::Unknown { Tone::Warn } else { Tone::Info };
                let text = match old {
                    Some(_) => format!("{} role {} → {}", side.side, was.label(), side.role.label()),
                    None => format!("{} observed {}", side.side, side.role.label()),
                };
                self.push(at, tone, text);
            }
            match (old.map(|o| &o.link), &side.link) {
                (Some(Link::Down { .. }), Link::Down { .. }) => {}
                (_, Link::Down { since, error, .. }) => {
                    let since = super::fmt::clock(*since);
                    self.push(at, Tone::Alarm, format!("{} unreachable since {since}: {error}", side.side));
                }
                (Some(Link::Down { .. }), Link::Up { .. }) => {
                    self.push(at, Tone::Ok, format!("{} reachable again", side.side));
                }
                _ => {}
            }
        }
        for m in &next.mm2 {
            let old = prev.and_then(|p| p.mm2.iter().find(|o| o.name == m.name && o.flow == m.flow));
            let was = old.map(|o| o.health);
            if was == Some(m.health) || (was.is_none() && m.health == Health::Unknown) {
                continue;
            }
            let tone = match m.health {
                Health::Healthy => Tone::Ok,
                Health::Stopped => Tone::Info,
                Health::Degraded | Health::Unknown => Tone::Warn,
            };
            let why = m.problems.first().map(|p| format!(": {p}")).unwrap_or_default();
            let text = match was {
                Some(w) => format!("MM2 {} {} {} → {}{why}", m.name, m.flow, w.label(), m.health.label()),
                None => format!("MM2 {} {} {}{why}", m.name, m.flow, m.health.label()),
            };
            self.push(at, tone, text);
        }
    }

    /// Records a drill event in words.
    pub fn drill(&mut self, plan: &Plan, ev: &DrillEvent) {
        let title = |step: usize| plan.steps.get(step).map_or("?", |s| s.title.as_str());
        let (tone, text) = match ev {
            DrillEvent::Started { plan: kind, .. } => (Tone::Info, format!("drill started: {}", kind.title())),
            DrillEvent::ActionRequested { step, action, .. } => {
                (Tone::Info, format!("step {}: requested {}", step + 1, action.label()))
            }
            DrillEvent::ActionOutcome { step, ok: true, detail, .. } => {
                (Tone::Ok, format!("step {}: action done: {detail}", step + 1))
            }
            DrillEvent::ActionOutcome { step, ok: false, detail, .. } => {
                (Tone::Alarm, format!("step {}: action failed: {detail}", step + 1))
            }
            DrillEvent::Confirmed { step, item, .. } => {
                let what = plan.steps.get(*step).and_then(|s| s.checklist.get(*item)).map_or("?", String::as_str);
                (Tone::Info, format!("step {}: confirmed \"{what}\"", step + 1))
            }
            DrillEvent::StepCompleted { step, .. } => (Tone::Ok, format!("step {} done: {}", step + 1, title(*step))),
            DrillEvent::RuleViolated { rule, .. } => {
                (Tone::Alarm, format!("drill journal: rule broken during the drill: {}", rule.short()))
            }
            DrillEvent::RuleCleared { rule, .. } => {
                (Tone::Info, format!("drill journal: rule no longer broken: {}", rule.short()))
            }
            DrillEvent::ReplicationStopped { flow, .. } => {
                (Tone::Info, format!("drill journal: replication {flow} stopped"))
            }
            DrillEvent::MirrorEnded { flow, ends, unknown: None, .. } => (
                Tone::Info,
                format!("drill journal: {flow} ends recorded on {} ({} partitions)", flow.target, ends.len()),
            ),
            DrillEvent::MirrorEnded { flow, unknown: Some(why), .. } => {
                (Tone::Warn, format!("drill journal: where {flow} ends on {} is unknown: {why}", flow.target))
            }
            DrillEvent::Aborted { reason, .. } => (Tone::Warn, format!("drill aborted: {reason}")),
            DrillEvent::TakenOver { from, .. } => (Tone::Warn, format!("drill taken over from {from}")),
            DrillEvent::PreflightOverridden { step, failed, .. } => (
                Tone::Alarm,
                format!(
                    "step {}: pre-flight OVERRIDDEN by the operator, {} condition(s) failing",
                    step + 1,
                    failed.len()
                ),
            ),
            DrillEvent::CopyBackObserved { step, flow, records, .. } => {
                (Tone::Alarm, format!("step {}: {flow} runs with {records} rec to copy back", step + 1))
            }
            DrillEvent::CopyBackAccepted { step, flow, records, .. } => {
                (Tone::Warn, format!("step {}: {records} rec copied back by {flow} accepted by the operator", step + 1))
            }
        };
        self.push(ev.at(), tone, text);
    }
}
