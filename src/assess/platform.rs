//! Judgement over what Kubernetes shows, and where it disagrees with Kafka.
//!
//! Per side: the MM2 pods present (whichever resource owns them), the
//! declared application workloads' replicas, and what could not be read.
//! Per MM2 deployment: its `KafkaMirrorMaker2` resource and pods, compared
//! with the Connect worker group and Connect's status topic. A disagreement
//! is shown, and no gate that rests on the facts involved opens while it
//! lasts.

use serde::Serialize;

use crate::config::Settings;
use crate::model::{Connector, Link, MirrorMaker, Mm2Deployment, Platform, Pod, Section, Side, Snapshot, Ts};

use super::truth::{Freshness, fmt_age};

/// One side's Kubernetes, judged.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformView {
    pub side: Side,
    /// "context dr, namespace kafka".
    pub place: String,
    /// "dr/kafka".
    pub short_place: String,
    /// Why the API server is not answering, when it is not.
    pub unreachable: Option<String>,
    /// MM2 pods present (pending, running or terminating), when fresh.
    pub mm2_pods: Known<usize>,
    pub mm2_pods_at: Option<Ts>,
    /// Those pods (phase, readiness, restarts, node, age), when fresh.
    pub mm2_pod_list: Vec<Pod>,
    /// Ready replicas of the declared workloads, summed, when fresh; `None`
    /// when no workload is declared for this side.
    pub apps: Option<WorkloadsView>,
    /// What could not be read, in words naming context, namespace and resource.
    pub refusals: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadsView {
    pub desired: Known<i32>,
    pub ready: Known<i32>,
    pub at: Option<Ts>,
    /// `Deployment apps/orders 2/3 ready`, one per workload.
    pub detail: Vec<String>,
}

/// How one source sees an MM2 deployment's workers, and the resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Mm2Platform {
    pub place: String,
    /// "dr/kafka".
    pub short_place: String,
    pub resource: Option<MirrorMaker>,
    pub resource_at: Option<Ts>,
    /// Pods of this deployment's resource on its side, when fresh.
    pub pods: Known<usize>,
    pub pods_at: Option<Ts>,
    /// Those pods, when fresh.
    pub pod_list: Vec<Pod>,
    pub disagreements: Vec<Disagreement>,
}

/// The present MM2 pods of a side, of one resource or of any.
fn present_pods(p: &Platform, owner: Option<&str>) -> Vec<Pod> {
    let pods = p.mm2_pods.as_ref().map(|o| o.value.as_slice()).unwrap_or_default();
    pods.iter()
        .filter(|pod| pod.is_present() && owner.is_none_or(|o| pod.owner.as_deref() == Some(o)))
        .cloned()
        .collect()
}

/// Two sources that should agree and do not.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Disagreement {
    pub kind: DisagreementKind,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisagreementKind {
    /// The resource's status and Connect's status topic give a connector
    /// or task different states.
    ResourceVsStatusTopic,
    /// No pod, but the Connect worker group still has members.
    WorkersWithoutPods,
    /// Pods running, but no member in the Connect worker group.
    PodsWithoutWorkers,
    /// A spec change the operator has not reconciled yet.
    Unreconciled,
}

impl DisagreementKind {
    pub const ALL: [DisagreementKind; 4] = [
        DisagreementKind::ResourceVsStatusTopic,
        DisagreementKind::WorkersWithoutPods,
        DisagreementKind::PodsWithoutWorkers,
        DisagreementKind::Unreconciled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisagreementKind::ResourceVsStatusTopic => "resource-vs-status-topic",
            DisagreementKind::WorkersWithoutPods => "workers-without-pods",
            DisagreementKind::PodsWithoutWorkers => "pods-without-workers",
            DisagreementKind::Unreconciled => "unreconciled",
        }
    }
}

