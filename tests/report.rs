//! Drill reports: golden Markdown and JSON from journals recorded on the
//! demo world (a full switchover, an aborted one, one whose replication
//! was stopped early: RPO not zero), RTO and RPO from known timings, the
//! same bytes every time, and no secret anywhere.

mod drill_script;

use chrono::TimeDelta;
use insta::assert_snapshot;
use kdrill::action::Action;
use kdrill::assess::Rule;
use kdrill::drill::journal::{self, Journal, Recovered};
use kdrill::drill::{DrillEvent, Evidence, PlanKind, TopicLag};
use kdrill::model::{Flow, Side, Ts};
use kdrill::report::{self, Outcome, Report};

use drill_script::{Script, alice, records, start};

fn report_of(events: &[DrillEvent]) -> Report {
    let journal = Recovered { records: records(events, &alice()), torn: None };
    report::build(&journal).unwrap_or_else(|e| panic!("{e}"))
}

fn recorded_switchover() -> Vec<DrillEvent> {
    let mut s = Script::new(PlanKind::Switchover, "fnv1a64:0123456789abcdef");
    s.run(600);
    assert!(s.drill.is_finished(), "{:?}", s.drill.view().blocked);
    s.drill.events().to_vec()
}

#[test]
fn a_finished_switchover() {
    let r = report_of(&recorded_switchover());
    assert_eq!(r.outcome, Outcome::Finished);
    assert!(r.rpo.is_zero(), "the runbook's gates leave nothing behind: {:?}", r.rpo);
    assert!(r.rto.ms.is_some_and(|ms| ms > 0));
    assert_eq!(r.rto.operator_ms + r.rto.gate_ms, r.rto.ms.unwrap_or_default());
    assert_eq!(r.operators, vec!["alice@ops-1".to_owned()]);
    assert_snapshot!("finished_switchover_md", report::to_markdown(&r));
    assert_snapshot!("finished_switchover_json", report::to_json(&r));
}

#[test]
fn an_aborted_switchover() {
    let mut s = Script::new(PlanKind::Switchover, "fnv1a64:0123456789abcdef");
    while !s.drill.events().iter().any(|e| matches!(e, DrillEvent::StepCompleted { step: 3, .. })) {
        s.tick();
    }
    s.tick();
    let now = s.world.now();
    assert!(s.drill.abort("aborted by the operator", now).is_some());
    let r = report_of(s.drill.events());
    assert_eq!(r.outcome, Outcome::Aborted { reason: "aborted by the operator".into() });
    assert_eq!(r.rto.ms, None, "applications never started on DR");
    assert!(r.rpo.is_zero());
    assert_snapshot!("aborted_switchover_md", report::to_markdown(&r));
}

#[test]
fn replication_stopped_before_the_drain_shows_what_was_lost() {
    let mut s = Script::new(PlanKind::Switchover, "fnv1a64:0123456789abcdef");
    // The pre-flight passes on the healthy demo; then someone stops MM2 by
    // hand while applications still write on DC.
    s.operator_acts = false;
    while !s.drill.events().iter().any(|e| matches!(e, DrillEvent::StepCompleted { step: 0, .. })) {
        s.tick();
    }
    let _ = s.world.apply(&Action::StopMm2(Flow::DC_TO_DR));
    for _ in 0..5 {
        s.tick();
    }
    s.operator_acts = true;
    s.run(60);
    assert!(!s.drill.is_finished(), "the drain gate cannot open with MM2 stopped");
    let now = s.world.now();
    assert!(s.drill.abort("replication stopped early", now).is_some());
    let r = report_of(s.drill.events());
    assert!(r.rpo.records.is_some_and(|n| n > 0), "{:?}", r.rpo);
    assert!(!r.rpo.is_zero());
    let md = report::to_markdown(&r);
    assert!(md.contains("| RPO | **⚠"), "shown prominently in the summary:\n{md}");
    assert_snapshot!("nonzero_rpo_md", md);
    assert_snapshot!("nonzero_rpo_json", report::to_json(&r));
}

