//! Shared helpers for tests against the real lab (`scripts/lab`): two
//! single-node KRaft clusters on loopback (dc 127.0.0.1:19092, dr
//! 127.0.0.1:29092) and MM2 dc→dr on dr. Use with `mod support;`.
//!
//! * [`lab`] brings the lab up once per test process and returns addresses.
//! * Scenarios isolate themselves by name ([`unique`]): test binaries may
//!   run in parallel against the same lab.
//! * A scenario that disrupts the lab (stops a broker, stops MM2) holds
//!   [`exclusive`]; every other lab scenario holds [`shared`] while it runs,
//!   so nothing observes the lab mid-disruption. The lock is a file beside
//!   the lab state (`$KDRILL_LAB_DIR.tests.lock`), held through `flock(1)`.
//! * Real rdkafka clients: [`create_topic`], [`produce`], [`GroupMember`]
//!   (classic or KIP-848 `consumer` protocol), and Kafka's own
//!   `kafka-consumer-groups` through [`describe_group_with_kafka_tool`], and
//!   the consumer lag it prints from a kdrill snapshot ([`lag::consumer_lag`]).
//! * [`kube`]: the lab's Kubernetes (`scripts/lab kube`), brought up by
//!   [`kube::kube_lab`], changed by the test through its own admin client.
//!
//! Every wait is bounded and every address is on 127.0.0.1.

#![allow(dead_code)] // each test binary uses a different subset

pub mod connect;
pub mod console;
pub mod kube;
pub mod lag;
pub mod serve;

use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

/// Addresses of the running lab.
#[derive(Clone, Debug)]
pub struct Lab {
    pub dc: String,
    pub dr: String,
    /// `$KDRILL_LAB_DIR` (state, logs).
    pub dir: PathBuf,
    /// The repository root (where `scripts/lab` lives).
    pub root: PathBuf,
}

impl Lab {
    pub fn script(&self) -> PathBuf {
        self.root.join("scripts").join("lab")
    }

    /// Runs `scripts/lab ARGS...`, bounded by `timeout`; its output on failure.
    pub fn run(&self, args: &[&str], timeout: Duration) -> Result<String, String> {
        run_bounded(Command::new(self.script()).args(args).current_dir(&self.root), timeout)
            .map_err(|e| format!("scripts/lab {}: {e}", args.join(" ")))
    }
}

fn lab_dir() -> PathBuf {
    std::env::var_os("KDRILL_LAB_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/kdrill-lab"))
}

/// Brings the lab up once per test process (`scripts/lab up` is idempotent
/// and takes its own lock) and returns its addresses. Panics with the
/// reason and where to look when the lab cannot be started in time
/// (`KDRILL_LAB_UP_TIMEOUT` seconds, default 900: the first run downloads
/// Kafka's jars).
pub fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = lab_dir();
        let lab = Lab { dc: "127.0.0.1:19092".into(), dr: "127.0.0.1:29092".into(), dir: dir.clone(), root };
        let secs = std::env::var("KDRILL_LAB_UP_TIMEOUT").ok().and_then(|v| v.parse().ok()).unwrap_or(900);
        // A lab that runs is left as it is: `up` would also restart MM2,
        // which another test process may have stopped on purpose.
        let running = lab.run(&["status"], Duration::from_secs(60)).is_ok();
        if let Err(e) = if running { Ok(String::new()) } else { lab.run(&["up"], Duration::from_secs(secs)) } {
            panic!(
                "the lab did not come up: {e}\nlogs: {}/logs/ (broker-dc.log, broker-dr.log, connect-dc-dr.log)",
                dir.display()
            );
        }
        let env = std::fs::read_to_string(dir.join("lab.env")).unwrap_or_default();
        let get = |k: &str| env.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).map(str::to_owned);
        Lab {
            dc: get("KDRILL_LAB_DC_BOOTSTRAP").unwrap_or(lab.dc),
            dr: get("KDRILL_LAB_DR_BOOTSTRAP").unwrap_or(lab.dr),
            ..lab
        }
    })
}

