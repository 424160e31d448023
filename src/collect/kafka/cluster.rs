//! One poll of one cluster, blocking (run it on a blocking thread), bounded
//! by `timing.request_timeout`:
//!
//! 1. metadata: brokers, topics, partitions, leaders (1 request);
//! 2. end offsets of every led partition in one `offsets_for_times(END)`
//!    call (1 ListOffsets per leader broker);
//! 3. groups, members, assignments (`groups`), and committed offsets read
//!    from `__consumer_offsets` (`committed`), or, where that topic cannot
//!    be read to its end, one OffsetFetch per group;
//! 4. every `topic_configs_interval` (or for new topics), `min.insync.replicas`
//!    and `cleanup.policy` in one DescribeConfigs; reused in between.
//!
//! Sections fail separately: a failed section keeps its last good value and
//! stamp. Metadata is the cluster's heartbeat: when it fails the cluster is
//! `Link::Down` and the poller backs off exponentially (1 s doubling to
//! 30 s, or the cap `with_backoff_max` set). The next poll connects with a
//! new client: one whose connections hung with a frozen broker may never
//! answer again, and one that kept failing waits out librdkafka's growing
//! reconnect backoff before it tries again, late after the broker returned.
//! A client that finds the cluster answering again was made while it did
//! not: it answers that poll's metadata, and a client made then asks the
//! rest. The first good poll brings it back `Up`. A client
//! whose metadata answers but whose end offsets all fail in
//! `RENEW_AFTER_OFFSET_FAILURES` polls in a row is replaced too: after a
//! broker resumed, a client may keep stale leaders a fresh one never sees.
//! A client about to be replaced does not ask its groups: the next poll,
//! one interval later, asks with the new one.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::consumer::Consumer;

use crate::config::{Classification, ClusterConfig, Timing};
use crate::model::{Broker, Cluster, Link, Observed, OffsetsSource, Partition, Security, Topic, Ts};

use super::client::{self, KdrillContext, Observer, StatisticsSink};
use super::committed::{CommittedOffsets, CommittedReader, OFFSETS_TOPIC};
use super::ffi::{self, Metadata};
use super::groups::{self, GroupStats};
use super::security;

/// Polls in a row that read no end offset at all, while metadata answered,
/// after which the client is replaced by a new one.
const RENEW_AFTER_OFFSET_FAILURES: u32 = 2;

/// Reads of `__consumer_offsets` in a row that did not reach its end, after
/// which its reader goes on where it stopped with a new client.
const RENEW_OFFSETS_READER_AFTER: u32 = 3;

/// How often the server certificate is read again while the cluster is up.
const CERT_READ_EVERY: Duration = Duration::from_secs(3600);

/// First retry delay after a failed poll; doubles per failure.
pub const BACKOFF_START: Duration = Duration::from_secs(1);
/// Longest delay between two attempts on an unreachable cluster.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

const CONFIG_KEYS: [&str; 2] = ["min.insync.replicas", "cleanup.policy"];

/// Partitions per `offsets_for_times` call. librdkafka matches partitions
/// with a linear search twice per call (grouping them by leader in
/// `rd_kafka_topic_partition_list_get_leaders`, and the results back in
/// `rd_kafka_topic_partition_list_update`), so one call over B partitions
/// costs O(B²) CPU: 0.5-1 s for 10,000 partitions here, and 73 % of a poll
/// of 100,000 partitions in batches of 2,000 (perf). Batches cap that at
/// ≈ `END_OFFSETS_WORK` comparisons per poll, for one more ListOffsets per
/// batch: 2,000 up to 20,000 partitions (one request per leader per 2,000),
/// down to 500 from 80,000.
pub fn end_offsets_batch(partitions: usize) -> usize {
    (END_OFFSETS_WORK / partitions.max(1)).clamp(END_OFFSETS_BATCH_MIN, END_OFFSETS_BATCH)
}

/// Largest batch: at most ~4 million comparisons a call.
pub const END_OFFSETS_BATCH: usize = 2_000;
/// Smallest batch: fewer partitions a request would trade CPU for requests.
const END_OFFSETS_BATCH_MIN: usize = 500;
/// Partition-name comparisons librdkafka may spend per poll (≈ 0.4 s of CPU).
const END_OFFSETS_WORK: usize = 40_000_000;

const TIMED_OUT: i32 = rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR__TIMED_OUT as i32;

/// One leader's end offsets (in the order asked) and its failed batches.
type LeaderRead = (Vec<Result<i64, i32>>, Vec<String>);

/// Polls the requests-per-poll figure is averaged over: statistics arrive
/// on their own timer, up to a second after the requests they count.
const REQUESTS_PER_POLL_OVER: usize = 10;

