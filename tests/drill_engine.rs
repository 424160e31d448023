//! Pure tests of assessment and of the drill state machine, on hand-built
//! snapshots stepped one virtual second at a time: gates open only after
//! their preconditions held for the hold window, stale data closes them,
//! and rule violations during a drill are raised.

use chrono::{TimeDelta, TimeZone, Utc};
use kdrill::action::Action;
use kdrill::assess::{Assessment, Assessor, Condition, Role, Rule, Truth, evaluate};
use kdrill::config::Settings;
use kdrill::drill::{Drill, DrillEvent, PlanKind, StepState};
use kdrill::model::*;

/// A tiny world: one app topic, an app group, and MM2 deployments both ways.
struct Fixture {
    t: Ts,
    /// Whether apps produce and consume, per side.
    apps: [bool; 2],
    /// Whether MM2 runs, per flow source side (DC→DR, DR→DC).
    mm2: [bool; 2],
    /// Records MM2 is behind, per flow.
    lag: [i64; 2],
    end: [i64; 2],
    /// Sides whose observations stopped (their stamps freeze).
    frozen: [Option<Ts>; 2],
    /// Seconds a side's offsets are read behind the other's (a slow poll):
    /// its stamps and values are those of then.
    late: [usize; 2],
    /// The app group's committed offset on `orders`/0, per side (not read: None).
    committed: [Option<i64>; 2],
    /// `end` at the start and after each step, newest last: what a late read saw.
    past: Vec<[i64; 2]>,
}

impl Fixture {
    fn new() -> Self {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).single().unwrap_or_default();
        let end = [1_000, 1_000];
        Fixture {
            t,
            apps: [true, false],
            mm2: [true, false],
            lag: [0, 0],
            end,
            frozen: [None, None],
            late: [0, 0],
            committed: [None, None],
            past: vec![end],
        }
    }

    fn step(&mut self) -> Snapshot {
        self.t += TimeDelta::seconds(1);
        for side in Side::BOTH {
            let i = side.index();
            if self.apps[i] {
                self.end[i] += 100;
            }
            // What MM2 replicates into this side grows it too.
            let inbound = side.other().index();
            if self.mm2[inbound] && self.apps[inbound] {
                self.end[i] += 100;
            }
        }
        self.past.push(self.end);
        self.snapshot()
    }

    /// Side `i`'s end offset and its stamp as read now.
    fn read(&self, i: usize) -> (i64, Ts) {
        let late = self.late[i];
        let end = self.past[self.past.len().saturating_sub(late + 1)][i];
        (end, self.frozen[i].unwrap_or(self.t) - TimeDelta::seconds(late as i64))
    }

    fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot::empty(self.t, "dc", "dr");
        for side in Side::BOTH {
            let i = side.index();
            let (end, at) = self.read(i);
            let c = s.cluster_mut(side);
            c.link = match self.frozen[i] {
                None => Link::Up { last_ok: at },
                Some(since) => Link::Down { since, last_ok: Some(since), error: "timed out".into() },
            };
            c.brokers = Some(Observed::new(vec![Broker { id: 0, host: "b".into(), port: 9092, up: true }], at));
            let partitions = vec![Partition { id: 0, leader: Some(0), end_offset: Some(end) }];
            let topic = Topic {
                name: "orders".into(),
                partitions,
                replication_factor: Some(3),
                min_insync_replicas: Some(2),
                cleanup_policy: None,
            };
            c.topics = Some(Observed::new(vec![topic], at));
            let members = if self.apps[i] {
                (0..2)
                    .map(|m| Member {
                        member_id: format!("m{m}"),
                        client_id: format!("orders-{m}").into(),
                        host: "/10.0.0.1".into(),
                        assignment: vec![],
                    })
                    .collect()
            } else {
                vec![]
            };
            let state = if members.is_empty() { "Empty" } else { "Stable" };
            let group = Group {
                id: "orders-app".into(),
                state: state.into(),
                protocol_type: "consumer".into(),
                protocol: GroupProtocol::Classic,
                members,
                committed: self.committed[i]
                    .map(|offset| vec![Committed { topic: "orders".into(), partition: 0, offset }]),
            };
            c.groups = Some(Observed::new(vec![group], at));
            let source = side.other();
            let hb = if self.mm2[source.index()] {
                vec![Heartbeat {
                    topic: format!("{}.heartbeats", if source == Side::Dc { "dc" } else { "dr" }),
                    source_alias: "x".into(),
                    target_alias: "y".into(),
                    emitted_at: self.t,
                }]
            } else {
                vec![]
            };
            c.heartbeats = Some(Observed::new(hb, at));
        }
        for source in Side::BOTH {
            let flow = Flow::from(source);
            let i = source.index();
            let running = self.mm2[i];
            let workers = if running { vec![Worker { id: "w".into(), host: "h".into() }] } else { vec![] };
            let task = Task { id: 0, state: ConnectState::Running, worker_id: "w".into(), trace: None };
            let connector = Connector {
                name: format!("{flow}.MirrorSourceConnector"),
                kind: ConnectorKind::Source,
                state: ConnectState::Running,
                target_state: None,
                worker_id: "w".into(),
                trace: None,
                tasks: vec![task],
                settings: None,
            };
            let (end, at) = self.read(i);
            let replicated =
                vec![ReplicatedOffset { topic: "orders".into(), partition: 0, upstream_offset: end - 1 - self.lag[i] }];
            // Workers and connector states are read where the deployment runs.
            let seen = self.frozen[flow.target.index()].unwrap_or(self.t);
            s.mm2.push(Mm2Deployment {
                name: "mm2".into(),
                flow,
                runs_on: flow.target,
                connectors: Some(Observed::new(vec![connector], seen)),
                workers: Some(Observed::new(workers, seen)),
                // A flow that is not running commits no progress.
                replicated: running.then(|| Observed::new(replicated, at)),
            });
        }
        s
    }
}

fn settings() -> Settings {
    Settings { hold_window: TimeDelta::seconds(10), rate_window: TimeDelta::seconds(5), ..Settings::default() }
}

