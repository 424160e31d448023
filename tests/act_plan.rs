//! What kdrill would send for each drill action, per backend: the planner
//! is pure, so the exact requests (and the refusals, in words) are checked
//! here without any server; the lab tests send them for real.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Utc;
use kdrill::act::plan::{Facts, Planner, offsets_body, record_key};
use kdrill::act::{KubeOp, Method, Procedure, Request};
use kdrill::action::Action;
use kdrill::assess::PartitionEnd;
use kdrill::config;
use kdrill::model::{Flow, Side, Snapshot};
use serde_json::{Value, json};

const KUBE: &str = r#"
[clusters.dc]
bootstrap = "127.0.0.1:19092"
kube_context = "dc"
namespace = "kafka"
workloads = [{ kind = "Deployment", namespace = "apps", name = "lab-app" }]
[clusters.dr]
bootstrap = "127.0.0.1:29092"
kube_context = "dr"
namespace = "kafka"
workloads = [{ kind = "Deployment", namespace = "apps", name = "lab-app" }]
[[mm2]]
source = "dc"
target = "dr"
[[mm2]]
source = "dr"
target = "dc"
"#;

const REST: &str = r#"
[clusters.dc]
bootstrap = "127.0.0.1:19092"
app_commands = { stop = ["scripts/lab", "apps", "stop", "dc"], start = ["scripts/lab", "apps", "start", "dc"], timeout = "90s" }
[clusters.dr]
bootstrap = "127.0.0.1:29092"
app_commands = { stop = ["scripts/lab", "apps", "stop", "dr"], start = ["scripts/lab", "apps", "start", "dr"] }
[[mm2]]
source = "dc"
target = "dr"
connect_url = "http://127.0.0.1:28083/"
[[mm2]]
source = "dr"
target = "dc"
connect_url = "https://127.0.0.1:18083"
connect_user = "ops"
connect_password = { file = "PASSWORD_FILE" }
"#;

fn planner(text: &str) -> Planner {
    // The password comes from a file, as in production (never inline).
    // One file per call: tests run in parallel.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("kdrill-act-plan-{}-{n}.secret", std::process::id()));
    std::fs::write(&file, "hunter2\n").unwrap_or_else(|e| panic!("{e}"));
    let text = text.replace("PASSWORD_FILE", &file.display().to_string());
    let text = text.as_str();
    let cfg = config::parse(text, Path::new("test.toml"));
    // Read while parsing: the file is not needed after.
    let _ = std::fs::remove_file(&file);
    Planner::new(&cfg.unwrap_or_else(|e| panic!("{e}")))
}

fn snapshot() -> Snapshot {
    Snapshot::empty(Utc::now(), "dc", "dr")
}

fn plan(
    p: &Planner,
    action: Action,
    recorded: &BTreeMap<String, Value>,
    ends: Option<Result<&[PartitionEnd], &str>>,
) -> Result<Procedure, String> {
    let snap = snapshot();
    p.plan(&action, &Facts { snapshot: &snap, recorded, mirror_ends: ends })
}

fn kube_ops(p: &Procedure) -> Vec<(String, String, KubeOp)> {
    p.requests
        .iter()
        .map(|r| match r {
            Request::Kube(k) => (k.target.context.clone(), k.object.path(), k.op.clone()),
            other => panic!("not a Kubernetes request: {other:?}"),
        })
        .collect()
}

#[test]
fn stopping_apps_scales_each_workload_to_zero_and_records_its_replicas() {
    let p = plan(&planner(KUBE), Action::StopApps(Side::Dc), &BTreeMap::new(), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        kube_ops(&p),
        vec![(
            "dc".to_owned(),
            "/apis/apps/v1/namespaces/apps/deployments/lab-app".to_owned(),
            KubeOp::MergePatch { patch: json!({"spec": {"replicas": 0}}), record: vec!["/spec/replicas".into()] }
        )]
    );
    assert_eq!(
        p.preview(),
        vec![
            "PATCH /apis/apps/v1/namespaces/apps/deployments/lab-app (context dc, DC)".to_owned(),
            r#"  merge patch, with the resourceVersion read: {"spec":{"replicas":0}}"#.to_owned(),
        ]
    );
}