/// What one poll did, for logs and measurement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollStats {
    pub elapsed: Duration,
    pub brokers: usize,
    pub topics: usize,
    pub partitions: usize,
    /// Partitions asked for in the one ListOffsets round (leaderless ones are not asked).
    pub end_offsets_asked: usize,
    pub groups: GroupStats,
    /// Topics whose configs were described in this poll (0 between refreshes).
    pub configs_described: usize,
    /// Per-section failures of this poll (`section: error`).
    pub errors: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
struct TopicConfig {
    min_insync_replicas: Option<u16>,
    cleanup_policy: Option<String>,
}

/// Polls one cluster; owns its client and what it remembers between polls.
pub struct ClusterPoller {
    cfg: ClusterConfig,
    timing: Timing,
    classification: Classification,
    /// What every client this poller creates is built with.
    context: KdrillContext,
    client: Option<Observer>,
    /// Every broker ever seen, so one that vanishes shows `up: false`.
    known_brokers: BTreeMap<i32, (String, u16)>,
    configs: HashMap<String, TopicConfig>,
    configs_refreshed: Option<Instant>,
    /// The last good state of every section, and the link.
    state: Cluster,
    failures: u32,
    /// Polls in a row whose metadata answered and whose end offsets all failed.
    offset_failures: u32,
    /// The next poll connects with a new client.
    renew: bool,
    /// When the server certificate was last read by a TLS handshake.
    tls_checked: Option<Instant>,
    /// Longest delay between two attempts (`BACKOFF_MAX` unless set).
    backoff_max: Duration,
    /// Reads `__consumer_offsets`; made on first use, its client renewed in
    /// place after an outage or failed reads.
    offsets_reader: Option<CommittedReader>,
    /// Reads of it in a row that failed (see `RENEW_OFFSETS_READER_AFTER`).
    offsets_read_failures: u32,
    /// (polls, requests sent) after each of the last polls, for the
    /// requests one poll costs.
    requests_seen: VecDeque<(u64, u64)>,
    /// Whether committed offsets are read from `__consumer_offsets` at all
    /// (`with_offsets_per_group` turns it off, for measurement).
    offsets_topic: bool,
}

impl ClusterPoller {
    pub fn new(cfg: ClusterConfig, timing: Timing, classification: Classification) -> ClusterPoller {
        let state = Cluster::new(cfg.side, &cfg.alias);
        ClusterPoller::resume(cfg, timing, classification, state)
    }

    /// A poller that carries on from `state` (e.g. after its thread died).
    pub fn resume(cfg: ClusterConfig, timing: Timing, classification: Classification, state: Cluster) -> ClusterPoller {
        let known_brokers = state
            .brokers
            .as_ref()
            .map(|b| b.value.iter().map(|b| (b.id, (b.host.clone(), b.port))).collect())
            .unwrap_or_default();
        // The certificate last seen stays until a handshake shows another.
        let seen = state.security.as_ref().and_then(|s| s.cert_not_after);
        let security = Security { cert_not_after: seen, ..security::security_of(&cfg) };
        ClusterPoller {
            cfg,
            timing,
            classification,
            context: KdrillContext::default().count_from(state.polls.requests_sent),
            client: None,
            known_brokers,
            configs: HashMap::new(),
            configs_refreshed: None,
            state: Cluster { security: Some(security), ..state },
            failures: 0,
            offset_failures: 0,
            renew: false,
            tls_checked: None,
            offsets_reader: None,
            offsets_read_failures: 0,
            offsets_topic: true,
            requests_seen: VecDeque::new(),
            backoff_max: BACKOFF_MAX,
        }
    }

    /// Caps the backoff at `max` (never below the poll interval, never
    /// above `BACKOFF_MAX`). A hung cluster already costs a whole request
    /// timeout per attempt; a long backoff only delays seeing it again
    /// after it resumes, so callers cap it below their staleness threshold.
    pub fn with_backoff_max(mut self, max: Duration) -> ClusterPoller {
        self.backoff_max = max.clamp(self.timing.poll_interval.min(BACKOFF_MAX), BACKOFF_MAX);
        self
    }

    /// The last observed state (sections keep their own stamps).
    pub fn cluster(&self) -> &Cluster {
        &self.state
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.cfg
    }

    /// This poller's clients hand their statistics JSON to `sink`, every
    /// `statistics.interval.ms` (a cluster property, else
    /// `client::STATISTICS_INTERVAL_MS`), for measuring what a poll costs.
    pub fn with_statistics(mut self, sink: StatisticsSink) -> ClusterPoller {
        self.context = KdrillContext::with_statistics(sink).count_from(self.state.polls.requests_sent);
        self.client = None;
        self
    }

    /// Asks one OffsetFetch per group instead of reading `__consumer_offsets`:
    /// for measuring what the topic saves.
    pub fn with_offsets_per_group(mut self) -> ClusterPoller {
        self.offsets_topic = false;
        self
    }

