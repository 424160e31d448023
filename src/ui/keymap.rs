//! Key bindings as data, one list per key mode (normal, `:` command line,
//! `/` filter line, help, y/n and typed questions). Each list drives three
//! things: which command a key runs, the help text and the hint bar. Each
//! binding can be asked whether it is available now; when not, it says why,
//! and the screen shows it greyed with that reason instead of hiding it.
//! Dangerous bindings say so (`Risk`).

use std::borrow::Cow;
use std::sync::LazyLock;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::action::Fault;

/// A key as bindings name it: a code plus whether Ctrl is held. Shift is
/// folded into the character (`A`, `?`, `O`), as terminals report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub const fn ch(c: char) -> Key {
        Key { code: KeyCode::Char(c), ctrl: false }
    }

    pub const fn ctrl(c: char) -> Key {
        Key { code: KeyCode::Char(c), ctrl: true }
    }

    pub const fn code(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    /// The binding key of a terminal event; `None` for releases.
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        if ev.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let code = match ev.code {
            KeyCode::Char(c) if ctrl => KeyCode::Char(c.to_ascii_lowercase()),
            other => other,
        };
        Some(Key { code, ctrl })
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_owned(),
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            other => format!("{other}"),
        };
        if self.ctrl { format!("Ctrl-{base}") } else { base }
    }
}

/// What a key asks for. The app's `update` gives each its meaning in the
/// mode the key was pressed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    Help,
    CommandMode,
    Filter,
    FocusNext,
    FocusPrev,
    Back,
    Quit,
    RunStep,
    Confirm,
    Abort,
    SortNext,
    SortPrev,
    NextFlow,
    Pause,
    Wall,
    /// Toggle `Fault::ALL[i]` in the demo world.
    Fault(usize),
    /// Scrolls the focused pane, or the help list in help mode.
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Help: close it.
    Close,
    /// Command or filter line: leave it (the filter goes back to what it was).
    Cancel,
    /// Command or filter line: run the command / keep the filter.
    Submit,
    /// Command line: complete the command word.
    Complete,
    /// Command line: delete back; on an empty line, leave it.
    Erase,
    /// A question: yes (for a typed question, only when the typed value matches).
    Yes,
    /// A question: no.
    No,
}

/// The `:` commands, for help, completion and the `:` key's description.
/// The demo fault keys: `1`…`9`, then `0` for the tenth; later faults are
/// toggled by name (`:fault NAME`).
pub fn fault_key(i: usize) -> Option<char> {
    match i {
        0..=8 => Some(char::from(b'1' + i as u8)),
        9 => Some('0'),
        _ => None,
    }
}

pub const COMMANDS: [(&str, &str); 12] = [
    ("switchover", "start the DC→DR switchover drill (runbook steps 1–5)"),
    ("failback", "start the DR→DC failback drill (runbook steps 6–10)"),
    ("abort", "abort the drill in progress (asks first)"),
    ("takeover", "carry on the shared drill of a driver whose lease went stale (type who)"),
    ("theme", "theme dark | light | high-contrast"),
    ("wall", "wall layout on/off"),
    ("override", "pass a failing pre-flight: type override; the journal keeps what failed"),
    ("accept", "accept the copy-back figure shown: type the figure; journaled with it"),
    ("restart", "restart dc-dr | dr-dc: restart MM2's failed connectors and tasks (asks first)"),
    ("fault", "fault <name>: toggle a demo fault (demo mode)"),
    ("help", "show the keys of this view"),
    ("quit", "quit (asks first while a drill is in progress)"),
];

/// Which keys are live: each mode has its own bindings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMode {
    Normal,
    /// Typing a `:` command.
    Command,
    /// Typing the `/` filter.
    Filter,
    /// The `?` popup.
    Help,
    /// A y/n question.
    Confirm,
    /// A question answered by typing a given value, then Enter.
    ConfirmTyped,
}

impl KeyMode {
    pub const ALL: [KeyMode; 6] =
        [KeyMode::Normal, KeyMode::Command, KeyMode::Filter, KeyMode::Help, KeyMode::Confirm, KeyMode::ConfirmTyped];

    /// Keys not bound in this mode are typed into its line.
    pub fn edits_text(self) -> bool {
        matches!(self, KeyMode::Command | KeyMode::Filter | KeyMode::ConfirmTyped)
    }

