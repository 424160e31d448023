//! `kdrill serve --demo` over real HTTP on loopback: every route answers GET
//! and refuses every other method, /metrics is Prometheus text agreeing with
//! the JSON, the JSON is the `check --json` report, the page is live.

// The helpers run only under test: a panic there is the test's failure.
#![allow(clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROUTES: [&str; 6] = ["/", "/metrics", "/api/v1/assessment", "/healthz", "/readyz", "/events"];

/// The server, ended when the test ends.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kdrill serve ARGS` on an ephemeral loopback port, with `env` set.
fn spawn(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kdrill"))
        .arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .env("KDRILL_CONFIG", "/nonexistent/kdrill.toml")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kdrill serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    let addr = line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("{line:?}")).to_owned();
    Server { child, addr }
}

fn start() -> Server {
    let server = spawn(&["--demo"], &[]);
    // Ready once both demo sides are observed fresh.
    let deadline = Instant::now() + Duration::from_secs(30);
    while request(&server, "GET", "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "/readyz never answered 200");
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}

/// One request on its own connection: (status, headers, body).
fn request(server: &Server, method: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(&server.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        server.addr
    )
    .expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// The first event of /events, read off a stream that never ends.
fn first_event(server: &Server) -> String {
    let mut stream = TcpStream::connect(&server.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stream, "GET /events HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr).expect("write");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(reader.read_line(&mut line).expect("read") > 0, "stream ended before an event");
        // Chunked encoding: the event's line sits inside a chunk.
        if let Some(data) = line.trim().strip_prefix("data: ") {
            return data.to_owned();
        }
    }
}

#[test]
fn every_route_answers_get_and_head_and_refuses_every_other_method() {
    let server = start();
    for path in ROUTES.iter().copied().chain(["/no-such-path"]) {
        if path != "/events" {
            let (status, _, _) = request(&server, "GET", path);
            assert_eq!(status, if path == "/no-such-path" { 404 } else { 200 }, "GET {path}");
        }
        let (status, _, body) = request(&server, "HEAD", path);
        assert_eq!(status, if path == "/no-such-path" { 404 } else { 200 }, "HEAD {path}");
        assert!(body.is_empty(), "HEAD {path} has a body");
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
            let (status, head, _) = request(&server, method, path);
            assert_eq!(status, 405, "{method} {path}");
            assert!(head.to_lowercase().contains("allow: get, head"), "{method} {path}: {head}");
        }
    }
}

fn json(server: &Server) -> serde_json::Value {
    let (status, _, body) = request(server, "GET", "/api/v1/assessment");
    assert_eq!(status, 200);
    serde_json::from_str(&body).expect("the assessment is JSON")
}

#[test]
fn the_assessment_is_the_check_report() {
    let server = start();
    let served = json(&server);
    let out = Command::new(env!("CARGO_BIN_EXE_kdrill"))
        .args(["check", "--demo", "--json", "--settle", "2s"])
        .env("KDRILL_CONFIG", "/nonexistent/kdrill.toml")
        .output()
        .expect("run check");
    let checked: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check --json is JSON");
    let keys = |v: &serde_json::Value| v.as_object().expect("an object").keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&served), keys(&checked));
    assert_eq!(served["sides"].as_array().map(Vec::len), Some(2));
    let event: serde_json::Value = serde_json::from_str(&first_event(&server)).expect("an event is JSON");
    assert_eq!(keys(&event), keys(&checked));
}

