//! MM2 topic naming, modelled on Kafka's `ReplicationPolicy` implementations.

/// How MM2 names replicated topics on the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplicationPolicy {
    /// `DefaultReplicationPolicy`: remote topic = `<src><separator><topic>`.
    Default { separator: String },
    /// `IdentityReplicationPolicy`: names unchanged, except heartbeats topics.
    Identity,
}

pub const HEARTBEATS_TOPIC: &str = "heartbeats";

impl ReplicationPolicy {
    /// The name a topic of `source_alias` gets on the target.
    pub fn remote_topic(&self, source_alias: &str, topic: &str) -> String {
        match self {
            ReplicationPolicy::Default { separator } => format!("{source_alias}{separator}{topic}"),
            ReplicationPolicy::Identity if is_heartbeats(topic) => {
                format!("{source_alias}.{topic}")
            }
            ReplicationPolicy::Identity => topic.to_owned(),
        }
    }

    /// The topic's name on the cluster where it originated.
    pub fn original_topic<'a>(&self, topic: &'a str) -> &'a str {
        let sep = match self {
            ReplicationPolicy::Default { separator } => separator.as_str(),
            ReplicationPolicy::Identity if is_heartbeats(topic) => ".",
            ReplicationPolicy::Identity => return topic,
        };
        let mut rest = topic;
        while let Some((_, tail)) = rest.split_once(sep) {
            rest = tail;
        }
        rest
    }

    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        is_heartbeats(topic)
    }

    /// Topics MM2 never replicates (Kafka's `isInternalTopic`).
    pub fn is_internal_topic(&self, topic: &str) -> bool {
        topic.starts_with("__")
            || topic.starts_with('.')
            || topic.ends_with(".internal")
            || topic.ends_with("-internal")
            || topic.ends_with(".replica")
    }
}

fn is_heartbeats(topic: &str) -> bool {
    topic == HEARTBEATS_TOPIC || topic.ends_with(".heartbeats")
}
