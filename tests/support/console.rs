//! kdrill's console driven by keys against the real world: the real
//! collector observes, the real executor carries out what is confirmed, and
//! the test plays the runtime (feeding snapshots, ticks and outcomes to the
//! app, carrying out its effects) and the operator (pressing keys).

use std::time::{Duration, Instant};

use chrono::Utc;
use kdrill::act::plan::Planner;
use kdrill::collect::Observation;
use kdrill::config::Config;
use kdrill::dispatch::{Dispatcher, dispatch};
use kdrill::drill::{DrillEvent, StepState};
use kdrill::ui::judge::Judge;
use kdrill::ui::theme::Theme;
use kdrill::ui::{App, Effect, Msg, UiOptions};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub struct Console {
    _rt: tokio::runtime::Runtime,
    pub app: App,
    /// Judges in-line, as the runtime's judge thread would.
    judge: Judge,
    observation: Observation,
    dispatcher: Option<Dispatcher>,
    /// The shared drill (a console started with `start_shared`): the view
    /// followed, and the writing end of a console that may drive.
    shared: Option<tokio::sync::watch::Receiver<std::sync::Arc<kdrill::share::SharedDrill>>>,
    pub share: Option<kdrill::share::ShareDriver>,
    /// The journal file of a shared console: records are shared once on disk.
    file: Option<kdrill::drill::journal::Journal>,
    /// Every journaled event, in order, as the runtime would append them.
    pub journal: Vec<DrillEvent>,
    /// Every procedure the console dispatched (a read-only one: none).
    pub dispatched: usize,
}

/// The real collector of `cfg` on a runtime of its own: acting (with its
/// canaries, as a console that may act runs it) or observing only.
pub fn collector(cfg: &Config, acting: bool) -> (tokio::runtime::Runtime, kdrill::collect::WorldLink) {
    log_if_asked();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"));
    let link = {
        let _guard = rt.enter();
        if acting {
            kdrill::collect::kafka::spawn_acting(cfg.clone())
        } else {
            kdrill::collect::kafka::spawn(cfg.clone())
        }
    };
    (rt, link)
}

/// With `KDRILL_TEST_LOG` set (a tracing filter: `kdrill=debug`), the
/// collector's log goes to stderr, timestamped: for reading what a fault
/// did to it.
fn log_if_asked() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if let Ok(filter) = std::env::var("KDRILL_TEST_LOG") {
        ONCE.call_once(|| {
            if let Ok(f) = tracing_subscriber::EnvFilter::try_new(&filter) {
                let _ = tracing_subscriber::fmt().with_env_filter(f).with_writer(std::io::stderr).try_init();
            }
        });
    }
}

impl Console {
    /// A console on `cfg`; a read-only one holds no dispatcher and no planner.
    pub fn start(cfg: Config, read_only: bool) -> Console {
        let (rt, link) = collector(&cfg, !read_only);
        let (observation, dispatcher) = link.split();
        let dispatcher = (!read_only).then_some(dispatcher);
        let theme = Theme::load("dark", None, true).unwrap_or_else(|e| panic!("{e}"));
        let planner = (!read_only).then(|| Planner::new(&cfg));
        let opts = UiOptions { read_only, wall: false, theme, demo: false, recovered: Vec::new(), planner };
        let app = App::new(cfg.settings.clone(), opts);
        Console {
            _rt: rt,
            app,
            judge: Judge::new(cfg.settings.clone()),
            observation,
            dispatcher,
            shared: None,
            share: None,
            file: None,
            journal: Vec::new(),
            dispatched: 0,
        }
    }

    /// A console that shares its drill through the drill topic of `cfg`,
    /// journaling to `journal`, as `kdrill` runs it (`user` names it).
    pub fn start_shared(cfg: Config, read_only: bool, journal: &std::path::Path, user: &str) -> Console {
        let mut c = Console::start(cfg.clone(), read_only);
        let who = kdrill::drill::journal::Who { user: user.into(), host: "lab".into() };
        let me = (!read_only).then(|| kdrill::share::me(&who, Utc::now()));
        let link = {
            let _guard = c._rt.enter();
            kdrill::share::spawn(&cfg, Some(journal), me.clone())
        };
        if !read_only {
            let (file, _) = kdrill::drill::journal::Journal::open(journal, who).unwrap_or_else(|e| panic!("{e}"));
            c.file = Some(file);
        }
        let timeout = chrono::TimeDelta::from_std(link.lease_timeout).unwrap_or_else(|e| panic!("{e}"));
        c.shared = Some(link.view);
        c.share = link.driver;
        let effects = c.app.update(Msg::Sharing { me, lease_timeout: timeout });
        c.carry_out(effects);
        c
    }

