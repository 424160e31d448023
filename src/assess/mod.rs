//! Judgement over the model, in pure functions: the role each side plays,
//! produce rates, replication lag, rule violations and gate preconditions.
//! `Assessor` folds snapshots into the little history judgement needs and
//! never reads a clock: `now` is always given.

pub mod conditions;
pub mod history;
pub mod lag;
pub mod mm2;
pub mod platform;
pub mod rules;
pub mod sides;
pub mod truth;

use std::collections::HashMap;

use crate::config::Settings;
use crate::model::{Flow, Link, Side, Snapshot, Ts, age_secs};

pub use conditions::{Check, Condition, evaluate};
pub use history::{FlowStart, History};
pub use lag::{FlowLag, LagRow};
pub use mm2::{Health, Mm2View};
pub use rules::{Rule, Violation};
pub use sides::{GroupClass, GroupView, Role, SideView, TopicView};
pub use truth::{Freshness, Truth, fmt_age};

/// How bad the overall picture is, for the one-line verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Unknown,
    Warn,
    Alarm,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub level: Level,
    pub text: String,
}

/// Everything the drill and the UI need to know, computed at `now`.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    pub now: Ts,
    pub sides: [SideView; 2],
    pub mm2: Vec<Mm2View>,
    pub lag: Vec<FlowLag>,
    pub violations: Vec<Violation>,
    pub verdict: Verdict,
}

impl Assessment {
    pub fn side(&self, side: Side) -> &SideView {
        &self.sides[side.index()]
    }

    /// The side applications run on, when exactly one does.
    pub fn active_side(&self) -> Option<Side> {
        match (self.sides[0].role, self.sides[1].role) {
            (Role::Active, r) if r != Role::Active => Some(Side::Dc),
            (r, Role::Active) if r != Role::Active => Some(Side::Dr),
            _ => None,
        }
    }

    pub fn lag_of(&self, flow: Flow) -> Option<&FlowLag> {
        self.lag.iter().find(|l| l.flow == flow)
    }
}

/// Folds snapshots into history and judges them.
#[derive(Clone, Debug)]
pub struct Assessor {
    pub settings: Settings,
    pub history: History,
    /// Whether each flow was running at the previous assessment (absent =
    /// never judged), to tell a start from a flow found already running.
    was_running: HashMap<Flow, bool>,
}

impl Assessor {
    pub fn new(settings: Settings) -> Self {
        Assessor { settings, history: History::default(), was_running: HashMap::new() }
    }

    /// Judges `snap` at `now`. A snapshot newer than the last one is folded
    /// into history first; calling again with the same snapshot and a later
    /// `now` just ages everything.
    pub fn assess(&mut self, snap: &Snapshot, now: Ts) -> Assessment {
        let fresh_snapshot = self.history.last_snapshot.is_none_or(|t| snap.taken_at > t);
        if fresh_snapshot {
            self.history.ingest(snap);
        }
        let s = &self.settings;
        let mm2 = mm2::assess_mm2(snap, s, now);
        let mut sides = Side::BOTH.map(|side| sides::assess_side(side, snap, &self.history, &mm2, s, now));
        for side in &mut sides {
            side.declared = s.declared_active.map(|a| if a == side.side { Role::Active } else { Role::Passive });
        }
        let lag = lag::assess_lag(snap, &self.history, s, now);
        if fresh_snapshot {
            for l in &lag {
                self.history.record_lag_total(l.flow, l.total);
            }
        }
        self.track_starts(&mm2, &sides, now);
        let found = rules::check_rules(&sides, &mm2, &self.history);
        let violations = self.stamp(found, now);
        let verdict = verdict(&sides, &mm2, &lag, &violations, now);
        Assessment { now, sides, mm2, lag, violations, verdict }
    }

    fn track_starts(&mut self, mm2: &[Mm2View], sides: &[SideView; 2], now: Ts) {
        for m in mm2 {
            let running = match m.running {
                Truth::Yes => true,
                Truth::No => false,
                Truth::Unknown(_) => continue,
            };
            let was = self.was_running.insert(m.flow, running);
            if !running {
                self.history.flow_started.remove(&m.flow);
            } else if was == Some(false) {
                let apps = match sides[m.flow.source.index()].apps_active() {
                    Truth::Yes => Some(true),
                    Truth::No => Some(false),
                    Truth::Unknown(_) => None,
                };
                self.history
                    .flow_started
                    .insert(m.flow, FlowStart { at: m.workers_at.unwrap_or(now), apps_active_on_source: apps });
            }
        }
    }

    fn stamp(&mut self, found: Vec<rules::Finding>, now: Ts) -> Vec<Violation> {
        let since = &mut self.history.violation_since;
        let mut keep = HashMap::new();
        let out = found
            .into_iter()
            .map(|(rule, subject, detail)| {
                let key = rules::violation_key(rule, &subject);
                let t = since.get(&key).copied().unwrap_or(now);
                keep.insert(key, t);
                Violation { rule, subject, detail, since: t }
            })
            .collect();
        *since = keep;
        out
    }
}

fn verdict(sides: &[SideView; 2], mm2: &[Mm2View], lag: &[FlowLag], violations: &[Violation], now: Ts) -> Verdict {
    if let Some(v) = violations.first() {
        let more = if violations.len() > 1 { format!(" (+{} more)", violations.len() - 1) } else { String::new() };
        return Verdict { level: Level::Alarm, text: format!("RULE BROKEN: {}{more}", v.detail) };
    }
    for s in sides {
        if let Link::Down { since, .. } = &s.link {
            return Verdict {
                level: Level::Alarm,
                text: format!("{} unreachable for {}", s.side, fmt_age(age_secs(*since, now))),
            };
        }
    }
    for s in sides {
        if let Some(why) = s.freshness.problem(&format!("{} data", s.side)) {
            return Verdict { level: Level::Unknown, text: why };
        }
    }
    let active: Vec<&SideView> = sides.iter().filter(|s| s.role == Role::Active).collect();
    let mut parts = Vec::new();
    match active.as_slice() {
        [a] => parts.push(format!("{} active", a.side)),
        _ => parts.push("no active side".into()),
    }
    let running: Vec<&Mm2View> = mm2.iter().filter(|m| m.running.is_yes()).collect();
    let mut level = if active.len() == 1 { Level::Ok } else { Level::Warn };
    match running.as_slice() {
        [] => parts.push("MM2 stopped".into()),
        ms => {
            for m in ms {
                parts.push(format!("MM2 {} {}", m.flow, m.health.label()));
                if m.health != Health::Healthy {
                    level = level.max(Level::Warn);
                }
            }
        }
    }
    for m in &running {
        if let Some(l) = lag.iter().find(|l| l.flow == m.flow) {
            parts.push(match l.total {
                Some(n) => format!("lag {n} rec"),
                None => "lag unknown".into(),
            });
        }
    }
    if let Some(p) = running.iter().flat_map(|m| m.problems.first()).next() {
        parts.push(p.clone());
    }
    Verdict { level, text: parts.join(" · ") }
}