/// Steps the fixture `n` seconds, feeding the drill; returns the last assessment.
fn run(
    fx: &mut Fixture,
    assessor: &mut Assessor,
    drill: &mut Drill,
    n: usize,
    events: &mut Vec<DrillEvent>,
) -> Assessment {
    let mut last = None;
    for _ in 0..n {
        let snap = fx.step();
        let a = assessor.assess(&snap, fx.t);
        events.extend(drill.observe(&a));
        last = Some(a);
    }
    last.unwrap_or_else(|| assessor.assess(&fx.snapshot(), fx.t))
}

/// Steps the steady fixture until the drill's pre-flight (step 1) passes
/// through its own gate, held for the hold window.
fn pass_preflight(fx: &mut Fixture, assessor: &mut Assessor, drill: &mut Drill, events: &mut Vec<DrillEvent>) {
    for _ in 0..60 {
        run(fx, assessor, drill, 1, events);
        if !completed(events).is_empty() {
            break;
        }
    }
    assert_eq!(completed(events), vec![0], "the pre-flight passes on the steady fixture: {:?}", drill.view().blocked);
}

fn completed(events: &[DrillEvent]) -> Vec<usize> {
    events
        .iter()
        .filter_map(|e| if let DrillEvent::StepCompleted { step, .. } = e { Some(*step) } else { None })
        .collect()
}

#[test]
fn steady_state_roles_and_no_violations() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut a = assessor.assess(&fx.step(), fx.t);
    for _ in 0..6 {
        a = assessor.assess(&fx.step(), fx.t);
    }
    assert_eq!(a.side(Side::Dc).role, Role::Active);
    assert_eq!(a.side(Side::Dr).role, Role::Passive, "growth on DR is all MM2's, so DR is passive");
    assert!(a.violations.is_empty(), "{:?}", a.violations);
    assert_eq!(a.lag_of(Flow::DC_TO_DR).and_then(|l| l.total), Some(0));
}

#[test]
fn a_source_read_late_does_not_make_mm2_writes_look_like_an_application() {
    // DC's poll runs 3 s behind DR's (a loaded machine): over DR's window,
    // DC and MM2's progress are known only up to DC's last read, never
    // assumed flat after it.
    let mut fx = Fixture::new();
    fx.late = [3, 0];
    let mut assessor = Assessor::new(settings());
    for _ in 0..4 {
        assessor.assess(&fx.step(), fx.t);
    }
    for _ in 0..12 {
        let a = assessor.assess(&fx.step(), fx.t);
        let dr = a.side(Side::Dr);
        assert!(!dr.producing.is_yes(), "at {}: DR judged producing: {:?}", fx.t, dr.topics);
        assert!(a.violations.is_empty(), "{:?}", a.violations);
    }
    let a = assessor.assess(&fx.step(), fx.t);
    assert_eq!(a.side(Side::Dr).role, Role::Passive, "all of DR's growth is still MM2's");
}

#[test]
fn mm2_writes_into_a_side_whose_source_was_never_observed_are_not_taken_for_an_application() {
    // DC refuses kdrill (a wrong password) while MM2 replicates into DR
    // and commits its progress in steps (`offset.flush.interval.ms`): how
    // much MM2 could have written is unknown, so DR's growth is not an
    // application's, and no rule breaks on it.
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut committed = None;
    let refused_since = fx.t;
    for n in 0..16 {
        let mut snap = fx.step();
        let dc = snap.cluster_mut(Side::Dc);
        dc.link = Link::Down { since: refused_since, last_ok: None, error: "authentication failed".into() };
        (dc.brokers, dc.topics, dc.groups, dc.heartbeats) = (None, None, None, None);
        let flush = snap.mm2.iter_mut().find(|d| d.flow == Flow::DC_TO_DR).and_then(|d| d.replicated.as_mut());
        for r in flush.into_iter().flat_map(|r| r.value.iter_mut()) {
            if n % 5 == 0 {
                committed = Some(r.upstream_offset);
            }
            r.upstream_offset = committed.unwrap_or(r.upstream_offset);
        }
        let a = assessor.assess(&snap, fx.t);
        let dr = a.side(Side::Dr);
        assert!(!dr.producing.is_yes(), "at {n} s: DR judged producing: {:?}", dr.topics);
        assert!(a.violations.is_empty(), "at {n} s: {:?}", a.violations);
    }
}

#[test]
fn a_connected_group_behind_whose_commits_stopped_is_stalled_and_a_person_is_needed() {
    use kdrill::assess::Standing;
    let mut fx = Fixture::new();
    let settings = Settings { stall_after: TimeDelta::seconds(30), ..settings() };
    let mut assessor = Assessor::new(settings);
    let stalled = |a: &Assessment| a.side(Side::Dc).groups.iter().find(|g| g.id == "orders-app")?.stalled_since;
    // Committing as it consumes: behind by a moment, never stalled.
    for _ in 0..40 {
        fx.committed[0] = Some(fx.end[0] - 50);
        let a = assessor.assess(&fx.step(), fx.t);
        assert_eq!(stalled(&a), None);
        assert_eq!(a.verdict.standing, Standing::Holds, "{}", a.verdict.text);
    }
    // Its commits stop while its members stay and the topic grows.
    let stuck_at = fx.t;
    for n in 1..=40 {
        let a = assessor.assess(&fx.step(), fx.t);
        match n {
            ..30 => assert_eq!(stalled(&a), None, "not before stall_after ({n} s)"),
            _ => {
                assert_eq!(stalled(&a), Some(stuck_at), "since its last commit ({n} s)");
                assert_eq!(a.verdict.standing, Standing::Fails);
                assert!(a.verdict.text.contains("group orders-app on DC stalled for"), "{}", a.verdict.text);
            }
        }
    }
    // Caught up on an idle topic, nothing to commit: not stalled. Nor is a
    // group whose members left.
    fx.apps = [false, false];
    fx.committed[0] = Some(fx.end[0]);
    let a = assessor.assess(&fx.step(), fx.t);
    assert_eq!(stalled(&a), None);
}

#[test]
fn rates_are_unknown_until_history_exists() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let a = assessor.assess(&fx.step(), fx.t);
    assert!(matches!(a.side(Side::Dc).producing, Truth::Unknown(_)), "one sample cannot show a rate");
    assert_eq!(a.side(Side::Dc).role, Role::Active, "consumers alone already show DC active");
}

