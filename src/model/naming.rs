//! MM2 topic naming: Kafka's two replication policies as pure functions of
//! topic names, so kdrill tells remote, heartbeat and internal topics apart
//! exactly as MM2 does. Checked against Apache Kafka 3.9.1, 4.1.0 and 4.2.0;
//! the table in the tests was printed by Kafka's own policy classes.

/// The topic `MirrorHeartbeatConnector` writes to (`ReplicationPolicy.heartbeatsTopic()`).
pub const HEARTBEATS_TOPIC: &str = "heartbeats";
/// `DefaultReplicationPolicy.SEPARATOR_DEFAULT` (`replication.policy.separator`).
pub const DEFAULT_SEPARATOR: &str = ".";

/// The two replication policies Kafka ships (`replication.policy.class`),
/// modelled as pure functions of topic names so kdrill can tell remote,
/// heartbeat and internal topics apart exactly as MM2 does.
///
/// `internal_topic_separator_enabled` is
/// `replication.policy.internal.topic.separator.enabled` (KIP-690): when
/// false, MM2's own topics keep `.` even with a custom separator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationPolicy {
    /// `DefaultReplicationPolicy`: remote topics are `<source><separator><topic>`.
    Default { separator: String, internal_topic_separator_enabled: bool },
    /// `IdentityReplicationPolicy`: remote topics keep their names, except
    /// topics whose name ends in `heartbeats`, which are named as by
    /// `Default` so heartbeats still trace the flow. The source of any other
    /// topic cannot be told from its name: `topic_source` returns the
    /// configured `source.cluster.alias`, if any.
    Identity { separator: String, internal_topic_separator_enabled: bool, source_cluster_alias: Option<String> },
}

impl Default for ReplicationPolicy {
    fn default() -> Self {
        Self::Default { separator: DEFAULT_SEPARATOR.to_owned(), internal_topic_separator_enabled: true }
    }
}

impl ReplicationPolicy {
    pub const DEFAULT_CLASS: &'static str = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy";
    pub const IDENTITY_CLASS: &'static str = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy";

    /// `IdentityReplicationPolicy` with the default separator and no source alias.
    pub fn identity() -> Self {
        Self::Identity {
            separator: DEFAULT_SEPARATOR.to_owned(),
            internal_topic_separator_enabled: true,
            source_cluster_alias: None,
        }
    }

    /// Builds the policy an MM2 connector would from its configuration
    /// properties, as `configure()` reads them. Returns `None` for a custom
    /// `replication.policy.class`, whose naming cannot be known.
    pub fn from_properties<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<Self> {
        let class = get("replication.policy.class").map_or(Self::DEFAULT_CLASS, str::trim);
        let separator = get("replication.policy.separator");
        // Only read when a separator is configured, parsed like Boolean.parseBoolean.
        let internal_topic_separator_enabled = separator.is_none()
            || get("replication.policy.internal.topic.separator.enabled")
                .is_none_or(|v| v.eq_ignore_ascii_case("true"));
        let separator = separator.unwrap_or(DEFAULT_SEPARATOR).to_owned();
        match class {
            Self::DEFAULT_CLASS => Some(Self::Default { separator, internal_topic_separator_enabled }),
            Self::IDENTITY_CLASS => Some(Self::Identity {
                separator,
                internal_topic_separator_enabled,
                source_cluster_alias: get("source.cluster.alias").map(str::to_owned),
            }),
            _ => None,
        }
    }

    pub fn separator(&self) -> &str {
        match self {
            Self::Default { separator, .. } | Self::Identity { separator, .. } => separator,
        }
    }

    /// The separator used in MM2's internal topic names.
    fn internal_separator(&self) -> &str {
        match self {
            Self::Default { internal_topic_separator_enabled: true, separator }
            | Self::Identity { internal_topic_separator_enabled: true, separator, .. } => separator,
            _ => DEFAULT_SEPARATOR,
        }
    }

    /// Identity defers to the default naming for anything ending in `heartbeats`.
    fn names_like_default(&self, topic: &str) -> bool {
        match self {
            Self::Default { .. } => true,
            Self::Identity { .. } => topic.ends_with(HEARTBEATS_TOPIC),
        }
    }

    /// Name of `topic` from cluster `source_alias` once replicated (`formatRemoteTopic`).
    pub fn remote_topic(&self, source_alias: &str, topic: &str) -> String {
        if self.names_like_default(topic) {
            format!("{source_alias}{}{topic}", self.separator())
        } else {
            topic.to_owned()
        }
    }

