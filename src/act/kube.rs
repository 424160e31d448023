//! One Kubernetes request of a procedure, carried out and answered in words.
//!
//! A merge patch is sent with the `metadata.resourceVersion` just read, so a
//! concurrent writer makes the API server answer 409 Conflict instead of
//! being overwritten; the executor then reads again and retries, a bounded
//! number of times. Every failure comes back as a [`RequestResult`] with
//! `ok = false` and words naming the context, what was refused and why.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use serde_json::{Map, Value, json};

use super::{KubeObject, KubeOp, KubeRequest, Request, RequestResult, secs};

/// The field manager kdrill's changes are recorded under.
const FIELD_MANAGER: &str = "kdrill";
/// Attempts of a read-then-patch before a run of conflicts is given up.
const MAX_ATTEMPTS: u32 = 5;
/// How often an `Await` reads the object again.
const AWAIT_EVERY: Duration = Duration::from_secs(1);

/// Kubernetes clients by (kubeconfig path, context), built on first use and kept.
#[derive(Default)]
pub struct KubeClients {
    clients: HashMap<(Option<PathBuf>, String), Client>,
}

impl KubeClients {
    /// Carries out one request; never panics; every failure is a
    /// RequestResult with ok=false and words a person can act on.
    pub async fn send(&mut self, req: &KubeRequest, request_timeout: Duration) -> RequestResult {
        let request = Request::Kube(req.clone()).preview().into_iter().next().unwrap_or_default();
        let at = Place { context: req.target.context.clone(), path: req.object.path(), timeout: request_timeout };
        let outcome = match self.client(req, request_timeout).await {
            Err(why) => Err(why),
            Ok(client) => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client, &req.object.namespace, &resource(&req.object));
                let calls = Calls { api: &api, name: &req.object.name, at: &at };
                match &req.op {
                    KubeOp::MergePatch { patch, record } => merge_patch(&calls, patch, record).await,
                    KubeOp::Apply { body } => apply(&calls, body).await,
                    KubeOp::EditMirrors { connectors, source, patch, record } => {
                        edit_mirrors(&calls, connectors, source, patch, record).await
                    }
                    KubeOp::Await { pointer, equals, within } => wait_for(&calls, pointer, equals, *within).await,
                }
            }
        };
        match outcome {
            Ok(Done { detail, recorded }) => RequestResult { request, ok: true, detail, recorded },
            Err(detail) => RequestResult { request, ok: false, detail, recorded: Vec::new() },
        }
    }

    async fn client(&mut self, req: &KubeRequest, timeout: Duration) -> Result<Client, String> {
        let key = (req.target.kubeconfig.clone(), req.target.context.clone());
        if let Some(c) = self.clients.get(&key) {
            return Ok(c.clone());
        }
        let built = tokio::time::timeout(timeout, crate::collect::kube::client(&key.1, key.0.as_deref()))
            .await
            .map_err(|_| format!("context {}: the client could not be set up within {}", key.1, secs(timeout)))??;
        self.clients.insert(key, built.clone());
        Ok(built)
    }
}

/// The object's resource as the API addresses it; the kind is not part of
/// any URL, so it is left empty rather than guessed from the plural.
fn resource(o: &KubeObject) -> ApiResource {
    let (group, version) = o.api_version.split_once('/').unwrap_or(("", &o.api_version));
    ApiResource {
        group: group.to_owned(),
        version: version.to_owned(),
        api_version: o.api_version.clone(),
        kind: String::new(),
        plural: o.plural.clone(),
    }
}

/// Where a request went, for its words.
struct Place {
    context: String,
    path: String,
    timeout: Duration,
}

struct Done {
    detail: String,
    recorded: Vec<(String, Value)>,
}

/// The object's API calls, each bounded by the request timeout.
struct Calls<'a> {
    api: &'a Api<DynamicObject>,
    name: &'a str,
    at: &'a Place,
}

