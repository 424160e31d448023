//! Recover every time: faults on the real lab with a console running and a
//! switchover in progress (steps 1 and 2 done, "Stop MM2" current, so a
//! gate opening on a wrong or old fact shows at once).
//!
//! Each fault (a broker frozen with SIGSTOP shorter and longer than
//! `stale_after`, a broker killed with SIGKILL and restarted with its data,
//! MM2's Connect worker killed and restarted, a Kubernetes API server
//! frozen or killed and restarted mid-watch, the console not stepped for
//! longer than the hold window) is asserted the same way:
//! * nothing panics (the console's collector and app keep answering);
//! * no step completes on evidence older than `stale_after`;
//! * no rule violation is raised that the fault itself did not cause;
//! * the console is back to fresh, correct figures (both sides fresh, MM2
//!   DC→DR healthy with fresh connector states, lag known, Kubernetes
//!   answering where watched) within `stale_after` + 2 polls of the world
//!   answering fresh clients again (a [`Witness`] times that from the
//!   fault's end); both times are printed.
//!
//! `KDRILL_FAULT_REPEAT=N` repeats every fault N times with randomised
//! durations (the default suite runs each once, with fixed ones). Tests that
//! disrupt the lab hold `support::exclusive()` and put it back (brokers
//! running, MM2 DC→DR running, no apps) also when they fail.

mod support;

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use kdrill::assess::platform::Known;
use kdrill::assess::{Assessment, Health};
use kdrill::drill::DrillEvent;
use kdrill::model::{Flow, Side};
use support::console::Console;

const POLL: Duration = Duration::from_secs(1);
const STALE_AFTER: Duration = Duration::from_secs(6);
const HOLD: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The lab with short timing, MM2 DC→DR observed (and its Connect REST).
fn config() -> kdrill::config::Config {
    let env = std::fs::read_to_string(support::lab().dir.join("lab.env")).unwrap_or_default();
    let rest = env
        .lines()
        .find_map(|l| l.strip_prefix("KDRILL_LAB_MM2_DC_DR_REST="))
        .unwrap_or("http://127.0.0.1:28083")
        .to_owned();
    support::lab_config(&format!(
        r#"
[[mm2]]
source = "dc"
target = "dr"
connect_url = "{rest}"
{apps}
[timing]
poll_interval = "{}s"
hold_window = "{}s"
stale_after = "{}s"
request_timeout = "{}s"
rate_window = "10s"
"#,
        POLL.as_secs(),
        HOLD.as_secs(),
        STALE_AFTER.as_secs(),
        REQUEST_TIMEOUT.as_secs(),
        apps = support::LAB_APPS
    ))
}

/// As [`config`], each side's Kubernetes watched too (the lab's viewer
/// contexts: MM2's resource and pods).
fn config_with_kubernetes() -> kdrill::config::Config {
    let kubeconfig = support::kube::kube_lab().kubeconfig.clone();
    let mut cfg = config();
    for side in Side::BOTH {
        cfg.clusters[side.index()].kube = Some(kdrill::config::KubeConfig {
            context: format!("{}-viewer", lab_name(side)),
            kubeconfig: Some(kubeconfig.clone()),
            namespace: "kafka".into(),
            workloads: Vec::new(),
        });
    }
    cfg
}

/// How many times each fault runs: `KDRILL_FAULT_REPEAT`, default 1.
fn repeat() -> usize {
    std::env::var("KDRILL_FAULT_REPEAT").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1)
}

/// A duration in `[lo, hi]`: `lo` on the first run, random after (the
/// default suite is then deterministic, the long runs vary their timing).
fn duration(run: usize, lo: Duration, hi: Duration) -> Duration {
    if run == 0 || hi <= lo {
        return lo;
    }
    let nanos = Utc::now().timestamp_subsec_nanos() as u64 ^ (run as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    lo + Duration::from_millis(nanos % (hi - lo).as_millis().max(1) as u64)
}

/// The lab's name of a side (`dc`, `dr`).
fn lab_name(side: Side) -> &'static str {
    match side {
        Side::Dc => "dc",
        Side::Dr => "dr",
    }
}