#[test]
fn gate_opens_only_after_the_hold_window() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(10), &[], fx.t);
    pass_preflight(&mut fx, &mut assessor, &mut drill, &mut events);
    run(&mut fx, &mut assessor, &mut drill, 6, &mut events);
    assert_eq!(completed(&events), vec![0], "apps still run on DC");

    fx.apps[Side::Dc.index()] = false;
    // The rate window (5 s) must pass before "no producers" is observed,
    // then the hold window (10 s) before the step completes.
    let a = run(&mut fx, &mut assessor, &mut drill, 14, &mut events);
    assert_eq!(completed(&events), vec![0], "step 2 completed before its hold window: {events:?}");
    assert!(evaluate(&Condition::NoAppClients(Side::Dc), &a).truth.is_yes());
    run(&mut fx, &mut assessor, &mut drill, 2, &mut events);
    assert_eq!(completed(&events), vec![0, 1]);
}

#[test]
fn a_flicker_restarts_the_hold() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(10), &[], fx.t);
    pass_preflight(&mut fx, &mut assessor, &mut drill, &mut events);
    fx.apps[0] = false;
    run(&mut fx, &mut assessor, &mut drill, 12, &mut events);
    // A consumer comes back for one observation.
    fx.apps[0] = true;
    let snap = fx.snapshot();
    let a = assessor.assess(&snap, fx.t);
    drill.observe(&a);
    fx.apps[0] = false;
    run(&mut fx, &mut assessor, &mut drill, 8, &mut events);
    assert_eq!(completed(&events), vec![0], "the hold must restart after a flicker");
    run(&mut fx, &mut assessor, &mut drill, 12, &mut events);
    assert_eq!(completed(&events), vec![0, 1]);
}

#[test]
fn stale_observations_close_the_gate() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(10), &[], fx.t);
    fx.apps[0] = false;
    run(&mut fx, &mut assessor, &mut drill, 8, &mut events);
    // DC stops answering: its last data said "no clients", but it ages.
    fx.frozen[0] = Some(fx.t);
    let a = run(&mut fx, &mut assessor, &mut drill, 40, &mut events);
    assert!(completed(&events).is_empty(), "a gate must not open on stale data: {events:?}");
    let check = evaluate(&Condition::NoAppClients(Side::Dc), &a);
    assert!(matches!(check.truth, Truth::Unknown(ref why) if why.contains("stale")), "{check:?}");
    assert_eq!(a.side(Side::Dc).role, Role::Unknown);
    let view = drill.view();
    assert!(view.blocked.as_deref().is_some_and(|b| b.contains("stale")), "{:?}", view.blocked);
}

#[test]
fn drain_gate_needs_zero_lag_and_flowing_mm2() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    fx.apps[0] = false;
    fx.lag[0] = 250;
    let mut a = assessor.assess(&fx.step(), fx.t);
    for _ in 0..3 {
        a = assessor.assess(&fx.step(), fx.t);
    }
    let check = evaluate(&Condition::LagDrained(Flow::DC_TO_DR), &a);
    assert_eq!(check.truth, Truth::No);
    assert!(check.observed.contains("250 rec"), "{check:?}");
    fx.lag[0] = 0;
    a = assessor.assess(&fx.step(), fx.t);
    assert!(evaluate(&Condition::LagDrained(Flow::DC_TO_DR), &a).truth.is_yes());
    // Zero lag with MM2 stopped proves nothing about what is still to come.
    fx.mm2[0] = false;
    a = assessor.assess(&fx.step(), fx.t);
    assert!(matches!(evaluate(&Condition::LagDrained(Flow::DC_TO_DR), &a).truth, Truth::Unknown(_)));
    assert!(evaluate(&Condition::NoMm2Running, &a).truth.is_yes());
}

#[test]
fn where_a_canary_runs_the_drain_gate_also_needs_its_records_through() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    fx.apps[0] = false;
    // A record a second for 90 s; `seen` says which came through, 300 ms later.
    let with_canary = |fx: &mut Fixture, seen: &dyn Fn(i64) -> bool, problem: Option<&str>| {
        let mut snap = fx.step();
        let sent = (0..90)
            .map(|i| {
                let sent_at = fx.t - TimeDelta::seconds(90 - i);
                let arrived_at = seen(i).then(|| sent_at + TimeDelta::milliseconds(300));
                kdrill::model::CanaryRecord { seq: i as u64 + 1, sent_at, arrived_at }
            })
            .collect();
        let canary = kdrill::model::Canary {
            flow: Flow::DC_TO_DR,
            topic: "kdrill.canary".into(),
            mirror: "kdrill.canary".into(),
            sent,
            problem: problem.map(str::to_owned),
        };
        snap.canaries = vec![kdrill::model::Observed::new(canary, fx.t)];
        snap
    };
    let drained = |a: &Assessment| evaluate(&Condition::LagDrained(Flow::DC_TO_DR), a);
    for _ in 0..4 {
        assessor.assess(&with_canary(&mut fx, &|_| true, None), fx.t);
    }
    let a = assessor.assess(&with_canary(&mut fx, &|_| true, None), fx.t);
    let check = drained(&a);
    assert!(check.truth.is_yes(), "{check:?}");
    assert!(check.observed.contains("canary through 700 ms ago, 0 lost"), "{check:?}");
    // Zero lag, MM2 flowing, but a record sent 85 s ago (past
    // canary_lost_after, 60 s) never came through.
    let a = assessor.assess(&with_canary(&mut fx, &|i| i != 5, None), fx.t);
    let check = drained(&a);
    assert_eq!(check.truth, Truth::No, "{check:?}");
    assert!(check.observed.contains("1 lost"), "{check:?}");
    // A canary that cannot read back proves nothing.
    let a = assessor.assess(&with_canary(&mut fx, &|_| true, Some("DR has no kdrill.canary yet")), fx.t);
    let check = drained(&a);
    assert!(matches!(check.truth, Truth::Unknown(ref w) if w.contains("DR has no kdrill.canary")), "{check:?}");
}

