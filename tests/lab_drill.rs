//! The runbook played on real Kafka: two real KRaft clusters, a real
//! MirrorMaker 2 on Kafka Connect and a real application (`scripts/lab`),
//! observed by kdrill's real collector, judged by its assessment and gated by
//! its drill engine. Each step is performed the way an operator would (with
//! `scripts/lab`), and the test asserts that kdrill's gates open only after
//! what they need was observed for the hold window — and close when a broker
//! dies.
//!
//! One test, run in order under the exclusive lab lock: it moves the
//! applications and MM2 between sides, which every other lab scenario
//! would notice.

mod support;

use std::time::Duration;

use chrono::Utc;
use kdrill::assess::{Assessment, Assessor, Condition, Health, Role, Rule, Truth, evaluate};
use kdrill::collect::WorldLink;
use kdrill::config::Config;
use kdrill::drill::{Drill, DrillEvent, PlanKind};
use kdrill::model::{Flow, Link, Side};

/// kdrill's collector and judgement, stepped by the test.
struct Observer {
    /// Runs the collector; kept alive for the test's length.
    _rt: tokio::runtime::Runtime,
    link: WorldLink,
    assessor: Assessor,
    drill: Option<Drill>,
    events: Vec<DrillEvent>,
    last: Option<Assessment>,
    hold: chrono::TimeDelta,
}

impl Observer {
    fn start(cfg: Config) -> Observer {
        let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => panic!("cannot start a runtime: {e}"),
        };
        let hold = cfg.settings.hold_window;
        let assessor = Assessor::new(cfg.settings.clone());
        let link = {
            let _guard = rt.enter();
            kdrill::collect::kafka::spawn(cfg)
        };
        Observer { _rt: rt, link, assessor, drill: None, events: Vec::new(), last: None, hold }
    }

    /// One observation: the latest snapshot judged now, fed to the drill.
    fn step(&mut self) -> &Assessment {
        std::thread::sleep(Duration::from_millis(250));
        let snap = self.link.snapshots.borrow().clone();
        let a = self.assessor.assess(&snap, Utc::now());
        if let Some(d) = &mut self.drill {
            self.events.extend(d.observe(&a));
        }
        self.last.insert(a)
    }

    /// Steps until `pred` holds, or fails naming `what` and the last verdict.
    fn wait(&mut self, what: &str, secs: u64, pred: impl Fn(&Assessment, &[DrillEvent]) -> bool) -> Assessment {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            self.step();
            if let Some(a) = &self.last {
                if pred(a, &self.events) {
                    return a.clone();
                }
                if std::time::Instant::now() >= deadline {
                    let blocked = self.drill.as_ref().and_then(|d| d.view().blocked);
                    panic!(
                        "timed out after {secs} s waiting for {what}\nverdict: {}\ndrill: {blocked:?}",
                        a.verdict.text
                    );
                }
            }
        }
    }

    fn start_drill(&mut self, kind: PlanKind) {
        let d = Drill::start(kind, self.hold, &self.assessor.settings.infra_checklist, Utc::now());
        self.events = d.events().to_vec();
        self.drill = Some(d);
    }

    /// Waits for step `n` (0-based) to complete; returns when it did.
    fn step_done(&mut self, n: usize, secs: u64) -> chrono::DateTime<Utc> {
        let title = self.drill.as_ref().map(|d| d.plan().steps[n].title.clone()).unwrap_or_default();
        self.wait(&format!("step {} ({title}) to complete", n + 1), secs, |_, ev| completed_at(ev, n).is_some());
        completed_at(&self.events, n).unwrap_or_else(Utc::now)
    }

    /// Waits for step `n`, which starts MM2 back, to complete. `scripts/lab`
    /// starts the flow from its own committed offsets: where it was seen
    /// copying back, the operator reads the figure and accepts it typed.
    /// Returns the figure accepted, if any.
    fn reverse_start_done(&mut self, n: usize, secs: u64) -> Option<u64> {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        let mut accepted = None;
        while completed_at(&self.events, n).is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "step {} not done within {secs} s: {:?}",
                n + 1,
                self.blocked()
            );
            self.step();
            let seen = self.events.iter().find_map(|e| match e {
                DrillEvent::CopyBackObserved { step, records, .. } if *step == n => Some(*records),
                _ => None,
            });
            if let (None, Some(seen), Some(d), Some(a)) = (accepted, seen, self.drill.as_mut(), self.last.as_ref()) {
                let figure = d.copy_back_to_accept(a).map(|(_, n)| n);
                assert_eq!(figure, Ok(seen), "the figure offered is the one observed");
                match d.accept_copy_back(a, &seen.to_string()) {
                    Ok(ev) => self.events.push(ev),
                    Err(e) => panic!("accepting {seen}: {e}"),
                }
                accepted = Some(seen);
            }
        }
        accepted
    }

    fn blocked(&self) -> Option<String> {
        self.drill.as_ref().and_then(|d| d.view().blocked)
    }

    fn confirm_all(&mut self) {
        if let Some(d) = &mut self.drill {
            while let Ok(ev) = d.confirm_next(Utc::now()) {
                self.events.push(ev);
            }
        }
    }
}