fn lab(args: &[&str]) {
    if let Err(e) = support::lab().run(args, Duration::from_secs(240)) {
        panic!("{e}");
    }
}

/// Where a moved listener goes: beside the side's ports, taken by no lab part.
fn moved_port(side: Side) -> u16 {
    let l = support::lab();
    let bootstrap = if side == Side::Dc { &l.dc } else { &l.dr };
    let port: u16 = bootstrap.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
    assert!(port > 0, "no port in the lab's bootstrap {bootstrap}");
    port + 8
}

fn pid_of(part: &str) -> String {
    let path = support::lab().dir.join("run").join(format!("{part}.pid"));
    let pid = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    pid.trim().to_owned()
}

fn signal(part: &str, sig: &str) {
    let pid = pid_of(part);
    let status = std::process::Command::new("kill").args([&format!("-{sig}"), &pid]).status();
    assert!(status.is_ok_and(|s| s.success()), "kill -{sig} {part} ({pid}) failed");
}

/// Puts the lab back as `scripts/lab up` leaves it (brokers running and
/// resumed, MM2 DC→DR running, no apps), also when the test fails.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let l = support::lab();
        for part in ["broker-dc", "broker-dr", "connect-dc-dr"] {
            if let Ok(pid) = std::fs::read_to_string(l.dir.join("run").join(format!("{part}.pid"))) {
                let _ = std::process::Command::new("kill").args(["-CONT", pid.trim()]).status();
            }
        }
        for args in [
            &["broker", "start", "dc"][..],
            &["broker", "start", "dr"],
            &["apps", "stop", "dc"],
            &["apps", "stop", "dr"],
            &["mm2", "start", "dc-dr"],
        ] {
            if let Err(e) = l.run(args, Duration::from_secs(240)) {
                eprintln!("restoring the lab: {e}");
            }
        }
    }
}

/// One fault of the matrix.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// The side's broker stopped (SIGSTOP) for the duration, then resumed.
    Freeze(Side, Duration),
    /// The side's broker killed (SIGKILL), down for the duration, restarted.
    KillBroker(Side, Duration),
    /// The side's broker restarted with its plaintext listener moved (its
    /// bootstrap address refuses; the broker runs), moved back after the duration.
    MoveListener(Side, Duration),
    /// MM2 DC→DR's Connect worker killed (SIGKILL), restarted after the duration.
    KillMm2(Duration),
    /// The side's Kubernetes API server stopped (SIGSTOP) for the duration,
    /// then resumed: its watches hang.
    FreezeApiServer(Side, Duration),
    /// The side's Kubernetes API server killed (SIGKILL), restarted after
    /// the duration (`scripts/lab kube up`): its watches break.
    KillApiServer(Side, Duration),
    /// The console not stepped for the duration (its process paused).
    PauseConsole(Duration),
}

impl Fault {
    fn label(self) -> String {
        match self {
            Fault::Freeze(s, d) => format!("SIGSTOP broker {s} {:.1} s", d.as_secs_f64()),
            Fault::KillBroker(s, d) => format!("kill -9 broker {s}, restart after {:.1} s", d.as_secs_f64()),
            Fault::MoveListener(s, d) => format!("broker {s} listener moved, back after {:.1} s", d.as_secs_f64()),
            Fault::KillMm2(d) => format!("kill -9 MM2 worker, restart after {:.1} s", d.as_secs_f64()),
            Fault::FreezeApiServer(s, d) => format!("SIGSTOP API server {s} {:.1} s", d.as_secs_f64()),
            Fault::KillApiServer(s, d) => format!("kill -9 API server {s}, restart after {:.1} s", d.as_secs_f64()),
            Fault::PauseConsole(d) => format!("console paused {:.1} s", d.as_secs_f64()),
        }
    }