#[test]
fn violations_during_a_drill_are_raised_once() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(10), &[], fx.t);
    run(&mut fx, &mut assessor, &mut drill, 3, &mut events);
    fx.apps[1] = true; // split brain: apps on DR too
    run(&mut fx, &mut assessor, &mut drill, 5, &mut events);
    let raised: Vec<Rule> = events
        .iter()
        .filter_map(|e| if let DrillEvent::RuleViolated { rule, .. } = e { Some(*rule) } else { None })
        .collect();
    assert!(raised.contains(&Rule::AppsOnBothSides), "{events:?}");
    // One alarm per cause: MM2 writing into DR, now active too, is a
    // consequence of the split brain, named in its alarm.
    assert!(!raised.contains(&Rule::Mm2OnActiveSide), "a second alarm for the same cause: {events:?}");
    let detail = events.iter().find_map(|e| match e {
        DrillEvent::RuleViolated { rule: Rule::AppsOnBothSides, detail, .. } => Some(detail.clone()),
        _ => None,
    });
    assert!(detail.is_some_and(|d| d.contains("MM2 DC→DR now writes into an active side")), "{events:?}");
    assert_eq!(raised.iter().filter(|r| **r == Rule::AppsOnBothSides).count(), 1, "raised once per streak");
}

#[test]
fn mm2_started_before_apps_is_a_violation_but_found_running_is_not() {
    let mut fx = Fixture::new();
    fx.apps = [false, false];
    let mut assessor = Assessor::new(settings());
    // MM2 DC→DR already running when kdrill starts: not judged as a start.
    for _ in 0..3 {
        assessor.assess(&fx.step(), fx.t);
    }
    let a = assessor.assess(&fx.step(), fx.t);
    assert!(!a.violations.iter().any(|v| v.rule == Rule::Mm2StartedBeforeApps));
    // DR→DC starts while DR has no apps.
    fx.mm2[1] = true;
    let a = assessor.assess(&fx.step(), fx.t);
    assert!(a.violations.iter().any(|v| v.rule == Rule::Mm2StartedBeforeApps), "{:?}", a.violations);
    assert!(a.violations.iter().any(|v| v.rule == Rule::Mm2Bidirectional));
}

#[test]
fn action_is_refused_while_the_previous_step_no_longer_holds() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(2), &[], fx.t);
    // The pre-flight has no action: it completes when observed.
    let a = run(&mut fx, &mut assessor, &mut drill, 1, &mut events);
    assert!(drill.request_action(&a).is_err());
    pass_preflight(&mut fx, &mut assessor, &mut drill, &mut events);
    // Step 2's action is available once the pre-flight passed, still holding.
    let a = run(&mut fx, &mut assessor, &mut drill, 1, &mut events);
    assert!(matches!(drill.request_action(&a), Ok((Action::StopApps(Side::Dc), _))));
    let since = fx.t;
    fx.apps[0] = false;
    let mut a = run(&mut fx, &mut assessor, &mut drill, 1, &mut events);
    while completed(&events).len() < 2 && fx.t < since + TimeDelta::seconds(30) {
        a = run(&mut fx, &mut assessor, &mut drill, 1, &mut events);
    }
    assert_eq!(completed(&events), vec![0, 1]);
    // Step 3 (drain) has no action.
    assert!(drill.request_action(&a).is_err());
    run(&mut fx, &mut assessor, &mut drill, 4, &mut events);
    assert_eq!(completed(&events), vec![0, 1, 2]);
    // Step 4 (stop MM2) is refused once apps reappear on DC.
    fx.apps[0] = true;
    let a = run(&mut fx, &mut assessor, &mut drill, 2, &mut events);
    let refused = drill.request_action(&a);
    assert!(matches!(&refused, Err(why) if why.contains("no app clients on DC")), "{refused:?}");
}

#[test]
fn replaying_the_journal_gives_back_the_same_drill() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let checklist = vec!["DB".to_owned(), "DNS".to_owned()];
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(2), &checklist, fx.t);
    pass_preflight(&mut fx, &mut assessor, &mut drill, &mut events);
    fx.apps[0] = false;
    run(&mut fx, &mut assessor, &mut drill, 12, &mut events);
    fx.mm2[0] = false;
    run(&mut fx, &mut assessor, &mut drill, 5, &mut events);
    assert_eq!(completed(&events), vec![0, 1, 2, 3]);
    assert!(drill.confirm_next(fx.t).is_ok());

    let replayed = Drill::replay(drill.events());
    let replayed = match replayed {
        Ok(d) => d,
        Err(e) => panic!("replay failed: {e}"),
    };
    assert_eq!(replayed.current(), Some(4));
    let view = replayed.view();
    assert!(matches!(view.steps[0].state, StepState::Done { .. }));
    assert_eq!(view.steps[4].checklist.iter().filter(|(_, at)| at.is_some()).count(), 1);
    // Through JSON, as the journal stores it.
    let lines: Vec<String> = drill.events().iter().filter_map(|e| serde_json::to_string(e).ok()).collect();
    let parsed: Vec<DrillEvent> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert_eq!(parsed, drill.events());
    assert!(Drill::replay(&parsed[1..]).is_err(), "a journal without its start is refused");
}

#[test]
fn the_view_says_what_the_current_step_offers_and_whether_its_hold_runs() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let checklist = vec!["DB".to_owned()];
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(10), &checklist, fx.t);
    run(&mut fx, &mut assessor, &mut drill, 1, &mut events);
    let view = drill.view();
    let step = view.current_step().map(|(i, s)| (i, s.completes_when_observed(), s.preflight));
    assert_eq!(step, Some((0, true, true)), "step 1 is the pre-flight: observed, no action");
    pass_preflight(&mut fx, &mut assessor, &mut drill, &mut events);
    run(&mut fx, &mut assessor, &mut drill, 6, &mut events);
    let view = drill.view();
    let step = view.current_step().map(|(i, s)| (i, s.completes_when_observed(), s.awaits_confirmation()));
    assert_eq!(step, Some((1, false, false)), "step 2 has an action and no manual items");
    assert_eq!(view.holding, None, "apps still run on DC: no hold");

    fx.apps[0] = false;
    run(&mut fx, &mut assessor, &mut drill, 8, &mut events);
    let view = drill.view();
    assert!(view.holding.is_some_and(|held| held < 10.0), "the hold runs: {:?}", view.holding);

    run(&mut fx, &mut assessor, &mut drill, 8, &mut events);
    let view = drill.view();
    let drain = view.current_step().map(|(i, s)| (i, s.completes_when_observed()));
    assert_eq!(drain, Some((2, true)), "step 3 (drain) completes when observed");
}

