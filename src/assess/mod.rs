//! Judgement over the model, in pure functions: the role each side plays,
//! produce rates, replication lag, rule violations and gate preconditions.
//! `Assessor` folds snapshots into the little history judgement needs and
//! never reads a clock: `now` is always given.

pub mod canary;
pub mod checkpoints;
mod classes;
pub mod conditions;
pub mod drift;
pub mod ends;
pub mod failback;
pub mod groups;
pub mod history;
pub mod lag;
pub mod mm2;
pub mod mm2_config;
pub mod platform;
pub mod preflight;
pub mod rules;
pub mod sides;
mod split;
pub mod translation;
pub mod truth;

use std::collections::HashMap;

use crate::config::Settings;
use crate::model::{Flow, Link, Side, Snapshot, Ts, age_secs};

pub use canary::{CanaryView, RoundTrip};
pub use conditions::{Check, Condition, evaluate};
pub use ends::{CopyBack, MirrorEnds, PartitionEnd, copy_back};
pub use failback::{Failback, FailbackPartition, FailbackTopic};
pub use groups::{GroupLag, GroupLagRow};
pub use history::{FlowStart, History};
pub use lag::{FlowLag, LagLevel, LagRow};
pub use mm2::{Health, Mm2Problem, Mm2ProblemKind, Mm2View};
pub use platform::{Disagreement, DisagreementKind, Known, Mm2Platform, PlatformView};
pub use rules::{Rule, Violation};
pub use sides::{GroupClass, GroupView, Role, SecurityView, SideView, TopicView};
pub use translation::{CheckpointOffsets, GroupTranslation, TranslationRow, Untranslatable};
pub use truth::{Freshness, Truth, fmt_age};

/// How bad the overall picture is, for the one-line verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Unknown,
    Warn,
    Alarm,
}

impl Level {
    /// The level's stable name, as `check` reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Unknown => "unknown",
            Level::Warn => "warn",
            Level::Alarm => "alarm",
        }
    }
}

/// Whether the runbook holds, decided with the verdict: what `check`'s exit
/// code reports. The header calls the pair fine (`Ok` or `Warn`) exactly
/// when it `Holds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Every rule kept, and the lag of every running flow known and within
    /// the alarm threshold.
    Holds,
    /// A rule broken, or a running flow's lag above the threshold or unknown.
    Fails,
    /// A side or an MM2 deployment could not be observed.
    Unobserved,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Holds => "holds",
            Standing::Fails => "fails",
            Standing::Unobserved => "unobserved",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub level: Level,
    pub standing: Standing,
    pub text: String,
}

/// Everything the drill and the UI need to know, computed at `now`.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    pub now: Ts,
    pub sides: [SideView; 2],
    pub mm2: Vec<Mm2View>,
    /// Each side's Kubernetes, where one is configured.
    pub platforms: [Option<PlatformView>; 2],
    /// Application topics whose mirror differs (see `drift`).
    pub drift: Vec<drift::TopicDrift>,
    pub lag: Vec<FlowLag>,
    /// The flow whose lag is shown first: see `live_flow`.
    pub live_flow: Option<Flow>,
    pub violations: Vec<Violation>,
    pub verdict: Verdict,
    /// Where each stopped flow's mirrored data ends on its target.
    pub mirror_ends: Vec<MirrorEnds>,
    /// For every configured flow, where each application group of its
    /// source would resume on its target (see `translation`).
    pub translations: Vec<GroupTranslation>,
    /// For each stopped flow, what its reverse flow would copy back if
    /// started now, and the orphan tail left on the stopped flow's source.
    pub failback: Vec<Failback>,
    /// kdrill's canary through each flow that has one running.
    pub canaries: Vec<CanaryView>,
}

impl Assessment {
    /// Why the runbook's rules cannot be checked now, one reason per side
    /// whose data is not fresh (rules break only on fresh evidence, so
    /// "none broken" then means nothing); empty when they can.
    pub fn rules_unchecked_because(&self) -> Vec<String> {
        self.sides.iter().filter_map(|s| s.freshness.problem(&format!("{} data", s.side))).collect()
    }

    /// The translations of `flow`'s application groups.
    pub fn translations_of(&self, flow: Flow) -> impl Iterator<Item = &GroupTranslation> {
        self.translations.iter().filter(move |t| t.flow == flow)
    }

