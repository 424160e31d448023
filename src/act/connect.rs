//! One Kafka Connect REST request, over HTTP or HTTPS (OpenSSL, the CA file
//! configured or the system's), with basic authentication; a GET may be
//! repeated until its answer contains an expected value. Every failure is
//! said in words an operator can act on; nothing here panics.

use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{StatusCode, Uri};
use hyper_openssl::client::legacy::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use openssl::ssl::{SslConnector, SslMethod};
use serde_json::Value;

use super::{ConnectRequest, Method, Request, RequestResult, secs};

/// Connect answers 409 while its workers rebalance; a request is retried
/// this many times before giving up.
const REBALANCE_RETRIES: u32 = 5;
/// How often a request with `until` is repeated.
const UNTIL_EVERY: Duration = Duration::from_secs(1);
/// An answer this short is quoted in the result.
const SUMMARY_MAX: usize = 200;
/// Connect's answers are small; an offsets listing of a large source
/// connector is the biggest. Anything beyond is not Connect.
const BODY_MAX: usize = 16 * 1024 * 1024;

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Sends one Connect REST request (repeating a GET with `until`); never panics; every failure is ok=false with words a person can act on.
pub async fn send(req: &ConnectRequest, request_timeout: Duration) -> RequestResult {
    let request = Request::Connect(req.clone()).preview().into_iter().next().unwrap_or_default();
    let outcome = match client(req, request_timeout) {
        Err(e) => Err(e),
        Ok(client) => match &req.until {
            None => once(&client, req, request_timeout).await,
            Some((expected, within)) => repeat_until(&client, req, request_timeout, expected, *within).await,
        },
    };
    let (ok, detail) = match outcome {
        Ok(detail) => (true, detail),
        Err(detail) => (false, detail),
    };
    RequestResult { request, ok, detail, recorded: Vec::new() }
}

/// Whether `actual` contains `expected`: objects, every expected field
/// present and contained (recursively); arrays, every expected element
/// contained in some actual element; anything else, equal.
pub fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e.iter().all(|(k, ev)| a.get(k).is_some_and(|av| contains(av, ev))),
        (Value::Array(a), Value::Array(e)) => e.iter().all(|ev| a.iter().any(|av| contains(av, ev))),
        _ => actual == expected,
    }
}

