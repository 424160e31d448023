//! kdrill's Kafka Connect REST executor (`act::connect::send`) against the
//! lab's real MM2 dc→dr Connect worker (`scripts/lab up`): stop, offsets
//! read and written back, resume, and the failures an operator meets, each
//! in words. Only the heartbeat connector is changed (the least disruptive),
//! under the exclusive lab lock, and it is resumed whatever happens.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use kdrill::act::connect::send;
use kdrill::act::{ConnectEndpoint, ConnectRequest, Method, RequestResult, encode_segment};

use support::{lab, note};

/// The Connect REST API of MM2 dc→dr (`scripts/lab`).
const BASE: &str = "http://127.0.0.1:28083";
const HEARTBEAT: &str = "dc->dr.MirrorHeartbeatConnector";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn request(
    base: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    until: Option<(Value, Duration)>,
) -> ConnectRequest {
    let endpoint = ConnectEndpoint { base_url: base.into(), basic_auth: None, ca_file: None };
    ConnectRequest { endpoint, method, path: path.into(), body, until }
}

fn heartbeat(verb: &str) -> String {
    format!("/connectors/{}{verb}", encode_segment(HEARTBEAT))
}

async fn heartbeat_call(
    method: Method,
    verb: &str,
    body: Option<Value>,
    until: Option<(Value, Duration)>,
) -> RequestResult {
    let r = send(&request(BASE, method, &heartbeat(verb), body, until), REQUEST_TIMEOUT).await;
    note(&format!("{} -> ok={} {}", r.request, r.ok, r.detail));
    r
}

fn running() -> Value {
    json!({"connector": {"state": "RUNNING"}, "tasks": [{"state": "RUNNING"}]})
}

/// Resumes the heartbeat connector when dropped, whatever happened (on a
/// thread of its own: the test's runtime may be unwinding).
struct Resume;

impl Drop for Resume {
    fn drop(&mut self) {
        let restored = std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let resumed = heartbeat_call(Method::Put, "/resume", None, None).await;
                let back =
                    heartbeat_call(Method::Get, "/status", None, Some((running(), Duration::from_secs(60)))).await;
                Some(resumed.ok && back.ok)
            })
        })
        .join();
        if !matches!(restored, Ok(Some(true))) {
            eprintln!("could not resume {HEARTBEAT} on {BASE}: resume it by hand (PUT {})", heartbeat("/resume"));
        }
    }
}

#[tokio::test]
async fn heartbeat_connector_stopped_offsets_written_back_then_resumed() {
    let _lab_lock = support::exclusive();
    lab();
    let start = Instant::now();
    let up = heartbeat_call(Method::Get, "/status", None, Some((running(), Duration::from_secs(60)))).await;
    assert!(up.ok, "the heartbeat connector is not RUNNING to begin with: {up:?}");
    let _resume = Resume;

    // Offsets can be read while it runs, but not changed.
    let read = heartbeat_call(Method::Get, "/offsets", None, None).await;
    assert!(read.ok, "{read:?}");
    let offsets = answer_of(&read);
    assert!(offsets["offsets"].as_array().is_some_and(|o| !o.is_empty()), "{offsets}");
    let refused = heartbeat_call(Method::Patch, "/offsets", Some(offsets.clone()), None).await;
    assert!(!refused.ok, "{refused:?}");
    assert!(refused.detail.contains("the connector must be STOPPED first"), "{refused:?}");

    let stop = heartbeat_call(Method::Put, "/stop", None, None).await;
    assert!(stop.ok, "{stop:?}");
    assert!(stop.detail == "202 Accepted" || stop.detail == "204 No Content", "{stop:?}");
    assert_eq!(stop.request, format!("PUT {BASE}/connectors/dc-%3Edr.MirrorHeartbeatConnector/stop"));
    let stopped = json!({"connector": {"state": "STOPPED"}});
    let r = heartbeat_call(Method::Get, "/status", None, Some((stopped, Duration::from_secs(30)))).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.detail, r#"200 OK: the answer contains {"connector":{"state":"STOPPED"}}"#);

    // Read back and written back unchanged: accepted, and still the same.
    let read = heartbeat_call(Method::Get, "/offsets", None, None).await;
    assert!(read.ok, "{read:?}");
    let offsets = answer_of(&read);
    let written = heartbeat_call(Method::Patch, "/offsets", Some(offsets.clone()), None).await;
    assert!(written.ok, "{written:?}");
    assert!(written.detail.starts_with("200 OK: {\"message\":"), "{written:?}");
    let same = heartbeat_call(Method::Get, "/offsets", None, Some((offsets, Duration::from_secs(5)))).await;
    assert!(same.ok, "{same:?}");

    let resume = heartbeat_call(Method::Put, "/resume", None, None).await;
    assert!(resume.ok, "{resume:?}");
    assert_eq!(resume.detail, "202 Accepted");
    let back = heartbeat_call(Method::Get, "/status", None, Some((running(), Duration::from_secs(60)))).await;
    assert!(back.ok, "{back:?}");
    note(&format!("stopped, offsets written back and resumed in {:?}", start.elapsed()));
}