    /// Serves queued client events (logs, errors, statistics) now; polls do
    /// this at their end.
    pub fn serve_events(&self) {
        if let Some(c) = &self.client {
            drain_events(c);
        }
    }

    /// How long to wait before the next poll: the poll interval while the
    /// cluster answers, an exponential backoff while it does not, capped at
    /// 30 s or what `with_backoff_max` set.
    pub fn next_delay(&self) -> Duration {
        if self.failures == 0 {
            return self.timing.poll_interval;
        }
        let shift = (self.failures - 1).min(16);
        BACKOFF_START.saturating_mul(1 << shift).min(self.backoff_max).max(self.timing.poll_interval.min(BACKOFF_MAX))
    }

    /// One poll. Never panics on anything from the network; every call is
    /// bounded by the request timeout (the poll that finds the cluster back
    /// after an outage gives its fresh client one of its own).
    pub fn poll(&mut self) -> PollStats {
        let started = Instant::now();
        let mut deadline = started + self.timing.request_timeout;
        let mut stats = PollStats::default();
        if self.client.is_none() {
            match client::observer(&self.cfg, &self.timing, self.context.clone()) {
                Ok(c) => self.client = Some(c),
                Err(e) => {
                    self.fail(format!("cannot create a Kafka client: {e}"), &mut stats);
                    self.count(&stats);
                    stats.elapsed = started.elapsed();
                    return stats;
                }
            }
        }
        let Some(mut observer) = self.client.take() else {
            return stats;
        };
        if matches!(self.state.link, Link::Down { .. }) {
            match self.metadata(&observer, deadline) {
                Ok(_) => {
                    observer = self.fresh_after_outage(observer);
                    // Its own request timeout: the answer may have come
                    // late in this poll's, and a client that finds no time
                    // left would report down a cluster that answers.
                    deadline = Instant::now() + self.timing.request_timeout;
                }
                Err(e) => self.fail(e, &mut stats),
            }
        }
        if stats.errors.is_empty() {
            self.poll_with(&observer, deadline, &mut stats);
        }
        drain_events(&observer);
        self.count(&stats);
        if std::mem::take(&mut self.renew) {
            // Why was logged where it was decided (here, or `note_end_offsets`).
            if self.failures > 0 {
                tracing::debug!(
                    "{}: {} polls failed in a row: connecting with a new client",
                    self.cfg.alias,
                    self.failures
                );
            }
            self.context.retire(&ffi::client_name(observer.client()));
            drop(observer);
        } else {
            self.client = Some(observer);
        }
        stats.elapsed = started.elapsed();
        stats
    }

    /// While the cluster is down every poll connects anew, so a client
    /// that finds it answering again was made while it did not: its
    /// connections, opened to a broker that hung, may leave requests
    /// unanswered after it resumed (a group listing timing out, then
    /// metadata failing, one poll later). Once such a client's metadata
    /// answers, the poll goes on with a client made now.
    fn fresh_after_outage(&self, outlived: Observer) -> Observer {
        match client::observer(&self.cfg, &self.timing, self.context.clone()) {
            Ok(fresh) => {
                drain_events(&outlived);
                self.context.retire(&ffi::client_name(outlived.client()));
                fresh
            }
            Err(e) => {
                tracing::debug!(
                    "{}: a new client failed ({e}): going on with the one made during the outage",
                    self.cfg.alias
                );
                outlived
            }
        }
    }