    /// What the status line says while typing in this mode, if anything.
    pub fn summary(self) -> Option<&'static str> {
        match self {
            KeyMode::Filter => Some("regex on topics and groups, ! inverts"),
            _ => None,
        }
    }
}

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every view.
    Global,
    /// The full console, not the wall layout.
    Console,
    /// Every view, in demo mode only.
    Demo,
}

/// The two layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Console,
    Wall,
}

/// How much harm a key can do: dangerous keys ask first, and are the ones
/// a typed confirmation is meant for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Risk {
    Safe,
    /// Acts on the world or ends the drill.
    Always,
    /// Only while a drill is in progress (quitting leaves it unattended).
    DuringDrill,
}

#[derive(Clone, Debug)]
pub struct Binding {
    pub keys: Vec<Key>,
    pub command: Command,
    pub description: Cow<'static, str>,
    /// A few words for the hint bar; `None` keeps it out of the bar.
    pub hint: Option<&'static str>,
    /// How the hint bar names the keys, when not by the first key alone.
    pub hint_keys: Option<&'static str>,
    pub scope: Scope,
    /// Sends an action to the world (through the dispatcher, which refuses
    /// it in read-only mode: the screen says so in advance).
    pub acts: bool,
    pub risk: Risk,
    /// Bindings sharing a group are one line in help: (keys, description).
    pub group: Option<(&'static str, &'static str)>,
}

/// Whether a binding can run now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    Enabled,
    Disabled(String),
}

impl Availability {
    pub fn is_enabled(&self) -> bool {
        matches!(self, Availability::Enabled)
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Availability::Enabled => None,
            Availability::Disabled(why) => Some(why),
        }
    }
}

/// Why a read-only console offers no drill key.
pub const READ_ONLY_DRILL: &str = "read-only: this console follows a drill, it never starts, confirms or aborts one";

/// The state availability depends on, gathered by the app (the drill's
/// figures are prepared when an assessment arrives, not per key or frame).
#[derive(Clone, Debug)]
pub struct KeyContext<'a> {
    pub view: View,
    pub demo: bool,
    pub read_only: bool,
    pub filtering: bool,
    pub flows: usize,
    pub paused: bool,
    /// A drill is in progress: quitting is dangerous.
    pub drill_running: bool,
    /// `n`: the current step's action.
    pub run_step: &'a Availability,
    /// `c`: the next manual checklist item.
    pub confirm: &'a Availability,
    /// `A`: whether a drill is in progress.
    pub abort: &'a Availability,
}

fn b(keys: &[Key], command: Command, description: &'static str, hint: Option<&'static str>, scope: Scope) -> Binding {
    Binding {
        keys: keys.to_vec(),
        command,
        description: Cow::Borrowed(description),
        hint,
        hint_keys: None,
        scope,
        acts: false,
        risk: Risk::Safe,
        group: None,
    }
}

impl Binding {
    fn in_group(self, group: (&'static str, &'static str)) -> Binding {
        Binding { group: Some(group), ..self }
    }

    fn risky(self, risk: Risk) -> Binding {
        Binding { risk, ..self }
    }

    fn hinted_as(self, keys: &'static str) -> Binding {
        Binding { hint_keys: Some(keys), ..self }
    }
}

const FOCUS: (&str, &str) = ("Tab S-Tab", "focus the next / previous pane");
const SORT: (&str, &str) = ("o O", "lag sort: records, seconds, topic/partition; O reverses");
const SCROLL: (&str, &str) = ("↑↓ PgUp PgDn", "scroll the focused pane; Home End to the ends (also j k g G)");
const HELP_SCROLL: (&str, &str) = ("↑↓ PgUp PgDn", "scroll the key list (also j k)");
const QUIT: &str = "quit (asks first while a drill is in progress)";

/// Ctrl-C quits from every mode (asking first during a drill).
fn ctrl_c_quits() -> Binding {
    b(&[Key::ctrl('c')], Command::Quit, QUIT, None, Scope::Global).risky(Risk::DuringDrill)
}

