//! What commands do. Everything that changes the world leaves as a
//! `Dispatch` effect; the runtime answers a refusal with `on_refused`.

use tui_input::Input;

use crate::action::{Action, Fault};
use crate::drill::{Drill, PlanKind};

use super::app::{App, Confirm, Effect, Frozen, Mode};
use super::eventlog::Tone;
use super::keymap::{COMMANDS, Command, View};
use super::layout::Pane;

pub fn run(app: &mut App, command: Command) {
    match command {
        Command::Help => app.mode = Mode::Help { scroll: 0 },
        Command::CommandMode => app.mode = Mode::Command(Input::default()),
        Command::Filter => {
            let text = app.filter.as_ref().map(|f| f.text.clone()).unwrap_or_default();
            app.mode = Mode::Filter { input: Input::new(text), before: app.filter.clone() };
        }
        Command::FocusNext => app.focus = app.focus.next(),
        Command::FocusPrev => app.focus = app.focus.prev(),
        Command::Back => {
            if app.filter.take().is_some() {
                app.prepare();
                app.note(Tone::Info, "filter cleared");
            }
        }
        Command::Quit => quit(app),
        Command::RunStep => run_step(app),
        Command::Confirm => confirm_item(app),
        Command::Abort => app.mode = Mode::Confirm(Confirm::Abort),
        Command::SortNext => {
            app.query.sort = app.query.sort.next();
            app.query.reversed = false;
            resort(app);
        }
        Command::SortPrev => {
            app.query.reversed = !app.query.reversed;
            resort(app);
        }
        Command::NextFlow => {
            let flows = app.shown().map_or(0, |(a, _)| a.lag.len());
            app.query.flow = if flows == 0 { 0 } else { (app.query.flow + 1) % flows };
            app.query.pinned = true;
            resort(app);
        }
        Command::Pause => toggle_pause(app),
        Command::Wall => toggle_wall(app),
        Command::Fault(i) => match Fault::ALL.get(i) {
            Some(f) => send(app, Action::Fault(*f)),
            None => app.note(Tone::Warn, "no such fault"),
        },
        Command::ScrollUp => scroll(app, |s, _| s.saturating_sub(1)),
        Command::ScrollDown => scroll(app, |s, _| s + 1),
        Command::PageUp => scroll(app, |s, page| s.saturating_sub(page.max(1))),
        Command::PageDown => scroll(app, |s, page| s + page.max(1)),
        Command::Top => scroll(app, |_, _| 0),
        Command::Bottom => scroll(app, |_, _| usize::MAX),
    }
}

fn resort(app: &mut App) {
    app.scroll[Pane::Lag.index()] = 0;
    app.prepare();
    let order = if app.query.reversed { "reversed" } else { "worst first" };
    app.note(Tone::Info, format!("lag sorted by {} ({order})", app.query.sort.label()));
}

fn scroll(app: &mut App, f: impl Fn(usize, usize) -> usize) {
    let i = app.focus.index();
    let extent = app.extents.of(app.focus);
    let max = extent.max_scroll();
    app.scroll[i] = f(app.scroll[i].min(max), extent.visible).min(max);
}

fn toggle_pause(app: &mut App) {
    if app.frozen.take().is_some() {
        app.prepare();
        app.note(Tone::Info, "live display resumed");
        return;
    }
    let (Some(a), Some(s), Some(now)) = (app.live.clone(), app.snapshot.clone(), app.now) else {
        app.note(Tone::Warn, "nothing observed yet to pause on");
        return;
    };
    app.frozen = Some(Frozen::new(app.assessor.clone(), a, s, now));
    app.note(Tone::Info, "display paused: panes keep the figures of now; gates, alarms and the drill stay live");
}

fn toggle_wall(app: &mut App) {
    app.view = match app.view {
        View::Console => View::Wall,
        View::Wall => View::Console,
    };
}

pub fn quit(app: &mut App) {
    if app.drill_in_progress() {
        app.mode = Mode::Confirm(Confirm::Quit);
    } else {
        app.push_effect(Effect::Quit);
    }
}

pub fn confirmed(app: &mut App, what: Confirm) {
    app.mode = Mode::Normal;
    match what {
        Confirm::Quit => app.push_effect(Effect::Quit),
        Confirm::Abort => {
            let Some(now) = app.now else { return };
            let ev = app.drill.as_mut().and_then(|d| d.abort("aborted by the operator", now));
            match ev {
                Some(ev) => {
                    app.journal_event(ev);
                    app.after_drill_change();
                    app.note(Tone::Warn, "drill aborted; the journal keeps what was done");
                }
                None => app.note(Tone::Warn, "no drill in progress to abort"),
            }
        }
    }
}

/// Sends an action that is not a drill step (a demo fault).
fn send(app: &mut App, action: Action) {
    if app.now.is_none() {
        return;
    }
    app.note(Tone::Info, format!("sent: {}", action.label()));
    app.push_effect(Effect::Dispatch(action));
}

