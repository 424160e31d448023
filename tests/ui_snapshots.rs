//! Whole-app snapshot tests: the console on ratatui's `TestBackend`, driven
//! by keys and by the demo world on its virtual clock (one snapshot per
//! virtual second, a fixed start), so every frame is deterministic. Actions
//! leave through a real `collect::link`; the test plays the source's part
//! and applies them to the world.

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use insta::assert_snapshot;
use kdrill::action::Outcome;
use kdrill::action::{Action, Fault};
use kdrill::collect::{self, SourceEnd};
use kdrill::demo::{DemoWorld, demo_settings};
use kdrill::dispatch::{Dispatcher, dispatch};
use kdrill::drill::{DrillEvent, PlanKind, StepState};
use kdrill::model::{Flow, Side, Ts};
use kdrill::ui::judge::Judge;
use kdrill::ui::{App, Effect, Msg, Theme, UiOptions, keymap};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};

fn start() -> Ts {
    Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).single().unwrap_or_default()
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// The console wired to a demo world through a real link.
struct Console {
    world: DemoWorld,
    app: App,
    /// Judges each snapshot in-line, as the runtime's judge thread would.
    judge: Judge,
    /// `None` for a read-only console, as `main` wires it.
    dispatcher: Option<Dispatcher>,
    source: SourceEnd,
    /// Every effect the app asked for, in order.
    journal: Vec<DrillEvent>,
    quit: bool,
}

#[derive(Default)]
struct Opts {
    read_only: bool,
    wall: bool,
    no_color: bool,
    recovered: Vec<DrillEvent>,
    /// The canary a console that may act runs (`[mm2.canary]`).
    canary: bool,
}

impl Console {
    fn new(o: Opts) -> Console {
        let world = DemoWorld::new(7, start());
        let world = if o.canary { world.with_canary(7) } else { world };
        let (link, source) = collect::link(world.observe());
        let theme = ok(Theme::load("dark", None, o.no_color));
        let planner = if o.read_only { None } else { kdrill::demo::planner() };
        let opts =
            UiOptions { read_only: o.read_only, wall: o.wall, theme, demo: true, recovered: o.recovered, planner };
        let app = App::new(demo_settings(), opts);
        // The observation side is not needed: the test feeds the app itself.
        let (_observation, dispatcher) = link.split();
        let dispatcher = (!o.read_only).then_some(dispatcher);
        let judge = Judge::new(demo_settings());
        let mut c = Console { world, app, judge, dispatcher, source, journal: Vec::new(), quit: false };
        c.observe();
        c
    }

    /// Steady state: long enough for rates and time lag to be measurable.
    fn warmed(o: Opts) -> Console {
        let mut c = Console::new(o);
        c.seconds(30);
        c
    }

    /// Moves virtual time on, one poll per second, applying actions sent.
    fn seconds(&mut self, n: u32) {
        for _ in 0..n {
            self.world.advance(TimeDelta::seconds(1));
            self.observe();
        }
    }

    /// The world as it is now, judged and given to the app.
    fn observe(&mut self) {
        let msg = self.judge.message(&mut self.app, Arc::new(self.world.observe()), self.world.now());
        self.send(msg);
    }

    /// Feeds the app a message, then plays the runtime and the source:
    /// carries out the app's effects, applies the actions sent and reports
    /// their outcomes, until nothing is left to do.
    fn send(&mut self, msg: Msg) {
        let mut effects = self.app.update(msg);
        while !effects.is_empty() {
            for e in std::mem::take(&mut effects) {
                match e {
                    Effect::Journal(ev) => self.journal.push(ev),
                    Effect::Dispatch(procedure) => {
                        let action = procedure.action.clone();
                        if let Err(refusal) = dispatch(self.dispatcher.as_ref(), procedure) {
                            effects.extend(self.app.update(Msg::Refused(action, refusal)));
                        }
                    }
                    Effect::Quit => self.quit = true,
                    // These consoles share nothing: no lease is ever claimed.
                    Effect::Claim(_) | Effect::Release | Effect::Adopt(_) => {
                        panic!("an unshared console asked for the drill lease")
                    }
                }
            }
            while let Ok(procedure) = self.source.actions.try_recv() {
                let action = procedure.action;
                let result = self.world.apply(&action);
                effects.extend(self.app.update(Msg::Outcome(Outcome::new(action, result, self.world.now()))));
            }
        }
    }

    fn key(&mut self, code: KeyCode) {
        let mods = match code {
            KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
            _ => KeyModifiers::NONE,
        };
        self.send(Msg::Key(KeyEvent::new(code, mods)));
    }