    fn poll_with(&mut self, observer: &Observer, deadline: Instant, stats: &mut PollStats) {
        let client = observer.client();
        let md = match self.metadata(observer, deadline) {
            Ok(md) => md,
            Err(e) => return self.fail(e, stats),
        };
        self.read_certificate(deadline);
        let md_at = Utc::now();
        let after_outage = matches!(self.state.link, Link::Down { .. });
        self.state.link = Link::Up { last_ok: md_at };
        self.failures = 0;
        self.renew = false;
        stats.brokers = md.brokers.len();
        self.state.brokers = Some(Observed::new(self.brokers(&md), md_at));

        let mut topics = topics_of(&md);
        stats.topics = topics.len();
        stats.partitions = topics.iter().map(|t| t.partitions.len()).sum();
        let offsets = self.fill_end_offsets(client, &mut topics, deadline, stats);
        self.note_end_offsets(offsets.is_ok());
        // What a read_uncommitted client sees as the ends of
        // `__consumer_offsets` in this poll (empty when not read).
        let high_watermarks: BTreeMap<i32, i64> = match &offsets {
            Ok(_) => topics
                .iter()
                .filter(|t| t.name == OFFSETS_TOPIC)
                .flat_map(|t| &t.partitions)
                .filter_map(|p| Some((p.id, p.end_offset?)))
                .collect(),
            Err(_) => BTreeMap::new(),
        };
        match offsets {
            Ok(at) => {
                self.fill_configs(client, &mut topics, deadline, stats);
                self.state.topics = Some(Observed::new(topics, at));
            }
            Err(e) => self.section_error(format!("end offsets: {e}"), stats),
        }
        if self.renew {
            // A client about to be replaced does not wait out its group
            // requests too: the next poll, one interval away, asks anew.
            return self.section_error("groups: not asked, connecting with a new client".into(), stats);
        }

        // The reader's client lived through the outage: a fresh one, in place.
        if after_outage && let Some(r) = self.offsets_reader.as_mut() {
            r.renew_consumer();
        }
        if md.brokers.is_empty() {
            // A broker that resumed after its controller fenced it answers
            // metadata naming no broker until it is unfenced: no group
            // coordinator can answer yet, and asking would wait out the
            // whole group deadline.
            return self
                .section_error("groups: not asked, the metadata names no broker (fenced or starting)".into(), stats);
        }
        let read_until = Instant::now() + self.timing.request_timeout / 2;
        let from_topic = if self.offsets_topic {
            read_committed(
                &mut self.offsets_reader,
                &mut self.offsets_read_failures,
                (&self.cfg, &self.timing, &self.context),
                (read_until, &high_watermarks),
            )
        } else {
            Err("asked per group".into())
        };
        // A deadline of its own, past librdkafka's request timeout
        // (socket.timeout.ms = request_timeout): the group listing must not
        // return while its requests are still in flight, whose late replies
        // librdkafka's ListGroups/DescribeGroups path does not survive.
        let groups_deadline = deadline.max(Instant::now() + self.timing.request_timeout + Duration::from_secs(1));
        match groups::poll_groups(client, &self.classification, from_topic.as_ref().ok().copied(), groups_deadline) {
            Ok((groups, g)) => {
                stats.groups = g;
                self.state.groups = Some(Observed::new(groups, Utc::now()));
                self.state.offsets_source = Some(match from_topic {
                    Ok(_) => OffsetsSource::Topic,
                    Err(why) => OffsetsSource::PerGroup(client::redact(&why, &self.cfg)),
                });
            }
            Err(e) => self.section_error(format!("groups: {e}"), stats),
        }
        // The first answer after an outage may come over connections made
        // while the broker hung, which librdkafka tears down once a request
        // on them times out: a part that failed then is asked again with a
        // new client, one interval later, not after a failed poll.
        if after_outage && !stats.errors.is_empty() {
            tracing::debug!(
                "{}: part of the first poll after an outage failed: connecting with a new client",
                self.cfg.alias
            );
            self.renew = true;
            self.offset_failures = 0;
        }
    }

    fn brokers(&mut self, md: &Metadata) -> Vec<Broker> {
        for b in &md.brokers {
            self.known_brokers.insert(b.id, (b.host.clone(), u16::try_from(b.port).unwrap_or(0)));
        }
        self.known_brokers
            .iter()
            .map(|(&id, (host, port))| Broker {
                id,
                host: host.clone(),
                port: *port,
                up: md.brokers.iter().any(|b| b.id == id),
            })
            .collect()
    }

    /// Counts polls whose end offsets all failed while metadata answered;
    /// the next poll connects anew after `RENEW_AFTER_OFFSET_FAILURES`.
    fn note_end_offsets(&mut self, read: bool) {
        self.offset_failures = if read { 0 } else { self.offset_failures + 1 };
        if self.offset_failures >= RENEW_AFTER_OFFSET_FAILURES {
            tracing::info!(
                "{}: no end offset read in {} polls while metadata answers: connecting with a new client",
                self.cfg.alias,
                self.offset_failures
            );
            self.offset_failures = 0;
            self.renew = true;
        }
    }