    /// Groups that cannot be carried over as they are, in words: for the
    /// flow out of the active side (else the live flow), the one whose
    /// translation matters next. A warning, never an alarm.
    pub fn group_warnings(&self) -> Vec<&GroupTranslation> {
        let flow = self.active_side().map(Flow::from).or(self.live_flow);
        self.translations.iter().filter(|t| Some(t.flow) == flow && t.problem.is_some()).collect()
    }

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

    /// Where a stopped flow's mirrored data ends on its target.
    pub fn mirror_ends_of(&self, flow: Flow) -> Option<&MirrorEnds> {
        self.mirror_ends.iter().find(|e| e.flow == flow)
    }

    pub fn lag_of(&self, flow: Flow) -> Option<&FlowLag> {
        self.lag.iter().find(|l| l.flow == flow)
    }

    /// The lag of the live flow, if any flow is configured.
    pub fn live_lag(&self) -> Option<&FlowLag> {
        self.live_flow.and_then(|f| self.lag_of(f))
    }

    /// Flows whose lag means something: their MM2 runs (or may), or it
    /// committed progress once (what a stop leaves behind). A flow stopped
    /// that never replicated has no lag to speak of.
    pub fn lag_that_matters(&self) -> impl Iterator<Item = &FlowLag> {
        self.lag.iter().filter(|l| {
            l.rows.iter().any(|r| r.replicated.is_some())
                || self.mm2.iter().any(|m| m.flow == l.flow && !m.running.is_no())
        })
    }
}

/// Folds snapshots into history and judges them.
#[derive(Clone, Debug)]
pub struct Assessor {
    pub settings: Settings,
    pub history: History,
    /// What each flow was last known to do (absent = never judged), to
    /// tell a start from a flow found already running.
    flow_state: HashMap<Flow, FlowState>,
    /// Groups seen past where MM2 should have checkpointed them.
    checkpoints_behind: checkpoints::BehindSince,
    classes: classes::GroupClasses,
}

/// A flow's last known running state. Unknown spells are skipped: a flow
/// seen running again after one has not started.
#[derive(Clone, Copy, Debug, PartialEq)]
enum FlowState {
    /// `lost_sight`: the flow has been unknown since it was last seen running.
    Running { lost_sight: bool },
    /// Seen stopped from `since` to `last` (unknown spells between them
    /// included); `ran` = it was seen running before; `after_lost_sight` =
    /// the first stopped sighting came as sight returned after an unknown
    /// spell that followed running.
    Stopped { since: Ts, last: Ts, ran: bool, after_lost_sight: bool },
}

impl Assessor {
    pub fn new(settings: Settings) -> Self {
        Assessor {
            settings,
            history: History::default(),
            flow_state: HashMap::new(),
            checkpoints_behind: checkpoints::BehindSince::new(),
            classes: classes::GroupClasses::default(),
        }
    }

