//! What intents do to the console's state. Everything that changes the
//! world leaves as a `Dispatch` effect; a refusal comes back as a message.

use ratatui::crossterm::event::{Event, KeyEvent};
use tui_input::backend::crossterm::EventHandler;
use tui_input::{Input, InputRequest};

use crate::act::Procedure;
use crate::act::plan::Facts;
use crate::action::{Action, Fault};
use crate::drill::{Drill, PlanKind};

use super::super::commands;
use super::super::eventlog::Tone;
use super::super::intent::Intent;
use super::super::keymap::{Command, View};
use super::super::layout::Pane;
use super::super::prepared::Filter;
use super::{App, Confirm, Effect, Frozen, Mode, Pending, Question};

/// Help scrolls this many lines a page.
const HELP_PAGE: usize = 10;

impl App {
    pub(super) fn apply(&mut self, intent: Intent) {
        match intent {
            Intent::Run(command) => self.run(command),
            Intent::Unavailable { key, description, why } => {
                self.note(Tone::Warn, format!("{}: {description} — {why}", key.label()))
            }
            Intent::Edit(ev) => self.edit(ev),
            Intent::Start(kind) => self.start(kind),
            Intent::AskAbort if self.read_only => self.note(Tone::Warn, crate::ui::keymap::READ_ONLY_DRILL),
            Intent::AskAbort if self.drill.followed.is_some() => {
                let why = self.drill.followed.clone().unwrap_or_default();
                self.note(Tone::Warn, why)
            }
            Intent::TakeOver if self.read_only => self.note(Tone::Warn, crate::ui::keymap::READ_ONLY_DRILL),
            Intent::TakeOver => self.ask_takeover(),
            Intent::AskAbort if self.drill.in_progress() => self.ask(Confirm::Abort),
            Intent::AskAbort => self.note(Tone::Warn, "no drill in progress to abort"),
            Intent::Theme(name) => match self.theme.with_base(&name) {
                Ok(t) => {
                    self.note(Tone::Info, format!("theme {}", t.name()));
                    self.theme = t;
                }
                Err(e) => self.note(Tone::Warn, e.to_string()),
            },
            Intent::Fault(f) => self.send(Action::Fault(f)),
            Intent::Restart(_) if self.read_only => self.note(Tone::Warn, crate::ui::keymap::READ_ONLY_DRILL),
            Intent::Restart(flow) => self.propose(Action::RestartMm2(flow), None),
            Intent::OverridePreflight | Intent::AcceptCopyBack if self.read_only => {
                self.note(Tone::Warn, crate::ui::keymap::READ_ONLY_DRILL)
            }
            Intent::OverridePreflight => self.ask_override(),
            Intent::AcceptCopyBack => self.ask_accept(),
            Intent::Warn(text) => self.note(Tone::Warn, text),
        }
    }