/// The lab's sample application as kdrill's configuration declares it, with
/// MM2's heartbeats mirrored (`[replication]` and `[apps]`, TOML).
pub const LAB_APPS: &str = r#"
[replication]
heartbeats = "mirrored"
[apps]
topics = ["redis-writes", "orders"]
groups = ["orders-app", "writes-app"]
"#;

/// Timing for a drill driven on the lab: a poll a second, gates held 5 s.
pub const LAB_DRILL_TIMING: &str = r#"
[timing]
poll_interval = "1s"
hold_window = "5s"
stale_after = "10s"
rate_window = "10s"
"#;

/// kdrill's configuration for this lab: its two clusters, then `rest`
/// (MM2 deployments, timing...) as TOML.
pub fn lab_config(rest: &str) -> kdrill::config::Config {
    let l = lab();
    let text = format!("[clusters.dc]\nbootstrap = \"{}\"\n[clusters.dr]\nbootstrap = \"{}\"\n{rest}", l.dc, l.dr);
    kdrill::config::parse(&text, std::path::Path::new("lab-test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// `examples/lab.toml` as it reads against this lab: its clusters and MM2
/// REST addresses from `lab.env` (a private lab shifts every port).
pub fn lab_example_config() -> kdrill::config::Config {
    let (text, path) = lab_example_text();
    kdrill::config::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"))
}

/// [`lab_example_config`] written to a file of this lab's, for a kdrill
/// process to read.
pub fn lab_example_file() -> PathBuf {
    let (text, _) = lab_example_text();
    let path = lab().dir.join(format!("lab-example-{}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

fn lab_example_text() -> (String, PathBuf) {
    let l = lab();
    let path = l.root.join("examples/lab.toml");
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let env = std::fs::read_to_string(l.dir.join("lab.env")).unwrap_or_default();
    let get = |k: &str| env.lines().find_map(|line| line.strip_prefix(&format!("{k}="))).map(str::to_owned);
    let moves = [
        ("127.0.0.1:19092", Some(l.dc.clone())),
        ("127.0.0.1:29092", Some(l.dr.clone())),
        ("http://127.0.0.1:28083", get("KDRILL_LAB_MM2_DC_DR_REST")),
        ("http://127.0.0.1:18083", get("KDRILL_LAB_MM2_DR_DC_REST")),
    ];
    for (from, to) in moves {
        if let Some(to) = to {
            text = text.replace(from, &to);
        }
    }
    (text, path)
}

/// Runs a command with a deadline; stdout on success, stdout+stderr tail otherwise.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result<String, String> {
    let out_path = std::env::temp_dir().join(format!("kdrill-test-cmd-{}.out", unique("o")));
    let err_path = out_path.with_extension("err");
    let (out, err) = match (std::fs::File::create(&out_path), std::fs::File::create(&err_path)) {
        (Ok(o), Ok(e)) => (o, e),
        _ => return Err("cannot create temporary output files".into()),
    };
    let mut child = cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn().map_err(|e| format!("cannot run: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("still running after {timeout:?}, killed"));
            }
            Ok(None) => thread::sleep(Duration::from_millis(50)),
            Err(e) => break Err(e.to_string()),
        }
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    let tail = |s: &str| s.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    match status {
        Ok(s) if s.success() => Ok(stdout),
        Ok(s) => Err(format!("{s}\n{}\n{}", tail(&stdout), tail(&stderr))),
        Err(e) => Err(format!("{e}\n{}\n{}", tail(&stdout), tail(&stderr))),
    }
}

/// A name no other scenario, test binary or earlier run uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{}-{}", std::process::id(), nanos % 1_000_000_000_000, N.fetch_add(1, Ordering::Relaxed))
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `timeout`
/// with `what` and the last state `describe` gives.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last: {last}")
            }
            Err(_) => thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Runs a runtime-agnostic future (rdkafka's admin futures) on this thread.
pub fn block_on<F: Future>(f: F, timeout: Duration) -> Option<F::Output> {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    let deadline = Instant::now() + timeout;
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        thread::park_timeout(deadline - now);
    }
}

// ---------------------------------------------------------------- lab lock

/// A held lab lock; released on drop.
pub struct LabLock {
    child: Child,
}

impl Drop for LabLock {
    fn drop(&mut self) {
        // Closing its stdin ends `cat`, and with it `flock` and the lock.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn lock(shared: bool, timeout: Duration) -> LabLock {
    let path = PathBuf::from(format!("{}.tests.lock", lab_dir().display()));
    let mode = if shared { "--shared" } else { "--exclusive" };
    let secs = timeout.as_secs().max(1).to_string();
    let mut child = Command::new("flock")
        .args([mode, "-w", &secs])
        .arg(&path)
        .args(["-c", "echo locked; exec cat >/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run flock(1) for {}: {e}", path.display()));
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    if line.trim() != "locked" {
        let _ = child.kill();
        let _ = child.wait();
        panic!("could not take the {mode} lab lock {} within {timeout:?}", path.display());
    }
    LabLock { child }
}

/// Held by a scenario that only observes the lab (waits out disruptions).
pub fn shared() -> LabLock {
    lock(true, Duration::from_secs(900))
}

/// Held by a scenario that disrupts the lab (waits for observers to finish).
pub fn exclusive() -> LabLock {
    lock(false, Duration::from_secs(900))
}

// ---------------------------------------------------------------- clients

fn base(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap).set("socket.timeout.ms", "10000");
    c
}

/// Creates a topic (replication factor 1) and waits until it exists.
pub fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    create_topics(bootstrap, &[name.to_owned()], partitions);
}

/// Creates topics in one request (replication factor 1).
pub fn create_topics(bootstrap: &str, names: &[String], partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        base(bootstrap).create().unwrap_or_else(|e| panic!("admin client for {bootstrap}: {e}"));
    let topics: Vec<NewTopic> =
        names.iter().map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1))).collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(60)));
    let res = block_on(admin.create_topics(&topics, &opts), Duration::from_secs(90))
        .unwrap_or_else(|| panic!("creating {} topic(s) on {bootstrap} timed out", names.len()))
        .unwrap_or_else(|e| panic!("creating topics on {bootstrap}: {e}"));
    for r in res {
        if let Err((t, e)) = r {
            panic!("creating topic {t} on {bootstrap}: {e}");
        }
    }
}

