//! Judgement settings: what counts as an application, how long a gate must
//! hold, when data turns stale. Shared by assessment, drill and UI.

use chrono::TimeDelta;
use regex::Regex;

use crate::model::naming::ReplicationPolicy;

/// Which heartbeats the MM2 deployment is expected to produce. Decides
/// whether "heartbeats fresh" can be observed at all; unknown never passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HeartbeatMode {
    /// `<src>.heartbeats` on the target grows: proof that data flows.
    Mirrored,
    /// Only the target's own `heartbeats`: proof that workers live.
    Local,
    /// No heartbeat connector: freshness is judged from lag and workers only.
    None,
}

/// Names that classify consumer groups and topics.
#[derive(Clone, Debug)]
pub struct Classification {
    /// Topics written by applications (empty = every non-internal topic).
    pub app_topics: Vec<Regex>,
    /// Consumer groups of applications (empty = every consumer group that is
    /// neither plumbing nor MM2's).
    pub app_groups: Vec<Regex>,
    /// Groups expected on the passive side (e.g. `redis-applier`): they are
    /// not applications and never count as "apps on both sides".
    pub plumbing_groups: Vec<Regex>,
    /// kdrill's own topics (the drill topic, canary topics): never an
    /// application's, under their own or a remote name.
    pub own_topics: Vec<String>,
}

impl Classification {
    pub fn is_plumbing_group(&self, group: &str) -> bool {
        self.plumbing_groups.iter().any(|r| r.is_match(group))
    }

    /// A group MM2 itself creates (by name; Connect groups are told by
    /// their protocol type).
    pub fn is_mm2_group(&self, group: &str) -> bool {
        is_mm2_group(group)
    }

    pub fn is_app_group(&self, group: &str, protocol_type: &str) -> bool {
        if protocol_type == "connect" || self.is_plumbing_group(group) || is_mm2_group(group) {
            return false;
        }
        self.names_app_group(group)
    }

    /// Whether the application patterns (all groups, when none is set)
    /// name `group`, whatever else it is.
    pub fn names_app_group(&self, group: &str) -> bool {
        self.app_groups.is_empty() || self.app_groups.iter().any(|r| r.is_match(group))
    }

    /// `topic` as named on the cluster; `policy` strips a remote prefix first
    /// so `dc.orders` classifies like `orders`.
    pub fn is_app_topic(&self, topic: &str, policy: &ReplicationPolicy) -> bool {
        if policy.is_internal_topic(topic) || policy.is_heartbeats_topic(topic) || is_mm2_topic(topic) {
            return false;
        }
        let base = policy.original_topic(topic);
        if self.is_own_topic(topic, policy) {
            return false;
        }
        self.app_topics.is_empty() || self.app_topics.iter().any(|r| r.is_match(base))
    }

    /// One of kdrill's own topics, or a mirror of one. Each upstream name
    /// is tried: under a `.` separator `kdrill.canary` itself reads as a
    /// remote topic of a cluster named `kdrill`.
    pub fn is_own_topic(&self, topic: &str, policy: &ReplicationPolicy) -> bool {
        let mut name = topic;
        loop {
            if self.own_topics.iter().any(|own| own == name) {
                return true;
            }
            // Each step strictly shortens the name, or stops (Identity
            // names a topic's upstream as itself).
            match policy.upstream_topic(name).filter(|u| *u != name) {
                Some(upstream) => name = upstream,
                None => return false,
            }
        }
    }

    /// An application topic written on this cluster itself, not one MM2
    /// brought here under a remote name: what a flow from here mirrors.
    pub fn is_source_app_topic(&self, topic: &str, policy: &ReplicationPolicy) -> bool {
        self.is_app_topic(topic, policy) && policy.original_topic(topic) == topic
    }
}

/// Groups MM2 itself creates (Connect workers, dedicated-mode herders).
fn is_mm2_group(group: &str) -> bool {
    group.starts_with("mirrormaker2-") || group.ends_with("-mm2") || group.starts_with("connect-")
}

/// Topics of MM2's Connect clusters (Strimzi and dedicated-mode names).
fn is_mm2_topic(topic: &str) -> bool {
    topic.starts_with("mirrormaker2-cluster-") || topic.starts_with("mm2-") || topic.starts_with("connect-")
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// How long every precondition of a gate must hold before it opens.
    pub hold_window: TimeDelta,
    /// Age after which an observation no longer counts as fresh.
    pub stale_after: TimeDelta,
    /// Age after which a heartbeat no longer proves liveness or flow.
    pub heartbeat_stale_after: TimeDelta,
    /// How far back produce rates and "apps producing" are judged.
    pub rate_window: TimeDelta,
    /// How far back "applications are producing" is judged: short, so a
    /// stop shows within a few polls.
    pub activity_window: TimeDelta,
    pub classification: Classification,
    pub policy: ReplicationPolicy,
    pub heartbeats: HeartbeatMode,
    /// Total replication lag (records) above which `check` reports failure.
    pub lag_alarm_records: i64,
    /// The drill's pre-flight passes only with the outgoing flow's total
    /// lag at most this many records (`drill.preflight_lag_records`).
    pub preflight_lag_records: u64,
    /// A running flow behind its source whose committed progress has not
    /// moved for this long is stalled. Longer than Connect's offset flush
    /// interval (60 s by default), which is how often progress is committed.
    pub stall_after: TimeDelta,
    /// How long after an action its effect may take to be observed before
    /// the step says it did not come.
    pub action_timeout: TimeDelta,
    /// Manual steps of the infrastructure switch, confirmed one by one.
    pub infra_checklist: Vec<String>,
    /// The side the operators say is active, shown beside the observed role.
    pub declared_active: Option<crate::model::Side>,
    /// Flows whose MM2 counts as stopped when its connectors are all
    /// STOPPED, its workers still running (`mm2[].stop_means = "connectors"`);
    /// every other flow is stopped only with no worker and no pod.
    pub stopped_by_connectors: Vec<crate::model::Flow>,
    /// A canary record not seen on the target this long after it was sent
    /// is lost (`timing.canary_lost_after`).
    pub canary_lost_after: TimeDelta,
    /// Canary latency percentiles and losses are over this window
    /// (`timing.canary_window`).
    pub canary_window: TimeDelta,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hold_window: TimeDelta::seconds(10),
            stale_after: TimeDelta::seconds(15),
            heartbeat_stale_after: TimeDelta::seconds(30),
            rate_window: TimeDelta::seconds(20),
            activity_window: TimeDelta::seconds(6),
            classification: Classification {
                app_topics: Vec::new(),
                app_groups: Vec::new(),
                plumbing_groups: Vec::new(),
                own_topics: Vec::new(),
            },
            canary_lost_after: TimeDelta::seconds(60),
            canary_window: TimeDelta::minutes(5),
            policy: ReplicationPolicy::identity(),
            heartbeats: HeartbeatMode::Mirrored,
            lag_alarm_records: 10_000,
            preflight_lag_records: 10_000,
            stall_after: TimeDelta::seconds(120),
            action_timeout: TimeDelta::seconds(120),
            infra_checklist: vec![
                "Database switched".to_owned(),
                "Network routing switched".to_owned(),
                "DNS records switched".to_owned(),
            ],
            declared_active: None,
            stopped_by_connectors: Vec::new(),
        }
    }
}