fn completed_at(events: &[DrillEvent], n: usize) -> Option<chrono::DateTime<Utc>> {
    events.iter().find_map(|e| match e {
        DrillEvent::StepCompleted { step, at, .. } if *step == n => Some(*at),
        _ => None,
    })
}

fn holds(a: &Assessment, c: Condition) -> bool {
    evaluate(&c, a).truth.is_yes()
}

fn lab_cmd(lab: &support::Lab, args: &[&str]) {
    if let Err(e) = lab.run(args, Duration::from_secs(180)) {
        panic!("{e}");
    }
}

#[test]
fn switchover_alarms_broker_loss_and_failback_on_real_kafka() {
    let lab = support::lab();
    let _lock = support::exclusive();
    let cfg = support::lab_example_config();
    // The steady state of the runbook: apps on DC, MM2 on DR (DC→DR).
    lab_cmd(lab, &["apps", "stop", "dr"]);
    lab_cmd(lab, &["mm2", "stop", "dr-dc"]);
    lab_cmd(lab, &["mm2", "start", "dc-dr"]);
    lab_cmd(lab, &["apps", "start", "dc"]);
    let mut o = Observer::start(cfg);

    let a = o.wait("the steady state", 180, |a, _| {
        a.side(Side::Dc).role == Role::Active
            && a.side(Side::Dr).role == Role::Passive
            && a.mm2.iter().any(|m| m.flow == Flow::DC_TO_DR && m.health == Health::Healthy)
            && a.violations.is_empty()
    });
    let m = a.mm2.iter().find(|m| m.flow == Flow::DC_TO_DR);
    assert!(m.is_some_and(|m| m.heartbeat_mirrored_age.is_some_and(|age| age < 10.0)), "mirrored heartbeats fresh");
    assert!(m.is_some_and(|m| m.connectors.len() >= 3), "connectors read from the real status topic");
    o.wait("the sample app's two-member groups on DC", 60, |a, _| {
        a.side(Side::Dc).app_groups().filter(|g| g.members == 2 && g.state == "Stable").count() == 2
    });
    o.wait("a checkpoint for an app group", 60, |a, _| {
        a.mm2.iter().any(|m| m.flow == Flow::DC_TO_DR && m.last_checkpoint_age.is_some())
    });

    // ---- Switchover DC→DR
    o.start_drill(PlanKind::Switchover);
    // The pre-flight passes on the healthy lab, by observation alone.
    o.step_done(0, 90);
    lab_cmd(lab, &["apps", "stop", "dc"]);
    let quiet = o.wait("DC observed without app clients", 60, |a, _| holds(a, Condition::NoAppClients(Side::Dc))).now;
    let done = o.step_done(1, 60);
    assert!(done - quiet >= o.hold - chrono::TimeDelta::seconds(1), "step 2 opened {} after quiet", done - quiet);
    o.step_done(2, 90); // replication drained to 0 with heartbeats flowing
    let a = o.last.clone();
    assert!(a.as_ref().and_then(|a| a.lag_of(Flow::DC_TO_DR)).is_some_and(|l| l.total == Some(0)));
    lab_cmd(lab, &["mm2", "stop", "dc-dr"]);
    o.step_done(3, 60); // no Connect worker in either MM2 group
    o.confirm_all();
    o.step_done(4, 30);
    lab_cmd(lab, &["apps", "start", "dr"]);
    o.step_done(5, 120);
    lab_cmd(lab, &["mm2", "start", "dr-dc"]);
    let accepted = o.reverse_start_done(6, 180);
    eprintln!("switchover: copy-back accepted: {accepted:?}");
    assert!(o.drill.as_ref().is_some_and(Drill::is_finished));
    let broken: Vec<_> = o.events.iter().filter(|e| matches!(e, DrillEvent::RuleViolated { .. })).collect();
    assert!(broken.is_empty(), "the runbook followed breaks no rule: {broken:?}");
    o.drill = None;
    o.wait("DR active, DC passive", 60, |a, _| {
        a.side(Side::Dr).role == Role::Active && a.side(Side::Dc).role == Role::Passive && a.violations.is_empty()
    });

    // ---- Alarms: a client on the passive side, MM2 in both directions
    lab_cmd(lab, &["apps", "start", "dc"]);
    o.wait("the split-brain alarm", 60, |a, _| a.violations.iter().any(|v| v.rule == Rule::AppsOnBothSides));
    lab_cmd(lab, &["apps", "stop", "dc"]);
    o.wait("the split brain to clear", 60, |a, _| !a.violations.iter().any(|v| v.rule == Rule::AppsOnBothSides));
    lab_cmd(lab, &["mm2", "start", "dc-dr"]);
    o.wait("the bidirectional alarm", 90, |a, _| a.violations.iter().any(|v| v.rule == Rule::Mm2Bidirectional));
    lab_cmd(lab, &["mm2", "stop", "dc-dr"]);
    o.wait("bidirectional to clear", 60, |a, _| !a.violations.iter().any(|v| v.rule == Rule::Mm2Bidirectional));

    // ---- A broker dies mid-drill: gates close, nothing panics, it recovers
    o.start_drill(PlanKind::Failback);
    lab_cmd(lab, &["broker", "kill", "dr"]);
    let a = o.wait("DR unreachable and its data stale", 90, |a, _| {
        matches!(a.side(Side::Dr).link, Link::Down { .. }) && !a.side(Side::Dr).freshness.is_fresh()
    });
    let check = evaluate(&Condition::NoAppClients(Side::Dr), &a);
    assert!(matches!(check.truth, Truth::Unknown(_)), "a dead broker's side is unknown, never quiet: {check:?}");
    assert_eq!(a.side(Side::Dr).role, Role::Unknown);
    assert!(completed_at(&o.events, 0).is_none(), "no step completes on an unreachable side");
    lab_cmd(lab, &["broker", "start", "dr"]);
    o.wait("DR back and active", 120, |a, _| {
        matches!(a.side(Side::Dr).link, Link::Up { .. }) && a.side(Side::Dr).role == Role::Active
    });

    // ---- Failback DR→DC, back to the steady state
    o.step_done(0, 120); // the pre-flight, once DR is back
    lab_cmd(lab, &["apps", "stop", "dr"]);
    o.step_done(1, 60);
    o.step_done(2, 120);
    lab_cmd(lab, &["mm2", "stop", "dr-dc"]);
    o.step_done(3, 60);
    o.confirm_all();
    o.step_done(4, 30);
    // No application and no flow writes either side now: what DR→DC left
    // on DC, and all DR holds, counted with a plain Kafka client.
    let mirror_end = support::records_held(&lab.dc, &APP_TOPICS);
    let dr_before = support::records_held(&lab.dr, &APP_TOPICS);
    lab_cmd(lab, &["apps", "start", "dc"]);
    o.step_done(5, 120);
    // The figures the drill pane shows before DC→DR starts (from the ends
    // the drill recorded when DR→DC stopped), for the application topics:
    // other mirrored topics are copied back too, and counted in the total.
    o.step();
    let shown = o.drill.as_ref().and_then(|d| d.view().failback);
    let figure = shown.as_ref().and_then(|f| {
        let apps = f.partitions.iter().filter(|p| APP_TOPICS.contains(&&*p.topic));
        apps.map(|p| p.copy_back).sum::<Option<u64>>()
    });
    assert!(figure.is_some(), "the drill shows the copy-back before DC→DR starts: {shown:?}");
    lab_cmd(lab, &["mm2", "start", "dc-dr"]);
    let accepted = o.reverse_start_done(6, 180);
    let total = shown.as_ref().and_then(|f| f.copy_back());
    eprintln!("failback: copy-back shown {total:?} ({figure:?} in the application topics), accepted {accepted:?}");
    assert!(o.drill.as_ref().is_some_and(Drill::is_finished));
    o.wait("the steady state again", 60, |a, _| {
        a.side(Side::Dc).role == Role::Active && a.side(Side::Dr).role == Role::Passive && a.violations.is_empty()
    });
    // Leave the lab as `scripts/lab up` made it: MM2 DC→DR, no apps.
    lab_cmd(lab, &["apps", "stop", "dc"]);

    // What DC→DR then copied into DR: the records DC's applications wrote
    // after the failback, and the copy-back, which is the figure shown.
    let settled = |o: &mut Observer| {
        let before = support::records_held(&lab.dr, &APP_TOPICS);
        std::thread::sleep(Duration::from_secs(3));
        let caught_up = o.step().lag_of(Flow::DC_TO_DR).is_some_and(|l| l.total == Some(0));
        caught_up && support::records_held(&lab.dr, &APP_TOPICS) == before
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !settled(&mut o) {
        assert!(std::time::Instant::now() < deadline, "DC→DR did not settle within 120 s");
    }
    let written_on_dc = support::records_held(&lab.dc, &APP_TOPICS) - mirror_end;
    let copied = support::records_held(&lab.dr, &APP_TOPICS) - dr_before - written_on_dc;
    eprintln!("failback: DC→DR copied back {copied} records (figure {figure:?}); DC's apps wrote {written_on_dc}");
    assert_eq!(figure, Some(copied as u64), "the copy-back figure is what the reverse flow copied back");
}

/// The lab application's topics (`examples/lab.toml`).
const APP_TOPICS: [&str; 2] = ["orders", "redis-writes"];