static NORMAL: LazyLock<Vec<Binding>> = LazyLock::new(|| {
    use Command as C;
    use Scope::{Console, Global};
    let mut v = vec![
        b(&[Key::ch('?')], C::Help, "show the keys of this view", Some("help"), Global),
        Binding {
            description: Cow::Owned(format!("command: {}", COMMANDS.map(|(name, _)| name).join(" "))),
            ..b(&[Key::ch(':')], C::CommandMode, "", Some("command"), Global)
        },
        b(&[Key::ch('/')], C::Filter, "filter lag rows and groups by regex (!regex inverts)", Some("filter"), Console),
        b(&[Key::code(KeyCode::Tab)], C::FocusNext, "focus the next pane", Some("focus"), Console).in_group(FOCUS),
        b(&[Key::code(KeyCode::BackTab)], C::FocusPrev, "focus the previous pane", None, Console).in_group(FOCUS),
        Binding {
            acts: true,
            ..b(&[Key::ch('n')], C::RunStep, "run the current drill step's action", Some("run step"), Console)
        }
        .risky(Risk::Always),
        b(&[Key::ch('c')], C::Confirm, "confirm the next manual checklist item", Some("confirm"), Console),
        b(&[Key::ch('A')], C::Abort, "abort the drill (asks first)", Some("abort"), Console).risky(Risk::Always),
        b(&[Key::ch('o')], C::SortNext, "lag sort: records, seconds, topic/partition", Some("sort"), Console)
            .in_group(SORT),
        b(&[Key::ch('O')], C::SortPrev, "lag sort: reverse the order", None, Console).in_group(SORT),
        b(&[Key::ch('f')], C::NextFlow, "lag of the other MM2 flow", None, Console),
        b(&[Key::code(KeyCode::Up), Key::ch('k')], C::ScrollUp, "scroll the focused pane up", None, Console)
            .in_group(SCROLL),
        b(&[Key::code(KeyCode::Down), Key::ch('j')], C::ScrollDown, "scroll the focused pane down", None, Console)
            .in_group(SCROLL),
        b(&[Key::code(KeyCode::PageUp)], C::PageUp, "page the focused pane up", None, Console).in_group(SCROLL),
        b(&[Key::code(KeyCode::PageDown)], C::PageDown, "page the focused pane down", None, Console).in_group(SCROLL),
        b(&[Key::code(KeyCode::Home), Key::ch('g')], C::Top, "focused pane: to the top", None, Console)
            .in_group(SCROLL),
        b(&[Key::code(KeyCode::End), Key::ch('G')], C::Bottom, "focused pane: to the end", None, Console)
            .in_group(SCROLL),
        b(&[Key::ch('p')], C::Pause, "pause the live display (gates keep evaluating)", Some("pause"), Global),
        b(&[Key::ch('w')], C::Wall, "wall layout on/off", Some("wall"), Global),
        b(&[Key::code(KeyCode::Esc)], C::Back, "back out of a mode or popup; clear the filter", None, Global),
        b(&[Key::ch('q'), Key::ctrl('c')], C::Quit, QUIT, Some("quit"), Global).risky(Risk::DuringDrill),
    ];
    for (i, fault) in Fault::ALL.iter().enumerate() {
        let Some(digit) = fault_key(i) else { continue };
        v.push(Binding {
            keys: vec![Key::ch(digit)],
            description: Cow::Owned(format!("demo: toggle fault \"{}\"", fault.label())),
            acts: true,
            ..b(&[], C::Fault(i), "", None, Scope::Demo)
        });
    }
    v
});

static COMMAND_LINE: LazyLock<Vec<Binding>> = LazyLock::new(|| {
    use Command as C;
    use Scope::Global;
    vec![
        b(&[Key::code(KeyCode::Enter)], C::Submit, "run the command", Some("apply"), Global),
        b(&[Key::code(KeyCode::Tab)], C::Complete, "complete the command word", Some("complete"), Global),
        b(&[Key::code(KeyCode::Esc)], C::Cancel, "leave the command line", Some("cancel"), Global),
        b(&[Key::code(KeyCode::Backspace)], C::Erase, "delete back; on an empty line, leave it", None, Global),
        ctrl_c_quits(),
    ]
});

static FILTER_LINE: LazyLock<Vec<Binding>> = LazyLock::new(|| {
    use Command as C;
    use Scope::Global;
    vec![
        b(&[Key::code(KeyCode::Enter)], C::Submit, "keep the filter as typed", Some("apply"), Global),
        b(&[Key::code(KeyCode::Esc)], C::Cancel, "restore the filter as it was", Some("cancel"), Global),
        ctrl_c_quits(),
    ]
});

