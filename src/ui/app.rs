//! The console's state and its one entry point, `update`: terminal keys,
//! snapshots, ticks, action outcomes and what a frame measured come in as
//! messages; state changes; effects (journal appends, dispatches, quit) go
//! out for the runtime to carry out. Keys become intents in `input`, `:`
//! lines in `commands`; `apply` gives intents their meaning. `draw` (in
//! `view`) only reads this state.

mod apply;
mod share;

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;

use crate::act::Procedure;
use crate::act::plan::Planner;
use crate::action::{Action, Fault, Outcome};
use crate::assess::Assessment;
use crate::config::Settings;
use crate::dispatch::Refusal;
use crate::drill::{Drill, DrillEvent, DrillView};
use crate::model::{Snapshot, Ts};
use crate::share::{Claim, Driver, LeaseOutcome, SharedDrill};

use super::eventlog::{EventLog, Tone};
use super::input;
use super::judge::{Judged, Retired, Work};
use super::keymap::{Availability, KeyContext, View};
use super::layout::Pane;
use super::prepared::{Filter, LagQuery, Prepared};
use super::screen::{Extent, Extents, Screen};
pub use super::state::{Confirm, Frozen, Gates, Message, Mode, Pending, Question};
use super::theme::Theme;
pub use share::Sharing;

/// How the console is started.
#[derive(Clone, Debug, Default)]
pub struct UiOptions {
    /// Display hint only: a read-only console has no dispatcher at all.
    pub read_only: bool,
    /// Start in the wall layout.
    pub wall: bool,
    pub theme: Theme,
    /// The world is the demo world: fault keys are offered.
    pub demo: bool,
    /// Events read back from the journal; an unfinished drill resumes.
    pub recovered: Vec<DrillEvent>,
    /// How actions are carried out, to preview them before confirming;
    /// `None`: actions are done by hand and observed.
    pub planner: Option<Planner>,
}

/// What comes in: everything the runtime (or a test playing it) feeds the app.
#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal changed size.
    Resize,
    /// A snapshot judged (see `judge`): a new poll, or the last one
    /// re-judged later (ages grow, hold timers advance).
    Judged(Box<Judged>),
    /// A second passed: status messages expire.
    Tick(Ts),
    /// What the world answered to an action sent.
    Outcome(Outcome),
    /// The runtime could not send an action (a read-only console never can).
    Refused(Action, Refusal),
    /// The source stopped sending snapshots, noticed at `now`.
    SourceClosed(Ts),
    /// Where the runtime journals drill events, for the quit question and
    /// the report.
    JournalPath(Option<PathBuf>),
    /// The fingerprint of the configuration, recorded when a drill starts.
    ConfigFingerprint(String),
    /// The journal's last line was torn by a crash mid-write: not part of
    /// the drill resumed.
    JournalTorn {
        line: usize,
    },
    /// The runtime could not append to the journal.
    JournalError(String),
    /// A frame was drawn; what its panes measured. Changes nothing on screen.
    Measured(Extents),
    /// The drill is shared through the drill topic. `me`: this console,
    /// when it may drive (claim the lease); a lease not renewed for
    /// `lease_timeout` may be taken over.
    Sharing {
        me: Option<Driver>,
        lease_timeout: chrono::TimeDelta,
    },
    /// What the drill topic now says.
    Shared(Arc<SharedDrill>),
    /// The answer to this console's claim.
    Lease(LeaseOutcome),
}

/// What goes out: what the runtime must do after an update.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Append to the journal (synced) before anything else happens.
    Journal(DrillEvent),
    /// Send a procedure to the world; a refusal comes back as `Msg::Refused`.
    Dispatch(Procedure),
    /// Claim the drill lease; the answer comes back as `Msg::Lease`.
    Claim(Claim),
    /// Give the drill lease back (the drill is over).
    Release,
    /// Start the journal afresh from these records (a takeover), before
    /// the events that follow.
    Adopt(Vec<crate::drill::journal::Record>),
    Quit,
}