/// A figure known from a fresh observation, or unknown with why.
#[derive(Clone, Debug, PartialEq)]
pub enum Known<T> {
    Is(T),
    Unknown(String),
}

impl<T: Copy> Known<T> {
    pub fn value(&self) -> Option<T> {
        match self {
            Known::Is(v) => Some(*v),
            Known::Unknown(_) => None,
        }
    }
}

pub fn assess_platforms(snap: &Snapshot, settings: &Settings, now: Ts) -> [Option<PlatformView>; 2] {
    Side::BOTH.map(|side| snap.platform(side).map(|p| assess_side(p, settings, now)))
}

/// `value` if `section` was observed fresh; otherwise unknown, with why in
/// words: the age, and the cause when known (the server unreachable, or
/// the watch refused, e.g. a 403 naming the user, verb and resource).
fn fresh<T>(
    at: Option<Ts>,
    p: &Platform,
    section: Section,
    what: &str,
    settings: &Settings,
    now: Ts,
    value: impl FnOnce() -> T,
) -> Known<T> {
    let refused = p.refusals.iter().find(|r| r.section == section);
    match Freshness::of(at, now, settings.stale_after).problem(&format!("{what} ({})", p.place())) {
        None => Known::Is(value()),
        Some(why) => Known::Unknown(match (&p.link, refused) {
            (Link::Down { error, .. }, _) => format!("{why}: {error}"),
            (_, Some(r)) => format!("{why}: {}", r.why),
            _ => why,
        }),
    }
}

fn assess_side(p: &Platform, settings: &Settings, now: Ts) -> PlatformView {
    let pods_at = p.mm2_pods.as_ref().map(|o| o.at);
    let mm2_pods = fresh(pods_at, p, Section::Mm2Pods, "MM2 pods", settings, now, || {
        p.mm2_pods.as_ref().map_or(0, |o| o.value.iter().filter(|pod| pod.is_present()).count())
    });
    let apps = p.workloads.as_ref().map(|w| {
        let at = Some(w.at);
        let sum = |f: fn(&crate::model::Workload) -> i32| w.value.iter().map(f).sum::<i32>();
        WorkloadsView {
            desired: fresh(at, p, Section::Workloads, "application workloads", settings, now, || sum(|w| w.desired)),
            ready: fresh(at, p, Section::Workloads, "application workloads", settings, now, || sum(|w| w.ready)),
            at,
            detail: w
                .value
                .iter()
                .map(|w| match w.exists {
                    true => format!("{} {}/{} {}/{} ready", w.kind.as_str(), w.namespace, w.name, w.ready, w.desired),
                    false => format!("{} {}/{} not found", w.kind.as_str(), w.namespace, w.name),
                })
                .collect(),
        }
    });
    PlatformView {
        side: p.side,
        place: p.place(),
        short_place: p.short_place(),
        unreachable: match &p.link {
            Link::Down { since, error, .. } => {
                Some(format!("{error} (for {})", fmt_age(crate::model::age_secs(*since, now))))
            }
            _ => None,
        },
        mm2_pod_list: if mm2_pods.value().is_some() { present_pods(p, None) } else { Vec::new() },
        mm2_pods,
        mm2_pods_at: pods_at,
        apps,
        refusals: p.refusals.iter().map(|r| r.why.clone()).collect(),
    }
}