    /// Alias of the cluster `topic` was replicated from, `None` if it does not
    /// look remote (`topicSource`).
    pub fn topic_source<'a>(&'a self, topic: &'a str) -> Option<&'a str> {
        match self {
            Self::Identity { source_cluster_alias, .. } if !self.names_like_default(topic) => {
                source_cluster_alias.as_deref()
            }
            _ => split_remote(self.separator(), topic).map(|(source, _)| source),
        }
    }

    /// Name of `topic` on the cluster it was replicated from, `None` if it does
    /// not look remote (`upstreamTopic`). Under Identity that is the topic itself.
    pub fn upstream_topic<'t>(&self, topic: &'t str) -> Option<&'t str> {
        if self.names_like_default(topic) {
            split_remote(self.separator(), topic).map(|(_, upstream)| upstream)
        } else {
            Some(topic)
        }
    }

    /// Name of `topic` on the cluster it was first written to, however many
    /// hops ago (`originalTopic`).
    pub fn original_topic<'t>(&self, topic: &'t str) -> &'t str {
        let mut topic = topic;
        // Each step strictly shortens the name, or stops.
        while let Some(upstream) = self.upstream_topic(topic).filter(|u| *u != topic) {
            topic = upstream;
        }
        topic
    }

    /// The topic `MirrorHeartbeatConnector` writes to.
    pub fn heartbeats_topic(&self) -> &'static str {
        HEARTBEATS_TOPIC
    }

    /// `heartbeats` itself or any replica of it (`isHeartbeatsTopic`).
    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        self.original_topic(topic) == HEARTBEATS_TOPIC
    }

    /// Where `MirrorCheckpointConnector` for source `source_alias` writes on
    /// the target: `<src>.checkpoints.internal` with the default separator.
    pub fn checkpoints_topic(&self, source_alias: &str) -> String {
        let sep = self.internal_separator();
        format!("{source_alias}{sep}checkpoints{sep}internal")
    }

    /// The offset-syncs topic, named after the *other* cluster of the flow:
    /// `mm2-offset-syncs.<tgt>.internal` on the source (the default
    /// `offset-syncs.topic.location=source`), or `mm2-offset-syncs.<src>.internal`
    /// on the target with `offset-syncs.topic.location=target`.
    pub fn offset_syncs_topic(&self, other_alias: &str) -> String {
        let sep = self.internal_separator();
        format!("mm2-offset-syncs{sep}{other_alias}{sep}internal")
    }

    pub fn is_checkpoints_topic(&self, topic: &str) -> bool {
        let sep = self.internal_separator();
        topic
            .strip_suffix("internal")
            .and_then(|t| t.strip_suffix(sep))
            .and_then(|t| t.strip_suffix("checkpoints"))
            .is_some_and(|t| t.ends_with(sep))
    }

    /// MM2's own topics (Kafka ≥ 4.0): `mm2*<sep>internal` or a checkpoints topic.
    pub fn is_mm2_internal_topic(&self, topic: &str) -> bool {
        let internal = topic.strip_suffix("internal").is_some_and(|t| t.ends_with(self.internal_separator()));
        (topic.starts_with("mm2") && internal) || self.is_checkpoints_topic(topic)
    }

    /// Topics MM2 never replicates (Kafka ≥ 4.0): MM2's own, and names
    /// starting with `__` or `.`.
    pub fn is_internal_topic(&self, topic: &str) -> bool {
        self.is_mm2_internal_topic(topic) || topic.starts_with("__") || topic.starts_with('.')
    }

    /// `is_internal_topic` as Kafka 3.x defined it: any name ending in
    /// `<sep>internal`, `.internal` or `-internal`, or starting with `__` or `.`.
    /// Kafka 4.0 narrowed this so user topics like `orders-internal` replicate.
    pub fn is_internal_topic_before_4_0(&self, topic: &str) -> bool {
        let mm2_internal = topic.strip_suffix("internal").is_some_and(|t| t.ends_with(self.internal_separator()));
        mm2_internal
            || topic.starts_with("__")
            || topic.starts_with('.')
            || topic.ends_with("-internal")
            || topic.ends_with(".internal")
    }

    /// A replicated, non-internal topic (`MirrorClient.isRemoteTopic`).
    pub fn is_remote_topic(&self, topic: &str) -> bool {
        !self.is_internal_topic(topic) && self.topic_source(topic).is_some()
    }

    /// Every cluster `topic` passed through, nearest first
    /// (`MirrorClient.allSources`); stops at a repeat, which only Identity can produce.
    pub fn all_sources<'a>(&'a self, topic: &'a str) -> Vec<&'a str> {
        let mut sources = Vec::new();
        let mut topic = topic;
        while let Some(source) = self.topic_source(topic) {
            if sources.contains(&source) {
                break;
            }
            sources.push(source);
            match self.upstream_topic(topic) {
                Some(upstream) => topic = upstream,
                None => break,
            }
        }
        sources
    }

    /// Whether replicating `topic` to `target_alias` would send it back where
    /// it came from (`MirrorSourceConnector.isCycle`). Identity cannot detect
    /// cycles, except for heartbeats.
    pub fn is_cycle(&self, topic: &str, target_alias: &str) -> bool {
        let mut topic = topic;
        loop {
            match self.topic_source(topic) {
                None => return false,
                Some(source) if source == target_alias => return true,
                Some(_) => match self.upstream_topic(topic) {
                    Some(upstream) if upstream != topic => topic = upstream,
                    _ => return false,
                },
            }
        }
    }
}