fn client(req: &ConnectRequest, request_timeout: Duration) -> Result<HttpsClient, String> {
    let tls_failed = |e: openssl::error::ErrorStack| format!("cannot set up TLS for {}: {e}", req.endpoint.base_url);
    let mut tls = SslConnector::builder(SslMethod::tls_client()).map_err(tls_failed)?;
    if let Some(ca) = &req.endpoint.ca_file {
        tls.set_ca_file(ca).map_err(|e| format!("cannot use the CA file {}: {e}", ca.display()))?;
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false); // https URLs are handed to the TLS layer
    http.set_connect_timeout(Some(request_timeout));
    http.set_nodelay(true);
    let https = HttpsConnector::with_connector(http, tls).map_err(tls_failed)?;
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// What Connect answered.
struct Answer {
    status: StatusCode,
    /// The body as JSON, or as text (a string) when it is not JSON.
    body: Value,
}

impl Answer {
    /// `404 Not Found`.
    fn status_line(&self) -> String {
        format!("{} {}", self.status.as_u16(), self.status.canonical_reason().unwrap_or(""))
    }

    /// Connect's own words: the `message` field of its error answers.
    fn message(&self) -> String {
        match &self.body {
            Value::Object(o) => match o.get("message") {
                Some(Value::String(m)) => m.clone(),
                _ => short_json(&self.body),
            },
            Value::String(s) => short_text(s),
            Value::Null => String::new(),
            other => short_json(other),
        }
    }
}

/// The request once; a 409 (rebalance in progress) retried a few times.
async fn once(client: &HttpsClient, req: &ConnectRequest, timeout: Duration) -> Result<String, String> {
    let mut retries = 0;
    loop {
        let answer = exchange(client, req, timeout).await?;
        if answer.status == StatusCode::CONFLICT && !asks_for_stopped(&answer) {
            if retries < REBALANCE_RETRIES {
                retries += 1;
                // 1 s, then up to 2 s: a rebalance takes seconds.
                tokio::time::sleep(Duration::from_millis(750 + 250 * u64::from(retries))).await;
                continue;
            }
            return Err(format!(
                "{}: Kafka Connect at {} was still rebalancing after {REBALANCE_RETRIES} retries: {}",
                answer.status_line(),
                req.endpoint.base_url,
                answer.message()
            ));
        }
        return judge(req, &answer);
    }
}

/// The request every second until its answer contains `expected`.
async fn repeat_until(
    client: &HttpsClient,
    req: &ConnectRequest,
    timeout: Duration,
    expected: &Value,
    within: Duration,
) -> Result<String, String> {
    let deadline = Instant::now() + within;
    loop {
        let started = Instant::now();
        let last = match exchange(client, req, timeout).await {
            Ok(answer) if answer.status.is_success() && contains(&answer.body, expected) => {
                return Ok(format!("{}: the answer contains {}", answer.status_line(), short_json(expected)));
            }
            Ok(answer) if answer.status.is_success() => short_json(&answer.body),
            // Wrong credentials do not get better by waiting.
            Ok(answer) if matches!(answer.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                return judge(req, &answer);
            }
            // A worker restarting or rebalancing: the next try may do.
            Ok(answer) => judge(req, &answer).err().unwrap_or_default(),
            Err(e) => e,
        };
        let next = started + UNTIL_EVERY;
        if next >= deadline {
            return Err(format!("timed out after {}: last answer {last}", secs(within)));
        }
        tokio::time::sleep_until(next.into()).await;
    }
}

/// One HTTP exchange, bounded by `timeout`; transport failures in words.
async fn exchange(client: &HttpsClient, req: &ConnectRequest, timeout: Duration) -> Result<Answer, String> {
    let base = &req.endpoint.base_url;
    let url = format!("{base}{}", req.path);
    let uri: Uri = url.parse().map_err(|e| format!("{url} is not a valid URL: {e}"))?;
    let method = match req.method {
        Method::Get => hyper::Method::GET,
        Method::Put => hyper::Method::PUT,
        Method::Post => hyper::Method::POST,
        Method::Patch => hyper::Method::PATCH,
    };
    let mut builder = hyper::Request::builder().method(method).uri(uri).header(ACCEPT, "application/json");
    if let Some((user, password)) = &req.endpoint.basic_auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", password.expose()));
        let mut value = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| format!("the user name {user} cannot be sent in an HTTP header"))?;
        value.set_sensitive(true);
        builder = builder.header(AUTHORIZATION, value);
    }
    let body = match &req.body {
        Some(v) => {
            builder = builder.header(CONTENT_TYPE, "application/json");
            Full::new(Bytes::from(v.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    let request = builder.body(body).map_err(|e| format!("cannot build the request to {url}: {e}"))?;
    let did_not_answer = || format!("Kafka Connect at {base} did not answer within {}", secs_at_least_one(timeout));
    let exchange = async {
        let response = client.request(request).await.map_err(|e| transport_words(base, &e, timeout))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), BODY_MAX)
            .collect()
            .await
            .map_err(|e| format!("Kafka Connect at {base} broke off its answer ({status}): {e}"))?
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Ok(Answer { status, body })
    };
    tokio::time::timeout(timeout, exchange).await.unwrap_or_else(|_| Err(did_not_answer()))
}

/// A transport failure (refused, unresolvable, TLS) in words.
fn transport_words(base: &str, e: &hyper_util::client::legacy::Error, timeout: Duration) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut chain: Vec<String> = Vec::new();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return format!(
                        "Kafka Connect at {base} did not answer: connection refused (nothing listens there)"
                    );
                }
                std::io::ErrorKind::TimedOut => {
                    return format!("Kafka Connect at {base} did not answer within {}", secs_at_least_one(timeout));
                }
                _ => {}
            }
        }
        let text = err.to_string();
        if text.contains("certificate verify failed") {
            // OpenSSL's words end with the verification result.
            let reason = text.rsplit(": ").next().unwrap_or("certificate verify failed");
            return format!(
                "Kafka Connect at {base} presented a certificate kdrill does not trust ({reason}): \
                 name the CA file that signed it"
            );
        }
        if !chain.iter().any(|c| c.contains(&text)) {
            chain.push(text);
        }
        source = err.source();
    }
    format!("cannot reach Kafka Connect at {base}: {}", chain.join(": "))
}

