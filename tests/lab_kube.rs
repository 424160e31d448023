//! kdrill's view of each side's Kubernetes against real API servers
//! (`scripts/lab kube`): Strimzi's `KafkaMirrorMaker2` in both API shapes,
//! MM2 pods and the apps' Deployments, read by kdrill's real collector and
//! judged by its assessment, beside the real Kafka + MM2 lab they describe.
//!
//! What the test changes in the world it changes the way an operator
//! would: with a Kubernetes client of its own on the `*-admin` contexts
//! (scaling the resources; the lab's bridge carries it out on the real
//! processes), with the bridge's faults, or by signalling a lab process.
//! Observing scenarios hold the shared lab lock; scenarios that change the
//! world hold it exclusively and put back what they changed, also on failure.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use kdrill::assess::{Assessment, Assessor, Condition, Health, Known, Mm2View, PlatformView, Truth, evaluate};
use kdrill::collect::WorldLink;
use kdrill::config::Config;
use kdrill::model::{ConnectState, Flow, Link, Section, Side, Snapshot};
use serde_json::Value;

use support::kube::{Admin, AuditMark, Ended, Fault, Paused, kube_lab};

/// kdrill's collector and judgement, stepped by the test.
struct Observer {
    /// Runs the collector; kept alive for the test's length.
    _rt: tokio::runtime::Runtime,
    link: WorldLink,
    assessor: Assessor,
}

impl Observer {
    fn start(cfg: Config) -> Observer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"));
        let assessor = Assessor::new(cfg.settings.clone());
        let link = {
            let _guard = rt.enter();
            kdrill::collect::kafka::spawn(cfg)
        };
        Observer { _rt: rt, link, assessor }
    }

    /// One observation: the latest snapshot, judged now.
    fn step(&mut self) -> (Arc<Snapshot>, Assessment) {
        std::thread::sleep(Duration::from_millis(250));
        let snap = self.link.snapshots.borrow().clone();
        let a = self.assessor.assess(&snap, Utc::now());
        (snap, a)
    }

    /// Steps until `done` holds, or fails naming `what` and what was last seen.
    fn wait(
        &mut self,
        what: &str,
        secs: u64,
        mut done: impl FnMut(&Snapshot, &Assessment) -> bool,
    ) -> (Arc<Snapshot>, Assessment) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (snap, a) = self.step();
            if done(&snap, &a) {
                return (snap, a);
            }
            if Instant::now() >= deadline {
                panic!("timed out after {secs} s waiting for {what}\n{}", describe(&a));
            }
        }
    }
}

/// The facts this file asserts on, for failure messages.
fn describe(a: &Assessment) -> String {
    let mut out = format!("verdict: {}\n", a.verdict.text);
    for p in a.platforms.iter().flatten() {
        out += &format!(
            "platform {}: unreachable {:?}, MM2 pods {:?}, apps {:?}, refusals {:?}\n",
            p.place,
            p.unreachable,
            p.mm2_pods,
            p.apps.as_ref().map(|w| (&w.ready, &w.desired, &w.detail)),
            p.refusals
        );
    }
    for m in &a.mm2 {
        let kinds: Vec<&str> = m.problems.iter().map(|p| p.kind.as_str()).collect();
        out += &format!(
            "mm2 {} {}: running {:?}, health {}, workers {:?}, pods {:?}, flowing {:?}, problems {kinds:?} {:?}\n",
            m.name,
            m.flow,
            m.running,
            m.health.label(),
            m.workers_alive,
            m.platform.as_ref().map(|p| &p.pods),
            m.flowing,
            m.problems.iter().map(|p| &p.text).collect::<Vec<_>>()
        );
    }
    for c in [
        Condition::NoMm2Running,
        Condition::Mm2Flowing(Flow::DC_TO_DR),
        Condition::NoAppClients(Side::Dc),
        Condition::AppsActive(Side::Dc),
    ] {
        let check = evaluate(&c, a);
        out += &format!("{}: {:?} ({})\n", check.label, check.truth, check.observed);
    }
    out
}

const BOTH_FLOWS: &str = r#"
[[mm2]]
source = "dc"
target = "dr"
flavour = "strimzi"
connect_url = "http://127.0.0.1:28083"

[[mm2]]
source = "dr"
target = "dc"
flavour = "strimzi"
connect_url = "http://127.0.0.1:18083"
"#;