#[test]
fn starting_apps_restores_the_replicas_recorded_on_either_side_or_says_what_to_configure() {
    let path = "/apis/apps/v1/namespaces/apps/deployments/lab-app";
    let k = KUBE;
    // Recorded when this drill stopped the same Deployment on DC.
    let recorded = BTreeMap::from([(record_key(Side::Dc, path, "/spec/replicas"), json!(3))]);
    let p = plan(&planner(k), Action::StartApps(Side::Dr), &recorded, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        kube_ops(&p),
        vec![(
            "dr".to_owned(),
            path.to_owned(),
            KubeOp::MergePatch { patch: json!({"spec": {"replicas": 3}}), record: vec![] }
        )]
    );
    // Its own side's record wins over the other side's.
    let both = BTreeMap::from([
        (record_key(Side::Dc, path, "/spec/replicas"), json!(3)),
        (record_key(Side::Dr, path, "/spec/replicas"), json!(5)),
    ]);
    let p = plan(&planner(k), Action::StartApps(Side::Dr), &both, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(&kube_ops(&p)[0].2, KubeOp::MergePatch { patch, .. } if patch == &json!({"spec": {"replicas": 5}}))
    );
    // Nothing recorded, nothing configured: no guess.
    let none = plan(&planner(k), Action::StartApps(Side::Dr), &BTreeMap::new(), None);
    assert!(matches!(&none, Err(m) if m.contains("clusters.dr.workloads[].replicas")), "{none:?}");
    // Configured.
    let with = k.replacen(
        r#"name = "lab-app" }]
[[mm2]]"#,
        r#"name = "lab-app", replicas = 2 }]
[[mm2]]"#,
        1,
    );
    let p =
        plan(&planner(&with), Action::StartApps(Side::Dr), &BTreeMap::new(), None).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(&kube_ops(&p)[0].2, KubeOp::MergePatch { patch, .. } if patch == &json!({"spec": {"replicas": 2}}))
    );
}

#[test]
fn stopping_mm2_on_strimzi_stops_its_connectors_and_scales_its_workers_to_zero() {
    let p =
        plan(&planner(KUBE), Action::StopMm2(Flow::DC_TO_DR), &BTreeMap::new(), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        kube_ops(&p),
        vec![(
            "dr".to_owned(),
            "/apis/kafka.strimzi.io/v1beta2/namespaces/kafka/kafkamirrormaker2s/mm2".to_owned(),
            KubeOp::EditMirrors {
                connectors: json!({"state": "stopped"}),
                source: Value::Null,
                patch: json!({"spec": {"replicas": 0}}),
                record: vec!["/spec/replicas".into()],
            }
        )]
    );
    // "stopped" may mean connectors only: the workers stay.
    let connectors_only = KUBE.replacen(
        "source = \"dc\"\ntarget = \"dr\"",
        "source = \"dc\"\ntarget = \"dr\"\nstop_means = \"connectors\"",
        1,
    );
    let p = plan(&planner(&connectors_only), Action::StopMm2(Flow::DC_TO_DR), &BTreeMap::new(), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&kube_ops(&p)[0].2, KubeOp::EditMirrors { patch: Value::Null, .. }));
}

#[test]
fn starting_mm2_on_strimzi_sets_its_start_offsets_through_strimzi_before_it_runs() {
    let path = "/apis/kafka.strimzi.io/v1beta2/namespaces/kafka/kafkamirrormaker2s/mm2";
    let recorded = BTreeMap::from([(record_key(Side::Dr, path, "/spec/replicas"), json!(2))]);
    let ends = [PartitionEnd { topic: "orders".into(), partition: 0, end: 120 }];
    let p = plan(&planner(KUBE), Action::StartMm2(Flow::DR_TO_DC), &recorded, Some(Ok(&ends)))
        .unwrap_or_else(|e| panic!("{e}"));
    let ops = kube_ops(&p);
    // All on DC, where MM2 DR→DC runs: workers up with connectors stopped,
    // wait until Strimzi reports them STOPPED, the offsets ConfigMap, the
    // alter annotation, wait until Strimzi has done it, then running.
    assert!(ops.iter().all(|(ctx, _, _)| ctx == "dc"));
    assert!(matches!(&ops[0].2, KubeOp::EditMirrors { connectors, patch, .. }
        if connectors == &json!({"state": "stopped"}) && patch == &json!({"spec": {"replicas": 2}})));
    assert!(matches!(&ops[1].2, KubeOp::Await { .. }));
    assert!(
        matches!(&ops[2].2, KubeOp::Apply { body } if body["data"]["dr--dc.MirrorSourceConnector.json"].as_str().is_some_and(|s| s.contains("\"offset\": 119")))
    );
    assert!(
        matches!(&ops[3].2, KubeOp::EditMirrors { source, .. } if source["alterOffsets"]["fromConfigMap"]["name"] == "mm2-start-offsets")
    );
    assert!(matches!(&ops[4].2, KubeOp::Await { equals: Value::Null, .. }));
    assert!(matches!(&ops[5].2, KubeOp::EditMirrors { connectors, .. } if connectors == &json!({"state": "running"})));
    assert_eq!(ops[0].1, path);
    assert!(p.notes.is_empty(), "{:?}", p.notes);
}

