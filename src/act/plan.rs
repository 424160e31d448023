//! From an action to the exact requests that carry it out, per configured
//! backend. Pure: the configuration, the latest observation and what this
//! drill recorded are all it reads, so the preview the operator confirms is
//! exactly what the executor sends.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::{
    CommandRequest, ConnectEndpoint, ConnectRequest, KubeObject, KubeOp, KubeRequest, KubeTarget, Method, Procedure,
    Request, encode_segment,
};
use crate::action::Action;
use crate::assess::{CopyBack, PartitionEnd};
use crate::config::{AppsBackend, Commands, Config, KubeConfig, Mm2Backend, Mm2Config, StopMeans, WorkloadPick};
use crate::model::{ConnectState, Flow, Side, Snapshot, WorkloadKind};

/// Strimzi's `KafkaMirrorMaker2` API version used when none was observed.
const MM2_API: &str = "kafka.strimzi.io/v1beta2";
const MM2_PLURAL: &str = "kafkamirrormaker2s";
const REPLICAS: &str = "/spec/replicas";
/// How long a step waits, inside one action, for a state it needs before
/// the next request (connectors STOPPED before their offsets are set).
const STATE_WAIT: Duration = Duration::from_secs(90);

/// What the planner reads besides the configuration.
pub struct Facts<'a> {
    pub snapshot: &'a Snapshot,
    /// Values this drill's earlier actions read before changing them, by
    /// `record_key` (previous replicas).
    pub recorded: &'a BTreeMap<String, Value>,
    /// Where the opposite flow's mirrored data ended on this flow's source,
    /// recorded when this drill stopped it; `Err` says why it is unknown.
    pub mirror_ends: Option<Result<&'a [PartitionEnd], &'a str>>,
}

/// The configuration's action backends, without anything else.
#[derive(Clone, Debug)]
pub struct Planner {
    sides: [SidePlan; 2],
    mm2: Vec<Mm2Config>,
}

#[derive(Clone, Debug)]
struct SidePlan {
    side: Side,
    kube: Option<KubeConfig>,
    apps: AppsBackend,
}

/// The key a value read on `side` at `object`'s `pointer` is recorded under.
pub fn record_key(side: Side, object_path: &str, pointer: &str) -> String {
    format!("{side} {object_path}#{pointer}")
}

impl Planner {
    pub fn new(config: &Config) -> Planner {
        let side = |s: Side| {
            let c = config.cluster(s);
            SidePlan { side: s, kube: c.kube.clone(), apps: c.apps.clone() }
        };
        Planner { sides: [side(Side::Dc), side(Side::Dr)], mm2: config.mm2.clone() }
    }

    /// The requests that carry `action` out, or why kdrill cannot.
    pub fn plan(&self, action: &Action, facts: &Facts) -> Result<Procedure, String> {
        let (requests, notes) = match action {
            Action::StopApps(side) => (self.apps(*side, true, facts)?, Vec::new()),
            Action::StartApps(side) => (self.apps(*side, false, facts)?, Vec::new()),
            Action::StopMm2(flow) => (self.stop_mm2(*flow, facts)?, Vec::new()),
            Action::StartMm2(flow) => self.start_mm2(*flow, facts)?,
            Action::RestartMm2(flow) => (self.restart_mm2(*flow, facts)?, Vec::new()),
            Action::Fault(_) => return Err("demo faults exist only in the demo world".into()),
        };
        // MM2 acts where it runs, which may differ from its target.
        let side = match action {
            Action::StopMm2(f) | Action::StartMm2(f) | Action::RestartMm2(f) => self.deployment(*f)?.runs_on,
            other => other.side(),
        };
        Ok(Procedure { action: action.clone(), side, requests, notes })
    }

    fn side(&self, side: Side) -> &SidePlan {
        &self.sides[side.index()]
    }

