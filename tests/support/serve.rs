//! `kdrill serve` as a child process on an ephemeral loopback port, and
//! plain HTTP/1.0 GETs against it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process ended when the test ends, also on failure.
pub struct Process {
    child: Child,
}

impl Process {
    /// Owns `child`: it is killed when this is dropped.
    pub fn own(child: Child) -> Process {
        Process { child }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kdrill serve ARGS` on an ephemeral loopback port: the process and its
/// address. Without `--config` in `args`, no configuration file is read.
pub fn serve(args: &[&str]) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kdrill"))
        .arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KDRILL_CONFIG", "/nonexistent/kdrill.toml")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn kdrill serve: {e}"));
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    BufReader::new(stdout).read_line(&mut line).unwrap_or_else(|e| panic!("first line: {e}"));
    let process = Process { child };
    let addr = line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("{line:?}")).to_owned();
    (process, addr)
}

/// GET on its own connection, HTTP/1.0 (no chunked bodies): (status, body).
pub fn get(addr: &str, path: &str) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(addr) else { return (0, String::new()) };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").is_err() {
        return (0, String::new());
    }
    let mut raw = Vec::new();
    if stream.read_to_end(&mut raw).is_err() {
        return (0, String::new());
    }
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

/// Waits, bounded, until `path` answers 200.
pub fn await_ok(addr: &str, path: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while get(addr, path).0 != 200 {
        assert!(Instant::now() < deadline, "{addr}{path} never answered 200 within {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