    /// Whether the fault really stops MM2 (its rules and gates may then fire).
    fn stops_mm2(self) -> bool {
        matches!(self, Fault::KillMm2(_))
    }
}

/// When the world itself answers again after a fault, as fresh clients see
/// it: both clusters give every partition a leader and an end offset, and
/// MM2 DC→DR's Connect worker reports every connector and task RUNNING.
/// Watched on a thread of its own from the fault's end, so that a broker
/// slow to come back (fenced until it heartbeats, its Connect group
/// rejoining) is not counted as the console's delay.
/// With `kube`, both sides' Kubernetes API servers answer too.
struct Witness(std::thread::JoinHandle<Option<Duration>>);

impl Witness {
    fn start(limit: Duration, kube: bool) -> Witness {
        let lab = support::lab();
        let (dc, dr) = (lab.dc.clone(), lab.dr.clone());
        Witness(std::thread::spawn(move || {
            let admin = kube.then(support::kube::Admin::connect);
            let kube_answers = || admin.as_ref().is_none_or(|a| Side::BOTH.iter().all(|&s| a.answers(s)));
            let started = Instant::now();
            while started.elapsed() < limit {
                if kafka_answers(&dc) && kafka_answers(&dr) && mm2_running() && kube_answers() {
                    return Some(started.elapsed());
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            None
        }))
    }

    /// How long after its start the world answered (None: not within its limit).
    fn world_back(self) -> Option<Duration> {
        self.0.join().ok().flatten()
    }
}

/// A fresh client lists every partition of `bootstrap`'s cluster with a
/// leader, its end offset, and the cluster's consumer groups (its group
/// coordinators loaded).
fn kafka_answers(bootstrap: &str) -> bool {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let timeout = Duration::from_secs(2);
    let client: Result<BaseConsumer, _> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "kdrill-fault-witness")
        .set("socket.timeout.ms", "2000")
        .set("log_level", "0")
        .create();
    let Ok(client) = client else { return false };
    let Ok(md) = client.fetch_metadata(None, timeout) else { return false };
    let mut ends = rdkafka::TopicPartitionList::new();
    for t in md.topics() {
        for p in t.partitions() {
            if t.error().is_some() || p.error().is_some() || p.leader() < 0 {
                return false;
            }
            let _ = ends.add_partition_offset(t.name(), p.id(), rdkafka::Offset::End);
        }
    }
    client.offsets_for_times(ends, timeout).is_ok_and(|l| l.elements().iter().all(|e| e.error().is_ok()))
        && client.fetch_group_list(None, timeout).is_ok()
}

/// MM2 DC→DR's Connect worker reports connectors, all RUNNING with their tasks.
fn mm2_running() -> bool {
    let Ok((200, body)) = support::connect::rest("GET", "/connectors?expand=status") else { return false };
    let Ok(serde_json::Value::Object(connectors)) = serde_json::from_str(&body) else { return false };
    let running = |v: &serde_json::Value| v["state"] == "RUNNING";
    !connectors.is_empty()
        && connectors.values().all(|c| {
            let status = &c["status"];
            running(&status["connector"]) && status["tasks"].as_array().is_some_and(|ts| ts.iter().all(running))
        })
}

/// Fresh, correct figures: both sides fresh, MM2 DC→DR healthy with fresh
/// connector states, its lag known.
fn recovered(a: &Assessment) -> bool {
    recovered_parts(a).iter().all(|&(_, ok)| ok)
}

/// The parts of `recovered`, each named: both sides fresh, MM2 DC→DR
/// healthy with fresh connector states, the lag known, and each side's
/// Kubernetes (where watched) answering with MM2's pods known.
fn recovered_parts(a: &Assessment) -> [(&'static str, bool); 4] {
    let stale = TimeDelta::from_std(STALE_AFTER).unwrap_or(TimeDelta::MAX);
    [
        ("sides", Side::BOTH.iter().all(|&s| a.side(s).freshness.is_fresh())),
        (
            "MM2",
            a.mm2.iter().any(|m| {
                m.flow == Flow::DC_TO_DR
                    && m.health == Health::Healthy
                    && m.connectors_at.is_some_and(|t| a.now - t <= stale)
            }),
        ),
        ("lag", a.lag_of(Flow::DC_TO_DR).is_some_and(|l| l.total.is_some())),
        (
            "kubernetes",
            a.platforms.iter().flatten().all(|p| p.unreachable.is_none() && matches!(p.mm2_pods, Known::Is(_))),
        ),
    ]
}

/// Each part of `recovered`, as it stands: which one a late recovery
/// waits for, and why.
fn recovery_state(a: &Assessment) -> String {
    let sides = Side::BOTH.map(|s| format!("{s} {:?}", a.side(s).freshness)).join(", ");
    let kube: Vec<String> = a
        .platforms
        .iter()
        .flatten()
        .map(|p| format!("{} pods {:?} unreachable {:?}", p.side, p.mm2_pods, p.unreachable))
        .collect();
    let mm2 = a
        .mm2
        .iter()
        .map(|m| {
            format!(
                "{} {} running {:?} connectors {:?} s old",
                m.flow,
                m.health.label(),
                m.running,
                m.connectors_at.map(|t| (a.now - t).num_milliseconds() as f64 / 1000.0)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let lag = match a.lag_of(Flow::DC_TO_DR) {
        None => "no lag for DC→DR".to_owned(),
        Some(l) => {
            let unknown: Vec<String> = l
                .rows
                .iter()
                .filter(|r| r.records.is_none())
                .take(4)
                .map(|r| {
                    format!("{}[{}] source end {:?} replicated {:?}", r.topic, r.partition, r.source_end, r.replicated)
                })
                .collect();
            format!("lag total {:?}, {} rows unknown {unknown:?}, at {:?}", l.total, l.unknown_rows, l.at)
        }
    };
    format!("sides: {sides}\nMM2: {mm2}\n{lag}\nKubernetes: {kube:?}")
}

/// A console on `cfg` with a switchover started and steps 1–2 done: "Stop
/// MM2" is current.
fn console_mid_drill(cfg: kdrill::config::Config) -> Console {
    let mut c = Console::start(cfg, false);
    c.wait("the steady state (no apps, MM2 DC→DR healthy)", 120, |c| c.app.assessment().is_some_and(recovered));
    c.command("switchover");
    // The steady state runs no application on DC: the pre-flight fails on
    // it, and the operator overrides it typed, as on a quiet lab.
    c.pass_preflight(10);
    c.wait("the switchover at \"Stop MM2\"", 90, |c| {
        c.app
            .drill()
            .and_then(|d| d.view().current_step().map(|(_, s)| s.title.starts_with("Stop MM2")))
            .unwrap_or(false)
    });
    c
}

/// The journal's findings since `from`: completions on old evidence and
/// violations, as failure lines.
fn findings(c: &Console, from: usize, fault: Fault) -> Vec<String> {
    let stale = TimeDelta::from_std(STALE_AFTER).unwrap_or(TimeDelta::MAX);
    let mut out = Vec::new();
    for e in &c.journal[from.min(c.journal.len())..] {
        match e {
            DrillEvent::StepCompleted { step, at, evidence, .. } => {
                for ev in evidence {
                    match ev.at {
                        Some(t) if *at - t <= stale => {}
                        t => out.push(format!(
                            "step {} completed at {at} on {} observed {t:?} (older than stale_after)",
                            step + 1,
                            ev.label
                        )),
                    }
                }
                if !fault.stops_mm2() && !matches!(fault, Fault::PauseConsole(_)) {
                    out.push(format!("step {} completed though the world did not change: {e:?}", step + 1));
                }
            }
            DrillEvent::RuleViolated { rule, detail, .. } if !fault.stops_mm2() => {
                out.push(format!("alarm the world did not cause: {rule:?}: {detail}"));
            }
            _ => {}
        }
    }
    out
}

/// What a run saw while stepping: alarms the fault did not cause, and
/// MM2 DC→DR's health as it changed.
#[derive(Default)]
struct Watch {
    alarms: Vec<String>,
    trail: Vec<String>,
    /// The sides whose Kubernetes the console showed unreachable with
    /// MM2's pods unknown (by `Side::index`).
    kube_unknown: [bool; 2],
}

impl Watch {
    fn look(&mut self, c: &Console, fault: Fault) {
        let Some(a) = c.app.assessment() else { return };
        for p in a.platforms.iter().flatten() {
            if p.unreachable.is_some() && matches!(p.mm2_pods, Known::Unknown(_)) {
                self.kube_unknown[p.side.index()] = true;
            }
        }
        if let Some(m) = a.mm2.iter().find(|m| m.flow == Flow::DC_TO_DR)
            && self.trail.last().is_none_or(|h| h != m.health.label())
        {
            self.trail.push(m.health.label().to_owned());
        }
        if fault.stops_mm2() {
            return;
        }
        for v in &a.violations {
            let line = format!("{:?}: {}", v.rule, v.detail);
            if !self.alarms.contains(&line) {
                self.alarms.push(line);
            }
        }
    }
}

/// Steps the console for `d`, watching it.
fn step_for(c: &mut Console, d: Duration, fault: Fault, watch: &mut Watch) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        c.step();
        watch.look(c, fault);
    }
}

/// This process's resident memory (the console's collector and App run
/// in it), for watching that it stays flat over long runs.
fn rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024)
}

/// The test process's memory over a series of runs on one console: taken
/// after each run, the first (once the console has warmed up) is the
/// baseline. Flat means no run adds more than noise to it: a leak of a
/// client or a history per fault grows with the repetitions.
#[derive(Default)]
struct Memory {
    first: Option<u64>,
    last: Option<u64>,
}

/// What the allocator may keep beyond the first run without it being a leak.
const MEMORY_SLACK_MIB: u64 = 48;

impl Memory {
    fn sample(&mut self) {
        let now = rss_mib();
        self.first = self.first.or(now);
        self.last = now;
    }

