//! Observing each side's Kubernetes: Strimzi's `KafkaMirrorMaker2`
//! resources, MM2 pods and the applications' workloads, through watches
//! (never a list per poll).
//!
//! - `parse`: the API's JSON into the model, every shape tested offline.
//! - `watch`: one task per watched collection keeps its objects and says
//!   whether its watch is synced or why it failed.
//!
//! [`watch_side`] owns the side's client. A section is stamped fresh only
//! while its watches are synced and unbroken AND the API server answers a
//! cheap probe every poll interval: a hung server (a watch that stays
//! silent) ages the facts into stale instead of keeping them green.

pub mod parse;
mod watch;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::config::{KubeConfig, WorkloadPick};
use crate::model::{Link, MirrorMaker, Observed, Platform, Pod, ReadRefusal, Section, Side, Ts, Workload};

use watch::{Collection, WatchState, Watched};

/// Strimzi labels every MM2 pod with its kind.
const MM2_POD_SELECTOR: &str = "strimzi.io/kind=KafkaMirrorMaker2";

/// How often the API server is probed, how long a request may take, and
/// the longest wait before a failed watch is tried again.
#[derive(Clone, Copy, Debug)]
pub struct KubeTiming {
    pub poll: Duration,
    pub timeout: Duration,
    pub retry_max: Duration,
}

/// Watches `cfg`'s Kubernetes for `side` and sends the platform whenever
/// what is known changes, and at least every `poll` (restamped while
/// fresh). Ends when `tx` closes.
pub async fn watch_side(side: Side, cfg: KubeConfig, timing: KubeTiming, tx: mpsc::Sender<Platform>) {
    let KubeTiming { poll, timeout, retry_max } = timing;
    let mut view = SideWatch::new(side, &cfg);
    let client = loop {
        match tokio::time::timeout(timeout, client(&cfg.context, cfg.kubeconfig.as_deref())).await {
            Ok(Ok(c)) => break c,
            Ok(Err(why)) => view.link_failed(Utc::now(), why),
            Err(_) => view.link_failed(Utc::now(), format!("context {}: no answer within {timeout:?}", cfg.context)),
        }
        if tx.send(view.platform()).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(poll.max(Duration::from_secs(1)) * 5) => {}
            _ = tx.closed() => return,
        }
    };
    let (state_tx, mut states) = mpsc::channel::<(usize, WatchState)>(64);
    let mut tasks = Vec::new();
    for (id, collection) in collections(&cfg).into_iter().enumerate() {
        view.watches.push(Watched::new(collection.clone()));
        tasks.push(tokio::spawn(watch::run(client.clone(), collection, id, retry_max, state_tx.clone())));
    }
    drop(state_tx);
    let mut probe = tokio::time::interval(poll);
    probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            state = states.recv() => match state {
                Some((id, s)) => view.set_watch(id, s),
                None => break,
            },
            _ = probe.tick() => {
                let answered = tokio::time::timeout(timeout, client.apiserver_version()).await;
                let now = Utc::now();
                match answered {
                    Ok(Ok(_)) => view.link_ok(now),
                    Ok(Err(e)) => view.link_failed(now, format!("context {}: {}", cfg.context, words(&e))),
                    Err(_) => view.link_failed(now, format!("context {}: the API server did not answer within {timeout:?}", cfg.context)),
                }
            }
            _ = tx.closed() => break,
        }
        if tx.send(view.platform()).await.is_err() {
            break;
        }
    }
    for t in tasks {
        t.abort();
    }
}

/// A client for kubeconfig `context` (`in-cluster`: the pod's service
/// account) of `kubeconfig` (default: `$KUBECONFIG` or `~/.kube/config`).
/// Shared with the action executor, so both reach a cluster the same way.
pub(crate) async fn client(context: &str, kubeconfig: Option<&Path>) -> Result<Client, String> {
    let config = if context == KubeConfig::IN_CLUSTER {
        kube::Config::incluster().map_err(|e| format!("in-cluster configuration: {e}"))?
    } else {
        let options = KubeConfigOptions { context: Some(context.to_owned()), ..Default::default() };
        let loaded = match kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
                kube::Config::from_custom_kubeconfig(file, &options).await
            }
            None => kube::Config::from_kubeconfig(&options).await,
        };
        loaded.map_err(|e| format!("kubeconfig context {context}: {e}"))?
    };
    Client::try_from(config).map_err(|e| format!("context {context}: cannot build a client: {e}"))
}

