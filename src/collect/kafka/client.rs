//! librdkafka clients for observing one cluster: built from the cluster's
//! configuration, read-only by construction (no group ever joined, nothing
//! ever committed, no topic auto-created), and with errors that can never
//! carry a secret.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::KafkaError;

use crate::config::{ClusterConfig, Timing};

/// The client id kdrill presents unless the configuration sets another.
pub const CLIENT_ID: &str = "kdrill";

/// Properties kdrill removes whatever the configuration says: any of them
/// would make the client join or identify as a consumer group member.
const NEVER: &[&str] = &["group.id", "group.instance.id", "group.protocol", "group.remote.assignor"];

/// Receives each statistics JSON librdkafka emits for one client.
pub type StatisticsSink = Arc<dyn Fn(&str) + Send + Sync>;

/// How often the poller's clients report statistics, unless a cluster's
/// properties set `statistics.interval.ms`: the requests they count are
/// known to within this.
pub const STATISTICS_INTERVAL_MS: &str = "1000";

/// Routes librdkafka's logs and errors to `tracing` (target `librdkafka`):
/// the terminal belongs to the UI, and an unreachable cluster is reported
/// as `Link::Down`, not as a stream of log lines. Statistics (emitted by
/// the clients whose configuration sets `statistics.interval.ms`) count
/// the requests sent, and go to the sink given by
/// [`KdrillContext::with_statistics`], for measurement.
#[derive(Clone, Default)]
pub struct KdrillContext {
    statistics: Option<StatisticsSink>,
    /// The last connection failure librdkafka reported (its reason text),
    /// for saying why a cluster is unreachable in words.
    failure: Arc<Mutex<Option<String>>>,
    requests: Arc<Mutex<RequestTally>>,
}

/// Requests sent by the clients of one context, from their statistics:
/// librdkafka counts them per client and broker (`brokers.*.tx`, since the
/// client was made or the broker first appeared), so the newest count of
/// each is kept, and a count that ends (its client retired, its broker gone
/// from the client's list or counting from 0 again) is folded into
/// `ended`.
#[derive(Default)]
struct RequestTally {
    /// Per client name, per broker name: the newest count.
    live: HashMap<String, HashMap<String, u64>>,
    ended: u64,
    /// Clients retired (one per renewed client; names are never reused):
    /// a statistics event served while one closes must not count it again.
    retired_names: std::collections::HashSet<String>,
}

/// The part of a statistics JSON the tally reads.
#[derive(serde::Deserialize)]
struct SentRequests {
    name: String,
    #[serde(default)]
    brokers: HashMap<String, BrokerRequests>,
}

#[derive(serde::Deserialize)]
struct BrokerRequests {
    #[serde(default)]
    tx: u64,
}

impl KdrillContext {
    /// A context that hands every statistics JSON to `sink`.
    pub fn with_statistics(sink: StatisticsSink) -> KdrillContext {
        KdrillContext { statistics: Some(sink), ..KdrillContext::default() }
    }

