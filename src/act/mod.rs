//! How kdrill carries out a drill step's action on real systems.
//!
//! An [`Action`] says what a step wants (stop the applications on DC, start
//! MM2 DR→DC); a [`Procedure`] says exactly how: the Kubernetes patches,
//! Kafka Connect REST calls or commands, in order, each one shown to the
//! operator before anything is sent. Planning (`plan`) is pure: from the
//! configuration, the latest observation and what this drill recorded. The
//! executor (`run`) sends exactly the requests that were previewed, one
//! after the other, and stops at the first that fails.
//!
//! # Modules, one job each
//!
//! * this module: the request types, their preview lines and results;
//! * `plan`: action → procedure, per configured backend (pure);
//! * `run`: carries out a procedure, request by request;
//! * `kube`: one Kubernetes request (merge patch with resourceVersion,
//!   retried on conflict; waits), errors in words;
//! * `connect`: one Kafka Connect REST request (HTTP/HTTPS, basic auth);
//! * `command`: one configured command, without a shell, with a timeout.

pub mod command;
pub mod connect;
pub mod kube;
pub mod plan;
pub mod run;
pub mod strimzi;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::Action;
pub use crate::action::RequestResult;
pub use crate::config::ConnectEndpoint;
use crate::model::Side;

/// An action made concrete: the requests that carry it out, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Procedure {
    pub action: Action,
    /// The side its requests act on: the side whose name confirms it.
    pub side: Side,
    pub requests: Vec<Request>,
    /// What the operator should know before confirming (an offset that
    /// cannot be set, a count taken from the configuration).
    pub notes: Vec<String>,
}

impl Procedure {
    /// An action with no requests of its own: a demo fault, or an action
    /// the demo world carries out by itself.
    pub fn bare(action: Action) -> Procedure {
        let side = action.side();
        Procedure { action, side, requests: Vec::new(), notes: Vec::new() }
    }

    /// Every request's preview lines, in order: what the journal keeps.
    pub fn preview(&self) -> Vec<String> {
        self.requests.iter().flat_map(Request::preview).collect()
    }
}

/// One request to a system outside kdrill.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Kube(KubeRequest),
    Connect(ConnectRequest),
    Command(CommandRequest),
}

/// A Kubernetes object, addressed as the API addresses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeObject {
    /// `apps/v1`, `kafka.strimzi.io/v1beta2`, `v1`.
    pub api_version: String,
    /// The resource's plural: `deployments`, `kafkamirrormaker2s`, `configmaps`.
    pub plural: String,
    pub namespace: String,
    pub name: String,
}

impl KubeObject {
    /// The object's path on the API server.
    pub fn path(&self) -> String {
        let prefix = if self.api_version.contains('/') { "apis" } else { "api" };
        format!("/{prefix}/{}/namespaces/{}/{}/{}", self.api_version, self.namespace, self.plural, self.name)
    }
}

/// Where a Kubernetes request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeTarget {
    pub side: Side,
    /// The kubeconfig context (`in-cluster` for the pod's service account).
    pub context: String,
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct KubeRequest {
    pub target: KubeTarget,
    pub object: KubeObject,
    pub op: KubeOp,
}

#[derive(Clone, Debug, PartialEq)]
pub enum KubeOp {
    /// JSON merge patch (`application/merge-patch+json`). The executor reads
    /// the object first, sends the patch with the `metadata.resourceVersion`
    /// it read (so a concurrent change is a 409, never overwritten), and on
    /// 409 reads again and retries, a bounded number of times. Each JSON
    /// pointer in `record` is read from the object before patching and
    /// returned in the result (e.g. `/spec/replicas`, to restore it later).
    MergePatch { patch: Value, record: Vec<String> },
    /// Creates the object, or replaces its `data` when it exists (a
    /// ConfigMap of connector offsets).
    Apply { body: Value },
    /// Reads the object until the value at `pointer` contains `equals`
    /// (`null`: is absent; objects: every field contained; arrays: every
    /// element contained in some element; else equal), or gives up after
    /// `within`, saying what it last read.
    Await { pointer: String, equals: Value, within: Duration },
    /// A merge patch of a `KafkaMirrorMaker2` whose `spec.mirrors` is the
    /// array as read, with `connectors` merged into each mirror's source,
    /// checkpoint and heartbeat connector and `source` into each source
    /// connector (a merge patch replaces arrays whole, so the array read is
    /// sent back with only those fields changed), plus `patch`; with the
    /// resourceVersion read, retried on conflict like `MergePatch`.
    EditMirrors { connectors: Value, source: Value, patch: Value, record: Vec<String> },
}