/// The answer judged: `Ok(detail)` on 2xx, else what went wrong in words.
fn judge(req: &ConnectRequest, answer: &Answer) -> Result<String, String> {
    let status = answer.status_line();
    let base = &req.endpoint.base_url;
    if answer.status.is_success() {
        let summary = match &answer.body {
            Value::Null => String::new(),
            body => {
                let text = body.to_string();
                if text.chars().count() <= SUMMARY_MAX { format!(": {text}") } else { String::new() }
            }
        };
        return Ok(format!("{status}{summary}"));
    }
    let message = answer.message();
    let words = match answer.status {
        StatusCode::UNAUTHORIZED => match &req.endpoint.basic_auth {
            Some((user, _)) => format!("Kafka Connect at {base} refused the credentials of {user}"),
            None => format!("Kafka Connect at {base} wants credentials and none are configured"),
        },
        StatusCode::FORBIDDEN => {
            let who = req.endpoint.basic_auth.as_ref().map(|(u, _)| u.as_str()).unwrap_or("an anonymous caller");
            format!("forbidden: {who} may not {} {}: {message}", req.method.as_str(), req.path)
        }
        StatusCode::NOT_FOUND => match connector_name(&req.path) {
            Some(name) => format!("no connector {name} on {base}"),
            None => format!("no {} on {base}: {message}", req.path),
        },
        StatusCode::BAD_REQUEST | StatusCode::CONFLICT if is_offsets_change(req) || asks_for_stopped(answer) => {
            format!("the connector must be STOPPED first: {message}")
        }
        s if s.is_server_error() => format!("Kafka Connect at {base} failed: {message}"),
        _ => message,
    };
    Err(if words.is_empty() { status } else { format!("{status}: {words}") })
}

/// Connect refuses to change offsets of a connector that is not STOPPED.
fn is_offsets_change(req: &ConnectRequest) -> bool {
    req.method != Method::Get && req.path.split('?').next().is_some_and(|p| p.ends_with("/offsets"))
}

fn asks_for_stopped(answer: &Answer) -> bool {
    answer.message().contains("STOPPED")
}