    /// Fills `end_offset` of every partition that has a leader: batches of
    /// one leader's partitions (one ListOffsets each), the leaders in
    /// parallel. Returns when the offsets were observed.
    fn fill_end_offsets(
        &self,
        client: &rdkafka::client::Client<KdrillContext>,
        topics: &mut [Topic],
        deadline: Instant,
        stats: &mut PollStats,
    ) -> Result<Ts, String> {
        let mut asked: Vec<(i32, usize, usize)> = topics
            .iter()
            .enumerate()
            .flat_map(|(ti, t)| {
                t.partitions.iter().enumerate().filter_map(move |(pi, p)| p.leader.map(|l| (l, ti, pi)))
            })
            .collect();
        // A batch that spans leaders costs a request per leader.
        asked.sort_unstable();
        stats.end_offsets_asked = asked.len();
        let names: Vec<(&str, i32)> =
            asked.iter().map(|&(_, ti, pi)| (topics[ti].name.as_str(), topics[ti].partitions[pi].id)).collect();
        let mut by_leader = Vec::new();
        let mut rest = names.as_slice();
        for run in asked.chunk_by(|a, b| a.0 == b.0) {
            let (mine, others) = rest.split_at(run.len());
            by_leader.push(mine);
            rest = others;
        }
        let batch_size = end_offsets_batch(names.len());
        let read = |mine: &[(&str, i32)]| {
            let mut offsets = Vec::with_capacity(mine.len());
            let mut errors = Vec::new();
            for batch in mine.chunks(batch_size) {
                match ffi::end_offsets(client, batch, deadline) {
                    Ok(o) => offsets.extend(o),
                    // Out of time: asking again topic by topic would only
                    // time out once per topic.
                    Err(e) if e.code == TIMED_OUT || Instant::now() >= deadline => {
                        offsets.extend(batch.iter().map(|_| Err(e.code)));
                        errors.push(e.to_string());
                    }
                    // librdkafka fails a whole batch when any one partition errs
                    // (`rd_kafka_parse_ListOffsets` returns the first partition
                    // error; `rd_kafka_offsets_for_times` then updates nothing),
                    // as during a leader election. Retry topic by topic, so only
                    // the topics with a troubled partition stay unknown.
                    Err(e) => {
                        for chunk in batch.chunk_by(|a, b| a.0 == b.0) {
                            match ffi::end_offsets(client, chunk, deadline) {
                                Ok(o) => offsets.extend(o),
                                Err(_) => offsets.extend(chunk.iter().map(|_| Err(-1))),
                            }
                        }
                        errors.push(e.to_string());
                    }
                }
            }
            (offsets, errors)
        };
        // Each call matches its results on the calling thread (the CPU cost
        // above): one thread per leader, so a large cluster's leaders are
        // asked at once, not one after another.
        let results: Vec<LeaderRead> = if by_leader.len() <= 1 {
            by_leader.iter().map(|mine| read(mine)).collect()
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = by_leader.iter().map(|mine| s.spawn(|| read(mine))).collect();
                handles
                    .into_iter()
                    .zip(&by_leader)
                    .map(|(h, mine)| h.join().unwrap_or_else(|_| (mine.iter().map(|_| Err(-1)).collect(), vec![])))
                    .collect()
            })
        };
        let mut offsets = Vec::with_capacity(names.len());
        let mut batch_errors = Vec::new();
        for (o, e) in results {
            offsets.extend(o);
            batch_errors.extend(e);
        }
        if !names.is_empty() && !offsets.iter().any(|r| r.is_ok()) {
            return Err(batch_errors.first().cloned().unwrap_or_else(|| "no end offset readable".into()));
        }
        if let Some(e) = batch_errors.first() {
            self.section_error(format!("end offsets: batch failed ({e}); read topic by topic"), stats);
        }
        let at = Utc::now();
        let mut failed = 0usize;
        for (&(_, ti, pi), r) in asked.iter().zip(offsets) {
            match r {
                Ok(o) if o >= 0 => topics[ti].partitions[pi].end_offset = Some(o),
                _ => failed += 1,
            }
        }
        if failed > 0 {
            tracing::debug!("{}: end offsets of {failed} partition(s) unreadable", self.cfg.alias);
        }
        Ok(at)
    }

    /// Applies cached topic configs; refreshes them when due or when a topic
    /// is new. A failed refresh keeps the cached values and retries next poll.
    fn fill_configs(
        &mut self,
        client: &rdkafka::client::Client<KdrillContext>,
        topics: &mut [Topic],
        deadline: Instant,
        stats: &mut PollStats,
    ) {
        let due = self.configs_refreshed.is_none_or(|t| t.elapsed() >= self.timing.topic_configs_interval);
        let wanted: Vec<String> =
            topics.iter().filter(|t| due || !self.configs.contains_key(&t.name)).map(|t| t.name.clone()).collect();
        if !wanted.is_empty() {
            match ffi::topic_configs(client, &wanted, &CONFIG_KEYS, deadline) {
                Ok(found) => {
                    stats.configs_described = wanted.len();
                    for (name, r) in found {
                        match r {
                            Ok(values) => {
                                let c = TopicConfig {
                                    min_insync_replicas: values.get(CONFIG_KEYS[0]).and_then(|v| v.trim().parse().ok()),
                                    cleanup_policy: values.get(CONFIG_KEYS[1]).cloned(),
                                };
                                self.configs.insert(name, c);
                            }
                            Err(e) => tracing::debug!("{}: configs of topic {name}: {e}", self.cfg.alias),
                        }
                    }
                    if due {
                        self.configs_refreshed = Some(Instant::now());
                        self.configs.retain(|name, _| topics.iter().any(|t| &t.name == name));
                    }
                }
                Err(e) => self.section_error(format!("topic configs: {e}"), stats),
            }
        }
        for t in topics.iter_mut() {
            if let Some(c) = self.configs.get(&t.name) {
                t.min_insync_replicas = c.min_insync_replicas;
                t.cleanup_policy = c.cleanup_policy.clone();
            }
        }
    }

    /// Metadata, the first request of every poll. While the cluster is not
    /// up, asked in growing slices so that a failure librdkafka would only
    /// retry until the deadline (wrong password, untrusted certificate, a
    /// listener without TLS) is reported at once, in words.
    fn metadata(&self, observer: &Observer, deadline: Instant) -> Result<ffi::Metadata, String> {
        let client = observer.client();
        if matches!(self.state.link, Link::Up { .. }) {
            return ffi::metadata(client, deadline).map_err(|e| self.explained(format!("metadata: {e}"), deadline));
        }
        let mut slice = Duration::from_millis(500);
        // librdkafka suppresses repeats of a failure: keep the last one.
        let mut last: Option<String> = None;
        loop {
            let until = deadline.min(Instant::now() + slice);
            match ffi::metadata(client, until) {
                Ok(md) => return Ok(md),
                Err(e) => {
                    drain_events(observer);
                    // Credentials and TLS: said at once. Anything else (a
                    // broker restarting) is retried until the deadline.
                    if let Some(r) = self.context.take_failure() {
                        last = Some(client::redact(&r, &self.cfg));
                    }
                    if let Some(r) = last.as_deref().filter(|r| security::is_security_failure(r))
                        && let Some(words) = self.explain(r, deadline)
                    {
                        return Err(words);
                    }
                    if Instant::now() >= deadline {
                        let words = last.as_deref().and_then(|r| self.explain(r, deadline));
                        return Err(words.unwrap_or_else(|| format!("metadata: {e}")));
                    }
                    slice = slice.saturating_mul(2);
                }
            }
        }
    }

    /// `error`, or better words for it from what librdkafka reported.
    fn explained(&self, error: String, deadline: Instant) -> String {
        let failure = self.context.take_failure().map(|r| client::redact(&r, &self.cfg));
        failure.and_then(|r| self.explain(&r, deadline)).unwrap_or(error)
    }

    fn explain(&self, reason: &str, deadline: Instant) -> Option<String> {
        let timeout = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(500));
        security::explain(&self.cfg, reason, || security::handshake(&self.cfg, timeout))
    }

    /// Reads the server certificate's expiry by a TLS handshake of its own:
    /// on the first good poll, then once an hour.
    fn read_certificate(&mut self, deadline: Instant) {
        let Some(sec) = &self.state.security else { return };
        if !security::uses_tls(sec) || self.tls_checked.is_some_and(|t| t.elapsed() < CERT_READ_EVERY) {
            return;
        }
        self.tls_checked = Some(Instant::now());
        let timeout = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(500));
        if let security::Handshake::Certificate { not_after: Some(t), .. } = security::handshake(&self.cfg, timeout)
            && let Some(s) = self.state.security.as_mut()
        {
            s.cert_not_after = Some(t);
        }
    }

    /// Adds this poll to what the snapshot says of the collector.
    fn count(&mut self, stats: &PollStats) {
        let c = &mut self.state.polls;
        c.polls += 1;
        c.failing = self.failures;
        if self.failures == 0 {
            c.section_errors.clone_from(&stats.errors);
        }
        c.requests_sent = self.context.requests_sent().or(c.requests_sent);
        if let Some(sent) = c.requests_sent {
            if self.requests_seen.len() > REQUESTS_PER_POLL_OVER {
                self.requests_seen.pop_front();
            }
            self.requests_seen.push_back((c.polls, sent));
        }
        c.requests_per_poll = match (self.requests_seen.front(), self.requests_seen.back()) {
            (Some((p0, r0)), Some((p1, r1))) if p1 > p0 => Some(r1.saturating_sub(*r0) as f64 / (p1 - p0) as f64),
            _ => None,
        };
    }

    fn section_error(&self, error: String, stats: &mut PollStats) {
        let error = client::redact(&error, &self.cfg);
        tracing::debug!("{}: {error}", self.cfg.alias);
        stats.errors.push(error);
    }

    /// The cluster did not answer: `Down`, keeping every section as it was.
    fn fail(&mut self, error: String, stats: &mut PollStats) {
        let error = client::redact(&error, &self.cfg);
        let now = Utc::now();
        self.failures = self.failures.saturating_add(1);
        self.renew = true;
        self.state.link = match &self.state.link {
            Link::Down { since, last_ok, .. } => Link::Down { since: *since, last_ok: *last_ok, error: error.clone() },
            Link::Up { last_ok } => Link::Down { since: now, last_ok: Some(*last_ok), error: error.clone() },
            Link::Connecting => Link::Down { since: now, last_ok: None, error: error.clone() },
        };
        tracing::debug!("{}: {error}", self.cfg.alias);
        stats.errors.push(error);
    }
}

