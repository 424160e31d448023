//! MM2's own configuration, as stored in Connect's config topic: the
//! replication policy its connectors name topics by, which topics its
//! source connector mirrors, and how consumer offsets follow. A connector
//! configured unlike its siblings, or unlike kdrill's `[replication]`,
//! makes every name derived from it wrong; an application topic its filter
//! leaves out is never mirrored. Each is a named problem.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use serde::Serialize;

use crate::model::naming::ReplicationPolicy;
use crate::model::{Connector, ConnectorKind, MirrorSettings};

/// What a flow's connectors are configured to do, in words an operator
/// compares with the runbook.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mm2Settings {
    /// How the connectors name remote topics, when they agree: `identity`,
    /// `default`, with a separator other than `.`, or a custom class.
    pub policy: Option<String>,
    /// The checkpoint connector's `sync.group.offsets.enabled` (Kafka's
    /// default: off): whether consumer offsets are written on the target.
    pub sync_group_offsets: Option<bool>,
    /// The checkpoint connector's `emit.checkpoints.interval.seconds`
    /// (default 60); `None` where checkpoints are not emitted.
    pub checkpoint_interval_s: Option<u64>,
    /// The source connector's `offset.lag.max` (default 100): how far its
    /// offset syncs, and so the checkpoints translated from them, may
    /// trail a group's position.
    pub offset_lag_max: Option<u64>,
    /// What could not be checked, and why.
    pub unchecked: Vec<String>,
}

/// MirrorMaker's `DefaultTopicFilter` defaults (Kafka ≥ 3.5).
const TOPICS_DEFAULT: &str = ".*";
const TOPICS_EXCLUDE_DEFAULT: &str = "mm2.*\\.internal, .*\\.replica, __.*";
const DEFAULT_TOPIC_FILTER: &str = "org.apache.kafka.connect.mirror.DefaultTopicFilter";

/// The settings of `connectors` and their problems, in words; `None` when
/// no connector's configuration was read. `app_topics` are the
/// application topics on the flow's source (not yet known: `None`).
pub fn assess_settings(
    connectors: &[Connector],
    configured: &ReplicationPolicy,
    app_topics: Option<&[&str]>,
) -> Option<(Mm2Settings, Vec<String>)> {
    let read: Vec<(ConnectorKind, &MirrorSettings)> =
        connectors.iter().filter_map(|c| Some((c.kind, c.settings.as_ref()?))).collect();
    if read.is_empty() {
        return None;
    }
    let mut problems = Vec::new();
    let mut unchecked = Vec::new();

    let named: Vec<(ConnectorKind, String)> = read.iter().map(|(k, s)| (*k, naming(s))).collect();
    let policy = match named.as_slice() {
        [(_, first), rest @ ..] if rest.iter().all(|(_, p)| p == first) => Some(first.clone()),
        _ => {
            // Each policy with the connectors using it, in order of appearance.
            let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
            for (kind, p) in &named {
                match groups.iter_mut().find(|(q, _)| q == p) {
                    Some((_, kinds)) if kinds.contains(&kind.label()) => {}
                    Some((_, kinds)) => kinds.push(kind.label()),
                    None => groups.push((p, vec![kind.label()])),
                }
            }
            let each: Vec<String> = groups.iter().map(|(p, kinds)| format!("{p} ({})", kinds.join(", "))).collect();
            problems.push(format!("connectors name topics differently: {}", each.join(", ")));
            None
        }
    };
    let expected = label(Some(configured), "");
    if let Some(p) = &policy
        && *p != expected
    {
        problems.push(format!(
            "MM2 names topics by the {p} policy but kdrill is set for {expected} ([replication] policy): \
             mirror names, lag and translation would be wrong"
        ));
    }

    let checkpoint = read.iter().find(|(k, _)| *k == ConnectorKind::Checkpoint).map(|(_, s)| *s);
    let flag = |s: &MirrorSettings, name: &str, default: bool| {
        s.get(name).map_or(default, |v| v.trim().eq_ignore_ascii_case("true"))
    };
    let sync_group_offsets = checkpoint.map(|s| flag(s, "sync.group.offsets.enabled", false));
    let checkpoint_interval_s = checkpoint
        .filter(|s| flag(s, "emit.checkpoints.enabled", true))
        .and_then(|s| s.get("emit.checkpoints.interval.seconds").map_or(Some(60), |v| v.trim().parse().ok()));

    let source = read.iter().find(|(k, _)| *k == ConnectorKind::Source).map(|(_, s)| *s);
    let offset_lag_max = source.and_then(|s| s.get("offset.lag.max").map_or(Some(100), |v| v.trim().parse().ok()));
    if let (Some(source), Some(topics)) = (source, app_topics) {
        match TopicFilter::of(source) {
            Ok(filter) => {
                for t in topics {
                    if let Some(why) = filter.leaves_out(t) {
                        problems.push(format!("{t} is not mirrored: {why}"));
                    }
                }
            }
            Err(why) => unchecked.push(format!("topic filter not checked: {why}")),
        }
    }
    Some((Mm2Settings { policy, sync_group_offsets, checkpoint_interval_s, offset_lag_max, unchecked }, problems))
}