    /// The last connection failure reported since the previous call.
    pub fn take_failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|mut f| f.take())
    }

    /// Requests sent by this context's clients, as of their latest
    /// statistics; `None` before the first.
    pub fn requests_sent(&self) -> Option<u64> {
        let t = self.requests.lock().ok()?;
        let live: u64 = t.live.values().flat_map(HashMap::values).sum();
        (!t.live.is_empty() || t.ended > 0).then_some(t.ended + live)
    }

    /// Counts `earlier` requests as already sent: a poller that carries on
    /// from a previous one's state keeps its total.
    pub fn count_from(self, earlier: Option<u64>) -> KdrillContext {
        if let (Some(n), Ok(mut t)) = (earlier, self.requests.lock()) {
            t.ended += n;
        }
        self
    }

    /// The client named `name` (librdkafka's `rd_kafka_name`) is dropped:
    /// its last counts stay in the total.
    pub fn retire(&self, name: &str) {
        if let Ok(mut t) = self.requests.lock() {
            if let Some(brokers) = t.live.remove(name) {
                t.ended += brokers.values().sum::<u64>();
            }
            t.retired_names.insert(name.to_owned());
        }
    }

    fn count_requests(&self, statistics: &str) {
        let Ok(s) = serde_json::from_str::<SentRequests>(statistics) else { return };
        let Ok(mut t) = self.requests.lock() else { return };
        if t.retired_names.contains(&s.name) {
            return;
        }
        let now: HashMap<String, u64> = s.brokers.into_iter().map(|(b, r)| (b, r.tx)).collect();
        let before = t.live.insert(s.name, now.clone()).unwrap_or_default();
        // A broker gone from the list, or counting again from 0 (it left
        // and came back): what it had counted ended there.
        let ended: u64 = before.iter().filter(|(b, n)| now.get(*b).is_none_or(|m| m < *n)).map(|(_, n)| *n).sum();
        t.ended += ended;
    }

    fn note_failure(&self, reason: &str) {
        // The summary that follows a failure says less than the failure.
        if reason.contains("brokers are down") {
            return;
        }
        if let Ok(mut f) = self.failure.lock() {
            *f = Some(reason.to_owned());
        }
    }
}

impl std::fmt::Debug for KdrillContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KdrillContext").field("statistics", &self.statistics.is_some()).finish()
    }
}

impl ClientContext for KdrillContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if fac == "FAIL" {
            self.note_failure(message);
        }
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                tracing::warn!(target: "librdkafka", "{fac} {message}")
            }
            RDKafkaLogLevel::Warning | RDKafkaLogLevel::Notice => {
                tracing::info!(target: "librdkafka", "{fac} {message}")
            }
            RDKafkaLogLevel::Info | RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", "{fac} {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.note_failure(reason);
        tracing::debug!(target: "librdkafka", "{error}: {reason}");
    }

    fn stats_raw(&self, statistics: &[u8]) {
        let Ok(text) = std::str::from_utf8(statistics) else { return };
        self.count_requests(text);
        if let Some(sink) = &self.statistics {
            sink(text);
        }
    }
}

impl ConsumerContext for KdrillContext {}

/// The observing client of one cluster: a consumer-type handle (so
/// `isolation.level` applies to ListOffsets) that never subscribes, never
/// assigns and has no `group.id`.
pub type Observer = BaseConsumer<KdrillContext>;

/// Starts or stops a reader's fetching from every partition assigned to it.
/// Readers (of `__consumer_offsets`, of MM2's topics) are paused between
/// reads: an idle consumer keeps a Fetch waiting on the broker (up to
/// `fetch.wait.max.ms`, 500 ms), and the next read's metadata and
/// ListOffsets queue behind it on the same connection; paused, an idle
/// reader sends no Fetch at all.
pub fn fetching(consumer: &Observer, on: bool) {
    use rdkafka::consumer::Consumer;
    let Ok(assigned) = consumer.assignment() else { return };
    let _ = if on { consumer.resume(&assigned) } else { consumer.pause(&assigned) };
}

fn clamp_ms(d: Duration, min: u64, max: u64) -> String {
    (d.as_millis().min(u128::from(max)) as u64).max(min).to_string()
}

/// The librdkafka configuration kdrill observes `cluster` with.
///
/// Order matters: kdrill's defaults first, then the cluster's pass-through
/// `properties` (which may change timeouts, security, client id...), then
/// the secrets, then what kdrill enforces (read-only, read-uncommitted).
pub fn observer_config(cluster: &ClusterConfig, timing: &Timing) -> ClientConfig {
    let mut c = base_config(cluster, timing);
    c.set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("allow.auto.create.topics", "false")
        .set("enable.partition.eof", "false")
        .set("isolation.level", "read_uncommitted");
    c
}