/// How long a message stays in the status line (it stays in the log).
const MESSAGE_SECS: i64 = 20;

/// The drill, what it shows and what its keys may do now.
#[derive(Default)]
struct DrillSide {
    drill: Option<Drill>,
    view: Option<DrillView>,
    gates: Gates,
    /// The drill shown is another console's, followed: why this one
    /// cannot act on it.
    followed: Option<String>,
}

impl DrillSide {
    fn in_progress(&self) -> bool {
        self.drill.as_ref().is_some_and(|d| !d.is_over())
    }

    /// Re-evaluates what the drill keys may do, from the live assessment.
    fn refresh_gates(&mut self, live: Option<&Assessment>) {
        self.gates = match (&self.drill, &self.followed) {
            (None, _) => Gates::default(),
            (Some(_), Some(why)) => Gates {
                run_step: Availability::Disabled(why.clone()),
                confirm: Availability::Disabled(why.clone()),
                abort: Availability::Disabled(why.clone()),
            },
            (Some(d), None) => gates(d, self.view.as_ref(), live),
        };
    }
}

/// The lag table's query and filter, and the view data prepared from them.
#[derive(Default)]
struct LagTable {
    query: LagQuery,
    filter: Option<Filter>,
    filter_error: Option<String>,
    prepared: Prepared,
    /// The snapshot `prepared` was built from: re-judging the same snapshot
    /// later only ages figures, which changes no order, so it is not redone.
    prepared_for: Option<Ts>,
}

impl LagTable {
    fn rebuild(&mut self, shown: Option<(&Assessment, &Snapshot)>) {
        let prepared = match shown {
            Some((a, snap)) => Prepared::build(a, snap, &self.query, self.filter.as_ref()),
            None => Prepared::default(),
        };
        if let Some(f) = prepared.lag_flow {
            self.query.flow = f;
        }
        self.prepared_for = shown.map(|(_, s)| s.taken_at);
        self.prepared = prepared;
    }
}

/// Where each pane is scrolled to, and how far it can go.
#[derive(Default)]
struct Scrolling {
    /// First visible line per pane (index = `Pane::index`).
    first: [usize; Pane::ALL.len()],
    /// What the panes measured when last drawn: lets scrolling stop at the
    /// end without the update knowing the layout.
    extents: Extents,
}

impl Scrolling {
    /// Moves `pane` by `f(first line, page height)`, kept within its content.
    fn scroll(&mut self, pane: Pane, f: impl Fn(usize, usize) -> usize) {
        let i = pane.index();
        let extent: Extent = self.extents.of(pane);
        let max = extent.max_scroll();
        self.first[i] = f(self.first[i].min(max), extent.visible).min(max);
    }
}

pub struct App {
    settings: Settings,
    read_only: bool,
    theme: Theme,
    demo: bool,
    view: View,
    mode: Mode,
    focus: Pane,
    now: Option<Ts>,
    snapshot: Option<Arc<Snapshot>>,
    /// The latest assessment: the drill, the header and alarms use it.
    live: Option<Assessment>,
    /// Set while paused: the detail panes keep showing this.
    frozen: Option<Frozen>,
    lag: LagTable,
    drill: DrillSide,
    log: EventLog,
    message: Option<Message>,
    /// Demo faults the world reported switched on.
    faults_on: Vec<Fault>,
    journal: Option<PathBuf>,
    config_fingerprint: String,
    planner: Option<Planner>,
    /// The action shown for confirmation, exactly as it would be sent.
    pending: Option<Pending>,
    /// The shared drill, when the runtime shares it.
    share: Option<Sharing>,
    /// This console as a driver.
    me: Option<Driver>,
    lease_timeout: chrono::TimeDelta,
    scroll: Scrolling,
    effects: Vec<Effect>,
    /// Replaced, waiting to be freed off this thread (see `judge::Retired`).
    retired: Retired,
    dirty: bool,
}

