//! The `:` command line: parses a line into an intent, and completes the
//! command word. What an intent does is the app's update.

use crate::action::Fault;
use crate::drill::PlanKind;

use super::intent::Intent;
use super::keymap::{COMMANDS, Command};

/// What a `:` line asks for; `None` for an empty line. `demo` offers the
/// demo faults.
pub fn parse(line: &str, demo: bool) -> Option<Intent> {
    let mut words = line.split_whitespace();
    let cmd = words.next()?;
    let arg = words.next();
    Some(match cmd {
        "switchover" => Intent::Start(PlanKind::Switchover),
        "failback" => Intent::Start(PlanKind::Failback),
        "abort" => Intent::AskAbort,
        "takeover" => Intent::TakeOver,
        "theme" => match arg {
            Some(name) => Intent::Theme(name.to_owned()),
            None => Intent::Warn("theme: expected dark, light or high-contrast".into()),
        },
        "wall" => Intent::Run(Command::Wall),
        "fault" if !demo => Intent::Warn("fault: only in demo mode".into()),
        "fault" => match arg.and_then(fault_named) {
            Some(f) => Intent::Fault(f),
            None => {
                let names: Vec<String> = Fault::ALL.iter().map(|f| fault_name(*f)).collect();
                Intent::Warn(format!("fault: expected one of {}", names.join(", ")))
            }
        },
        "restart" => match arg.and_then(flow_named) {
            Some(flow) => Intent::Restart(flow),
            None => Intent::Warn(
                "restart: expected dc-dr or dr-dc (the MM2 flow whose failed connectors and tasks to restart)".into(),
            ),
        },
        "override" => Intent::OverridePreflight,
        "accept" => Intent::AcceptCopyBack,
        "help" => Intent::Run(Command::Help),
        "q" | "quit" => Intent::Run(Command::Quit),
        other => {
            let names: Vec<&str> = COMMANDS.iter().map(|(n, _)| *n).collect();
            Intent::Warn(format!("unknown command {other:?}: expected {}", names.join(", ")))
        }
    })
}

/// `dc-dr` → DC→DR.
fn flow_named(name: &str) -> Option<crate::model::Flow> {
    use crate::model::Flow;
    match name.to_ascii_lowercase().as_str() {
        "dc-dr" | "dc->dr" => Some(Flow::DC_TO_DR),
        "dr-dc" | "dr->dc" => Some(Flow::DR_TO_DC),
        _ => None,
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

    #[test]
    fn lines_parse_into_intents() {
        assert_eq!(parse("  ", true), None);
        assert_eq!(parse("switchover", false), Some(Intent::Start(PlanKind::Switchover)));
        assert_eq!(parse("theme light", false), Some(Intent::Theme("light".into())));
        assert_eq!(parse("fault cut-off-dc", true), Some(Intent::Fault(Fault::CutOffDc)));
        assert_eq!(parse("fault cut-off-dc", false), Some(Intent::Warn("fault: only in demo mode".into())));
        assert_eq!(parse("q", false), Some(Intent::Run(Command::Quit)));
        assert!(matches!(parse("frobnicate", false), Some(Intent::Warn(w)) if w.starts_with("unknown command")));
    }
}