#[test]
fn regaining_sight_of_a_running_flow_is_not_a_start() {
    // MM2 DC→DR runs while DC's applications are stopped (step 1 of a
    // switchover), then DR hangs: its facts go stale (unknown), then the
    // Connect group shows no worker for 2 s while it rebalances, then the
    // workers are back. MM2 never stopped: no "started" alarm.
    let mut fx = Fixture::new();
    fx.apps = [false, false];
    let mut assessor = Assessor::new(settings());
    for _ in 0..5 {
        assessor.assess(&fx.step(), fx.t);
    }
    fx.frozen[1] = Some(fx.t);
    for _ in 0..30 {
        let a = assessor.assess(&fx.step(), fx.t);
        assert!(!a.violations.iter().any(|v| v.rule == Rule::Mm2StartedBeforeApps));
    }
    fx.frozen[1] = None;
    fx.mm2[0] = false;
    for _ in 0..2 {
        assessor.assess(&fx.step(), fx.t);
    }
    fx.mm2[0] = true;
    for _ in 0..5 {
        let a = assessor.assess(&fx.step(), fx.t);
        assert!(
            !a.violations.iter().any(|v| v.rule == Rule::Mm2StartedBeforeApps),
            "a 2 s gap after an unknown spell is not a stop and start: {:?}",
            a.violations
        );
    }
    // A real stop, observed across the hold window, then a start while DC
    // has no applications: that is the rule broken.
    fx.mm2[0] = false;
    for _ in 0..12 {
        assessor.assess(&fx.step(), fx.t);
    }
    fx.mm2[0] = true;
    let a = assessor.assess(&fx.step(), fx.t);
    assert!(a.violations.iter().any(|v| v.rule == Rule::Mm2StartedBeforeApps), "{:?}", a.violations);
}

#[test]
fn a_connect_group_rejoining_after_its_broker_hung_is_not_a_start() {
    // As on the lab: DR frozen 30 s right after switchover step 1 (no apps
    // anywhere), then resumed; its Connect group shows no worker for longer
    // than the hold window while the worker rejoins, then it is back. MM2
    // never stopped: "unknown → stopped → healthy" must raise nothing.
    let mut fx = Fixture::new();
    fx.apps = [false, false];
    let mut assessor = Assessor::new(settings());
    for _ in 0..5 {
        assessor.assess(&fx.step(), fx.t);
    }
    fx.frozen[1] = Some(fx.t);
    for _ in 0..30 {
        assessor.assess(&fx.step(), fx.t);
    }
    fx.frozen[1] = None;
    fx.mm2[0] = false;
    let hold = settings().hold_window.num_seconds();
    for _ in 0..hold + 2 {
        assessor.assess(&fx.step(), fx.t);
    }
    fx.mm2[0] = true;
    for _ in 0..5 {
        let a = assessor.assess(&fx.step(), fx.t);
        assert!(
            !a.violations.iter().any(|v| v.rule == Rule::Mm2StartedBeforeApps),
            "workers rejoining after sight came back are not a start: {:?}",
            a.violations
        );
    }
    // Sight lost again, and MM2 really is stopped when it returns: seen
    // stopped across the hold window and stale_after, its start counts.
    fx.frozen[1] = Some(fx.t);
    for _ in 0..30 {
        assessor.assess(&fx.step(), fx.t);
    }
    fx.frozen[1] = None;
    fx.mm2[0] = false;
    let stale = settings().stale_after.num_seconds();
    for _ in 0..=hold + stale {
        assessor.assess(&fx.step(), fx.t);
    }
    fx.mm2[0] = true;
    let a = assessor.assess(&fx.step(), fx.t);
    assert!(a.violations.iter().any(|v| v.rule == Rule::Mm2StartedBeforeApps), "{:?}", a.violations);
}

#[test]
fn an_undeclared_consumer_group_on_the_passive_side_is_an_application() {
    // apps.groups lists the applications; `billing` is none of them, nor
    // plumbing, nor MM2's: consuming on DR while DC is active, it is split
    // brain, not "other".
    let mut fx = Fixture::new();
    let mut s = settings();
    s.classification.app_groups = vec![regex::Regex::new("^orders-app$").unwrap_or_else(|e| panic!("{e}"))];
    let mut assessor = Assessor::new(s);
    for _ in 0..3 {
        assessor.assess(&fx.step(), fx.t);
    }
    let mut snap = fx.step();
    if let Some(groups) = snap.cluster_mut(Side::Dr).groups.as_mut() {
        groups.value.push(Group {
            id: "billing".into(),
            state: "Stable".into(),
            protocol_type: "consumer".into(),
            protocol: GroupProtocol::Classic,
            members: vec![Member {
                member_id: "b1".into(),
                client_id: "billing-1".into(),
                host: "/10.0.9.9".into(),
                assignment: vec![],
            }],
            committed: None,
        });
    }
    let a = assessor.assess(&snap, fx.t);
    let dr = a.side(Side::Dr);
    let billing = dr.groups.iter().find(|g| g.id == "billing").map(|g| g.class);
    assert_eq!(billing.map(|c| c.as_str()), Some("foreign"));
    let v = a.violations.iter().find(|v| v.rule == Rule::AppsOnBothSides);
    assert!(v.is_some_and(|v| v.detail.contains("DR (billing)")), "{:?}", a.violations);
    assert!(!a.violations.iter().any(|v| v.rule == Rule::Mm2OnActiveSide), "one alarm per cause: {:?}", a.violations);
}

#[test]
fn what_could_not_be_read_is_said_on_the_side_and_in_check() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut snap = fx.step();
    snap.cluster_mut(Side::Dr).unread = Some(Observed::new(
        Unread {
            skipped: vec![SkippedRecords { topic: "dc.heartbeats".into(), count: 2 }],
            first_skipped: Some("dc.heartbeats/0@17: a heartbeat value of 3 bytes".into()),
            problem: None,
        },
        fx.t,
    ));
    let a = assessor.assess(&snap, fx.t);
    let dr = a.side(Side::Dr);
    assert_eq!(dr.unread[0], "2 undecodable record(s) skipped in dc.heartbeats");
    assert!(dr.unread[1].contains("dc.heartbeats/0@17"), "{:?}", dr.unread);
    let json = serde_json::to_value(kdrill::check::report(&a)).unwrap_or_default();
    assert_eq!(json["sides"][1]["skipped_records"][0]["topic"], "dc.heartbeats");
    assert_eq!(json["sides"][1]["skipped_records"][0]["count"], 2);
    assert!(a.side(Side::Dc).unread.is_empty());
}

