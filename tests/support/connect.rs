//! MM2's Connect worker in the lab (DC→DR, on DR), through its REST API:
//! a minimal HTTP client on loopback, connector verbs retried while Connect
//! rebalances, and a guard that resumes a connector whatever happens.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The REST address (`host:port`) of the DC→DR worker, as the lab's
/// `lab.env` gives it (its ports shift with `KDRILL_LAB_PORT_OFFSET`).
pub fn rest_address() -> &'static str {
    static ADDRESS: OnceLock<String> = OnceLock::new();
    ADDRESS.get_or_init(|| {
        let env = std::fs::read_to_string(super::lab().dir.join("lab.env")).unwrap_or_default();
        env.lines()
            .find_map(|l| l.strip_prefix("KDRILL_LAB_MM2_DC_DR_REST="))
            .map(|url| url.trim().trim_start_matches("http://").to_owned())
            .unwrap_or_else(|| "127.0.0.1:28083".to_owned())
    })
}

/// Minimal Connect REST call; returns the status code and the body.
pub fn rest(method: &str, path: &str) -> Result<(u16, String), String> {
    rest_with(method, path, "")
}

/// A Connect REST call with a JSON body.
pub fn rest_with(method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let rest = rest_address();
    let addr = rest.parse().map_err(|e| format!("{rest}: {e}"))?;
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| format!("connect {rest}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {rest}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut response = String::new();
    s.read_to_string(&mut response).map_err(|e| format!("read: {e}"))?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {response:?}"))?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((code, body))
}

/// `PUT /connectors/<name>/<verb>`, retried while Connect rebalances (409/5xx).
pub fn connector_verb(name: &str, verb: &str, limit: Duration) -> Result<u16, String> {
    let path = format!("/connectors/{}/{verb}", name.replace('>', "%3E"));
    let start = Instant::now();
    loop {
        let last = match rest("PUT", &path) {
            Ok((code @ 200..=299, _)) => return Ok(code),
            Ok((code, body)) => format!("HTTP {code}: {body}"),
            Err(e) => e,
        };
        if start.elapsed() > limit {
            return Err(format!("PUT {path}: {last}"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Resumes the connector when dropped, whatever happened.
pub struct Resume(pub &'static str);

impl Drop for Resume {
    fn drop(&mut self) {
        if let Err(e) = connector_verb(self.0, "resume", Duration::from_secs(30)) {
            eprintln!("could not resume {}: {e}", self.0);
        }
    }
}
