//! Kubernetes objects into the model: Strimzi's `KafkaMirrorMaker2` in
//! either spec shape, pods, Deployments and StatefulSets. Pure functions
//! over the API's JSON, so every shape is tested without a server.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::{
    AutoRestart, Condition, ConnectState, Connector, ConnectorKind, DesiredConnector, MirrorMaker, Pod, Task, Workload,
    WorkloadKind,
};

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn int_at(v: &Value, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_i64()
}

fn array_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// A `KafkaMirrorMaker2` as the API returned it. The spec shape is told by
/// its fields, not by the version it was read as: the CRD does not convert,
/// so a resource written as v1beta2 reads back under v1 with v1beta2 fields.
pub fn mirror_maker(obj: &Value) -> Option<MirrorMaker> {
    let name = str_at(obj, &["metadata", "name"])?.to_owned();
    let namespace = str_at(obj, &["metadata", "namespace"]).unwrap_or_default().to_owned();
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let status = obj.get("status").unwrap_or(&Value::Null);
    let mirrors = array_at(spec, &["mirrors"]);
    let (target_alias, source_aliases) = if spec.get("target").is_some() {
        // v1: `target.alias`, `mirrors[].source.alias`
        let sources = mirrors.iter().filter_map(|m| str_at(m, &["source", "alias"])).map(str::to_owned).collect();
        (str_at(spec, &["target", "alias"]).map(str::to_owned), sources)
    } else {
        // v1beta2: `connectCluster`, `mirrors[].sourceCluster`
        let sources = mirrors.iter().filter_map(|m| str_at(m, &["sourceCluster"])).map(str::to_owned).collect();
        (str_at(spec, &["connectCluster"]).map(str::to_owned), sources)
    };
    let desired = ["source", "checkpoint", "heartbeat"]
        .iter()
        .flat_map(|kind| {
            let key = format!("{kind}Connector");
            mirrors
                .iter()
                .filter_map(move |m| m.get(&key))
                .map(move |c| DesiredConnector { kind: (*kind).to_owned(), state: desired_state(c) })
        })
        .collect();
    let conditions = array_at(status, &["conditions"]);
    let condition = |t: &str| conditions.iter().find(|c| str_at(c, &["type"]) == Some(t));
    let ready = condition("Ready").or_else(|| condition("NotReady")).map(|c| {
        let is_ready = str_at(c, &["type"]) == Some("Ready");
        let status = str_at(c, &["status"]).unwrap_or("Unknown");
        Condition {
            // A NotReady=True condition means Ready is False.
            status: match (is_ready, status) {
                (true, s) => s.to_owned(),
                (false, "True") => "False".to_owned(),
                (false, _) => "Unknown".to_owned(),
            },
            reason: str_at(c, &["reason"]).map(str::to_owned),
            message: str_at(c, &["message"]).map(str::to_owned),
        }
    });
    let paused_annotation =
        str_at(obj, &["metadata", "annotations", "strimzi.io/pause-reconciliation"]) == Some("true");
    let paused_condition = condition("ReconciliationPaused").is_some_and(|c| str_at(c, &["status"]) == Some("True"));
    let connectors = array_at(status, &["connectors"]).iter().filter_map(connector_status).collect();
    let auto_restarts = array_at(status, &["autoRestartStatuses"])
        .iter()
        .filter_map(|r| {
            Some(AutoRestart {
                connector: str_at(r, &["connectorName"])?.to_owned(),
                count: int_at(r, &["count"]).unwrap_or(0),
                last: str_at(r, &["lastRestartTimestamp"]).map(str::to_owned),
            })
        })
        .collect();
    Some(MirrorMaker {
        name,
        namespace,
        api_version: str_at(obj, &["apiVersion"]).unwrap_or_default().to_owned(),
        target_alias,
        source_aliases,
        replicas: int_at(spec, &["replicas"]).and_then(|n| i32::try_from(n).ok()),
        status_replicas: int_at(status, &["replicas"]).and_then(|n| i32::try_from(n).ok()),
        desired,
        generation: int_at(obj, &["metadata", "generation"]),
        observed_generation: int_at(status, &["observedGeneration"]),
        ready,
        reconciliation_paused: paused_annotation || paused_condition,
        connectors,
        auto_restarts,
        label_selector: str_at(status, &["labelSelector"]).map(str::to_owned),
    })
}