/// What every kdrill client of `cluster` starts from: kdrill's defaults,
/// the cluster's properties and secrets, never a group.
pub fn base_config(cluster: &ClusterConfig, timing: &Timing) -> ClientConfig {
    let mut c = ClientConfig::new();
    let request = clamp_ms(timing.request_timeout, 1_000, 300_000);
    c.set("bootstrap.servers", &cluster.bootstrap)
        .set("client.id", CLIENT_ID)
        .set("socket.timeout.ms", &request)
        .set("socket.connection.setup.timeout.ms", &request)
        .set("reconnect.backoff.ms", "100")
        .set("reconnect.backoff.max.ms", "5000")
        .set("log.connection.close", "false");
    for (k, v) in &cluster.properties {
        c.set(k, v);
    }
    for (k, s) in &cluster.secrets {
        c.set(k, s.expose());
    }
    for k in NEVER {
        if c.get(k).is_some() {
            tracing::warn!("clusters.{}.properties.\"{k}\" ignored: kdrill never joins a group", cluster.alias);
            c.remove(k);
        }
    }
    c
}

/// Creates the observing client of `cluster`. Creating does not connect;
/// an error here is a configuration problem (its text never has a secret).
pub fn observer(cluster: &ClusterConfig, timing: &Timing, context: KdrillContext) -> Result<Observer, String> {
    counting_requests(observer_config(cluster, timing), cluster)
        .create_with_context(context)
        .map_err(|e| describe(&e, cluster))
}

/// `c`, with statistics every `STATISTICS_INTERVAL_MS` unless the
/// cluster's properties chose an interval.
pub fn counting_requests(mut c: ClientConfig, cluster: &ClusterConfig) -> ClientConfig {
    if !cluster.properties.contains_key("statistics.interval.ms") {
        c.set("statistics.interval.ms", STATISTICS_INTERVAL_MS);
    }
    c
}

/// A client error as kdrill shows it: config errors name the property but
/// never its value, and any secret value is masked wherever it appears.
pub fn describe(e: &KafkaError, cluster: &ClusterConfig) -> String {
    let text = match e {
        KafkaError::ClientConfig(_, desc, key, _value) => format!("client property \"{key}\": {desc}"),
        other => other.to_string(),
    };
    redact(&text, cluster)
}