    fn deployment(&self, flow: Flow) -> Result<&Mm2Config, String> {
        self.mm2.iter().find(|m| m.flow == flow).ok_or(format!("no MM2 deployment for {flow} is configured"))
    }

    fn apps(&self, side: Side, stop: bool, facts: &Facts) -> Result<Vec<Request>, String> {
        let s = self.side(side);
        let key = side.label().to_lowercase();
        match (&s.apps, &s.kube) {
            (AppsBackend::Command(c), _) => Ok(vec![command(c, stop)]),
            (AppsBackend::Kube, Some(kube)) => {
                let objects = workloads(s.side, kube, facts.snapshot)?;
                objects
                    .into_iter()
                    .map(|(object, configured)| {
                        let replicas = if stop {
                            0
                        } else {
                            start_replicas(side, &object.path(), configured, facts.recorded).ok_or(format!(
                                "no replica count recorded for {} {}/{} on {side}: set clusters.{key}.workloads[].replicas",
                                object.plural, object.namespace, object.name
                            ))?
                        };
                        Ok(Request::Kube(KubeRequest {
                            target: target(side, kube),
                            object,
                            op: KubeOp::MergePatch {
                                patch: json!({"spec": {"replicas": replicas}}),
                                record: if stop { vec![REPLICAS.into()] } else { Vec::new() },
                            },
                        }))
                    })
                    .collect()
            }
            _ => Err(format!(
                "no way to {} applications on {side} is configured (clusters.{key}.workloads or clusters.{key}.app_commands): do it by your usual means; the step completes when kdrill observes it",
                if stop { "stop" } else { "start" }
            )),
        }
    }

    fn stop_mm2(&self, flow: Flow, facts: &Facts) -> Result<Vec<Request>, String> {
        let m = self.deployment(flow)?;
        match &m.actions.backend {
            Mm2Backend::Kube => {
                let (target, object) = self.mm2_object(m, facts.snapshot)?;
                // Connectors first, so they come back stopped wherever the
                // workers start again: nothing moves before offsets are set.
                let patch = match m.actions.stop_means {
                    StopMeans::Workers => json!({"spec": {"replicas": 0}}),
                    StopMeans::Connectors => Value::Null,
                };
                Ok(vec![Request::Kube(KubeRequest {
                    target,
                    object,
                    op: KubeOp::EditMirrors {
                        connectors: json!({"state": "stopped"}),
                        source: Value::Null,
                        patch,
                        record: vec![REPLICAS.into()],
                    },
                })])
            }
            Mm2Backend::Connect(endpoint) => Ok(connector_names(m, facts.snapshot)
                .iter()
                .map(|c| connect(endpoint, Method::Put, &format!("/connectors/{}/stop", encode_segment(c)), None))
                .collect()),
            Mm2Backend::Command(c) => Ok(vec![command(c, true)]),
            Mm2Backend::None => Err(no_backend(flow)),
        }
    }