impl App {
    pub fn new(settings: Settings, opts: UiOptions) -> App {
        let mut app = App {
            settings,
            read_only: opts.read_only,
            theme: opts.theme,
            demo: opts.demo,
            view: if opts.wall { View::Wall } else { View::Console },
            mode: Mode::Normal,
            focus: Pane::Lag,
            now: None,
            snapshot: None,
            live: None,
            frozen: None,
            lag: LagTable::default(),
            drill: DrillSide::default(),
            log: EventLog::default(),
            message: None,
            faults_on: Vec::new(),
            journal: None,
            config_fingerprint: String::new(),
            planner: opts.planner,
            pending: None,
            share: None,
            me: None,
            lease_timeout: chrono::TimeDelta::seconds(30),
            scroll: Scrolling::default(),
            effects: Vec::new(),
            retired: Retired::default(),
            dirty: true,
        };
        if opts.read_only {
            app.note(Tone::Info, "read-only: every action will be refused by the dispatcher");
        }
        app.resume(&opts.recovered);
        app
    }

    fn resume(&mut self, events: &[DrillEvent]) {
        let Some(first) = events.first() else { return };
        let at = first.at();
        match Drill::replay(events) {
            Ok(d) if d.is_over() => {
                let how = if d.is_finished() { "finished" } else { "aborted" };
                self.log.push(at, Tone::Info, format!("journal: the last drill ({}) {how}", d.kind().title()));
            }
            Ok(d) => {
                let step = d.current().map_or(0, |s| s + 1);
                let text = format!(
                    "resumed from the journal: {}, step {step} of {} ({} events); hold timers restart",
                    d.kind().title(),
                    d.plan().steps.len(),
                    events.len()
                );
                self.log.push(at, Tone::Warn, text.clone());
                self.message = Some(Message { tone: Tone::Warn, text, at: None });
                self.drill.view = Some(d.view());
                self.drill.drill = Some(d);
                self.focus = Pane::Drill;
                self.drill.refresh_gates(self.live.as_ref());
            }
            Err(why) => {
                let text = format!("journal not resumed: {why}");
                self.log.push(at, Tone::Alarm, text.clone());
                self.message = Some(Message { tone: Tone::Alarm, text, at: None });
            }
        }
    }