#[test]
fn an_action_in_flight_is_not_asked_again_and_a_retry_keeps_the_first_count() {
    use kdrill::action::{Outcome, RequestResult};
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(2), &[], fx.t);
    pass_preflight(&mut fx, &mut assessor, &mut drill, &mut events);
    let a = run(&mut fx, &mut assessor, &mut drill, 1, &mut events);
    assert!(drill.request_action(&a).is_ok());
    // Until its outcome comes, a second request would queue behind it.
    let again = drill.request_action(&a);
    assert!(matches!(&again, Err(why) if why.contains("being carried out")), "{again:?}");
    let key = "DC /apis/apps/v1/namespaces/apps/deployments/orders#/spec/replicas".to_owned();
    let answered = |n: i64| {
        let result = RequestResult {
            request: "PATCH".into(),
            ok: false,
            detail: "403".into(),
            recorded: vec![(key.clone(), serde_json::json!(n))],
        };
        let mut o = Outcome::new(Action::StopApps(Side::Dc), Err("403".into()), fx.t);
        o.results = vec![result];
        o
    };
    assert!(drill.record_outcome(&answered(3)).is_some());
    // Answered: it may be retried; the retry reads back its own 0.
    assert!(drill.request_action(&a).is_ok());
    // A drill resumed mid-action has nothing in flight: that process is gone.
    let mut resumed = Drill::replay(drill.events()).unwrap_or_else(|e| panic!("{e}"));
    assert!(resumed.request_action(&a).is_ok());
    assert!(drill.record_outcome(&answered(0)).is_some());
    assert_eq!(drill.recorded().get(&key), Some(&serde_json::json!(3)), "the count to restore survives the retry");
}

#[test]
fn mm2_stopped_by_its_connectors_counts_as_stopped_only_when_nothing_of_it_can_copy() {
    let fx = Fixture::new();
    let mut s = settings();
    s.stopped_by_connectors = vec![Flow::DC_TO_DR];
    let mut snap = fx.snapshot();
    let set = |snap: &mut Snapshot, state: ConnectState, target, task: Option<ConnectState>| {
        let c = snap.mm2.iter_mut().find(|d| d.flow == Flow::DC_TO_DR).and_then(|d| d.connectors.as_mut());
        let Some(c) = c else { panic!("no connectors in the fixture") };
        for conn in &mut c.value {
            conn.state = state.clone();
            conn.target_state = target;
            conn.tasks =
                task.iter().map(|t| Task { id: 0, state: t.clone(), worker_id: "w".into(), trace: None }).collect();
        }
    };
    let running = |snap: &Snapshot| {
        let a = Assessor::new(s.clone()).assess(snap, fx.t);
        a.mm2.iter().find(|m| m.flow == Flow::DC_TO_DR).map(|m| m.running.clone())
    };
    // Workers run; every connector STOPPED as status, target state and tasks.
    set(&mut snap, ConnectState::Stopped, Some(TargetState::Stopped), None);
    assert_eq!(running(&snap), Some(Truth::No));
    // A task another worker still runs may still copy: not stopped.
    set(&mut snap, ConnectState::Stopped, Some(TargetState::Stopped), Some(ConnectState::Running));
    assert_eq!(running(&snap), Some(Truth::Yes));
    // STOPPED in the status but not (yet) as target state: not stopped.
    set(&mut snap, ConnectState::Stopped, Some(TargetState::Started), None);
    assert_eq!(running(&snap), Some(Truth::Yes));
}

/// Steps the fixture `n` seconds with `change` applied to every snapshot,
/// feeding the drill; returns the last assessment.
fn run_changed(
    fx: &mut Fixture,
    assessor: &mut Assessor,
    drill: &mut Drill,
    n: usize,
    events: &mut Vec<DrillEvent>,
    change: &dyn Fn(&mut Snapshot),
) -> Assessment {
    let mut last = None;
    for _ in 0..n {
        let mut snap = fx.step();
        change(&mut snap);
        let a = assessor.assess(&snap, fx.t);
        events.extend(drill.observe(&a));
        last = Some(a);
    }
    last.unwrap_or_else(|| assessor.assess(&fx.snapshot(), fx.t))
}

/// The pre-flight's check of `label`, as the drill shows it now.
fn preflight_check(drill: &Drill, label: &str) -> Option<kdrill::assess::Check> {
    let view = drill.view();
    view.steps.first().and_then(|s| s.checks.iter().find(|c| c.label.starts_with(label)).cloned())
}