    fn ctrl(&mut self, c: char) {
        self.send(Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)));
    }

    fn typed(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// `n` on the current step, then its side's name typed and Enter:
    /// what an operator does to send a step's action.
    fn run_step(&mut self) {
        self.key(KeyCode::Char('n'));
        let side = self.app.drill().and_then(|d| d.current().and_then(|i| d.plan().steps[i].action.clone()));
        if let Some(action) = side {
            self.typed(action.side().label());
            self.key(KeyCode::Enter);
        }
    }

    /// Waits, a second at a time, for the drill's pre-flight (step 1) to
    /// pass through its gate on the observed world.
    fn pass_preflight(&mut self) {
        for _ in 0..60 {
            if self.app.drill().is_some_and(|d| d.current() != Some(0)) {
                break;
            }
            self.seconds(1);
        }
        let current = self.app.drill().and_then(|d| d.current());
        assert_eq!(current, Some(1), "the pre-flight passes on the healthy demo:\n{}", self.frame(120, 36));
    }

    /// `:` + command + Enter.
    fn command(&mut self, cmd: &str) {
        self.key(KeyCode::Char(':'));
        self.typed(cmd);
        self.key(KeyCode::Enter);
    }

    fn frame(&self, w: u16, h: u16) -> String {
        text(&self.buffer(w, h))
    }

    fn buffer(&self, w: u16, h: u16) -> Buffer {
        let mut t = ok(Terminal::new(TestBackend::new(w, h)));
        ok(t.draw(|f| {
            let _ = self.app.draw(f);
        }));
        t.backend().buffer().clone()
    }
}