#[test]
fn the_reverse_flow_starts_exactly_where_the_mirrored_data_ends() {
    let ends = [
        PartitionEnd { topic: "orders".into(), partition: 0, end: 120 },
        PartitionEnd { topic: "orders".into(), partition: 1, end: 0 },
    ];
    // MirrorSourceTask resumes at the stored offset + 1; an empty partition's offset is removed.
    assert_eq!(
        offsets_body("dr", &ends),
        json!({"offsets": [
            {"partition": {"cluster": "dr", "topic": "orders", "partition": 0}, "offset": {"offset": 119}},
            {"partition": {"cluster": "dr", "topic": "orders", "partition": 1}, "offset": null},
        ]})
    );
}

#[test]
fn connect_rest_stops_and_resumes_connectors_and_sets_offsets_on_the_stopped_source() {
    let p = planner(REST);
    let stop = plan(&p, Action::StopMm2(Flow::DC_TO_DR), &BTreeMap::new(), None).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<String> = stop.requests.iter().map(|r| r.preview()[0].clone()).collect();
    assert_eq!(
        lines,
        vec![
            "PUT http://127.0.0.1:28083/connectors/dc-%3Edr.MirrorSourceConnector/stop",
            "PUT http://127.0.0.1:28083/connectors/dc-%3Edr.MirrorCheckpointConnector/stop",
            "PUT http://127.0.0.1:28083/connectors/dc-%3Edr.MirrorHeartbeatConnector/stop",
        ]
    );
    let ends = [PartitionEnd { topic: "orders".into(), partition: 3, end: 57 }];
    let start =
        plan(&p, Action::StartMm2(Flow::DR_TO_DC), &BTreeMap::new(), Some(Ok(&ends))).unwrap_or_else(|e| panic!("{e}"));
    let shape: Vec<(Method, String, bool)> = start
        .requests
        .iter()
        .map(|r| match r {
            Request::Connect(c) => (c.method, c.path.clone(), c.until.is_some()),
            other => panic!("{other:?}"),
        })
        .collect();
    let src = "/connectors/dr-%3Edc.MirrorSourceConnector";
    assert_eq!(
        shape,
        vec![
            (Method::Get, format!("{src}/status"), true),
            (Method::Patch, format!("{src}/offsets"), false),
            (Method::Get, format!("{src}/offsets"), true),
            (Method::Put, format!("{src}/resume"), false),
            (Method::Put, "/connectors/dr-%3Edc.MirrorCheckpointConnector/resume".into(), false),
            (Method::Put, "/connectors/dr-%3Edc.MirrorHeartbeatConnector/resume".into(), false),
        ]
    );
    let text = start.preview().join("\n");
    assert!(text.contains("(basic auth as ops)") && !text.contains("hunter2"), "{text}");
    assert!(text.contains(r#""offset":{"offset":56}"#), "{text}");
}

#[test]
fn without_recorded_ends_the_preview_says_the_offsets_cannot_be_set() {
    let p = plan(&planner(REST), Action::StartMm2(Flow::DR_TO_DC), &BTreeMap::new(), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.requests.len(), 3, "resume only");
    assert!(p.notes.iter().any(|n| n.contains("did not record where DC→DR ended on DR")), "{:?}", p.notes);
    let unknown =
        plan(&planner(REST), Action::StartMm2(Flow::DR_TO_DC), &BTreeMap::new(), Some(Err("DR end offsets stale")));
    assert!(unknown.is_ok_and(|p| p.notes.iter().any(|n| n.contains("DR end offsets stale"))));
}

#[test]
fn commands_run_as_configured_and_a_missing_backend_is_named() {
    let p = plan(&planner(REST), Action::StopApps(Side::Dc), &BTreeMap::new(), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.preview(), vec!["RUN scripts/lab apps stop dc (timeout 90 s)".to_owned()]);
    let bare = "[clusters.dc]\nbootstrap = \"a:1\"\n[clusters.dr]\nbootstrap = \"b:1\"\n[[mm2]]\nsource = \"dc\"\ntarget = \"dr\"\n";
    let apps = plan(&planner(bare), Action::StopApps(Side::Dc), &BTreeMap::new(), None);
    assert!(matches!(&apps, Err(m) if m.contains("clusters.dc.workloads or clusters.dc.app_commands")), "{apps:?}");
    let mm2 = plan(&planner(bare), Action::StopMm2(Flow::DC_TO_DR), &BTreeMap::new(), None);
    assert!(matches!(&mm2, Err(m) if m.contains("no way to stop or start MM2 DC→DR")), "{mm2:?}");
}

#[test]
fn restarting_mm2_restarts_only_what_is_observed_failed() {
    use kdrill::model::{ConnectState, Connector, ConnectorKind, Mm2Deployment, Observed, Task};
    let task = |id, state| Task { id, state, worker_id: "w".into(), trace: None };
    let connector = |name: &str, state, tasks| Connector {
        name: name.into(),
        kind: ConnectorKind::Source,
        state,
        target_state: None,
        worker_id: "w".into(),
        trace: None,
        tasks,
        settings: None,
    };
    let mut snap = snapshot();
    let mut d = Mm2Deployment::unobserved("mm2", Flow::DC_TO_DR, Side::Dr);
    d.connectors = Some(Observed::new(
        vec![
            connector(
                "dc->dr.MirrorSourceConnector",
                ConnectState::Running,
                vec![task(0, ConnectState::Running), task(1, ConnectState::Failed)],
            ),
            connector("dc->dr.MirrorCheckpointConnector", ConnectState::Failed, vec![]),
            connector("dc->dr.MirrorHeartbeatConnector", ConnectState::Running, vec![task(0, ConnectState::Running)]),
        ],
        Utc::now(),
    ));
    snap.mm2 = vec![d];
    let facts = Facts { snapshot: &snap, recorded: &BTreeMap::new(), mirror_ends: None };
    // Strimzi: one annotation at a time, each waited for until the operator removes it.
    let kube = planner(KUBE).plan(&Action::RestartMm2(Flow::DC_TO_DR), &facts).unwrap_or_else(|e| panic!("{e}"));
    let annotations: Vec<Value> = kube_ops(&kube)
        .into_iter()
        .filter_map(|(_, _, op)| match op {
            KubeOp::MergePatch { patch, .. } => Some(patch["metadata"]["annotations"].clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        annotations,
        vec![
            json!({"strimzi.io/restart-connector-task": "dc->dr.MirrorSourceConnector:1"}),
            json!({"strimzi.io/restart-connector": "dc->dr.MirrorCheckpointConnector"}),
        ]
    );
    assert_eq!(kube.requests.len(), 4, "each followed by its wait");
    // Connect REST: the connectors with a failure, failed parts only.
    let rest = planner(REST).plan(&Action::RestartMm2(Flow::DC_TO_DR), &facts).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<String> = rest.requests.iter().map(|r| r.preview()[0].clone()).collect();
    assert_eq!(
        lines,
        vec![
            "POST http://127.0.0.1:28083/connectors/dc-%3Edr.MirrorSourceConnector/restart?includeTasks=true&onlyFailed=true",
            "POST http://127.0.0.1:28083/connectors/dc-%3Edr.MirrorCheckpointConnector/restart?includeTasks=true&onlyFailed=true",
        ]
    );
    // Nothing failed: nothing sent.
    let healthy = plan(&planner(KUBE), Action::RestartMm2(Flow::DC_TO_DR), &BTreeMap::new(), None);
    assert!(matches!(&healthy, Err(m) if m.contains("nothing FAILED is observed in MM2 DC→DR")), "{healthy:?}");
}

#[test]
fn without_start_offsets_the_preview_shows_what_would_be_copied_back() {
    use kdrill::model::{Mm2Deployment, Observed, ReplicatedOffset};
    let no_offsets = REST.replacen(
        "source = \"dr\"\ntarget = \"dc\"",
        "source = \"dr\"\ntarget = \"dc\"\nset_start_offsets = false",
        1,
    );
    let mut snap = snapshot();
    let mut d = Mm2Deployment::unobserved("mm2", Flow::DR_TO_DC, Side::Dc);
    d.replicated = Some(Observed::new(
        vec![ReplicatedOffset { topic: "orders".into(), partition: 0, upstream_offset: 69 }],
        Utc::now(),
    ));
    snap.mm2 = vec![d];
    let ends = [PartitionEnd { topic: "orders".into(), partition: 0, end: 120 }];
    let facts = Facts { snapshot: &snap, recorded: &BTreeMap::new(), mirror_ends: Some(Ok(&ends)) };
    let p = planner(&no_offsets).plan(&Action::StartMm2(Flow::DR_TO_DC), &facts).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        p.notes.iter().any(|n| n.contains(
            "DR→DC would copy back 50 records DC already holds (1 partitions; committed offsets as read at "
        )),
        "{:?}",
        p.notes
    );
    assert!(p.requests.iter().all(|r| !r.preview()[0].contains("/offsets")), "no offsets set");
}