    fn assert_flat(&self) {
        if let (Some(first), Some(last)) = (self.first, self.last) {
            eprintln!("MEMORY\tRSS {first} MiB after the first run, {last} MiB after the last");
            assert!(
                last <= first + MEMORY_SLACK_MIB,
                "memory grew over the runs: {first} MiB after the first, {last} MiB after the last"
            );
        }
    }
}

/// Runs one fault against a console mid-drill; the recovery time.
fn run(c: &mut Console, fault: Fault) -> Duration {
    let from = c.journal.len();
    let mut watch = Watch::default();
    if !matches!(fault, Fault::PauseConsole(_)) {
        step_for(c, POLL * 2, fault, &mut watch);
    }
    match fault {
        Fault::Freeze(side, d) => {
            let part = format!("broker-{}", lab_name(side));
            signal(&part, "STOP");
            step_for(c, d, fault, &mut watch);
            signal(&part, "CONT");
        }
        Fault::KillBroker(side, d) => {
            signal(&format!("broker-{}", lab_name(side)), "KILL");
            step_for(c, d, fault, &mut watch);
            lab(&["broker", "start", lab_name(side)]);
        }
        Fault::MoveListener(side, d) => {
            let name = lab_name(side);
            lab(&["broker", "start", name, "--port", &moved_port(side).to_string()]);
            step_for(c, d, fault, &mut watch);
            lab(&["broker", "start", name]);
        }
        Fault::KillMm2(d) => {
            signal("connect-dc-dr", "KILL");
            step_for(c, d, fault, &mut watch);
            lab(&["mm2", "start", "dc-dr"]);
        }
        Fault::FreezeApiServer(side, d) => {
            let paused = support::kube::Paused::stop(&format!("kube-apiserver-{}", lab_name(side)));
            step_for(c, d, fault, &mut watch);
            drop(paused);
        }
        Fault::KillApiServer(side, d) => {
            let ended = support::kube::Ended::kill(&format!("kube-apiserver-{}", lab_name(side)));
            step_for(c, d, fault, &mut watch);
            ended.restart();
        }
        Fault::PauseConsole(d) => {
            let paused = Utc::now();
            std::thread::sleep(d);
            step_for(c, HOLD + POLL * 2, fault, &mut watch);
            // A hold that ran before the pause does not count across it.
            for e in &c.journal[from..] {
                if let DrillEvent::StepCompleted { step, held_since: Some(since), at, .. } = e {
                    assert!(
                        *since > paused,
                        "step {} held from {since} across the pause ({paused}, {} s) to {at}",
                        step + 1,
                        d.as_secs()
                    );
                }
            }
        }
    }
    let ended = Instant::now();
    let budget = STALE_AFTER + POLL * 2;
    // Stepping past the budget shows how long recovery took when it was late.
    let give_up = budget + Duration::from_secs(60);
    let witness = Witness::start(give_up, matches!(fault, Fault::FreezeApiServer(..) | Fault::KillApiServer(..)));
    // When each part of the recovery last became true, and the state at
    // the budget's end: which part a late recovery waited for.
    let mut parts: [(&str, Option<Duration>); 4] = [("", None); 4];
    let mut at_budget = None;
    loop {
        c.step();
        watch.look(c, fault);
        if let Some(a) = c.app.assessment() {
            for ((name, since), (part, ok)) in parts.iter_mut().zip(recovered_parts(a)) {
                *name = part;
                *since = if ok { since.or(Some(ended.elapsed())) } else { None };
            }
            if at_budget.is_none() && ended.elapsed() > budget {
                at_budget = Some(recovery_state(a));
            }
            if recovered(a) {
                break;
            }
        }
        assert!(
            ended.elapsed() < give_up,
            "{}: not recovered within {} s: {}\n{}",
            fault.label(),
            give_up.as_secs(),
            c.app.assessment().map(recovery_state).unwrap_or_default(),
            c.state()
        );
    }
    let took = ended.elapsed();
    let Some(world) = witness.world_back() else {
        panic!(
            "{}: the world itself did not answer fresh clients within {} s (every partition led with an end \
             offset on both clusters, every connector and task RUNNING): the recovery cannot be timed",
            fault.label(),
            give_up.as_secs()
        )
    };
    // A few more polls: the figures stay fresh and nothing is raised late.
    step_for(c, POLL * 3, fault, &mut watch);
    let mut bad = findings(c, from, fault);
    // Failing closed: a Kubernetes API server gone longer than stale_after
    // is shown unreachable, MM2's pods unknown, not as last seen.
    if let Fault::FreezeApiServer(side, _) | Fault::KillApiServer(side, _) = fault
        && !watch.kube_unknown[side.index()]
    {
        bad.push(format!("{side}'s Kubernetes never shown unreachable with MM2's pods unknown"));
    }
    bad.extend(watch.alarms.into_iter().map(|a| format!("alarm shown that the world did not cause: {a}")));
    let trail = watch.trail.join(" → ");
    let parts = parts
        .iter()
        .map(|(name, since)| format!("{name} {:.1} s", since.unwrap_or(took).as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "FAULT\t{}\trecovered in {:.1} s ({parts}; the world answered in {:.1} s)\tMM2 DC→DR {trail}\tRSS {} MiB",
        fault.label(),
        took.as_secs_f64(),
        world.as_secs_f64(),
        rss_mib().map_or("?".into(), |m| m.to_string())
    );
    assert!(bad.is_empty(), "{}:\n{}\n{}", fault.label(), bad.join("\n"), c.state());
    assert!(
        took <= world + budget,
        "{}: back to fresh figures after {:.1} s ({parts}), more than stale_after + 2 polls ({} s) after the \
         world answered ({:.1} s); at {} s:\n{}\nnow:\n{}",
        fault.label(),
        took.as_secs_f64(),
        budget.as_secs(),
        world.as_secs_f64(),
        budget.as_secs(),
        at_budget.unwrap_or_default(),
        c.state()
    );
    took
}

/// Runs, on one console mid-drill on `cfg`, the faults `each(run, side)`
/// gives for every repetition and side (DR first), its memory flat over
/// them all.
fn on_one_console(cfg: kdrill::config::Config, each: impl Fn(usize, Side) -> Vec<Fault>) {
    let _lock = support::exclusive();
    let _restore = Restore;
    let mut c = console_mid_drill(cfg);
    let mut memory = Memory::default();
    for i in 0..repeat() {
        for side in [Side::Dr, Side::Dc] {
            for fault in each(i, side) {
                run(&mut c, fault);
                memory.sample();
            }
        }
    }
    memory.assert_flat();
}

#[test]
fn frozen_brokers_shorter_and_longer_than_stale_after_are_recovered_from() {
    on_one_console(config(), |i, side| {
        vec![
            Fault::Freeze(side, duration(i, Duration::from_secs(3), STALE_AFTER - Duration::from_secs(1))),
            Fault::Freeze(side, duration(i, Duration::from_secs(25), Duration::from_secs(40))),
        ]
    });
}

#[test]
fn killed_brokers_restarted_with_their_data_are_recovered_from() {
    on_one_console(config(), |i, side| {
        vec![Fault::KillBroker(side, duration(i, Duration::from_secs(2), Duration::from_secs(20)))]
    });
}

#[test]
fn a_broker_moved_off_its_bootstrap_address_and_back_is_recovered_from() {
    on_one_console(config(), |i, side| {
        vec![Fault::MoveListener(side, duration(i, Duration::from_secs(10), Duration::from_secs(30)))]
    });
}

#[test]
fn kubernetes_api_servers_frozen_or_restarted_mid_watch_are_recovered_from() {
    let cfg = config_with_kubernetes();
    on_one_console(cfg, |i, side| {
        vec![
            Fault::FreezeApiServer(side, duration(i, Duration::from_secs(25), Duration::from_secs(40))),
            // Down longer than stale_after: its facts must be seen to age.
            Fault::KillApiServer(side, duration(i, STALE_AFTER + POLL * 2, Duration::from_secs(20))),
        ]
    });
}

#[test]
fn a_killed_mm2_worker_restarted_is_recovered_from() {
    let _lock = support::exclusive();
    let _restore = Restore;
    for i in 0..repeat() {
        let mut c = console_mid_drill(config());
        run(&mut c, Fault::KillMm2(duration(i, Duration::from_secs(2), Duration::from_secs(20))));
    }
}

#[test]
fn a_paused_console_restarts_its_holds_and_opens_nothing_on_old_data() {
    let _lock = support::shared();
    for i in 0..repeat() {
        let mut c = Console::start(config(), false);
        c.wait("the steady state (no apps, MM2 DC→DR healthy)", 120, |c| c.app.assessment().is_some_and(recovered));
        c.command("switchover");
        c.pass_preflight(10);
        // The stop-apps gate (no app on DC) holds at once: pause while it holds.
        c.wait("the stop-apps step's hold running", 30, |c| c.app.drill().is_some_and(|d| d.view().holding.is_some()));
        run(&mut c, Fault::PauseConsole(duration(i, HOLD * 3, HOLD * 6)));
    }
}
