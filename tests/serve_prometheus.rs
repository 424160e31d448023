//! `kdrill serve` judged by Prometheus's own tools: `promtool` accepts its
//! /metrics and the alerting rules of examples/alerts.yml (whose unit tests
//! fire and hold back alerts), and a real Prometheus server scrapes kdrill
//! serving the lab and answers PromQL with the figures kdrill's own
//! assessment gives. `scripts/test` installs promtool and prometheus
//! (Debian's `prometheus` package); without them these tests fail.

// The helpers run only under test: a panic there is the test's failure.
#![allow(clippy::expect_used)]

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Prometheus's tool `name`, which must be installed: no skipping.
fn tool(name: &str) -> Command {
    let found = Command::new(name).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    assert!(
        found.is_ok_and(|s| s.success()),
        "{name} not found: run scripts/test, which installs Debian's `prometheus` package \
         (apt-get install --no-install-recommends prometheus)"
    );
    let mut cmd = Command::new(name);
    cmd.current_dir(root());
    cmd
}

fn say(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

use support::serve::{Process, await_ok, get, serve};

#[test]
fn promtool_accepts_the_metrics_of_the_demo() {
    let (_server, addr) = serve(&["--demo"]);
    await_ok(&addr, "/readyz", Duration::from_secs(30));
    let (status, metrics) = get(&addr, "/metrics");
    assert_eq!(status, 200);
    let mut check = tool("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    check.stdin.take().expect("stdin").write_all(metrics.as_bytes()).expect("feed promtool");
    let out = check.wait_with_output().expect("promtool ends");
    // Lint warnings are printed and fail the check as well: none may appear.
    assert!(out.status.success(), "promtool check metrics:\n{}\n{metrics}", say(&out));
    assert!(say(&out).trim().is_empty(), "promtool check metrics warns:\n{}", say(&out));
    for added in ["kdrill_mm2_stalled{", "kdrill_topic_drift_topics{difference=\"missing\"}"] {
        assert!(metrics.contains(added), "{added} missing:\n{metrics}");
    }
}

#[test]
fn the_example_alerting_rules_load_and_their_unit_tests_pass() {
    let out = tool("promtool").args(["check", "rules", "examples/alerts.yml"]).output().expect("run promtool");
    assert!(out.status.success(), "promtool check rules:\n{}", say(&out));
    let out =
        tool("promtool").args(["test", "rules", "tests/prometheus/alerts_test.yml"]).output().expect("run promtool");
    assert!(out.status.success(), "promtool test rules:\n{}", say(&out));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// One PromQL query's single value, if it has exactly one series.
fn query(prometheus: &str, promql: &str) -> Option<f64> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, body) = get(prometheus, &format!("/api/v1/query?query={encoded}"));
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let result = v["data"]["result"].as_array()?;
    if result.len() != 1 {
        return None;
    }
    result[0]["value"][1].as_str()?.parse().ok()
}

/// A real Prometheus scrapes `kdrill serve` on the lab every second; PromQL
/// through its HTTP API returns what kdrill's `/api/v1/assessment` says.
#[test]
fn a_real_prometheus_scrapes_the_lab_figures_kdrill_assesses() {
    support::lab();
    let _lock = support::shared();
    let prometheus_bin = tool("prometheus");
    let config = support::lab_example_file();
    let (_server, kdrill) = serve(&["--config", &config.to_string_lossy()]);
    await_ok(&kdrill, "/readyz", Duration::from_secs(60));

    let dir = std::env::temp_dir().join(format!("kdrill-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: kdrill\n    static_configs:\n      - targets: [\"{kdrill}\"]\n"
        ),
    )
    .expect("write prometheus.yml");
    let prometheus = format!("127.0.0.1:{}", free_port());
    let arg = |k: &str, v: &Path| format!("--{k}={}", v.display());
    let mut cmd = prometheus_bin;
    cmd.args([arg("config.file", &config), arg("storage.tsdb.path", &dir.join("data"))])
        .arg(format!("--web.listen-address={prometheus}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("log file"));
    let server = Process::own(cmd.spawn().expect("spawn prometheus"));
    let log = || std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&prometheus, "/-/ready").0 != 200 {
        assert!(Instant::now() < deadline, "prometheus never became ready:\n{}", log());
        std::thread::sleep(Duration::from_millis(200));
    }
    // Scraped at least once, successfully.
    let deadline = Instant::now() + Duration::from_secs(30);
    while query(&prometheus, "up{job=\"kdrill\"}") != Some(1.0) {
        assert!(Instant::now() < deadline, "prometheus never scraped kdrill at {kdrill}:\n{}", log());
        std::thread::sleep(Duration::from_millis(500));
    }

    // Both figures are stable on a quiet lab: a side's brokers stay up
    // unless a test stops one (those hold the lab lock exclusively, and we
    // hold it shared); the DC→DR lag stays put while nothing produces to
    // DC's application topics (the lab's apps are stopped). Other shared
    // holders may produce to their own topics and move the lag for a
    // moment, so the two are compared until they agree, bounded.
    let assessed = |kdrill: &str| -> serde_json::Value {
        let (status, body) = get(kdrill, "/api/v1/assessment");
        assert_eq!(status, 200);
        serde_json::from_str(&body).expect("the assessment is JSON")
    };
    let figures = [
        ("kdrill_side_brokers_up{side=\"dc\"}", "brokers up on DC"),
        ("kdrill_replication_lag_records{flow=\"dc-dr\"}", "DC→DR lag"),
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let report = assessed(&kdrill);
        let dc = report["sides"].as_array().and_then(|s| s.iter().find(|s| s["side"] == "DC")).expect("DC");
        let lag = report["lag"].as_array().and_then(|l| l.iter().find(|l| l["flow"] == "DC→DR")).expect("DC→DR");
        let expected = [dc["brokers_up"].as_f64(), lag["total_records"].as_f64()];
        assert!(expected.iter().all(Option::is_some), "the lab's figures are known: {report}");
        let scraped: Vec<Option<f64>> = figures.iter().map(|(q, _)| query(&prometheus, q)).collect();
        if scraped == expected {
            assert_eq!(expected[0], Some(1.0), "the lab's DC has one broker, up");
            break;
        }
        let apart: Vec<String> = figures
            .iter()
            .zip(expected.iter().zip(&scraped))
            .map(|((_, name), (e, s))| format!("{name}: kdrill {e:?}, prometheus {s:?}"))
            .collect();
        assert!(Instant::now() < deadline, "Prometheus and kdrill never agreed within 60s: {apart:?}\n{}", log());
        std::thread::sleep(Duration::from_millis(500));
    }
    // What a poll costs the lab's DC, counted from librdkafka's statistics:
    // a few requests, never none (the lab's groups are few).
    let deadline = Instant::now() + Duration::from_secs(30);
    let per_poll = loop {
        match query(&prometheus, "kdrill_kafka_requests_per_poll{side=\"dc\"}") {
            Some(n) if n > 0.0 => break n,
            other => assert!(Instant::now() < deadline, "requests per poll of DC: {other:?}\n{}", log()),
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(per_poll < 200.0, "{per_poll} requests per poll of DC");
    let collector = &assessed(&kdrill)["sides"][0]["collector"];
    assert!(
        collector["polls"].as_u64() > Some(1) && collector["requests_per_poll"].as_f64() > Some(0.0),
        "{collector}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The demo world, judged once per virtual second, as `/metrics` renders it.
struct Demo {
    world: kdrill::demo::DemoWorld,
    assessor: kdrill::assess::Assessor,
    a: kdrill::assess::Assessment,
}

impl Demo {
    fn new() -> Demo {
        use chrono::TimeZone;
        let start = chrono::Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).single().expect("a valid time");
        let world = kdrill::demo::DemoWorld::new(7, start);
        let mut assessor = kdrill::assess::Assessor::new(kdrill::demo::demo_settings());
        let a = assessor.assess(&world.observe(), world.now());
        Demo { world, assessor, a }
    }

    fn tick(&mut self) {
        self.world.advance(chrono::TimeDelta::seconds(1));
        self.a = self.assessor.assess(&self.world.observe(), self.world.now());
    }

    fn metrics(&self) -> String {
        kdrill::serve::metrics::render(&kdrill::check::report(&self.a))
    }
}

/// The value of the one sample of `name` whose labels include `with`.
fn sample(metrics: &str, name: &str, with: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(with))
        .map(|l| l.rsplit(' ').next().and_then(|v| v.parse().ok()))
        .collect::<Option<Vec<f64>>>()
        .filter(|v| v.len() == 1)
        .map(|v| v[0])
}

#[test]
fn a_stalled_flow_reads_1_in_kdrill_mm2_stalled_and_promtool_accepts_it() {
    let mut demo = Demo::new();
    for _ in 0..12 {
        demo.tick();
    }
    assert_eq!(sample(&demo.metrics(), "kdrill_mm2_stalled", "flow=\"dc-dr\""), Some(0.0), "{}", demo.metrics());
    demo.world.apply(&kdrill::action::Action::Fault(kdrill::action::Fault::StallMm2)).expect("stall MM2");
    // The demo marks a flow stalled within half a minute of virtual time.
    let stalled = (0..40).any(|_| {
        demo.tick();
        sample(&demo.metrics(), "kdrill_mm2_stalled", "flow=\"dc-dr\"") == Some(1.0)
    });
    assert!(stalled, "{}", demo.metrics());
    promtool_accepts(&demo.metrics());
}

/// `promtool check metrics` passes `metrics` without a lint warning.
fn promtool_accepts(metrics: &str) {
    let mut check = tool("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    check.stdin.take().expect("stdin").write_all(metrics.as_bytes()).expect("feed promtool");
    let out = check.wait_with_output().expect("promtool ends");
    assert!(out.status.success() && say(&out).trim().is_empty(), "promtool check metrics:\n{}\n{metrics}", say(&out));
}

/// Every family kdrill can serve, rendered at once: the collector's
/// figures, disagreements, per-partition lag, checkpoint ages and a drill.
/// Each is listed in docs/metrics.md, and promtool accepts them together.
#[test]
fn every_family_is_documented_and_promtool_accepts_them_all() {
    use kdrill::model::PollCounts;
    let mut demo = Demo::new();
    for _ in 0..12 {
        demo.tick();
    }
    let mut report = kdrill::check::report(&demo.a);
    let plain = kdrill::serve::metrics::render(&report);
    // The demo world has no collector: no counts, rather than zeros.
    for absent in ["kdrill_kafka_failing_polls", "kdrill_kafka_requests_per_poll"] {
        assert!(!plain.contains(absent), "{absent} served for the demo:\n{plain}");
    }
    // Its sources agree: no disagreement is served.
    assert!(!plain.contains("kdrill_mm2_disagreement{"), "{plain}");
    let lag = report.lag.iter().find(|l| l.flow == "DC→DR").expect("the demo's DC→DR lag");
    let worst = lag.worst.first().expect("a partition of DC→DR");
    let partition = format!("topic=\"{}\",partition=\"{}\"", worst.topic, worst.partition);
    assert_eq!(
        sample(&plain, "kdrill_replication_partition_lag_records", &partition),
        worst.records.map(|n| n as f64),
        "{plain}"
    );
    assert!(lag.worst.len() <= 5, "the partitions named are bounded");

    report.sides[0].collector = PollCounts {
        polls: 40,
        failing: 0,
        section_errors: vec!["topic configs: timed out".into()],
        requests_sent: Some(540),
        requests_per_poll: Some(13.5),
    };
    report.sides[0].last_poll_unread = Some(report.sides[0].collector.section_errors.clone());
    let mm2 = report.mm2.iter_mut().find(|m| m.flow == "DC→DR").expect("the demo's MM2 DC→DR");
    mm2.checkpoint_age_secs = Some(4.5);
    mm2.problems.push(kdrill::check::ProblemReport { kind: "workers-without-pods", text: "no pod, 2 workers".into() });
    let status = kdrill::serve::drill::DrillStatus {
        drill_format: kdrill::serve::drill::DRILL_FORMAT,
        plan: "switchover".into(),
        title: "Switchover DC → DR".into(),
        state: "in-progress",
        started_at: report.observed_at,
        step: Some(2),
        steps: 7,
        step_title: Some("Stop the applications on DC".into()),
        blocked: None,
        aborted: None,
        gates: vec![kdrill::serve::drill::Gate {
            label: "no clients on DC".into(),
            state: "unknown",
            observed: "DC unreachable".into(),
            at: None,
        }],
        driver: Some("ops@host".into()),
        driver_since: Some(report.observed_at),
        shared_on: vec!["DC".into(), "DR".into()],
        observed_at: Some(report.observed_at),
        disagreement: Some("the sides' drill topics differ at record 4".into()),
    };
    let all = kdrill::serve::metrics::render_with_drill(&report, Some(&status));
    for (name, with, value) in [
        ("kdrill_kafka_failing_polls", "side=\"dc\"", 0.0),
        ("kdrill_kafka_section_errors", "side=\"dc\"", 1.0),
        ("kdrill_kafka_requests_per_poll", "side=\"dc\"", 13.5),
        ("kdrill_mm2_checkpoint_age_seconds", "flow=\"dc-dr\"", 4.5),
        ("kdrill_mm2_disagreement", "flow=\"dc-dr\",kind=\"workers-without-pods\"", 1.0),
        ("kdrill_drill_sources_disagree", "plan=\"switchover\"", 1.0),
        ("kdrill_drill_gate", "state=\"unknown\"", 1.0),
        ("kdrill_drill_observation_age_seconds", "plan=\"switchover\"", 0.0),
    ] {
        assert_eq!(sample(&all, name, with), Some(value), "{name}{{{with}}}:\n{all}");
    }
    assert!(!all.contains("kdrill_kafka_failing_polls{side=\"dr\"}"), "DR has not polled: no figures");
    // Polls failing: the last poll's unread parts are not known.
    report.sides[0].collector.failing = 3;
    report.sides[0].last_poll_unread = None;
    let failing = kdrill::serve::metrics::render_with_drill(&report, Some(&status));
    assert_eq!(sample(&failing, "kdrill_kafka_failing_polls", "side=\"dc\""), Some(3.0));
    assert!(!failing.contains("kdrill_kafka_section_errors{side=\"dc\"}"), "{failing}");

    let documented = std::fs::read_to_string(root().join("docs/metrics.md")).expect("docs/metrics.md");
    let families: Vec<&str> = all.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
    assert!(families.len() > 40, "{families:?}");
    let undocumented: Vec<&&str> = families.iter().filter(|f| !documented.contains(&format!("`{f}"))).collect();
    assert!(undocumented.is_empty(), "families missing from docs/metrics.md: {undocumented:?}");
    promtool_accepts(&all);
}

#[test]
fn drift_is_counted_by_kind_and_named_for_a_bounded_number_of_topics() {
    use kdrill::assess::drift::{Difference, TopicDrift};
    use kdrill::model::Side;
    let mut demo = Demo::new();
    for _ in 0..12 {
        demo.tick();
    }
    let mut report = kdrill::check::report(&demo.a);
    assert!(report.rules_unchecked_because.is_empty(), "both demo sides fresh");
    let clean = kdrill::serve::metrics::render(&report);
    assert_eq!(sample(&clean, "kdrill_topic_drift_topics", "difference=\"missing\""), Some(0.0), "{clean}");
    // Thousands of mirrors missing: every one counted, a bounded few named.
    report.drift = (0..2000)
        .map(|i| TopicDrift {
            topic: format!("orders-{i}"),
            source: Side::Dc,
            mirror: format!("orders-{i}"),
            target: Side::Dr,
            differences: vec![Difference { kind: "missing", text: "no mirror".into(), blocking: true }],
        })
        .collect();
    let drifted = kdrill::serve::metrics::render(&report);
    assert_eq!(sample(&drifted, "kdrill_topic_drift_topics", "difference=\"missing\""), Some(2000.0));
    assert_eq!(sample(&drifted, "kdrill_topic_drift_topics", "difference=\"partitions\""), Some(0.0));
    let named = drifted.lines().filter(|l| l.starts_with("kdrill_topic_drift{")).count();
    assert!((1..=50).contains(&named), "{named} topics named");
    assert_eq!(
        sample(&drifted, "kdrill_topic_drift", "topic=\"orders-0\""),
        Some(1.0),
        "{}",
        drifted.lines().find(|l| l.starts_with("kdrill_topic_drift{")).unwrap_or_default()
    );
}
