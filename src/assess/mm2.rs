//! MM2 judgement per deployment: is it running, is it healthy, do its
//! heartbeats prove liveness and flow.

use crate::config::{HeartbeatMode, Settings};
use crate::model::naming::HEARTBEATS_TOPIC;
use crate::model::{ConnectState, Connector, ConnectorKind, Flow, Mm2Deployment, Side, Snapshot, Ts, age_secs};

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

#[derive(Clone, Debug, PartialEq)]
pub struct Mm2View {
    pub name: String,
    pub flow: Flow,
    pub runs_on: Side,
    /// Alive workers (pods or Connect group members), when observed.
    pub workers_alive: Option<usize>,
    pub workers_at: Option<Ts>,
    /// Workers alive, freshly observed.
    pub running: Truth,
    pub connectors: Vec<Connector>,
    pub connectors_at: Option<Ts>,
    pub health: Health,
    /// Why the deployment is not healthy, most important first.
    pub problems: Vec<String>,
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
    let workers_alive = d.workers.as_ref().map(|w| w.value.iter().filter(|w| w.is_alive()).count());
    let running = match (Freshness::of(workers_at, now, settings.stale_after), workers_alive) {
        (Freshness::Fresh { .. }, Some(n)) => Truth::from_bool(n > 0),
        (f, _) => Truth::Unknown(f.problem(&format!("MM2 {} workers", d.name)).unwrap_or_default()),
    };
    let connectors = d.connectors.as_ref().map(|c| c.value.clone()).unwrap_or_default();
    let connectors_at = d.connectors.as_ref().map(|c| c.at);

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
    let last_checkpoint_age = target.checkpoints.as_ref().and_then(|c| {
        c.value.iter().filter(|c| &c.source_alias == source_alias).map(|c| age_secs(c.written_at, now)).reduce(f64::min)
    });

    let mut problems = Vec::new();
    if let Some(why) = Freshness::of(connectors_at, now, settings.stale_after).problem("connector states") {
        problems.push(why);
    }
    if d.runs_on != d.flow.target {
        problems.push(format!("runs on {} but writes into {}", d.runs_on, d.flow.target));
    }
    for c in &connectors {
        if c.state != ConnectState::Running {
            problems.push(format!("{} is {}", short_name(&c.name), c.state.label()));
        }
        for t in &c.tasks {
            if t.state != ConnectState::Running {
                problems.push(format!("{} task {} is {}", short_name(&c.name), t.id, t.state.label()));
            }
        }
        if c.kind == ConnectorKind::Source && c.tasks.is_empty() && c.state == ConnectState::Running {
            problems.push(format!("{} has no tasks", short_name(&c.name)));
        }
    }
    if !connectors.iter().any(|c| c.kind == ConnectorKind::Source) && connectors_at.is_some() {
        problems.push("no MirrorSourceConnector".into());
    }
    let max_hb = settings.heartbeat_stale_after.num_milliseconds() as f64 / 1000.0;
    let hb_problem = match (settings.heartbeats, hb_fresh.is_fresh()) {
        (HeartbeatMode::None, _) => None,
        (_, false) => hb_fresh.problem("heartbeats"),
        (HeartbeatMode::Mirrored, true) => age_problem(heartbeat_mirrored_age, max_hb, &mirrored_topic),
        (HeartbeatMode::Local, true) => age_problem(heartbeat_local_age, max_hb, HEARTBEATS_TOPIC),
    };

    let flowing = match &running {
        Truth::No => Truth::No,
        Truth::Unknown(why) => Truth::Unknown(why.clone()),
        Truth::Yes if connectors_at.is_none() => Truth::Unknown("connector states never observed".into()),
        Truth::Yes => match problems.first().or(hb_problem.as_ref()) {
            Some(p) => Truth::Unknown(p.clone()),
            None => Truth::Yes,
        },
    };
    if let Some(p) = hb_problem {
        problems.push(p);
    }
    let health = match (&running, problems.is_empty()) {
        (Truth::No, _) => Health::Stopped,
        (Truth::Unknown(_), _) => Health::Unknown,
        (Truth::Yes, true) => Health::Healthy,
        (Truth::Yes, false) => Health::Degraded,
    };
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
        running,
        connectors,
        connectors_at,
        health,
        problems,
        heartbeat_local_age,
        heartbeat_mirrored_age,
        last_checkpoint_age,
        cr_ready: d.cr_ready.as_ref().map(|r| r.value),
        flowing,
    }
}

fn age_problem(age: Option<f64>, max: f64, topic: &str) -> Option<String> {
    match age {
        None => Some(format!("no heartbeat in {topic}")),
        Some(a) if a > max => Some(format!("last heartbeat in {topic} {} ago", super::truth::fmt_age(a))),
        Some(_) => None,
    }
}

/// `dc->dr.MirrorSourceConnector` → `MirrorSourceConnector`.
pub fn short_name(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(_, tail)| tail)
}