    /// Judges `snap` at `now`. A snapshot newer than the last one is folded
    /// into history first; calling again with the same snapshot and a later
    /// `now` just ages everything.
    pub fn assess(&mut self, snap: &Snapshot, now: Ts) -> Assessment {
        let fresh_snapshot = self.history.last_snapshot.is_none_or(|t| snap.taken_at > t);
        if fresh_snapshot {
            self.history.ingest(snap);
        }
        let classes = self.classes.of(snap, &self.settings.classification);
        let (s, history, classes) = (&self.settings, &self.history, &classes);
        // Translations, the largest part, with topic drift and the
        // platforms beside the rest.
        let ((translations, drift, platforms), (mut mm2, mut sides, mut lag, mirror_ends)) = split::join(
            || {
                let translations = translation::translations(snap, classes, history, s, now);
                (translations, drift::topic_drift(snap, s, now), platform::assess_platforms(snap, s, now))
            },
            || {
                let mm2 = mm2::assess_mm2(snap, s, now);
                let sides = Side::BOTH
                    .map(|side| sides::assess_side(side, snap, &classes[side.index()], history, &mm2, s, now));
                let lag = lag::assess_lag(snap, history, s, now);
                // Only a stopped flow's ends mean anything (and only then are they needed).
                let mirror_ends = lag
                    .iter()
                    .filter(|l| mm2.iter().any(|m| m.flow == l.flow && m.running.is_no()))
                    .map(|l| ends::mirror_ends(l, snap, s, now))
                    .collect::<Vec<_>>();
                (mm2, sides, lag, mirror_ends)
            },
        );
        let s = &self.settings;
        for side in &mut sides {
            side.declared = s.declared_active.map(|a| if a == side.side { Role::Active } else { Role::Passive });
        }
        for l in &mut lag {
            if fresh_snapshot {
                self.history.record_lag_total(l.flow, l.total);
            }
            l.spark = self.history.lag_totals.get(&l.flow).map(|r| r.iter().copied().collect()).unwrap_or_default();
        }
        for m in mm2.iter_mut().filter(|m| m.running.is_yes()) {
            let behind = lag.iter().find(|l| l.flow == m.flow && l.freshness.is_fresh()).and_then(|l| l.total);
            let since = self.history.progress_unchanged_since(m.flow);
            if let (Some(behind @ 1..), Some(since)) = (behind, since)
                && now - since >= s.stall_after
            {
                mm2::mark_stalled(m, behind, since, now);
            }
        }
        checkpoints::mark_stalled_checkpoints(
            &mut mm2,
            &translations,
            &lag,
            &self.history,
            &mut self.checkpoints_behind,
            s.stall_after,
            now,
        );
        let canaries = canary::assess_canaries(snap, s, now);
        canary::mark_lost_canaries(&mut mm2, &canaries, now);
        self.track_starts(&mm2, &sides, now);
        let found = rules::check_rules(&sides, &mm2, &self.history);
        let violations = self.stamp(found, now);
        let verdict = verdict(&sides, &mm2, &lag, &drift, &violations, now);
        let live_flow = live_flow(&sides, &mm2, &lag, self.settings.declared_active);
        // Before the reverse flow starts only: once it runs, it copies.
        let not_running = |f: Flow| !mm2.iter().any(|m| m.flow == f && m.running.is_yes());
        let failback = mirror_ends
            .iter()
            .filter(|e| lag.iter().any(|l| l.flow == e.flow.reversed()) && not_running(e.flow.reversed()))
            .map(|e| {
                // The target's current ends are where the stopped flow's data
                // ended only while nothing else writes there; once its
                // applications do, only a drill that saw the flow stop knows.
                let target = e.flow.target;
                let written = match &sides[target.index()].producing {
                    Truth::No => None,
                    Truth::Yes => Some(format!("applications write on {target} since it stopped")),
                    Truth::Unknown(why) => Some(format!("whether applications write on {target} is unknown: {why}")),
                };
                let ends = match &written {
                    Some(why) => Err(why.as_str()),
                    None => e.ends.as_deref().map_err(String::as_str),
                };
                failback::failback(e.flow.reversed(), ends, &lag)
            })
            .collect();
        Assessment {
            now,
            sides,
            mm2,
            platforms,
            drift,
            lag,
            live_flow,
            violations,
            verdict,
            mirror_ends,
            translations,
            failback,
            canaries,
        }
    }