    /// A binding's command, in the mode it was pressed in.
    fn run(&mut self, command: Command) {
        match command {
            Command::Help => self.mode = Mode::Help { scroll: 0 },
            Command::CommandMode => self.mode = Mode::Command(Input::default()),
            Command::Filter => {
                let text = self.lag.filter.as_ref().map(|f| f.text.clone()).unwrap_or_default();
                self.mode = Mode::Filter { input: Input::new(text), before: self.lag.filter.clone() };
            }
            Command::FocusNext => self.focus = self.focus.next(),
            Command::FocusPrev => self.focus = self.focus.prev(),
            Command::Back => {
                if self.lag.filter.take().is_some() {
                    self.prepare();
                    self.note(Tone::Info, "filter cleared");
                }
            }
            Command::Quit => self.quit(),
            Command::RunStep => self.run_step(),
            Command::Confirm => self.confirm_item(),
            Command::Abort => self.ask(Confirm::Abort),
            Command::SortNext => {
                self.lag.query.sort = self.lag.query.sort.next();
                self.lag.query.reversed = false;
                self.resort();
            }
            Command::SortPrev => {
                self.lag.query.reversed = !self.lag.query.reversed;
                self.resort();
            }
            Command::NextFlow => {
                let flows = self.shown().map_or(0, |(a, _)| a.lag.len());
                self.lag.query.flow = if flows == 0 { 0 } else { (self.lag.query.flow + 1) % flows };
                self.lag.query.pinned = true;
                self.resort();
            }
            Command::Pause => self.toggle_pause(),
            Command::Wall => self.toggle_wall(),
            Command::Fault(i) => match Fault::ALL.get(i) {
                Some(f) => self.send(Action::Fault(*f)),
                None => self.note(Tone::Warn, "no such fault"),
            },
            Command::ScrollUp => self.scroll(|s, _| s.saturating_sub(1)),
            Command::ScrollDown => self.scroll(|s, _| s + 1),
            Command::PageUp => self.scroll(|s, page| s.saturating_sub(page.max(1))),
            Command::PageDown => self.scroll(|s, page| s + page.max(1)),
            Command::Top => self.scroll(|_, _| 0),
            Command::Bottom => self.scroll(|_, _| usize::MAX),
            Command::Close | Command::No => {
                if self.pending.take().is_some() {
                    self.note(Tone::Info, "nothing sent");
                }
                self.mode = Mode::Normal;
            }
            Command::Cancel => {
                if let Mode::Filter { before, .. } = std::mem::replace(&mut self.mode, Mode::Normal) {
                    self.lag.filter = before;
                    self.lag.filter_error = None;
                    self.prepare();
                }
            }
            Command::Submit => match std::mem::replace(&mut self.mode, Mode::Normal) {
                Mode::Command(input) => {
                    if let Some(intent) = commands::parse(input.value(), self.demo) {
                        self.apply(intent);
                    }
                }
                Mode::Filter { .. } => {
                    if let Some(e) = self.lag.filter_error.take() {
                        self.note(Tone::Warn, format!("{e}; the previous filter stays"));
                    }
                }
                other => self.mode = other,
            },
            Command::Complete => {
                if let Mode::Command(input) = &mut self.mode {
                    let done = commands::complete(input.value());
                    *input = std::mem::take(input).with_value(done);
                }
            }
            Command::Erase => match &mut self.mode {
                Mode::Command(input) if input.value().is_empty() => self.mode = Mode::Normal,
                Mode::Command(input) => {
                    input.handle(InputRequest::DeletePrevChar);
                }
                _ => {}
            },
            Command::Yes => self.answer_yes(),
        }
    }

    /// A key typed into the line of the current mode.
    fn edit(&mut self, ev: KeyEvent) {
        let Some(input) = self.mode.line_mut() else { return };
        input.handle_event(&Event::Key(ev));
        if let Mode::Filter { input, .. } = &self.mode {
            let text = input.value().to_owned();
            self.set_filter(&text);
        }
    }

    /// Applies the filter as typed; a bad regex is shown and the last good
    /// filter stays in force.
    fn set_filter(&mut self, text: &str) {
        match Filter::parse(text) {
            Ok(f) => {
                self.lag.filter = f;
                self.lag.filter_error = None;
                self.prepare();
            }
            Err(e) => self.lag.filter_error = Some(e),
        }
    }

    fn ask(&mut self, about: Confirm) {
        self.mode = Mode::Confirm(Question::yes_no(about));
    }