    /// One turn of the runtime: a tick, the latest snapshot judged, outcomes.
    pub fn step(&mut self) {
        std::thread::sleep(Duration::from_millis(250));
        let snap = self.observation.snapshots.borrow().clone();
        let now = Utc::now();
        let effects = self.app.update(Msg::Tick(now));
        self.carry_out(effects);
        // A new poll, or the last one again: hold timers advance either way.
        let judged = self.judge.message(&mut self.app, snap, now);
        let effects = self.app.update(judged);
        self.carry_out(effects);
        while let Ok(outcome) = self.observation.outcomes.try_recv() {
            let effects = self.app.update(Msg::Outcome(outcome));
            self.carry_out(effects);
        }
        let shared =
            self.shared.as_mut().filter(|v| v.has_changed().unwrap_or(false)).map(|v| v.borrow_and_update().clone());
        if let Some(view) = shared {
            let effects = self.app.update(Msg::Shared(view));
            self.carry_out(effects);
        }
        while let Some(outcome) = self.share.as_mut().and_then(|s| s.outcomes.try_recv().ok()) {
            let effects = self.app.update(Msg::Lease(outcome));
            self.carry_out(effects);
        }
    }

    /// What the drill topic says now, as this console follows it.
    pub fn shared(&self) -> Option<std::sync::Arc<kdrill::share::SharedDrill>> {
        self.shared.as_ref().map(|v| v.borrow().clone())
    }

    fn carry_out(&mut self, mut effects: Vec<Effect>) {
        while !effects.is_empty() {
            for e in std::mem::take(&mut effects) {
                match e {
                    Effect::Journal(ev) => {
                        if let Some(file) = self.file.as_mut() {
                            let record = file.append_record(&ev).unwrap_or_else(|e| panic!("{e}"));
                            if let Some(s) = &self.share {
                                s.publish(&record);
                            }
                        }
                        self.journal.push(ev);
                    }
                    Effect::Adopt(records) => {
                        if let Some(file) = self.file.as_mut() {
                            for r in file.adopt(&records).unwrap_or_else(|e| panic!("{e}")) {
                                if let Some(s) = &self.share {
                                    s.publish(&r);
                                }
                            }
                        }
                        self.journal = records.into_iter().map(|r| r.event).collect();
                    }
                    Effect::Claim(how) => match &self.share {
                        Some(s) => s.claim(how),
                        None => panic!("a console without a share link claimed the lease"),
                    },
                    Effect::Release => {
                        if let Some(s) = &self.share {
                            s.release();
                        }
                    }
                    Effect::Dispatch(procedure) => {
                        let action = procedure.action.clone();
                        self.dispatched += 1;
                        if let Err(refusal) = dispatch(self.dispatcher.as_ref(), procedure) {
                            effects.extend(self.app.update(Msg::Refused(action, refusal)));
                        }
                    }
                    Effect::Quit => {}
                }
            }
        }
    }

    pub fn key(&mut self, code: KeyCode) {
        let mods = match code {
            KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
            _ => KeyModifiers::NONE,
        };
        let effects = self.app.update(Msg::Key(KeyEvent::new(code, mods)));
        self.carry_out(effects);
    }