    fn track_starts(&mut self, mm2: &[Mm2View], sides: &[SideView; 2], now: Ts) {
        for m in mm2 {
            let before = self.flow_state.get(&m.flow).copied();
            let running = match m.running {
                Truth::Yes => true,
                Truth::No => false,
                Truth::Unknown(_) => {
                    if let Some(FlowState::Running { .. }) = before {
                        self.flow_state.insert(m.flow, FlowState::Running { lost_sight: true });
                    }
                    continue;
                }
            };
            let hold = self.settings.hold_window;
            let stale = self.settings.stale_after;
            // A stop of a flow that ran counts once it has been observed
            // across the hold window: workers missing for a moment (a Connect
            // group rebalancing) are not a stop, and their return is not a
            // start. When sight of a running flow comes back after an unknown
            // spell (its broker hung), the Connect group is still rejoining
            // from the same outage: the stop must then hold `stale_after`
            // longer before it counts.
            let stop_held = |since: Ts, last: Ts, ran: bool, after_lost_sight: bool| {
                !ran || last - since >= if after_lost_sight { hold + stale } else { hold }
            };
            if !running {
                let state = match before {
                    Some(FlowState::Stopped { since, ran, after_lost_sight, .. }) => {
                        FlowState::Stopped { since, last: now, ran, after_lost_sight }
                    }
                    Some(FlowState::Running { lost_sight }) => {
                        FlowState::Stopped { since: now, last: now, ran: true, after_lost_sight: lost_sight }
                    }
                    None => FlowState::Stopped { since: now, last: now, ran: false, after_lost_sight: false },
                };
                if let FlowState::Stopped { since, last, ran, after_lost_sight } = state
                    && stop_held(since, last, ran, after_lost_sight)
                {
                    self.history.flow_started.remove(&m.flow);
                }
                self.flow_state.insert(m.flow, state);
                continue;
            }
            self.flow_state.insert(m.flow, FlowState::Running { lost_sight: false });
            if let Some(FlowState::Stopped { since, last, ran, after_lost_sight }) = before
                && stop_held(since, last, ran, after_lost_sight)
            {
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

/// The flow whose lag is shown and judged first: the first whose MM2 runs,
/// else the one leaving the active side (observed, else declared), else
/// the first configured.
fn live_flow(sides: &[SideView; 2], mm2: &[Mm2View], lag: &[FlowLag], declared: Option<Side>) -> Option<Flow> {
    let has_lag = |f: &Flow| lag.iter().any(|l| l.flow == *f);
    let running = mm2.iter().filter(|m| m.running.is_yes()).map(|m| m.flow).find(has_lag);
    let active = sides.iter().find(|s| s.role == Role::Active).map(|s| s.side).or(declared);
    running.or(active.map(Flow::from).filter(has_lag)).or(lag.first().map(|l| l.flow))
}

fn verdict(
    sides: &[SideView; 2],
    mm2: &[Mm2View],
    lag: &[FlowLag],
    drift: &[drift::TopicDrift],
    violations: &[Violation],
    now: Ts,
) -> Verdict {
    let say = |level, standing, text| Verdict { level, standing, text };
    // A rule breaks only on fresh, positive evidence: it stands even when
    // something else could not be observed.
    if let Some(v) = violations.first() {
        let more = if violations.len() > 1 { format!(" (+{} more)", violations.len() - 1) } else { String::new() };
        return say(Level::Alarm, Standing::Fails, format!("RULE BROKEN: {}{more}", v.detail));
    }
    for s in sides {
        if let Link::Down { since, .. } = &s.link {
            let text = format!("{} unreachable for {}", s.side, fmt_age(age_secs(*since, now)));
            return say(Level::Alarm, Standing::Unobserved, text);
        }
    }
    for s in sides {
        if let Some(why) = s.freshness.problem(&format!("{} data", s.side)) {
            return say(Level::Unknown, Standing::Unobserved, why);
        }
        if s.link == Link::Connecting {
            return say(Level::Unknown, Standing::Unobserved, format!("{} connecting", s.side));
        }
    }
    for m in mm2 {
        if let Truth::Unknown(why) = &m.running {
            return say(Level::Unknown, Standing::Unobserved, why.clone());
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
    let mut standing = Standing::Holds;
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
        // Every running flow is judged; one without figures fails closed.
        let (text, ok) = match lag.iter().find(|l| l.flow == m.flow) {
            None => (format!("lag {} not observed", m.flow), false),
            Some(l) => match (&l.level, l.total) {
                (LagLevel::Within, Some(n)) => (format!("lag {n} rec"), true),
                (LagLevel::Above { threshold }, Some(n)) => (format!("lag {n} rec above {threshold}"), false),
                (LagLevel::Ahead { records, partitions }, _) => {
                    (format!("MM2 {records} rec AHEAD of the source on {partitions} partition(s)"), false)
                }
                (LagLevel::Within | LagLevel::Above { .. }, None) => ("lag unknown".into(), false),
                (LagLevel::Unknown(why), _) => (format!("lag unknown: {why}"), false),
            },
        };
        parts.push(text);
        if !ok {
            level = Level::Alarm;
            standing = Standing::Fails;
        }
    }
    // A problem a person must act on fails the verdict; the first of the
    // running flows' problems is named either way.
    let urgent = running.iter().flat_map(|m| &m.problems).find(|p| p.kind.needs_a_person());
    if let Some(p) = urgent.or_else(|| running.iter().flat_map(|m| m.problems.first()).next()) {
        parts.push(p.text.clone());
    }
    if urgent.is_some() {
        level = Level::Alarm;
        standing = Standing::Fails;
    }
    // So does a consumer that is connected, behind, and not moving.
    let stalled = sides.iter().flat_map(|s| s.groups.iter().map(move |g| (s.side, g)));
    if let Some((side, g, since)) = stalled.filter_map(|(side, g)| Some((side, g, g.stalled_since?))).next() {
        parts.push(format!("group {} on {side} stalled for {}", g.id, fmt_age(age_secs(since, now))));
        level = level.max(Level::Warn);
        standing = Standing::Fails;
    }
    // A mirror that cannot take its source's data needs a person too.
    if let Some(d) = drift.iter().flat_map(|d| &d.differences).find(|d| d.blocking) {
        parts.push(format!("topic drift: {}", d.text));
        level = Level::Alarm;
        standing = Standing::Fails;
    }
    say(level, standing, parts.join(" · "))
}