    /// The one way in: applies a message, returns what the runtime must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let was_running = self.drill.in_progress();
        match msg {
            Msg::Key(ev) => {
                self.on_key(ev);
                self.dirty = true;
            }
            Msg::Resize => self.dirty = true,
            Msg::Judged(judged) => self.on_judged(*judged),
            Msg::Tick(now) => {
                self.now = Some(self.now.map_or(now, |t| t.max(now)));
                let expired = self.message.as_ref().and_then(|m| m.at);
                if expired.is_some_and(|at| (now - at).num_seconds() >= MESSAGE_SECS) {
                    self.message = None;
                }
                self.dirty = true;
            }
            Msg::Outcome(o) => self.on_outcome(o),
            Msg::Refused(action, refusal) => self.on_refused(action, refusal),
            Msg::SourceClosed(now) => {
                let text = "the world source stopped: no new observations; figures will turn stale";
                self.say(Tone::Alarm, text.into(), now);
            }
            Msg::JournalPath(path) => self.journal = path,
            Msg::ConfigFingerprint(fingerprint) => self.config_fingerprint = fingerprint,
            Msg::JournalTorn { line } => {
                let text = format!(
                    "journal line {line} is torn (a crash cut its write short): the drill resumes without it; the line stays in the file, named by the next record"
                );
                let at =
                    self.now.or_else(|| self.drill.drill.as_ref().and_then(|d| d.events().last()).map(DrillEvent::at));
                if let Some(at) = at {
                    self.log.push(at, Tone::Warn, text.clone());
                }
                self.message = Some(Message { tone: Tone::Warn, text, at: None });
                self.dirty = true;
            }
            Msg::JournalError(error) => {
                let text = format!("JOURNAL WRITE FAILED: {error} — the drill is not being recorded");
                if let Some(at) = self.now {
                    self.log.push(at, Tone::Alarm, text.clone());
                }
                self.message = Some(Message { tone: Tone::Alarm, text, at: None });
                self.dirty = true;
            }
            Msg::Measured(extents) => {
                self.scroll.extents.update(extents);
                self.dirty = false;
            }
            Msg::Sharing { me, lease_timeout } => {
                self.lease_timeout = lease_timeout;
                let may_drive = me.is_some() && !self.read_only;
                self.me = me;
                self.on_sharing(may_drive);
                self.dirty = true;
            }
            Msg::Shared(shared) => {
                self.on_shared(shared);
                self.dirty = true;
            }
            Msg::Lease(outcome) => {
                self.on_lease(outcome);
                self.dirty = true;
            }
        }
        if was_running && !self.drill.in_progress() && self.drill.followed.is_none() {
            self.offer_report();
            self.release_if_over();
        }
        std::mem::take(&mut self.effects)
    }

    /// A drill just finished or was aborted: say how to get its report.
    fn offer_report(&mut self) {
        let (Some(path), Some(d), Some(now)) = (&self.journal, &self.drill.drill, self.now) else { return };
        let how = if d.is_finished() { "finished" } else { "aborted" };
        let text = format!("{} {how}: its report is `kdrill report {}`", d.kind().title(), path.display());
        self.say(Tone::Info, text, now);
    }

    fn on_key(&mut self, ev: KeyEvent) {
        let ctx = self.key_context();
        if let Some(intent) = input::intent(self.mode.keys(), &ctx, ev) {
            self.apply(intent);
        }
    }

    fn on_outcome(&mut self, o: Outcome) {
        // The badge lists faults the world said it switched on; a produce
        // burst ends by itself, so it is not kept there.
        if let (Ok(_), Action::Fault(f)) = (&o.result, &o.action) {
            match self.faults_on.iter().position(|x| x == f) {
                Some(i) => {
                    self.faults_on.remove(i);
                }
                None if *f != Fault::ProduceBurst => self.faults_on.push(*f),
                None => {}
            }
        }
        match self.drill.drill.as_mut().and_then(|d| d.record_outcome(&o)) {
            // The drill's own entry says it, with the step.
            Some(ev) => {
                self.journal_event(ev);
                let text = match &o.result {
                    Ok(detail) => format!("done: {}: {detail}", o.action.label()),
                    Err(e) => format!("FAILED: {}: {e}", o.action.label()),
                };
                let tone = if o.result.is_ok() { Tone::Ok } else { Tone::Alarm };
                self.message = Some(Message { tone, text, at: Some(o.at) });
                self.after_drill_change();
            }
            None => match &o.result {
                Ok(detail) => self.say(Tone::Ok, format!("done: {}: {detail}", o.action.label()), o.at),
                Err(e) => self.say(Tone::Alarm, format!("FAILED: {}: {e}", o.action.label()), o.at),
            },
        }
        self.dirty = true;
    }

    /// A drill step's refused action is journaled as its failed outcome.
    fn on_refused(&mut self, action: Action, refusal: Refusal) {
        let Some(now) = self.now else { return };
        let text = refusal.to_string();
        self.say(Tone::Alarm, format!("REFUSED: {text}"), now);
        // The log line above already says it; the journal keeps it too.
        let outcome = Outcome::new(action, Err(text), now);
        if let Some(ev) = self.drill.drill.as_mut().and_then(|d| d.record_outcome(&outcome)) {
            self.effects.push(Effect::Journal(ev));
            self.after_drill_change();
        }
    }

    pub fn needs_redraw(&self) -> bool {
        self.dirty
    }

    /// Draws the current state; returns what the panes measured, for
    /// `Msg::Measured`.
    pub fn draw(&self, frame: &mut Frame) -> Extents {
        super::view::draw(&self.screen(), frame)
    }

    /// The read-only view the panes draw from.
    fn screen(&self) -> Screen<'_> {
        Screen {
            theme: &self.theme,
            demo: self.demo,
            read_only: self.read_only,
            view: self.view,
            mode: &self.mode,
            focus: self.focus,
            now: self.now,
            snapshot: self.snapshot.as_deref(),
            live: &self.live,
            frozen: &self.frozen,
            prepared: &self.lag.prepared,
            query: &self.lag.query,
            filter: &self.lag.filter,
            filter_error: &self.lag.filter_error,
            drill_view: &self.drill.view,
            drill_in_progress: self.drill_in_progress(),
            sharing: self.share.as_ref().map(|s| s.status(self.now, self.lease_timeout)),
            gates: &self.drill.gates,
            log: &self.log,
            message: &self.message,
            faults_on: &self.faults_on,
            journal: &self.journal,
            pending: &self.pending,
            scroll: self.scroll.first,
        }
    }

    // ---- read access for the runtime and tests ----

    pub fn drill(&self) -> Option<&Drill> {
        self.drill.drill.as_ref()
    }

    pub fn assessment(&self) -> Option<&Assessment> {
        self.live.as_ref()
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn is_paused(&self) -> bool {
        self.frozen.is_some()
    }

    pub fn view_kind(&self) -> View {
        self.view
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// A drill is running and not over.
    pub fn drill_in_progress(&self) -> bool {
        self.drill.in_progress()
    }

    pub fn key_context(&self) -> KeyContext<'_> {
        KeyContext {
            view: self.view,
            demo: self.demo,
            read_only: self.read_only,
            filtering: self.lag.filter.is_some() || !matches!(self.mode, Mode::Normal),
            flows: self.live.as_ref().map_or(0, |a| a.lag.len()),
            paused: self.frozen.is_some(),
            drill_running: self.drill.in_progress(),
            run_step: &self.drill.gates.run_step,
            confirm: &self.drill.gates.confirm,
            abort: &self.drill.gates.abort,
        }
    }

    /// The assessment and snapshot the detail panes show.
    fn shown(&self) -> Option<(&Assessment, &Snapshot)> {
        match &self.frozen {
            Some(f) => Some((&f.assessment, &f.snapshot)),
            None => Some((self.live.as_ref()?, self.snapshot.as_deref()?)),
        }
    }

    // ---- update internals ----

    /// The judge's next piece of work: `snapshot` at `now`, and the paused
    /// view's snapshot.
    pub fn work(&self, snapshot: Arc<Snapshot>, now: Ts) -> Work {
        Work { snapshot, now, paused: self.frozen.as_ref().map(|f| f.snapshot.clone()) }
    }

    /// What this console replaced since asked last, to be freed elsewhere.
    pub fn retired(&mut self) -> Retired {
        std::mem::take(&mut self.retired)
    }

    fn on_judged(&mut self, judged: Judged) {
        let Judged { snapshot: snap, assessment: a, paused } = judged;
        let now = a.now;
        self.now = Some(self.now.map_or(now, |t| t.max(now)));
        self.dirty = true;
        self.retired.snapshots.extend(self.snapshot.replace(snap.clone()));
        if let Some(drill) = self.drill.drill.as_mut() {
            if self.drill.followed.is_some() {
                // Another console records this drill: its live gates are
                // shown from a copy; nothing is journaled here.
                let mut copy = drill.clone();
                let _ = copy.observe(&a);
                self.drill.view = Some(copy.view());
            } else {
                observe(drill, &a, &mut self.log, &mut self.effects);
                self.drill.view = Some(drill.view());
            }
        }
        self.log.compare(self.live.as_ref(), &a);
        self.retired.assessments.extend(self.live.replace(a));
        self.drill.refresh_gates(self.live.as_ref());
        match self.frozen.as_mut() {
            Some(f) => {
                // Judged before the pause (or for an earlier one): kept as it is.
                if let Some((_, a)) = paused.filter(|(s, _)| Arc::ptr_eq(s, &f.snapshot)) {
                    self.retired.assessments.push(std::mem::replace(&mut f.assessment, a));
                }
            }
            None if self.lag.prepared_for != Some(snap.taken_at) => self.prepare(),
            None => {}
        }
    }

    /// Rebuilds the prepared view data of the shown assessment.
    fn prepare(&mut self) {
        let shown = match &self.frozen {
            Some(f) => Some((&f.assessment, &*f.snapshot)),
            None => self.live.as_ref().zip(self.snapshot.as_deref()),
        };
        self.lag.rebuild(shown);
        self.dirty = true;
    }

    /// A drill event: to the journal and the log.
    fn journal_event(&mut self, ev: DrillEvent) {
        if let Some(d) = &self.drill.drill {
            self.log.drill(d.plan(), &ev);
        }
        self.effects.push(Effect::Journal(ev));
    }

    /// The drill changed outside an observation: observe again so the view
    /// and gates follow at once.
    fn after_drill_change(&mut self) {
        if let (Some(d), Some(a), None) = (self.drill.drill.as_mut(), self.live.as_ref(), &self.drill.followed) {
            observe(d, a, &mut self.log, &mut self.effects);
        }
        self.drill.view = self.drill.drill.as_ref().map(Drill::view);
        self.drill.refresh_gates(self.live.as_ref());
        self.dirty = true;
    }

    /// A message in the status line and the log.
    fn say(&mut self, tone: Tone, text: String, at: Ts) {
        self.log.push(at, tone, text.clone());
        self.message = Some(Message { tone, text, at: Some(at) });
        self.dirty = true;
    }

    /// A message in the status line only (answers to keys).
    fn note(&mut self, tone: Tone, text: impl Into<String>) {
        self.message = Some(Message { tone, text: text.into(), at: self.now });
        self.dirty = true;
    }
}

