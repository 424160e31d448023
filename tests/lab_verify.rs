//! `scripts/lab verify`, the lab's independent referee for "nothing lost,
//! nothing duplicated" (Python stdlib + Kafka's console consumer, no kdrill
//! code), against the real lab: it must pass a real app run replicated by
//! MM2 dc→dr, and it must fail on a duplicate, a gap, a reordering and a
//! record the other side lacks, each counted exactly.
//!
//! The app scenario starts and stops the dc app, so it holds the lab lock
//! exclusively and leaves the app stopped and MM2 dc→dr running, also on
//! failure. It judges only its own run (`--runs`): other lab tests run apps
//! on dr without a dr→dc flow, or both flows at once, on purpose, and those
//! runs are rightly reported as lost or duplicated.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use support::{Lab, lab, note, unique};

/// One `scripts/lab verify` run: exit code and its JSON report.
struct Verdict {
    code: i32,
    report: Value,
}

/// Runs `scripts/lab verify ARGS`, bounded; panics when it hangs or prints no JSON.
fn verify(lab: &Lab, args: &[&str]) -> Verdict {
    let out_path = std::env::temp_dir().join(format!("{}.json", unique("kdrill-verify")));
    let out = std::fs::File::create(&out_path).unwrap_or_else(|e| panic!("{}: {e}", out_path.display()));
    let started = Instant::now();
    let mut child = Command::new(lab.script())
        .arg("verify")
        .args(args)
        .args(["--timeout", "240"])
        .current_dir(&lab.root)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run scripts/lab verify: {e}"));
    let status = loop {
        if let Some(s) = child.try_wait().unwrap_or_else(|e| panic!("waiting for verify: {e}")) {
            break s;
        }
        if started.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scripts/lab verify {args:?} still running after 300 s (its own --timeout is 240 s)");
        }
        thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let report: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("verify printed no JSON ({e}; {status}):\n{text}"));
    note(&format!("verify {args:?}: {} in {:.1} s", report["summary"], started.elapsed().as_secs_f64()));
    Verdict { code: status.code().unwrap_or(-1), report }
}

/// Polls verify until `done` holds for its report, for at most `limit`
/// (a verify started before then may finish after it).
fn verify_until(lab: &Lab, args: &[&str], limit: Duration, what: &str, done: impl Fn(&Verdict) -> bool) -> Verdict {
    let start = Instant::now();
    loop {
        let v = verify(lab, args);
        if done(&v) {
            return v;
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}; last report:\n{:#}", v.report);
        thread::sleep(Duration::from_secs(1));
    }
}

fn lab_cmd(lab: &Lab, args: &[&str]) {
    if let Err(e) = lab.run(args, Duration::from_secs(180)) {
        panic!("{e}");
    }
}

/// Puts the lab back as `scripts/lab up` left it, also when the test fails.
struct StopAppKeepMm2<'a>(&'a Lab);
impl Drop for StopAppKeepMm2<'_> {
    fn drop(&mut self) {
        for args in [&["apps", "stop", "dc"][..], &["mm2", "start", "dc-dr"][..]] {
            if let Err(e) = self.0.run(args, Duration::from_secs(180)) {
                note(&format!("cleanup: {e}"));
            }
        }
    }
}

/// The app's `produced <topic> run=<run> first=0 last=<n-1> delivered=<n> failed=<m>` lines.
fn produced_lines(lab: &Lab, side: &str) -> Vec<(String, String, i64, u64, u64)> {
    let log = lab.dir.join("logs").join(format!("app-{side}.log"));
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.split_once("] produced ").map(|(_, r)| r) else { continue };
        let mut words = rest.split_whitespace();
        let topic = words.next().unwrap_or_default().to_owned();
        let field = |name: &str| {
            rest.split_whitespace().find_map(|w| w.strip_prefix(name)).unwrap_or_else(|| panic!("{name} in {line}"))
        };
        out.push((
            topic,
            field("run=").to_owned(),
            field("last=").parse().unwrap_or_else(|e| panic!("{e}: {line}")),
            field("delivered=").parse().unwrap_or_else(|e| panic!("{e}: {line}")),
            field("failed=").parse().unwrap_or_else(|e| panic!("{e}: {line}")),
        ));
    }
    out
}