/// Reads `__consumer_offsets` to its end with `reader` (made when absent),
/// by `until`; why not, when not. A reader that keeps failing goes on
/// where it stopped with a new client: its connections may have hung.
fn read_committed<'a>(
    reader: &'a mut Option<CommittedReader>,
    failures: &mut u32,
    (cfg, timing, context): (&ClusterConfig, &Timing, &KdrillContext),
    (until, high_watermarks): (Instant, &BTreeMap<i32, i64>),
) -> Result<&'a CommittedOffsets, String> {
    if reader.is_none() {
        *reader = Some(CommittedReader::new(cfg, timing, context.clone())?);
    }
    let read = reader.as_mut().map_or_else(|| Err("no reader".into()), |r| r.read(until, high_watermarks));
    match read {
        Ok(()) => {
            *failures = 0;
            reader.as_ref().map(CommittedReader::offsets).ok_or_else(|| "no reader".into())
        }
        Err(why) => {
            *failures += 1;
            if *failures >= RENEW_OFFSETS_READER_AFTER
                && let Some(r) = reader.as_mut()
            {
                tracing::debug!("{}: {why}; reading {OFFSETS_TOPIC} on with a new client", cfg.alias);
                r.renew_consumer();
                *failures = 0;
            }
            Err(why)
        }
    }
}