#[test]
fn metrics_are_prometheus_text_and_agree_with_the_json() {
    let server = start();
    let (status, head, text) = request(&server, "GET", "/metrics");
    assert_eq!(status, 200);
    assert!(head.to_lowercase().contains("content-type: application/openmetrics-text"), "{head}");
    let name = regex::Regex::new(r"^[a-z_:][a-z0-9_:]*$").expect("regex");
    let sample = regex::Regex::new(
        r#"^([a-z_:][a-z0-9_:]*)(\{([a-z_]+="[^"]*")(,[a-z_]+="[^"]*")*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$"#,
    )
    .expect("regex");
    let mut samples = 0;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let caps = sample.captures(line).unwrap_or_else(|| panic!("not a sample: {line:?}"));
        assert!(name.is_match(&caps[1]) && caps[1].starts_with("kdrill_"), "{line}");
        samples += 1;
    }
    assert!(samples > 10, "{text}");
    assert!(text.trim_end().ends_with("# EOF"));
    for needed in
        ["kdrill_side_role{side=\"dc\",role=\"active\"} 1.0", "kdrill_side_observation_age_seconds{side=\"dr\"}"]
    {
        assert!(text.contains(needed), "{needed} missing:\n{text}");
    }
    // The live flow's lag, as the JSON has it (read after, so it may have moved on: compare the same moment).
    let (metrics, report) = loop {
        let before = json(&server);
        let (_, _, metrics) = request(&server, "GET", "/metrics");
        let after = json(&server);
        if before["observed_at"] == after["observed_at"] {
            break (metrics, after);
        }
    };
    let live = report["lag"].as_array().and_then(|l| l.iter().find(|l| l["live"] == true)).expect("a live flow");
    let flow = live["flow"].as_str().expect("flow").replace('→', "-").to_lowercase();
    let total = live["total_records"].as_u64().expect("the demo's live lag is known");
    let line = format!("kdrill_replication_lag_records{{flow=\"{flow}\"}} {total}");
    assert!(metrics.lines().any(|l| l == line || l == format!("{line}.0")), "{line} missing:\n{metrics}");
}

#[test]
fn the_page_is_live_and_needs_no_build_step() {
    let server = start();
    let (status, head, page) = request(&server, "GET", "/");
    assert_eq!(status, 200);
    assert!(head.to_lowercase().contains("content-type: text/html"));
    for id in
        ["id=\"sides\"", "id=\"verdict\"", "id=\"mm2\"", "id=\"lag\"", "id=\"alarms\"", "new EventSource(\"/events\")"]
    {
        assert!(page.contains(id), "{id} missing");
    }
    assert!(page.contains("name=\"viewport\""), "usable on a phone");
    assert!(!page.contains("<script src"), "everything is in the page");
}