/// kdrill's configuration of the lab (as `examples/lab.toml`) with each
/// side's Kubernetes read through the kubeconfig context given per side,
/// the apps' Deployment `apps/lab-app` declared on both, and `mm2`.
fn kube_config(contexts: [&str; 2], mm2: &str) -> Config {
    let l = support::lab();
    let k = kube_lab();
    let cluster = |side: &str, bootstrap: &str, context: &str| {
        format!(
            "[clusters.{side}]\nbootstrap = \"{bootstrap}\"\nkube_context = \"{context}\"\nkubeconfig = \"{}\"\nnamespace = \"kafka\"\n\
             [[clusters.{side}.workloads]]\nkind = \"Deployment\"\nnamespace = \"apps\"\nname = \"lab-app\"\n",
            k.kubeconfig.display()
        )
    };
    let text = format!(
        r#"{}{}{mm2}
[replication]
policy = "identity"
heartbeats = "mirrored"

[apps]
topics = ["redis-writes", "orders"]
groups = ["orders-app", "writes-app"]
plumbing_groups = ["redis-applier"]

[timing]
poll_interval = "1s"
hold_window = "3s"
stale_after = "10s"
rate_window = "10s"
"#,
        cluster("dc", &l.dc, contexts[0]),
        cluster("dr", &l.dr, contexts[1]),
    );
    kdrill::config::parse(&text, Path::new("lab-kube-test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

const VIEWERS: [&str; 2] = ["dc-viewer", "dr-viewer"];

fn mm2_of(a: &Assessment, flow: Flow) -> &Mm2View {
    a.mm2.iter().find(|m| m.flow == flow).unwrap_or_else(|| panic!("no MM2 deployment {flow} assessed"))
}

fn platform_of(a: &Assessment, side: Side) -> &PlatformView {
    a.platforms[side.index()].as_ref().unwrap_or_else(|| panic!("no platform view of {side}"))
}

fn holds(a: &Assessment, c: Condition) -> bool {
    evaluate(&c, a).truth.is_yes()
}

fn has_problem(a: &Assessment, flow: Flow, kind: &str) -> bool {
    a.mm2.iter().filter(|m| m.flow == flow).flat_map(|m| &m.problems).any(|p| p.kind.as_str() == kind)
}

/// Every section of both sides' Kubernetes fresh, and both MM2 deployments
/// seen by both sources.
fn all_seen(snap: &Snapshot, a: &Assessment) -> bool {
    let sides_fresh = Side::BOTH.iter().all(|s| {
        let p = snap.platform(*s);
        p.is_some_and(|p| {
            matches!(p.link, Link::Up { .. })
                && p.mirrormakers.is_some()
                && p.mm2_pods.is_some()
                && p.workloads.is_some()
                && p.refusals.is_empty()
        }) && a.platforms[s.index()].as_ref().is_some_and(|v| {
            matches!(v.mm2_pods, Known::Is(_)) && v.apps.as_ref().is_some_and(|w| matches!(w.ready, Known::Is(_)))
        })
    });
    sides_fresh
        && a.mm2.len() == 2
        && a.mm2.iter().all(|m| {
            m.workers_alive.is_some()
                && m.platform.as_ref().is_some_and(|p| matches!(p.pods, Known::Is(_)) && p.resource.is_some())
        })
}

/// DC→DR as `scripts/lab up` leaves it: its worker and pod on DR, every
/// connector and task RUNNING, heartbeats flowing, no problem.
fn dc_dr_healthy(a: &Assessment) -> bool {
    let m = mm2_of(a, Flow::DC_TO_DR);
    m.health == Health::Healthy
        && m.problems.is_empty()
        && m.workers_alive == Some(1)
        && m.platform.as_ref().is_some_and(|p| p.pods == Known::Is(1))
        && holds(a, Condition::Mm2Flowing(Flow::DC_TO_DR))
}

// ---------------------------------------------------------------- observing

/// What test 1 and the audit test both run: both API shapes read from the
/// real API servers through `contexts`, compared with what the lab's admin
/// reads and with Kafka's own view of the MM2 workers.
fn reads_both_shapes(contexts: [&str; 2]) {
    let admin = Admin::connect();
    // The lab's objects, read by the test's own client.
    let dr_mm2 = admin.mm2(Side::Dr, "v1");
    let dc_mm2 = admin.mm2(Side::Dc, "v1beta2");
    let spec_replicas = |v: &Value| v.pointer("/spec/replicas").and_then(Value::as_i64);
    assert_eq!(dr_mm2.pointer("/spec/target/alias").and_then(Value::as_str), Some("dr"), "DR's mm2 is v1-shaped");
    assert_eq!(dc_mm2.pointer("/spec/connectCluster").and_then(Value::as_str), Some("dc"), "DC's is v1beta2-shaped");
    assert!(dc_mm2.pointer("/spec/target").is_none(), "DC's mm2 has no v1 `target`");
    let app_replicas = [admin.app_replicas(Side::Dc), admin.app_replicas(Side::Dr)];
    let dr_pods = admin.mm2_pods(Side::Dr);

    let mut o = Observer::start(kube_config(contexts, BOTH_FLOWS));
    let (snap, a) = o.wait("both sides' Kubernetes and both MM2 deployments seen", 60, all_seen);

    // Both API shapes, each side's resource read by kdrill.
    let resource = |side: Side| {
        snap.platform(side)
            .and_then(|p| p.mirrormakers.as_ref())
            .and_then(|o| o.value.iter().find(|m| m.name == "mm2"))
            .cloned()
            .unwrap_or_else(|| panic!("kdrill did not read {side}'s kafka/mm2"))
    };
    let dr = resource(Side::Dr);
    assert_eq!((dr.target_alias.as_deref(), dr.source_aliases.clone()), (Some("dr"), vec!["dc".to_owned()]));
    assert_eq!(dr.replicas.map(i64::from), spec_replicas(&dr_mm2), "DR's spec.replicas as the lab set it");
    let dc = resource(Side::Dc);
    assert_eq!(
        (dc.target_alias.as_deref(), dc.source_aliases.clone()),
        (Some("dc"), vec!["dr".to_owned()]),
        "v1beta2 fields (connectCluster, mirrors[].sourceCluster) read: {dc:?}"
    );
    assert_eq!(dc.replicas.map(i64::from), spec_replicas(&dc_mm2), "DC's spec.replicas as the lab set it");
    assert_eq!(dc.replicas, Some(0), "the lab's DR→DC mm2 is scaled to 0");

    // MM2 pods beside Kafka's Connect workers.
    let dc_dr = mm2_of(&a, Flow::DC_TO_DR);
    let workers = dc_dr.workers_alive.unwrap_or_else(|| panic!("DC→DR workers unobserved"));
    assert!(workers >= 1, "the lab's DC→DR worker runs: {}", describe(&a));
    let pods = dc_dr.platform.as_ref().and_then(|p| p.pods.value());
    assert_eq!(pods, Some(workers), "MM2 pods on DR equal the running Connect workers: {}", describe(&a));
    assert_eq!(pods, Some(dr_pods.len()), "kdrill's pods are the API's: {dr_pods:?}");
    let dr_dc = mm2_of(&a, Flow::DR_TO_DC);
    assert_eq!(dr_dc.platform.as_ref().map(|p| p.pods.clone()), Some(Known::Is(0)), "no pod of DR→DC on DC");
    assert_eq!(dr_dc.workers_alive, Some(0), "no DR→DC worker");
    for m in &a.mm2 {
        let p = m.platform.as_ref().unwrap_or_else(|| panic!("{} has no platform facts", m.flow));
        assert_eq!(p.resource.as_ref().map(|r| r.name.as_str()), Some("mm2"), "{} pane names its resource", m.flow);
        assert!(p.disagreements.is_empty(), "{}: {:?}", m.flow, p.disagreements);
    }
    assert_eq!(platform_of(&a, Side::Dr).mm2_pods, Known::Is(dr_pods.len()));
    assert_eq!(platform_of(&a, Side::Dc).mm2_pods, Known::Is(0));

    // The apps' Deployment on both sides.
    for side in Side::BOTH {
        let w = snap
            .platform(side)
            .and_then(|p| p.workloads.as_ref())
            .and_then(|o| o.value.iter().find(|w| w.name == "lab-app" && w.namespace == "apps"))
            .unwrap_or_else(|| panic!("{side}: apps/lab-app not seen"));
        assert!(w.exists, "{side}: apps/lab-app exists");
        assert_eq!(w.desired, app_replicas[side.index()], "{side}: replicas as the API has them");
        let detail = &platform_of(&a, side).apps.as_ref().unwrap_or_else(|| panic!("{side}: no workloads")).detail;
        assert!(detail.iter().any(|d| d.starts_with("Deployment apps/lab-app ")), "{side}: {detail:?}");
    }
}

#[test]
fn both_api_shapes_read_from_real_api_servers() {
    kube_lab();
    let _lock = support::shared();
    reads_both_shapes(VIEWERS);
}

#[test]
fn kdrill_sends_no_mutating_request_with_operator_contexts() {
    kube_lab();
    let _lock = support::shared();
    let mark = AuditMark::now();
    // Operator contexts may patch: what kdrill does with them is its own choice.
    reads_both_shapes(["dc", "dr"]);
    // The collector's runtime is gone; let the API servers finish writing.
    std::thread::sleep(Duration::from_secs(1));
    for side in Side::BOTH {
        let events = mark.events_since(side);
        let operator: Vec<&Value> =
            events.iter().filter(|e| e.pointer("/user/username").and_then(Value::as_str) == Some("operator")).collect();
        let verb = |e: &Value| e.get("verb").and_then(Value::as_str).unwrap_or_default().to_owned();
        let reads = operator.iter().filter(|e| matches!(verb(e).as_str(), "get" | "list" | "watch")).count();
        let writes: Vec<String> = operator
            .iter()
            .filter(|e| !matches!(verb(e).as_str(), "get" | "list" | "watch"))
            .map(|e| format!("{} {}", verb(e), e.get("requestURI").and_then(Value::as_str).unwrap_or_default()))
            .collect();
        assert!(writes.is_empty(), "{side}: kdrill sent mutating requests: {writes:?}");
        assert!(reads > 0, "{side}: no read by `operator` in the audit log, so the count above proves nothing");
        support::note(&format!("{side}: {reads} reads and no write by operator in the audit log"));
    }
}

#[test]
fn kubernetes_is_watched_not_listed_at_every_poll() {
    kube_lab();
    // Exclusive: the counts below are every request of the `viewer` user.
    let _lock = support::exclusive();
    // Every request of the `viewer` user begun since `mark`, as `verb URI`.
    // A watch is logged when its response starts and again when it ends:
    // it counts where it started, so one opened before the mark and ended
    // by the server meanwhile is not taken for a new one.
    let requests = |mark: &AuditMark, side: Side| -> Vec<String> {
        mark.events_since(side)
            .iter()
            .filter(|e| e.pointer("/user/username").and_then(Value::as_str) == Some("viewer"))
            .filter_map(|e| {
                let field = |k: &str| e.get(k).and_then(Value::as_str);
                let (verb, stage) = (field("verb")?, field("stage")?);
                let begun = if verb == "watch" { "ResponseStarted" } else { "ResponseComplete" };
                (stage == begun).then(|| format!("{verb} {}", field("requestURI").unwrap_or_default()))
            })
            .collect()
    };
    let start = AuditMark::now();
    let mut o = Observer::start(kube_config(VIEWERS, BOTH_FLOWS));
    o.wait("both sides' Kubernetes and both MM2 deployments seen", 60, all_seen);
    let mark = AuditMark::now();
    // Ten polls at the configured 1 s interval, watches open throughout.
    let window = Duration::from_secs(10);
    std::thread::sleep(window);
    // Let the API servers finish writing their audit logs.
    std::thread::sleep(Duration::from_secs(1));
    for side in Side::BOTH {
        // The audit log shows the collector's lists and watches, so their
        // absence from the window below means something.
        let opened = requests(&start, side);
        for verb in ["list ", "watch "] {
            assert!(opened.iter().any(|r| r.starts_with(verb)), "{side}: no `{verb}` logged at start: {opened:?}");
        }
        let requests = requests(&mark, side);
        let reads: Vec<&String> = requests.iter().filter(|r| !r.starts_with("get /version")).collect();
        let probes = requests.len() - reads.len();
        assert!(reads.is_empty(), "{side}: resources read again while the watches were open: {reads:?}");
        // One cheap probe per poll (a hung server's watch stays silent),
        // so the count is bounded by the polls the window holds.
        assert!((5..=13).contains(&probes), "{side}: {probes} probes in {window:?} at one poll a second");
        support::note(&format!(
            "{side}: in {window:?} (≈ 10 polls), {probes} GET /version probes and no list, get or new watch of a resource"
        ));
    }
    let (snap, a) = o.step();
    assert!(all_seen(&snap, &a), "the watches still feed fresh facts after the window:\n{}", describe(&a));
}

#[test]
fn a_context_without_list_pods_is_refused_by_name() {
    kube_lab();
    let _lock = support::shared();
    // Only the stopped flow (DR→DC): Kafka shows no worker, so whether MM2
    // runs anywhere rests on the pods kdrill is not allowed to list.
    let mm2 = "[[mm2]]\nsource = \"dr\"\ntarget = \"dc\"\nflavour = \"strimzi\"\n";
    let mut o = Observer::start(kube_config(["dc-nolist", "dr-nolist"], mm2));
    let (snap, a) = o.wait("both sides refusing the MM2 pods, their resources read", 60, |snap, a| {
        Side::BOTH.iter().all(|s| {
            // The resources' own watch syncs on its own time: wait for it
            // too, so that what follows asserts the refusal left it alone.
            snap.platform(*s)
                .is_some_and(|p| p.refusals.iter().any(|r| r.section == Section::Mm2Pods) && p.mirrormakers.is_some())
                && !a.platforms[s.index()].as_ref().is_none_or(|p| p.refusals.is_empty())
        }) && mm2_of(a, Flow::DR_TO_DC).workers_alive == Some(0)
    });
    for side in Side::BOTH {
        let ctx = format!("{}-nolist", support::kube::context(side));
        let p = snap.platform(side).unwrap_or_else(|| panic!("{side}"));
        let why = p.refusals.iter().find(|r| r.section == Section::Mm2Pods).map(|r| r.why.clone()).unwrap_or_default();
        // The API's 403 in its own words, and where kdrill asked.
        for part in [
            format!("context {ctx}"),
            "User \"nolist\" cannot list resource \"pods\"".to_owned(),
            "namespace \"kafka\"".to_owned(),
            "403".to_owned(),
        ] {
            assert!(why.contains(&part), "{side}: the refusal should name {part:?}: {why}");
        }
        assert!(p.mirrormakers.is_some(), "{side}: resources are still read (list allowed)");
        assert!(p.mm2_pods.is_none(), "{side}: no pod list, no pod facts");
        let view = platform_of(&a, side);
        assert!(view.refusals.iter().any(|r| r.contains("cannot list resource \"pods\"")), "{:?}", view.refusals);
        match &view.mm2_pods {
            Known::Unknown(why) => assert!(why.contains(&format!("context {ctx}")), "{why}"),
            other => panic!("{side}: refused pods must be unknown, not {other:?}"),
        }
    }
    let check = evaluate(&Condition::NoMm2Running, &a);
    match &check.truth {
        Truth::Unknown(why) => {
            for part in ["MM2 pods", "-nolist", "cannot list resource \"pods\"", "(403)"] {
                assert!(why.contains(part), "the reason should carry the refusal ({part:?}): {why}");
            }
        }
        other => panic!("no pod list: NoMm2Running must be unknown, not {other:?} ({})", check.observed),
    }
    // It stays so: never Yes while the pods cannot be listed.
    for _ in 0..8 {
        let (_, a) = o.step();
        assert!(!holds(&a, Condition::NoMm2Running), "NoMm2Running Yes without a pod list:\n{}", describe(&a));
    }
}

// ---------------------------------------------------------------- changing the world

/// Waits for the lab's steady DC→DR replication, healthy in kdrill's eyes.
fn steady(o: &mut Observer) -> Assessment {
    o.wait("DC→DR healthy with its pod, DR→DC stopped", 120, |_, a| {
        dc_dr_healthy(a) && mm2_of(a, Flow::DR_TO_DC).workers_alive == Some(0)
    })
    .1
}

#[test]
fn disagreements_between_kubernetes_and_kafka_close_the_flow_gate() {
    kube_lab();
    let _lock = support::exclusive();
    let mut o = Observer::start(kube_config(VIEWERS, BOTH_FLOWS));
    steady(&mut o);

    // The pods vanish from the API while the worker runs.
    let fault = Fault::set("delete-pods");
    let (_, a) =
        o.wait("workers-without-pods on DC→DR", 30, |_, a| has_problem(a, Flow::DC_TO_DR, "workers-without-pods"));
    let flowing = evaluate(&Condition::Mm2Flowing(Flow::DC_TO_DR), &a);
    assert!(!flowing.truth.is_yes(), "sources disagree: the flow gate stays shut: {flowing:?}");
    assert!(evaluate(&Condition::NoMm2Running, &a).truth.is_no(), "Kafka still sees the worker");
    fault.clear();
    o.wait("the pod back and DC→DR healthy", 60, |_, a| dc_dr_healthy(a));

    // The resource says Ready while a task FAILED; Connect's topic says RUNNING.
    let fault = Fault::set("ready-with-failed-task");
    let (_, a) = o.wait("ready-while-failed or resource-vs-status-topic on DC→DR", 30, |_, a| {
        has_problem(a, Flow::DC_TO_DR, "ready-while-failed")
            || has_problem(a, Flow::DC_TO_DR, "resource-vs-status-topic")
    });
    let flowing = evaluate(&Condition::Mm2Flowing(Flow::DC_TO_DR), &a);
    assert!(!flowing.truth.is_yes(), "a FAILED task in the resource shuts the flow gate: {flowing:?}");
    fault.clear();
    o.wait("DC→DR healthy again", 60, |_, a| dc_dr_healthy(a));
}

/// Puts DR's `kafka/mm2` back to 1 replica when dropped (also on failure).
struct Mm2Scaled<'a>(&'a Admin);

impl Drop for Mm2Scaled<'_> {
    fn drop(&mut self) {
        self.0.scale_mm2(Side::Dr, 1);
    }
}

/// Puts `apps/lab-app` back to the replicas it had, per side, when dropped.
struct AppsScaled<'a>(&'a Admin, [i32; 2]);

