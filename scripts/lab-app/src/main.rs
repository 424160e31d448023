//! kdrill lab sample application: what "the applications" are on one side
//! of the lab (scripts/lab `apps start dc|dr`).
//!
//! * a keyed producer on `orders` and on `redis-writes` (`--rate` records/s
//!   each; 1024 distinct keys per topic and the Java-compatible murmur2
//!   partitioner, so every partition gets records);
//! * two consumer groups with TWO members each: `orders-app`
//!   (`orders-app-1`, `orders-app-2` on `orders`) and `writes-app`
//!   (`writes-app-1`, `writes-app-2` on `redis-writes`), committing every
//!   second, so MM2 has offsets to checkpoint.
//!
//! It never creates topics (the brokers run with auto.create.topics.enable
//! =false): on dc `scripts/lab up` created them, on dr MM2 does. It waits
//! (bounded by `--wait-topics-secs`) until both exist, then prints `READY`.
//! On SIGTERM/SIGINT it stops producing, flushes, commits, and closes its
//! consumers (LeaveGroup), so the groups empty at once, then exits 0.
//!
//! Every record is `{"side","topic","run","seq","ts_ms"}`: `run` names this
//! process (`<side>-<start unix ms>-<pid>`) and `seq` counts 0, 1, 2, …
//! without a hole per run and topic (a full local queue delays, never
//! skips), so `scripts/lab verify` can tell every record apart and see any
//! that is missing or repeated. After the final flush it prints, per topic,
//! `produced <topic> run=<run> first=0 last=<n-1> delivered=<d> failed=<f>`
//! (plus ` pending=<p>` when the flush timed out): records whose delivery
//! failed are the app's own loss, not replication's.
//!
//! `--client-config FILE` adds librdkafka properties (`key=value` lines) to
//! every client: scripts/lab connects the app over SCRAM-SHA-512/TLS as
//! user `app` this way, the password kept in that file.
//!
//! Usage: kdrill-lab-app --bootstrap HOST:PORT --side NAME [--rate N]
//!        [--group-protocol classic|consumer] [--wait-topics-secs N]
//!        [--client-config FILE]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::watch;

const TOPICS: [(&str, &str); 2] = [("orders", "orders-app"), ("redis-writes", "writes-app")];
const KEYS_PER_TOPIC: u64 = 1024;

struct Args {
    bootstrap: String,
    side: String,
    rate: u64,
    group_protocol: String,
    wait_topics: Duration,
    /// Added to every client's configuration (`--client-config`).
    client_config: Vec<(String, String)>,
}

/// `key=value` lines; blank lines and `#` comments skipped.
fn read_client_config(path: &str) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--client-config {path}: {e}"))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Never quote the line: it may hold a password.
        let (k, v) = line.split_once('=').ok_or_else(|| format!("--client-config {path}: line {} has no '='", n + 1))?;
        out.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    Ok(out)
}