/// The connector a path addresses (`/connectors/{name}/…`), decoded.
fn connector_name(path: &str) -> Option<String> {
    let path = path.split('?').next()?;
    let encoded = path.strip_prefix("/connectors/")?.split('/').next().filter(|s| !s.is_empty())?;
    Some(percent_decode(encoded))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON value, cut to a few hundred characters.
fn short_json(v: &Value) -> String {
    short_text(&v.to_string())
}

fn short_text(s: &str) -> String {
    match s.char_indices().nth(SUMMARY_MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// `1 s` rather than `0 s` for a sub-second timeout.
fn secs_at_least_one(d: Duration) -> String {
    secs(d.max(Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::act::ConnectEndpoint;

    #[test]
    fn objects_contain_their_expected_fields_recursively() {
        let status = json!({"name": "a", "connector": {"state": "STOPPED", "worker_id": "w"}, "tasks": []});
        assert!(contains(&status, &json!({"connector": {"state": "STOPPED"}})));
        assert!(contains(&status, &json!({})));
        assert!(!contains(&status, &json!({"connector": {"state": "RUNNING"}})));
        assert!(!contains(&status, &json!({"connector": {"state": "STOPPED", "trace": "x"}})));
        assert!(!contains(&status, &json!({"missing": null})));
    }

    #[test]
    fn arrays_contain_each_expected_element_somewhere() {
        let tasks = json!({"tasks": [{"id": 0, "state": "RUNNING"}, {"id": 1, "state": "FAILED"}]});
        assert!(contains(&tasks, &json!({"tasks": [{"state": "FAILED"}]})));
        assert!(contains(&tasks, &json!({"tasks": [{"id": 1}, {"id": 0, "state": "RUNNING"}]})));
        assert!(contains(&tasks, &json!({"tasks": []})));
        assert!(!contains(&tasks, &json!({"tasks": [{"id": 2}]})));
        assert!(!contains(&tasks, &json!({"tasks": {"id": 0}})));
    }

    #[test]
    fn scalars_are_equal_or_not() {
        assert!(contains(&json!("RUNNING"), &json!("RUNNING")));
        assert!(!contains(&json!("RUNNING"), &json!("running")));
        assert!(contains(&json!(3), &json!(3)));
        assert!(!contains(&json!(3), &json!("3")));
        assert!(!contains(&json!(null), &json!({})));
    }

    fn request(method: Method, path: &str) -> ConnectRequest {
        ConnectRequest {
            endpoint: ConnectEndpoint {
                base_url: "http://connect:8083".into(),
                basic_auth: Some(("ops".into(), crate::config::Secret::new("hunter2"))),
                ca_file: None,
            },
            method,
            path: path.into(),
            body: None,
            until: None,
        }
    }

    #[test]
    fn answers_are_judged_in_words() {
        let answer = |code: u16, body: Value| Answer { status: StatusCode::from_u16(code).unwrap(), body };
        let stop = request(Method::Put, "/connectors/dc-%3Edr.MirrorSourceConnector/stop");
        assert_eq!(judge(&stop, &answer(202, Value::Null)), Ok("202 Accepted".into()));
        assert_eq!(judge(&stop, &answer(204, Value::Null)), Ok("204 No Content".into()));
        assert_eq!(
            judge(&stop, &answer(404, json!({"error_code": 404, "message": "x"}))),
            Err("404 Not Found: no connector dc->dr.MirrorSourceConnector on http://connect:8083".into())
        );
        let refused = judge(&stop, &answer(401, Value::Null)).unwrap_err();
        assert_eq!(refused, "401 Unauthorized: Kafka Connect at http://connect:8083 refused the credentials of ops");
        assert!(!refused.contains("hunter2"));
        assert_eq!(
            judge(&stop, &answer(500, json!({"error_code": 500, "message": "Request timed out"}))),
            Err("500 Internal Server Error: Kafka Connect at http://connect:8083 failed: Request timed out".into())
        );
        let patch = request(Method::Patch, "/connectors/a/offsets");
        let not_stopped = judge(&patch, &answer(400, json!({"message": "must be in the STOPPED state"}))).unwrap_err();
        assert!(not_stopped.starts_with("400 Bad Request: the connector must be STOPPED first"), "{not_stopped}");
        let big = json!({"offsets": vec![json!({"partition": {"p": "x".repeat(50)}}); 10]});
        assert_eq!(judge(&request(Method::Get, "/connectors/a/offsets"), &answer(200, big)), Ok("200 OK".into()));
        let root = request(Method::Get, "/nothing");
        assert_eq!(
            judge(&root, &answer(404, json!({"message": "HTTP 404 Not Found"}))),
            Err("404 Not Found: no /nothing on http://connect:8083: HTTP 404 Not Found".into())
        );
    }

    #[test]
    fn connector_names_are_read_back_from_paths() {
        assert_eq!(connector_name("/connectors/dc-%3Edr.Mirror/status"), Some("dc->dr.Mirror".into()));
        assert_eq!(connector_name("/connectors/a?expand=status"), Some("a".into()));
        assert_eq!(connector_name("/connectors"), None);
        assert_eq!(connector_name("/connectors/"), None);
        assert_eq!(percent_decode("100%"), "100%");
    }
}