impl Drop for AppsScaled<'_> {
    fn drop(&mut self) {
        for side in Side::BOTH {
            self.0.scale_app(side, self.1[side.index()]);
        }
    }
}

#[test]
fn scaling_through_the_api_moves_the_gates() {
    kube_lab();
    let _lock = support::exclusive();
    let admin = Admin::connect();
    let mut o = Observer::start(kube_config(VIEWERS, BOTH_FLOWS));
    steady(&mut o);

    // MM2 DC→DR to zero: the pod terminates, then goes; only then no MM2.
    let restore = Mm2Scaled(&admin);
    admin.scale_mm2(Side::Dr, 0);
    let started = Instant::now();
    let mut saw_terminating = false;
    let mut yes_with_pods = Vec::new();
    let (_, a) = o.wait("NoMm2Running after scaling DR's mm2 to 0", 60, |snap, a| {
        let pods =
            snap.platform(Side::Dr).and_then(|p| p.mm2_pods.as_ref()).map(|o| o.value.clone()).unwrap_or_default();
        saw_terminating |= pods.iter().any(|p| p.terminating);
        let yes = holds(a, Condition::NoMm2Running);
        if yes && !pods.is_empty() {
            yes_with_pods.push(pods.iter().map(|p| format!("{} {}", p.name, p.phase)).collect::<Vec<_>>());
        }
        yes
    });
    support::note(&format!("NoMm2Running Yes {:?} after the patch", started.elapsed()));
    assert!(yes_with_pods.is_empty(), "NoMm2Running was Yes while pods were listed: {yes_with_pods:?}");
    assert!(saw_terminating, "the pod was seen Terminating before it vanished");
    assert_eq!(mm2_of(&a, Flow::DC_TO_DR).workers_alive, Some(0), "the Connect group is empty");
    assert!(admin.mm2_pods(Side::Dr).is_empty(), "the API holds no MM2 pod");

    // Back to one: running again, every connector RUNNING in both sources.
    drop(restore);
    let started = Instant::now();
    o.wait("DC→DR running again after scaling back to 1", 180, |_, a| {
        let m = mm2_of(a, Flow::DC_TO_DR);
        let resource_running =
            m.platform.as_ref().and_then(|p| p.resource.as_ref()).is_some_and(|r| {
                r.connectors.len() >= 3 && r.connectors.iter().all(|c| c.state == ConnectState::Running)
            });
        dc_dr_healthy(a)
            && m.connectors.len() >= 3
            && m.connectors.iter().all(|c| c.state == ConnectState::Running)
            && resource_running
    });
    support::note(&format!("DC→DR healthy {:?} after scaling back", started.elapsed()));

    // The apps' Deployment on DC: scaled up, the apps gate opens with it.
    let original = [admin.app_replicas(Side::Dc), admin.app_replicas(Side::Dr)];
    let restore = AppsScaled(&admin, original);
    admin.scale_app(Side::Dc, 1);
    let started = Instant::now();
    o.wait("apps active on DC with its workload ready", 180, |_, a| {
        holds(a, Condition::AppsActive(Side::Dc))
            && platform_of(a, Side::Dc).apps.as_ref().is_some_and(|w| w.ready == Known::Is(1))
    });
    support::note(&format!("AppsActive(DC) Yes {:?} after scaling lab-app to 1", started.elapsed()));
    admin.scale_app(Side::Dc, 0);
    let started = Instant::now();
    let mut yes_too_early = Vec::new();
    o.wait("no app clients on DC after scaling to 0", 90, |_, a| {
        let yes = holds(a, Condition::NoAppClients(Side::Dc));
        let ready = platform_of(a, Side::Dc).apps.as_ref().map(|w| w.ready.clone());
        let members: usize = a.side(Side::Dc).app_groups().map(|g| g.members).sum();
        if yes && (ready != Some(Known::Is(0)) || members > 0) {
            yes_too_early.push(format!("ready {ready:?}, {members} members"));
        }
        yes
    });
    support::note(&format!("NoAppClients(DC) Yes {:?} after scaling lab-app to 0", started.elapsed()));
    assert!(yes_too_early.is_empty(), "NoAppClients(DC) Yes before workloads and Kafka agreed: {yes_too_early:?}");
    // Leave no Terminating pod behind for the next scenario.
    o.wait("DC's app pod gone", 30, |snap, _| {
        snap.platform(Side::Dc)
            .and_then(|p| p.workloads.as_ref())
            .is_some_and(|w| w.value.iter().all(|w| w.pods.is_empty()))
    });
    drop(restore);
    if original[0] > 0 {
        o.wait("DC's apps back as they were", 180, |_, a| holds(a, Condition::AppsActive(Side::Dc)));
    }
}