/// A SASL password from the environment reaches the client and nothing
/// served: not the page, the metrics, the JSON or the event stream.
#[test]
fn a_secret_never_reaches_what_is_served() {
    const CANARY: &str = "canary-s3cr3t-9f1c";
    let dir = std::env::temp_dir().join(format!("kdrill-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("kdrill.toml");
    // Nothing listens on port 1: both sides unreachable, the server still serves.
    let side = |name: &str| {
        format!(
            "[clusters.{name}]\nbootstrap = \"127.0.0.1:1\"\n[clusters.{name}.properties]\n\
             \"security.protocol\" = \"SASL_PLAINTEXT\"\n\"sasl.mechanisms\" = \"SCRAM-SHA-512\"\n\
             \"sasl.username\" = \"kdrill\"\n[clusters.{name}.secrets]\n\
             \"sasl.password\" = {{ env = \"KDRILL_SERVE_CANARY\" }}\n"
        )
    };
    std::fs::write(&config, format!("{}{}[[mm2]]\nsource = \"dc\"\ntarget = \"dr\"\n", side("dc"), side("dr")))
        .expect("write config");
    let config = config.to_string_lossy().into_owned();
    let server = spawn(&["--config", &config], &[("KDRILL_SERVE_CANARY", CANARY)]);
    // Let a few polls fail and their errors be judged.
    std::thread::sleep(Duration::from_secs(4));
    for route in ["/", "/metrics", "/api/v1/assessment", "/healthz", "/readyz"] {
        let (status, headers, body) = request(&server, "GET", route);
        assert!(status == 200 || (route == "/readyz" && status == 503), "{route}: {status}");
        assert!(!body.contains(CANARY) && !headers.contains(CANARY), "{route} served the secret");
    }
    let event = first_event(&server);
    assert!(!event.contains(CANARY), "/events served the secret");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One GET with an `Authorization` header: (status, headers, body).
fn get_as(server: &Server, path: &str, user: &str, password: &str) -> (u16, String, String) {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut stream = TcpStream::connect(&server.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let auth = format!("Authorization: Basic {token}\r\n");
    if path == "/events" {
        // The stream never ends: read up to its first event (a refusal ends
        // with the connection).
        write!(stream, "GET /events HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n", server.addr)
            .expect("write");
        let mut reader = BufReader::new(stream);
        let (mut head, mut line) = (String::new(), String::new());
        while reader.read_line(&mut line).expect("read") > 0 {
            head.push_str(&line);
            if line.starts_with("data: ") {
                break;
            }
            line.clear();
        }
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        return (status, head, line);
    }
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n", server.addr).expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// A SASL password (env) and the basic-auth password (file) of one server:
/// neither in anything served — to the right user, to a wrong one, to
/// nobody — nor in its output or its debug log.
#[test]
fn neither_a_sasl_nor_a_basic_auth_password_reaches_what_is_served_or_logged() {
    use base64::Engine as _;
    const SASL: &str = "canary-sasl-51d0";
    const WALL: &str = "canary-wall-8e3a";
    let dir = std::env::temp_dir().join(format!("kdrill-serve-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("kdrill.toml");
    let side = |name: &str| {
        format!(
            "[clusters.{name}]\nbootstrap = \"127.0.0.1:1\"\n[clusters.{name}.properties]\n\
             \"security.protocol\" = \"SASL_PLAINTEXT\"\n\"sasl.mechanisms\" = \"SCRAM-SHA-512\"\n\
             \"sasl.username\" = \"kdrill\"\n[clusters.{name}.secrets]\n\
             \"sasl.password\" = {{ env = \"KDRILL_SERVE_SASL_CANARY\" }}\n"
        )
    };
    std::fs::write(&config, format!("{}{}[[mm2]]\nsource = \"dc\"\ntarget = \"dr\"\n", side("dc"), side("dr")))
        .expect("write config");
    let password_file = dir.join("wall-password");
    std::fs::write(&password_file, format!("{WALL}\n")).expect("password file");
    let config = config.to_string_lossy().into_owned();
    let password_source = format!("file:{}", password_file.display());
    let state = dir.join("state").to_string_lossy().into_owned();
    let mut server = spawn(
        &["--config", &config, "--basic-auth-user", "wall", "--basic-auth-password", &password_source],
        &[("KDRILL_SERVE_SASL_CANARY", SASL), ("KDRILL_LOG", "debug"), ("XDG_STATE_HOME", &state)],
    );
    // Let a few polls fail and their errors be judged.
    std::thread::sleep(Duration::from_secs(4));
    let encoded = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let leaks = |text: &str| {
        [SASL, WALL]
            .iter()
            .any(|c| text.contains(c) || text.contains(&encoded(c)) || text.contains(&encoded(&format!("wall:{c}"))))
    };
    for route in ["/", "/metrics", "/api/v1/assessment", "/healthz", "/readyz", "/events"] {
        for (user, password, expected) in [("wall", WALL, 200), ("wall", "wrong", 401), ("kdrill", SASL, 401)] {
            let (status, headers, body) = get_as(&server, route, user, password);
            let expected = match (route, expected) {
                ("/healthz", _) => 200,
                ("/readyz", 200) => 503,
                _ => expected,
            };
            assert_eq!(status, expected, "{route} as {user}");
            assert!(!leaks(&headers) && !leaks(&body), "{route} as {user} served a secret:\n{headers}\n{body}");
        }
        if route != "/events" {
            let (status, headers, body) = request(&server, "GET", route);
            assert_eq!(status, if route == "/healthz" { 200 } else { 401 }, "{route} without credentials");
            assert!(!leaks(&headers) && !leaks(&body), "{route} served a secret");
        }
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    let log = std::fs::read_to_string(dir.join("state/kdrill/kdrill.log")).unwrap_or_default();
    assert!(!log.is_empty(), "the debug log was written");
    assert!(!leaks(&log), "the debug log holds a secret");
    let _ = std::fs::remove_dir_all(&dir);
}