/// Replaces every occurrence of any of `cluster`'s secret values with `***`.
pub fn redact(text: &str, cluster: &ClusterConfig) -> String {
    let mut out = text.to_owned();
    for s in cluster.secrets.values() {
        let v = s.expose();
        if !v.is_empty() && out.contains(v) {
            out = out.replace(v, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::SecretRef;
    use crate::model::Side;

    fn statistics(name: &str, tx: &[u64]) -> String {
        let brokers: Vec<String> =
            tx.iter().enumerate().map(|(i, n)| format!("\"b{i}\": {{\"tx\": {n}, \"rx\": 1}}")).collect();
        format!("{{\"name\": \"{name}\", \"type\": \"consumer\", \"brokers\": {{{}}}}}", brokers.join(","))
    }

    #[test]
    fn requests_are_the_newest_count_of_each_client_and_survive_its_retirement() {
        let ctx = KdrillContext::default();
        assert_eq!(ctx.requests_sent(), None, "nothing known before the first statistics");
        ctx.stats_raw(statistics("kdrill#consumer-1", &[3, 4]).as_bytes());
        ctx.stats_raw(statistics("kdrill#consumer-2", &[5]).as_bytes());
        assert_eq!(ctx.requests_sent(), Some(12));
        // Cumulative per client: a newer report replaces the older.
        ctx.stats_raw(statistics("kdrill#consumer-1", &[10, 4]).as_bytes());
        assert_eq!(ctx.requests_sent(), Some(19));
        ctx.retire("kdrill#consumer-1");
        assert_eq!(ctx.requests_sent(), Some(19), "a retired client's requests stay counted");
        ctx.stats_raw(statistics("kdrill#consumer-1", &[11, 4]).as_bytes());
        assert_eq!(ctx.requests_sent(), Some(19), "nor counted twice if it reports while closing");
        ctx.stats_raw(b"{not json");
        assert_eq!(ctx.requests_sent(), Some(19));
    }

    #[test]
    fn a_broker_that_leaves_a_clients_list_keeps_its_requests_counted() {
        let ctx = KdrillContext::default().count_from(Some(100));
        ctx.stats_raw(statistics("kdrill#consumer-3", &[3, 4]).as_bytes());
        assert_eq!(ctx.requests_sent(), Some(107), "a carried-over total stays");
        // Broker b1 gone from the list, then back counting from 0.
        ctx.stats_raw(statistics("kdrill#consumer-3", &[5]).as_bytes());
        assert_eq!(ctx.requests_sent(), Some(109));
        ctx.stats_raw(statistics("kdrill#consumer-3", &[6, 1]).as_bytes());
        assert_eq!(ctx.requests_sent(), Some(111));
    }

    fn cluster(props: &[(&str, &str)], secret: Option<&str>) -> ClusterConfig {
        let mut secrets = BTreeMap::new();
        if let Some(v) = secret {
            // Secrets only come from an env var or a file; a file keeps the
            // process environment untouched.
            let path = std::env::temp_dir().join(format!("kdrill-client-rs-{}-{v}", std::process::id()));
            std::fs::write(&path, v).unwrap_or_else(|e| panic!("{e}"));
            let secret = SecretRef::File(path.clone()).resolve().unwrap_or_else(|e| panic!("{e}"));
            let _ = std::fs::remove_file(&path);
            secrets.insert("sasl.password".to_owned(), secret);
        }
        ClusterConfig {
            side: Side::Dc,
            alias: "dc".into(),
            bootstrap: "127.0.0.1:1".into(),
            properties: props.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            secrets,
            kube: None,
            apps: crate::config::AppsBackend::None,
            cert_warn_days: 30,
        }
    }

    fn timing() -> Timing {
        Timing {
            poll_interval: Duration::from_secs(2),
            topic_configs_interval: Duration::from_secs(60),
            request_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn read_only_settings_win_over_properties() {
        let c = cluster(
            &[
                ("group.id", "sneaky"),
                ("group.protocol", "consumer"),
                ("enable.auto.commit", "true"),
                ("isolation.level", "read_committed"),
                ("client.id", "kdrill-prod"),
                ("security.protocol", "SASL_SSL"),
            ],
            Some("s3cr3t-value"),
        );
        let cfg = observer_config(&c, &timing());
        assert_eq!(cfg.get("group.id"), None);
        assert_eq!(cfg.get("group.protocol"), None);
        assert_eq!(cfg.get("enable.auto.commit"), Some("false"));
        assert_eq!(cfg.get("isolation.level"), Some("read_uncommitted"));
        assert_eq!(cfg.get("allow.auto.create.topics"), Some("false"));
        assert_eq!(cfg.get("client.id"), Some("kdrill-prod"), "pass-through may rename the client");
        assert_eq!(cfg.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(cfg.get("sasl.password"), Some("s3cr3t-value"));
        assert_eq!(cfg.get("socket.timeout.ms"), Some("5000"));
        assert_eq!(observer_config(&cluster(&[], None), &timing()).get("client.id"), Some(CLIENT_ID));
    }

    #[test]
    fn errors_never_show_secret_values() {
        let c = cluster(&[], Some("hunter2-hunter2"));
        let e = KafkaError::ClientConfig(
            rdkafka::types::RDKafkaConfRes::RD_KAFKA_CONF_INVALID,
            "Invalid value".into(),
            "sasl.password".into(),
            "hunter2-hunter2".into(),
        );
        let text = describe(&e, &c);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("sasl.password"), "{text}");
        assert_eq!(redact("auth failed for hunter2-hunter2!", &c), "auth failed for ***!");
    }

    #[test]
    fn creating_a_client_does_not_connect() {
        // Nothing listens on port 1; creation must still succeed.
        assert!(observer(&cluster(&[], None), &timing(), KdrillContext::default()).is_ok());
        let bad = cluster(&[("no.such.property", "x")], None);
        let err = observer(&bad, &timing(), KdrillContext::default()).err().unwrap_or_default();
        assert!(err.contains("no.such.property"), "{err}");
    }
}