/// How a connector names remote topics.
fn naming(s: &MirrorSettings) -> String {
    let class = s.get("replication.policy.class").unwrap_or(ReplicationPolicy::DEFAULT_CLASS);
    label(ReplicationPolicy::from_properties(|name| s.get(name)).as_ref(), class)
}

fn label(policy: Option<&ReplicationPolicy>, class: &str) -> String {
    let (name, separator) = match policy {
        Some(ReplicationPolicy::Identity { separator, .. }) => ("identity", separator),
        Some(ReplicationPolicy::Default { separator, .. }) => ("default", separator),
        None => return class.trim().rsplit('.').next().unwrap_or(class).to_owned(),
    };
    match separator.as_str() {
        "." => name.to_owned(),
        other => format!("{name} (separator \"{other}\")"),
    }
}

/// MirrorMaker's `DefaultTopicFilter`: a topic is mirrored when a `topics`
/// pattern matches its whole name and no `topics.exclude` pattern does.
struct TopicFilter {
    include: Regex,
    exclude: Regex,
}

impl TopicFilter {
    fn of(s: &MirrorSettings) -> Result<TopicFilter, String> {
        if let Some(class) = s.get("topic.filter.class").map(str::trim)
            && class != DEFAULT_TOPIC_FILTER
        {
            return Err(format!("custom topic.filter.class {class}"));
        }
        let exclude = s.get("topics.exclude").or(s.get("topics.blacklist")).unwrap_or(TOPICS_EXCLUDE_DEFAULT);
        Ok(TopicFilter { include: whole(s.get("topics").unwrap_or(TOPICS_DEFAULT))?, exclude: whole(exclude)? })
    }

    fn leaves_out(&self, topic: &str) -> Option<&'static str> {
        if !self.include.is_match(topic) {
            Some("no pattern in the source connector's topics matches it")
        } else if self.exclude.is_match(topic) {
            Some("the source connector's topics.exclude matches it")
        } else {
            None
        }
    }
}