fn run_step(app: &mut App) {
    let (Some(_), Some(a)) = (app.now, app.live.as_ref()) else {
        app.note(Tone::Warn, "nothing observed yet");
        return;
    };
    let Some(drill) = app.drill.as_mut() else {
        app.note(Tone::Warn, "no drill running: start one with :switchover or :failback");
        return;
    };
    let (action, ev) = match drill.request_action(a) {
        Ok(x) => x,
        Err(why) => {
            app.note(Tone::Warn, format!("n: {why}"));
            return;
        }
    };
    app.journal_event(ev);
    app.note(Tone::Info, format!("sent: {} — waiting for the outcome", action.label()));
    app.push_effect(Effect::Dispatch(action));
    app.after_drill_change();
}

fn confirm_item(app: &mut App) {
    let Some(now) = app.now else { return };
    let result = match app.drill.as_mut() {
        Some(d) => d.confirm_next(now),
        None => Err("no drill running".into()),
    };
    match result {
        Ok(ev) => {
            app.journal_event(ev);
            app.after_drill_change();
        }
        Err(why) => app.note(Tone::Warn, format!("c: {why}")),
    }
}

fn start(app: &mut App, kind: PlanKind) {
    let Some(now) = app.now else {
        app.note(Tone::Warn, "nothing observed yet: wait for the first snapshot");
        return;
    };
    if let Some(d) = app.drill.as_ref().filter(|d| !d.is_over()) {
        let text = format!("a drill is in progress ({}): finish or abort it (A) first", d.kind().title());
        app.note(Tone::Warn, text);
        return;
    }
    let s = app.settings();
    let drill = Drill::start(kind, s.hold_window, &s.infra_checklist, now);
    let started = drill.events().to_vec();
    app.drill = Some(drill);
    for ev in started {
        app.journal_event(ev);
    }
    app.focus = Pane::Drill;
    app.after_drill_change();
    app.note(Tone::Info, format!("{} started: follow the steps in the drill pane", kind.title()));
}

/// Runs a `:` command line.
pub fn execute(app: &mut App, line: &str) {
    app.mode = Mode::Normal;
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else { return };
    let arg = words.next();
    match cmd {
        "switchover" => start(app, PlanKind::Switchover),
        "failback" => start(app, PlanKind::Failback),
        "abort" if app.drill_in_progress() => app.mode = Mode::Confirm(Confirm::Abort),
        "abort" => app.note(Tone::Warn, "no drill in progress to abort"),
        "theme" => match arg.map(|name| app.theme.with_base(name)) {
            Some(Ok(t)) => {
                app.note(Tone::Info, format!("theme {}", t.name()));
                app.theme = t;
            }
            Some(Err(e)) => app.note(Tone::Warn, e.to_string()),
            None => app.note(Tone::Warn, "theme: expected dark, light or high-contrast"),
        },
        "wall" => toggle_wall(app),
        "fault" if !app.demo => app.note(Tone::Warn, "fault: only in demo mode"),
        "fault" => match arg.and_then(fault_named) {
            Some(f) => send(app, Action::Fault(f)),
            None => {
                let names: Vec<String> = Fault::ALL.iter().map(|f| fault_name(*f)).collect();
                app.note(Tone::Warn, format!("fault: expected one of {}", names.join(", ")));
            }
        },
        "help" => app.mode = Mode::Help { scroll: 0 },
        "q" | "quit" => quit(app),
        other => {
            let names: Vec<&str> = COMMANDS.iter().map(|(n, _)| *n).collect();
            app.note(Tone::Warn, format!("unknown command {other:?}: expected {}", names.join(", ")));
        }
    }
}

/// `StrayConsumer` → `stray-consumer`.
pub fn fault_name(f: Fault) -> String {
    f.as_str().to_owned()
}

fn fault_named(name: &str) -> Option<Fault> {
    if let Ok(n) = name.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| Fault::ALL.get(i).copied());
    }
    Fault::ALL.into_iter().find(|f| f.as_str() == name)
}

/// Completes the command word when exactly one command starts with it.
pub fn complete(line: &str) -> String {
    if line.contains(' ') {
        return line.to_owned();
    }
    let hits: Vec<&str> = COMMANDS.iter().map(|(n, _)| *n).filter(|n| n.starts_with(line)).collect();
    match hits.as_slice() {
        [one] => format!("{one} "),
        _ => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names_read_as_words() {
        assert_eq!(fault_name(Fault::StrayConsumer), "stray-consumer");
        assert_eq!(fault_name(Fault::FailMm2Task), "fail-mm2-task");
        assert_eq!(fault_named("cut-off-dc"), Some(Fault::CutOffDc));
        assert_eq!(fault_named("2"), Some(Fault::StrayConsumer));
        assert_eq!(fault_named("0"), None);
        assert_eq!(complete("sw"), "switchover ");
        assert_eq!(complete("f"), "f");
    }
}