    fn start_mm2(&self, flow: Flow, facts: &Facts) -> Result<(Vec<Request>, Vec<String>), String> {
        let m = self.deployment(flow)?;
        let mut notes = Vec::new();
        // Where to start: the ends of the opposite flow's data on this
        // flow's source, as recorded when it stopped.
        let offsets = match (m.actions.set_start_offsets, facts.mirror_ends) {
            (false, _) => {
                notes.push(format!("start offsets not set (mm2 set_start_offsets = false): {flow} resumes from its own committed offsets"));
                None
            }
            (true, Some(Ok(ends))) if !ends.is_empty() => {
                Some(offsets_body(&facts.snapshot.cluster(flow.source).alias, ends))
            }
            (true, Some(Ok(_))) => {
                notes.push(format!("no mirrored partition recorded on {}: start offsets not set", flow.source));
                None
            }
            (true, Some(Err(why))) => {
                notes.push(format!("start offsets cannot be set: where {} ended is unknown ({why})", flow.reversed()));
                None
            }
            (true, None) => {
                notes.push(format!(
                    "start offsets cannot be set: this drill did not record where {} ended on {}",
                    flow.reversed(),
                    flow.source
                ));
                None
            }
        };
        // Not starting at the ends: say what it would copy again, so the
        // typed confirmation accepts a figure, not a hope.
        if offsets.is_none() || matches!(m.actions.backend, Mm2Backend::Command(_)) {
            notes.push(copy_back_note(m, flow, facts));
        }
        let requests = match &m.actions.backend {
            Mm2Backend::Kube => {
                let (target, object) = self.mm2_object(m, facts.snapshot)?;
                let mut patch = Value::Null;
                if m.actions.stop_means == StopMeans::Workers {
                    let path = object.path();
                    let n = start_replicas(m.runs_on, &path, m.actions.replicas, facts.recorded)
                        .ok_or(format!("no worker count recorded for {path}: set mm2 replicas"))?;
                    patch = json!({"spec": {"replicas": n}});
                }
                let kube = |op| Request::Kube(KubeRequest { target: target.clone(), object: object.clone(), op });
                match offsets {
                    None => vec![kube(KubeOp::EditMirrors {
                        connectors: json!({"state": "running"}),
                        source: Value::Null,
                        patch,
                        record: Vec::new(),
                    })],
                    Some(body) => strimzi_start_at(m, &target, &object, patch, body, facts.snapshot),
                }
            }
            Mm2Backend::Connect(endpoint) => {
                let names = connector_names(m, facts.snapshot);
                let mut out = Vec::new();
                if let Some(body) = offsets {
                    let source = source_connector(m, &names);
                    let at = |what: &str| format!("/connectors/{}/{what}", encode_segment(&source));
                    let mut wait = connect(endpoint, Method::Get, &at("status"), None);
                    if let Request::Connect(c) = &mut wait {
                        c.until = Some((json!({"connector": {"state": "STOPPED"}}), STATE_WAIT));
                    }
                    out.push(wait);
                    out.push(connect(endpoint, Method::Patch, &at("offsets"), Some(body.clone())));
                    // Connect lists no offset for a partition reset to null.
                    let set = json!({"offsets": body["offsets"].as_array().map(|o| {
                        o.iter().filter(|e| !e["offset"].is_null()).cloned().collect::<Vec<_>>()
                    })});
                    let mut check = connect(endpoint, Method::Get, &at("offsets"), None);
                    if let Request::Connect(c) = &mut check {
                        c.until = Some((set, STATE_WAIT));
                    }
                    out.push(check);
                }
                out.extend(names.iter().map(|c| {
                    connect(endpoint, Method::Put, &format!("/connectors/{}/resume", encode_segment(c)), None)
                }));
                out
            }
            Mm2Backend::Command(c) => {
                if offsets.is_some() {
                    notes.insert(
                        0,
                        format!("start offsets cannot be set through a command backend: {flow} resumes from its own committed offsets"),
                    );
                }
                vec![command(c, false)]
            }
            Mm2Backend::None => return Err(no_backend(flow)),
        };
        Ok((requests, notes))
    }