static HELP: LazyLock<Vec<Binding>> = LazyLock::new(|| {
    use Command as C;
    use Scope::Global;
    vec![
        b(
            &[Key::code(KeyCode::Esc), Key::ch('?'), Key::ch('q')],
            C::Close,
            "close the key list",
            Some("close"),
            Global,
        ),
        b(&[Key::code(KeyCode::Up), Key::ch('k')], C::ScrollUp, "scroll up", Some("scroll"), Global)
            .in_group(HELP_SCROLL)
            .hinted_as("↑↓"),
        b(&[Key::code(KeyCode::Down), Key::ch('j')], C::ScrollDown, "scroll down", None, Global).in_group(HELP_SCROLL),
        b(&[Key::code(KeyCode::PageUp)], C::PageUp, "page up", None, Global).in_group(HELP_SCROLL),
        b(&[Key::code(KeyCode::PageDown)], C::PageDown, "page down", None, Global).in_group(HELP_SCROLL),
        ctrl_c_quits(),
    ]
});

static CONFIRM: LazyLock<Vec<Binding>> = LazyLock::new(|| {
    use Command as C;
    use Scope::Global;
    vec![
        // Never Enter: a reflex must not answer yes.
        b(&[Key::ch('y'), Key::ch('Y')], C::Yes, "yes: do it", Some("yes"), Global).risky(Risk::Always),
        b(&[Key::ch('n'), Key::ch('N'), Key::code(KeyCode::Esc)], C::No, "no: back, nothing done", Some("no"), Global)
            .hinted_as("n Esc"),
        ctrl_c_quits(),
    ]
});

static CONFIRM_TYPED: LazyLock<Vec<Binding>> = LazyLock::new(|| {
    use Command as C;
    use Scope::Global;
    vec![
        b(&[Key::code(KeyCode::Enter)], C::Yes, "do it, if what is typed matches", Some("confirm"), Global)
            .risky(Risk::Always),
        b(&[Key::code(KeyCode::Esc)], C::No, "back, nothing done", Some("cancel"), Global),
        ctrl_c_quits(),
    ]
});

/// The bindings of a mode, in help order.
pub fn bindings_of(mode: KeyMode) -> &'static [Binding] {
    match mode {
        KeyMode::Normal => &NORMAL,
        KeyMode::Command => &COMMAND_LINE,
        KeyMode::Filter => &FILTER_LINE,
        KeyMode::Help => &HELP,
        KeyMode::Confirm => &CONFIRM,
        KeyMode::ConfirmTyped => &CONFIRM_TYPED,
    }
}

/// Every binding of the normal mode, in help order.
pub fn bindings() -> &'static [Binding] {
    bindings_of(KeyMode::Normal)
}

impl Binding {
    pub fn in_scope(&self, ctx: &KeyContext) -> bool {
        match self.scope {
            Scope::Global => true,
            Scope::Console => ctx.view == View::Console,
            Scope::Demo => ctx.demo,
        }
    }

    /// Whether the command can run now. Actions on the world are not judged
    /// read-only here: the dispatcher alone enforces that, and refuses
    /// visibly. A read-only console never drives a drill, though: it
    /// confirms and aborts nothing (the journal would not record it).
    pub fn availability(&self, ctx: &KeyContext) -> Availability {
        match self.command {
            Command::Confirm | Command::Abort if ctx.read_only => Availability::Disabled(READ_ONLY_DRILL.into()),
            Command::RunStep => ctx.run_step.clone(),
            Command::Confirm => ctx.confirm.clone(),
            Command::Abort => ctx.abort.clone(),
            Command::NextFlow if ctx.flows < 2 => Availability::Disabled("only one MM2 flow is configured".into()),
            Command::Back if !ctx.filtering => Availability::Disabled("nothing to back out of".into()),
            _ => Availability::Enabled,
        }
    }

    /// What the screen shows: `availability`, plus a read-only warning for
    /// bindings that would send an action.
    pub fn shown(&self, ctx: &KeyContext) -> Availability {
        match self.availability(ctx) {
            Availability::Enabled if self.acts && ctx.read_only => {
                Availability::Disabled("read-only: the dispatcher refuses actions".into())
            }
            a => a,
        }
    }

    /// Whether running it now can do harm that is hard to take back.
    pub fn is_dangerous(&self, ctx: &KeyContext) -> bool {
        match self.risk {
            Risk::Safe => false,
            Risk::Always => true,
            Risk::DuringDrill => ctx.drill_running,
        }
    }

    pub fn keys_label(&self) -> String {
        self.keys.iter().map(Key::label).collect::<Vec<_>>().join(" ")
    }

    /// The keys as the hint bar names them.
    pub fn hint_keys_label(&self) -> String {
        match (self.hint_keys, self.keys.first()) {
            (Some(keys), _) => keys.to_owned(),
            (None, Some(k)) => k.label(),
            (None, None) => String::new(),
        }
    }