impl Calls<'_> {
    async fn get(&self) -> Result<Value, Failure> {
        self.bounded(self.api.get(self.name)).await
    }

    async fn patch(&self, body: &Value) -> Result<Value, Failure> {
        let pp = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        self.bounded(self.api.patch(self.name, &pp, &Patch::Merge(body))).await
    }

    async fn create(&self, obj: &DynamicObject) -> Result<Value, Failure> {
        let pp = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        self.bounded(self.api.create(&pp, obj)).await
    }

    async fn bounded(&self, call: impl Future<Output = Result<DynamicObject, kube::Error>>) -> Result<Value, Failure> {
        match tokio::time::timeout(self.at.timeout, call).await {
            Err(_) => Err(Failure::NoAnswer(None)),
            Ok(Err(kube::Error::Api(status))) => {
                Err(Failure::Api { code: status.code, reason: status.reason.clone(), message: status.message.clone() })
            }
            Ok(Err(e)) => Err(Failure::NoAnswer(Some(e.to_string()))),
            Ok(Ok(obj)) => serde_json::to_value(obj).map_err(|e| Failure::Unreadable(e.to_string())),
        }
    }
}

/// Why one API call failed, before it is put in words.
#[derive(Clone, Debug, PartialEq)]
enum Failure {
    /// The API server answered with an error status.
    Api { code: u16, reason: String, message: String },
    /// No answer within the timeout (`None`), or none at all (connection refused, TLS…).
    NoAnswer(Option<String>),
    /// An answer that is not the object.
    Unreadable(String),
}

impl Failure {
    fn is_conflict(&self) -> bool {
        matches!(self, Failure::Api { code: 409, .. })
    }

    fn words(&self, at: &Place) -> String {
        let ctx = &at.context;
        match self {
            Failure::Api { code: 401, .. } => {
                format!("401 Unauthorized (context {ctx}): the API server refused the credentials of context {ctx}")
            }
            Failure::Api { code: 404, message, .. } => {
                format!("404 Not Found (context {ctx}): {} does not exist ({message})", at.path)
            }
            Failure::Api { code, reason, message } => {
                let phrase = status_phrase(*code).map_or_else(|| reason.clone(), str::to_owned);
                format!("{code} {phrase} (context {ctx}): {message}")
            }
            Failure::NoAnswer(None) => {
                format!("the API server at context {ctx} did not answer within {}", secs(at.timeout))
            }
            Failure::NoAnswer(Some(e)) => {
                format!("the API server at context {ctx} did not answer within {}: {e}", secs(at.timeout))
            }
            Failure::Unreadable(e) => format!("context {ctx}: the answer for {} is not an object: {e}", at.path),
        }
    }
}

