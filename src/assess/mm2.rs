//! MM2 judgement per deployment: is it running, is it healthy, do its
//! heartbeats prove liveness and flow.

use crate::config::{HeartbeatMode, Settings};
use crate::model::naming::HEARTBEATS_TOPIC;
use crate::model::{ConnectState, Connector, ConnectorKind, Flow, Mm2Deployment, Side, Snapshot, Ts, age_secs};

use super::mm2_config::Mm2Settings;
use super::platform::{DisagreementKind, Known, Mm2Platform};
use super::truth::{Freshness, Truth};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Workers alive, every connector and task RUNNING, heartbeats fresh.
    Healthy,
    /// Running, but something is wrong (a FAILED task, stale heartbeats...).
    Degraded,
    /// No workers: not replicating.
    Stopped,
    /// Cannot be told.
    Unknown,
}

impl Health {
    pub fn label(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Stopped => "stopped",
            Health::Unknown => "unknown",
        }
    }
}

/// What kind of problem an MM2 deployment has; `as_str` is its stable
/// name in `check --json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mm2ProblemKind {
    /// Connector states stale or never observed.
    ConnectorsUnobserved,
    /// The deployment does not run on the cluster it writes into.
    RunsOffTarget,
    ConnectorNotRunning,
    TaskNotRunning,
    ConnectorFailed,
    TaskFailed,
    /// A running source connector with no tasks.
    NoTasks,
    NoSourceConnector,
    /// The heartbeats topic could not be read freshly.
    HeartbeatsUnobserved,
    /// No heartbeat, or the newest is too old.
    HeartbeatLate,
    /// The custom resource says Ready while a connector or task FAILED.
    ReadyWhileFailed,
    /// Kubernetes and Kafka tell different stories (see the kind).
    Disagreement(DisagreementKind),
    /// Running, behind its source, and its committed progress not moving.
    Stalled,
    /// Its connectors are configured unlike each other or kdrill, or leave
    /// an application topic out.
    ConfigDrift,
    /// No new checkpoint for a group that committed well past its last.
    CheckpointsStalled,
    /// kdrill's canary records sent through the running flow do not arrive.
    CanaryLost,
}