/// Feeds an assessment to the drill; what it records goes to the journal,
/// and to the log except broken rules (the log has those already).
fn observe(drill: &mut Drill, a: &Assessment, log: &mut EventLog, effects: &mut Vec<Effect>) {
    for ev in drill.observe(a) {
        // Rules come and go in the log already; a stop of MM2 too.
        let logged_elsewhere = matches!(
            ev,
            DrillEvent::RuleViolated { .. } | DrillEvent::RuleCleared { .. } | DrillEvent::ReplicationStopped { .. }
        );
        if !logged_elsewhere {
            log.drill(drill.plan(), &ev);
        }
        effects.push(Effect::Journal(ev));
    }
}

fn gates(d: &Drill, view: Option<&DrillView>, live: Option<&Assessment>) -> Gates {
    let over = if d.is_finished() {
        Some("the drill is finished: start another with :switchover or :failback".to_owned())
    } else if d.is_over() {
        Some("the drill was aborted: start another with :switchover or :failback".to_owned())
    } else {
        None
    };
    if let Some(why) = over {
        return Gates {
            run_step: Availability::Disabled(why.clone()),
            confirm: Availability::Disabled(why.clone()),
            abort: Availability::Disabled(why),
        };
    }
    let Some((step, current)) = view.and_then(DrillView::current_step) else { return Gates::default() };
    let run_step = match live {
        _ if current.completes_when_observed() => {
            let why = view.and_then(|v| v.blocked.clone()).unwrap_or_default();
            Availability::Disabled(format!("step {} has no action: it completes when observed ({why})", step + 1))
        }
        None => Availability::Disabled("nothing observed yet".into()),
        Some(a) => match d.action_gate(a) {
            Ok(_) => Availability::Enabled,
            Err(why) => Availability::Disabled(why),
        },
    };
    let confirm = if current.awaits_confirmation() {
        Availability::Enabled
    } else {
        Availability::Disabled(format!("nothing to confirm in step {}", step + 1))
    };
    Gates { run_step, confirm, abort: Availability::Enabled }
}