/// An API error in words a person can act on: the server's own message
/// (a 403 names the user, verb, resource and namespace) with its code.
pub fn words(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

/// What to watch on one side, in a fixed order.
fn collections(cfg: &KubeConfig) -> Vec<Collection> {
    let mut out = vec![
        Collection::MirrorMakers { namespace: cfg.namespace.clone() },
        Collection::Pods { namespace: cfg.namespace.clone(), selector: Some(MM2_POD_SELECTOR.to_owned()) },
    ];
    let mut namespaces: Vec<&str> = Vec::new();
    for w in &cfg.workloads {
        out.push(Collection::Workloads { kind: w.kind, namespace: w.namespace.clone(), pick: w.pick.clone() });
        if !namespaces.contains(&w.namespace.as_str()) {
            namespaces.push(&w.namespace);
        }
    }
    // The workloads' pods, matched to them by their selectors.
    out.extend(namespaces.into_iter().map(|ns| Collection::Pods { namespace: ns.to_owned(), selector: None }));
    out
}

/// What one side's watches and probe have established.
struct SideWatch {
    platform: Platform,
    watches: Vec<Watched>,
    last_ok: Option<Ts>,
    workloads: Vec<crate::config::WorkloadRef>,
}

impl SideWatch {
    fn new(side: Side, cfg: &KubeConfig) -> SideWatch {
        SideWatch {
            platform: Platform::new(side, &cfg.context, &cfg.namespace),
            watches: Vec::new(),
            last_ok: None,
            workloads: cfg.workloads.clone(),
        }
    }

    fn link_ok(&mut self, now: Ts) {
        self.last_ok = Some(now);
        self.platform.link = Link::Up { last_ok: now };
        self.restamp(now);
    }

    fn link_failed(&mut self, now: Ts, error: String) {
        let since = match &self.platform.link {
            Link::Down { since, .. } => *since,
            _ => now,
        };
        self.platform.link = Link::Down { since, last_ok: self.last_ok, error };
    }

    fn set_watch(&mut self, id: usize, state: WatchState) {
        if let Some(w) = self.watches.get_mut(id) {
            w.state = state;
        }
        if let Link::Up { last_ok } = self.platform.link {
            self.restamp(last_ok);
        }
    }

    /// Sections whose watches are all synced and healthy are known as of
    /// `at` (the probe's last answer); the others keep their old stamp.
    fn restamp(&mut self, at: Ts) {
        let healthy = |section: Section, ws: &[Watched]| {
            let mine: Vec<&Watched> = ws.iter().filter(|w| w.collection.section() == section).collect();
            !mine.is_empty() && mine.iter().all(|w| w.state.synced && w.state.error.is_none())
        };
        if healthy(Section::Mirrormakers, &self.watches) {
            self.platform.mirrormakers = Some(Observed::new(self.mirrormakers(), at));
        }
        if healthy(Section::Mm2Pods, &self.watches) {
            self.platform.mm2_pods = Some(Observed::new(self.mm2_pods(), at));
        }
        let workloads_ok = self
            .watches
            .iter()
            .filter(|w| w.collection.feeds_workloads())
            .all(|w| w.state.synced && w.state.error.is_none());
        if self.workloads.is_empty() {
            self.platform.workloads = None;
        } else if workloads_ok {
            self.platform.workloads = Some(Observed::new(self.workloads(), at));
        }
    }

    fn mirrormakers(&self) -> Vec<MirrorMaker> {
        self.objects(|c| matches!(c, Collection::MirrorMakers { .. })).filter_map(parse::mirror_maker).collect()
    }

    fn mm2_pods(&self) -> Vec<Pod> {
        self.objects(|c| matches!(c, Collection::Pods { selector: Some(_), .. })).filter_map(parse::pod).collect()
    }

    fn workloads(&self) -> Vec<Workload> {
        let mut out = Vec::new();
        for w in &self.watches {
            let Collection::Workloads { kind, namespace, pick } = &w.collection else { continue };
            let found: Vec<&Value> = w.state.objects.values().collect();
            if found.is_empty() {
                if let WorkloadPick::Name(name) = pick {
                    out.push(Workload {
                        kind: *kind,
                        name: name.clone(),
                        namespace: namespace.clone(),
                        exists: false,
                        desired: 0,
                        ready: 0,
                        available: 0,
                        pods: Vec::new(),
                    });
                }
                continue;
            }
            for obj in found {
                let selector = parse::match_labels(obj);
                let pods = self
                    .watches
                    .iter()
                    .filter(|p| matches!(&p.collection, Collection::Pods { namespace: ns, selector: None } if ns == namespace))
                    .flat_map(|p| p.state.objects.values())
                    .filter(|pod| parse::selects(&selector, pod))
                    .filter_map(parse::pod)
                    .collect();
                out.extend(parse::workload(*kind, obj, pods));
            }
        }
        out
    }

    fn objects<'a>(&'a self, pick: impl Fn(&Collection) -> bool + 'a) -> impl Iterator<Item = &'a Value> + 'a {
        self.watches.iter().filter(move |w| pick(&w.collection)).flat_map(|w| w.state.objects.values())
    }

    /// The platform as known now, with a refusal for each failing watch.
    fn platform(&self) -> Platform {
        let mut p = self.platform.clone();
        let mut refusals: BTreeMap<Section, ReadRefusal> = BTreeMap::new();
        for w in &self.watches {
            if let Some((why, since)) = &w.state.error {
                let why = format!("context {}: {why}", p.context);
                refusals.entry(w.collection.section()).or_insert(ReadRefusal {
                    section: w.collection.section(),
                    why,
                    since: *since,
                });
            }
        }
        p.refusals = refusals.into_values().collect();
        p
    }
}