/// A client configuration with the bootstrap address and `--client-config`.
fn client_config(args: &Args) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &args.bootstrap);
    for (k, v) in &args.client_config {
        cfg.set(k, v);
    }
    cfg
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        bootstrap: String::new(),
        side: String::new(),
        rate: 150,
        group_protocol: "classic".into(),
        wait_topics: Duration::from_secs(180),
        client_config: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bootstrap" => a.bootstrap = val()?,
            "--side" => a.side = val()?,
            "--rate" => a.rate = val()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--group-protocol" => a.group_protocol = val()?,
            "--client-config" => a.client_config = read_client_config(&val()?)?,
            "--wait-topics-secs" => {
                a.wait_topics = Duration::from_secs(val()?.parse().map_err(|e| format!("--wait-topics-secs: {e}"))?)
            }
            // Ignored: scripts/lab passes it so that it can recognise this
            // process by its command line before signalling a pid.
            "--marker" => {
                val()?;
            }
            "-h" | "--help" => return Err("help".into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.bootstrap.is_empty() || a.side.is_empty() {
        return Err("--bootstrap and --side are required".into());
    }
    if a.group_protocol != "classic" && a.group_protocol != "consumer" {
        return Err("--group-protocol must be classic or consumer".into());
    }
    Ok(a)
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

macro_rules! say {
    ($($t:tt)*) => {{
        println!("[{}] {}", now_ms(), format!($($t)*));
    }};
}

/// Counts delivery reports per topic (sent on the producer's own polling
/// thread), so the final `produced` lines can say what this run lost itself.
#[derive(Default)]
struct Delivery {
    ok: [AtomicU64; 2],
    failed: [AtomicU64; 2],
}
impl Delivery {
    fn ok_total(&self) -> u64 {
        self.ok.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
    fn failed_total(&self) -> u64 {
        self.failed.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}
fn topic_index(topic: &str) -> usize {
    TOPICS.iter().position(|(t, _)| *t == topic).unwrap_or(0)
}
impl ClientContext for Delivery {}
impl ProducerContext for Delivery {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(m) => {
                self.ok[topic_index(m.topic())].fetch_add(1, Ordering::Relaxed);
            }
            Err((e, m)) => {
                // Expected while a broker is killed in a test; keep it visible but short.
                if self.failed[topic_index(m.topic())].fetch_add(1, Ordering::Relaxed).is_multiple_of(1000) {
                    say!("delivery failed: {e}");
                }
            }
        }
    }
}

/// Logs assignments, so the log shows when each member joined.
struct Member {
    client_id: String,
}
impl ClientContext for Member {}
impl ConsumerContext for Member {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        match r {
            Rebalance::Assign(tpl) => say!("{} assigned {} partition(s)", self.client_id, tpl.count()),
            Rebalance::Revoke(tpl) => say!("{} revoked {} partition(s)", self.client_id, tpl.count()),
            Rebalance::Error(e) => say!("{} rebalance error: {e}", self.client_id),
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "{e}\nusage: kdrill-lab-app --bootstrap HOST:PORT --side NAME [--rate N] [--group-protocol classic|consumer] [--wait-topics-secs N] [--client-config FILE]"
            );
            std::process::exit(2);
        }
    };
    let args = Arc::new(args);
    let run = format!("{}-{}-{}", args.side, now_ms(), std::process::id());
    say!(
        "starting side={} run={run} bootstrap={} rate={}/s/topic group.protocol={}",
        args.side,
        args.bootstrap,
        args.rate,
        args.group_protocol
    );

    let producer: ThreadedProducer<Delivery> = client_config(&args)
        .set("client.id", format!("lab-app-producer-{}", args.side))
        // Same partitioner as the Java clients, so keys land where a Java
        // producer would put them.
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "20")
        .set("message.timeout.ms", "30000")
        .create_with_context(Delivery::default())
        .unwrap_or_else(|e| fatal(&format!("cannot create producer: {e}")));

    wait_for_topics(&producer, &args).await;

    let (stop_tx, stop_rx) = watch::channel(false);
    let consumed: Arc<Vec<(String, AtomicU64)>> = Arc::new(
        TOPICS.iter().flat_map(|(_, g)| (1..=2).map(move |i| (format!("{g}-{i}"), AtomicU64::new(0)))).collect(),
    );

    let mut members = Vec::new();
    let mut idx = 0;
    for (topic, group) in TOPICS {
        for i in 1..=2 {
            let consumer = make_consumer(&args, topic, group, &format!("{group}-{i}"));
            members.push(tokio::spawn(run_member(consumer, stop_rx.clone(), consumed.clone(), idx)));
            idx += 1;
        }
    }
    let producer = Arc::new(producer);
    let sent: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let prod_task =
        tokio::spawn(run_producer(producer.clone(), args.clone(), run.clone(), stop_rx.clone(), sent.clone()));
    say!("READY side={} groups=orders-app,writes-app members=2 each", args.side);

    // Stats every 10 s until SIGTERM / SIGINT.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .unwrap_or_else(|e| fatal(&format!("cannot install SIGTERM handler: {e}")));
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = term.recv() => { say!("SIGTERM: shutting down"); break; }
            _ = tokio::signal::ctrl_c() => { say!("SIGINT: shutting down"); break; }
            _ = tick.tick() => {
                let ctx = producer.context();
                let c: Vec<String> = consumed.iter().map(|(n, v)| format!("{n}={}", v.load(Ordering::Relaxed))).collect();
                say!(
                    "stats sent orders={} redis-writes={} delivered={} failed={} consumed {}",
                    sent[0].load(Ordering::Relaxed), sent[1].load(Ordering::Relaxed),
                    ctx.ok_total(), ctx.failed_total(), c.join(" ")
                );
            }
        }
    }

    let _ = stop_tx.send(true);
    let _ = prod_task.await;
    let p = producer.clone();
    let _ = tokio::task::spawn_blocking(move || p.flush(Duration::from_secs(5))).await;
    // Every record got a seq; the delivery reports say which ones made it.
    let ctx = producer.context();
    for (i, (topic, _)) in TOPICS.iter().enumerate() {
        let n = sent[i].load(Ordering::Relaxed);
        let delivered = ctx.ok[i].load(Ordering::Relaxed);
        let failed = ctx.failed[i].load(Ordering::Relaxed);
        let pending = n.saturating_sub(delivered + failed);
        let last = n as i64 - 1;
        let tail = if pending > 0 { format!(" pending={pending}") } else { String::new() };
        say!("produced {topic} run={run} first=0 last={last} delivered={delivered} failed={failed}{tail}");
    }
    for m in members {
        let _ = m.await;
    }
    say!("stopped cleanly");
}

fn fatal(msg: &str) -> ! {
    say!("FATAL {msg}");
    std::process::exit(1);
}

