//! One watch per collection: keeps the collection's objects (as the API's
//! JSON) and reports after every change whether the watch is synced (its
//! initial list complete) or why it failed. Watches restart with backoff by
//! themselves, capped (see [`Retry`]); a failure is reported, never fatal.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::utils::Backoff;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::config::WorkloadPick;
use crate::model::{Section, Ts, WorkloadKind};

/// Something watched in one namespace.
#[derive(Clone, Debug, PartialEq)]
pub enum Collection {
    MirrorMakers {
        namespace: String,
    },
    /// Pods, all of the namespace or those a label selector picks.
    Pods {
        namespace: String,
        selector: Option<String>,
    },
    Workloads {
        kind: WorkloadKind,
        namespace: String,
        pick: WorkloadPick,
    },
}

impl Collection {
    pub fn section(&self) -> Section {
        match self {
            Collection::MirrorMakers { .. } => Section::Mirrormakers,
            Collection::Pods { selector: Some(_), .. } => Section::Mm2Pods,
            Collection::Pods { selector: None, .. } | Collection::Workloads { .. } => Section::Workloads,
        }
    }

    pub fn feeds_workloads(&self) -> bool {
        self.section() == Section::Workloads
    }

    fn namespace(&self) -> &str {
        match self {
            Collection::MirrorMakers { namespace }
            | Collection::Pods { namespace, .. }
            | Collection::Workloads { namespace, .. } => namespace,
        }
    }
}

/// What a watch knows now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WatchState {
    /// By `namespace/name`.
    pub objects: BTreeMap<String, Value>,
    /// The initial list completed (since the last restart of the watch).
    pub synced: bool,
    /// Why the watch is failing, and since when; cleared by the next event.
    pub error: Option<(String, Ts)>,
}

/// A collection with what its watch last reported.
pub struct Watched {
    pub collection: Collection,
    pub state: WatchState,
}

impl Watched {
    pub fn new(collection: Collection) -> Watched {
        Watched { collection, state: WatchState::default() }
    }
}

/// Strimzi's resource, served as `v1` and `v1beta2`.
const STRIMZI_GROUP: &str = "kafka.strimzi.io";
const MM2_VERSIONS: [&str; 2] = ["v1", "v1beta2"];

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Runs the watch of `collection`, sending its state as `id` after every
/// change, until the receiver is gone.
/// How a failed watch is retried: 0.8 s, doubling up to `max` while
/// failures come back to back, and from 0.8 s again after any event
/// (kube-runtime resets it on each, the `Init` of every re-list included).
/// kube's default, client-go's, grows to 30 s and ignores those resets
/// for 120 s: an API server back after a restart was watched again 34 s
/// later. kdrill caps it below its staleness threshold (one client per
/// side), so one back is watched again before its facts would be stale.
pub struct Retry {
    next: Duration,
    max: Duration,
}

const RETRY_FIRST: Duration = Duration::from_millis(800);

impl Retry {
    pub fn new(max: Duration) -> Retry {
        Retry { next: RETRY_FIRST, max: max.max(RETRY_FIRST) }
    }
}

impl Iterator for Retry {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let now = self.next;
        self.next = (now * 2).min(self.max);
        Some(now)
    }
}

impl Backoff for Retry {
    fn reset(&mut self) {
        self.next = RETRY_FIRST;
    }
}