fn status_phrase(code: u16) -> Option<&'static str> {
    Some(match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

fn resource_version(obj: &Value) -> String {
    obj.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// `patch` with `metadata.resourceVersion` set, so that the API server
/// applies it only to the version read.
fn with_resource_version(patch: &Value, version: &str) -> Result<Value, String> {
    let mut body = patch.clone();
    let Some(top) = body.as_object_mut() else {
        return Err(format!("the merge patch must be a JSON object, not {patch}"));
    };
    let meta = top.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        return Err(format!("the merge patch's metadata must be an object, not {}", top["metadata"]));
    };
    meta.insert("resourceVersion".into(), Value::String(version.to_owned()));
    Ok(body)
}

/// Each pointer's value in `obj` (`null` when absent), keyed `<path>#<pointer>`.
fn record_values(path: &str, obj: &Value, pointers: &[String]) -> Vec<(String, Value)> {
    pointers.iter().map(|p| (format!("{path}#{p}"), obj.pointer(p).cloned().unwrap_or(Value::Null))).collect()
}

/// What a read-then-patch did.
#[derive(Debug)]
struct Patched {
    /// The object as read right before the patch that was accepted.
    before: Value,
    after: Value,
    conflicts: u32,
}

/// Reads, then patches with the version read; on 409 Conflict reads again,
/// at most `MAX_ATTEMPTS` times in all. `body` builds the patch from the
/// object read (it carries that object's resourceVersion).
async fn patch_with_retries<G, GF, P, PF, B>(mut get: G, mut body: B, mut patch: P) -> Result<Patched, PatchFailed>
where
    G: FnMut() -> GF,
    GF: Future<Output = Result<Value, Failure>>,
    B: FnMut(&Value) -> Result<Value, String>,
    P: FnMut(Value) -> PF,
    PF: Future<Output = Result<Value, Failure>>,
{
    let mut conflicts = 0;
    loop {
        let before = get().await.map_err(PatchFailed::Call)?;
        let sent = body(&before).map_err(PatchFailed::Refused)?;
        match patch(sent).await {
            Ok(after) => return Ok(Patched { before, after, conflicts }),
            Err(f) if f.is_conflict() => {
                conflicts += 1;
                if conflicts >= MAX_ATTEMPTS {
                    return Err(PatchFailed::Conflicts(f));
                }
            }
            Err(f) => return Err(PatchFailed::Call(f)),
        }
    }
}

#[derive(Debug)]
enum PatchFailed {
    Call(Failure),
    /// The patch could not be built (not sent).
    Refused(String),
    /// Every attempt met a concurrent change.
    Conflicts(Failure),
}

impl PatchFailed {
    fn words(&self, at: &Place) -> String {
        match self {
            PatchFailed::Call(f) => f.words(at),
            PatchFailed::Refused(why) => format!("not sent: {why}"),
            PatchFailed::Conflicts(f) => format!(
                "{} — the object changed under each of {MAX_ATTEMPTS} attempts (read, then patch with the version read); gave up",
                f.words(at)
            ),
        }
    }
}

fn versions(p: &Patched) -> String {
    let mut s = format!("resourceVersion {} → {}", resource_version(&p.before), resource_version(&p.after));
    match p.conflicts {
        0 => {}
        1 => s.push_str(", after 1 conflict, retried"),
        n => s.push_str(&format!(", after {n} conflicts, retried")),
    }
    s
}

async fn merge_patch(calls: &Calls<'_>, patch: &Value, record: &[String]) -> Result<Done, String> {
    patch_read(calls, |obj| with_resource_version(patch, &resource_version(obj)), record).await
}

/// Reads, patches with what `body` builds from the object read (retried on
/// conflict), and records `record`'s values as they were before.
async fn patch_read(
    calls: &Calls<'_>,
    body: impl FnMut(&Value) -> Result<Value, String>,
    record: &[String],
) -> Result<Done, String> {
    let done = patch_with_retries(|| calls.get(), body, |body| async move { calls.patch(&body).await })
        .await
        .map_err(|f| f.words(calls.at))?;
    Ok(Done {
        detail: format!("200 OK: {}", versions(&done)),
        recorded: record_values(&calls.at.path, &done.before, record),
    })
}

/// The connectors of a `KafkaMirrorMaker2` mirror, by spec field.
const MIRROR_CONNECTORS: [&str; 3] = ["sourceConnector", "checkpointConnector", "heartbeatConnector"];

/// `patch` plus `spec.mirrors` as read from `obj`, with `connectors` merged
/// into each mirror's three connectors and `source` into its source
/// connector: a merge patch replaces an array whole, so the array read is
/// sent back with only those fields changed.
fn mirrors_patch(obj: &Value, connectors: &Value, source: &Value, patch: &Value) -> Result<Value, String> {
    let Some(mirrors) = obj.pointer("/spec/mirrors").and_then(Value::as_array) else {
        return Err("the resource has no spec.mirrors to change".into());
    };
    let mut mirrors = mirrors.clone();
    for m in &mut mirrors {
        let Some(m) = m.as_object_mut() else { return Err("a spec.mirrors entry is not an object".into()) };
        for field in MIRROR_CONNECTORS {
            let add = match (field, connectors, source) {
                ("sourceConnector", c, s) => [c, s],
                (_, c, _) => [c, &Value::Null],
            };
            for add in add.into_iter().filter(|v| !v.is_null()) {
                let slot = m.entry(field).or_insert_with(|| Value::Object(Map::new()));
                merge_into(slot, add);
            }
        }
    }
    let mut body = if patch.is_null() { json!({}) } else { patch.clone() };
    merge_into(&mut body, &json!({"spec": {"mirrors": mirrors}}));
    with_resource_version(&body, &resource_version(obj))
}

/// RFC 7386 merge of `add` into `into` (objects merged, the rest replaced).
fn merge_into(into: &mut Value, add: &Value) {
    match (into.as_object_mut(), add.as_object()) {
        (Some(target), Some(add)) => {
            for (k, v) in add {
                merge_into(target.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        _ => *into = add.clone(),
    }
}

async fn edit_mirrors(
    calls: &Calls<'_>,
    connectors: &Value,
    source: &Value,
    patch: &Value,
    record: &[String],
) -> Result<Done, String> {
    patch_read(calls, |obj| mirrors_patch(obj, connectors, source, patch), record).await
}

/// The merge patch that makes an existing object's `data` (and the labels
/// and annotations `body` names) what `body` says: keys `body` lacks are
/// removed from `data`.
fn replace_data_patch(existing: &Value, body: &Value) -> Result<Value, String> {
    let mut data = Map::new();
    if let Some(old) = existing.get("data").and_then(Value::as_object) {
        for k in old.keys() {
            data.insert(k.clone(), Value::Null);
        }
    }
    if let Some(new) = body.get("data").and_then(Value::as_object) {
        data.extend(new.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let mut meta = Map::new();
    for field in ["labels", "annotations"] {
        if let Some(v) = body.pointer(&format!("/metadata/{field}")) {
            meta.insert(field.to_owned(), v.clone());
        }
    }
    let patch = json!({ "metadata": meta, "data": data });
    with_resource_version(&patch, &resource_version(existing))
}

async fn apply(calls: &Calls<'_>, body: &Value) -> Result<Done, String> {
    let at = calls.at;
    let obj: DynamicObject =
        serde_json::from_value(body.clone()).map_err(|e| format!("not sent: the body is not an object: {e}"))?;
    match calls.create(&obj).await {
        Ok(created) => Ok(Done {
            detail: format!("201 Created: resourceVersion {}", resource_version(&created)),
            recorded: Vec::new(),
        }),
        Err(Failure::Api { code: 409, .. }) => {
            let done = patch_with_retries(
                || calls.get(),
                |existing| replace_data_patch(existing, body),
                |patch| async move { calls.patch(&patch).await },
            )
            .await
            .map_err(|f| f.words(at))?;
            Ok(Done { detail: format!("200 OK: existed, data replaced: {}", versions(&done)), recorded: Vec::new() })
        }
        Err(f) => Err(f.words(at)),
    }
}

async fn wait_for(calls: &Calls<'_>, pointer: &str, equals: &Value, within: Duration) -> Result<Done, String> {
    let started = Instant::now();
    loop {
        let seen = match calls.get().await {
            Ok(obj) => {
                let v = obj.pointer(pointer).cloned().unwrap_or(Value::Null);
                // `null`: the value is absent; else it must contain what is expected.
                let there = if equals.is_null() { v.is_null() } else { super::connect::contains(&v, equals) };
                if there {
                    return Ok(Done {
                        detail: format!("200 OK: {pointer} is {v} after {}", secs(started.elapsed())),
                        recorded: Vec::new(),
                    });
                }
                format!("{pointer} is {v}")
            }
            Err(f) => f.words(calls.at),
        };
        if started.elapsed() + AWAIT_EVERY > within {
            return Err(format!("timed out after {}: {seen}", secs(within)));
        }
        tokio::time::sleep(AWAIT_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    fn place() -> Place {
        Place {
            context: "dr-viewer".into(),
            path: "/apis/kafka.strimzi.io/v1/namespaces/kafka/kafkamirrormaker2s/mm2".into(),
            timeout: Duration::from_secs(10),
        }
    }

    /// A failure as `Calls` makes it from the API server's error status.
    fn from_status(s: kube::core::Status) -> Failure {
        Failure::Api { code: s.code, reason: s.reason, message: s.message }
    }

    #[test]
    fn a_403_names_the_context_and_keeps_the_servers_words() {
        let msg = r#"kafkamirrormaker2s.kafka.strimzi.io "mm2" is forbidden: User "viewer" cannot patch resource "kafkamirrormaker2s" in API group "kafka.strimzi.io" in the namespace "kafka""#;
        let status = kube::core::Status::failure(msg, "Forbidden").with_code(403);
        let e = kube::Error::Api(status.boxed());
        let kube::Error::Api(s) = e else { unreachable!() };
        assert_eq!(from_status(*s).words(&place()), format!("403 Forbidden (context dr-viewer): {msg}"));
    }

    #[test]
    fn other_failures_say_what_to_check() {
        let at = place();
        let nf =
            from_status(kube::core::Status::failure("kafkamirrormaker2s \"mm2\" not found", "NotFound").with_code(404));
        assert_eq!(
            nf.words(&at),
            "404 Not Found (context dr-viewer): /apis/kafka.strimzi.io/v1/namespaces/kafka/kafkamirrormaker2s/mm2 does not exist (kafkamirrormaker2s \"mm2\" not found)"
        );
        let unauth = from_status(kube::core::Status::failure("Unauthorized", "Unauthorized").with_code(401));
        assert!(unauth.words(&at).contains("refused the credentials of context dr-viewer"), "{}", unauth.words(&at));
        assert_eq!(
            Failure::NoAnswer(None).words(&at),
            "the API server at context dr-viewer did not answer within 10 s"
        );
        let odd = Failure::Api { code: 418, reason: "Teapot".into(), message: "short and stout".into() };
        assert_eq!(odd.words(&at), "418 Teapot (context dr-viewer): short and stout");
    }

    #[test]
    fn the_patch_carries_the_version_read() {
        let p = json!({"spec": {"replicas": 0}});
        assert_eq!(
            with_resource_version(&p, "1234").unwrap(),
            json!({"spec": {"replicas": 0}, "metadata": {"resourceVersion": "1234"}})
        );
        let p = json!({"metadata": {"annotations": {"a": "b"}}});
        assert_eq!(
            with_resource_version(&p, "7").unwrap(),
            json!({"metadata": {"annotations": {"a": "b"}, "resourceVersion": "7"}})
        );
        assert!(with_resource_version(&json!([1]), "7").is_err());
    }

    #[test]
    fn recorded_values_are_keyed_by_path_and_pointer_null_when_absent() {
        let obj = json!({"spec": {"replicas": 1}});
        let r = record_values(
            "/apis/apps/v1/namespaces/apps/deployments/lab-app",
            &obj,
            &["/spec/replicas".into(), "/spec/paused".into()],
        );
        assert_eq!(
            r,
            vec![
                ("/apis/apps/v1/namespaces/apps/deployments/lab-app#/spec/replicas".to_owned(), json!(1)),
                ("/apis/apps/v1/namespaces/apps/deployments/lab-app#/spec/paused".to_owned(), Value::Null),
            ]
        );
    }

    #[test]
    fn mirror_edits_send_the_array_read_with_only_the_asked_fields_changed() {
        let obj = json!({"metadata": {"resourceVersion": "5"}, "spec": {"replicas": 1, "mirrors": [{
            "sourceCluster": "dc",
            "sourceConnector": {"tasksMax": 2, "state": "running", "config": {"a": 1}},
            "heartbeatConnector": {"config": {}},
        }]}});
        let got = mirrors_patch(
            &obj,
            &json!({"state": "stopped"}),
            &json!({"alterOffsets": {"fromConfigMap": {"name": "cm"}}}),
            &json!({"spec": {"replicas": 0}}),
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"metadata": {"resourceVersion": "5"}, "spec": {"replicas": 0, "mirrors": [{
                "sourceCluster": "dc",
                "sourceConnector": {"tasksMax": 2, "state": "stopped", "config": {"a": 1},
                                    "alterOffsets": {"fromConfigMap": {"name": "cm"}}},
                "checkpointConnector": {"state": "stopped"},
                "heartbeatConnector": {"config": {}, "state": "stopped"},
            }]}})
        );
        assert!(mirrors_patch(&json!({"spec": {}}), &json!({"state": "stopped"}), &Value::Null, &Value::Null).is_err());
    }

    #[test]
    fn replacing_data_removes_keys_the_body_lacks() {
        let existing = json!({"metadata": {"resourceVersion": "9"}, "data": {"old.json": "{}", "keep.json": "1"}});
        let body = json!({"metadata": {"name": "x", "labels": {"l": "v"}}, "data": {"keep.json": "2"}});
        assert_eq!(
            replace_data_patch(&existing, &body).unwrap(),
            json!({"metadata": {"labels": {"l": "v"}, "resourceVersion": "9"}, "data": {"old.json": null, "keep.json": "2"}})
        );
    }

    fn conflict() -> Failure {
        Failure::Api { code: 409, reason: "Conflict".into(), message: "the object has been modified".into() }
    }

    /// The retry loop with a scripted server: `answers` are the patch
    /// answers in order; each read returns the next resourceVersion.
    fn run_retries(answers: Vec<Result<(), Failure>>) -> (Result<Patched, PatchFailed>, Vec<String>) {
        let version = RefCell::new(100);
        let sent = RefCell::new(Vec::new());
        let answers = RefCell::new(answers.into_iter());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let out = rt.block_on(patch_with_retries(
            || {
                *version.borrow_mut() += 1;
                let v = *version.borrow();
                async move { Ok(json!({"metadata": {"resourceVersion": v.to_string()}, "spec": {"replicas": 1}})) }
            },
            |obj| with_resource_version(&json!({"spec": {"replicas": 0}}), &resource_version(obj)),
            |body| {
                sent.borrow_mut().push(resource_version(&body));
                let answer = answers.borrow_mut().next().unwrap_or(Ok(()));
                async move { answer.map(|()| json!({"metadata": {"resourceVersion": "999"}})) }
            },
        ));
        (out, sent.into_inner())
    }

    #[test]
    fn a_conflict_is_read_again_and_retried_with_the_new_version() {
        let (out, sent) = run_retries(vec![Err(conflict()), Ok(())]);
        let done = out.unwrap();
        assert_eq!(sent, vec!["101", "102"], "each attempt carries the version just read");
        assert_eq!(done.conflicts, 1);
        assert_eq!(versions(&done), "resourceVersion 102 → 999, after 1 conflict, retried");
    }

    #[test]
    fn conflicts_are_given_up_after_five_attempts_saying_so() {
        let (out, sent) = run_retries(vec![Err(conflict()); 7]);
        assert_eq!(sent.len(), 5);
        let why = out.unwrap_err().words(&place());
        assert!(why.starts_with("409 Conflict (context dr-viewer)"), "{why}");
        assert!(why.contains("each of 5 attempts"), "{why}");
    }

    #[test]
    fn another_failure_is_not_retried() {
        let forbidden = Failure::Api { code: 403, reason: "Forbidden".into(), message: "no".into() };
        let (out, sent) = run_retries(vec![Err(forbidden.clone())]);
        assert_eq!(sent.len(), 1);
        assert!(matches!(out, Err(PatchFailed::Call(f)) if f == forbidden));
    }
}