#[test]
fn a_stopped_api_server_ages_its_facts_into_unknown() {
    kube_lab();
    let _lock = support::exclusive();
    let mut o = Observer::start(kube_config(VIEWERS, BOTH_FLOWS));
    o.wait("both sides' Kubernetes seen", 60, all_seen);

    let paused = Paused::stop("kube-apiserver-dr");
    let stopped = Instant::now();
    let (_, a) = o.wait("DR's Kubernetes facts unknown", 30, |_, a| {
        let dr = platform_of(a, Side::Dr);
        matches!(dr.mm2_pods, Known::Unknown(_)) && dr.unreachable.is_some()
    });
    let took = stopped.elapsed();
    support::note(&format!("DR's pods unknown {took:?} after SIGSTOP"));
    // stale_after 10 s from the last answered probe, plus a few polls.
    assert!(took <= Duration::from_secs(16), "stale only after {took:?}");
    let dr = platform_of(&a, Side::Dr);
    assert!(dr.apps.as_ref().is_some_and(|w| matches!(w.ready, Known::Unknown(_))), "DR's workloads unknown too");
    let m = mm2_of(&a, Flow::DC_TO_DR);
    assert!(matches!(m.platform.as_ref().map(|p| &p.pods), Some(Known::Unknown(_))), "{}", describe(&a));
    assert!(!holds(&a, Condition::NoMm2Running), "NoMm2Running with DR's pods unknown");
    assert_eq!(platform_of(&a, Side::Dc).mm2_pods, Known::Is(0), "DC's Kubernetes stays fresh");
    for _ in 0..4 {
        let (_, a) = o.step();
        assert!(!holds(&a, Condition::NoMm2Running), "{}", describe(&a));
    }

    paused.resume();
    let resumed = Instant::now();
    o.wait("DR's Kubernetes fresh again, same collector", 60, |_, a| {
        let dr = platform_of(a, Side::Dr);
        dr.unreachable.is_none()
            && dr.mm2_pods == Known::Is(1)
            && dr.mm2_pods_at.is_some_and(|t| t > Utc::now() - chrono::TimeDelta::seconds(5))
    });
    support::note(&format!("DR's Kubernetes fresh {:?} after SIGCONT", resumed.elapsed()));
    steady(&mut o);
}