/// A comma-separated list of patterns as one pattern matching whole names,
/// as Java's `Pattern.matcher(..).matches()`; an empty list matches nothing.
/// Compiled once per distinct list: the assessment asks on every poll, and
/// a deployment's filter rarely changes (a `Regex` clone shares its program).
fn whole(list: &str) -> Result<Regex, String> {
    /// Distinct lists kept; past it the memo starts afresh (configs churning).
    const KEPT: usize = 64;
    static COMPILED: OnceLock<Mutex<HashMap<String, Result<Regex, String>>>> = OnceLock::new();
    let memo = COMPILED.get_or_init(Mutex::default);
    let mut memo = memo.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = memo.get(list) {
        return found.clone();
    }
    let items: Vec<&str> = list.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let joined = if items.is_empty() { "[^\\s\\S]".to_owned() } else { items.join("|") };
    let compiled = Regex::new(&format!("^(?:{joined})$")).map_err(|_| format!("pattern {list:?} not understood"));
    if memo.len() >= KEPT {
        memo.clear();
    }
    memo.insert(list.to_owned(), compiled.clone());
    compiled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConnectState, MirrorSettings};

    fn connector(kind: ConnectorKind, props: &[(&str, &str)]) -> Connector {
        Connector {
            name: format!("dc->dr.Mirror{}Connector", kind.label()),
            kind,
            state: ConnectState::Running,
            target_state: None,
            worker_id: "w".into(),
            trace: None,
            tasks: vec![],
            settings: Some(MirrorSettings::keep(|n| props.iter().find(|(k, _)| *k == n).map(|(_, v)| *v))),
        }
    }

    const IDENTITY: (&str, &str) = ("replication.policy.class", ReplicationPolicy::IDENTITY_CLASS);

    #[test]
    fn agreeing_connectors_show_their_settings_and_no_problem() {
        let cs = [
            connector(ConnectorKind::Source, &[IDENTITY]),
            connector(
                ConnectorKind::Checkpoint,
                &[IDENTITY, ("sync.group.offsets.enabled", "true"), ("emit.checkpoints.interval.seconds", "5")],
            ),
            connector(ConnectorKind::Heartbeat, &[IDENTITY]),
        ];
        let got = assess_settings(&cs, &ReplicationPolicy::identity(), Some(&["orders", "redis-writes"]));
        let Some((s, problems)) = got else { panic!("settings were read") };
        assert_eq!(s.policy.as_deref(), Some("identity"));
        assert_eq!((s.sync_group_offsets, s.checkpoint_interval_s), (Some(true), Some(5)));
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_connector_with_another_policy_is_named_and_so_is_a_mismatch_with_kdrill() {
        let cs = [connector(ConnectorKind::Source, &[IDENTITY]), connector(ConnectorKind::Checkpoint, &[])];
        let Some((s, problems)) = assess_settings(&cs, &ReplicationPolicy::identity(), None) else {
            panic!("settings were read")
        };
        assert_eq!(s.policy, None);
        assert_eq!(problems, ["connectors name topics differently: identity (source), default (checkpoint)"]);
        assert_eq!(s.sync_group_offsets, Some(false), "Kafka's default");
        assert_eq!(s.checkpoint_interval_s, Some(60), "Kafka's default");

        let cs = [connector(ConnectorKind::Source, &[("replication.policy.separator", "_")])];
        let Some((s, problems)) = assess_settings(&cs, &ReplicationPolicy::identity(), None) else {
            panic!("settings were read")
        };
        assert_eq!(s.policy.as_deref(), Some("default (separator \"_\")"));
        assert!(problems[0].starts_with("MM2 names topics by the default (separator \"_\") policy"), "{problems:?}");
    }

    #[test]
    fn an_application_topic_the_filter_leaves_out_is_named() {
        let cs = [connector(
            ConnectorKind::Source,
            &[IDENTITY, ("topics", "orders, pay.*"), ("topics.exclude", "payments-internal")],
        )];
        let topics = ["orders", "payments", "payments-internal", "ordersx"];
        let Some((_, problems)) = assess_settings(&cs, &ReplicationPolicy::identity(), Some(&topics)) else {
            panic!("settings were read")
        };
        assert_eq!(
            problems,
            [
                "payments-internal is not mirrored: the source connector's topics.exclude matches it",
                "ordersx is not mirrored: no pattern in the source connector's topics matches it",
            ]
        );
        // The default exclusions, and an empty list that mirrors nothing.
        let cs = [connector(ConnectorKind::Source, &[IDENTITY, ("topics", "")])];
        let Some((_, problems)) = assess_settings(&cs, &ReplicationPolicy::identity(), Some(&["orders"])) else {
            panic!("settings were read")
        };
        assert_eq!(problems.len(), 1);
        let cs = [connector(ConnectorKind::Source, &[IDENTITY])];
        let topics = ["orders", "__consumer_offsets", "x.replica"];
        let Some((_, problems)) = assess_settings(&cs, &ReplicationPolicy::identity(), Some(&topics)) else {
            panic!("settings were read")
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn a_filter_that_cannot_be_read_is_said_not_checked() {
        let cs = [connector(ConnectorKind::Source, &[IDENTITY, ("topic.filter.class", "com.example.Filter")])];
        let Some((s, problems)) = assess_settings(&cs, &ReplicationPolicy::identity(), Some(&["orders"])) else {
            panic!("settings were read")
        };
        assert!(problems.is_empty());
        assert_eq!(s.unchecked, ["topic filter not checked: custom topic.filter.class com.example.Filter"]);
        let none = [Connector { settings: None, ..connector(ConnectorKind::Source, &[]) }];
        assert_eq!(assess_settings(&none, &ReplicationPolicy::identity(), None), None);
    }

    #[test]
    fn only_the_named_settings_are_kept_so_no_credential_is_held() {
        let props = [IDENTITY, ("source.cluster.sasl.jaas.config", "password=\"hunter2\""), ("ssl.key.password", "k")];
        let kept = MirrorSettings::keep(|n| props.iter().find(|(k, _)| *k == n).map(|(_, v)| *v));
        assert_eq!(kept.get("replication.policy.class"), Some(ReplicationPolicy::IDENTITY_CLASS));
        let json = serde_json::to_string(&kept).unwrap_or_default();
        assert!(!json.contains("hunter2") && !json.contains("password"), "{json}");
    }
}