fn t(secs: i64) -> Ts {
    start() + TimeDelta::seconds(secs)
}

/// A switchover with round timings, by hand.
fn timed_switchover() -> Vec<DrillEvent> {
    let ev = |label: &str| vec![Evidence { label: label.into(), observed: "as required".into(), at: None }];
    let done = |step, at, held| DrillEvent::StepCompleted {
        step,
        at: t(at),
        evidence: ev("gate"),
        held_since: Some(t(held)),
        lag: Vec::new(),
    };
    let lag = |topic: &str, records, seconds| TopicLag {
        topic: topic.into(),
        partitions: 3,
        records: Some(records),
        seconds,
        at: Some(t(74)),
    };
    vec![
        DrillEvent::Started {
            plan: PlanKind::Switchover,
            at: t(0),
            hold_ms: 10_000,
            checklist: vec!["DB".into(), "Routing".into(), "DNS".into()],
            config: "fnv1a64:feedfacecafebeef".into(),
            verify_ms: None,
            preflight_lag: None,
        },
        done(0, 10, 0),
        DrillEvent::ActionRequested {
            step: 1,
            action: Action::StopApps(Side::Dc),
            at: t(10),
            requests: vec![],
            confirmed_as: None,
        },
        DrillEvent::ActionOutcome { step: 1, ok: true, detail: "stopping 3 apps".into(), at: t(10), results: vec![] },
        done(1, 40, 28),
        done(2, 60, 50),
        DrillEvent::RuleViolated {
            rule: Rule::AppsOnBothSides,
            subject: String::new(),
            detail: "a stray consumer on DR".into(),
            at: t(62),
        },
        DrillEvent::ActionRequested {
            step: 3,
            action: Action::StopMm2(Flow::DC_TO_DR),
            at: t(70),
            requests: vec![],
            confirmed_as: None,
        },
        DrillEvent::ActionOutcome { step: 3, ok: true, detail: "scaled to 0".into(), at: t(70), results: vec![] },
        DrillEvent::ReplicationStopped {
            flow: Flow::DC_TO_DR,
            lag: vec![lag("orders", 120, Some(4.5)), lag("payments", 0, None)],
            at: t(75),
        },
        DrillEvent::RuleCleared { rule: Rule::AppsOnBothSides, subject: String::new(), at: t(80) },
        done(3, 90, 80),
        DrillEvent::Confirmed { step: 4, item: 0, at: t(100) },
        DrillEvent::Confirmed { step: 4, item: 1, at: t(110) },
        DrillEvent::Confirmed { step: 4, item: 2, at: t(112) },
        done(4, 125, 115),
        DrillEvent::ActionRequested {
            step: 5,
            action: Action::StartApps(Side::Dr),
            at: t(130),
            requests: vec![],
            confirmed_as: None,
        },
        DrillEvent::ActionOutcome { step: 5, ok: true, detail: "starting 3 apps".into(), at: t(131), results: vec![] },
        done(5, 160, 145),
        DrillEvent::ActionRequested {
            step: 6,
            action: Action::StartMm2(Flow::DR_TO_DC),
            at: t(165),
            requests: vec![],
            confirmed_as: None,
        },
        DrillEvent::ActionOutcome { step: 6, ok: false, detail: "timed out".into(), at: t(175), results: vec![] },
        DrillEvent::Aborted { reason: "MM2 would not start".into(), at: t(200) },
    ]
}