/// The platform's view of one MM2 deployment: its resource on the side it
/// runs on (by name), its pods, and every disagreement with Kafka's view.
pub fn assess_deployment(d: &Mm2Deployment, snap: &Snapshot, settings: &Settings, now: Ts) -> Option<Mm2Platform> {
    let p = snap.platform(d.runs_on)?;
    let resource_at = p.mirrormakers.as_ref().map(|o| o.at);
    let resource = p.mirrormakers.as_ref().and_then(|o| o.value.iter().find(|m| m.name == d.name)).cloned();
    let pods_at = p.mm2_pods.as_ref().map(|o| o.at);
    let pods = fresh(pods_at, p, Section::Mm2Pods, &format!("pods of {}", d.name), settings, now, || {
        present_pods(p, Some(&d.name)).len()
    });
    let pod_list = match pods {
        Known::Is(_) => present_pods(p, Some(&d.name)),
        Known::Unknown(_) => Vec::new(),
    };
    let mut disagreements = Vec::new();
    let members_fresh = d.workers.as_ref().filter(|w| Freshness::of(Some(w.at), now, settings.stale_after).is_fresh());
    if let (Known::Is(n), Some(w)) = (&pods, members_fresh) {
        let members = w.value.len();
        // A pod joins the worker group once it runs and is ready; a pending
        // or terminating one without membership is normal.
        let serving = p.mm2_pods.as_ref().map_or(0, |o| {
            o.value.iter().filter(|pod| pod.owner.as_deref() == Some(&d.name) && pod.ready && !pod.terminating).count()
        });
        if *n == 0 && members > 0 {
            disagreements.push(Disagreement {
                kind: DisagreementKind::WorkersWithoutPods,
                text: format!("no pod of {} on {} but {members} Connect workers in its group", d.name, p.place()),
            });
        } else if serving > 0 && members == 0 {
            disagreements.push(Disagreement {
                kind: DisagreementKind::PodsWithoutWorkers,
                text: format!("{serving} ready pods of {} on {} but no Connect worker in its group", d.name, p.place()),
            });
        }
    }
    if let Some(r) = &resource {
        if r.unreconciled() {
            disagreements.push(Disagreement {
                kind: DisagreementKind::Unreconciled,
                text: format!(
                    "{}: spec generation {} not yet reconciled (observed {})",
                    d.name,
                    r.generation.unwrap_or_default(),
                    r.observed_generation.map_or("none".to_owned(), |g| g.to_string())
                ),
            });
        }
        let topic = d.connectors.as_ref().filter(|c| Freshness::of(Some(c.at), now, settings.stale_after).is_fresh());
        if let Some(topic) = topic {
            disagreements.extend(state_differences(&d.name, &r.connectors, &topic.value));
        }
    }
    Some(Mm2Platform {
        place: p.place(),
        short_place: p.short_place(),
        resource,
        resource_at,
        pods,
        pods_at,
        pod_list,
        disagreements,
    })
}