/// The JSON quoted in a result's detail (`200 OK: {…}`).
fn answer_of(r: &RequestResult) -> Value {
    let json = r.detail.split_once(": ").map(|(_, j)| j).unwrap_or_else(|| panic!("no answer quoted: {r:?}"));
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

#[tokio::test]
async fn failures_are_said_in_words() {
    let _lab_lock = support::shared();
    lab();

    let path = format!("/connectors/{}/status", encode_segment("dc->dr.NoSuchConnector"));
    let r = send(&request(BASE, Method::Get, &path, None, None), REQUEST_TIMEOUT).await;
    assert!(!r.ok);
    assert_eq!(r.detail, format!("404 Not Found: no connector dc->dr.NoSuchConnector on {BASE}"));
    let stop = format!("/connectors/{}/stop", encode_segment("dc->dr.NoSuchConnector"));
    let r = send(&request(BASE, Method::Put, &stop, None, None), REQUEST_TIMEOUT).await;
    assert!(!r.ok);
    assert_eq!(r.detail, format!("404 Not Found: no connector dc->dr.NoSuchConnector on {BASE}"));

    // A loopback port nothing listens on: taken, then given back.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap();
    let nowhere = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let r = send(&request(&nowhere, Method::Get, &heartbeat("/status"), None, None), REQUEST_TIMEOUT).await;
    assert!(!r.ok);
    assert_eq!(
        r.detail,
        format!("Kafka Connect at {nowhere} did not answer: connection refused (nothing listens there)")
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    // Waiting for what does not come ends, saying what was last seen.
    let never = json!({"connector": {"state": "NEVER"}});
    let r = send(
        &request(BASE, Method::Get, &heartbeat("/status"), None, Some((never, Duration::from_secs(2)))),
        REQUEST_TIMEOUT,
    )
    .await;
    assert!(!r.ok);
    assert!(r.detail.starts_with("timed out after 2 s: last answer {"), "{r:?}");
    assert!(r.detail.contains(HEARTBEAT), "{r:?}");
}

/// HTTPS as the executor speaks it, against the lab's real TLS server (the
/// dc Kubernetes API server, which knows no basic auth: a real 401). With
/// the lab's CA file the handshake passes and the refusal names the user,
/// never the password; with the system's roots the certificate is refused.
#[tokio::test]
async fn https_with_a_ca_file_and_basic_auth() {
    let _lab_lock = support::shared();
    support::kube::kube_lab();
    let env = std::fs::read_to_string(lab().dir.join("lab.env")).unwrap();
    let ca = env.lines().find_map(|l| l.strip_prefix("KDRILL_LAB_KUBE_DC_CA=")).expect("the dc CA file in lab.env");
    let base = "https://127.0.0.1:16443";
    let endpoint = |ca_file: Option<&str>| ConnectEndpoint {
        base_url: base.into(),
        basic_auth: Some(("drill-operator".into(), kdrill::config::Secret::new("s3cr3t-pw"))),
        ca_file: ca_file.map(Into::into),
    };
    let get =
        |endpoint| ConnectRequest { endpoint, method: Method::Get, path: "/version".into(), body: None, until: None };

    let r = send(&get(endpoint(Some(ca))), REQUEST_TIMEOUT).await;
    note(&format!("{r:?}"));
    assert!(!r.ok);
    assert_eq!(
        r.detail,
        format!("401 Unauthorized: Kafka Connect at {base} refused the credentials of drill-operator")
    );
    assert_eq!(r.request, format!("GET {base}/version (basic auth as drill-operator)"));

    let r = send(&get(endpoint(None)), REQUEST_TIMEOUT).await;
    note(&format!("{r:?}"));
    assert!(!r.ok);
    assert_eq!(
        r.detail,
        format!(
            "Kafka Connect at {base} presented a certificate kdrill does not trust \
             (unable to get local issuer certificate): name the CA file that signed it"
        )
    );
    assert!(!format!("{r:?}").contains("s3cr3t-pw"));
}
