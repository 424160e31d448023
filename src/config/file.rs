//! The configuration file: the two clusters, MM2 deployments, what counts as
//! an application, and timing. Every error names the file and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::TimeDelta;
use regex::Regex;
use serde::Deserialize;

use crate::model::naming::{DEFAULT_SEPARATOR, ReplicationPolicy};
use crate::model::{Flow, Side, WorkloadKind};

use super::actions::{self, AppsBackend, Mm2Actions, RawCommands, RawMm2Actions};
use super::secret::{Secret, SecretRef};
use super::settings::{Classification, HeartbeatMode, Settings};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    clusters: RawClusters,
    #[serde(default)]
    mm2: Vec<RawMm2>,
    #[serde(default)]
    replication: RawReplication,
    #[serde(default)]
    apps: RawApps,
    #[serde(default)]
    timing: RawTiming,
    #[serde(default)]
    drill: RawDrill,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClusters {
    dc: RawCluster,
    dr: RawCluster,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    alias: Option<String>,
    bootstrap: String,
    #[serde(default)]
    declared_role: Option<DeclaredRole>,
    /// librdkafka properties by their own names.
    #[serde(default)]
    properties: BTreeMap<String, String>,
    /// librdkafka properties whose values are secrets.
    #[serde(default)]
    secrets: BTreeMap<String, SecretRef>,
    /// The kubeconfig context of this side's Kubernetes (`in-cluster` for
    /// the service account kdrill runs as); absent: no Kubernetes.
    kube_context: Option<String>,
    /// The kubeconfig file (default: `$KUBECONFIG`, then `~/.kube/config`).
    kubeconfig: Option<PathBuf>,
    /// Where MM2's `KafkaMirrorMaker2` and its pods live.
    namespace: Option<String>,
    /// The applications' workloads on this side.
    #[serde(default)]
    workloads: Vec<RawWorkload>,
    /// Commands that stop and start this side's applications, instead of
    /// scaling its workloads.
    app_commands: Option<RawCommands>,
    /// Warn when a TLS server certificate expires within this many days.
    cert_warn_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    kind: WorkloadKind,
    namespace: Option<String>,
    name: Option<String>,
    /// A label selector (`app=orders,tier=web`) instead of a name.
    selector: Option<String>,
    /// Replicas to start it with when no earlier count was recorded.
    replicas: Option<u32>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum DeclaredRole {
    Active,
    Passive,
}

/// How the MM2 deployment runs, which decides its default names.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mm2Flavour {
    /// Strimzi `KafkaMirrorMaker2` (v1beta2 defaults).
    #[default]
    Strimzi,
    /// `connect-mirror-maker.sh` dedicated mode.
    Dedicated,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMm2 {
    name: Option<String>,
    source: Side,
    target: Side,
    runs_on: Option<Side>,
    #[serde(default)]
    flavour: Mm2Flavour,
    group_id: Option<String>,
    config_topic: Option<String>,
    offsets_topic: Option<String>,
    status_topic: Option<String>,
    connect_url: Option<String>,
    backend: Option<actions::Mm2BackendName>,
    stop_means: Option<actions::StopMeans>,
    replicas: Option<u32>,
    connect_user: Option<String>,
    connect_password: Option<SecretRef>,
    connect_ca_file: Option<PathBuf>,
    commands: Option<RawCommands>,
    set_start_offsets: Option<bool>,
    canary: Option<RawCanary>,
}

/// `[mm2.canary]`: kdrill's own records through this flow.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanary {
    topic: Option<String>,
    #[serde(default, with = "humantime_serde")]
    interval: Option<Duration>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawReplication {
    policy: Option<PolicyName>,
    separator: Option<String>,
    heartbeats: Option<HeartbeatMode>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum PolicyName {
    Identity,
    Default,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApps {
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    plumbing_groups: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTiming {
    #[serde(default, with = "humantime_serde")]
    poll_interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    topic_configs_interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    hold_window: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    stale_after: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    heartbeat_stale_after: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    rate_window: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    activity_window: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    stall_after: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    request_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    action_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    canary_lost_after: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    canary_window: Option<Duration>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDrill {
    infra_checklist: Option<Vec<String>>,
    lag_alarm_records: Option<i64>,
    /// The pre-flight's bound on the outgoing flow's lag (records).
    preflight_lag_records: Option<u64>,
    journal: Option<PathBuf>,
    topic: Option<String>,
    #[serde(default, with = "humantime_serde")]
    lease_timeout: Option<Duration>,
}

/// One cluster as kdrill connects to it. `Debug` never shows secret values.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub side: Side,
    pub alias: String,
    pub bootstrap: String,
    pub properties: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, Secret>,
    pub kube: Option<KubeConfig>,
    /// How this side's applications are stopped and started.
    pub apps: AppsBackend,
    /// Warn when the cluster's TLS server certificate expires within this
    /// many days (`cert_warn_days`, default 30).
    pub cert_warn_days: u32,
}

/// Where a side's Kubernetes is and what kdrill reads there.
#[derive(Clone, Debug, PartialEq)]
pub struct KubeConfig {
    /// A kubeconfig context, or `in-cluster`.
    pub context: String,
    pub kubeconfig: Option<PathBuf>,
    pub namespace: String,
    pub workloads: Vec<WorkloadRef>,
}

impl KubeConfig {
    pub const IN_CLUSTER: &str = "in-cluster";
}

/// An application workload, by name or by label selector.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadRef {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub pick: WorkloadPick,
    pub replicas: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum WorkloadPick {
    Name(String),
    Selector(String),
}

/// One MM2 deployment and where its Connect cluster keeps its state.
#[derive(Clone, Debug, PartialEq)]
pub struct Mm2Config {
    pub name: String,
    pub flow: Flow,
    pub runs_on: Side,
    pub flavour: Mm2Flavour,
    pub group_id: String,
    pub config_topic: String,
    pub offsets_topic: String,
    pub status_topic: String,
    pub connect_url: Option<String>,
    pub actions: Mm2Actions,
    /// kdrill's canary through this flow (`[mm2.canary]`), if any.
    pub canary: Option<CanaryConfig>,
}

/// An end-to-end canary: a small timestamped record sent to `topic` on the
/// flow's source every `interval`, read back from its mirror on the target.
/// Sent only by a console that may act (never read-only, `check` or `serve`).
#[derive(Clone, Debug, PartialEq)]
pub struct CanaryConfig {
    pub topic: String,
    pub interval: Duration,
}

/// The canary topic's default name.
pub const CANARY_TOPIC: &str = "kdrill.canary";

/// Canary records a console keeps: `timing.canary_window` must fit in them.
pub const CANARY_RECORDS_KEPT: u32 = 2_000;

#[derive(Clone, Debug)]
pub struct Timing {
    pub poll_interval: Duration,
    pub topic_configs_interval: Duration,
    pub request_timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub clusters: [ClusterConfig; 2],
    pub mm2: Vec<Mm2Config>,
    pub settings: Settings,
    pub timing: Timing,
    pub journal: Option<PathBuf>,
    /// The compacted topic the drill is shared through, on both clusters.
    pub drill_topic: String,
    /// A driver that has not renewed its lease for this long may be taken over.
    pub lease_timeout: Duration,
}

impl Config {
    pub fn cluster(&self, side: Side) -> &ClusterConfig {
        &self.clusters[side.index()]
    }
}

/// A configuration problem: the file, the key, and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let err = |message: String| ConfigError { file: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let err = |message: String| ConfigError { file: path.display().to_string(), message };
    let raw: RawConfig = toml::from_str(text).map_err(|e| err(describe_toml_error(&e, text)))?;
    let defaults = Settings::default();

    let cluster = |side: Side, raw: &RawCluster| -> Result<ClusterConfig, ConfigError> {
        let key = format!("clusters.{}", side.label().to_lowercase());
        if raw.bootstrap.trim().is_empty() {
            return Err(err(format!("{key}.bootstrap: expected host:port[,host:port...], found an empty string")));
        }
        if let Some(k) = raw.properties.keys().find(|k| looks_secret(k)) {
            return Err(err(format!(
                "{key}.properties.\"{k}\": secrets must not be written inline; use {key}.secrets.\"{k}\" = {{ env = \"VAR\" }} or {{ file = \"/path\" }}"
            )));
        }
        if raw.properties.contains_key("bootstrap.servers") {
            return Err(err(format!("{key}.properties.\"bootstrap.servers\": set {key}.bootstrap instead")));
        }
        let mut secrets = BTreeMap::new();
        for (k, r) in &raw.secrets {
            let value = r.resolve().map_err(|e| err(format!("{key}.secrets.\"{k}\": {e}")))?;
            secrets.insert(k.clone(), value);
        }
        Ok(ClusterConfig {
            side,
            alias: raw.alias.clone().unwrap_or_else(|| side.label().to_lowercase()),
            bootstrap: raw.bootstrap.clone(),
            properties: raw.properties.clone(),
            secrets,
            kube: kube_config(&key, raw).map_err(err)?,
            apps: match &raw.app_commands {
                Some(c) => AppsBackend::Command(actions::commands(&format!("{key}.app_commands"), c).map_err(err)?),
                None if !raw.workloads.is_empty() => AppsBackend::Kube,
                None => AppsBackend::None,
            },
            cert_warn_days: raw.cert_warn_days.unwrap_or(DEFAULT_CERT_WARN_DAYS),
        })
    };
    let clusters = [cluster(Side::Dc, &raw.clusters.dc)?, cluster(Side::Dr, &raw.clusters.dr)?];
    let declared_active = match (raw.clusters.dc.declared_role, raw.clusters.dr.declared_role) {
        (Some(a), Some(b)) if a == b => {
            return Err(err(format!(
                "clusters.dc.declared_role and clusters.dr.declared_role: both are {a:?}; expected one active and one passive"
            )));
        }
        (Some(DeclaredRole::Active), _) | (_, Some(DeclaredRole::Passive)) => Some(Side::Dc),
        (_, Some(DeclaredRole::Active)) | (Some(DeclaredRole::Passive), _) => Some(Side::Dr),
        (None, None) => None,
    };

    let mut mm2 = Vec::new();
    for (i, m) in raw.mm2.iter().enumerate() {
        let key = format!("mm2[{i}]");
        if m.source == m.target {
            return Err(err(format!("{key}: source and target are both {}; expected two different sides", m.source)));
        }
        let flow = Flow { source: m.source, target: m.target };
        let src = &clusters[m.source.index()].alias;
        let (group, cfg, off, status) = match m.flavour {
            Mm2Flavour::Strimzi => (
                "mirrormaker2-cluster".to_owned(),
                "mirrormaker2-cluster-configs".to_owned(),
                "mirrormaker2-cluster-offsets".to_owned(),
                "mirrormaker2-cluster-status".to_owned(),
            ),
            Mm2Flavour::Dedicated => (
                format!("{src}-mm2"),
                format!("mm2-configs.{src}.internal"),
                format!("mm2-offsets.{src}.internal"),
                format!("mm2-status.{src}.internal"),
            ),
        };
        if let Some(url) = &m.connect_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(err(format!("{key}.connect_url: expected an http:// or https:// URL, found \"{url}\"")));
        }
        // Credentials in the URL would be shown in every preview and journaled.
        if let Some(url) = &m.connect_url
            && url.split("://").nth(1).and_then(|rest| rest.split('/').next()).is_some_and(|host| host.contains('@'))
        {
            return Err(err(format!(
                "{key}.connect_url: no credentials in the URL; use {key}.connect_user and {key}.connect_password = {{ env = \"VAR\" }}"
            )));
        }
        let canary = match &m.canary {
            None => None,
            Some(c) => {
                let topic = c.topic.clone().unwrap_or_else(|| CANARY_TOPIC.to_owned());
                if !is_topic_name(&topic) {
                    return Err(err(format!(
                        "{key}.canary.topic = \"{topic}\" is not a Kafka topic name (letters, digits, . _ -)"
                    )));
                }
                let interval = c.interval.unwrap_or(Duration::from_secs(5));
                if interval < Duration::from_millis(100) {
                    return Err(err(format!("{key}.canary.interval: expected at least 100ms, like \"5s\"")));
                }
                Some(CanaryConfig { topic, interval })
            }
        };
        mm2.push(Mm2Config {
            name: m.name.clone().unwrap_or_else(|| "mm2".into()),
            flow,
            runs_on: m.runs_on.unwrap_or(m.target),
            flavour: m.flavour,
            group_id: m.group_id.clone().unwrap_or(group),
            config_topic: m.config_topic.clone().unwrap_or(cfg),
            offsets_topic: m.offsets_topic.clone().unwrap_or(off),
            status_topic: m.status_topic.clone().unwrap_or(status),
            connect_url: m.connect_url.clone(),
            actions: {
                let runs_on = m.runs_on.unwrap_or(m.target);
                let has_kube = clusters[runs_on.index()].kube.is_some();
                let raw = RawMm2Actions {
                    backend: m.backend,
                    stop_means: m.stop_means,
                    replicas: m.replicas,
                    connect_user: m.connect_user.clone(),
                    connect_password: m.connect_password.clone(),
                    connect_ca_file: m.connect_ca_file.clone(),
                    commands: m.commands.as_ref(),
                    set_start_offsets: m.set_start_offsets,
                };
                actions::mm2_actions(&key, &raw, m.connect_url.as_deref(), has_kube).map_err(err)?
            },
            canary,
        });
    }
    if mm2.iter().filter(|m| m.flow == Flow::DC_TO_DR).count() > 1
        || mm2.iter().filter(|m| m.flow == Flow::DR_TO_DC).count() > 1
    {
        return Err(err("mm2: at most one deployment per direction".into()));
    }

    let policy = match (raw.replication.policy, &raw.replication.separator) {
        (Some(PolicyName::Identity) | None, None) => ReplicationPolicy::identity(),
        (Some(PolicyName::Identity) | None, Some(_)) => {
            return Err(err("replication.separator: only used with policy = \"default\"".into()));
        }
        (Some(PolicyName::Default), sep) => ReplicationPolicy::Default {
            separator: sep.clone().unwrap_or_else(|| DEFAULT_SEPARATOR.into()),
            internal_topic_separator_enabled: true,
        },
    };
    let regexes = |key: &str, pats: &[String]| -> Result<Vec<Regex>, ConfigError> {
        pats.iter()
            .enumerate()
            .map(|(i, p)| {
                Regex::new(&format!("^(?:{p})$"))
                    .map_err(|e| err(format!("{key}[{i}]: \"{p}\" is not a valid regex: {e}")))
            })
            .collect()
    };
    let drill_topic = raw.drill.topic.clone().unwrap_or_else(|| DRILL_TOPIC.to_owned());
    if !is_topic_name(&drill_topic) {
        return Err(err(format!("drill.topic = \"{drill_topic}\" is not a Kafka topic name (letters, digits, . _ -)")));
    }
    let classification = Classification {
        app_topics: regexes("apps.topics", &raw.apps.topics)?,
        app_groups: regexes("apps.groups", &raw.apps.groups)?,
        plumbing_groups: regexes("apps.plumbing_groups", &raw.apps.plumbing_groups)?,
        own_topics: std::iter::once(drill_topic.clone())
            .chain(mm2.iter().filter_map(|m| m.canary.as_ref().map(|c| c.topic.clone())))
            .collect(),
    };
    let t = &raw.timing;
    let delta = |key: &str, d: Option<Duration>, default: TimeDelta| -> Result<TimeDelta, ConfigError> {
        match d {
            None => Ok(default),
            Some(d) if d.is_zero() => Err(err(format!("timing.{key}: expected a positive duration like \"10s\""))),
            Some(d) => TimeDelta::from_std(d).map_err(|_| err(format!("timing.{key}: duration too large"))),
        }
    };
    let settings = Settings {
        hold_window: delta("hold_window", t.hold_window, defaults.hold_window)?,
        stale_after: delta("stale_after", t.stale_after, defaults.stale_after)?,
        heartbeat_stale_after: delta("heartbeat_stale_after", t.heartbeat_stale_after, defaults.heartbeat_stale_after)?,
        rate_window: delta("rate_window", t.rate_window, defaults.rate_window)?,
        activity_window: delta("activity_window", t.activity_window, defaults.activity_window)?,
        stall_after: delta("stall_after", t.stall_after, defaults.stall_after)?,
        action_timeout: delta("action_timeout", t.action_timeout, defaults.action_timeout)?,
        canary_lost_after: delta("canary_lost_after", t.canary_lost_after, defaults.canary_lost_after)?,
        canary_window: delta("canary_window", t.canary_window, defaults.canary_window)?,
        classification,
        policy,
        heartbeats: raw.replication.heartbeats.unwrap_or(defaults.heartbeats),
        lag_alarm_records: raw.drill.lag_alarm_records.unwrap_or(defaults.lag_alarm_records),
        preflight_lag_records: raw.drill.preflight_lag_records.unwrap_or(defaults.preflight_lag_records),
        infra_checklist: raw.drill.infra_checklist.clone().unwrap_or(defaults.infra_checklist),
        declared_active,
        stopped_by_connectors: mm2
            .iter()
            .filter(|m| m.actions.stop_means == actions::StopMeans::Connectors)
            .map(|m| m.flow)
            .collect(),
    };
    if settings.canary_lost_after >= settings.canary_window {
        return Err(err(
            "timing.canary_lost_after: must be shorter than timing.canary_window, or no loss is ever seen".into(),
        ));
    }
    for (i, m) in mm2.iter().enumerate() {
        let Some(c) = &m.canary else { continue };
        if settings.stale_after.to_std().is_ok_and(|s| c.interval >= s) {
            return Err(err(format!(
                "mm2[{i}].canary.interval: must be shorter than timing.stale_after, or every canary report looks stale"
            )));
        }
        let shortest = settings.canary_window.to_std().unwrap_or_default() / CANARY_RECORDS_KEPT;
        if c.interval < shortest {
            return Err(err(format!(
                "mm2[{i}].canary.interval: at least {} ms, so that timing.canary_window fits in the {CANARY_RECORDS_KEPT} records kept",
                shortest.as_millis()
            )));
        }
    }
    let poll_interval = t.poll_interval.unwrap_or(Duration::from_secs(2));
    if poll_interval.is_zero() {
        return Err(err("timing.poll_interval: expected a positive duration like \"2s\"".into()));
    }
    if settings.stale_after.to_std().is_ok_and(|s| s <= poll_interval) {
        return Err(err(
            "timing.stale_after: must be longer than timing.poll_interval, or every poll looks stale".into()
        ));
    }
    let timing = Timing {
        poll_interval,
        topic_configs_interval: t.topic_configs_interval.unwrap_or(Duration::from_secs(60)),
        request_timeout: t.request_timeout.unwrap_or(Duration::from_secs(5)),
    };
    let lease_timeout = raw.drill.lease_timeout.unwrap_or(LEASE_TIMEOUT);
    if lease_timeout < Duration::from_secs(2) {
        return Err(err("drill.lease_timeout must be at least 2s".into()));
    }
    Ok(Config {
        path: path.to_owned(),
        clusters,
        mm2,
        settings,
        timing,
        journal: raw.drill.journal.clone(),
        drill_topic,
        lease_timeout,
    })
}

/// Days before a TLS server certificate expires that kdrill warns.
pub const DEFAULT_CERT_WARN_DAYS: u32 = 30;

/// The drill topic's default name.
pub const DRILL_TOPIC: &str = "kdrill.drill";
/// How long a driver may stop renewing before it can be taken over.
pub const LEASE_TIMEOUT: Duration = Duration::from_secs(30);

/// Letters, digits, `.`, `_` and `-`: what Kafka accepts in a topic name.
fn is_topic_name(topic: &str) -> bool {
    !topic.is_empty() && topic.len() <= 249 && topic.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Property names whose values are secrets in librdkafka.
fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password") || k.contains("secret") || k.ends_with(".token") || k.contains("sasl.oauthbearer.config")
}

/// One line: where (line number and the key written there) and what toml
/// expected. Values are never echoed: the line may hold a secret written
/// inline by mistake, and so may the parser's message (serde quotes the
/// string it rejected), so only the key part of the line is shown and every
/// double-quoted string of the message is elided.
fn describe_toml_error(e: &toml::de::Error, text: &str) -> String {
    let msg = elide_strings(e.message().trim());
    let Some(span) = e.span() else { return msg };
    let mut line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
    let lines: Vec<&str> = text.lines().collect();
    // Inside a value spanning lines (an unterminated string), the key is on
    // the last line above that has one.
    let line = lines.get(line_no - 1).map_or("", |l| l.trim());
    if !line.contains('=') && !line.starts_with('[') {
        let keyed = lines[..(line_no - 1).min(lines.len())].iter().rposition(|l| l.contains('='));
        if let Some(i) = keyed {
            line_no = i + 1;
        }
    }
    let line = lines.get(line_no - 1).map_or("", |l| l.trim());
    let (shown, key) = match line.split_once('=') {
        Some((key, _)) => (format!("{} = …", key.trim()), key.trim().trim_matches('"')),
        None if line.starts_with('[') => (line.to_owned(), ""),
        None => ("…".to_owned(), ""),
    };
    // The table the line is in: the nearest header above it.
    let table = text.lines().take(line_no).filter(|l| l.trim_start().starts_with('[')).last().unwrap_or("").trim();
    if looks_secret(key) || table.trim_end_matches(']').ends_with(".secrets") {
        // The parser's message would name the rejected value (serde quotes
        // it, in backticks or double quotes): say what is expected instead.
        return format!(
            "line {line_no} `{shown}`: a secret is read from the environment or a file: write \
             {{ env = \"VAR\" }} or {{ file = \"/path\" }} (what is written there is not shown)"
        );
    }
    format!("line {line_no} `{shown}`: {msg}")
}

/// `invalid type: string "hunter2"` → `invalid type: string "…"`.
fn elide_strings(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut inside = false;
    for c in msg.chars() {
        match (c, inside) {
            ('"', false) => {
                out.push_str("\"…");
                inside = true;
            }
            ('"', true) => {
                out.push('"');
                inside = false;
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

/// The Kubernetes keys of one cluster table (`key` = `clusters.dc`).
fn kube_config(key: &str, raw: &RawCluster) -> Result<Option<KubeConfig>, String> {
    let Some(context) = raw.kube_context.clone() else {
        if raw.namespace.is_some() || raw.kubeconfig.is_some() || !raw.workloads.is_empty() {
            return Err(format!(
                "{key}.kube_context: missing; namespace, kubeconfig and workloads need the Kubernetes context to read them from"
            ));
        }
        return Ok(None);
    };
    if context.trim().is_empty() {
        return Err(format!(
            "{key}.kube_context: expected a kubeconfig context or \"in-cluster\", found an empty string"
        ));
    }
    let namespace = raw.namespace.clone().unwrap_or_else(|| "kafka".to_owned());
    let mut workloads = Vec::new();
    for (i, w) in raw.workloads.iter().enumerate() {
        let wkey = format!("{key}.workloads[{i}]");
        let pick = match (&w.name, &w.selector) {
            (Some(n), None) if !n.trim().is_empty() => WorkloadPick::Name(n.clone()),
            (None, Some(s)) if valid_selector(s) => WorkloadPick::Selector(s.clone()),
            (None, Some(s)) => {
                return Err(format!("{wkey}.selector: expected key=value[,key=value...], found {s:?}"));
            }
            (Some(_), Some(_)) => return Err(format!("{wkey}: give name or selector, not both")),
            _ => return Err(format!("{wkey}: expected name = \"...\" or selector = \"key=value\"")),
        };
        workloads.push(WorkloadRef {
            kind: w.kind,
            namespace: w.namespace.clone().unwrap_or_else(|| namespace.clone()),
            pick,
            replicas: w.replicas,
        });
    }
    Ok(Some(KubeConfig { context, kubeconfig: raw.kubeconfig.clone(), namespace, workloads }))
}

/// Equality selectors only: `a=b,c=d` (what kdrill matches pods with).
fn valid_selector(s: &str) -> bool {
    !s.trim().is_empty()
        && s.split(',').all(|kv| kv.split_once('=').is_some_and(|(k, v)| !k.trim().is_empty() && !v.contains('=')))
}