#[test]
fn the_preflight_blocks_on_each_failing_condition_in_words() {
    type Case = (&'static str, &'static str, Box<dyn Fn(&mut Fixture)>, Box<dyn Fn(&mut Snapshot)>);
    let none = || Box::new(|_: &mut Snapshot| {}) as Box<dyn Fn(&mut Snapshot)>;
    let cases: Vec<Case> = vec![
        ("DC active, DR passive", "applications run on DR", Box::new(|fx| fx.apps = [true, true]), none()),
        ("DC active, DR passive", "no application runs on DC", Box::new(|fx| fx.apps = [false, false]), none()),
        ("DR reachable", "DR unreachable", Box::new(|fx| fx.frozen[1] = Some(fx.t)), none()),
        (
            "DR reachable",
            "only 1 of 2 brokers up",
            Box::new(|_| {}),
            Box::new(|s| {
                if let Some(b) = s.cluster_mut(Side::Dr).brokers.as_mut() {
                    b.value.push(Broker { id: 1, host: "b1".into(), port: 9092, up: false });
                }
            }),
        ),
        (
            "MM2 DC→DR healthy",
            "FAILED",
            Box::new(|_| {}),
            Box::new(|s| {
                let c = s.mm2.iter_mut().find(|d| d.flow == Flow::DC_TO_DR).and_then(|d| d.connectors.as_mut());
                for conn in c.map(|c| c.value.iter_mut()).into_iter().flatten() {
                    for t in &mut conn.tasks {
                        t.state = ConnectState::Failed;
                    }
                }
            }),
        ),
        ("MM2 DC→DR healthy", "above the pre-flight bound of 10000", Box::new(|fx| fx.lag[0] = 20_000), none()),
        ("MM2 DC→DR healthy", "500 rec AHEAD of the source", Box::new(|fx| fx.lag[0] = -500), none()),
        ("no runbook rule broken", "broken: ", Box::new(|fx| fx.apps = [true, true]), none()),
        (
            "no blocking topic drift",
            "orders on DC has no mirror orders on DR",
            Box::new(|_| {}),
            Box::new(|s| {
                if let Some(t) = s.cluster_mut(Side::Dr).topics.as_mut() {
                    t.value.clear();
                }
            }),
        ),
    ];
    for (label, words, setup, change) in cases {
        let mut fx = Fixture::new();
        let mut assessor = Assessor::new(settings());
        let mut events = Vec::new();
        let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(10), &[], fx.t);
        run(&mut fx, &mut assessor, &mut drill, 6, &mut events);
        setup(&mut fx);
        let a = run_changed(&mut fx, &mut assessor, &mut drill, 40, &mut events, change.as_ref());
        assert!(completed(&events).is_empty(), "{label}: the pre-flight passed while failing: {events:?}");
        let check = preflight_check(&drill, label).unwrap_or_else(|| panic!("{label}: no such check"));
        assert!(!check.truth.is_yes(), "{label}: {check:?}");
        let text = match &check.truth {
            Truth::Unknown(why) => format!("{why} {}", check.observed),
            _ => check.observed.clone(),
        };
        assert!(text.contains(words), "{label}: {words:?} not in {text:?}");
        // No action is offered after a pre-flight that does not pass.
        assert!(drill.action_gate(&a).is_err(), "{label}");
        assert!(drill.view().blocked.is_some(), "{label}");
    }
}

#[test]
fn a_failing_preflight_is_passed_only_by_the_typed_override_which_journals_what_failed() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(10), &[], fx.t);
    // Passing, it cannot be overridden: it completes after its hold.
    let a = run(&mut fx, &mut assessor, &mut drill, 8, &mut events);
    assert!(drill.override_preflight(&a, kdrill::drill::OVERRIDE_WORD).is_err());
    // Split brain: two conditions fail.
    fx.apps = [true, true];
    let a = run(&mut fx, &mut assessor, &mut drill, 6, &mut events);
    let refused = drill.override_preflight(&a, "yes");
    assert!(matches!(&refused, Err(why) if why.contains("\"override\"")), "{refused:?}");
    assert_eq!(drill.current(), Some(0));
    let ev = drill.override_preflight(&a, "override").unwrap_or_else(|e| panic!("{e}"));
    let DrillEvent::PreflightOverridden { step: 0, failed, confirmed_as, .. } = &ev else { panic!("{ev:?}") };
    assert_eq!(confirmed_as, "override");
    let labels: Vec<&str> = failed.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["DC active, DR passive", "no runbook rule broken"], "{failed:?}");
    assert!(failed[0].observed.contains("applications run on DR"), "{failed:?}");
    assert!(ev.by_operator());
    // Passed: the next step's action is offered without its gate.
    assert_eq!(drill.current(), Some(1));
    assert!(matches!(drill.action_gate(&a), Ok(Action::StopApps(Side::Dc))));
    let view = drill.view();
    assert!(view.steps[0].overridden.as_ref().is_some_and(|f| f.len() == 2));
    assert!(view.steps[0].checks.iter().all(|c| c.truth == Truth::No), "shown as failed, never as passed");
    // The journal keeps it: replayed, the same; the report shows it first.
    let replayed = Drill::replay(drill.events()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replayed.view().steps[0].overridden, view.steps[0].overridden);
    let who = kdrill::drill::journal::Who { user: "alice".into(), host: "ops-1".into() };
    let records: Vec<kdrill::drill::journal::Record> = drill
        .events()
        .iter()
        .enumerate()
        .map(|(i, e)| kdrill::drill::journal::Record {
            kdrill_journal: kdrill::drill::journal::FORMAT,
            seq: i as u64 + 1,
            written_at: e.at(),
            who: e.by_operator().then(|| who.clone()),
            after_torn_line: None,
            event: e.clone(),
        })
        .collect();
    let journal = kdrill::drill::journal::Recovered { records, torn: None };
    let r = kdrill::report::build(&journal).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.preflight_override.as_ref().is_some_and(|o| o.failed.len() == 2 && o.by.is_some()));
    assert!(r.steps[0].overridden);
    let md = kdrill::report::to_markdown(&r);
    let first_section = md.find("## ").unwrap_or(md.len());
    let banner = md.find("PRE-FLIGHT OVERRIDDEN").unwrap_or(usize::MAX);
    assert!(banner < first_section, "shown before the timeline:\n{md}");
}

/// A switchover driven to its last step, starting MM2 DR→DC, in the fixture.
/// Steps a switchover to where DR's applications are to start: DC quiet,
/// DC→DR stopped and its ends recorded.
fn to_the_apps_start(fx: &mut Fixture, assessor: &mut Assessor, drill: &mut Drill, events: &mut Vec<DrillEvent>) {
    pass_preflight(fx, assessor, drill, events);
    fx.apps[0] = false;
    for _ in 0..60 {
        if completed(events).len() >= 3 {
            break;
        }
        run(fx, assessor, drill, 1, events);
    }
    fx.mm2[0] = false;
    for _ in 0..60 {
        if completed(events).len() >= 5 {
            break;
        }
        run(fx, assessor, drill, 1, events);
    }
    assert_eq!(completed(events), vec![0, 1, 2, 3, 4], "{:?}", drill.view().blocked);
    assert!(matches!(drill.mirror_ends(Flow::DC_TO_DR), Some(Ok(ends)) if !ends.is_empty()));
}

fn to_the_reverse_start(fx: &mut Fixture, assessor: &mut Assessor, drill: &mut Drill, events: &mut Vec<DrillEvent>) {
    to_the_apps_start(fx, assessor, drill, events);
    fx.apps[1] = true;
    for _ in 0..60 {
        if completed(events).len() >= 6 {
            break;
        }
        run(fx, assessor, drill, 1, events);
    }
    assert_eq!(drill.current(), Some(6), "{:?}", drill.view().blocked);
}