    pub fn typed(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// `:` + command + Enter.
    pub fn command(&mut self, cmd: &str) {
        self.key(KeyCode::Char(':'));
        self.typed(cmd);
        self.key(KeyCode::Enter);
    }

    /// Steps until `done` holds, or fails naming `what` and the drill's state.
    pub fn wait(&mut self, what: &str, secs: u64, done: impl Fn(&Console) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done(self) {
            assert!(Instant::now() < deadline, "{what}: not within {secs} s\n{}", self.state());
            self.step();
        }
    }

    /// Waits up to `secs` for the drill's pre-flight (step 1) to pass by
    /// observation; if it still fails then, overrides it as an operator
    /// would (`:override`, the word typed, Enter). Returns whether it did.
    pub fn pass_preflight(&mut self, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let current = |c: &Console| c.app.drill().and_then(|d| d.current());
        while current(self) == Some(0) && Instant::now() < deadline {
            self.step();
        }
        if current(self) != Some(0) {
            return false;
        }
        // Refused while the pre-flight holds: then it completes by itself.
        self.command("override");
        if self.app.mode().keys() == kdrill::ui::KeyMode::ConfirmTyped {
            self.typed(kdrill::drill::OVERRIDE_WORD);
            self.key(KeyCode::Enter);
        }
        let overridden = |c: &Console| c.journal.iter().any(|e| matches!(e, DrillEvent::PreflightOverridden { .. }));
        self.wait("the pre-flight passed or overridden", 30, |c| current(c) != Some(0));
        overridden(self)
    }

    /// Plays the operator until the drill is over: confirms checklist
    /// items, and sends each step's action once its gate opens (`n`, the
    /// side's name, Enter). A failed action fails the test, in its words.
    pub fn drive(&mut self, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            self.step();
            let Some(d) = self.app.drill() else { panic!("no drill") };
            if d.is_over() {
                return;
            }
            let v = d.view();
            let Some((i, step)) = v.current_step() else { return };
            if let Some((false, detail)) = &step.outcome {
                panic!("step {} ({}): the action failed: {detail}\n{}", i + 1, step.title, self.state());
            }
            let side = step.action.as_ref().map(|a| a.side().label());
            let ctx = self.app.key_context();
            if ctx.confirm.is_enabled() {
                self.key(KeyCode::Char('c'));
            } else if let (true, None, Some(side)) = (ctx.run_step.is_enabled(), step.requested_at, side) {
                self.key(KeyCode::Char('n'));
                self.typed(side);
                self.key(KeyCode::Enter);
            }
            assert!(Instant::now() < deadline, "the drill did not finish within {secs} s\n{}", self.state());
        }
    }

    /// The last drill's actions and completions, for the test's output.
    pub fn timeline(&self) -> Vec<String> {
        let from = self.journal.iter().rposition(|e| matches!(e, DrillEvent::Started { .. })).unwrap_or(0);
        self.journal[from..]
            .iter()
            .filter_map(|e| match e {
                DrillEvent::ActionRequested { step, action, at, .. } => {
                    Some(format!("{} step {} requested: {}", at.format("%H:%M:%S%.3f"), step + 1, action.label()))
                }
                DrillEvent::ActionOutcome { step, ok, detail, at, .. } => Some(format!(
                    "{} step {} {}: {detail}",
                    at.format("%H:%M:%S%.3f"),
                    step + 1,
                    if *ok { "answered" } else { "FAILED" }
                )),
                DrillEvent::StepCompleted { step, at, .. } => {
                    Some(format!("{} step {} done (observed)", at.format("%H:%M:%S%.3f"), step + 1))
                }
                _ => None,
            })
            .collect()
    }

    /// The drill's steps and the last messages, for failure output.
    pub fn state(&self) -> String {
        let mut out = String::new();
        if let Some(v) = self.app.drill().map(|d| d.view()) {
            for (i, s) in v.steps.iter().enumerate() {
                let state = match &s.state {
                    StepState::Done { .. } => "done".to_owned(),
                    StepState::Current { .. } => format!("CURRENT: {}", v.blocked.clone().unwrap_or_default()),
                    StepState::Locked => "locked".to_owned(),
                };
                out.push_str(&format!("  step {} {}: {state} outcome {:?}\n", i + 1, s.title, s.outcome));
            }
        }
        if let Some(s) = self.shared() {
            let feeds: Vec<String> = s.feeds.iter().map(|f| f.describe()).collect();
            let holders: Vec<Option<String>> = s.holders.iter().map(|h| h.as_ref().map(|d| d.label())).collect();
            out.push_str(&format!(
                "  drill topic: {} · lease {:?} · per side {holders:?}\n",
                feeds.join(" | "),
                s.lease.as_ref().map(|h| h.driver.label())
            ));
        }
        out.push_str(&format!(
            "  message: {:?}\n  journal: {:?}\n",
            self.app.message().map(|m| m.text.clone()),
            self.journal.iter().map(|e| format!("{e:?}").chars().take(40).collect::<String>()).collect::<Vec<_>>()
        ));
        // The newest lines, oldest first: what led up to the failure.
        let newest: Vec<_> = self.app.log().iter().rev().take(16).collect();
        for e in newest.into_iter().rev() {
            out.push_str(&format!("  log: {} {}\n", e.at.format("%H:%M:%S"), e.text));
        }
        out
    }
}