#[test]
fn an_app_run_replicated_by_mm2_is_whole_on_both_sides() {
    let lab = lab();
    let _lock = support::exclusive();
    let _restore = StopAppKeepMm2(lab);
    lab_cmd(lab, &["mm2", "start", "dc-dr"]);
    let since = chrono::Utc::now().timestamp_millis().to_string();
    lab_cmd(lab, &["apps", "start", "dc"]);
    thread::sleep(Duration::from_secs(4));
    lab_cmd(lab, &["apps", "stop", "dc"]);

    let produced = produced_lines(lab, "dc");
    assert_eq!(produced.len(), 2, "one produced line per topic: {produced:?}");
    let run = produced[0].1.clone();
    assert!(run.starts_with("dc-"), "{run}");
    for (topic, r, last, delivered, failed) in &produced {
        assert_eq!(r, &run, "one run per process");
        assert_eq!(*failed, 0, "{topic}: the app lost nothing itself");
        assert!(*delivered > 100, "{topic}: about 4 s at 150 records/s, delivered {delivered}");
        assert_eq!(*last, *delivered as i64 - 1, "{topic}: seqs 0..=last all delivered");
    }

    // Only what was written since the run started is read.
    let args = ["--runs", run.as_str(), "--since", since.as_str()];
    let v = verify_until(lab, &args, Duration::from_secs(60), "MM2 dc→dr replicating the run", |v| {
        v.report["complete"] == true && v.report["totals"]["lost_by_replication"] == 0
    });
    let r = &v.report;
    assert_eq!(v.code, 0, "{r:#}");
    assert_eq!(r["ok"], true, "{r:#}");
    assert_eq!(r["totals"]["duplicates"], 0, "{r:#}");
    assert_eq!(r["totals"]["lost_by_replication"], 0, "{r:#}");
    assert_eq!(r["totals"]["order_violations"], 0, "{r:#}");
    assert_eq!(r["totals"]["writer_missing_unexplained"], 0, "{r:#}");
    for (topic, _, last, delivered, _) in &produced {
        for side in ["dc", "dr"] {
            let seen = &r["sides"][side]["topics"][topic.as_str()]["runs"][run.as_str()];
            assert_eq!(seen["writer"], "dc", "{side}/{topic}: {seen}");
            assert_eq!(seen["distinct"], *delivered, "{side}/{topic}: every delivered record, once: {seen}");
            assert_eq!(seen["records"], *delivered, "{side}/{topic}: {seen}");
            assert_eq!(seen["first"], 0, "{side}/{topic}: {seen}");
            assert_eq!(seen["last"], *last, "{side}/{topic}: {seen}");
            assert_eq!(seen["gaps"], serde_json::json!([]), "{side}/{topic}: {seen}");
        }
        let flow = r["replication"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["topic"] == topic.as_str() && f["run"] == run.as_str()))
            .unwrap_or_else(|| panic!("no replication entry for {topic}: {r:#}"));
        assert_eq!((&flow["from"], &flow["to"]), (&"dc".into(), &"dr".into()), "{flow}");
        assert_eq!(flow["written"], *delivered, "{flow}");
        assert_eq!(flow["lost"], 0, "{flow}");
        assert_eq!(r["app_reports"][run.as_str()][topic.as_str()]["delivered"], *delivered, "{r:#}");
    }
}

/// Deletes the scenario's topics on both sides when it ends.
struct DropTopics(Vec<String>);
impl Drop for DropTopics {
    fn drop(&mut self) {
        support::delete_topics(&lab().dc, &self.0);
        support::delete_topics(&lab().dr, &self.0);
    }
}

/// Writes `key<TAB>value` lines with Kafka's console producer (acks=all, its default).
fn console_produce(lab: &Lab, bootstrap: &str, topic: &str, lines: &[String]) {
    let mut child = Command::new(lab.script())
        .args(["tool", "console-producer", "--bootstrap-server", bootstrap, "--topic", topic])
        .args(["--reader-property", "parse.key=true", "--reader-property", "key.separator=\t"])
        .current_dir(&lab.root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the console producer: {e}"));
    {
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
        for l in lines {
            writeln!(stdin, "{l}").unwrap_or_else(|e| panic!("writing to the console producer: {e}"));
        }
    } // closing stdin ends the producer after it has sent everything
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            assert!(s.success(), "console producer to {topic}: {s}\n{err}");
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "console producer to {topic} still running");
        thread::sleep(Duration::from_millis(100));
    }
}