    /// Restarts what is observed FAILED: on Strimzi one restart annotation
    /// at a time (the operator removes it when done), on Connect one
    /// `restart?includeTasks=true&onlyFailed=true` per connector.
    fn restart_mm2(&self, flow: Flow, facts: &Facts) -> Result<Vec<Request>, String> {
        let m = self.deployment(flow)?;
        let connectors = facts
            .snapshot
            .mm2
            .iter()
            .find(|d| d.name == m.name && d.flow == flow)
            .and_then(|d| d.connectors.as_ref())
            .map(|c| c.value.clone())
            .unwrap_or_default();
        let failed_task = |c: &crate::model::Connector| {
            c.tasks.iter().filter(|t| t.state == ConnectState::Failed).map(|t| t.id).collect::<Vec<_>>()
        };
        let failing: Vec<_> =
            connectors.iter().filter(|c| c.state == ConnectState::Failed || !failed_task(c).is_empty()).collect();
        if failing.is_empty() {
            return Err(format!("nothing FAILED is observed in MM2 {flow}: nothing to restart"));
        }
        match &m.actions.backend {
            Mm2Backend::Kube => {
                use super::strimzi::{RESTART_CONNECTOR_ANNOTATION, RESTART_TASK_ANNOTATION};
                let (target, object) = self.mm2_object(m, facts.snapshot)?;
                let mut out = Vec::new();
                let mut annotate = |key: &str, value: String| {
                    let kube = |op| Request::Kube(KubeRequest { target: target.clone(), object: object.clone(), op });
                    out.push(kube(KubeOp::MergePatch {
                        patch: json!({"metadata": {"annotations": {key: value}}}),
                        record: Vec::new(),
                    }));
                    let pointer = format!("/metadata/annotations/{}", key.replace('/', "~1"));
                    out.push(kube(KubeOp::Await { pointer, equals: Value::Null, within: STATE_WAIT }));
                };
                for c in failing {
                    if c.state == ConnectState::Failed {
                        annotate(RESTART_CONNECTOR_ANNOTATION, c.name.clone());
                    }
                    for id in failed_task(c) {
                        annotate(RESTART_TASK_ANNOTATION, format!("{}:{id}", c.name));
                    }
                }
                Ok(out)
            }
            Mm2Backend::Connect(endpoint) => Ok(failing
                .iter()
                .map(|c| {
                    let path =
                        format!("/connectors/{}/restart?includeTasks=true&onlyFailed=true", encode_segment(&c.name));
                    connect(endpoint, Method::Post, &path, None)
                })
                .collect()),
            Mm2Backend::Command(_) => {
                Err(format!("the command backend of MM2 {flow} has no restart: restart it by hand"))
            }
            Mm2Backend::None => Err(no_backend(flow)),
        }
    }

    /// The deployment's `KafkaMirrorMaker2`, in the API version it was
    /// observed in.
    fn mm2_object(&self, m: &Mm2Config, snap: &Snapshot) -> Result<(KubeTarget, KubeObject), String> {
        let kube = self.side(m.runs_on).kube.as_ref().ok_or(format!("{} has no Kubernetes configured", m.runs_on))?;
        let observed = snap.platforms[m.runs_on.index()]
            .as_ref()
            .and_then(|p| p.mirrormakers.as_ref())
            .and_then(|o| o.value.iter().find(|r| r.name == m.name && r.namespace == kube.namespace));
        let api_version = observed.map_or(MM2_API.to_owned(), |r| r.api_version.clone());
        let object = KubeObject {
            api_version,
            plural: MM2_PLURAL.into(),
            namespace: kube.namespace.clone(),
            name: m.name.clone(),
        };
        Ok((target(m.runs_on, kube), object))
    }
}

/// What `flow` would copy back from its own committed position, in words.
fn copy_back_note(m: &Mm2Config, flow: Flow, facts: &Facts) -> String {
    let Some(Ok(ends)) = facts.mirror_ends else {
        return format!("how much {flow} would copy back is unknown: where {} ended was not recorded", flow.reversed());
    };
    let replicated =
        facts.snapshot.mm2.iter().find(|d| d.name == m.name && d.flow == flow).and_then(|d| d.replicated.as_ref());
    let Some(replicated) = replicated else {
        return format!("how much {flow} would copy back is unknown: its committed offsets are not observed");
    };
    let c = crate::assess::copy_back(ends, &replicated.value);
    // The figure rests on committed offsets read at some moment: say when.
    let seen = format!("committed offsets as read at {}", replicated.at.format("%H:%M:%S UTC"));
    match c {
        CopyBack { records: 0, .. } => format!("{flow} would copy back nothing: its {seen} are at the ends"),
        CopyBack { records, partitions, from_earliest: 0 } => format!(
            "{flow} would copy back {records} records {} already holds ({partitions} partitions; {seen}): confirming accepts them as duplicates",
            flow.target
        ),
        CopyBack { records, partitions, from_earliest } => format!(
            "{flow} would copy back up to {records} records {} already holds ({partitions} partitions, {from_earliest} with no committed position read from their earliest offset; {seen}): confirming accepts them as duplicates",
            flow.target
        ),
    }
}

