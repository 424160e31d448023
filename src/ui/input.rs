//! Keys → intents, through the keymap of the current mode, so what runs is
//! what help and the hint bar show. Keys a text mode does not bind are
//! typed into its line.

use ratatui::crossterm::event::KeyEvent;

use super::intent::Intent;
use super::keymap::{self, Availability, Key, KeyContext, KeyMode};

/// What a key pressed in `mode` asks for; `None` when it means nothing there.
pub fn intent(mode: KeyMode, ctx: &KeyContext, ev: KeyEvent) -> Option<Intent> {
    let key = Key::from_event(&ev)?;
    let Some(binding) = keymap::lookup_in(mode, ctx, key) else {
        return mode.edits_text().then_some(Intent::Edit(ev));
    };
    Some(match binding.availability(ctx) {
        Availability::Enabled => Intent::Run(binding.command),
        Availability::Disabled(why) => {
            Intent::Unavailable { key, description: binding.describe(ctx).into_owned(), why }
        }
    })
}

#[cfg(test)]
mod tests {
    use ratatui::crossterm::event::{KeyCode, KeyModifiers};

    use super::super::keymap::{Command, View};
    use super::*;

    fn ctx(a: &Availability) -> KeyContext<'_> {
        KeyContext {
            view: View::Console,
            demo: false,
            read_only: false,
            filtering: false,
            flows: 1,
            paused: false,
            drill_running: false,
            run_step: a,
            confirm: a,
            abort: a,
        }
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn each_mode_reads_keys_through_its_own_bindings() {
        let none = Availability::Disabled("no drill running".into());
        let c = ctx(&none);
        let q = key(KeyCode::Char('q'));
        assert_eq!(intent(KeyMode::Normal, &c, q), Some(Intent::Run(Command::Quit)));
        assert_eq!(intent(KeyMode::Help, &c, q), Some(Intent::Run(Command::Close)));
        assert_eq!(intent(KeyMode::Command, &c, q), Some(Intent::Edit(q)));
        assert_eq!(intent(KeyMode::Confirm, &c, q), None, "a question ignores other keys");
        assert_eq!(intent(KeyMode::Confirm, &c, key(KeyCode::Char('y'))), Some(Intent::Run(Command::Yes)));
        assert_eq!(intent(KeyMode::Confirm, &c, key(KeyCode::Enter)), None, "Enter alone never says yes");
        assert_eq!(
            intent(KeyMode::ConfirmTyped, &c, key(KeyCode::Char('y'))),
            Some(Intent::Edit(key(KeyCode::Char('y'))))
        );
        assert_eq!(intent(KeyMode::Filter, &c, key(KeyCode::Esc)), Some(Intent::Run(Command::Cancel)));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(intent(KeyMode::Filter, &c, ctrl_c), Some(Intent::Run(Command::Quit)));
    }

    #[test]
    fn an_unavailable_key_says_why() {
        let none = Availability::Disabled("no drill running".into());
        let got = intent(KeyMode::Normal, &ctx(&none), key(KeyCode::Char('n')));
        assert_eq!(
            got,
            Some(Intent::Unavailable {
                key: Key::ch('n'),
                description: "run the current drill step's action".into(),
                why: "no drill running".into()
            })
        );
    }
}
