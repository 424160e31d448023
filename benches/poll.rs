//! What one poll costs on real brokers, at scale.
//!
//! Needs the lab: run `scripts/lab up` first (its addresses come from
//! `lab.env`). Without it the bench prints why and exits successfully.
//!
//! ```text
//! scripts/lab up
//! cargo bench --bench poll
//! ```
//!
//! It creates, on EACH cluster, `KDRILL_BENCH_PARTITIONS` partitions (default
//! 10,000) as topics of 100 partitions named `kdrill-bench-tNNNN-internal`
//! and `KDRILL_BENCH_GROUPS` consumer groups (default 500) with committed
//! offsets named `__kdrill-bench-gNNNN` (MM2 excludes `.*[-.]internal` topics
//! and `__.*` groups by default, so nothing is mirrored; Kafka refuses new
//! topics named `__*`), unless they are already there; it deletes them at
//! the end unless `KDRILL_BENCH_KEEP=1`. A broker holds at most 15,000
//! partitions here (open-file limit): 100,000 need `scripts/lab scale up 7`.
//! Then it prints:
//!
//! * requests sent per poll, by Kafka API, from librdkafka's own counters
//!   (`statistics.interval.ms`, `brokers.*.req`), on the bare lab, with the
//!   partitions, and with the groups as well: requests grow with brokers,
//!   not with groups;
//! * the time to read 10,000 end offsets with one batched
//!   `offsets_for_times(END)` against per-partition `fetch_watermarks`, and
//!   the ratio;
//! * with criterion, the wall time of one full poll of both clusters (the
//!   two pollers in parallel, as the collector runs them).

// Until Cargo.toml declares this bench with `harness = false`, it is built
// with the test harness, which ignores `main`.
#![cfg_attr(test, allow(dead_code, unused_imports))]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::Criterion;
use kdrill::collect::kafka::cluster::{self, ClusterPoller};
use kdrill::collect::kafka::ffi;
use kdrill::config::{Config, parse};
use kdrill::model::Side;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

const PARTITIONS: i32 = 100;
const TOPIC_PREFIX: &str = "kdrill-bench-t";
const GROUP_PREFIX: &str = "__kdrill-bench-g";
/// Partitions one broker may lead here: a broker keeps a file open per
/// partition, and a process may open 20,000 files on the lab machine.
const PARTITIONS_PER_BROKER: usize = 15_000;

/// The bench's size: `KDRILL_BENCH_PARTITIONS` (a multiple of 100, default
/// 10,000) and `KDRILL_BENCH_GROUPS` (default 500) on each cluster.
fn scale() -> (usize, usize) {
    let get = |k: &str, default: usize| {
        std::env::var(k).ok().map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{k}={v} is not a number")))
    };
    let partitions = get("KDRILL_BENCH_PARTITIONS", 10_000);
    assert!(partitions >= 100 && partitions % 100 == 0, "KDRILL_BENCH_PARTITIONS must be a multiple of 100");
    (partitions / PARTITIONS as usize, get("KDRILL_BENCH_GROUPS", 500))
}

/// The lab's two bootstrap addresses, from its `lab.env` (a private lab,
/// `KDRILL_LAB_DIR` and `KDRILL_LAB_PORT_OFFSET`, shifts them).
fn bootstraps() -> [String; 2] {
    let dir = std::env::var("KDRILL_LAB_DIR").unwrap_or_else(|_| "/tmp/kdrill-lab".into());
    let env = std::fs::read_to_string(Path::new(&dir).join("lab.env")).unwrap_or_default();
    let get = |k: &str, default: &str| {
        env.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or(default).to_owned()
    };
    [get("KDRILL_LAB_DC_BOOTSTRAP", "127.0.0.1:19092"), get("KDRILL_LAB_DR_BOOTSTRAP", "127.0.0.1:29092")]
}

fn lab_answers() -> bool {
    bootstraps()
        .iter()
        .all(|b| b.parse::<SocketAddr>().is_ok_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok()))
}

