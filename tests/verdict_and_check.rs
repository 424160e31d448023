//! The header's verdict and `kdrill check` read the same facts: driven
//! through every demo fault, the header calls the pair fine exactly when
//! `check` exits 0, and `check --json` carries the assessment's typed facts
//! under stable names.

use chrono::{TimeDelta, TimeZone, Utc};
use kdrill::action::{Action, Fault};
use kdrill::assess::{Assessment, Assessor, Level, Standing};
use kdrill::check;
use kdrill::config::Settings;
use kdrill::demo::{DemoWorld, demo_settings};
use kdrill::model::{Flow, Side, Ts};
use serde_json::Value;

fn start() -> Ts {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).single().unwrap_or_default()
}

struct Sim {
    world: DemoWorld,
    assessor: Assessor,
    a: Assessment,
}

impl Sim {
    /// A demo world past its warm-up (rates need history).
    fn warm(seed: u64, settings: Settings) -> Sim {
        let world = DemoWorld::new(seed, start());
        let mut assessor = Assessor::new(settings);
        let a = assessor.assess(&world.observe(), world.now());
        let mut s = Sim { world, assessor, a };
        for _ in 0..12 {
            s.tick();
        }
        s
    }

    fn tick(&mut self) {
        self.world.advance(TimeDelta::seconds(1));
        self.a = self.assessor.assess(&self.world.observe(), self.world.now());
    }

    fn toggle(&mut self, f: Fault) {
        if let Err(why) = self.world.apply(&Action::Fault(f)) {
            panic!("{} refused: {why}", f.as_str());
        }
    }

    fn json(&self) -> Value {
        serde_json::to_value(check::report(&self.a)).unwrap_or_default()
    }
}

/// The header and `check` agree: fine (● or ▲) exactly when exit 0; an
/// unknown header means "could not observe" (2); exit 1 is always an alarm.
fn assert_agree(a: &Assessment, context: &str) {
    let exit = check::exit_code(a);
    let level = a.verdict.level;
    let fine = matches!(level, Level::Ok | Level::Warn);
    assert_eq!(fine, exit == 0, "{context}: header {level:?} «{}» but check exits {exit}", a.verdict.text);
    if level == Level::Unknown {
        assert_eq!(exit, 2, "{context}: header unknown «{}»", a.verdict.text);
    }
    if exit == 1 {
        assert_eq!(level, Level::Alarm, "{context}: check fails but header «{}»", a.verdict.text);
    }
    assert_eq!(check::report(a).exit_code, exit, "{context}: the report's exit code is the verdict's");
}

#[test]
fn header_verdict_and_check_exit_code_agree_on_every_demo_fault() {
    for (k, fault) in Fault::ALL.into_iter().enumerate() {
        let mut s = Sim::warm(40 + k as u64, demo_settings());
        assert_agree(&s.a, "steady state");
        assert_eq!(check::exit_code(&s.a), 0, "steady state: {}", s.a.verdict.text);
        s.toggle(fault);
        let mut seen = Vec::new();
        // Long enough for a cut-off side to go stale and a burst to peak.
        for t in 1..=45 {
            s.tick();
            assert_agree(&s.a, &format!("{} on, {t} s", fault.as_str()));
            seen.push(s.a.verdict.standing);
        }
        if fault != Fault::ProduceBurst {
            s.toggle(fault);
        }
        for t in 1..=45 {
            s.tick();
            assert_agree(&s.a, &format!("{} off, {t} s", fault.as_str()));
        }
        match fault {
            Fault::CutOffDc => assert!(seen.contains(&Standing::Unobserved), "DC cut off but always observed"),
            Fault::StrayConsumer | Fault::Bidirectional => {
                assert!(seen.contains(&Standing::Fails), "{} broke no rule", fault.as_str())
            }
            _ => {}
        }
    }
}

#[test]
fn lag_above_the_threshold_is_an_alarm_in_the_header_and_for_check() {
    let settings = Settings { lag_alarm_records: 50, ..demo_settings() };
    let mut s = Sim::warm(50, settings);
    s.toggle(Fault::ProduceBurst);
    let mut above = false;
    for _ in 0..20 {
        s.tick();
        assert_agree(&s.a, "burst");
        let live = s.a.live_lag().map(|l| l.level.as_str());
        if live == Some("above") {
            above = true;
            assert_eq!(s.a.verdict.level, Level::Alarm, "{}", s.a.verdict.text);
            assert!(s.a.verdict.text.contains("above 50"), "{}", s.a.verdict.text);
            assert_eq!(check::exit_code(&s.a), 1);
            let json = s.json();
            assert_eq!(json["lag"][0]["level"], "above");
            assert_eq!(json["standing"], "fails");
            assert_eq!(json["level"], "alarm");
        }
    }
    assert!(above, "a burst of thousands of records never crossed 50");
}