/// `DefaultReplicationPolicy.topicSource`/`upstreamTopic` share one split.
///
/// Java splits with `Pattern.split`, which drops trailing empty pieces, so
/// `dc.` and `dc..` are *not* remote while `.orders` is (with source `""`).
/// The empty separator splits between characters, as `Pattern.quote("")` does.
fn split_remote<'t>(separator: &str, topic: &'t str) -> Option<(&'t str, &'t str)> {
    if separator.is_empty() {
        let (second_at, _) = topic.char_indices().nth(1)?;
        return topic.split_at_checked(second_at);
    }
    let (source, upstream) = topic.split_once(separator)?;
    upstream.split(separator).any(|piece| !piece.is_empty()).then_some((source, upstream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_topics_match_kafka() {
        let d = ReplicationPolicy::default();
        assert_eq!(d.checkpoints_topic("dc"), "dc.checkpoints.internal");
        assert_eq!(d.offset_syncs_topic("dr"), "mm2-offset-syncs.dr.internal");
        assert_eq!(d.remote_topic("dc", "orders"), "dc.orders");
        assert_eq!(d.heartbeats_topic(), "heartbeats");

        let u = ReplicationPolicy::Default { separator: "__".into(), internal_topic_separator_enabled: true };
        assert_eq!(u.remote_topic("dc", "orders"), "dc__orders");
        assert_eq!(u.checkpoints_topic("dc"), "dc__checkpoints__internal");
        assert_eq!(u.offset_syncs_topic("dr"), "mm2-offset-syncs__dr__internal");

        let u_dot = ReplicationPolicy::Default { separator: "__".into(), internal_topic_separator_enabled: false };
        assert_eq!(u_dot.remote_topic("dc", "heartbeats"), "dc__heartbeats");
        assert_eq!(u_dot.checkpoints_topic("dc"), "dc.checkpoints.internal");
        assert_eq!(u_dot.offset_syncs_topic("dr"), "mm2-offset-syncs.dr.internal");

        let i = ReplicationPolicy::identity();
        assert_eq!(i.remote_topic("dc", "orders"), "orders");
        assert_eq!(i.remote_topic("dc", "heartbeats"), "dc.heartbeats");
        assert_eq!(i.checkpoints_topic("dc"), "dc.checkpoints.internal");
    }

    fn policy(name: &str) -> ReplicationPolicy {
        let underscore =
            |enabled| ReplicationPolicy::Default { separator: "__".into(), internal_topic_separator_enabled: enabled };
        match name {
            "default" => ReplicationPolicy::default(),
            "underscore" => underscore(true),
            "underscore_dot_internal" => underscore(false),
            "identity" => ReplicationPolicy::identity(),
            "identity_dc" => ReplicationPolicy::Identity {
                separator: ".".into(),
                internal_topic_separator_enabled: true,
                source_cluster_alias: Some("dc".into()),
            },
            other => panic!("no policy {other}"),
        }
    }

    type Row =
        (&'static str, &'static str, Option<&'static str>, Option<&'static str>, &'static str, bool, bool, bool, bool);

    /// (policy, topic, topicSource, upstreamTopic, originalTopic, isHeartbeatsTopic,
    /// isCheckpointsTopic, isInternalTopic on 4.2.0, isInternalTopic on 3.9.1), printed
    /// by a `Policy.java` calling Kafka's own policies configured like `policy()`
    /// (4.2.0 and 3.9.1 jars; the releases differ only in isInternalTopic).
    #[rustfmt::skip]
    const KAFKA_POLICY_TABLE: &[Row] = &[
        ("default", "orders", None, None, "orders", false, false, false, false),
        ("default", "dc.orders", Some("dc"), Some("orders"), "orders", false, false, false, false),
        ("default", "dc.", None, None, "dc.", false, false, false, false),
        ("default", "dc..", None, None, "dc..", false, false, false, false),
        ("default", ".orders", Some(""), Some("orders"), "orders", false, false, true, true),
        ("default", "dc..orders", Some("dc"), Some(".orders"), "orders", false, false, false, false),
        ("default", "a.b.c", Some("a"), Some("b.c"), "c", false, false, false, false),
        ("default", "", None, None, "", false, false, false, false),
        ("default", ".", None, None, ".", false, false, true, true),
        ("default", "heartbeats", None, None, "heartbeats", true, false, false, false),
        ("default", "dc.heartbeats", Some("dc"), Some("heartbeats"), "heartbeats", true, false, false, false),
        ("default", "dr.dc.heartbeats", Some("dr"), Some("dc.heartbeats"), "heartbeats", true, false, false, false),
        ("default", "myheartbeats", None, None, "myheartbeats", false, false, false, false),
        ("default", "dc.checkpoints.internal", Some("dc"), Some("checkpoints.internal"), "internal", false, true, true, true),
        ("default", "mm2-offset-syncs.dr.internal", Some("mm2-offset-syncs"), Some("dr.internal"), "internal", false, false, true, true),
        ("default", "mm2-configs.dc.internal", Some("mm2-configs"), Some("dc.internal"), "internal", false, false, true, true),
        ("default", "connect-offsets-internal", None, None, "connect-offsets-internal", false, false, false, true),
        ("default", "my.internal", Some("my"), Some("internal"), "internal", false, false, false, true),
        ("default", "__consumer_offsets", None, None, "__consumer_offsets", false, false, true, true),
        ("default", "dc__orders", None, None, "dc__orders", false, false, false, false),
        ("default", "dc__", None, None, "dc__", false, false, false, false),
        ("default", "x__y__z", None, None, "x__y__z", false, false, false, false),
        ("underscore", "orders", None, None, "orders", false, false, false, false),
        ("underscore", "dc.orders", None, None, "dc.orders", false, false, false, false),
        ("underscore", ".orders", None, None, ".orders", false, false, true, true),
        ("underscore", "heartbeats", None, None, "heartbeats", true, false, false, false),
        ("underscore", "dc.heartbeats", None, None, "dc.heartbeats", false, false, false, false),
        ("underscore", "dc.checkpoints.internal", None, None, "dc.checkpoints.internal", false, false, false, true),
        ("underscore", "mm2-offset-syncs.dr.internal", None, None, "mm2-offset-syncs.dr.internal", false, false, false, true),
        ("underscore", "connect-offsets-internal", None, None, "connect-offsets-internal", false, false, false, true),
        ("underscore", "__consumer_offsets", Some(""), Some("consumer_offsets"), "consumer_offsets", false, false, true, true),
        ("underscore", "dc__orders", Some("dc"), Some("orders"), "orders", false, false, false, false),
        ("underscore", "dc__", None, None, "dc__", false, false, false, false),
        ("underscore", "x__y__z", Some("x"), Some("y__z"), "z", false, false, false, false),
        ("underscore_dot_internal", "dc.checkpoints.internal", None, None, "dc.checkpoints.internal", false, true, true, true),
        ("underscore_dot_internal", "mm2-offset-syncs.dr.internal", None, None, "mm2-offset-syncs.dr.internal", false, false, true, true),
        ("underscore_dot_internal", "mm2-configs.dc.internal", None, None, "mm2-configs.dc.internal", false, false, true, true),
        ("underscore_dot_internal", "my.internal", None, None, "my.internal", false, false, false, true),
        ("underscore_dot_internal", "dc__orders", Some("dc"), Some("orders"), "orders", false, false, false, false),
        ("identity", "orders", None, Some("orders"), "orders", false, false, false, false),
        ("identity", "dc.orders", None, Some("dc.orders"), "dc.orders", false, false, false, false),
        ("identity", "", None, Some(""), "", false, false, false, false),
        ("identity", "heartbeats", None, None, "heartbeats", true, false, false, false),
        ("identity", "dc.heartbeats", Some("dc"), Some("heartbeats"), "heartbeats", true, false, false, false),
        ("identity", "dr.dc.heartbeats", Some("dr"), Some("dc.heartbeats"), "heartbeats", true, false, false, false),
        ("identity", "myheartbeats", None, None, "myheartbeats", false, false, false, false),
        ("identity", "dc.checkpoints.internal", None, Some("dc.checkpoints.internal"), "dc.checkpoints.internal", false, true, true, true),
        ("identity", "connect-offsets-internal", None, Some("connect-offsets-internal"), "connect-offsets-internal", false, false, false, true),
        ("identity", "__consumer_offsets", None, Some("__consumer_offsets"), "__consumer_offsets", false, false, true, true),
        ("identity_dc", "orders", Some("dc"), Some("orders"), "orders", false, false, false, false),
        ("identity_dc", "dc.orders", Some("dc"), Some("dc.orders"), "dc.orders", false, false, false, false),
        ("identity_dc", ".", Some("dc"), Some("."), ".", false, false, true, true),
        ("identity_dc", "heartbeats", None, None, "heartbeats", true, false, false, false),
        ("identity_dc", "dc.heartbeats", Some("dc"), Some("heartbeats"), "heartbeats", true, false, false, false),
        ("identity_dc", "dr.dc.heartbeats", Some("dr"), Some("dc.heartbeats"), "heartbeats", true, false, false, false),
        ("identity_dc", "myheartbeats", None, None, "myheartbeats", false, false, false, false),
        ("identity_dc", "my.internal", Some("dc"), Some("my.internal"), "my.internal", false, false, false, true),
    ];

    #[test]
    fn policies_match_kafka_table() {
        for &(name, topic, source, upstream, original, heartbeats, checkpoints, internal, internal_3x) in
            KAFKA_POLICY_TABLE
        {
            let p = policy(name);
            let ctx = format!("{name} {topic:?}");
            assert_eq!(p.topic_source(topic), source, "topicSource {ctx}");
            assert_eq!(p.upstream_topic(topic), upstream, "upstreamTopic {ctx}");
            assert_eq!(p.original_topic(topic), original, "originalTopic {ctx}");
            assert_eq!(p.is_heartbeats_topic(topic), heartbeats, "isHeartbeatsTopic {ctx}");
            assert_eq!(p.is_checkpoints_topic(topic), checkpoints, "isCheckpointsTopic {ctx}");
            assert_eq!(p.is_internal_topic(topic), internal, "isInternalTopic {ctx}");
            assert_eq!(p.is_internal_topic_before_4_0(topic), internal_3x, "3.x isInternalTopic {ctx}");
        }
    }

    #[test]
    fn sources_and_cycles() {
        let d = ReplicationPolicy::default();
        assert_eq!(d.all_sources("dr.dc.orders"), ["dr", "dc"]);
        assert!(d.is_remote_topic("dc.orders"));
        assert!(!d.is_remote_topic("dc.checkpoints.internal"));
        // dc.orders replicated dc -> dr would come back to dc as dr.dc.orders.
        assert!(d.is_cycle("dr.dc.orders", "dc"));
        assert!(!d.is_cycle("dc.orders", "dr2"));

        let i = policy("identity_dc");
        assert_eq!(i.all_sources("orders"), ["dc"]);
        // Identity names hide the loop: MM2 replicates `orders` back forever.
        assert!(!i.is_cycle("orders", "dr"));
        assert!(i.is_cycle("dr.heartbeats", "dr"));
    }

    #[test]
    fn empty_separator_splits_between_characters() {
        let p = ReplicationPolicy::Default { separator: String::new(), internal_topic_separator_enabled: true };
        assert_eq!(p.topic_source("ab"), Some("a"));
        assert_eq!(p.upstream_topic("éb"), Some("b"));
        assert_eq!(p.topic_source("a"), None);
        assert_eq!(p.original_topic("abc"), "c");
    }

    #[test]
    fn policy_from_connector_properties() {
        let props = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v)
        };
        assert_eq!(ReplicationPolicy::from_properties(props(&[])), Some(ReplicationPolicy::default()));
        assert_eq!(
            ReplicationPolicy::from_properties(props(&[
                ("replication.policy.class", " org.apache.kafka.connect.mirror.IdentityReplicationPolicy "),
                ("source.cluster.alias", "dc"),
            ])),
            Some(policy("identity_dc"))
        );
        assert_eq!(
            ReplicationPolicy::from_properties(props(&[
                ("replication.policy.separator", "__"),
                ("replication.policy.internal.topic.separator.enabled", "FALSE"),
            ])),
            Some(policy("underscore_dot_internal"))
        );
        // Without a custom separator Kafka never reads the internal-separator flag.
        assert_eq!(
            ReplicationPolicy::from_properties(props(&[(
                "replication.policy.internal.topic.separator.enabled",
                "false"
            )])),
            Some(ReplicationPolicy::default())
        );
        assert_eq!(ReplicationPolicy::from_properties(props(&[("replication.policy.class", "com.acme.Policy")])), None);
    }
}