fn config(stats: bool) -> Config {
    let props = if stats { "properties = { \"statistics.interval.ms\" = \"100\" }\n" } else { "" };
    let text = format!(
        "[clusters.dc]\nbootstrap = \"{}\"\n{props}[clusters.dr]\nbootstrap = \"{}\"\n{props}[timing]\nrequest_timeout = \"30s\"\n",
        bootstraps()[0],
        bootstraps()[1]
    );
    parse(&text, Path::new("bench.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn poller(cfg: &Config, side: Side) -> ClusterPoller {
    ClusterPoller::new(cfg.cluster(side).clone(), cfg.timing.clone(), cfg.settings.classification.clone())
}

fn topic_names() -> Vec<String> {
    (0..scale().0).map(|i| format!("{TOPIC_PREFIX}{i:04}-internal")).collect()
}

fn group_names() -> Vec<String> {
    (0..scale().1).map(|i| format!("{GROUP_PREFIX}{i:04}")).collect()
}

/// Which fixture parts exist on a cluster, and its brokers, from a plain
/// metadata/groups poll.
fn existing(bootstrap_side: Side) -> (usize, usize, usize) {
    let cfg = config(false);
    let mut p = poller(&cfg, bootstrap_side);
    p.poll();
    let c = p.cluster();
    let topics = c.topics.as_ref().map_or(0, |t| t.value.iter().filter(|t| t.name.starts_with(TOPIC_PREFIX)).count());
    let groups = c.groups.as_ref().map_or(0, |g| g.value.iter().filter(|g| g.id.starts_with(GROUP_PREFIX)).count());
    let brokers = c.brokers.as_ref().map_or(0, |b| b.value.len());
    (topics, groups, brokers)
}

/// Commits offset 0..3 on partitions 0..3 of the first bench topic for every
/// bench group, without joining (simple groups), 16 threads.
fn create_groups(bootstrap: &str) {
    let names = group_names();
    let topic = topic_names()[0].clone();
    std::thread::scope(|s| {
        for chunk in names.chunks(names.len().div_ceil(16)) {
            let topic = &topic;
            s.spawn(move || {
                for g in chunk {
                    let c: BaseConsumer = ClientConfig::new()
                        .set("bootstrap.servers", bootstrap)
                        .set("group.id", g)
                        .set("enable.auto.commit", "false")
                        .create()
                        .unwrap_or_else(|e| panic!("{e}"));
                    let mut tpl = TopicPartitionList::new();
                    for p in 0..4 {
                        tpl.add_partition_offset(topic, p, Offset::Offset(0)).unwrap_or_else(|e| panic!("{e}"));
                    }
                    support::wait_for(&format!("commit of {g}"), Duration::from_secs(60), || {
                        c.commit(&tpl, CommitMode::Sync).map_err(|e| e.to_string())
                    });
                }
            });
        }
    });
}

/// Requests sent per API between two statistics samples around one poll;
/// `latest` is where the poller's statistics sink keeps the newest JSON of
/// each of its clients (the poller's own and its `__consumer_offsets` reader).
fn requests_of_one_poll(p: &mut ClusterPoller, latest: &Mutex<BTreeMap<String, String>>) -> BTreeMap<String, u64> {
    let sample = |p: &ClusterPoller| -> BTreeMap<String, u64> {
        std::thread::sleep(Duration::from_millis(400));
        p.serve_events();
        let jsons = latest.lock().map(|j| j.clone()).unwrap_or_default();
        let mut out = BTreeMap::new();
        for json in jsons.values() {
            let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
            if let Some(brokers) = v.get("brokers").and_then(|b| b.as_object()) {
                for b in brokers.values() {
                    for (api, n) in b.get("req").and_then(|r| r.as_object()).into_iter().flatten() {
                        *out.entry(api.clone()).or_insert(0) += n.as_u64().unwrap_or(0);
                    }
                }
            }
        }
        out
    };
    // Warm: connections, topic configs, and the offsets reader's client
    // settled (its coordinator lookup, done once, is not a poll's cost).
    for _ in 0..5 {
        p.poll();
        std::thread::sleep(Duration::from_secs(1));
    }
    let before = sample(p);
    p.poll();
    let after = sample(p);
    after
        .into_iter()
        .map(|(k, v)| {
            let d = v.saturating_sub(before.get(&k).copied().unwrap_or(0));
            (k, d)
        })
        .filter(|(_, d)| *d > 0)
        .collect()
}

/// Prints the requests of one steady poll of dc: committed offsets read
/// from `__consumer_offsets`, and, on the same lab, one OffsetFetch per group.
fn print_requests(label: &str) {
    for per_group in [false, true] {
        let cfg = config(true);
        let latest = Arc::new(Mutex::new(BTreeMap::<String, String>::new()));
        let sink = Arc::clone(&latest);
        let p = poller(&cfg, Side::Dc).with_statistics(Arc::new(move |json: &str| {
            let name = serde_json::from_str::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                .unwrap_or_default();
            if let Ok(mut l) = sink.lock() {
                l.insert(name, json.to_owned());
            }
        }));
        let mut p = if per_group { p.with_offsets_per_group() } else { p };
        let req = requests_of_one_poll(&mut p, &latest);
        let total: u64 = req.values().sum();
        let c = p.cluster();
        let partitions: usize = c.topics.as_ref().map_or(0, |t| t.value.iter().map(|t| t.partitions.len()).sum());
        let groups = c.groups.as_ref().map_or(0, |g| g.value.len());
        let brokers = c.brokers.as_ref().map_or(0, |b| b.value.len());
        let source = c.offsets_source.as_ref().map(kdrill::model::OffsetsSource::describe).unwrap_or_default();
        println!(
            "requests per poll of dc, {label}: {brokers} broker(s), {partitions} partitions, {groups} groups, \
             offsets {source} -> {total} requests {req:?} (the poller's own average: {:?})",
            c.polls.requests_per_poll
        );
    }
}

/// Waits (bounded) until both clusters answer end offsets of every bench
/// partition: new partitions need their leaders elected first.
fn wait_for_bench_offsets() {
    let cfg = config(false);
    for side in [Side::Dc, Side::Dr] {
        let mut p = poller(&cfg, side);
        // Brokers create a partition's log only after the controller has
        // created the partition: ≈ 400 a second over 14 brokers on 2 cores.
        let bound = Duration::from_secs(180).max(Duration::from_millis(10) * (scale().0 as u32 * PARTITIONS as u32));
        support::wait_for("end offsets of every bench partition", bound, || {
            p.poll();
            let n = p.cluster().topics.as_ref().map_or(0, |t| {
                t.value
                    .iter()
                    .filter(|t| t.name.starts_with(TOPIC_PREFIX))
                    .flat_map(|t| &t.partitions)
                    .filter(|p| p.end_offset.is_some())
                    .count()
            });
            if n == scale().0 * PARTITIONS as usize { Ok(()) } else { Err(format!("{n} readable")) }
        });
    }
}

fn compare_with_fetch_watermarks() {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstraps()[0])
        .set("isolation.level", "read_uncommitted")
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    // The first 10,000 partitions: per-partition requests take minutes beyond.
    let names: Vec<String> = topic_names().into_iter().take(100).collect();
    let parts: Vec<(&str, i32)> = names.iter().flat_map(|t| (0..PARTITIONS).map(move |p| (t.as_str(), p))).collect();
    // Warm the connection and the metadata cache.
    let _ = ffi::end_offsets(consumer.client(), &parts, Instant::now() + Duration::from_secs(30));
    let t = Instant::now();
    let batched = ffi::end_offsets(consumer.client(), &parts, Instant::now() + Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    let one_call_time = t.elapsed();
    assert!(batched.iter().all(|r| r.is_ok()), "every end offset read");
    let t = Instant::now();
    for chunk in parts.chunks(cluster::end_offsets_batch(parts.len())) {
        ffi::end_offsets(consumer.client(), chunk, Instant::now() + Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let batched_time = t.elapsed();
    let t = Instant::now();
    for (topic, p) in &parts {
        consumer.fetch_watermarks(topic, *p, Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e}"));
    }
    let naive_time = t.elapsed();
    println!(
        "end offsets of {} partitions on one broker: offsets_for_times in batches of {} (the collector) {:?}, in one call {:?}, per-partition fetch_watermarks {:?}; ratio fetch_watermarks/collector {:.0}x",
        parts.len(),
        cluster::end_offsets_batch(parts.len()),
        batched_time,
        one_call_time,
        naive_time,
        naive_time.as_secs_f64() / batched_time.as_secs_f64().max(1e-9)
    );
}

fn main() {
    if !lab_answers() {
        println!("poll bench skipped: no lab answers on {:?}; start it with `scripts/lab up`", bootstraps());
        return;
    }
    // Thousands of partitions slow every broker request: keep lab tests out.
    let _lab = support::exclusive();
    let keep = std::env::var("KDRILL_BENCH_KEEP").is_ok_and(|v| v == "1");
    let sides = [Side::Dc, Side::Dr];
    let (topics_wanted, groups_wanted) = scale();
    let partitions = topics_wanted * PARTITIONS as usize;
    let before: Vec<(usize, usize, usize)> = sides.iter().map(|&s| existing(s)).collect();
    for (side, &(_, _, brokers)) in sides.iter().zip(&before) {
        if partitions > brokers * PARTITIONS_PER_BROKER {
            println!(
                "poll bench skipped: {partitions} partitions need {} brokers on {side} (it has {brokers}): \
                 a broker holds a file open per partition; add brokers with `scripts/lab scale up {}`",
                partitions.div_ceil(PARTITIONS_PER_BROKER),
                partitions.div_ceil(PARTITIONS_PER_BROKER).max(2)
            );
            return;
        }
    }
    let fresh = before.iter().all(|&(t, g, _)| t == 0 && g == 0);
    if fresh {
        print_requests("bare lab");
    }
    std::thread::scope(|s| {
        for (i, &(topics, _, _)) in before.iter().enumerate() {
            if topics < topics_wanted {
                s.spawn(move || {
                    let t = Instant::now();
                    // KRaft bounds one controller batch to 10,000 records (a record
                    // per partition, plus topic records): 10 topics at a time.
                    for chunk in topic_names()[topics..].chunks(10) {
                        support::create_topics(&bootstraps()[i], chunk, PARTITIONS);
                    }
                    println!("created {partitions} partitions on {} in {:?}", bootstraps()[i], t.elapsed());
                });
            }
        }
    });
    wait_for_bench_offsets();
    if fresh {
        print_requests(&format!("+{partitions} partitions"));
    }
    for (i, &(_, groups, _)) in before.iter().enumerate() {
        if groups < groups_wanted {
            let t = Instant::now();
            create_groups(&bootstraps()[i]);
            println!("created {groups_wanted} groups on {} in {:?}", bootstraps()[i], t.elapsed());
        }
    }
    print_requests(&format!("+{partitions} partitions and {groups_wanted} groups"));
    compare_with_fetch_watermarks();

    let cfg = config(false);
    let mut pollers: Vec<ClusterPoller> = sides.iter().map(|&s| poller(&cfg, s)).collect();
    let first = Instant::now();
    std::thread::scope(|s| {
        for p in pollers.iter_mut() {
            s.spawn(move || p.poll());
        }
    });
    println!("first full poll of both clusters (with topic configs): {:?}", first.elapsed());
    for p in pollers.iter_mut() {
        let t = Instant::now();
        let stats = p.poll();
        println!("  one steady poll of {} alone: {:?} {stats:?}", p.cluster().alias, t.elapsed());
    }
    for p in &pollers {
        let c = p.cluster();
        let parts: usize = c.topics.as_ref().map_or(0, |t| t.value.iter().map(|t| t.partitions.len()).sum());
        let groups = c.groups.as_ref().map_or(0, |g| g.value.len());
        let committed = c.groups.as_ref().map_or(0, |g| g.value.iter().filter(|g| g.committed.is_some()).count());
        println!(
            "  {}: {parts} partitions, {groups} groups, {committed} with committed offsets, link {:?}",
            c.alias, c.link
        );
    }
    let mut crit = Criterion::default().configure_from_args().sample_size(10);
    crit.bench_function(
        &format!("full poll of both clusters ({partitions} partitions + {groups_wanted} groups each)"),
        |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for p in pollers.iter_mut() {
                        s.spawn(move || p.poll());
                    }
                })
            })
        },
    );
    crit.final_summary();

    if !keep {
        for b in &bootstraps() {
            support::delete_topics(b, &topic_names());
            support::delete_groups(b, &group_names());
        }
        println!("deleted the bench topics and groups (KDRILL_BENCH_KEEP=1 keeps them)");
    }
}