#[test]
fn check_json_carries_the_typed_facts_under_stable_names() {
    let mut s = Sim::warm(51, demo_settings());
    let json = s.json();
    assert_eq!(json["level"], "ok", "{json}");
    assert_eq!(json["standing"], "holds");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["live_flow"], Flow::DC_TO_DR.to_string());
    let dc_groups = json["sides"][0]["groups"].as_array().cloned().unwrap_or_default();
    let class_of = |id: &str| dc_groups.iter().find(|g| g["group"] == id).map(|g| g["class"].clone());
    assert_eq!(class_of("orders-service"), Some(Value::from("app")), "{dc_groups:?}");
    assert!(dc_groups.iter().all(|g| ["app", "plumbing", "mm2", "other"].contains(&g["class"].as_str().unwrap_or(""))));
    let lag = &json["lag"][0];
    assert_eq!(lag["flow"], Flow::DC_TO_DR.to_string());
    assert_eq!(lag["live"], true);
    assert_eq!(lag["level"], "within");
    assert!(lag["unknown_because"].is_null());
    let mm2 = &json["mm2"][0];
    assert_eq!(mm2["stale"], false);
    assert!(mm2["observed_at"].is_string(), "{mm2}");
    assert_eq!(mm2["cr_ready"], true);
    assert!(mm2["problems"].as_array().is_some_and(|p| p.is_empty()));

    s.toggle(Fault::FailMm2Task);
    for _ in 0..5 {
        s.tick();
    }
    let json = s.json();
    let kinds: Vec<String> = json["mm2"][0]["problems"]
        .as_array()
        .map(|p| p.iter().filter_map(|p| p["kind"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    assert!(kinds.contains(&"task-failed".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"ready-while-failed".to_owned()), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("ready-while-failed"), "the state it points at comes first");
    s.toggle(Fault::FailMm2Task);

    s.toggle(Fault::StrayConsumer);
    for _ in 0..6 {
        s.tick();
    }
    let json = s.json();
    assert_eq!(json["violations"][0]["id"], "apps-on-both-sides", "{}", json["violations"]);
    assert_eq!(json["standing"], "fails");

    s.toggle(Fault::StrayConsumer);
    s.toggle(Fault::CutOffDc);
    for _ in 0..40 {
        s.tick();
    }
    let json = s.json();
    assert_eq!(json["standing"], "unobserved");
    assert_eq!(json["exit_code"], 2);
    let dr_to_dc = json["mm2"].as_array().and_then(|m| m.iter().find(|m| m["flow"] == Flow::DR_TO_DC.to_string()));
    assert_eq!(dr_to_dc.map(|m| m["stale"].clone()), Some(Value::Bool(true)), "MM2 on DC ages into stale");
}

#[test]
fn the_live_flow_follows_running_mm2_then_the_active_side() {
    let mut s = Sim::warm(52, demo_settings());
    assert_eq!(s.a.live_flow, Some(Flow::DC_TO_DR), "MM2 DC→DR runs");
    let act = |s: &mut Sim, action: Action, secs: u32| {
        if let Err(why) = s.world.apply(&action) {
            panic!("{action:?} refused: {why}");
        }
        for _ in 0..secs {
            s.tick();
        }
    };
    act(&mut s, Action::StopApps(Side::Dc), 15);
    act(&mut s, Action::StopMm2(Flow::DC_TO_DR), 15);
    assert!(s.a.mm2.iter().all(|m| m.running.is_no()), "{:?}", s.a.verdict);
    assert_eq!(s.a.live_flow, Some(Flow::DC_TO_DR), "nothing runs, nothing active: the first flow");
    act(&mut s, Action::StartApps(Side::Dr), 15);
    assert_eq!(s.a.active_side(), Some(Side::Dr));
    assert_eq!(s.a.live_flow, Some(Flow::DR_TO_DC), "MM2 stopped: the flow leaving the active side");
    assert_eq!(s.json()["live_flow"], Flow::DR_TO_DC.to_string());
}