/// A connector's desired state: `state`, else the deprecated `pause: true`,
/// else running.
fn desired_state(connector: &Value) -> String {
    match (str_at(connector, &["state"]), connector.get("pause").and_then(Value::as_bool)) {
        (Some(s), _) => s.to_owned(),
        (None, Some(true)) => "paused".to_owned(),
        _ => "running".to_owned(),
    }
}

/// Kafka Connect's `/connectors/{name}/status` JSON, which Strimzi copies
/// into `status.connectors[]`.
pub fn connector_status(v: &Value) -> Option<Connector> {
    let name = str_at(v, &["name"])?.to_owned();
    let trace = |v: &Value| str_at(v, &["trace"]).map(str::to_owned);
    let tasks = array_at(v, &["tasks"])
        .iter()
        .filter_map(|t| {
            Some(Task {
                id: u32::try_from(int_at(t, &["id"])?).ok()?,
                state: ConnectState::parse(str_at(t, &["state"]).unwrap_or("UNASSIGNED")),
                worker_id: str_at(t, &["worker_id"]).unwrap_or_default().to_owned(),
                trace: trace(t),
            })
        })
        .collect();
    let connector = v.get("connector").unwrap_or(&Value::Null);
    Some(Connector {
        kind: ConnectorKind::of(&name),
        state: ConnectState::parse(str_at(connector, &["state"]).unwrap_or("UNASSIGNED")),
        target_state: None,
        worker_id: str_at(connector, &["worker_id"]).unwrap_or_default().to_owned(),
        trace: trace(connector),
        tasks,
        name,
        settings: None,
    })
}

fn time_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(str_at(v, path)?).ok().map(|t| t.with_timezone(&Utc))
}

pub fn pod(obj: &Value) -> Option<Pod> {
    let statuses = array_at(obj, &["status", "containerStatuses"]);
    let ready = array_at(obj, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == Some("Ready") && str_at(c, &["status"]) == Some("True"));
    Some(Pod {
        name: str_at(obj, &["metadata", "name"])?.to_owned(),
        namespace: str_at(obj, &["metadata", "namespace"]).unwrap_or_default().to_owned(),
        phase: str_at(obj, &["status", "phase"]).unwrap_or("Unknown").to_owned(),
        ready,
        terminating: obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()),
        restarts: statuses
            .iter()
            .filter_map(|s| int_at(s, &["restartCount"]))
            .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
            .sum(),
        node: str_at(obj, &["spec", "nodeName"]).map(str::to_owned),
        created: time_at(obj, &["metadata", "creationTimestamp"]),
        owner: str_at(obj, &["metadata", "labels", "strimzi.io/cluster"]).map(str::to_owned),
    })
}

/// The equality labels of a workload's `spec.selector.matchLabels`.
pub fn match_labels(obj: &Value) -> Vec<(String, String)> {
    obj.pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default()
}

/// Whether a pod's labels carry every `(key, value)` of `selector`.
pub fn selects(selector: &[(String, String)], pod: &Value) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| obj_label(pod, k) == Some(v.as_str()))
}

fn obj_label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("labels")?.get(key)?.as_str()
}