fn no_backend(flow: Flow) -> String {
    format!(
        "no way to stop or start MM2 {flow} is configured (mm2 backend): do it by your usual means; the step completes when kdrill observes it"
    )
}

fn target(side: Side, kube: &KubeConfig) -> KubeTarget {
    KubeTarget { side, context: kube.context.clone(), kubeconfig: kube.kubeconfig.clone() }
}

fn command(c: &Commands, stop: bool) -> Request {
    let argv = if stop { c.stop.clone() } else { c.start.clone() };
    Request::Command(CommandRequest { argv, timeout: c.timeout })
}

fn connect(endpoint: &ConnectEndpoint, method: Method, path: &str, body: Option<Value>) -> Request {
    Request::Connect(ConnectRequest { endpoint: endpoint.clone(), method, path: path.to_owned(), body, until: None })
}

/// The side's declared workloads as objects: by name, or those observed
/// matching a selector (fail closed when not observed).
fn workloads(side: Side, kube: &KubeConfig, snap: &Snapshot) -> Result<Vec<(KubeObject, Option<u32>)>, String> {
    let observed = snap.platforms[side.index()].as_ref().and_then(|p| p.workloads.as_ref());
    let mut out = Vec::new();
    for w in &kube.workloads {
        let plural = match w.kind {
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
        };
        let object = |name: &str| KubeObject {
            api_version: "apps/v1".into(),
            plural: plural.into(),
            namespace: w.namespace.clone(),
            name: name.to_owned(),
        };
        match &w.pick {
            WorkloadPick::Name(n) => out.push((object(n), w.replicas)),
            WorkloadPick::Selector(sel) => {
                let Some(seen) = observed else {
                    return Err(format!(
                        "the {}s selected by {sel} in {} on {side} are not observed yet",
                        w.kind.as_str(),
                        w.namespace
                    ));
                };
                // The collector watches exactly these, by the same selector.
                for found in seen.value.iter().filter(|f| f.kind == w.kind && f.namespace == w.namespace && f.exists) {
                    out.push((object(&found.name), w.replicas));
                }
            }
        }
    }
    if out.is_empty() {
        return Err(format!("no application workload of {side} found to scale"));
    }
    Ok(out)
}

/// How many replicas to start an object with: what this drill recorded
/// for it, else for the same object on the other side (the other side
/// ran the applications before), else the configured count.
fn start_replicas(side: Side, path: &str, configured: Option<u32>, recorded: &BTreeMap<String, Value>) -> Option<u32> {
    let read = |s: Side| recorded.get(&record_key(s, path, REPLICAS)).and_then(Value::as_u64).filter(|n| *n > 0);
    read(side).or_else(|| read(side.other())).and_then(|n| u32::try_from(n).ok()).or(configured)
}