/// Topics and partitions from metadata, sorted, without offsets or configs.
/// Topics the broker reported with an error (e.g. a topic being deleted) are
/// left out; partitions with an error keep their id with no leader.
fn topics_of(md: &Metadata) -> Vec<Topic> {
    let mut topics: Vec<Topic> = md
        .topics
        .iter()
        .filter(|t| t.err == ffi::NO_ERROR && !t.name.is_empty())
        .map(|t| {
            let mut partitions: Vec<Partition> = t
                .partitions
                .iter()
                .map(|p| Partition {
                    id: p.id,
                    leader: (p.leader >= 0 && p.err == ffi::NO_ERROR).then_some(p.leader),
                    end_offset: None,
                })
                .collect();
            partitions.sort_by_key(|p| p.id);
            let rf = t.partitions.iter().map(|p| p.replicas).max();
            Topic {
                name: t.name.clone(),
                partitions,
                replication_factor: rf.and_then(|r| u16::try_from(r).ok()),
                min_insync_replicas: None,
                cleanup_policy: None,
            }
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    topics
}

/// Serves log and error events librdkafka queued on the client's main queue
/// (bounded, never blocking), so they cannot pile up between polls.
fn drain_events(observer: &Observer) {
    // `poll(ZERO)` serves one event at most (it answers `None` both for an
    // empty queue and for a consumed log or statistics event), so ask the
    // queue how much is waiting.
    for _ in 0..10_000 {
        if ffi::main_queue_len(observer.client()) == 0 {
            break;
        }
        let _ = observer.poll(Duration::ZERO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::model::Side;
    use ffi::{MetaBroker, MetaPartition, MetaTopic};

    #[test]
    fn end_offset_batches_shrink_only_where_librdkafka_matching_would_cost_seconds() {
        assert_eq!(end_offsets_batch(0), 2_000);
        assert_eq!(end_offsets_batch(10_000), 2_000, "10,000 partitions: one request per leader per 2,000");
        assert_eq!(end_offsets_batch(20_000), 2_000);
        assert_eq!(end_offsets_batch(40_000), 1_000);
        assert_eq!(end_offsets_batch(100_000), 500);
        assert_eq!(end_offsets_batch(1_000_000), 500, "never fewer than 500 partitions a request");
    }

    fn poller(poll: Duration) -> ClusterPoller {
        let cfg = ClusterConfig {
            side: Side::Dr,
            alias: "dr".into(),
            // Nothing listens on port 1 of loopback: every poll fails fast.
            bootstrap: "127.0.0.1:1".into(),
            properties: Default::default(),
            secrets: Default::default(),
            kube: None,
            apps: crate::config::AppsBackend::None,
            cert_warn_days: 30,
        };
        let timing = Timing {
            poll_interval: poll,
            topic_configs_interval: Duration::from_secs(60),
            request_timeout: Duration::from_millis(300),
        };
        ClusterPoller::new(cfg, timing, Settings::default().classification)
    }

    #[test]
    fn backoff_doubles_to_thirty_seconds_then_resets() {
        let mut p = poller(Duration::from_millis(500));
        assert_eq!(p.next_delay(), Duration::from_millis(500));
        let delays: Vec<u64> = (0..8)
            .map(|_| {
                p.failures += 1;
                p.next_delay().as_secs()
            })
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
        p.failures = 0;
        assert_eq!(p.next_delay(), Duration::from_millis(500));
        let mut slow = poller(Duration::from_secs(10));
        slow.failures = 1;
        assert_eq!(slow.next_delay(), Duration::from_secs(10), "never poll faster than configured");
    }

    #[test]
    fn a_cluster_that_keeps_failing_is_polled_with_a_new_client_each_time() {
        // Nothing listens there: every poll fails within its 300 ms.
        let mut p = poller(Duration::from_millis(100));
        let mut clients = Vec::new();
        for _ in 0..3 {
            p.poll();
            clients.push(p.client.is_some());
        }
        assert_eq!(p.failures, 3);
        assert_eq!(clients, [false, false, false], "a failed poll's client is never kept");
        assert!(matches!(p.cluster().link, Link::Down { .. }));
    }

    #[test]
    fn a_client_whose_end_offsets_keep_failing_is_renewed() {
        let mut p = poller(Duration::from_secs(1));
        p.note_end_offsets(false);
        assert!(!p.renew, "one failed read may be a leader election");
        p.note_end_offsets(true);
        p.note_end_offsets(false);
        assert!(!p.renew, "a good read in between starts the count again");
        p.note_end_offsets(false);
        assert!(p.renew, "two in a row: a new client");
        p.renew = false;
        p.note_end_offsets(false);
        assert!(!p.renew, "the count starts again with the new client");
    }

    #[test]
    fn a_capped_backoff_stops_growing_at_its_cap() {
        let mut p = poller(Duration::from_secs(1)).with_backoff_max(Duration::from_secs(3));
        let delays: Vec<u64> = (0..5)
            .map(|_| {
                p.failures += 1;
                p.next_delay().as_secs()
            })
            .collect();
        assert_eq!(delays, [1, 2, 3, 3, 3]);
        let p = poller(Duration::from_secs(5)).with_backoff_max(Duration::from_secs(2));
        assert_eq!(p.backoff_max, Duration::from_secs(5), "never below the poll interval");
    }

    #[test]
    fn an_unreachable_cluster_is_down_and_keeps_its_last_good_sections() {
        let mut p = poller(Duration::from_secs(1));
        let old = Utc::now() - chrono::TimeDelta::minutes(5);
        p.state.link = Link::Up { last_ok: old };
        p.state.brokers = Some(Observed::new(vec![Broker { id: 1, host: "h".into(), port: 9092, up: true }], old));
        let started = Instant::now();
        let stats = p.poll();
        assert!(started.elapsed() < Duration::from_secs(3), "bounded by the request timeout");
        assert!(!stats.errors.is_empty());
        match &p.cluster().link {
            Link::Down { last_ok, error, .. } => {
                assert_eq!(*last_ok, Some(old));
                assert!(error.starts_with("metadata:"), "{error}");
            }
            other => panic!("expected Down, got {other:?}"),
        }
        assert_eq!(p.cluster().brokers.as_ref().map(|b| b.at), Some(old), "last good section kept with its stamp");
        let since = match &p.cluster().link {
            Link::Down { since, .. } => *since,
            _ => old,
        };
        p.poll();
        assert!(matches!(&p.cluster().link, Link::Down { since: s, .. } if *s == since), "since is the streak start");
        assert_eq!(p.failures, 2);
    }

    #[test]
    fn vanished_brokers_stay_listed_as_down() {
        let mut p = poller(Duration::from_secs(1));
        let md = |ids: &[i32]| Metadata {
            brokers: ids.iter().map(|&id| MetaBroker { id, host: format!("b{id}"), port: 9092 }).collect(),
            topics: vec![],
        };
        assert_eq!(p.brokers(&md(&[1, 2, 3])).iter().filter(|b| b.up).count(), 3);
        let now = p.brokers(&md(&[1, 3]));
        assert_eq!(now.iter().map(|b| (b.id, b.up)).collect::<Vec<_>>(), vec![(1, true), (2, false), (3, true)]);
    }

    #[test]
    fn topics_from_metadata() {
        let md = Metadata {
            brokers: vec![],
            topics: vec![
                MetaTopic {
                    name: "b".into(),
                    err: 0,
                    partitions: vec![
                        MetaPartition { id: 1, err: 0, leader: -1, replicas: 3 },
                        MetaPartition { id: 0, err: 0, leader: 2, replicas: 3 },
                    ],
                },
                MetaTopic { name: "a".into(), err: 3, partitions: vec![] },
            ],
        };
        let t = topics_of(&md);
        assert_eq!(t.len(), 1, "topics reported with an error are left out");
        assert_eq!(t[0].partitions.iter().map(|p| (p.id, p.leader)).collect::<Vec<_>>(), vec![(0, Some(2)), (1, None)]);
        assert_eq!(t[0].replication_factor, Some(3));
    }
}