    /// The description, adjusted to state (pause becomes resume).
    pub fn describe(&self, ctx: &KeyContext) -> Cow<'static, str> {
        match self.command {
            Command::Pause if ctx.paused => Cow::Borrowed("resume the live display"),
            Command::Wall if ctx.view == View::Wall => Cow::Borrowed("back to the full console"),
            _ => self.description.clone(),
        }
    }

    pub fn hint_label(&self, ctx: &KeyContext) -> Option<&'static str> {
        match self.command {
            Command::Pause if ctx.paused => Some("resume"),
            Command::Wall if ctx.view == View::Wall => Some("console"),
            _ => self.hint,
        }
    }
}

/// The binding a key runs in this mode and context, if any.
pub fn lookup_in(mode: KeyMode, ctx: &KeyContext, key: Key) -> Option<&'static Binding> {
    bindings_of(mode).iter().find(|b| b.in_scope(ctx) && b.keys.contains(&key))
}

/// The binding a key runs in the normal mode, if any.
pub fn lookup(ctx: &KeyContext, key: Key) -> Option<&'static Binding> {
    lookup_in(KeyMode::Normal, ctx, key)
}

/// The bindings of a mode in this context with what the screen shows for each.
pub fn entries_in<'c>(
    mode: KeyMode,
    ctx: &'c KeyContext<'c>,
) -> impl Iterator<Item = (&'static Binding, Availability)> + 'c {
    bindings_of(mode).iter().filter(|b| b.in_scope(ctx)).map(|b| (b, b.shown(ctx)))
}

/// The normal mode's bindings in this context with what the screen shows.
pub fn entries<'c>(ctx: &'c KeyContext<'c>) -> impl Iterator<Item = (&'static Binding, Availability)> + 'c {
    entries_in(KeyMode::Normal, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(run: &'a Availability, confirm: &'a Availability, abort: &'a Availability) -> KeyContext<'a> {
        KeyContext {
            view: View::Console,
            demo: false,
            read_only: false,
            filtering: false,
            flows: 2,
            paused: false,
            drill_running: true,
            run_step: run,
            confirm,
            abort,
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_a_mode() {
        for mode in KeyMode::ALL {
            let all = bindings_of(mode);
            for (i, a) in all.iter().enumerate() {
                for b2 in &all[i + 1..] {
                    for k in &a.keys {
                        assert!(!b2.keys.contains(k), "{} bound to {:?} and {:?}", k.label(), a.command, b2.command);
                    }
                }
            }
        }
    }

    #[test]
    fn every_mode_has_a_way_out_and_ctrl_c_quits_everywhere() {
        let e = Availability::Enabled;
        let c = ctx(&e, &e, &e);
        for mode in KeyMode::ALL {
            let quit = lookup_in(mode, &c, Key::ctrl('c')).map(|b| b.command);
            assert_eq!(quit, Some(Command::Quit), "{mode:?}");
            let esc = lookup_in(mode, &c, Key::code(KeyCode::Esc)).map(|b| b.command);
            assert!(esc.is_some(), "{mode:?}: Esc does nothing");
            assert!(bindings_of(mode).iter().any(|b| b.hint.is_some()), "{mode:?} has no hints");
        }
    }

    #[test]
    fn dangerous_keys_are_marked() {
        let e = Availability::Enabled;
        let mut c = ctx(&e, &e, &e);
        let danger = |c: &KeyContext, mode, key| lookup_in(mode, c, key).is_some_and(|b| b.is_dangerous(c));
        assert!(danger(&c, KeyMode::Normal, Key::ch('n')), "run step");
        assert!(danger(&c, KeyMode::Normal, Key::ch('A')), "abort");
        assert!(danger(&c, KeyMode::Normal, Key::ch('q')), "quit during a drill");
        assert!(danger(&c, KeyMode::Confirm, Key::ch('y')), "yes to a question");
        assert!(danger(&c, KeyMode::ConfirmTyped, Key::code(KeyCode::Enter)));
        assert!(!danger(&c, KeyMode::Normal, Key::ch('o')));
        c.drill_running = false;
        assert!(!danger(&c, KeyMode::Normal, Key::ch('q')), "quit with no drill running");
        assert!(!danger(&c, KeyMode::Help, Key::ctrl('c')));
    }

    #[test]
    fn keys_fold_shift_into_characters() {
        let ev = KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT);
        assert_eq!(Key::from_event(&ev), Some(Key::ch('A')));
        let ev = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(Key::from_event(&ev), Some(Key::ctrl('c')));
        let ev = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(Key::from_event(&ev), Some(Key::code(KeyCode::BackTab)));
        let mut ev = KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE);
        ev.kind = KeyEventKind::Release;
        assert_eq!(Key::from_event(&ev), None);
    }

    #[test]
    fn the_runbook_keys_are_bound() {
        let (e, d) = (Availability::Enabled, Availability::Disabled("x".into()));
        let c = ctx(&e, &d, &d);
        for (key, cmd) in [
            (Key::ch('?'), Command::Help),
            (Key::ch(':'), Command::CommandMode),
            (Key::ch('/'), Command::Filter),
            (Key::code(KeyCode::Tab), Command::FocusNext),
            (Key::code(KeyCode::BackTab), Command::FocusPrev),
            (Key::code(KeyCode::Esc), Command::Back),
            (Key::ch('q'), Command::Quit),
            (Key::ctrl('c'), Command::Quit),
            (Key::ch('n'), Command::RunStep),
            (Key::ch('c'), Command::Confirm),
            (Key::ch('A'), Command::Abort),
            (Key::ch('o'), Command::SortNext),
            (Key::ch('O'), Command::SortPrev),
            (Key::ch('p'), Command::Pause),
            (Key::ch('w'), Command::Wall),
        ] {
            assert_eq!(lookup(&c, key).map(|b| b.command), Some(cmd), "{}", key.label());
        }
    }

    #[test]
    fn fault_keys_exist_only_in_demo_mode_in_fault_order() {
        let e = Availability::Enabled;
        let mut c = ctx(&e, &e, &e);
        assert!(lookup(&c, Key::ch('1')).is_none(), "no fault keys outside demo mode");
        c.demo = true;
        for (i, fault) in Fault::ALL.iter().enumerate() {
            // Past the tenth, faults are toggled by name.
            let Some(digit) = fault_key(i) else {
                assert!(i >= 10, "fault {i} has no key");
                continue;
            };
            let key = Key::ch(digit);
            let binding = lookup(&c, key);
            assert_eq!(binding.map(|b| b.command), Some(Command::Fault(i)));
            assert!(binding.is_some_and(|b| b.description.contains(fault.label())));
        }
    }

    #[test]
    fn disabled_entries_say_why() {
        let blocked = Availability::Disabled("blocked: no app clients on DC: 2 app consumers".into());
        let none = Availability::Disabled("nothing to confirm in this step".into());
        let c = KeyContext { flows: 1, ..ctx(&blocked, &none, &none) };
        let why = |key| lookup(&c, key).map(|b| b.shown(&c)).and_then(|a| a.reason().map(str::to_owned));
        assert_eq!(why(Key::ch('n')).as_deref(), Some("blocked: no app clients on DC: 2 app consumers"));
        assert_eq!(why(Key::ch('c')).as_deref(), Some("nothing to confirm in this step"));
        assert_eq!(why(Key::ch('f')).as_deref(), Some("only one MM2 flow is configured"));
        assert_eq!(why(Key::code(KeyCode::Esc)).as_deref(), Some("nothing to back out of"));
        assert_eq!(why(Key::ch('?')), None);
    }

    #[test]
    fn read_only_greys_actions_but_leaves_enforcement_to_the_dispatcher() {
        let e = Availability::Enabled;
        let c = KeyContext { read_only: true, demo: true, ..ctx(&e, &e, &e) };
        for key in [Key::ch('n'), Key::ch('3')] {
            let binding = lookup(&c, key);
            assert_eq!(binding.map(|b| b.availability(&c)), Some(Availability::Enabled), "the key still runs");
            let shown = binding.map(|b| b.shown(&c));
            assert!(shown.is_some_and(|a| a.reason().is_some_and(|r| r.starts_with("read-only"))));
        }
        // A read-only console never drives a drill: nobody confirmed or
        // aborted what it would show.
        for key in [Key::ch('c'), Key::ch('A')] {
            let shown = lookup(&c, key).map(|b| b.availability(&c));
            assert_eq!(shown, Some(Availability::Disabled(READ_ONLY_DRILL.into())), "{key:?}");
        }
    }

    #[test]
    fn wall_view_keeps_only_global_keys() {
        let e = Availability::Enabled;
        let c = KeyContext { view: View::Wall, ..ctx(&e, &e, &e) };
        assert!(lookup(&c, Key::ch('n')).is_none());
        assert!(lookup(&c, Key::ch('w')).is_some());
        assert!(lookup(&c, Key::ch('q')).is_some());
        assert!(entries(&c).all(|(b, _)| b.scope != Scope::Console));
    }
}