/// Deletes topics (best effort, for cleanup).
pub fn delete_topics(bootstrap: &str, names: &[String]) {
    let Ok(admin) = base(bootstrap).create::<AdminClient<DefaultClientContext>>() else { return };
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    for chunk in refs.chunks(500) {
        let _ = block_on(admin.delete_topics(chunk, &AdminOptions::new()), Duration::from_secs(120));
    }
}

/// Deletes consumer groups without members (best effort, for cleanup).
pub fn delete_groups(bootstrap: &str, names: &[String]) {
    let Ok(admin) = base(bootstrap).create::<AdminClient<DefaultClientContext>>() else { return };
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    for chunk in refs.chunks(500) {
        let _ = block_on(admin.delete_groups(chunk, &AdminOptions::new()), Duration::from_secs(120));
    }
}

/// Produces `counts[p]` records to partition `p` of `topic`, acks=all,
/// waits until every record is acknowledged; panics on any failure.
pub fn produce(bootstrap: &str, topic: &str, counts: &[usize]) {
    let failed = Arc::new(AtomicU64::new(0));
    struct Ctx(Arc<AtomicU64>);
    impl rdkafka::ClientContext for Ctx {}
    impl rdkafka::producer::ProducerContext for Ctx {
        type DeliveryOpaque = ();
        fn delivery(&self, r: &rdkafka::producer::DeliveryResult<'_>, _: ()) {
            if r.is_err() {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let producer: ThreadedProducer<Ctx> = base(bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .create_with_context(Ctx(failed.clone()))
        .unwrap_or_else(|e| panic!("producer for {bootstrap}: {e}"));
    for (p, &n) in counts.iter().enumerate() {
        for i in 0..n {
            let payload = format!("record {i} of partition {p}");
            let key = i.to_string();
            let mut record = BaseRecord::to(topic).partition(p as i32).key(&key).payload(&payload);
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((e, r)) if Instant::now() < deadline => {
                        let _ = e;
                        record = r;
                        thread::sleep(Duration::from_millis(10));
                    }
                    Err((e, _)) => panic!("producing to {topic}/{p}: {e}"),
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap_or_else(|e| panic!("flushing to {topic}: {e}"));
    assert_eq!(failed.load(Ordering::Relaxed), 0, "some records to {topic} were not acknowledged");
}

/// The sum of the high watermarks of `topics` on `bootstrap`, as Kafka
/// reports them to a plain consumer: records a side holds, counted
/// without kdrill.
pub fn records_held(bootstrap: &str, topics: &[&str]) -> i64 {
    let consumer: BaseConsumer = base(bootstrap).create().unwrap_or_else(|e| panic!("consumer for {bootstrap}: {e}"));
    let mut total = 0;
    for topic in topics {
        let md = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("metadata of {topic} on {bootstrap}: {e}"));
        let parts = md.topics().first().map_or(0, |t| t.partitions().len()) as i32;
        for p in 0..parts {
            let (_, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("watermarks of {topic}/{p} on {bootstrap}: {e}"));
            total += high;
        }
    }
    total
}

/// A real producer writing `per_sec` records a second into a topic on its
/// own thread, in tenths of a second, until dropped.
pub struct SteadyProducer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SteadyProducer {
    pub fn start(bootstrap: &str, topic: &str, per_sec: usize) -> SteadyProducer {
        let producer: ThreadedProducer<rdkafka::producer::DefaultProducerContext> =
            base(bootstrap).set("linger.ms", "5").create().unwrap_or_else(|e| panic!("producer for {bootstrap}: {e}"));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (stop2, topic) = (stop.clone(), topic.to_owned());
        let thread = thread::spawn(move || {
            let mut n = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                for _ in 0..per_sec.div_ceil(10) {
                    let key = n.to_string();
                    // A full queue drops the record: the rate is a target, not a count.
                    let _ = producer.send(BaseRecord::to(&topic).partition(0).key(&key).payload("steady"));
                    n += 1;
                }
                thread::sleep(Duration::from_millis(100));
            }
            let _ = producer.flush(Duration::from_secs(10));
        });
        SteadyProducer { stop, thread: Some(thread) }
    }
}

impl Drop for SteadyProducer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Which group protocol a test consumer speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Classic,
    /// KIP-848 (`group.protocol=consumer`).
    Consumer,
}

enum Cmd {
    Commit(Vec<(String, i32, i64)>, mpsc::Sender<Result<(), String>>),
}

/// A real group member on its own thread: subscribes to `topic` in `group`,
/// keeps polling (so it stays a member), consumes and discards records, and
/// commits only what it is told to. Leaves the group when dropped.
pub struct GroupMember {
    pub group: String,
    pub client_id: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    cmds: mpsc::Sender<Cmd>,
    thread: Option<JoinHandle<()>>,
}

impl GroupMember {
    pub fn join(bootstrap: &str, group: &str, topic: &str, protocol: Protocol, client_id: &str) -> GroupMember {
        let mut cfg = base(bootstrap);
        cfg.set("group.id", group)
            .set("client.id", client_id)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest");
        match protocol {
            Protocol::Classic => cfg.set("group.protocol", "classic").set("session.timeout.ms", "10000"),
            Protocol::Consumer => cfg.set("group.protocol", "consumer"),
        };
        let consumer: BaseConsumer =
            cfg.create().unwrap_or_else(|e| panic!("consumer {client_id} for {bootstrap}: {e}"));
        consumer.subscribe(&[topic]).unwrap_or_else(|e| panic!("subscribing {client_id} to {topic}: {e}"));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Cmd>();
        let stop2 = stop.clone();
        let thread = thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let _ = consumer.poll(Duration::from_millis(100));
                while let Ok(Cmd::Commit(offsets, reply)) = rx.try_recv() {
                    let mut tpl = TopicPartitionList::new();
                    let built = offsets.iter().try_for_each(|(t, p, o)| {
                        tpl.add_partition_offset(t, *p, Offset::Offset(*o)).map_err(|e| e.to_string())
                    });
                    let r = built.and_then(|()| consumer.commit(&tpl, CommitMode::Sync).map_err(|e| e.to_string()));
                    let _ = reply.send(r);
                }
            }
            consumer.unsubscribe();
            drop(consumer);
        });
        GroupMember { group: group.into(), client_id: client_id.into(), stop, cmds: tx, thread: Some(thread) }
    }

    /// Commits exactly these offsets (topic, partition, next offset to read).
    pub fn commit(&self, offsets: &[(&str, i32, i64)]) -> Result<(), String> {
        let (tx, rx) = mpsc::channel();
        let owned = offsets.iter().map(|(t, p, o)| ((*t).to_owned(), *p, *o)).collect();
        self.cmds.send(Cmd::Commit(owned, tx)).map_err(|_| "consumer thread gone".to_string())?;
        rx.recv_timeout(Duration::from_secs(30)).map_err(|_| "commit timed out".to_string())?
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One row of `kafka-consumer-groups --describe`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolRow {
    pub topic: String,
    pub partition: i32,
    pub current: Option<i64>,
    pub log_end: Option<i64>,
    pub lag: Option<i64>,
}

/// Runs Kafka's own `kafka-consumer-groups --describe --group GROUP` (the
/// independent peer) and parses its table; `-` becomes `None`.
pub fn describe_group_with_kafka_tool(bootstrap: &str, group: &str) -> Result<Vec<ToolRow>, String> {
    let out = lab().run(
        &["tool", "kafka-consumer-groups", "--bootstrap-server", bootstrap, "--describe", "--group", group],
        Duration::from_secs(120),
    )?;
    let mut rows = Vec::new();
    let mut header: Option<Vec<&str>> = None;
    for line in out.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.first() == Some(&"GROUP") {
            header = Some(cols);
            continue;
        }
        let Some(h) = &header else { continue };
        if cols.len() < h.len() || cols.first() != Some(&group) {
            continue;
        }
        let col = |name: &str| h.iter().position(|c| *c == name).and_then(|i| cols.get(i)).copied();
        let num = |name: &str| col(name).and_then(|v| v.parse::<i64>().ok());
        rows.push(ToolRow {
            topic: col("TOPIC").unwrap_or_default().to_owned(),
            partition: num("PARTITION").and_then(|p| i32::try_from(p).ok()).unwrap_or(-1),
            current: num("CURRENT-OFFSET"),
            log_end: num("LOG-END-OFFSET"),
            lag: num("LAG"),
        });
    }
    if header.is_none() {
        return Err(format!("no table in kafka-consumer-groups output:\n{out}"));
    }
    Ok(rows)
}

/// Writes a line to stderr right away (test output is captured otherwise).
pub fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// `scripts/lab verify` (the lab's independent verifier) of the sample
/// app's runs started since `since_ms`, reading only what was written since
/// (other tests' runs are not the caller's business), repeated until it
/// says ok (replication may still be catching up), bounded: its report, or
/// a failure with the last report.
pub fn verify_runs_since(since_ms: i64) -> serde_json::Value {
    use serde_json::Value;
    let l = lab();
    let since = since_ms.to_string();
    let mut last = Value::Null;
    for _ in 0..60 {
        let out = std::process::Command::new(l.script())
            .args(["verify", "--since", &since])
            .current_dir(&l.root)
            .output()
            .unwrap_or_else(|e| panic!("scripts/lab verify: {e}"));
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("verify printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
        let runs = report["sides"]
            .as_object()
            .into_iter()
            .flat_map(|s| s.values())
            .flat_map(|side| side["topics"].as_object().into_iter().flat_map(|t| t.values()))
            .filter(|t| t["runs"].as_object().is_some_and(|r| !r.is_empty()))
            .count();
        if out.status.code() == Some(0) {
            assert!(runs > 0, "no app run of this test: {report:#}");
            return report;
        }
        last = report;
        std::thread::sleep(Duration::from_secs(2));
    }
    panic!("the verifier found loss or duplicates: {last:#}");
}
