//! kdrill carries out a whole switchover and failback on the real lab by
//! itself: the console is driven by keys only (`n`, the side's name typed,
//! Enter; `c` for the manual items), its executor sends the requests it
//! previewed (the sample app through configured commands, MM2 through
//! Kafka Connect's REST API), every step completes only when observed,
//! and an independent verifier (`scripts/lab verify`, Python and Kafka's
//! own console consumer) proves nothing was lost or duplicated.

mod support;

use std::time::Duration;

use kdrill::drill::DrillEvent;
use kdrill::model::{Flow, Side};
use support::console::Console;

/// The lab, driven through Connect REST (connectors stopped, workers kept)
/// and commands.
fn config() -> kdrill::config::Config {
    let root = &support::lab().root;
    let lab = root.join("scripts").join("lab");
    let lab = lab.display();
    support::lab_config(&format!(
        r#"
[clusters.dc.app_commands]
stop = ["{lab}", "apps", "stop", "dc"]
start = ["{lab}", "apps", "start", "dc"]
timeout = "3m"
[clusters.dr.app_commands]
stop = ["{lab}", "apps", "stop", "dr"]
start = ["{lab}", "apps", "start", "dr"]
timeout = "3m"
[[mm2]]
source = "dc"
target = "dr"
connect_url = "http://127.0.0.1:28083"
[[mm2]]
source = "dr"
target = "dc"
connect_url = "http://127.0.0.1:18083"
{apps}
{timing}"#,
        apps = support::LAB_APPS,
        timing = support::LAB_DRILL_TIMING
    ))
}

fn lab(args: &[&str]) -> String {
    support::lab().run(args, Duration::from_secs(240)).unwrap_or_else(|e| panic!("{e}"))
}

/// Puts the lab back as `scripts/lab up` leaves it, also when the test fails.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let l = support::lab();
        // DR→DC's connectors stay STOPPED in its config topic: the next
        // `--stopped` start finds them so (a plain start resumes them).
        for args in [
            &["apps", "stop", "dc"][..],
            &["apps", "stop", "dr"],
            &["mm2", "stop", "dr-dc"],
            &["mm2", "start", "dc-dr"],
        ] {
            if let Err(e) = l.run(args, Duration::from_secs(240)) {
                eprintln!("restoring the lab: {e}");
            }
        }
    }
}

#[test]
fn kdrill_alone_switches_over_and_fails_back_through_connect_rest_and_commands_losing_nothing() {
    let _lab = support::exclusive();
    let _restore = Restore;
    // The reverse flow's worker runs with its connectors stopped (created
    // stopped if new): "stopped" means connectors stopped for this backend.
    let since_ms = chrono::Utc::now().timestamp_millis();
    lab(&["mm2", "start", "dr-dc", "--stopped"]);
    lab(&["apps", "start", "dc"]);

    let mut c = Console::start(config(), false);
    c.wait("DC active, DC→DR flowing, DR→DC stopped", 120, |c| {
        c.app.assessment().is_some_and(|a| {
            a.active_side() == Some(Side::Dc)
                && a.mm2.iter().any(|m| m.flow == Flow::DC_TO_DR && m.flowing.is_yes())
                && a.mm2.iter().any(|m| m.flow == Flow::DR_TO_DC && m.running.is_no())
        })
    });

    c.command("switchover");
    c.drive(600);
    assert!(c.app.drill().is_some_and(|d| d.is_finished()), "{}", c.state());
    let switchover = c.timeline();
    // Started at the ends, the reverse flow was observed copying nothing back.
    assert!(!c.journal.iter().any(|e| matches!(e, DrillEvent::CopyBackObserved { .. })), "{:#?}", c.journal);
    assert_eq!(c.app.assessment().and_then(|a| a.active_side()), Some(Side::Dr));
    // The reverse flow started where DC→DR's data ended on DR: its offsets
    // were set on the stopped connector, read back, then it was resumed.
    let ended = c.journal.iter().find_map(|e| match e {
        DrillEvent::MirrorEnded { flow, ends, unknown: None, .. } if *flow == Flow::DC_TO_DR => Some(ends.clone()),
        _ => None,
    });
    let ended = ended.unwrap_or_else(|| panic!("where DC→DR ended was not recorded: {:#?}", c.journal));
    let count = |topic: &str| ended.iter().filter(|e| &*e.topic == topic).count();
    assert_eq!((count("orders"), count("redis-writes")), (6, 12), "every partition of the apps' topics recorded");
    let start_mm2 = c.journal.iter().rev().find_map(|e| match e {
        DrillEvent::ActionOutcome { step: 6, ok: true, results, .. } => Some(results.clone()),
        _ => None,
    });
    let start_mm2 = start_mm2.unwrap_or_else(|| panic!("no outcome of step 7: {:#?}", c.journal));
    assert!(start_mm2.iter().any(|r| {
        r.request.starts_with("PATCH http://127.0.0.1:18083/connectors/dr-%3Edc.MirrorSourceConnector/offsets") && r.ok
    }));
    assert!(start_mm2.iter().any(|r| {
        r.request.starts_with("GET http://127.0.0.1:18083/connectors/dr-%3Edc.MirrorSourceConnector/offsets") && r.ok
    }));
    // The journal keeps the exact requests and what was typed.
    assert!(
        c.journal
            .iter()
            .any(|e| matches!(e, DrillEvent::ActionRequested { step: 1, requests, confirmed_as: Some(t), .. }
        if t == "DC" && requests.iter().any(|r| r.contains("apps stop dc"))))
    );

    c.command("failback");
    c.drive(600);
    assert!(c.app.drill().is_some_and(|d| d.is_finished()), "{}", c.state());
    assert_eq!(c.app.assessment().and_then(|a| a.active_side()), Some(Side::Dc));
    eprintln!("switchover:\n  {}\nfailback:\n  {}", switchover.join("\n  "), c.timeline().join("\n  "));

    // Everything written on either side is on both, once, in order.
    lab(&["apps", "stop", "dc"]);
    let report = support::verify_runs_since(since_ms);
    assert_eq!(report["totals"]["duplicates"], serde_json::json!(0), "{report:#}");
}