pub async fn run(
    client: Client,
    collection: Collection,
    id: usize,
    retry_max: Duration,
    tx: mpsc::Sender<(usize, WatchState)>,
) {
    let namespace = collection.namespace().to_owned();
    let (api_resource, config) = match &collection {
        Collection::MirrorMakers { .. } => {
            let Some(version) = mm2_version(&client, &namespace, id, &tx).await else { return };
            (resource(STRIMZI_GROUP, version, "KafkaMirrorMaker2", "kafkamirrormaker2s"), watcher::Config::default())
        }
        Collection::Pods { selector, .. } => {
            let config = match selector {
                Some(s) => watcher::Config::default().labels(s),
                None => watcher::Config::default(),
            };
            (resource("", "v1", "Pod", "pods"), config)
        }
        Collection::Workloads { kind, pick, .. } => {
            let r = match kind {
                WorkloadKind::Deployment => resource("apps", "v1", "Deployment", "deployments"),
                WorkloadKind::StatefulSet => resource("apps", "v1", "StatefulSet", "statefulsets"),
            };
            let config = match pick {
                WorkloadPick::Name(n) => watcher::Config::default().fields(&format!("metadata.name={n}")),
                WorkloadPick::Selector(s) => watcher::Config::default().labels(s),
            };
            (r, config)
        }
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client, &namespace, &api_resource);
    let mut state = WatchState::default();
    let mut pending: Option<BTreeMap<String, Value>> = None;
    let mut events = watcher(api, config).backoff(Retry::new(retry_max)).boxed();
    while let Some(ev) = events.next().await {
        let changed = match ev {
            Ok(watcher::Event::Init) => {
                pending = Some(BTreeMap::new());
                false
            }
            Ok(watcher::Event::InitApply(obj)) => {
                if let (Some(p), Some((k, v))) = (pending.as_mut(), keyed(&obj)) {
                    p.insert(k, v);
                }
                false
            }
            Ok(watcher::Event::InitDone) => {
                state.objects = pending.take().unwrap_or_default();
                state.synced = true;
                state.error = None;
                true
            }
            Ok(watcher::Event::Apply(obj)) => {
                if let Some((k, v)) = keyed(&obj) {
                    state.objects.insert(k, v);
                }
                state.error = None;
                true
            }
            Ok(watcher::Event::Delete(obj)) => {
                if let Some((k, _)) = keyed(&obj) {
                    state.objects.remove(&k);
                }
                state.error = None;
                true
            }
            Err(e) => {
                let why = failure_words(&collection, &e);
                let since = state.error.as_ref().map_or_else(Utc::now, |(_, t)| *t);
                let changed = state.error.as_ref().is_none_or(|(w, _)| *w != why);
                state.error = Some((why, since));
                changed
            }
        };
        if changed && tx.send((id, state.clone())).await.is_err() {
            return;
        }
    }
}

fn keyed(obj: &DynamicObject) -> Option<(String, Value)> {
    let name = obj.metadata.name.clone()?;
    let ns = obj.metadata.namespace.clone().unwrap_or_default();
    let value = serde_json::to_value(obj).ok()?;
    Some((format!("{ns}/{name}"), value))
}

/// The first version of Strimzi's resource the server serves, retried with
/// a pause while none is (the CRD may be installed later), reporting why.
async fn mm2_version(
    client: &Client,
    namespace: &str,
    id: usize,
    tx: &mpsc::Sender<(usize, WatchState)>,
) -> Option<&'static str> {
    let since = Utc::now();
    loop {
        let mut last = String::new();
        for version in MM2_VERSIONS {
            let r = resource(STRIMZI_GROUP, version, "KafkaMirrorMaker2", "kafkamirrormaker2s");
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &r);
            match api.list(&ListParams::default().limit(1)).await {
                Ok(_) => return Some(version),
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    last = format!(
                        "no KafkaMirrorMaker2 resource type ({STRIMZI_GROUP} v1 or v1beta2) is served: is Strimzi installed?"
                    );
                }
                Err(e) => {
                    last = super::words(&e);
                    break;
                }
            }
        }
        let state = WatchState { error: Some((last, since)), ..WatchState::default() };
        if tx.send((id, state)).await.is_err() {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
}

fn failure_words(collection: &Collection, e: &watcher::Error) -> String {
    let what = match collection {
        Collection::MirrorMakers { namespace } => format!("kafkamirrormaker2s in namespace {namespace}"),
        Collection::Pods { namespace, selector: Some(s) } => format!("pods ({s}) in namespace {namespace}"),
        Collection::Pods { namespace, selector: None } => format!("pods in namespace {namespace}"),
        Collection::Workloads { kind, namespace, .. } => format!("{}s in namespace {namespace}", kind.as_str()),
    };
    let cause = match e {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            super::words(e)
        }
        watcher::Error::WatchError(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    };
    format!("cannot watch {what}: {cause}")
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    #[test]
    fn retries_double_up_to_the_cap_and_start_over_after_a_success() {
        let mut r = Retry::new(Duration::from_secs(3));
        let first: Vec<u128> = r.by_ref().take(5).map(|d| d.as_millis()).collect();
        assert_eq!(first, [800, 1600, 3000, 3000, 3000]);
        r.reset();
        assert_eq!(r.next(), Some(RETRY_FIRST));
        assert_eq!(Retry::new(Duration::ZERO).nth(3), Some(RETRY_FIRST), "never below the first delay");
    }
}
