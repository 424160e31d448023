//! Keys → commands, per mode. Normal keys go through the keymap (so what
//! runs is what help and the hint bar show); the command line, the filter
//! line, help and confirmation popups take their own few keys.

use ratatui::crossterm::event::{Event, KeyCode, KeyEvent};
use tui_input::backend::crossterm::EventHandler;

use super::app::{App, Confirm, Mode};
use super::commands;
use super::eventlog::Tone;
use super::keymap::{self, Availability, Key};
use super::prepared::Filter;

pub fn handle_key(app: &mut App, ev: KeyEvent) {
    let Some(key) = Key::from_event(&ev) else { return };
    let mode = std::mem::replace(&mut app.mode, Mode::Normal);
    app.mode = match mode {
        Mode::Normal => {
            normal(app, key);
            return;
        }
        Mode::Confirm(c) => return confirm(app, c, key),
        _ if key == Key::ctrl('c') => {
            commands::quit(app);
            return;
        }
        Mode::Help { scroll } => help(key, scroll),
        Mode::Command(mut input) => match key.code {
            KeyCode::Esc => Mode::Normal,
            KeyCode::Enter => {
                commands::execute(app, input.value());
                return;
            }
            KeyCode::Tab => {
                let done = commands::complete(input.value());
                Mode::Command(input.with_value(done))
            }
            KeyCode::Backspace if input.value().is_empty() => Mode::Normal,
            _ => {
                input.handle_event(&Event::Key(ev));
                Mode::Command(input)
            }
        },
        Mode::Filter { mut input, before } => match key.code {
            KeyCode::Esc => {
                app.filter = before;
                app.filter_error = None;
                app.prepare();
                Mode::Normal
            }
            KeyCode::Enter => {
                if let Some(e) = app.filter_error.take() {
                    app.note(Tone::Warn, format!("{e}; the previous filter stays"));
                }
                Mode::Normal
            }
            _ => {
                input.handle_event(&Event::Key(ev));
                set_filter(app, input.value());
                Mode::Filter { input, before }
            }
        },
    };
}

fn normal(app: &mut App, key: Key) {
    let ctx = app.key_context();
    let Some(binding) = keymap::lookup(&ctx, key) else { return };
    match binding.availability(&ctx) {
        Availability::Enabled => commands::run(app, binding.command),
        Availability::Disabled(why) => {
            let text = format!("{}: {} — {why}", key.label(), binding.describe(&ctx));
            app.note(Tone::Warn, text);
        }
    }
}

fn confirm(app: &mut App, what: Confirm, key: Key) {
    let yes = matches!(key.code, KeyCode::Char('y' | 'Y') | KeyCode::Enter) && !key.ctrl;
    let no = matches!(key.code, KeyCode::Char('n' | 'N') | KeyCode::Esc) && !key.ctrl;
    match what {
        _ if yes => commands::confirmed(app, what),
        _ if no => app.mode = Mode::Normal,
        Confirm::Quit if key == Key::ctrl('c') => commands::confirmed(app, Confirm::Quit),
        Confirm::Abort if key == Key::ctrl('c') => app.mode = Mode::Confirm(Confirm::Quit),
        _ => app.mode = Mode::Confirm(what),
    }
}

fn help(key: Key, scroll: usize) -> Mode {
    match key.code {
        KeyCode::Esc | KeyCode::Char('?' | 'q') => Mode::Normal,
        KeyCode::Down | KeyCode::Char('j') => Mode::Help { scroll: scroll + 1 },
        KeyCode::Up | KeyCode::Char('k') => Mode::Help { scroll: scroll.saturating_sub(1) },
        KeyCode::PageDown => Mode::Help { scroll: scroll + 10 },
        KeyCode::PageUp => Mode::Help { scroll: scroll.saturating_sub(10) },
        _ => Mode::Help { scroll },
    }
}

/// Applies the filter as typed; a bad regex is shown and the last good
/// filter stays in force.
fn set_filter(app: &mut App, text: &str) {
    match Filter::parse(text) {
        Ok(f) => {
            app.filter = f;
            app.filter_error = None;
            app.prepare();
        }
        Err(e) => app.filter_error = Some(e),
    }
}