/// The buffer as plain text, one line per row, trailing blanks trimmed.
fn text(b: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        let mut line = String::new();
        let mut skip = 0usize;
        for x in 0..b.area.width {
            let cell = &b[(x, y)];
            if skip == 0 {
                line.push_str(cell.symbol());
            }
            skip = skip.max(unicode_width(cell.symbol())).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn unicode_width(s: &str) -> usize {
    ratatui::text::Span::raw(s).width()
}

#[test]
fn steady_state() {
    let c = Console::warmed(Opts::default());
    let a = c.app.assessment().map(|a| (a.side(Side::Dc).role, a.side(Side::Dr).role, a.violations.len()));
    assert_eq!(a.map(|(dc, dr, v)| (dc.label(), dr.label(), v)), Some(("ACTIVE", "PASSIVE", 0)));
    let frame = c.frame(120, 36);
    assert!(frame.contains("DC active · MM2 DC→DR healthy"), "{frame}");
    assert_snapshot!("steady_state_120x36", frame);
    assert_snapshot!("steady_state_80x24", c.frame(80, 24));
}

#[test]
fn the_canary_shows_its_latency_and_a_flow_that_stops_moving_loses_it() {
    let mut c = Console::warmed(Opts { canary: true, ..Opts::default() });
    let frame = c.frame(120, 36);
    assert!(frame.contains("canary p50 400 ms · p99 600 ms · 0 lost · 4 s ago"), "{frame}");
    assert_snapshot!("canary_steady_120x36", frame);
    let canary = |c: &Console| c.app.assessment().and_then(|a| a.canaries.first().cloned());
    assert!(canary(&c).is_some_and(|k| k.through_recently && k.p50_seconds.is_some_and(|s| s > 0.1 && s < 1.0)));

    // MM2 keeps its tasks RUNNING and replicates nothing: records wait, then are lost.
    c.command("fault stall-mm2");
    c.seconds(70);
    let lost = canary(&c).map_or(0, |k| k.lost);
    assert!(lost >= 1, "{:?}", canary(&c));
    let problems: Vec<String> = c
        .app
        .assessment()
        .map(|a| a.mm2.iter().flat_map(|m| &m.problems).map(|p| p.kind.as_str().to_owned()).collect())
        .unwrap_or_default();
    assert!(problems.iter().any(|p| p == "canary-lost"), "{problems:?}");
    assert!(c.frame(120, 36).contains(&format!("{lost} lost")), "{}", c.frame(120, 36));

    // Moving again: the held records arrive, late, and none stays lost.
    c.command("fault stall-mm2");
    c.seconds(3);
    let after = canary(&c);
    assert!(after.as_ref().is_some_and(|k| k.lost == 0 && k.p99_seconds.is_some_and(|s| s > 60.0)), "{after:?}");
}

#[test]
fn blocked_gate_shows_why() {
    let mut c = Console::warmed(Opts::default());
    c.command("switchover");
    c.pass_preflight();
    c.seconds(2);
    assert!(matches!(c.journal.first(), Some(DrillEvent::Started { plan: PlanKind::Switchover, .. })));
    let frame = c.frame(120, 36);
    assert!(frame.contains("✗ no app clients on DC"), "{frame}");
    assert!(frame.contains("blocked: no app clients on DC: observed"), "{frame}");
    assert_snapshot!("blocked_gate_120x36", frame);

    // Stop the apps: nothing is sent before the typed confirmation.
    c.key(KeyCode::Char('n'));
    let popup = c.frame(120, 36);
    assert!(
        popup.contains("PATCH /apis/apps/v1/namespaces/apps/deployments/orders-service (context dc, DC)"),
        "{popup}"
    );
    assert!(popup.contains("Type DC to confirm"), "{popup}");
    assert_snapshot!("action_popup_120x36", popup);
    c.key(KeyCode::Enter);
    assert!(c.source.actions.try_recv().is_err(), "Enter alone confirms nothing");
    c.typed("dc");
    c.key(KeyCode::Enter);
    assert!(c.source.actions.try_recv().is_err(), "the side's name exactly, or nothing");
    for _ in 0..2 {
        c.key(KeyCode::Backspace);
    }
    c.typed("DC");
    c.key(KeyCode::Enter);
    // The step completes only after the hold window.
    c.seconds(3);
    let step1 = c.app.drill().map(|d| d.view().steps[1].state.clone());
    assert!(matches!(step1, Some(StepState::Current { .. })), "not done before the hold: {step1:?}");
    c.seconds(20);
    let step1 = c.app.drill().map(|d| d.view().steps[1].state.clone());
    assert!(matches!(step1, Some(StepState::Done { .. })), "{step1:?}");
    assert_snapshot!("drill_step_done_120x36", c.frame(120, 36));
}

#[test]
fn split_brain_alarm() {
    let mut c = Console::warmed(Opts::default());
    c.key(KeyCode::Char('2'));
    c.seconds(15);
    let broken: Vec<String> = c
        .app
        .assessment()
        .map(|a| a.violations.iter().map(|v| v.rule.short().to_owned()).collect())
        .unwrap_or_default();
    assert!(broken.iter().any(|r| r == "apps on both sides"), "{broken:?}");
    let frame = c.frame(120, 36);
    assert!(frame.contains("Applications must never run on DC and DR together —"), "{frame}");
    assert_snapshot!("split_brain_120x36", frame);
    assert_snapshot!("split_brain_wall_120x36", {
        c.key(KeyCode::Char('w'));
        c.frame(120, 36)
    });
}

#[test]
fn read_only_refuses_visibly_and_sends_nothing() {
    let mut c = Console::warmed(Opts { read_only: true, ..Opts::default() });
    // A read-only console never drives a drill: it starts, confirms and
    // aborts nothing, and journals nothing.
    c.command("switchover");
    c.seconds(1);
    assert!(c.app.drill().is_none(), "a read-only console started a drill");
    assert!(c.frame(120, 36).contains("read-only: this console follows a drill"));
    for key in ['n', 'c', 'A'] {
        c.key(KeyCode::Char(key));
    }
    c.command("abort");
    assert!(c.app.drill().is_none());
    assert!(c.journal.is_empty(), "a read-only console journals nothing: {:?}", c.journal);
    // Actions on the world are refused visibly, and nothing is sent.
    c.key(KeyCode::Char('1'));
    c.seconds(1);
    assert!(c.source.actions.try_recv().is_err(), "a read-only console must send no action");
    let frame = c.frame(120, 36);
    assert!(frame.contains("REFUSED: read-only"), "{frame}");
    assert!(frame.contains("READ-ONLY"), "{frame}");
    assert_snapshot!("read_only_refusal_120x36", frame);
}

#[test]
fn help_screen() {
    let mut c = Console::warmed(Opts::default());
    c.key(KeyCode::Char('?'));
    let frame = c.frame(120, 36);
    for key in ["switchover", "run the current drill step's action", "toggle fault \"stray consumer"] {
        assert!(frame.contains(key), "{key} missing:\n{frame}");
    }
    assert_snapshot!("help_120x36", frame);
    c.key(KeyCode::Esc);
    assert!(!c.frame(120, 36).contains("Keys · console view"));
}

#[test]
fn wall_layout() {
    let c = Console::warmed(Opts { wall: true, ..Opts::default() });
    assert_snapshot!("wall_120x36", c.frame(120, 36));
    assert_snapshot!("wall_80x24", c.frame(80, 24));
}

#[test]
fn quit_asks_during_a_drill() {
    let mut c = Console::warmed(Opts::default());
    c.key(KeyCode::Char('q'));
    assert!(c.quit, "no drill: q quits at once");
    let mut c = Console::warmed(Opts::default());
    c.command("switchover");
    c.ctrl('c');
    assert!(!c.quit, "a drill is in progress: ask first");
    let frame = c.frame(120, 36);
    assert!(frame.contains("Quit during a drill?"), "{frame}");
    c.key(KeyCode::Esc);
    assert!(!c.quit);
    c.key(KeyCode::Char('q'));
    c.key(KeyCode::Char('y'));
    assert!(c.quit);
}

#[test]
fn filter_and_sort_keys() {
    let mut c = Console::warmed(Opts::default());
    c.key(KeyCode::Char('/'));
    c.typed("pay(");
    let frame = c.frame(120, 36);
    assert!(frame.contains("bad regex"), "{frame}");
    c.key(KeyCode::Backspace);
    c.key(KeyCode::Enter);
    let frame = c.frame(120, 36);
    assert!(frame.contains("/pay/"), "{frame}");
    assert!(!frame.contains("orders-service"), "groups are filtered too:\n{frame}");
    assert!(frame.contains("/pay/ 1 of 3 groups"), "a filtered group list says so:\n{frame}");
    c.key(KeyCode::Char('o'));
    c.key(KeyCode::Char('o'));
    assert!(c.frame(120, 36).contains("sort topic/partition ↓"), "{}", c.frame(120, 36));
    c.key(KeyCode::Esc);
    assert!(c.frame(120, 36).contains("orders-service"), "Esc clears the filter");
}

#[test]
fn resumes_an_unfinished_drill_from_the_journal() {
    let mut first = Console::warmed(Opts::default());
    first.command("switchover");
    first.run_step();
    first.seconds(25);
    let recovered = first.journal.clone();
    assert!(recovered.iter().any(|e| matches!(e, DrillEvent::StepCompleted { step: 0, .. })));
    let c = Console::warmed(Opts { recovered, ..Opts::default() });
    assert_eq!(c.app.drill().and_then(|d| d.current()), Some(1), "resumed at step 2");
    assert!(c.app.log().iter().any(|e| e.text.contains("resumed from the journal")));
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut c = Console::warmed(Opts::default());
    c.command("switchover");
    c.key(KeyCode::Char('2'));
    c.seconds(12);
    let sizes =
        [(0, 0), (1, 1), (10, 5), (20, 3), (39, 11), (40, 12), (44, 14), (60, 20), (80, 24), (99, 30), (100, 16)];
    for _view in 0..2 {
        for popup in [None, Some('?'), Some('A')] {
            if let Some(k) = popup {
                c.key(KeyCode::Char(k));
            }
            for (w, h) in sizes {
                let _ = c.frame(w, h);
            }
            c.key(KeyCode::Esc);
        }
        c.key(KeyCode::Char('w'));
    }
    assert_snapshot!("tiny_10x5", c.frame(10, 5));
}

#[test]
fn demo_faults_are_only_offered_in_demo_mode() {
    let world = DemoWorld::new(7, start());
    let (link, mut source) = collect::link(world.observe());
    let theme = ok(Theme::load("dark", None, false));
    let opts = UiOptions { read_only: false, wall: false, theme, demo: false, recovered: Vec::new(), planner: None };
    let mut app = App::new(demo_settings(), opts);
    let (_observation, dispatcher) = link.split();
    // Carries out what the app asks for, as the runtime does.
    let carry_out = |effects: Vec<Effect>| {
        for e in effects {
            if let Effect::Dispatch(action) = e {
                let _ = dispatch(Some(&dispatcher), action);
            }
        }
    };
    let key = |app: &mut App, code| app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    let mut judge = Judge::new(demo_settings());
    let judged = judge.message(&mut app, Arc::new(world.observe()), world.now());
    let mut effects = app.update(judged);
    effects.extend(key(&mut app, KeyCode::Char('2')));
    carry_out(effects);
    assert!(source.actions.try_recv().is_err());
    let mut effects = key(&mut app, KeyCode::Char(':'));
    for ch in "fault stray-consumer".chars() {
        effects.extend(key(&mut app, KeyCode::Char(ch)));
    }
    effects.extend(key(&mut app, KeyCode::Enter));
    carry_out(effects);
    assert!(source.actions.try_recv().is_err());
    assert!(app.message().is_some_and(|m| m.text.contains("only in demo mode")));
    let _ = Action::Fault(Fault::StrayConsumer);
}

#[test]
fn every_binding_of_the_view_is_in_help_and_hints_come_from_the_keymap() {
    for wall in [false, true] {
        let mut c = Console::warmed(Opts { wall, ..Opts::default() });
        c.command("switchover");
        let bar = c.frame(160, 50);
        c.key(KeyCode::Char('?'));
        let help = c.frame(160, 50);
        let ctx = c.app.key_context();
        let mut in_scope = 0;
        for b in keymap::bindings().iter().filter(|b| b.in_scope(&ctx)) {
            in_scope += 1;
            let (keys, desc) = match b.group {
                Some((k, d)) => (k.to_owned(), d.to_owned()),
                None => (b.keys_label(), b.describe(&ctx).into_owned()),
            };
            let line = help.lines().find(|l| l.contains(&desc));
            assert!(line.is_some_and(|l| l.contains(&keys)), "{keys} {desc} missing from help:\n{help}");
            if let (Some(hint), false) = (b.hint_label(&ctx), wall) {
                let key = b.keys.first().map(|k| k.label()).unwrap_or_default();
                assert!(bar.contains(&format!("{key} {hint}")), "{key} {hint} missing from the hint bar:\n{bar}");
            }
        }
        assert!(in_scope > if wall { 8 } else { 20 });
        // Keys of other views are not offered.
        assert_eq!(help.contains("run the current drill step"), !wall);
    }
}

#[test]
fn a_blocked_action_key_says_why_and_sends_nothing() {
    let mut c = Console::warmed(Opts::default());
    c.command("switchover");
    // Step 1 (pre-flight) has no action of its own.
    c.key(KeyCode::Char('n'));
    assert!(c.source.actions.try_recv().is_err());
    let msg = c.app.message().map(|m| m.text.clone()).unwrap_or_default();
    assert!(msg.starts_with("n: run the current drill step's action — step 1 has no action"), "{msg}");
    c.pass_preflight();
    c.run_step();
    c.seconds(25);
    // Step 3 (drain) has no action of its own.
    assert_eq!(c.app.drill().and_then(|d| d.current()), Some(2));
    while c.source.actions.try_recv().is_ok() {}
    c.key(KeyCode::Char('n'));
    assert!(c.source.actions.try_recv().is_err());
    let msg = c.app.message().map(|m| m.text.clone()).unwrap_or_default();
    assert!(msg.starts_with("n: run the current drill step's action — step 3 has no action"), "{msg}");
}

#[test]
fn frames_stay_cheap_with_10k_partitions_and_500_groups() {
    let mut world = DemoWorld::scaled(7, start(), 10_000, 500);
    let (link, _source) = collect::link(world.observe());
    let theme = ok(Theme::load("dark", None, false));
    let opts = UiOptions {
        read_only: false,
        wall: false,
        theme,
        demo: true,
        recovered: Vec::new(),
        planner: kdrill::demo::planner(),
    };
    let mut app = App::new(demo_settings(), opts);
    drop(link);
    let mut judge = Judge::new(demo_settings());
    for _ in 0..15 {
        world.advance(TimeDelta::seconds(1));
        let judged = judge.message(&mut app, Arc::new(world.observe()), world.now());
        let _ = app.update(judged);
    }
    let rows = app.assessment().map_or(0, |a| a.lag.iter().map(|l| l.rows.len()).max().unwrap_or(0));
    assert!(rows >= 10_000, "{rows} lag rows");
    let mut t = ok(Terminal::new(TestBackend::new(120, 36)));
    let frames = 20;
    let began = std::time::Instant::now();
    for _ in 0..frames {
        ok(t.draw(|f| {
            let _ = app.draw(f);
        }));
    }
    let per_frame = began.elapsed() / frames;
    println!("120x36 frame with {rows} lag rows: {per_frame:?} (this build's profile)");
    // A loose bound for unoptimised test builds; release is measured by the
    // `render` bench against the 2 ms budget.
    assert!(per_frame < std::time::Duration::from_millis(40), "{per_frame:?}");
}

#[test]
fn failed_task_under_a_ready_custom_resource_is_evident() {
    let mut c = Console::warmed(Opts::default());
    c.key(KeyCode::Char('1'));
    c.seconds(5);
    let frame = c.frame(120, 36);
    assert!(frame.contains("CR says Ready=True, but"), "{frame}");
    assert!(frame.contains("✗ FAILED"), "{frame}");
    assert_snapshot!("failed_task_120x36", frame);
}

#[test]
fn a_producer_writing_into_the_passive_side_is_split_brain_naming_topic_and_rate() {
    use kdrill::assess::Rule;
    let mut c = Console::warmed(Opts::default());
    c.command("fault foreign-producer");
    let alarm = |c: &Console| {
        c.app
            .assessment()
            .and_then(|a| a.violations.iter().find(|v| v.rule == Rule::AppsOnBothSides).map(|v| v.detail.clone()))
    };
    let mut waited = 0;
    while alarm(&c).is_none() && waited < 60 {
        c.seconds(1);
        waited += 1;
    }
    let detail = alarm(&c).unwrap_or_else(|| panic!("no alarm after {waited} s: {}", c.frame(120, 36)));
    assert!(waited <= 25, "flagged after {waited} s, past the rate window");
    assert!(detail.contains("DR (producers on redis-writes at"), "{detail}");
    c.seconds(25 - waited);
    let frame = c.frame(120, 36);
    assert!(frame.contains("RULE BROKEN"), "{frame}");
    assert_snapshot!("foreign_producer_120x36", frame);
}

#[test]
fn a_connector_naming_topics_another_way_degrades_the_flow_and_closes_its_gates() {
    use kdrill::assess::{Health, Mm2ProblemKind};
    let mut c = Console::warmed(Opts::default());
    let steady = c.frame(120, 36);
    assert!(steady.contains("identity names · offsets synced · checkpoint every 60 s"), "{steady}");
    c.command("fault policy-drift");
    c.seconds(3);
    let flow = |c: &Console| c.app.assessment().and_then(|a| a.mm2.iter().find(|m| m.flow == Flow::DC_TO_DR).cloned());
    let m = flow(&c);
    assert_eq!(m.as_ref().map(|m| m.health), Some(Health::Degraded));
    let drift: Vec<String> = m
        .iter()
        .flat_map(|m| &m.problems)
        .filter(|p| p.kind == Mm2ProblemKind::ConfigDrift)
        .map(|p| p.text.clone())
        .collect();
    assert_eq!(drift, ["connectors name topics differently: identity (source, heartbeat), default (checkpoint)"]);
    assert!(m.is_some_and(|m| !m.flowing.is_yes()), "a flow whose names cannot be trusted opens no gate");
    let frame = c.frame(120, 36);
    assert!(frame.contains("names differ"), "{frame}");
    assert!(frame.contains("▲ connectors name topics differently"), "{frame}");
    assert_snapshot!("policy_drift_120x36", frame);
    c.command("fault policy-drift");
    c.seconds(3);
    assert_eq!(flow(&c).map(|m| m.health), Some(Health::Healthy), "mended, healthy again");
}

#[test]
fn a_cut_off_side_ages_into_stale_never_zero() {
    let mut c = Console::warmed(Opts::default());
    c.key(KeyCode::Char('5'));
    c.seconds(40);
    let frame = c.frame(120, 36);
    assert!(frame.contains("STALE"), "{frame}");
    assert!(frame.contains("UNREACHABLE since"), "{frame}");
    assert_snapshot!("dc_cut_off_120x36", frame);
    assert_snapshot!("dc_cut_off_wall_80x24", {
        c.key(KeyCode::Char('w'));
        c.frame(80, 24)
    });
}

#[test]
fn pause_freezes_the_panes_but_not_the_alarms_or_the_drill() {
    let mut c = Console::warmed(Opts::default());
    c.key(KeyCode::Char('p'));
    let before = c.frame(120, 36);
    assert!(before.contains("PAUSED at 09:00:30"), "{before}");
    c.key(KeyCode::Char('2'));
    c.seconds(15);
    let frame = c.frame(120, 36);
    // The alarm is live even though the panes are not.
    assert!(frame.contains("RULE BROKEN since"), "{frame}");
    assert!(frame.contains("PAUSED at 09:00:30 (15 s)"), "{frame}");
    // Group rows of `orders-service`: one on DC; the stray one on DR
    // appears only once the display runs live again.
    let groups = |f: &str| f.lines().filter(|l| l.starts_with("│orders-service ")).count();
    assert_eq!(groups(&before), 1);
    assert_eq!(groups(&frame), 1, "the panes stay as they were:\n{frame}");
    assert_snapshot!("paused_with_alarm_120x36", frame);
    c.key(KeyCode::Char('p'));
    let live = c.frame(120, 36);
    assert!(!live.contains("PAUSED"));
    assert_eq!(groups(&live), 2, "{live}");
}

#[test]
fn a_drill_on_a_small_terminal() {
    let mut c = Console::warmed(Opts::default());
    c.command("switchover");
    c.pass_preflight();
    c.seconds(2);
    assert_snapshot!("blocked_gate_80x24", c.frame(80, 24));
}

/// Drives a whole drill by keys the way an operator would: `n` when the
/// step's action is offered and not yet requested, `c` while an item
/// awaits confirmation, otherwise wait a second.
fn drive(c: &mut Console, limit_secs: u32) {
    drive_until(c, limit_secs, |_| false);
}

/// `drive`, stopping early when `done` says so.
fn drive_until(c: &mut Console, limit_secs: u32, done: impl Fn(&Console) -> bool) {
    for _ in 0..limit_secs {
        if done(c) {
            return;
        }
        let Some(v) = c.app.drill().map(|d| d.view()) else { return };
        let Some(step) = v.current.and_then(|i| v.steps.get(i)) else { return };
        let ctx = c.app.key_context();
        if ctx.confirm.is_enabled() {
            c.key(KeyCode::Char('c'));
        } else if ctx.run_step.is_enabled() && step.requested_at.is_none() {
            c.run_step();
        }
        c.seconds(1);
    }
}

#[test]
fn a_whole_switchover_and_failback_by_keys() {
    let mut c = Console::warmed(Opts::default());
    c.command("switchover");
    // The manual step, one item confirmed.
    drive_until(&mut c, 300, |c| c.journal.iter().any(|e| matches!(e, DrillEvent::Confirmed { .. })));
    assert_snapshot!("switchover_checklist_120x36", c.frame(120, 36));
    drive(&mut c, 300);
    assert!(c.app.drill().is_some_and(|d| d.is_finished()), "{}", c.frame(120, 36));
    let roles = c.app.assessment().map(|a| (a.side(Side::Dc).role.label(), a.side(Side::Dr).role.label()));
    assert_eq!(roles, Some(("PASSIVE", "ACTIVE")));
    let confirmed = c.journal.iter().filter(|e| matches!(e, DrillEvent::Confirmed { .. })).count();
    let items: usize = c.app.drill().map_or(0, |d| d.plan().steps.iter().map(|s| s.checklist.len()).sum());
    assert!(items >= 3, "the infrastructure items at least");
    assert_eq!(confirmed, items, "every manual item confirmed once");
    assert_snapshot!("switchover_finished_120x36", c.frame(120, 36));
    assert!(c.app.log().iter().all(|e| !e.text.contains("RULE BROKEN")), "no rule broken on the way");

    c.command("failback");
    drive(&mut c, 300);
    assert!(c.app.drill().is_some_and(|d| d.is_finished() && d.kind() == PlanKind::Failback));
    let roles = c.app.assessment().map(|a| (a.side(Side::Dc).role.label(), a.side(Side::Dr).role.label()));
    assert_eq!(roles, Some(("ACTIVE", "PASSIVE")));
    assert!(c.app.log().iter().all(|e| !e.text.contains("RULE BROKEN")), "no rule broken on the way back");
}

#[test]
fn no_color_means_no_colour_anywhere_on_screen() {
    // Widgets take styles from theme slots only: with NO_COLOR not one cell
    // may carry a colour, in any view, with alarms, popups and a drill.
    let mut c = Console::warmed(Opts { no_color: true, ..Opts::default() });
    c.command("switchover");
    c.key(KeyCode::Char('1'));
    c.key(KeyCode::Char('2'));
    c.seconds(12);
    let mut checked = 0;
    for _view in 0..2 {
        for popup in [None, Some('?'), Some('A')] {
            if let Some(k) = popup {
                c.key(KeyCode::Char(k));
            }
            for (w, h) in [(120, 36), (80, 24), (30, 8)] {
                let b = c.buffer(w, h);
                for cell in &b.content {
                    assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "coloured {:?}", cell.symbol());
                    checked += 1;
                }
            }
            c.key(KeyCode::Esc);
        }
        c.key(KeyCode::Char('w'));
    }
    assert!(checked > 10_000);
    // Meaning survives as modifiers: the alarm banner is reversed.
    let b = c.buffer(120, 36);
    let alarm = (0..120).map(|x| &b[(x, 3)]).find(|cell| cell.symbol() == "⚠");
    assert!(alarm.is_some_and(|cell| cell.modifier.contains(Modifier::REVERSED)));
}

#[test]
fn the_hint_bar_and_questions_follow_the_keymap_of_the_mode() {
    let mut c = Console::warmed(Opts::default());
    c.key(KeyCode::Char(':'));
    let frame = c.frame(120, 36);
    assert!(frame.contains("Enter apply   Tab complete   Esc cancel"), "{frame}");
    c.key(KeyCode::Esc);
    c.command("switchover");
    c.key(KeyCode::Char('A'));
    let frame = c.frame(120, 36);
    assert!(frame.contains("y abort   n Esc keep going"), "{frame}");
    assert!(frame.contains("y yes   n Esc no"), "{frame}");
    c.key(KeyCode::Char('n'));
    assert!(c.app.drill_in_progress(), "n answers no: the drill goes on");
}

#[test]
fn a_group_mm2_cannot_translate_is_a_named_warning_before_applications_start() {
    let mut c = Console::warmed(Opts::default());
    c.command("fault untranslatable-group");
    c.seconds(3);
    let warned = |c: &Console| {
        c.app.assessment().map(|a| {
            let w: Vec<(String, Option<&'static str>)> =
                a.group_warnings().iter().map(|t| (t.group.clone(), t.problem.as_ref().map(|p| p.as_str()))).collect();
            (w, a.verdict.level.as_str())
        })
    };
    assert_eq!(
        warned(&c),
        Some((vec![("payments-service".to_owned(), Some("no-checkpoint"))], "ok")),
        "a warning, no alarm"
    );
    let frame = c.frame(120, 36);
    assert!(frame.contains("▲ payments-service → DR: no checkpoint yet"), "{frame}");
    assert_snapshot!("untranslatable_group_120x36", frame);

    c.command("switchover");
    let before_start = |c: &Console| {
        let Some(v) = c.app.drill().map(|d| d.view()) else { return false };
        let step = v.current.and_then(|i| v.steps.get(i));
        step.is_some_and(|s| matches!(s.action, Some(Action::StartApps(Side::Dr))) && s.requested_at.is_none())
    };
    drive_until(&mut c, 300, before_start);
    assert!(before_start(&c), "{}", c.frame(120, 36));
    let frame = c.frame(120, 36);
    assert!(frame.contains("where applications resume on DR"), "{frame}");
    assert!(frame.contains("no checkpoint yet"), "{frame}");
    assert_snapshot!("untranslatable_group_before_start_apps_120x36", frame);
}

#[test]
fn the_preflight_passes_by_observation_or_names_what_fails_and_takes_a_typed_override() {
    // Healthy: every condition observed, the hold runs, no action offered.
    let mut c = Console::warmed(Opts::default());
    c.command("switchover");
    c.seconds(3);
    let frame = c.frame(120, 36);
    for words in ["▶ 1 Pre-flight: DC active, DR ready to take over", "✓ DR reachable, all brokers up", "holding"] {
        assert!(frame.contains(words), "{words:?} missing:\n{frame}");
    }
    assert_snapshot!("preflight_holding_120x36", frame);
    c.pass_preflight();

    // A stray consumer on DR: the pre-flight fails, each failure in words.
    let mut c = Console::warmed(Opts::default());
    c.key(KeyCode::Char('2'));
    c.seconds(15);
    c.command("switchover");
    c.seconds(15);
    let frame = c.frame(120, 36);
    assert_eq!(c.app.drill().and_then(|d| d.current()), Some(0), "{frame}");
    for words in ["✗ DC active, DR passive", "✗ no runbook rule broken", ":override passes it anyway"] {
        assert!(frame.contains(words), "{words:?} missing:\n{frame}");
    }
    assert_snapshot!("preflight_failed_120x36", frame);
    // `n` offers nothing; `:override` asks for the word, typed.
    c.key(KeyCode::Char('n'));
    assert!(c.source.actions.try_recv().is_err());
    c.command("override");
    let popup = c.frame(120, 36);
    assert!(popup.contains("Type override to confirm"), "{popup}");
    assert_snapshot!("preflight_override_popup_120x36", popup);
    c.typed("overide");
    c.key(KeyCode::Enter);
    assert!(!c.journal.iter().any(|e| matches!(e, DrillEvent::PreflightOverridden { .. })), "a typo overrides nothing");
    c.key(KeyCode::Esc);
    c.command("override");
    c.typed("override");
    c.key(KeyCode::Enter);
    let failed = c.journal.iter().find_map(|e| match e {
        DrillEvent::PreflightOverridden { failed, .. } => Some(failed.clone()),
        _ => None,
    });
    let failed = failed.unwrap_or_else(|| panic!("not journaled: {:?}", c.journal));
    assert!(failed.iter().any(|e| e.label == "no runbook rule broken"), "{failed:?}");
    c.seconds(1);
    let frame = c.frame(120, 36);
    assert!(frame.contains("OVERRIDDEN"), "{frame}");
    assert_eq!(c.app.drill().and_then(|d| d.current()), Some(1));
}

#[test]
fn before_the_reverse_start_the_copy_back_and_orphan_tail_are_shown_and_gate_the_step() {
    let mut c = Console::warmed(Opts::default());
    c.command("switchover");
    drive_until(&mut c, 300, |c| c.app.drill().and_then(|d| d.current()) == Some(6));
    // A straggler writes on DC after DC→DR stopped: an orphan tail.
    c.command("fault orphan-records");
    // Their writes look like applications on DC for the activity window.
    c.seconds(12);
    let a = c.app.assessment().cloned();
    let figures = a.as_ref().and_then(|a| a.failback.iter().find(|f| f.flow == kdrill::model::Flow::DR_TO_DC));
    let figures = figures.unwrap_or_else(|| panic!("no failback figures"));
    // 40 records on every other partition of redis-writes (12) and orders (6).
    assert_eq!(figures.orphans(), Some(40 * (12 / 2 + 6 / 2)));
    // `check --json` carries the same figures, per topic and partition.
    let json = a.as_ref().map(|a| serde_json::to_value(kdrill::check::report(a)).unwrap_or_default());
    let json = json.unwrap_or_default();
    assert_eq!(json["failback"][0]["flow"], "DR→DC");
    assert_eq!(json["failback"][0]["orphan_records"], 360);
    // Outside the drill, DR's current ends hold what its applications wrote
    // since DC→DR stopped: the figure is the drill's alone (its pane, below).
    assert_eq!(json["failback"][0]["copy_back_records"], serde_json::Value::Null);
    let why = json["failback"][0]["copy_back_unknown"].as_str().unwrap_or_default();
    assert!(why.contains("applications write on DR since it stopped"), "{why}");
    assert_eq!(json["failback"][0]["partitions"].as_array().map(Vec::len), Some(24));
    let frame = c.frame(120, 36);
    for words in ["DR→DC would copy back", "tail on DC (never replicated): 360 rec", "✗ MM2 DR→DC copies nothing back"]
    {
        assert!(frame.contains(words), "{words:?} missing:\n{frame}");
    }
    assert_snapshot!("copy_back_gate_120x36", frame);
    // Started at the ends (as kdrill's start does), it copies nothing back.
    drive(&mut c, 120);
    assert!(c.app.drill().is_some_and(|d| d.is_finished()), "{}", c.frame(120, 36));
    assert!(!c.journal.iter().any(|e| matches!(e, DrillEvent::CopyBackObserved { .. })));
}

#[test]
fn a_paused_display_keeps_its_rows_while_their_age_grows() {
    let mut c = Console::warmed(Opts::default());
    c.key(KeyCode::Char('p'));
    let before = c.frame(160, 48);
    c.seconds(40);
    let after = c.frame(160, 48);
    // The same rows, now 40 s old and said to be; the header stays live.
    let row = "redis-writes     2  63,314,158  63,314,155";
    assert!(before.contains(row) && after.contains(row), "{before}\n-----\n{after}");
    assert!(before.contains("observed 0 ms ago · 24 partitions"), "{before}");
    for aged in ["PAUSED at 09:00:30 (40 s)", "observed 40 s ago · 24 partitions", "STALE 40 s", "data DC 0 ms ago"] {
        assert!(after.contains(aged), "{aged:?} in\n{after}");
    }
    c.key(KeyCode::Char('p'));
    c.seconds(1);
    let live = c.frame(160, 48);
    assert!(!live.contains("PAUSED") && !live.contains("STALE"), "{live}");
}