fn record(side: &str, topic: &str, run: &str, seq: u64, key: &str) -> String {
    format!("{key}\t{{\"side\":\"{side}\",\"topic\":\"{topic}\",\"run\":\"{run}\",\"seq\":{seq},\"ts_ms\":1}}")
}

#[test]
fn a_duplicate_a_gap_a_reordering_and_a_lost_record_are_each_counted() {
    let lab = lab();
    let _lock = support::shared();
    let (a, b) = (unique("verify-a"), unique("verify-b"));
    let _drop = DropTopics(vec![a.clone(), b.clone()]);
    support::create_topics(&lab.dc, &[a.clone(), b.clone()], 3);
    let run = unique("dc-test");

    // Topic a: seqs 0..=9 without 5 (a gap), 3 sent twice (a duplicate), and
    // 8 before 7 under one key (a reordering).
    let mut lines = Vec::new();
    for seq in [0u64, 1, 2, 3, 3, 4, 6, 8, 7, 9] {
        let key = if seq == 7 || seq == 8 { "k-swap".to_string() } else { format!("k-{seq:04}") };
        lines.push(record("dc", &a, &run, seq, &key));
    }
    console_produce(lab, &lab.dc, &a, &lines);
    // Topic b: a clean run.
    let clean: Vec<String> = (0..5).map(|s| record("dc", &b, &run, s, &format!("k-{s:04}"))).collect();
    console_produce(lab, &lab.dc, &b, &clean);

    let topics = format!("{a},{b}");
    let args = ["--topics", topics.as_str()];
    let v = verify_until(lab, &args, Duration::from_secs(60), "MM2 dc→dr creating and filling the topics", |v| {
        v.report["complete"] == true && v.report["totals"]["lost_by_replication"] == 0
    });
    let r = &v.report;
    assert_eq!(v.code, 1, "not ok: {r:#}");
    assert_eq!(r["ok"], false, "{r:#}");
    for side in ["dc", "dr"] {
        let t = &r["sides"][side]["topics"][a.as_str()];
        assert_eq!(t["records"], 10, "{side}: {t}");
        assert_eq!(t["duplicates"], 1, "{side}: exactly the one re-sent record: {t}");
        assert_eq!(t["order_violations"], 1, "{side}: 7 after 8 under one key: {t}");
        let seen = &t["runs"][run.as_str()];
        assert_eq!(seen["distinct"], 9, "{side}: {seen}");
        assert_eq!(seen["gaps"], serde_json::json!([[5, 5]]), "{side}: {seen}");
        assert_eq!(seen["missing"], 1, "{side}: {seen}");
        assert_eq!((&seen["first"], &seen["last"]), (&0.into(), &9.into()), "{side}: {seen}");
        let t = &r["sides"][side]["topics"][b.as_str()];
        assert_eq!((&t["records"], &t["duplicates"], &t["order_violations"]), (&5.into(), &0.into(), &0.into()));
        assert_eq!(t["runs"][run.as_str()]["gaps"], serde_json::json!([]), "{side}: {t}");
    }
    assert_eq!(r["totals"]["duplicates"], 2, "one on each side: {r:#}");
    assert_eq!(r["totals"]["order_violations"], 2, "one on each side: {r:#}");
    // No app wrote the run, so nothing explains the hole where 5 should be.
    assert_eq!(r["totals"]["writer_missing_unexplained"], 1, "{r:#}");

    // A record written on dr only (no dr→dc flow runs): lost on its way to dc.
    let dr_run = unique("dr-test");
    console_produce(lab, &lab.dr, &b, &[record("dr", &b, &dr_run, 0, "k-dr")]);
    let v = verify(lab, &args);
    let r = &v.report;
    assert_eq!(v.code, 1, "{r:#}");
    assert_eq!(r["totals"]["lost_by_replication"], 1, "{r:#}");
    let lost: Vec<&Value> =
        r["replication"].as_array().map(|a| a.iter().filter(|f| f["lost"] != 0).collect()).unwrap_or_default();
    assert_eq!(lost.len(), 1, "{r:#}");
    assert_eq!(
        (&lost[0]["run"], &lost[0]["from"], &lost[0]["to"]),
        (&dr_run.as_str().into(), &"dr".into(), &"dc".into())
    );
    assert_eq!(lost[0]["lost_ranges"], serde_json::json!([[0, 0]]), "{r:#}");
}