/// An API server killed and started again: its facts age into unknown while
/// it is gone, and the same collector watches it again once it is back.
#[test]
fn a_killed_and_restarted_api_server_is_watched_again_without_restarting_kdrill() {
    kube_lab();
    let _lock = support::exclusive();
    let mut o = Observer::start(kube_config(VIEWERS, BOTH_FLOWS));
    o.wait("both sides' Kubernetes seen", 60, all_seen);

    let ended = Ended::kill("kube-apiserver-dr");
    let (_, a) = o.wait("DR's Kubernetes unreachable, its facts unknown", 30, |_, a| {
        let dr = platform_of(a, Side::Dr);
        matches!(dr.mm2_pods, Known::Unknown(_)) && dr.unreachable.is_some()
    });
    assert!(!holds(&a, Condition::NoMm2Running), "{}", describe(&a));
    let restarted = Instant::now();
    ended.restart();
    o.wait("DR's Kubernetes fresh again after its restart, same collector", 90, |_, a| {
        let dr = platform_of(a, Side::Dr);
        dr.unreachable.is_none()
            && dr.mm2_pods == Known::Is(1)
            && dr.mm2_pods_at.is_some_and(|t| t > Utc::now() - chrono::TimeDelta::seconds(5))
    });
    support::note(&format!("DR's Kubernetes fresh {:?} after its restart began", restarted.elapsed()));
    steady(&mut o);
}