    /// Quit: at once, or after asking while a drill is in progress. Asked
    /// again during the quit question, it is the answer; during another
    /// question, it becomes the quit question.
    fn quit(&mut self) {
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Confirm(q) if q.about == Confirm::Quit => self.effects.push(Effect::Quit),
            Mode::Confirm(_) => self.ask(Confirm::Quit),
            _ if self.drill.in_progress() => self.ask(Confirm::Quit),
            _ => self.effects.push(Effect::Quit),
        }
    }

    fn answer_yes(&mut self) {
        let Mode::Confirm(question) = std::mem::replace(&mut self.mode, Mode::Normal) else { return };
        if !question.typed_matches() {
            let expect = question.typed.as_ref().map(|t| t.expect.clone()).unwrap_or_default();
            self.note(Tone::Warn, format!("type {expect:?} exactly to confirm, or Esc"));
            self.mode = Mode::Confirm(question);
            return;
        }
        match question.about {
            Confirm::Action => {
                let typed = question.typed.map(|t| t.input.value().to_owned()).unwrap_or_default();
                self.send_pending(typed);
            }
            Confirm::OverridePreflight | Confirm::AcceptCopyBack => {
                let typed = question.typed.map(|t| t.input.value().to_owned()).unwrap_or_default();
                self.pass_gate(question.about, &typed);
            }
            Confirm::Quit => self.effects.push(Effect::Quit),
            Confirm::TakeOver => self.take_over(),
            Confirm::Abort => {
                let Some(now) = self.now else { return };
                let ev = self.drill.drill.as_mut().and_then(|d| d.abort("aborted by the operator", now));
                match ev {
                    Some(ev) => {
                        self.journal_event(ev);
                        self.after_drill_change();
                        self.note(Tone::Warn, "drill aborted; the journal keeps what was done");
                    }
                    None => self.note(Tone::Warn, "no drill in progress to abort"),
                }
            }
        }
    }

    fn resort(&mut self) {
        self.scroll.first[Pane::Lag.index()] = 0;
        self.prepare();
        let order = if self.lag.query.reversed { "reversed" } else { "worst first" };
        self.note(Tone::Info, format!("lag sorted by {} ({order})", self.lag.query.sort.label()));
    }

    /// Scrolls the help list in help mode, else the focused pane.
    fn scroll(&mut self, f: impl Fn(usize, usize) -> usize) {
        match &mut self.mode {
            // Help stops at its end when drawn.
            Mode::Help { scroll } => *scroll = f(*scroll, HELP_PAGE),
            _ => self.scroll.scroll(self.focus, f),
        }
    }

    fn toggle_pause(&mut self) {
        if self.frozen.take().is_some() {
            self.prepare();
            self.note(Tone::Info, "live display resumed");
            return;
        }
        let (Some(a), Some(s), Some(now)) = (self.live.clone(), self.snapshot.clone(), self.now) else {
            self.note(Tone::Warn, "nothing observed yet to pause on");
            return;
        };
        self.frozen = Some(Frozen::new(a, s, now));
        self.note(Tone::Info, "display paused: panes keep the figures of now; gates, alarms and the drill stay live");
    }

    fn toggle_wall(&mut self) {
        self.view = match self.view {
            View::Console => View::Wall,
            View::Wall => View::Console,
        };
    }

    /// Sends an action that is not a drill step (a demo fault).
    fn send(&mut self, action: Action) {
        if self.now.is_none() {
            return;
        }
        self.note(Tone::Info, format!("sent: {}", action.label()));
        self.effects.push(Effect::Dispatch(Procedure::bare(action)));
    }

    /// The current step's action, if its gate allows it now, shown for
    /// confirmation.
    fn run_step(&mut self) {
        let (Some(a), Some(drill)) = (self.live.as_ref(), self.drill.drill.as_ref()) else {
            let why = if self.live.is_none() {
                "nothing observed yet"
            } else {
                "no drill running: start one with :switchover or :failback"
            };
            self.note(Tone::Warn, why);
            return;
        };
        match drill.action_gate(a) {
            Ok(action) => self.propose(action, drill.current()),
            Err(why) => self.note(Tone::Warn, format!("n: {why}")),
        }
    }

    /// Shows `action` exactly as it would be sent, with what kdrill then
    /// expects to observe, and asks for its side's name to be typed;
    /// nothing is sent yet. `step`: the drill step it carries out, if any.
    fn propose(&mut self, action: Action, step: Option<usize>) {
        let Some(snapshot) = self.snapshot.as_deref() else {
            self.note(Tone::Warn, "nothing observed yet");
            return;
        };
        let Some(planner) = self.planner.as_ref() else {
            let text = format!(
                "this console carries out no action; {}: do it by your usual means, kdrill observes it",
                action.label()
            );
            self.note(Tone::Warn, text);
            return;
        };
        let drill = self.drill.drill.as_ref().filter(|d| !d.is_over());
        let recorded = drill.map(|d| d.recorded()).unwrap_or_default();
        let mirror_ends = match (&action, drill) {
            (Action::StartMm2(flow), Some(d)) => d.mirror_ends(flow.reversed()),
            _ => None,
        };
        let facts = Facts { snapshot, recorded: &recorded, mirror_ends };
        let procedure = match planner.plan(&action, &facts) {
            Ok(p) => p,
            Err(why) => {
                self.note(Tone::Warn, why);
                return;
            }
        };
        let plan_step = step.and_then(|i| drill.and_then(|d| d.plan().steps.get(i)));
        let side = procedure.side;
        self.pending = Some(Pending {
            step,
            title: plan_step.map_or_else(|| action.label(), |s| s.title.clone()),
            procedure,
            side,
            expect: plan_step.map(|s| s.done_when.iter().map(|c| c.label()).collect()).unwrap_or_default(),
        });
        self.mode = Mode::Confirm(Question::typed(Confirm::Action, side.label()));
    }

    /// Sends the pending action, confirmed by typing: journaled first, with
    /// its exact requests, and only if its gate still holds now.
    fn send_pending(&mut self, typed: String) {
        let Some(p) = self.pending.take() else { return };
        let Some(step) = p.step else {
            // Not a drill step: nothing to gate on but the typed side.
            self.note(Tone::Info, format!("sent: {} — waiting for the outcome", p.procedure.action.label()));
            self.effects.push(Effect::Dispatch(p.procedure));
            return;
        };
        let (Some(a), Some(drill)) = (self.live.as_ref(), self.drill.drill.as_mut()) else { return };
        if drill.current() != Some(step) {
            self.note(Tone::Warn, "n: the drill moved on while you confirmed; nothing was sent");
            return;
        }
        let (action, ev) = match drill.request_confirmed(a, p.procedure.preview(), Some(typed)) {
            Ok(x) => x,
            Err(why) => {
                self.note(Tone::Warn, format!("n: {why}; nothing was sent"));
                return;
            }
        };
        self.journal_event(ev);
        self.note(Tone::Info, format!("sent: {} — waiting for the outcome, then for its effect", action.label()));
        self.effects.push(Effect::Dispatch(p.procedure));
        self.after_drill_change();
    }

    /// Asks for the override word, if the current step is a failing pre-flight.
    fn ask_override(&mut self) {
        let (Some(a), Some(drill)) = (self.live.as_ref(), self.drill.drill.as_ref()) else {
            self.note(Tone::Warn, "override: no drill running, or nothing observed yet");
            return;
        };
        match drill.preflight_failures(a) {
            Ok(_) => {
                self.mode = Mode::Confirm(Question::typed(Confirm::OverridePreflight, crate::drill::OVERRIDE_WORD))
            }
            Err(why) => self.note(Tone::Warn, format!("override: {why}")),
        }
    }

    /// Asks for the copy-back figure to be typed, if there is one to accept.
    fn ask_accept(&mut self) {
        let (Some(a), Some(drill)) = (self.live.as_ref(), self.drill.drill.as_ref()) else {
            self.note(Tone::Warn, "accept: no drill running, or nothing observed yet");
            return;
        };
        match drill.copy_back_to_accept(a) {
            Ok((_, records)) => {
                self.mode = Mode::Confirm(Question::typed(Confirm::AcceptCopyBack, records.to_string()))
            }
            Err(why) => self.note(Tone::Warn, format!("accept: {why}")),
        }
    }

    /// Journals a typed override or acceptance, judged on the facts of now.
    fn pass_gate(&mut self, about: Confirm, typed: &str) {
        let (Some(a), Some(drill)) = (self.live.as_ref(), self.drill.drill.as_mut()) else { return };
        let result = match about {
            Confirm::OverridePreflight => drill.override_preflight(a, typed),
            _ => drill.accept_copy_back(a, typed),
        };
        match result {
            Ok(ev) => {
                self.journal_event(ev);
                self.after_drill_change();
                let text = match about {
                    Confirm::OverridePreflight => "pre-flight overridden: the journal keeps what failed",
                    _ => "copy-back figure accepted: journaled with the figure",
                };
                self.note(Tone::Warn, text);
            }
            Err(why) => self.note(Tone::Warn, format!("{why}; nothing recorded")),
        }
    }

    fn confirm_item(&mut self) {
        let Some(now) = self.now else { return };
        let result = match self.drill.drill.as_mut() {
            Some(d) => d.confirm_next(now),
            None => Err("no drill running".into()),
        };
        match result {
            Ok(ev) => {
                self.journal_event(ev);
                self.after_drill_change();
            }
            Err(why) => self.note(Tone::Warn, format!("c: {why}")),
        }
    }

    fn start(&mut self, kind: PlanKind) {
        if self.read_only {
            self.note(Tone::Warn, crate::ui::keymap::READ_ONLY_DRILL);
            return;
        }
        if self.now.is_none() {
            self.note(Tone::Warn, "nothing observed yet: wait for the first snapshot");
            return;
        }
        if self.drill.followed.is_none()
            && let Some(d) = self.drill.drill.as_ref().filter(|d| !d.is_over())
        {
            let text = format!("a drill is in progress ({}): finish or abort it (A) first", d.kind().title());
            self.note(Tone::Warn, text);
            return;
        }
        if self.claim_to_start(kind) {
            return;
        }
        self.start_now(kind);
    }

    /// Starts a drill: this console may drive.
    pub(super) fn start_now(&mut self, kind: PlanKind) {
        let Some(now) = self.now else { return };
        let s = self.settings();
        let drill = Drill::start_with_config(kind, s.hold_window, &s.infra_checklist, &self.config_fingerprint, now)
            .verify_within(s.action_timeout)
            .preflight_lag_within(s.preflight_lag_records);
        let started = drill.events().to_vec();
        self.drill.drill = Some(drill);
        for ev in started {
            self.journal_event(ev);
        }
        self.focus = Pane::Drill;
        self.after_drill_change();
        self.note(Tone::Info, format!("{} started: follow the steps in the drill pane", kind.title()));
    }
}
