use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Observed, Side, Ts};

/// What a source last saw of one Kafka cluster. Sections are observed
/// separately (and at different cadences), so each carries its own stamp;
/// `None` means never observed. When the cluster stops answering, the last
/// good sections are kept as they were, so they age into staleness instead
/// of vanishing or turning into zeros.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub side: Side,
    /// The MM2 cluster alias (`dc`, `dr`), as used in remote topic names.
    pub alias: String,
    pub link: Link,
    pub brokers: Option<Observed<Vec<Broker>>>,
    pub topics: Option<Observed<Vec<Topic>>>,
    pub groups: Option<Observed<Vec<Group>>>,
    /// Heartbeats found in this cluster's `heartbeats` and `<src>.heartbeats` topics.
    pub heartbeats: Option<Observed<Vec<Heartbeat>>>,
    /// Latest checkpoints found in this cluster's `<src>.checkpoints.internal` topics.
    pub checkpoints: Option<Observed<Vec<Checkpoint>>>,
    /// What could not be read of MM2's topics here, as of the last read.
    pub unread: Option<Observed<Unread>>,
    /// How kdrill connects (never a secret) and the server certificate's
    /// expiry where a TLS handshake showed it.
    #[serde(default)]
    pub security: Option<Security>,
    /// When the first records MM2 has not yet replicated from here were
    /// written, read on demand (`kdrill check`, which has no history to
    /// age its lag from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_times: Option<Observed<Vec<RecordTime>>>,
    /// Where the last groups poll took committed offsets from.
    #[serde(default)]
    pub offsets_source: Option<OffsetsSource>,
    /// How observing this cluster has gone since the collector started.
    #[serde(default)]
    pub polls: PollCounts,
}

/// How one cluster's collector is faring: what its polls cost the cluster
/// and what failed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PollCounts {
    pub polls: u64,
    /// Polls in a row the cluster did not answer (0 while it answers).
    pub failing: u32,
    /// Parts of the last answered poll that could not be read (configs,
    /// end offsets, groups...), in words: each kept its last good value,
    /// which ages.
    pub section_errors: Vec<String>,
    /// Requests kdrill's clients of the cluster sent since the collector
    /// started, from librdkafka's statistics (up to a second behind);
    /// `None` until they tell.
    pub requests_sent: Option<u64>,
    /// Requests one poll sends the cluster, on average over the last polls.
    pub requests_per_poll: Option<f64>,
}

/// Where committed offsets come from: read from `__consumer_offsets` (a few
/// requests whatever the number of groups), or one OffsetFetch per group,
/// with why the topic was not used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OffsetsSource {
    Topic,
    PerGroup(String),
}

impl OffsetsSource {
    /// In words: "from __consumer_offsets", "per-group requests (why)".
    pub fn describe(&self) -> String {
        match self {
            OffsetsSource::Topic => "from __consumer_offsets".into(),
            OffsetsSource::PerGroup(why) => format!("per-group requests ({why})"),
        }
    }
}

/// The record at or after `offset` of a partition, as a read found it:
/// its timestamp, `None` when no record is there (yet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordTime {
    pub topic: String,
    pub partition: i32,
    /// The offset asked for: the first one MM2 had not replicated.
    pub offset: i64,
    pub timestamp: Option<Ts>,
}

/// The security in use towards one cluster: protocol, SASL mechanism and
/// user, never the secret; and what a TLS handshake showed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Security {
    /// `security.protocol`: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    pub protocol: String,
    pub mechanism: Option<String>,
    pub user: Option<String>,
    /// The server certificate's notAfter, from the last TLS handshake.
    pub cert_not_after: Option<Ts>,
    /// Warn when the server certificate expires within this many days.
    pub cert_warn_days: u32,
}

/// What a reader of MM2's topics could not use: records it skipped as
/// undecodable (per topic, since it started) and why its last read was
/// incomplete. Never a record's content.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Unread {
    pub skipped: Vec<SkippedRecords>,
    /// The first skipped record: topic/partition@offset and why.
    pub first_skipped: Option<String>,
    /// Why the last read was incomplete or failed, if it was.
    pub problem: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkippedRecords {
    pub topic: String,
    pub count: u64,
}

impl Cluster {
    pub fn new(side: Side, alias: &str) -> Self {
        Cluster {
            side,
            alias: alias.to_owned(),
            link: Link::Connecting,
            brokers: None,
            topics: None,
            groups: None,
            heartbeats: None,
            checkpoints: None,
            unread: None,
            security: None,
            record_times: None,
            offsets_source: None,
            polls: PollCounts::default(),
        }
    }

    pub fn topic(&self, name: &str) -> Option<&Topic> {
        self.topics.as_ref()?.value.iter().find(|t| t.name == name)
    }
}

/// Whether the source can currently talk to the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Link {
    /// No answer yet since start.
    Connecting,
    /// The last poll succeeded.
    Up { last_ok: Ts },
    /// The last poll failed; `last_ok` is when data was last good, if ever.
    Down { since: Ts, last_ok: Option<Ts>, error: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Broker {
    pub id: i32,
    pub host: String,
    pub port: u16,
    /// False for a broker seen before that is now missing from metadata.
    pub up: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    pub name: String,
    pub partitions: Vec<Partition>,
    pub replication_factor: Option<u16>,
    pub min_insync_replicas: Option<u16>,
    pub cleanup_policy: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    pub id: i32,
    /// `None` when the partition has no leader.
    pub leader: Option<i32>,
    /// Log-end offset (high watermark); `None` when it could not be read.
    pub end_offset: Option<i64>,
}

/// Which group protocol a consumer group speaks (KIP-848 added `Consumer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupProtocol {
    Classic,
    Consumer,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    /// Broker-reported state: `Stable`, `Empty`, `PreparingRebalance`, `Dead`...
    pub state: String,
    /// `consumer` for applications, `connect` for Kafka Connect workers.
    pub protocol_type: String,
    pub protocol: GroupProtocol,
    pub members: Vec<Member>,
    /// Committed offsets, when fetched for this group.
    pub committed: Option<Vec<Committed>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub member_id: String,
    /// Client id and host are shared with the assessment's group views, which
    /// list them for every group on every pass.
    pub client_id: Arc<str>,
    pub host: Arc<str>,
    /// Assigned (topic, partition) pairs; topic names shared (`Names`).
    pub assignment: Vec<(Arc<str>, i32)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Committed {
    /// Shared with every row of the same topic (`Names`).
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
}

/// The newest heartbeat found for one (source, target) alias pair in one topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// `heartbeats` (written locally) or `<src>.heartbeats` (mirrored in).
    pub topic: String,
    pub source_alias: String,
    pub target_alias: String,
    /// The timestamp MM2 wrote into the heartbeat.
    pub emitted_at: Ts,
}

/// A translated consumer-group offset written by MirrorCheckpointConnector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Source alias, group and topic names are shared with every row naming
    /// them (`Names`).
    pub source_alias: Arc<str>,
    pub group: Arc<str>,
    pub topic: Arc<str>,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
    /// The record timestamp of the checkpoint.
    pub written_at: Ts,
}