/// HTTP methods the Connect REST API is called with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Get,
    Put,
    Post,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConnectRequest {
    pub endpoint: ConnectEndpoint,
    pub method: Method,
    /// The path with every connector name percent-encoded
    /// (`/connectors/dc-%3Edr.MirrorSourceConnector/stop`).
    pub path: String,
    pub body: Option<Value>,
    /// Repeat the request (a GET) until its JSON answer contains this
    /// value (objects: every field of the expected value present and
    /// equal, recursively; arrays: every expected element found), or give
    /// up after `within`.
    pub until: Option<(Value, Duration)>,
}

/// A configured command, run without a shell.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandRequest {
    pub argv: Vec<String>,
    pub timeout: Duration,
}

/// Percent-encodes one path segment (a connector name such as
/// `dc->dr.MirrorSourceConnector`): every byte but unreserved characters.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Request {
    /// What will be sent, as the operator reads it before confirming: the
    /// first line is the request itself, the next its body or patch. No
    /// secret is ever part of it.
    pub fn preview(&self) -> Vec<String> {
        match self {
            Request::Kube(k) => {
                let t = &k.target;
                let at = format!("(context {}, {})", t.context, t.side);
                let path = k.object.path();
                match &k.op {
                    KubeOp::MergePatch { patch, .. } => vec![
                        format!("PATCH {path} {at}"),
                        format!("  merge patch, with the resourceVersion read: {patch}"),
                    ],
                    KubeOp::Apply { body } => {
                        vec![format!("APPLY {path} {at}"), format!("  create, or replace its data: {body}")]
                    }
                    KubeOp::EditMirrors { connectors, source, patch, .. } => {
                        let mut lines = vec![format!("PATCH {path} {at}")];
                        if !connectors.is_null() {
                            lines.push(format!(
                                "  spec.mirrors[*].{{source,checkpoint,heartbeat}}Connector += {connectors}"
                            ));
                        }
                        if !source.is_null() {
                            lines.push(format!("  spec.mirrors[*].sourceConnector += {source}"));
                        }
                        if !patch.is_null() {
                            lines.push(format!("  merge patch: {patch}"));
                        }
                        lines.push(
                            "  (the mirrors as read, only these fields changed; with the resourceVersion read)".into(),
                        );
                        lines
                    }
                    KubeOp::Await { pointer, equals, within } => {
                        vec![format!("WAIT {path} {at} until {pointer} = {equals} (at most {})", secs(*within))]
                    }
                }
            }
            Request::Connect(c) => {
                let mut lines = vec![format!("{} {}{}", c.method.as_str(), c.endpoint.base_url, c.path)];
                if let Some((user, _)) = &c.endpoint.basic_auth {
                    lines[0].push_str(&format!(" (basic auth as {user})"));
                }
                if let Some(body) = &c.body {
                    lines.push(format!("  body: {body}"));
                }
                if let Some((v, within)) = &c.until {
                    lines.push(format!("  repeated until the answer contains {v} (at most {})", secs(*within)));
                }
                lines
            }
            Request::Command(c) => vec![format!("RUN {} (timeout {})", shell_words(&c.argv), secs(c.timeout))],
        }
    }
}

/// `30 s`, `2 m`: a duration as the previews say it.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 120 && s.is_multiple_of(60) { format!("{} m", s / 60) } else { format!("{s} s") }
}

/// An argv as a person would type it (quoted where needed); display only:
/// commands never go through a shell.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c)) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_names_are_percent_encoded() {
        assert_eq!(encode_segment("dc->dr.MirrorSourceConnector"), "dc-%3Edr.MirrorSourceConnector");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn previews_name_the_exact_request_and_no_secret() {
        let endpoint = ConnectEndpoint {
            base_url: "https://connect:8083".into(),
            basic_auth: Some(("ops".into(), crate::config::Secret::new("hunter2"))),
            ca_file: None,
        };
        let r = Request::Connect(ConnectRequest {
            endpoint,
            method: Method::Put,
            path: "/connectors/dc-%3Edr.MirrorSourceConnector/stop".into(),
            body: None,
            until: None,
        });
        let text = r.preview().join("\n");
        assert_eq!(text, "PUT https://connect:8083/connectors/dc-%3Edr.MirrorSourceConnector/stop (basic auth as ops)");
        assert!(!text.contains("hunter2"));
        let c = Request::Command(CommandRequest {
            argv: vec!["scripts/lab".into(), "apps".into(), "stop".into(), "dc".into(), "it's".into()],
            timeout: Duration::from_secs(120),
        });
        assert_eq!(c.preview(), vec![r"RUN scripts/lab apps stop dc 'it'\''s' (timeout 2 m)".to_owned()]);
    }
}
