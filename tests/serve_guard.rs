//! `kdrill serve` behind TLS and basic authentication, over real
//! connections on loopback: a certificate authority and a server
//! certificate made by the `openssl` CLI for the test, a client that trusts
//! only that authority; 401 without or with wrong credentials, 200 with the
//! right ones; `/healthz` open; 405 for every method but GET and HEAD; bad
//! files and secrets refused at start-up, naming the option.

// The helpers run only under test: a panic there is the test's failure.
#![allow(clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};

const ROUTES: [&str; 6] = ["/", "/metrics", "/api/v1/assessment", "/healthz", "/readyz", "/events"];
const USER: &str = "wall";
const PASSWORD: &str = "pa55-wall:with colon";
const PASSPHRASE: &str = "key-passphrase-7d2e";

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("kdrill-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
    fn path(&self, file: &str) -> String {
        self.0.join(file).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("the openssl CLI (apt-get install openssl)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A throwaway CA (`ca.crt`) and a certificate it signed for localhost and
/// 127.0.0.1 (`server.crt`), with its key in the clear (`server.key`) and
/// encrypted with `PASSPHRASE` (`server-enc.key`).
fn certificates(dir: &TempDir) {
    let p = |f| dir.path(f);
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let (ca_key, ca_crt, key, csr) = (p("ca.key"), p("ca.crt"), p("server.key"), p("server.csr"));
    let ca = ["req", "-x509", "-keyout", &ca_key, "-out", &ca_crt, "-subj", "/CN=kdrill test CA", "-days", "1"];
    openssl(&[&ca[..], &ec].concat());
    let server = ["req", "-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"];
    openssl(&[&server[..], &ec].concat());
    std::fs::write(p("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").expect("write ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("server.csr"),
        "-CA",
        &p("ca.crt"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-out",
        &p("server.crt"),
        "-days",
        "1",
        "-extfile",
        &p("san.ext"),
    ]);
    let pass = format!("pass:{PASSPHRASE}");
    openssl(&["pkey", "-in", &p("server.key"), "-aes256", "-passout", &pass, "-out", &p("server-enc.key")]);
}

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

fn kdrill(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kdrill"));
    cmd.arg("serve")
        .args(["--demo", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("KDRILL_CONFIG", "/nonexistent/kdrill.toml")
        .envs(env.iter().copied());
    cmd
}

/// `kdrill serve --demo ARGS`; `scheme` is what it must say it serves.
fn spawn(scheme: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut child = kdrill(args, env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn kdrill");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    let Some(addr) = line.trim().strip_prefix(&format!("listening on {scheme}://")).map(str::to_owned) else {
        let mut err = String::new();
        let _ = child.stderr.take().expect("stderr").read_to_string(&mut err);
        panic!("{line:?} {err}");
    };
    Server { child, addr }
}

/// How a request reaches the server.
#[derive(Clone, Copy)]
enum Via<'a> {
    Plain,
    /// TLS, trusting only this CA file.
    Tls(&'a str),
}

fn connect(server: &Server, via: Via) -> Box<dyn ReadWrite> {
    let tcp = TcpStream::connect(&server.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    match via {
        Via::Plain => Box::new(tcp),
        Via::Tls(ca) => {
            let mut b = SslConnector::builder(SslMethod::tls_client()).expect("connector");
            b.set_ca_file(ca).expect("the test CA");
            b.set_verify(SslVerifyMode::PEER);
            Box::new(b.build().connect("localhost", tcp).expect("TLS handshake with a certificate the CA signed"))
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn authorization(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Authorization: Basic {token}\r\n")
}

/// One request on its own connection: (status, head, body).
fn request(server: &Server, via: Via, method: &str, path: &str, creds: Option<(&str, &str)>) -> (u16, String, String) {
    let mut stream = connect(server, via);
    let auth = creds.map(|(u, p)| authorization(u, p)).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    // TLS peers may end without close_notify: what arrived is the answer.
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// The first event of /events.
fn first_event(server: &Server, via: Via, creds: (&str, &str)) -> String {
    let mut stream = connect(server, via);
    write!(stream, "GET /events HTTP/1.1\r\nHost: localhost\r\n{}\r\n", authorization(creds.0, creds.1))
        .expect("write");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(reader.read_line(&mut line).expect("read") > 0, "stream ended before an event");
        if let Some(data) = line.trim().strip_prefix("data: ") {
            return data.to_owned();
        }
    }
}

fn wait_ready(server: &Server, via: Via) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while request(server, via, "GET", "/readyz", Some((USER, PASSWORD))).0 != 200 {
        assert!(Instant::now() < deadline, "/readyz never answered 200");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every route: 405 for every method but GET and HEAD, whatever the
/// credentials; without or with wrong ones 401 with the challenge (but
/// /healthz); with the right ones what an open server answers.
fn assert_guarded(server: &Server, via: Via) {
    let wrong = [None, Some((USER, "wrong")), Some(("other", PASSWORD)), Some((USER, "")), Some(("", ""))];
    for path in ROUTES {
        for creds in wrong.iter().copied().chain([Some((USER, PASSWORD))]) {
            for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
                let (status, head, _) = request(server, via, method, path, creds);
                assert_eq!(status, 405, "{method} {path}");
                assert!(head.to_lowercase().contains("allow: get, head"), "{method} {path}: {head}");
            }
        }
        let methods: &[&str] = if path == "/events" { &["HEAD"] } else { &["GET", "HEAD"] };
        for &method in methods {
            for creds in wrong {
                let (status, head, body) = request(server, via, method, path, creds);
                if path == "/healthz" {
                    assert_eq!(status, 200, "{method} {path} is open to probes");
                    continue;
                }
                assert_eq!(status, 401, "{method} {path} with {creds:?}");
                assert!(head.contains("www-authenticate: Basic realm=\"kdrill\""), "{method} {path}: {head}");
                assert!(!body.contains("kdrill_") && !body.contains("observed_at"), "{method} {path} leaked: {body}");
            }
            let (status, _, body) = request(server, via, method, path, Some((USER, PASSWORD)));
            assert_eq!(status, 200, "{method} {path} with the right credentials");
            assert_eq!(body.is_empty(), method == "HEAD", "{method} {path}");
        }
    }
    let event: serde_json::Value = serde_json::from_str(&first_event(server, via, (USER, PASSWORD))).expect("JSON");
    assert_eq!(event["sides"].as_array().map(Vec::len), Some(2));
}

#[test]
fn over_tls_with_basic_auth_only_the_right_credentials_get_in() {
    let dir = TempDir::new("serve-tls");
    certificates(&dir);
    std::fs::write(dir.path("password"), format!("{PASSWORD}\n")).expect("password file");
    let (cert, key, ca, password) =
        (dir.path("server.crt"), dir.path("server-enc.key"), dir.path("ca.crt"), dir.path("password"));
    let password_source = format!("file:{password}");
    let server = spawn(
        "https",
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-key-passphrase",
            "env:KDRILL_TEST_KEY_PASS",
            "--basic-auth-user",
            USER,
            "--basic-auth-password",
            &password_source,
        ],
        &[("KDRILL_TEST_KEY_PASS", PASSPHRASE)],
    );
    let via = Via::Tls(&ca);
    wait_ready(&server, via);
    assert_guarded(&server, via);

    // A client that does not trust the test CA is refused the handshake:
    // the certificate is really checked, not just any TLS.
    let tcp = TcpStream::connect(&server.addr).expect("connect");
    let mut strict = SslConnector::builder(SslMethod::tls_client()).expect("connector");
    strict.set_verify(SslVerifyMode::PEER);
    assert!(strict.build().connect("localhost", tcp).is_err(), "a certificate no trusted CA signed was accepted");
    // Plain HTTP to the TLS port gets no page (the server may reset it).
    let mut plain = TcpStream::connect(&server.addr).expect("connect");
    plain.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let _ = plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "plain HTTP answered over the TLS port");
}

#[test]
fn basic_auth_over_plain_http_guards_every_route_but_healthz() {
    let server = spawn(
        "http",
        &["--basic-auth-user", USER, "--basic-auth-password", "env:KDRILL_TEST_WALL_PASSWORD"],
        &[("KDRILL_TEST_WALL_PASSWORD", PASSWORD)],
    );
    wait_ready(&server, Via::Plain);
    assert_guarded(&server, Via::Plain);
}

/// `kdrill serve --demo ARGS` expected to refuse to start.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = kdrill(args, env);
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn kdrill");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut child = child;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kdrill serve {args:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Output { status, stdout, stderr } = child.wait_with_output().expect("output");
    assert_eq!(status.code(), Some(2), "{args:?}");
    assert!(!String::from_utf8_lossy(&stdout).contains("listening"), "{args:?} listened");
    String::from_utf8_lossy(&stderr).into_owned()
}

#[test]
fn bad_certificates_keys_and_secrets_are_start_up_errors_naming_the_option() {
    let dir = TempDir::new("serve-tls-bad");
    certificates(&dir);
    let (cert, key, enc, ca_key) =
        (dir.path("server.crt"), dir.path("server.key"), dir.path("server-enc.key"), dir.path("ca.key"));
    let missing = dir.path("missing.pem");
    let pass_env = [("KDRILL_TEST_KEY_PASS", PASSPHRASE)];
    let wrong_env = [("KDRILL_TEST_KEY_PASS", "not-the-passphrase")];
    // (arguments, environment, what the error must name)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case; 8] = [
        (&["--tls-cert", &missing, "--tls-key", &key], &[], &["--tls-cert", &missing, "cannot read"]),
        (&["--tls-cert", &cert, "--tls-key", &missing], &[], &["--tls-key", &missing, "cannot read"]),
        (&["--tls-cert", &key, "--tls-key", &key], &[], &["--tls-cert", &key, "not a PEM certificate"]),
        (&["--tls-cert", &cert, "--tls-key", &ca_key], &[], &["--tls-key", &ca_key, "does not match"]),
        (&["--tls-cert", &cert, "--tls-key", &enc], &[], &["--tls-key", &enc, "--tls-key-passphrase"]),
        (
            &["--tls-cert", &cert, "--tls-key", &enc, "--tls-key-passphrase", "env:KDRILL_TEST_KEY_PASS"],
            &wrong_env,
            &["--tls-key", &enc, "passphrase"],
        ),
        (
            &["--tls-cert", &cert, "--tls-key", &enc, "--tls-key-passphrase", "env:KDRILL_TEST_UNSET_PASS"],
            &pass_env,
            &["--tls-key-passphrase", "KDRILL_TEST_UNSET_PASS", "not set"],
        ),
        (
            &["--basic-auth-user", USER, "--basic-auth-password", "file:/nonexistent/kdrill-password"],
            &[],
            &["--basic-auth-password", "/nonexistent/kdrill-password"],
        ),
    ];
    for (args, env, needed) in cases {
        let err = refused(args, env);
        for n in needed {
            assert!(err.contains(n), "{args:?}: {n:?} missing from:\n{err}");
        }
        assert!(!err.contains(PASSPHRASE) && !err.contains("not-the-passphrase"), "{args:?} printed a secret: {err}");
    }
    // A secret given inline is refused without being repeated.
    let err = refused(&["--basic-auth-user", USER, "--basic-auth-password", PASSWORD], &[]);
    assert!(err.contains("--basic-auth-password") && err.contains("env:VAR or file:PATH"), "{err}");
    assert!(!err.contains(PASSWORD), "the inline password was printed: {err}");
    let err = refused(&["--tls-cert", &cert, "--tls-key", &enc, "--tls-key-passphrase", PASSPHRASE], &[]);
    assert!(err.contains("--tls-key-passphrase") && !err.contains(PASSPHRASE), "{err}");
}