impl Mm2ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Mm2ProblemKind::ConnectorsUnobserved => "connectors-unobserved",
            Mm2ProblemKind::RunsOffTarget => "runs-off-target",
            Mm2ProblemKind::ConnectorNotRunning => "connector-not-running",
            Mm2ProblemKind::TaskNotRunning => "task-not-running",
            Mm2ProblemKind::ConnectorFailed => "connector-failed",
            Mm2ProblemKind::TaskFailed => "task-failed",
            Mm2ProblemKind::NoTasks => "no-tasks",
            Mm2ProblemKind::NoSourceConnector => "no-source-connector",
            Mm2ProblemKind::HeartbeatsUnobserved => "heartbeats-unobserved",
            Mm2ProblemKind::HeartbeatLate => "heartbeat-late",
            Mm2ProblemKind::ReadyWhileFailed => "ready-while-failed",
            Mm2ProblemKind::Disagreement(k) => k.as_str(),
            Mm2ProblemKind::Stalled => "stalled",
            Mm2ProblemKind::CheckpointsStalled => "checkpoints-stalled",
            Mm2ProblemKind::CanaryLost => "canary-lost",
            Mm2ProblemKind::ConfigDrift => "config-drift",
        }
    }

    /// Connector and task states are listed one per line wherever MM2 is
    /// shown in detail; problems of these kinds repeat them.
    pub fn restates_a_state(self) -> bool {
        matches!(
            self,
            Mm2ProblemKind::ConnectorNotRunning
                | Mm2ProblemKind::TaskNotRunning
                | Mm2ProblemKind::ConnectorFailed
                | Mm2ProblemKind::TaskFailed
        )
    }

    /// A problem a person must act on now, on a running flow: something
    /// failed, MM2 runs where it must not, or two sources disagree. The
    /// rest (a task starting, heartbeats not yet read, a spec change being
    /// reconciled) settles by itself.
    pub fn needs_a_person(self) -> bool {
        match self {
            Mm2ProblemKind::ConnectorFailed
            | Mm2ProblemKind::TaskFailed
            | Mm2ProblemKind::RunsOffTarget
            | Mm2ProblemKind::NoSourceConnector
            | Mm2ProblemKind::ReadyWhileFailed
            | Mm2ProblemKind::Stalled
            | Mm2ProblemKind::CheckpointsStalled
            | Mm2ProblemKind::CanaryLost
            | Mm2ProblemKind::ConfigDrift => true,
            Mm2ProblemKind::Disagreement(k) => k != DisagreementKind::Unreconciled,
            Mm2ProblemKind::ConnectorsUnobserved
            | Mm2ProblemKind::ConnectorNotRunning
            | Mm2ProblemKind::TaskNotRunning
            | Mm2ProblemKind::NoTasks
            | Mm2ProblemKind::HeartbeatsUnobserved
            | Mm2ProblemKind::HeartbeatLate => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mm2Problem {
    pub kind: Mm2ProblemKind,
    pub text: String,
}

impl Mm2Problem {
    pub(super) fn new(kind: Mm2ProblemKind, text: impl Into<String>) -> Mm2Problem {
        Mm2Problem { kind, text: text.into() }
    }
}

impl std::fmt::Display for Mm2Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mm2View {
    pub name: String,
    pub flow: Flow,
    pub runs_on: Side,
    /// Members of the Connect worker group (Kafka's view), when observed.
    pub workers_alive: Option<usize>,
    pub workers_at: Option<Ts>,
    /// What the Kubernetes of the side it runs on shows (its resource and
    /// pods), where that side's Kubernetes is observed.
    pub platform: Option<Mm2Platform>,
    /// Running: a worker or a pod freshly seen by either source; stopped
    /// only when every observed source freshly shows none.
    pub running: Truth,
    /// Stopping this flow means stopping its connectors; its workers and
    /// pods may stay (`running` is judged accordingly).
    pub stopped_by_connectors: bool,
    pub connectors: Vec<Connector>,
    pub connectors_at: Option<Ts>,
    /// What its connectors are configured to do, where their configuration
    /// was read.
    pub settings: Option<Mm2Settings>,
    /// When the deployment was observed: the older of its workers and
    /// connectors, the weaker of the two facts.
    pub observed_at: Option<Ts>,
    pub freshness: Freshness,
    pub health: Health,
    /// Why the deployment is not healthy, most important first.
    pub problems: Vec<Mm2Problem>,
    /// Age of the newest heartbeat written on the target by this flow.
    pub heartbeat_local_age: Option<f64>,
    /// Age of the newest heartbeat mirrored from the source (proves flow).
    pub heartbeat_mirrored_age: Option<f64>,
    pub last_checkpoint_age: Option<f64>,
    pub cr_ready: Option<bool>,
    /// Data flows: running, all connectors and tasks RUNNING, heartbeats
    /// fresh as the configured heartbeat mode expects.
    pub flowing: Truth,
}

pub fn assess_mm2(snap: &Snapshot, settings: &Settings, now: Ts) -> Vec<Mm2View> {
    snap.mm2.iter().map(|d| assess_deployment(d, snap, settings, now)).collect()
}

fn assess_deployment(d: &Mm2Deployment, snap: &Snapshot, settings: &Settings, now: Ts) -> Mm2View {
    let workers_at = d.workers.as_ref().map(|w| w.at);
    let workers_alive = d.workers.as_ref().map(|w| w.value.len());
    let members = match (Freshness::of(workers_at, now, settings.stale_after), workers_alive) {
        (Freshness::Fresh { .. }, Some(n)) => Truth::from_bool(n > 0),
        (f, _) => Truth::Unknown(f.problem(&format!("MM2 {} workers", d.name)).unwrap_or_default()),
    };
    let platform = super::platform::assess_deployment(d, snap, settings, now);
    let running = match platform.as_ref().map(|p| &p.pods) {
        None => members,
        Some(Known::Is(n)) => members.or(Truth::from_bool(*n > 0)),
        Some(Known::Unknown(why)) => members.or(Truth::Unknown(why.clone())),
    };
    let connectors = d.connectors.as_ref().map(|c| c.value.clone()).unwrap_or_default();
    let connectors_at = d.connectors.as_ref().map(|c| c.at);
    // Where stopping this flow means stopping its connectors (workers may
    // stay), every connector freshly seen STOPPED is as good as no worker.
    let stopped_by_connectors = settings.stopped_by_connectors.contains(&d.flow);
    let running = if stopped_by_connectors {
        let fresh = Freshness::of(connectors_at, now, settings.stale_after).is_fresh();
        // STOPPED as status, target state and tasks: a task still RUNNING
        // on another worker may still copy.
        let all_stopped = !connectors.is_empty()
            && connectors.iter().all(|c| {
                c.state == ConnectState::Stopped
                    && c.target_state == Some(crate::model::TargetState::Stopped)
                    && c.tasks.iter().all(|t| t.state != ConnectState::Running)
            });
        match (&running, fresh, all_stopped) {
            (Truth::No, _, _) => Truth::No,
            (_, true, true) => Truth::No,
            (Truth::Yes, true, false) => Truth::Yes,
            (_, false, _) => Truth::Unknown(format!("MM2 {} connector states not freshly observed", d.name)),
            (r, true, false) => r.clone(),
        }
    } else {
        running
    };
    let pods_at = platform.as_ref().and_then(|p| p.pods_at);
    let observed_at = [workers_at, connectors_at, pods_at].into_iter().flatten().min();

    let target = snap.cluster(d.flow.target);
    let source_alias = &snap.cluster(d.flow.source).alias;
    let hb_fresh = Freshness::of(target.heartbeats.as_ref().map(|h| h.at), now, settings.stale_after);
    let heartbeats = target.heartbeats.as_ref().map(|h| h.value.as_slice()).unwrap_or_default();
    let mirrored_topic = settings.policy.remote_topic(source_alias, HEARTBEATS_TOPIC);
    let newest = |pred: &dyn Fn(&crate::model::Heartbeat) -> bool| {
        heartbeats.iter().filter(|h| pred(h)).map(|h| age_secs(h.emitted_at, now)).reduce(f64::min)
    };
    let heartbeat_local_age = newest(&|h| h.topic == HEARTBEATS_TOPIC && &h.source_alias == source_alias);
    let heartbeat_mirrored_age = newest(&|h| h.topic == mirrored_topic);
    // The youngest is the newest: one age, not one per checkpoint.
    let last_checkpoint_age = target.checkpoints.as_ref().and_then(|c| {
        c.value
            .iter()
            .filter(|c| *c.source_alias == **source_alias)
            .map(|c| c.written_at)
            .max()
            .map(|t| age_secs(t, now))
    });

    use Mm2ProblemKind as Kind;
    let mut problems = Vec::new();
    if let Some(why) = Freshness::of(connectors_at, now, settings.stale_after).problem("connector states") {
        problems.push(Mm2Problem::new(Kind::ConnectorsUnobserved, why));
    }
    if d.runs_on != d.flow.target {
        problems.push(Mm2Problem::new(
            Kind::RunsOffTarget,
            format!("runs on {} but writes into {}", d.runs_on, d.flow.target),
        ));
    }
    for c in &connectors {
        if c.state != ConnectState::Running {
            let text = format!("{} is {}", short_name(&c.name), c.state.label());
            let kind = if c.state == ConnectState::Failed { Kind::ConnectorFailed } else { Kind::ConnectorNotRunning };
            problems.push(Mm2Problem::new(kind, text));
        }
        for t in &c.tasks {
            if t.state != ConnectState::Running {
                let text = format!("{} task {} is {}", short_name(&c.name), t.id, t.state.label());
                let kind = if t.state == ConnectState::Failed { Kind::TaskFailed } else { Kind::TaskNotRunning };
                problems.push(Mm2Problem::new(kind, text));
            }
        }
        if c.kind == ConnectorKind::Source && c.tasks.is_empty() && c.state == ConnectState::Running {
            problems.push(Mm2Problem::new(Kind::NoTasks, format!("{} has no tasks", short_name(&c.name))));
        }
    }
    if !connectors.iter().any(|c| c.kind == ConnectorKind::Source) && connectors_at.is_some() {
        problems.push(Mm2Problem::new(Kind::NoSourceConnector, "no MirrorSourceConnector"));
    }
    let settings_read = super::mm2_config::assess_settings(
        &connectors,
        &settings.policy,
        app_topics(snap, d, settings, now).as_deref(),
    );
    let mm2_settings = settings_read.map(|(view, drift)| {
        problems.extend(drift.into_iter().map(|text| Mm2Problem::new(Kind::ConfigDrift, text)));
        view
    });
    // Sources that disagree: nothing resting on them can be trusted.
    for dis in platform.iter().flat_map(|p| &p.disagreements) {
        problems.push(Mm2Problem::new(Kind::Disagreement(dis.kind), dis.text.clone()));
    }
    let max_hb = settings.heartbeat_stale_after.num_milliseconds() as f64 / 1000.0;
    let hb_problem = match (settings.heartbeats, hb_fresh.is_fresh()) {
        (HeartbeatMode::None, _) => None,
        (_, false) => hb_fresh.problem("heartbeats").map(|p| Mm2Problem::new(Kind::HeartbeatsUnobserved, p)),
        (HeartbeatMode::Mirrored, true) => age_problem(heartbeat_mirrored_age, max_hb, &mirrored_topic),
        (HeartbeatMode::Local, true) => age_problem(heartbeat_local_age, max_hb, HEARTBEATS_TOPIC),
    };

    let flowing = match &running {
        Truth::No => Truth::No,
        Truth::Unknown(why) => Truth::Unknown(why.clone()),
        Truth::Yes if connectors_at.is_none() => Truth::Unknown("connector states never observed".into()),
        Truth::Yes => match problems.first().or(hb_problem.as_ref()) {
            Some(p) => Truth::Unknown(p.text.clone()),
            None => Truth::Yes,
        },
    };
    if let Some(p) = hb_problem {
        problems.push(p);
    }
    // Figures that could not be read say nothing about health: when they
    // are all that is wrong, health is unknown, not degraded.
    let only_unobserved =
        problems.iter().all(|p| matches!(p.kind, Kind::ConnectorsUnobserved | Kind::HeartbeatsUnobserved));
    let health = match (&running, problems.is_empty()) {
        (Truth::No, _) => Health::Stopped,
        (Truth::Unknown(_), _) => Health::Unknown,
        (Truth::Yes, true) => Health::Healthy,
        (Truth::Yes, false) if only_unobserved => Health::Unknown,
        (Truth::Yes, false) => Health::Degraded,
    };
    let cr_ready = platform.as_ref().and_then(|p| p.resource.as_ref()?.ready.as_ref()).map(|c| c.is_true());

    // Last: the FAILED states it points at come first.
    let failed = failed_count(&connectors);
    // The resource's own copy of the states may show a failure Kafka's
    // status topic has not yet (or the other way round): count the larger.
    let failed_in_resource =
        platform.as_ref().and_then(|p| p.resource.as_ref()).map_or(0, |r| failed_count(&r.connectors));
    let failed = failed.max(failed_in_resource);
    if cr_ready == Some(true) && failed > 0 {
        problems.push(Mm2Problem::new(Kind::ReadyWhileFailed, format!("CR says Ready=True, but {failed} FAILED")));
    }
    // A stopped deployment's leftover states are history, not problems.
    if health == Health::Stopped {
        problems.clear();
    }

    Mm2View {
        name: d.name.clone(),
        flow: d.flow,
        runs_on: d.runs_on,
        workers_alive,
        workers_at,
        platform,
        running,
        stopped_by_connectors,
        connectors,
        connectors_at,
        settings: mm2_settings,
        observed_at,
        freshness: Freshness::of(observed_at, now, settings.stale_after),
        health,
        problems,
        heartbeat_local_age,
        heartbeat_mirrored_age,
        last_checkpoint_age,
        cr_ready,
        flowing,
    }
}

/// A running flow that is behind and has not committed progress since
/// `since` (for at least the settings' `stall_after`) is stalled: shown as
/// such, never as healthy, and its flow gate stays shut.
pub fn mark_stalled(m: &mut Mm2View, behind: u64, since: Ts, now: Ts) {
    let text = format!(
        "not moving for {} while {behind} rec behind (committed progress unchanged)",
        super::truth::fmt_age(age_secs(since, now))
    );
    m.flowing = Truth::Unknown(text.clone());
    m.health = Health::Degraded;
    m.problems.insert(0, Mm2Problem::new(Mm2ProblemKind::Stalled, text));
}

/// The application topics on `d`'s source, as freshly listed there: what
/// its topic filter must let through. `None` while they are not known.
fn app_topics<'a>(snap: &'a Snapshot, d: &Mm2Deployment, settings: &Settings, now: Ts) -> Option<Vec<&'a str>> {
    let topics = snap.cluster(d.flow.source).topics.as_ref()?;
    Freshness::of(Some(topics.at), now, settings.stale_after).is_fresh().then(|| {
        let policy = &settings.policy;
        topics
            .value
            .iter()
            .map(|t| t.name.as_str())
            .filter(|t| settings.classification.is_source_app_topic(t, policy))
            .collect()
    })
}

/// Connectors and tasks in FAILED state.
fn failed_count(connectors: &[Connector]) -> usize {
    connectors
        .iter()
        .map(|c| {
            c.tasks.iter().filter(|t| t.state == ConnectState::Failed).count()
                + usize::from(c.state == ConnectState::Failed)
        })
        .sum()
}

fn age_problem(age: Option<f64>, max: f64, topic: &str) -> Option<Mm2Problem> {
    let text = match age {
        None => format!("no heartbeat in {topic}"),
        Some(a) if a > max => format!("last heartbeat in {topic} {} ago", super::truth::fmt_age(a)),
        Some(_) => return None,
    };
    Some(Mm2Problem::new(Mm2ProblemKind::HeartbeatLate, text))
}

/// `dc->dr.MirrorSourceConnector` → `MirrorSourceConnector`.
pub fn short_name(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(_, tail)| tail)
}