// ---------------------------------------------------------------- carrying out requests

use kdrill::act::kube::KubeClients;
use kdrill::act::strimzi::{
    CONNECTOR_OFFSETS_ANNOTATION, MIRRORMAKER_CONNECTOR_ANNOTATION, OFFSETS_ALTER, offsets_entry_key,
};
use kdrill::act::{KubeObject, KubeOp, KubeRequest, KubeTarget, RequestResult};
use serde_json::json;

/// kdrill's Kubernetes executor on a runtime of the test's own.
struct Executor {
    rt: tokio::runtime::Runtime,
    clients: KubeClients,
}

impl Executor {
    fn new() -> Executor {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"));
        Executor { rt, clients: KubeClients::default() }
    }

    fn send(&mut self, context: &str, side: Side, object: KubeObject, op: KubeOp) -> RequestResult {
        let target = KubeTarget { side, context: context.to_owned(), kubeconfig: Some(kube_lab().kubeconfig.clone()) };
        let req = KubeRequest { target, object, op };
        let r = self.rt.block_on(self.clients.send(&req, Duration::from_secs(20)));
        support::note(&format!("{} -> ok {} {}", r.request, r.ok, r.detail));
        r
    }
}

fn mm2_object(version: &str) -> KubeObject {
    KubeObject {
        api_version: format!("kafka.strimzi.io/{version}"),
        plural: "kafkamirrormaker2s".into(),
        namespace: "kafka".into(),
        name: "mm2".into(),
    }
}

fn app_object() -> KubeObject {
    KubeObject {
        api_version: "apps/v1".into(),
        plural: "deployments".into(),
        namespace: "apps".into(),
        name: "lab-app".into(),
    }
}

/// The audit events of `side` since `mark` with this verb, user and resource name.
fn audited<'a>(events: &'a [Value], verb: &str, user: &str, resource: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| {
            e.get("verb").and_then(Value::as_str) == Some(verb)
                && e.pointer("/user/username").and_then(Value::as_str) == Some(user)
                && e.pointer("/objectRef/resource").and_then(Value::as_str) == Some(resource)
                && e.get("stage").and_then(Value::as_str) == Some("ResponseComplete")
        })
        .collect()
}

/// Removes the test's annotation from DR's `kafka/mm2` when dropped.
struct ProbeAnnotation<'a>(&'a Admin, &'static str);

impl Drop for ProbeAnnotation<'_> {
    fn drop(&mut self) {
        self.0.patch_mm2(Side::Dr, "v1", json!({"metadata": {"annotations": {self.1: null}}}));
    }
}

#[test]
fn a_merge_patch_is_sent_with_the_version_read_and_read_back_at_the_api_server() {
    kube_lab();
    // Exclusive: another scenario counts the operator's writes in the audit log.
    let _lock = support::exclusive();
    let admin = Admin::connect();
    let before = admin.mm2(Side::Dr, "v1");
    let probe = "kdrill.test/probe";
    let value = support::unique("merge");
    let _restore = ProbeAnnotation(&admin, probe);
    let mark = AuditMark::now();
    let mut ex = Executor::new();
    let patch = json!({"metadata": {"annotations": {probe: value}}});
    let r = ex.send(
        "dr",
        Side::Dr,
        mm2_object("v1"),
        KubeOp::MergePatch { patch: patch.clone(), record: vec!["/spec/replicas".into(), "/spec/nothing".into()] },
    );
    assert!(r.ok, "{r:?}");
    let path = mm2_object("v1").path();
    assert_eq!(
        r.recorded,
        vec![
            (format!("{path}#/spec/replicas"), before["spec"]["replicas"].clone()),
            (format!("{path}#/spec/nothing"), Value::Null)
        ]
    );
    let rv_before = before.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default();
    assert!(r.detail.starts_with(&format!("200 OK: resourceVersion {rv_before} → ")), "{}", r.detail);
    assert_eq!(r.request, format!("PATCH {path} (context dr, DR)"));

    // Read back at the API server.
    let after = admin.mm2(Side::Dr, "v1");
    assert_eq!(after.pointer(&format!("/metadata/annotations/{}", probe.replace('/', "~1"))), Some(&json!(value)));
    assert_eq!(after["spec"], before["spec"], "only the annotation changed");

    // One patch by the operator user, with exactly that body and the version read.
    std::thread::sleep(Duration::from_secs(1));
    let events = mark.events_since(Side::Dr);
    let patches = audited(&events, "patch", "operator", "kafkamirrormaker2s");
    assert_eq!(patches.len(), 1, "{patches:?}");
    let mut sent = patch.clone();
    sent["metadata"]["resourceVersion"] = json!(rv_before);
    assert_eq!(patches[0].get("requestObject"), Some(&sent), "the audit log's request body");
    assert_eq!(patches[0].pointer("/responseStatus/code").and_then(Value::as_u64), Some(200));

    // What the executor relies on for conflicts: a stale resourceVersion is
    // refused with 409 by the API server itself (provoking a concurrent
    // write between the executor's read and its patch cannot be timed; the
    // retry loop is unit-tested in act::kube with a scripted server).
    let stale = json!({"metadata": {"resourceVersion": rv_before, "annotations": {probe: "stale"}}});
    match admin.try_patch_mm2(Side::Dr, "v1", stale) {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 409, "{s:?}"),
        other => panic!("a stale resourceVersion must be refused with 409, not {other:?}"),
    }
}