/// Connectors and tasks whose state differs between the resource's status
/// and Connect's status topic. A connector only one side knows is not a
/// difference: the resource's status lags the topic by a reconciliation.
fn state_differences(name: &str, resource: &[Connector], topic: &[Connector]) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for r in resource {
        let Some(t) = topic.iter().find(|t| t.name == r.name) else { continue };
        let short = super::mm2::short_name(&r.name);
        if r.state != t.state {
            out.push(Disagreement {
                kind: DisagreementKind::ResourceVsStatusTopic,
                text: format!(
                    "{name}: {short} is {} in the resource but {} in Connect's status topic",
                    r.state.label(),
                    t.state.label()
                ),
            });
        }
        for rt in &r.tasks {
            if let Some(tt) = t.tasks.iter().find(|tt| tt.id == rt.id).filter(|tt| tt.state != rt.state) {
                out.push(Disagreement {
                    kind: DisagreementKind::ResourceVsStatusTopic,
                    text: format!(
                        "{name}: {short} task {} is {} in the resource but {} in Connect's status topic",
                        rt.id,
                        rt.state.label(),
                        tt.state.label()
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Condition, ConnectState, ConnectorKind, Flow, Observed, Pod, Task, Worker, Workload, WorkloadKind,
    };
    use chrono::{TimeDelta, Utc};

    fn connector(name: &str, state: ConnectState, task: ConnectState) -> Connector {
        Connector {
            name: name.into(),
            kind: ConnectorKind::of(name),
            state,
            target_state: None,
            worker_id: "w".into(),
            trace: None,
            tasks: vec![Task { id: 0, state: task, worker_id: "w".into(), trace: None }],
            settings: None,
        }
    }

    fn pod(name: &str, owner: &str) -> Pod {
        Pod {
            name: name.into(),
            namespace: "kafka".into(),
            phase: "Running".into(),
            ready: true,
            terminating: false,
            restarts: 0,
            node: None,
            created: None,
            owner: Some(owner.into()),
        }
    }

    fn resource(ready: bool, connectors: Vec<Connector>) -> MirrorMaker {
        MirrorMaker {
            name: "mm2".into(),
            namespace: "kafka".into(),
            api_version: "kafka.strimzi.io/v1".into(),
            target_alias: Some("dr".into()),
            source_aliases: vec!["dc".into()],
            replicas: Some(2),
            status_replicas: Some(2),
            desired: vec![],
            generation: Some(1),
            observed_generation: Some(1),
            ready: Some(Condition { status: if ready { "True" } else { "False" }.into(), reason: None, message: None }),
            reconciliation_paused: false,
            connectors,
            auto_restarts: vec![],
            label_selector: None,
        }
    }

    /// A snapshot with DR's platform and the deployment `mm2` DC→DR.
    fn world(now: Ts, pods: Vec<Pod>, members: usize, r: MirrorMaker, topic: Vec<Connector>) -> Snapshot {
        let mut snap = Snapshot::empty(now, "dc", "dr");
        let mut p = Platform::new(Side::Dr, "dr", "kafka");
        p.link = Link::Up { last_ok: now };
        p.mm2_pods = Some(Observed::new(pods, now));
        p.mirrormakers = Some(Observed::new(vec![r], now));
        snap.platforms[1] = Some(p);
        let workers = (0..members).map(|i| Worker { id: format!("m{i}"), host: "h".into() }).collect();
        snap.mm2 = vec![Mm2Deployment {
            name: "mm2".into(),
            flow: Flow::DC_TO_DR,
            runs_on: Side::Dr,
            connectors: Some(Observed::new(topic, now)),
            workers: Some(Observed::new(workers, now)),
            replicated: None,
        }];
        snap
    }

    fn kinds(m: &Mm2Platform) -> Vec<&'static str> {
        m.disagreements.iter().map(|d| d.kind.as_str()).collect()
    }

    #[test]
    fn agreeing_sources_raise_nothing() {
        let now = Utc::now();
        let running = || vec![connector("dc->dr.MirrorSourceConnector", ConnectState::Running, ConnectState::Running)];
        let snap = world(
            now,
            vec![pod("mm2-mirrormaker2-0", "mm2"), pod("x", "other")],
            1,
            resource(true, running()),
            running(),
        );
        let m = assess_deployment(&snap.mm2[0], &snap, &Settings::default(), now).unwrap_or_else(|| panic!("platform"));
        assert_eq!(m.pods, Known::Is(1), "only the pods of this resource");
        assert!(m.disagreements.is_empty(), "{:?}", m.disagreements);
        let sides = assess_platforms(&snap, &Settings::default(), now);
        assert!(sides[0].is_none(), "DC has no Kubernetes configured");
        assert_eq!(sides[1].as_ref().map(|s| s.mm2_pods.clone()), Some(Known::Is(2)), "every MM2 pod of the side");
    }

    #[test]
    fn each_disagreement_is_named() {
        let now = Utc::now();
        let failed = vec![connector("dc->dr.MirrorSourceConnector", ConnectState::Running, ConnectState::Failed)];
        let running = vec![connector("dc->dr.MirrorSourceConnector", ConnectState::Running, ConnectState::Running)];
        // Pods gone, workers remain; Ready while a task FAILED; the topic says RUNNING.
        let mut r = resource(true, failed);
        r.generation = Some(3);
        let snap = world(now, vec![], 2, r, running);
        let m = assess_deployment(&snap.mm2[0], &snap, &Settings::default(), now).unwrap_or_else(|| panic!("platform"));
        assert_eq!(kinds(&m), vec!["workers-without-pods", "unreconciled", "resource-vs-status-topic"]);
        assert!(m.disagreements[0].text.contains("context dr, namespace kafka"), "{}", m.disagreements[0].text);
        assert!(
            m.disagreements[2].text.contains("task 0 is FAILED in the resource but RUNNING"),
            "{}",
            m.disagreements[2].text
        );
        // Pods running, nobody in the worker group.
        let snap = world(now, vec![pod("mm2-mirrormaker2-0", "mm2")], 0, resource(false, vec![]), vec![]);
        let m = assess_deployment(&snap.mm2[0], &snap, &Settings::default(), now).unwrap_or_else(|| panic!("platform"));
        assert_eq!(kinds(&m), vec!["pods-without-workers"]);
    }

    #[test]
    fn stale_platform_facts_are_unknown_with_the_reason() {
        let now = Utc::now();
        let mut snap = world(now, vec![], 0, resource(true, vec![]), vec![]);
        let later = now + TimeDelta::seconds(60);
        if let Some(p) = snap.platforms[1].as_mut() {
            p.link = Link::Down { since: now, last_ok: Some(now), error: "context dr: connection refused".into() };
            p.workloads = Some(Observed::new(
                vec![Workload {
                    kind: WorkloadKind::Deployment,
                    name: "orders".into(),
                    namespace: "apps".into(),
                    exists: true,
                    desired: 2,
                    ready: 2,
                    available: 2,
                    pods: vec![],
                }],
                now,
            ));
        }
        let sides = assess_platforms(&snap, &Settings::default(), later);
        let dr = sides[1].clone().unwrap_or_else(|| panic!("dr"));
        match &dr.mm2_pods {
            Known::Unknown(why) => {
                assert!(why.contains("MM2 pods (context dr, namespace kafka) stale"), "{why}");
                assert!(why.contains("connection refused"), "{why}");
            }
            other => panic!("stale pods must be unknown, not {other:?}"),
        }
        assert!(dr.unreachable.as_deref().is_some_and(|u| u.contains("for 1 m 00 s")), "{:?}", dr.unreachable);
        let apps = dr.apps.unwrap_or_else(|| panic!("workloads"));
        assert!(matches!(apps.ready, Known::Unknown(_)), "stale replicas are unknown, not 2");
        assert_eq!(apps.detail, vec!["Deployment apps/orders 2/2 ready".to_owned()]);
        let m =
            assess_deployment(&snap.mm2[0], &snap, &Settings::default(), later).unwrap_or_else(|| panic!("platform"));
        assert!(m.disagreements.is_empty(), "stale facts are not compared");
    }

    #[test]
    fn a_refused_watch_is_unknown_with_the_refusal_in_words() {
        let now = Utc::now();
        let mut snap = Snapshot::empty(now, "dc", "dr");
        let mut p = Platform::new(Side::Dr, "dr-nolist", "kafka");
        p.link = Link::Up { last_ok: now };
        p.refusals = vec![crate::model::ReadRefusal {
            section: Section::Mm2Pods,
            why: "context dr-nolist: cannot watch pods in namespace kafka: pods is forbidden: User \"nolist\" cannot list resource \"pods\" (403)".into(),
            since: now,
        }];
        snap.platforms[1] = Some(p);
        let sides = assess_platforms(&snap, &Settings::default(), now);
        match sides[1].as_ref().map(|s| &s.mm2_pods) {
            Some(Known::Unknown(why)) => {
                assert!(why.starts_with("MM2 pods (context dr-nolist, namespace kafka) never observed"), "{why}");
                assert!(why.contains("User \"nolist\" cannot list resource \"pods\""), "{why}");
            }
            other => panic!("a refused watch must be unknown, not {other:?}"),
        }
    }
}