#[test]
fn rto_and_rpo_from_known_timings() {
    let r = report_of(&timed_switchover());
    // From the stop requested (10 s) to apps first seen serving on DR (145 s).
    assert_eq!((r.rto.from, r.rto.to, r.rto.ms), (Some(t(10)), Some(t(145)), Some(135_000)));
    // Operators: step 4's request 10 s after it opened, step 5's items 22 s,
    // step 6's request 5 s; the rest waited on gates.
    assert_eq!((r.rto.operator_ms, r.rto.gate_ms), (37_000, 98_000));
    let step = |n: usize| &r.steps[n - 1];
    assert_eq!((step(4).operator_ms, step(4).gate_ms, step(4).duration_ms), (Some(10_000), Some(20_000), Some(30_000)));
    assert_eq!((step(7).done_at, step(7).duration_ms), (None, None));
    assert_eq!((r.rpo.records, r.rpo.seconds, r.rpo.observed_at), (Some(120), Some(4.5), Some(t(75))));
    assert_eq!(r.alarms.len(), 1);
    assert_eq!(r.alarms[0].cleared_at, Some(t(80)));
    assert_eq!(r.confirmations.len(), 3);
    assert!(r.overrides.iter().any(|o| o.contains("step 7") && o.contains("timed out")), "{:?}", r.overrides);
    assert_snapshot!("known_timings_md", report::to_markdown(&r));
}

#[test]
fn the_same_journal_gives_the_same_bytes_through_the_file() {
    let dir = drill_script::temp_dir("report-bytes");
    let path = dir.join("journal.jsonl");
    let events = recorded_switchover();
    let (mut j, _) = Journal::open(&path, alice()).unwrap_or_else(|e| panic!("{e}"));
    for ev in &events {
        j.append(ev).unwrap_or_else(|e| panic!("{e}"));
    }
    let build = || {
        let r =
            report::build(&journal::read(&path).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
        (report::to_markdown(&r), report::to_json(&r))
    };
    let first = build();
    assert_eq!(first, build());
    // The report rests on the events, which the journal keeps exactly.
    let direct = report_of(&events);
    assert_eq!(first.0.split("## Journal").next(), report::to_markdown(&direct).split("## Journal").next());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_secret_reaches_the_journal_or_the_report() {
    const PASSWORD: &str = "s3cret-sasl-Pa55word";
    const TOKEN: &str = "tok-0123-very-secret";
    let dir = drill_script::temp_dir("secrets");
    let password = dir.join("password");
    std::fs::write(&password, PASSWORD).unwrap_or_else(|e| panic!("{e}"));
    let token = dir.join("token");
    std::fs::write(&token, TOKEN).unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        r#"
[clusters.dc]
bootstrap = "dc-1:9093"
properties = {{ "security.protocol" = "SASL_SSL", "sasl.mechanism" = "SCRAM-SHA-512", "sasl.username" = "kdrill" }}
secrets = {{ "sasl.password" = {{ file = "{}" }} }}
[clusters.dr]
bootstrap = "dr-1:9093"
secrets = {{ "sasl.oauthbearer.token" = {{ file = "{}" }} }}
[[mm2]]
source = "dc"
target = "dr"
"#,
        password.display(),
        token.display()
    );
    let cfg = kdrill::config::parse(&text, &dir.join("kdrill.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.cluster(Side::Dc).secrets.get("sasl.password").map(|s| s.expose()), Some(PASSWORD));
    let fingerprint = kdrill::config::fingerprint(&cfg);

    let mut s = Script::new(PlanKind::Switchover, &fingerprint);
    s.run(600);
    let path = dir.join("journal.jsonl");
    let (mut j, _) = Journal::open(&path, alice()).unwrap_or_else(|e| panic!("{e}"));
    for ev in s.drill.events() {
        j.append(ev).unwrap_or_else(|e| panic!("{e}"));
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(written.contains(&fingerprint));
    let r = report::build(&journal::read(&path).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
    for (what, text) in [("journal", written), ("markdown", report::to_markdown(&r)), ("json", report::to_json(&r))] {
        for secret in [PASSWORD, TOKEN] {
            assert!(!text.contains(secret), "the {what} holds a secret");
        }
    }
    // The fingerprint follows non-secret settings, not secret values.
    let other = text.replace("dr-1:9093", "dr-2:9093");
    let other = kdrill::config::parse(&other, &dir.join("kdrill.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(kdrill::config::fingerprint(&other), fingerprint);
    std::fs::write(&password, "another password").unwrap_or_else(|e| panic!("{e}"));
    let same = kdrill::config::parse(&text, &dir.join("kdrill.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kdrill::config::fingerprint(&same), fingerprint);
    let _ = std::fs::remove_dir_all(&dir);
}