#[test]
fn a_viewers_patch_is_refused_in_words() {
    kube_lab();
    let _lock = support::shared();
    let mark = AuditMark::now();
    let mut ex = Executor::new();
    let r = ex.send(
        "dr-viewer",
        Side::Dr,
        mm2_object("v1"),
        KubeOp::MergePatch { patch: json!({"spec": {"replicas": 0}}), record: vec!["/spec/replicas".into()] },
    );
    assert!(!r.ok, "{r:?}");
    for part in
        ["403", "context dr-viewer", "User \"viewer\"", "cannot patch", "kafkamirrormaker2s", "namespace \"kafka\""]
    {
        assert!(r.detail.contains(part), "the refusal should name {part:?}: {}", r.detail);
    }
    assert!(r.recorded.is_empty());
    std::thread::sleep(Duration::from_secs(1));
    let events = mark.events_since(Side::Dr);
    let patches = audited(&events, "patch", "viewer", "kafkamirrormaker2s");
    assert!(!patches.is_empty(), "the refused patch is in the audit log");
    for p in patches {
        assert_eq!(p.pointer("/responseStatus/code").and_then(Value::as_u64), Some(403), "{p}");
    }
}

/// Puts `apps/lab-app` of DC back to `replicas` when dropped.
struct AppBack<'a>(&'a Admin, i32);

impl Drop for AppBack<'_> {
    fn drop(&mut self) {
        self.0.scale_app(Side::Dc, self.1);
    }
}

#[test]
fn a_deployment_scaled_by_merge_patch_is_carried_out_by_the_bridge() {
    kube_lab();
    let _lock = support::exclusive();
    let admin = Admin::connect();
    let original = admin.app_replicas(Side::Dc);
    let _back = AppBack(&admin, original);
    let mut ex = Executor::new();
    let mut scale = |n: i64| {
        let r = ex.send(
            "dc",
            Side::Dc,
            app_object(),
            KubeOp::MergePatch { patch: json!({"spec": {"replicas": n}}), record: vec!["/spec/replicas".into()] },
        );
        assert!(r.ok, "{r:?}");
        let ready = ex.send(
            "dc",
            Side::Dc,
            app_object(),
            // The API omits a zero count: 0 ready reads as absent.
            KubeOp::Await {
                pointer: "/status/readyReplicas".into(),
                equals: if n == 0 { Value::Null } else { json!(n) },
                within: Duration::from_secs(150),
            },
        );
        assert!(ready.ok, "the bridge carried out replicas {n}: {ready:?}");
        r.recorded
    };
    let up = if original == 0 { 1 } else { 0 };
    let recorded = scale(up);
    assert_eq!(recorded[0].1, json!(original), "the replicas before");
    // The sample app's process itself, as the bridge's log tells it.
    let log = std::fs::read_to_string(&kube_lab().bridge_log).unwrap_or_default();
    let verb = if up == 1 { "apps start dc" } else { "apps stop dc" };
    assert!(log.contains(&format!("running scripts/lab {verb}")), "the bridge ran `scripts/lab {verb}`");
    let recorded = scale(i64::from(original));
    assert_eq!(recorded[0].1, json!(up));
}

/// The lab's Connect REST of flow DR→DC (`scripts/lab env`).
fn dr_dc_rest() -> String {
    let env = support::lab().run(&["env"], Duration::from_secs(30)).unwrap_or_default();
    env.lines()
        .find_map(|l| l.strip_prefix("KDRILL_LAB_MM2_DR_DC_REST="))
        .unwrap_or("http://127.0.0.1:18083")
        .to_owned()
}

/// One Connect REST call with curl: (HTTP code, body as JSON or Null).
fn connect(method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-m", "20", "-o", "-", "-w", "\n%{http_code}", "-X", method, url]);
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary", &b.to_string()]);
    }
    let out = support::run_bounded(&mut cmd, Duration::from_secs(30)).unwrap_or_default();
    let (text, code) = out.trim_end().rsplit_once('\n').unwrap_or(("", out.trim()));
    (code.trim().parse().unwrap_or(0), serde_json::from_str(text).unwrap_or(Value::Null))
}

const DR_DC_CONNECTORS: [&str; 4] = [
    "dr-%3Edc.MirrorSourceConnector",
    "dr-%3Edc.MirrorCheckpointConnector",
    "dr-%3Edc.MirrorHeartbeatConnector",
    "dr-%3Edc.upstream.MirrorHeartbeatConnector",
];

/// Puts DR→DC back as `scripts/lab up` leaves it, also on failure: the
/// probe offset removed, the connectors this test stopped deleted (a plain
/// `scripts/lab mm2 start dr-dc` recreates them RUNNING with the offsets
/// they had), DC's `kafka/mm2` as it was (replicas 0: the worker stops),
/// the offsets ConfigMap gone.
struct DrDcBack<'a> {
    admin: &'a Admin,
    rest: String,
    spec: Value,
    probe: Value,
}