/// The deployment's connectors: as observed in its Connect status, else
/// Strimzi's names for its three connectors.
fn connector_names(m: &Mm2Config, snap: &Snapshot) -> Vec<String> {
    let observed: Vec<String> = snap
        .mm2
        .iter()
        .find(|d| d.name == m.name && d.flow == m.flow)
        .and_then(|d| d.connectors.as_ref())
        .map(|c| c.value.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    if !observed.is_empty() {
        return observed;
    }
    let (src, tgt) = (&snap.cluster(m.flow.source).alias, &snap.cluster(m.flow.target).alias);
    ["MirrorSourceConnector", "MirrorCheckpointConnector", "MirrorHeartbeatConnector"]
        .iter()
        .map(|k| format!("{src}->{tgt}.{k}"))
        .collect()
}

fn source_connector(m: &Mm2Config, names: &[String]) -> String {
    names
        .iter()
        .find(|n| n.ends_with("MirrorSourceConnector"))
        .cloned()
        .unwrap_or_else(|| format!("{}.MirrorSourceConnector", m.name))
}

/// MirrorSourceConnector's offsets (KIP-875): the source partition
/// `{cluster, topic, partition}` and the last replicated upstream offset;
/// its task resumes at that offset + 1, so `end - 1` starts exactly at
/// `end`. An empty partition's offset is removed (`null`): it starts at 0.
pub fn offsets_body(source_alias: &str, ends: &[PartitionEnd]) -> Value {
    let offsets: Vec<Value> = ends
        .iter()
        .map(|e| {
            let offset = if e.end > 0 { json!({"offset": e.end - 1}) } else { Value::Null };
            json!({"partition": {"cluster": source_alias, "topic": e.topic, "partition": e.partition}, "offset": offset})
        })
        .collect();
    json!({ "offsets": offsets })
}

/// On Strimzi: start the workers with every connector stopped, alter the
/// source connector's offsets through Strimzi's ConfigMap and annotation,
/// wait until Strimzi has done it, then set the connectors running.
fn strimzi_start_at(
    m: &Mm2Config,
    target: &KubeTarget,
    mm2: &KubeObject,
    patch: Value,
    offsets: Value,
    snap: &Snapshot,
) -> Vec<Request> {
    use super::strimzi::{
        ALTER_OFFSETS_FIELD, CONNECTOR_OFFSETS_ANNOTATION, MIRRORMAKER_CONNECTOR_ANNOTATION, OFFSETS_ALTER,
        offsets_entry_key,
    };
    let kube =
        |object: &KubeObject, op| Request::Kube(KubeRequest { target: target.clone(), object: object.clone(), op });
    let source = source_connector(m, &connector_names(m, snap));
    let config_map = KubeObject {
        api_version: "v1".into(),
        plural: "configmaps".into(),
        namespace: mm2.namespace.clone(),
        name: format!("{}-start-offsets", mm2.name),
    };
    let offsets_json = serde_json::to_string_pretty(&offsets).unwrap_or_default();
    let annotation_pointer = format!("/metadata/annotations/{}", CONNECTOR_OFFSETS_ANNOTATION.replace('/', "~1"));
    vec![
        kube(
            mm2,
            KubeOp::EditMirrors {
                connectors: json!({"state": "stopped"}),
                source: Value::Null,
                patch,
                record: Vec::new(),
            },
        ),
        kube(
            mm2,
            KubeOp::Await {
                pointer: "/status/connectors".into(),
                equals: json!([{"name": source, "connector": {"state": "STOPPED"}}]),
                within: STATE_WAIT,
            },
        ),
        kube(
            &config_map,
            KubeOp::Apply {
                body: json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": config_map.name, "namespace": config_map.namespace},
                    "data": {offsets_entry_key(&source): offsets_json},
                }),
            },
        ),
        kube(
            mm2,
            KubeOp::EditMirrors {
                connectors: Value::Null,
                source: json!({ALTER_OFFSETS_FIELD: {"fromConfigMap": {"name": config_map.name}}}),
                patch: json!({"metadata": {"annotations": {
                    CONNECTOR_OFFSETS_ANNOTATION: OFFSETS_ALTER,
                    MIRRORMAKER_CONNECTOR_ANNOTATION: source,
                }}}),
                record: Vec::new(),
            },
        ),
        // Strimzi removes the annotation once the offsets are altered.
        kube(mm2, KubeOp::Await { pointer: annotation_pointer, equals: Value::Null, within: STATE_WAIT }),
        kube(
            mm2,
            KubeOp::EditMirrors {
                connectors: json!({"state": "running"}),
                source: Value::Null,
                patch: Value::Null,
                record: Vec::new(),
            },
        ),
    ]
}
