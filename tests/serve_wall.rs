//! The wall page of `kdrill serve --demo` in real headless Chromium
//! (Debian's `chromium`; `scripts/test` installs it), driven over the
//! DevTools protocol: the DOM shows the role of each side, MM2's health and
//! the lag kdrill reports; a demo fault switched on in the running server
//! reaches the live page within two seconds of the moment the server says
//! it happened; a side that stops answering looks stale; on the lab the
//! page shows what kdrill assesses. Screenshots are kept under target/tmp
//! (their paths are printed).

// The helpers run only under test: a panic there is the test's failure.
#![allow(clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The server, ended when the test ends; its later stdout lines (the demo
/// faults it toggled) arrive on `lines`.
struct Server {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kdrill"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KDRILL_CONFIG", "/nonexistent/kdrill.toml")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kdrill serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("first line");
    let addr = line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("{line:?}")).to_owned();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let server = Server { child, addr, lines };
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&server, "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "/readyz never answered 200");
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}

fn get(server: &Server, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(&server.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr).expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), body.to_owned())
}

fn assessment(server: &Server) -> Value {
    serde_json::from_str(&get(server, "/api/v1/assessment").1).expect("the assessment is JSON")
}

/// Headless Chromium over `--remote-debugging-pipe`: its fds 3 and 4 are
/// this process's pipes (NUL-terminated JSON messages).
struct Browser {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
    next_id: u64,
    _profile: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where this test keeps what it shows (screenshots, Chromium's log).
fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve_wall");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

impl Browser {
    fn launch(name: &str) -> Browser {
        let found = Command::new("chromium").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(
            found.is_ok_and(|s| s.success()),
            "chromium not found: run scripts/test, which installs Debian's `chromium` package \
             (apt-get install --no-install-recommends chromium)"
        );
        let profile = std::env::temp_dir().join(format!("kdrill-chromium-{name}-{}", std::process::id()));
        let log = std::fs::File::create(artifacts().join(format!("{name}-chromium.log"))).expect("log file");
        let mut child = Command::new("bash")
            .arg("-c")
            // The pipe fds Chromium expects: 3 reads commands, 4 writes answers.
            .arg(r#"exec chromium "$@" 3<&0 4>&1 0</dev/null 1>&2"#)
            .arg("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe"])
            .args(["--window-size=1920,1080", "--hide-scrollbars", "--no-first-run", "about:blank"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn chromium");
        let to = child.stdin.take().expect("stdin");
        let from = BufReader::new(child.stdout.take().expect("stdout"));
        Browser { child, to, from, next_id: 0, _profile: TempDir(profile) }
    }

    /// One DevTools command (in a page's session, if given) and its result.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        loop {
            let mut raw = Vec::new();
            let n = self.from.read_until(0, &mut raw).expect("read from chromium");
            assert!(n > 0, "chromium closed its pipe (see {}/*-chromium.log)", artifacts().display());
            raw.pop();
            let answer: Value = serde_json::from_slice(&raw).expect("a DevTools message");
            // Events and other answers are not what we wait for.
            if answer["id"] == json!(id) {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// A new 1920×1080 tab on `url`: its session.
    fn open(&mut self, url: &str) -> String {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let attached =
            self.call(None, "Target.attachToTarget", json!({ "targetId": target["targetId"], "flatten": true }));
        let session = attached["sessionId"].as_str().expect("session").to_owned();
        let metrics = json!({ "width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": false });
        self.call(Some(&session), "Emulation.setDeviceMetricsOverride", metrics);
        self.call(Some(&session), "Page.navigate", json!({ "url": url }));
        session
    }

    fn eval(&mut self, session: &str, expression: &str) -> Value {
        let params = json!({ "expression": expression, "returnByValue": true });
        let result = self.call(Some(session), "Runtime.evaluate", params);
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    /// The page as a screenshot under target/tmp; prints where.
    fn screenshot(&mut self, session: &str, name: &str) -> PathBuf {
        let shot = self.call(Some(session), "Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().expect("data")).expect("png");
        let path = artifacts().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        println!("screenshot: {}", path.display());
        path
    }
}

/// What the wall shows, read from the DOM in one go.
const WALL: &str = r##"(() => {
  const t = (sel) => { const e = document.querySelector(sel); return e ? e.textContent : null; };
  const cls = (sel) => { const e = document.querySelector(sel); return e ? e.className : null; };
  return {
    observed_at: (document.body && document.body.dataset.observedAt) || null,
    sides: document.querySelectorAll("#sides .side").length,
    dc_role: t("#side-dc .role"), dr_role: t("#side-dr .role"),
    dc_age: t("#side-dc .age"), dc_class: cls("#side-dc"),
    mm2: t("#mm2"), mm2_detail: t("#mm2-detail"),
    lag: t("#lag"), lag_flow: t("#lag-flow"), lag_detail: t("#lag-detail"), lag_class: cls("#lag"),
    alarms: t("#alarms"),
  };
})()"##;

/// Reads the wall until `done` holds of it; panics after `within`.
fn wait_for(
    browser: &mut Browser,
    session: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let wall = browser.eval(session, WALL);
        if done(&wall) {
            return wall;
        }
        assert!(Instant::now() < deadline, "{what}: not on the page after {within:?}: {wall:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The page and the report with the same `observed_at` (the two read at
/// the same moment of the server), once the report is `settled`.
fn page_and_report(
    browser: &mut Browser,
    session: &str,
    server: &Server,
    settled: impl Fn(&Value) -> bool,
) -> (Value, Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report = assessment(server);
        let wall = browser.eval(session, WALL);
        let same = wall["observed_at"].as_str().zip(report["observed_at"].as_str());
        if settled(&report) && same.is_some_and(|(w, r)| same_instant(w, r)) {
            return (wall, report);
        }
        assert!(Instant::now() < deadline, "the page never showed the settled report: {report:#}\n{wall:#}");
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// The page shows the report: each side's role, the MM2 and the lag it
/// picks (the live flow's, else the first), in the page's words.
fn assert_page_shows(wall: &Value, report: &Value) {
    for (key, side) in [("dc_role", "DC"), ("dr_role", "DR")] {
        let s = report["sides"].as_array().and_then(|s| s.iter().find(|s| s["side"] == json!(side))).expect("side");
        assert_eq!(wall[key], s["role"], "{side}: {wall:#}\n{report:#}");
    }
    let live = report["live_flow"].as_str();
    let mm2s = report["mm2"].as_array().expect("mm2");
    let mm2 = mm2s.iter().find(|m| live.is_some() && m["flow"].as_str() == live).or(mm2s.first()).expect("an MM2");
    let health = mm2["health"].as_str().expect("health").to_uppercase();
    assert_eq!(wall["mm2"], json!(format!("{health} {}", mm2["flow"].as_str().expect("flow"))), "{wall:#}");
    let lags = report["lag"].as_array().expect("lag");
    let lag = lags.iter().find(|l| l["live"] == json!(true)).or(lags.first()).expect("a flow's lag");
    let shown = match lag["total_records"].as_u64() {
        Some(records) => format!("{records}rec"),
        None => "unknown".to_owned(),
    };
    assert_eq!(wall["lag"].as_str().expect("lag").replace([',', '.', '\u{a0}', ' '], ""), shown, "{wall:#}");
    assert_eq!(wall["lag_flow"], lag["flow"], "{wall:#}");
}

fn same_instant(a: &str, b: &str) -> bool {
    a.parse::<DateTime<Utc>>().ok() == b.parse::<DateTime<Utc>>().ok()
}

#[test]
fn the_wall_in_chromium_shows_role_mm2_health_and_lag_and_a_demo_fault_within_two_seconds() {
    // Late enough for the page to be up and drawn before the fault, also
    // with Chromium starting on a loaded machine (15 s was not, once).
    let server = serve(&["--demo", "--demo-fault", "30s:fail-mm2-task"]);
    let mut browser = Browser::launch("wall");
    let session = browser.open(&format!("http://{}/", server.addr));
    let drawn = wait_for(&mut browser, &session, Duration::from_secs(25), "both sides", |w| w["sides"] == json!(2));
    assert!(
        server.lines.try_recv().is_err(),
        "the fault happened before the page was drawn: start it later (page: {drawn:#})"
    );

    // Roles need a few polls of history: compare once kdrill has judged them.
    let steady = |r: &Value| r["sides"][0]["role"] == json!("ACTIVE") && r["sides"][1]["role"] == json!("PASSIVE");
    let (wall, report) = page_and_report(&mut browser, &session, &server, steady);
    assert_eq!(wall["dc_role"], json!("ACTIVE"), "{wall:#}");
    assert_eq!(wall["dr_role"], json!("PASSIVE"), "{wall:#}");
    assert_eq!(report["sides"][0]["side"], json!("DC"), "{report:#}");
    assert!(server.lines.try_recv().is_err(), "the fault happened before the steady page was read: start it later");
    assert_page_shows(&wall, &report);
    let live = report["live_flow"].as_str().expect("a live flow");
    let mm2 = report["mm2"].as_array().and_then(|m| m.iter().find(|m| m["flow"] == json!(live))).expect("live MM2");
    let health = mm2["health"].as_str().expect("health").to_uppercase();
    assert_eq!(wall["mm2"], json!(format!("{health} {live}")), "{wall:#}");
    assert_eq!(health, "HEALTHY");
    let lag = report["lag"].as_array().and_then(|l| l.iter().find(|l| l["live"] == json!(true))).expect("live lag");
    let records = lag["total_records"].as_u64().expect("the demo's live lag is known");
    let shown = wall["lag"].as_str().expect("lag").replace([',', '.', '\u{a0}', ' '], "");
    assert_eq!(shown, format!("{records}rec"), "{wall:#}");
    assert_eq!(wall["lag_flow"], json!(live));
    assert!(!wall["alarms"].as_str().unwrap_or_default().contains("FAILED"), "a failure before the fault: {wall:#}");
    browser.screenshot(&session, "wall-demo");

    // The server publishes when the fault happened, in its own clock.
    let line = server.lines.recv_timeout(Duration::from_secs(30)).expect("the scheduled fault happened");
    let onset: DateTime<Utc> = line
        .strip_prefix("demo fault fail-mm2-task at ")
        .and_then(|rest| rest.split_once(": "))
        .and_then(|(at, _)| at.parse().ok())
        .unwrap_or_else(|| panic!("{line:?}"));
    let failed = |w: &Value| {
        w["alarms"].as_str().is_some_and(|a| a.contains("FAILED"))
            && w["mm2"].as_str().is_some_and(|m| m.starts_with("DEGRADED"))
    };
    let wall = wait_for(&mut browser, &session, Duration::from_secs(10), "the failed MM2 task", failed);
    let seen = Utc::now();
    let late = (seen - onset).to_std().unwrap_or_default();
    println!("fault at {onset}, on the live page {late:?} later");
    assert!(late <= Duration::from_secs(2), "the fault reached the page {late:?} after it happened: {wall:#}");
    browser.screenshot(&session, "wall-demo-fault");

    // A fresh load shows it too.
    let fresh = browser.open(&format!("http://{}/", server.addr));
    wait_for(&mut browser, &fresh, Duration::from_secs(10), "the failed MM2 task on a fresh page", failed);
}

#[test]
fn a_side_that_stops_answering_looks_stale_on_the_wall() {
    let server = serve(&["--demo", "--demo-fault", "0s:cut-off-dc"]);
    // Stale once DC's last observation is older than the demo's 15 s.
    let deadline = Instant::now() + Duration::from_secs(40);
    while assessment(&server)["sides"][0]["stale"] != json!(true) {
        assert!(Instant::now() < deadline, "DC never turned stale");
        std::thread::sleep(Duration::from_millis(250));
    }
    let mut browser = Browser::launch("stale");
    let session = browser.open(&format!("http://{}/", server.addr));
    let wall = wait_for(&mut browser, &session, Duration::from_secs(15), "both sides", |w| w["sides"] == json!(2));
    let dc_class = wall["dc_class"].as_str().unwrap_or_default();
    assert!(dc_class.split(' ').any(|c| c == "stale"), "DC is not drawn stale: {wall:#}");
    let dc_age = wall["dc_age"].as_str().unwrap_or_default();
    assert!(dc_age.contains("STALE") && dc_age.contains("UNREACHABLE"), "{wall:#}");
    // The lag figure rests on DC's old offsets: it must not look current.
    assert!(wall["lag_class"].as_str().unwrap_or_default().split(' ').any(|c| c == "stale"), "{wall:#}");
    assert!(wall["lag_detail"].as_str().unwrap_or_default().contains("stale"), "{wall:#}");
    browser.screenshot(&session, "wall-demo-stale");
}

/// The lab as it is (held shared: nothing disrupts it meanwhile): the page
/// shows what kdrill assesses of it.
#[test]
fn the_wall_in_chromium_shows_the_lab_as_kdrill_assesses_it() {
    support::lab();
    let _lock = support::shared();
    let config = support::lab_example_file();
    let server = serve(&["--config", &config.to_string_lossy()]);
    let mut browser = Browser::launch("lab");
    let session = browser.open(&format!("http://{}/", server.addr));
    let fresh =
        |r: &Value| r["sides"].as_array().is_some_and(|s| s.len() == 2 && s.iter().all(|s| s["stale"] == json!(false)));
    let (wall, report) = page_and_report(&mut browser, &session, &server, fresh);
    assert_page_shows(&wall, &report);
    browser.screenshot(&session, "wall-lab");
}