#[test]
fn the_copy_back_gate_blocks_on_a_figure_above_zero_until_the_figure_is_typed() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(5), &[], fx.t);
    to_the_reverse_start(&mut fx, &mut assessor, &mut drill, &mut events);
    // MM2 DR→DC resumes far behind where DC→DR's data ended on DR.
    fx.lag[1] = 50_000;
    fx.mm2[1] = true;
    let a = run(&mut fx, &mut assessor, &mut drill, 20, &mut events);
    assert_eq!(drill.current(), Some(6), "completed while copying back: {events:?}");
    let seen = events.iter().find_map(|e| match e {
        DrillEvent::CopyBackObserved { step: 6, flow, records, .. } => Some((*flow, *records)),
        _ => None,
    });
    let Some((Flow::DR_TO_DC, records)) = seen else { panic!("no copy-back observed: {events:?}") };
    assert!(records > 40_000, "{records}");
    let view = drill.view();
    let figures = view.failback.as_ref().unwrap_or_else(|| panic!("no figures shown"));
    assert_eq!(figures.flow, Flow::DR_TO_DC);
    assert_eq!(figures.topics().first().map(|t| t.topic.as_str()), Some("orders"));
    assert!(view.blocked.as_deref().is_some_and(|b| b.contains("copies nothing back")), "{:?}", view.blocked);
    // Only the figure itself, typed, accepts it.
    assert_eq!(drill.copy_back_to_accept(&a), Ok((Flow::DR_TO_DC, records)));
    assert!(drill.accept_copy_back(&a, "yes").is_err());
    assert!(drill.accept_copy_back(&a, &(records + 1).to_string()).is_err());
    // Caught up, the live figure is 0 again: still shut, what was copied stays.
    fx.lag[1] = 0;
    run(&mut fx, &mut assessor, &mut drill, 10, &mut events);
    assert_eq!(drill.current(), Some(6));
    let a = run(&mut fx, &mut assessor, &mut drill, 1, &mut events);
    let ev = drill.accept_copy_back(&a, &records.to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&ev, DrillEvent::CopyBackAccepted { step: 6, records: r, .. } if *r == records));
    assert!(ev.by_operator());
    events.push(ev);
    run(&mut fx, &mut assessor, &mut drill, 10, &mut events);
    assert!(drill.is_finished(), "{:?}", drill.view().blocked);
    let replayed = Drill::replay(drill.events()).unwrap_or_else(|e| panic!("{e}"));
    assert!(replayed.is_finished());
}

#[test]
fn outside_the_drill_the_copy_back_rests_on_current_ends_only_while_nothing_writes_there() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(5), &[], fx.t);
    to_the_apps_start(&mut fx, &mut assessor, &mut drill, &mut events);
    let why = |a: &Assessment| {
        let json = serde_json::to_value(kdrill::check::report(a)).unwrap_or_default();
        json["failback"][0]["copy_back_unknown"].as_str().unwrap_or_default().to_owned()
    };
    // DR quiet: its current ends are where DC→DR's data ended; what is
    // missing is DR→DC's committed offsets, never read in this fixture.
    let a = run(&mut fx, &mut assessor, &mut drill, 1, &mut events);
    assert!(why(&a).contains("never observed"), "{}", why(&a));
    fx.apps[1] = true;
    let a = run(&mut fx, &mut assessor, &mut drill, 8, &mut events);
    assert!(why(&a).contains("applications write on DR since it stopped"), "{}", why(&a));
}

#[test]
fn the_copy_back_gate_opens_by_observation_when_the_reverse_flow_starts_at_the_ends() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(5), &[], fx.t);
    to_the_reverse_start(&mut fx, &mut assessor, &mut drill, &mut events);
    // Before it starts, `check --json` has the figures, here unknown: DR's
    // applications write where DC→DR's data ended, a point only the drill
    // recorded.
    let a = run(&mut fx, &mut assessor, &mut drill, 1, &mut events);
    let json = serde_json::to_value(kdrill::check::report(&a)).unwrap_or_default();
    assert_eq!(json["failback"][0]["flow"], "DR→DC");
    assert_eq!(json["failback"][0]["copy_back_records"], serde_json::Value::Null);
    let why = json["failback"][0]["copy_back_unknown"].as_str().unwrap_or_default();
    assert!(why.contains("applications write on DR since it stopped"), "{json}");
    fx.mm2[1] = true;
    let a = run(&mut fx, &mut assessor, &mut drill, 15, &mut events);
    assert!(drill.is_finished(), "{:?}", drill.view().blocked);
    assert!(!events.iter().any(|e| matches!(e, DrillEvent::CopyBackObserved { .. })));
    let evidence = events.iter().find_map(|e| match e {
        DrillEvent::StepCompleted { step: 6, evidence, .. } => Some(evidence.clone()),
        _ => None,
    });
    let evidence = evidence.unwrap_or_default();
    assert!(evidence.iter().any(|e| e.label.contains("copies nothing back") && e.observed.starts_with("0 rec")));
    // Running, it is no longer "before the start".
    let json = serde_json::to_value(kdrill::check::report(&a)).unwrap_or_default();
    assert_eq!(json["failback"], serde_json::json!([]));
}

#[test]
fn the_preflight_lag_bound_is_journaled_and_kept_on_replay() {
    let mut fx = Fixture::new();
    let mut assessor = Assessor::new(settings());
    let mut events = Vec::new();
    let mut drill = Drill::start(PlanKind::Switchover, TimeDelta::seconds(5), &[], fx.t).preflight_lag_within(50);
    assert!(matches!(drill.events().first(), Some(DrillEvent::Started { preflight_lag: Some(50), .. })));
    fx.lag[0] = 60;
    run(&mut fx, &mut assessor, &mut drill, 20, &mut events);
    assert!(completed(&events).is_empty());
    let check = preflight_check(&drill, "MM2 DC→DR healthy").unwrap_or_else(|| panic!("no lag check"));
    assert!(check.label.ends_with("lag ≤ 50 rec") && check.observed.contains("60 rec, above"), "{check:?}");
    let replayed = Drill::replay(drill.events()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replayed.plan(), drill.plan());
    fx.lag[0] = 40;
    run(&mut fx, &mut assessor, &mut drill, 10, &mut events);
    assert_eq!(completed(&events), vec![0], "{:?}", drill.view().blocked);
}