impl Drop for DrDcBack<'_> {
    fn drop(&mut self) {
        // The bridge done with the test's generation (its `mm2 start` returned).
        settled(self.admin);
        let src = format!("{}/connectors/{}", self.rest, DR_DC_CONNECTORS[0]);
        let (code, _) = connect("PATCH", &format!("{src}/offsets"), Some(&self.probe));
        support::note(&format!("probe offset removed: HTTP {code}"));
        for c in DR_DC_CONNECTORS {
            connect("DELETE", &format!("{}/connectors/{c}", self.rest), None);
        }
        self.admin.patch_mm2(
            Side::Dc,
            "v1beta2",
            json!({"metadata": {"annotations": {CONNECTOR_OFFSETS_ANNOTATION: null, MIRRORMAKER_CONNECTOR_ANNOTATION: null}},
                   "spec": self.spec}),
        );
        self.admin.delete_config_map(Side::Dc, "kafka", "kdrill-offsets");
        support::wait_for("the DR→DC worker stopped", Duration::from_secs(90), || {
            match connect("GET", &format!("{}/", self.rest), None).0 {
                0 => Ok(()),
                code => Err(format!("its REST still answers ({code})")),
            }
        });
    }
}

/// Waits until the bridge has carried out DC's `kafka/mm2` generation.
fn settled(admin: &Admin) {
    support::wait_for("the bridge done with DC's kafka/mm2", Duration::from_secs(150), || {
        let m = admin.mm2(Side::Dc, "v1beta2");
        let (generation, seen) = (m.pointer("/metadata/generation"), m.pointer("/status/observedGeneration"));
        if generation == seen { Ok(()) } else { Err(format!("generation {generation:?}, observed {seen:?}")) }
    });
}

#[test]
fn connector_offsets_are_altered_through_strimzis_annotations() {
    kube_lab();
    let _lock = support::exclusive();
    let admin = Admin::connect();
    let rest = dr_dc_rest();
    let original = admin.mm2(Side::Dc, "v1beta2");
    assert_eq!(original.pointer("/spec/replicas"), Some(&json!(0)), "DR→DC stopped, as `scripts/lab up` leaves it");
    // A partition of a topic MM2 never copies (`mm2-.*` is excluded): the
    // offset is stored and read back, and no task ever seeks with it.
    let partition = json!({"cluster": "dr", "topic": "mm2-kdrill-offsets-probe", "partition": 0});
    let _back = DrDcBack {
        admin: &admin,
        rest: rest.clone(),
        spec: json!({"replicas": 0, "mirrors": original["spec"]["mirrors"]}),
        probe: json!({"offsets": [{"partition": partition, "offset": null}]}),
    };

    // Every connector stopped (nothing copied while the worker runs), the
    // source connector's offsets from ConfigMap kdrill-offsets.
    let mut mirrors = original["spec"]["mirrors"].clone();
    for field in ["sourceConnector", "checkpointConnector", "heartbeatConnector"] {
        mirrors[0][field]["state"] = json!("stopped");
    }
    mirrors[0]["sourceConnector"]["alterOffsets"] = json!({"fromConfigMap": {"name": "kdrill-offsets"}});
    let mut ex = Executor::new();
    let r = ex.send(
        "dc",
        Side::Dc,
        mm2_object("v1beta2"),
        KubeOp::MergePatch {
            patch: json!({"spec": {"replicas": 1, "mirrors": mirrors}}),
            record: vec!["/spec/replicas".into()],
        },
    );
    assert!(r.ok, "{r:?}");
    let source = format!("{rest}/connectors/{}", DR_DC_CONNECTORS[0]);
    support::wait_for("dr->dc.MirrorSourceConnector STOPPED on its worker", Duration::from_secs(180), || {
        let (code, status) = connect("GET", &format!("{source}/status"), None);
        match status.pointer("/connector/state").and_then(Value::as_str) {
            Some("STOPPED") => Ok(()),
            other => Err(format!("HTTP {code}, state {other:?}")),
        }
    });

    let offsets = json!({"offsets": [{"partition": partition, "offset": {"offset": 41}}]});
    let key = offsets_entry_key("dr->dc.MirrorSourceConnector");
    let cm = KubeObject {
        api_version: "v1".into(),
        plural: "configmaps".into(),
        namespace: "kafka".into(),
        name: "kdrill-offsets".into(),
    };
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "kdrill-offsets", "namespace": "kafka"},
                      "data": {key.clone(): offsets.to_string()}});
    let r = ex.send("dc", Side::Dc, cm, KubeOp::Apply { body });
    assert!(r.ok, "{r:?}");
    let annotate = json!({"metadata": {"annotations": {
        CONNECTOR_OFFSETS_ANNOTATION: OFFSETS_ALTER,
        MIRRORMAKER_CONNECTOR_ANNOTATION: "dr->dc.MirrorSourceConnector"}}});
    let r = ex.send("dc", Side::Dc, mm2_object("v1beta2"), KubeOp::MergePatch { patch: annotate, record: vec![] });
    assert!(r.ok, "{r:?}");
    // The bridge removes the annotation once done, as Strimzi does.
    let done = ex.send(
        "dc",
        Side::Dc,
        mm2_object("v1beta2"),
        KubeOp::Await {
            pointer: format!("/metadata/annotations/{}", CONNECTOR_OFFSETS_ANNOTATION.replace('/', "~1")),
            equals: Value::Null,
            within: Duration::from_secs(60),
        },
    );
    assert!(done.ok, "{done:?}");

    let (code, read) = connect("GET", &format!("{source}/offsets"), None);
    assert_eq!(code, 200, "{read}");
    let found: Vec<&Value> = read["offsets"]
        .as_array()
        .map(|a| a.iter().filter(|o| o["partition"] == partition).collect())
        .unwrap_or_default();
    assert_eq!(found, vec![&offsets["offsets"][0]], "Connect holds exactly the offset set: {read}");
    let log = std::fs::read_to_string(&kube_lab().bridge_log).unwrap_or_default();
    assert!(log.contains("offsets of dr->dc.MirrorSourceConnector altered"), "the bridge logged it");
}