/// Bounded wait until both topics exist (metadata for all topics: asking for
/// one named topic could auto-create it on a broker that allows that).
async fn wait_for_topics(producer: &ThreadedProducer<Delivery>, args: &Args) {
    let start = Instant::now();
    let mut last_missing = Vec::new();
    while start.elapsed() < args.wait_topics {
        match producer.client().fetch_metadata(None, Duration::from_secs(5)) {
            Ok(md) => {
                let missing: Vec<&str> = TOPICS
                    .iter()
                    .map(|(t, _)| *t)
                    .filter(|t| !md.topics().iter().any(|mt| mt.name() == *t && !mt.partitions().is_empty()))
                    .collect();
                if missing.is_empty() {
                    say!("topics present after {:.1}s", start.elapsed().as_secs_f64());
                    return;
                }
                if missing.iter().map(|s| s.to_string()).collect::<Vec<_>>() != last_missing {
                    say!("waiting for topics {missing:?} on {}", args.bootstrap);
                    last_missing = missing.iter().map(|s| s.to_string()).collect();
                }
            }
            Err(e) => say!("metadata from {} failed: {e}", args.bootstrap),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    fatal(&format!(
        "topics {:?} did not appear on {} within {}s (on dr they are created by MM2 dc->dr)",
        last_missing,
        args.bootstrap,
        args.wait_topics.as_secs()
    ));
}

fn make_consumer(args: &Args, topic: &str, group: &str, client_id: &str) -> StreamConsumer<Member> {
    let mut cfg = client_config(args);
    cfg.set("group.id", group)
        .set("client.id", client_id)
        .set("group.protocol", &args.group_protocol)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("auto.offset.reset", "earliest")
        .set("allow.auto.create.topics", "false");
    if args.group_protocol == "classic" {
        // Short session: a SIGKILLed app's members disappear within 10 s.
        // (Not allowed with the consumer protocol, where the broker decides.)
        cfg.set("session.timeout.ms", "10000").set("heartbeat.interval.ms", "1000");
    }
    let c: StreamConsumer<Member> = cfg
        .create_with_context(Member { client_id: client_id.to_string() })
        .unwrap_or_else(|e| fatal(&format!("cannot create consumer {client_id}: {e}")));
    c.subscribe(&[topic]).unwrap_or_else(|e| fatal(&format!("{client_id} cannot subscribe to {topic}: {e}")));
    c
}

async fn run_member(
    consumer: StreamConsumer<Member>,
    mut stop: watch::Receiver<bool>,
    consumed: Arc<Vec<(String, AtomicU64)>>,
    idx: usize,
) {
    let name = consumed[idx].0.clone();
    let mut errors = 0u64;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            m = consumer.recv() => match m {
                Ok(_) => { consumed[idx].1.fetch_add(1, Ordering::Relaxed); }
                Err(e) => {
                    errors += 1;
                    if (errors - 1).is_multiple_of(100) { say!("{name} consume error: {e}"); }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    // Commit what was consumed, then close (LeaveGroup) off the async
    // threads: dropping the consumer blocks until librdkafka has closed it.
    tokio::task::spawn_blocking(move || {
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => {}
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => say!("{name} final commit failed: {e}"),
        }
        consumer.unsubscribe();
        drop(consumer);
        say!("{name} closed");
    })
    .await
    .ok();
}

async fn run_producer(
    producer: Arc<ThreadedProducer<Delivery>>,
    args: Arc<Args>,
    run: String,
    mut stop: watch::Receiver<bool>,
    sent: Arc<[AtomicU64; 2]>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut seq = [0u64; 2];
    // Pace per topic from (origin, seq at origin): after a stall (local
    // queue full while a broker is down) the pace restarts from where it
    // stopped instead of bursting to make up for the lost time.
    let mut pace = [(Instant::now(), 0u64); 2];
    let mut stalled = [false; 2];
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        for (i, (topic, _)) in TOPICS.iter().enumerate() {
            // Catch up to rate * elapsed, so the rate holds whatever the tick jitter.
            let due = pace[i].1 + (pace[i].0.elapsed().as_secs_f64() * args.rate as f64) as u64;
            while seq[i] < due {
                let key = format!("{}-{:04}", topic, seq[i] % KEYS_PER_TOPIC);
                let value = format!(
                    "{{\"side\":\"{}\",\"topic\":\"{}\",\"run\":\"{}\",\"seq\":{},\"ts_ms\":{}}}",
                    args.side,
                    topic,
                    run,
                    seq[i],
                    now_ms()
                );
                match producer.send(BaseRecord::to(topic).key(&key).payload(&value)) {
                    Ok(()) => {
                        seq[i] += 1;
                        sent[i].fetch_add(1, Ordering::Relaxed);
                        if stalled[i] {
                            stalled[i] = false;
                            say!("{topic}: sending again from seq {}", seq[i] - 1);
                        }
                    }
                    // Local queue full (broker down): the same seq is tried
                    // again on the next tick, so no number is ever skipped.
                    Err((e, _)) => {
                        if !stalled[i] {
                            stalled[i] = true;
                            say!("{topic}: cannot queue seq {} ({e}); retrying, nothing skipped", seq[i]);
                        }
                        pace[i] = (Instant::now(), seq[i]);
                        break;
                    }
                }
            }
        }
    }
}
