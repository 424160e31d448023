//! The runbook's rules, watched all the time. A rule is broken only on
//! positive, fresh evidence; unknowns are shown elsewhere, not as alarms.

use serde::{Deserialize, Serialize};

use crate::model::{Side, Ts};

use super::history::History;
use super::mm2::Mm2View;
use super::sides::{Role, SideView};

/// Serde names are pinned: drill journals record them, so renaming a
/// variant must not change what old journals say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Rule {
    #[serde(rename = "AppsOnBothSides")]
    AppsOnBothSides,
    #[serde(rename = "Mm2Bidirectional")]
    Mm2Bidirectional,
    #[serde(rename = "Mm2OnActiveSide")]
    Mm2OnActiveSide,
    #[serde(rename = "Mm2StartedBeforeApps")]
    Mm2StartedBeforeApps,
}

impl Rule {
    pub const ALL: [Rule; 4] =
        [Rule::AppsOnBothSides, Rule::Mm2Bidirectional, Rule::Mm2OnActiveSide, Rule::Mm2StartedBeforeApps];

    /// The rule as the runbook states it.
    pub fn statement(self) -> &'static str {
        match self {
            Rule::AppsOnBothSides => "Applications must never run on DC and DR together",
            Rule::Mm2Bidirectional => "MM2 must never run bidirectionally",
            Rule::Mm2OnActiveSide => "MM2 must never run on the ACTIVE cluster",
            Rule::Mm2StartedBeforeApps => "MM2 starts after the applications on the ACTIVE side",
        }
    }

    /// The rule's stable name: part of violation keys and `check --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::AppsOnBothSides => "apps-on-both-sides",
            Rule::Mm2Bidirectional => "mm2-bidirectional",
            Rule::Mm2OnActiveSide => "mm2-on-active-side",
            Rule::Mm2StartedBeforeApps => "mm2-started-before-apps",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Rule::AppsOnBothSides => "apps on both sides",
            Rule::Mm2Bidirectional => "MM2 bidirectional",
            Rule::Mm2OnActiveSide => "MM2 on active side",
            Rule::Mm2StartedBeforeApps => "MM2 started before apps",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub rule: Rule,
    /// What the violation is about (a deployment, a flow), stable while it
    /// lasts; empty for rules about the pair as a whole.
    pub subject: String,
    pub detail: String,
    /// When this violation was first seen in its current streak.
    pub since: Ts,
}

impl Violation {
    /// Identity of a violation across assessments (rule plus subject).
    pub fn key(&self) -> String {
        violation_key(self.rule, &self.subject)
    }
}

pub fn violation_key(rule: Rule, subject: &str) -> String {
    format!("{}:{subject}", rule.as_str())
}

/// A broken rule as found: (rule, subject, detail).
pub type Finding = (Rule, String, String);

pub fn check_rules(sides: &[SideView; 2], mm2: &[Mm2View], history: &History) -> Vec<Finding> {
    let mut out = Vec::new();
    let [dc, dr] = sides;
    let running: Vec<&Mm2View> = mm2.iter().filter(|m| m.running.is_yes()).collect();
    let both_active = dc.apps_active().is_yes() && dr.apps_active().is_yes();
    if both_active {
        // MM2 then necessarily touches an active side: a consequence, named
        // here rather than raised as a second alarm.
        let consequence = match running.as_slice() {
            [] => String::new(),
            [m, ..] => format!("; so MM2 {} now writes into an active side", m.flow),
        };
        out.push((
            Rule::AppsOnBothSides,
            String::new(),
            format!("apps active on DC ({}) and DR ({}){consequence}", who(dc), who(dr)),
        ));
    }
    if let (Some(a), Some(b)) =
        (running.iter().find(|m| m.flow.source == Side::Dc), running.iter().find(|m| m.flow.source == Side::Dr))
    {
        out.push((
            Rule::Mm2Bidirectional,
            String::new(),
            format!("{} {} and {} {} both running", a.name, a.flow, b.name, b.flow),
        ));
    }
    for m in &running {
        for side in [m.runs_on, m.flow.target] {
            if !both_active && sides[side.index()].role == Role::Active {
                out.push((
                    Rule::Mm2OnActiveSide,
                    format!("{}:{}", m.name, m.flow),
                    format!("{} ({}) {} active {}", m.name, m.flow, verb(side, m), side),
                ));
                break;
            }
        }
        if let Some(start) = history.flow_started.get(&m.flow)
            && start.apps_active_on_source == Some(false)
        {
            out.push((
                Rule::Mm2StartedBeforeApps,
                m.flow.to_string(),
                format!("{} ({}) started while no apps were active on {}", m.name, m.flow, m.flow.source),
            ));
        }
    }
    out
}

fn verb(side: Side, m: &Mm2View) -> &'static str {
    if side == m.runs_on { "runs on" } else { "writes into" }
}

/// A short "who" for a side: its active app groups, or where applications
/// write and how fast (the topic written fastest).
fn who(side: &SideView) -> String {
    let groups: Vec<&str> = side.app_groups().filter(|g| g.members > 0).map(|g| g.id.as_str()).collect();
    if !groups.is_empty() {
        return groups.join(", ");
    }
    let mut writing: Vec<(&str, f64)> = side
        .topics
        .iter()
        .filter_map(|t| Some((t.name.as_str(), t.app_rate.filter(|r| *r >= super::sides::MIN_APP_RATE)?)))
        .collect();
    writing.sort_by(|a, b| b.1.total_cmp(&a.1));
    match writing.as_slice() {
        [] => "producers".into(),
        [(t, r)] => format!("producers on {t} at {r:.1} rec/s"),
        [(t, r), rest @ ..] => format!("producers on {t} at {r:.1} rec/s and {} more topic(s)", rest.len()),
    }
}