/// A Deployment or StatefulSet with the pods its selector picks.
pub fn workload(kind: WorkloadKind, obj: &Value, pods: Vec<Pod>) -> Option<Workload> {
    let count = |path: &[&str]| int_at(obj, path).and_then(|n| i32::try_from(n).ok()).unwrap_or(0);
    Some(Workload {
        kind,
        name: str_at(obj, &["metadata", "name"])?.to_owned(),
        namespace: str_at(obj, &["metadata", "namespace"]).unwrap_or_default().to_owned(),
        exists: true,
        // An absent `spec.replicas` means 1 for both kinds.
        desired: int_at(obj, &["spec", "replicas"]).and_then(|n| i32::try_from(n).ok()).unwrap_or(1),
        ready: count(&["status", "readyReplicas"]),
        available: count(&["status", "availableReplicas"]),
        pods,
    })
}

/// Parses `a=b,c=d` into pairs (validated when the configuration loaded).
pub fn selector_pairs(selector: &str) -> Vec<(String, String)> {
    selector
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status() -> Value {
        json!({
            "observedGeneration": 3,
            "replicas": 2,
            "labelSelector": "strimzi.io/cluster=mm2,strimzi.io/name=mm2-mirrormaker2,strimzi.io/kind=KafkaMirrorMaker2",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-30T10:00:00Z"}],
            "connectors": [{
                "name": "dc->dr.MirrorSourceConnector",
                "connector": {"state": "RUNNING", "worker_id": "10.0.0.1:8083"},
                "tasks": [
                    {"id": 0, "state": "RUNNING", "worker_id": "10.0.0.1:8083"},
                    {"id": 1, "state": "FAILED", "worker_id": "10.0.0.2:8083", "trace": "org.apache.kafka...boom"}
                ],
                "type": "source"
            }],
            "autoRestartStatuses": [{"count": 2, "connectorName": "dc->dr.MirrorSourceConnector", "lastRestartTimestamp": "2026-11-30T10:05:00Z"}]
        })
    }

    #[test]
    fn reads_the_v1_shape() {
        let obj = json!({
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaMirrorMaker2",
            "metadata": {"name": "mm2", "namespace": "kafka", "generation": 4},
            "spec": {
                "replicas": 2,
                "target": {"alias": "dr", "bootstrapServers": "dr:9093"},
                "mirrors": [{
                    "source": {"alias": "dc", "bootstrapServers": "dc:9093"},
                    "sourceConnector": {"tasksMax": 4, "state": "stopped"},
                    "checkpointConnector": {"tasksMax": 1}
                }]
            },
            "status": status()
        });
        let m = mirror_maker(&obj).unwrap_or_else(|| panic!("parsed"));
        assert_eq!(m.target_alias.as_deref(), Some("dr"));
        assert_eq!(m.source_aliases, vec!["dc".to_owned()]);
        assert_eq!((m.replicas, m.status_replicas), (Some(2), Some(2)));
        assert_eq!(m.desired.len(), 2);
        assert_eq!((m.desired[0].kind.as_str(), m.desired[0].state.as_str()), ("source", "stopped"));
        assert_eq!((m.desired[1].kind.as_str(), m.desired[1].state.as_str()), ("checkpoint", "running"));
        assert!(m.unreconciled(), "generation 4 observed 3");
        assert!(m.ready.as_ref().is_some_and(Condition::is_true));
        assert_eq!(m.connectors.len(), 1);
        assert_eq!(m.connectors[0].tasks[1].state, ConnectState::Failed);
        assert_eq!(m.auto_restarts[0].count, 2);
        assert!(m.label_selector.as_deref().is_some_and(|s| s.contains("strimzi.io/cluster=mm2")));
    }

    #[test]
    fn reads_the_v1beta2_shape_whatever_version_it_is_read_as() {
        let obj = json!({
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaMirrorMaker2",
            "metadata": {"name": "mm2-back", "namespace": "kafka", "generation": 1,
                         "annotations": {"strimzi.io/pause-reconciliation": "true"}},
            "spec": {
                "replicas": 0,
                "connectCluster": "dc",
                "clusters": [{"alias": "dc"}, {"alias": "dr"}],
                "mirrors": [{"sourceCluster": "dr", "targetCluster": "dc",
                             "sourceConnector": {"pause": true}, "heartbeatConnector": {}}]
            },
            "status": {"observedGeneration": 1, "conditions": [{"type": "NotReady", "status": "True", "reason": "Failed"}]}
        });
        let m = mirror_maker(&obj).unwrap_or_else(|| panic!("parsed"));
        assert_eq!(m.target_alias.as_deref(), Some("dc"));
        assert_eq!(m.source_aliases, vec!["dr".to_owned()]);
        assert_eq!(m.replicas, Some(0));
        assert_eq!(m.desired[0].state, "paused", "the deprecated pause: true");
        assert_eq!(m.desired[1].kind, "heartbeat");
        assert!(!m.unreconciled());
        assert!(m.reconciliation_paused);
        let ready = m.ready.unwrap_or_else(|| panic!("a condition"));
        assert_eq!((ready.status.as_str(), ready.reason.as_deref()), ("False", Some("Failed")));
    }

    #[test]
    fn a_resource_without_status_is_not_ready_nor_reconciled() {
        let obj =
            json!({"apiVersion": "kafka.strimzi.io/v1beta2", "metadata": {"name": "x", "generation": 1}, "spec": {}});
        let m = mirror_maker(&obj).unwrap_or_else(|| panic!("parsed"));
        assert_eq!(m.ready, None);
        assert!(m.unreconciled());
        assert!(m.connectors.is_empty());
    }

    #[test]
    fn pods_running_pending_and_terminating() {
        let running = json!({
            "metadata": {"name": "mm2-mirrormaker2-0", "namespace": "kafka", "creationTimestamp": "2026-11-30T09:00:00Z",
                         "labels": {"strimzi.io/cluster": "mm2"}},
            "spec": {"nodeName": "node-1"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"restartCount": 3}]}
        });
        let p = pod(&running).unwrap_or_else(|| panic!("parsed"));
        assert!(p.ready && !p.terminating && p.is_present());
        assert_eq!((p.restarts, p.node.as_deref(), p.owner.as_deref()), (3, Some("node-1"), Some("mm2")));
        let terminating = json!({"metadata": {"name": "a", "deletionTimestamp": "2026-11-30T09:01:00Z"}, "status": {"phase": "Running"}});
        let p = pod(&terminating).unwrap_or_else(|| panic!("parsed"));
        assert!(p.terminating && p.is_present() && !p.ready);
        let done = json!({"metadata": {"name": "b"}, "status": {"phase": "Succeeded"}});
        assert!(!pod(&done).is_some_and(|p| p.is_present()));
    }

    #[test]
    fn workloads_and_their_selectors() {
        let d = json!({
            "metadata": {"name": "orders", "namespace": "apps"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "orders"}}},
            "status": {"readyReplicas": 2, "availableReplicas": 2}
        });
        let sel = match_labels(&d);
        assert_eq!(sel, vec![("app".to_owned(), "orders".to_owned())]);
        assert!(selects(&sel, &json!({"metadata": {"labels": {"app": "orders", "pod-template-hash": "x"}}})));
        assert!(!selects(&sel, &json!({"metadata": {"labels": {"app": "billing"}}})));
        assert!(!selects(&[], &json!({"metadata": {"labels": {"app": "orders"}}})), "an empty selector picks nothing");
        let w = workload(WorkloadKind::Deployment, &d, vec![]).unwrap_or_else(|| panic!("parsed"));
        assert_eq!((w.desired, w.ready, w.available), (3, 2, 2));
        let scaled_down = json!({"metadata": {"name": "orders"}, "spec": {"replicas": 0}, "status": {}});
        let w = workload(WorkloadKind::StatefulSet, &scaled_down, vec![]).unwrap_or_else(|| panic!("parsed"));
        assert_eq!((w.desired, w.ready), (0, 0));
        assert_eq!(
            selector_pairs("app=a, tier = web"),
            vec![("app".into(), "a".into()), ("tier".into(), "web".into())]
        );
    }
}
