//! The security kdrill connects to a cluster with, in words a new user
//! understands: which protocol, mechanism and user (never the secret), why
//! a connection failed (authentication, an untrusted or expired server
//! certificate, a listener without TLS, nothing listening), and when the
//! server certificate expires. librdkafka reports all of these as a
//! "broker transport failure"; a TLS handshake of our own (openssl, once
//! per failure or per hour) tells them apart.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use chrono::Utc;
use openssl::asn1::Asn1Time;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::X509VerifyResult;

use crate::config::ClusterConfig;
use crate::model::{Security, Ts};

/// The protocol, mechanism and user of `cfg` as librdkafka will use them.
pub fn security_of(cfg: &ClusterConfig) -> Security {
    let prop = |k: &str| cfg.properties.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let protocol = prop("security.protocol").unwrap_or_else(|| "plaintext".into()).to_ascii_uppercase();
    let sasl = protocol.starts_with("SASL");
    Security {
        mechanism: sasl
            .then(|| prop("sasl.mechanisms").or_else(|| prop("sasl.mechanism")))
            .flatten()
            .or(sasl.then(|| "GSSAPI".into())),
        user: sasl.then(|| prop("sasl.username")).flatten(),
        protocol,
        cert_not_after: None,
        cert_warn_days: cfg.cert_warn_days,
    }
}

/// Whether kdrill talks TLS to this cluster.
pub fn uses_tls(s: &Security) -> bool {
    s.protocol == "SSL" || s.protocol == "SASL_SSL"
}

/// What a TLS handshake with the first bootstrap address showed.
#[derive(Clone, Debug, PartialEq)]
pub enum Handshake {
    /// The server's certificate, trusted or not; `problem` says why not.
    Certificate { not_after: Option<Ts>, problem: Option<String> },
    /// No TCP connection.
    Unreachable(String),
    /// A TCP connection but no TLS server on it.
    NoTls,
}

/// One TLS handshake with `cfg`'s first bootstrap address, bounded by
/// `timeout`, verifying as librdkafka does (the CA of `ssl.ca.location`,
/// else the system's; the host name of the address) but completing even
/// when verification fails, so the certificate and the reason can be read.
pub fn handshake(cfg: &ClusterConfig, timeout: Duration) -> Handshake {
    let first = cfg.bootstrap.split(',').next().unwrap_or("").trim();
    let first = first.rsplit_once("://").map_or(first, |(_, a)| a);
    let Some((host, _port)) = first.rsplit_once(':') else {
        return Handshake::Unreachable(format!("bootstrap address {first} has no port"));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = match first.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        Ok(None) | Err(_) => return Handshake::Unreachable(format!("cannot resolve {first}")),
    };
    let tcp = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => s,
        Err(e) => return Handshake::Unreachable(format!("connection to {first} failed: {e}")),
    };
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let Ok(mut builder) = SslConnector::builder(SslMethod::tls_client()) else {
        return Handshake::Unreachable("cannot set up TLS (openssl)".into());
    };
    if let Some(ca) = cfg.properties.get("ssl.ca.location")
        && builder.set_ca_file(ca).is_err()
    {
        return Handshake::Certificate {
            not_after: None,
            problem: Some(format!("cannot read the CA file ssl.ca.location = {ca}")),
        };
    }
    // Accept whatever comes: the verdict is read from the result below.
    builder.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
    let connector = builder.build();
    let Ok(config) = connector.configure() else {
        return Handshake::Unreachable("cannot set up TLS (openssl)".into());
    };
    let stream = match config.connect(host, tcp) {
        Ok(s) => s,
        Err(_) => return Handshake::NoTls,
    };
    let ssl = stream.ssl();
    let not_after = ssl.peer_certificate().and_then(|c| not_after_ts(c.not_after()));
    let result = ssl.verify_result();
    let problem = (result != X509VerifyResult::OK).then(|| verify_problem(result, host, cfg, not_after));
    Handshake::Certificate { not_after, problem }
}

fn not_after_ts(t: &openssl::asn1::Asn1TimeRef) -> Option<Ts> {
    let now = Asn1Time::days_from_now(0).ok()?;
    let d = now.diff(t).ok()?;
    Some(Utc::now() + chrono::Duration::days(i64::from(d.days)) + chrono::Duration::seconds(i64::from(d.secs)))
}

fn verify_problem(r: X509VerifyResult, host: &str, cfg: &ClusterConfig, not_after: Option<Ts>) -> String {
    // X509_V_ERR_* codes (x509_vfy.h).
    const EXPIRED: i32 = 10;
    const NOT_YET_VALID: i32 = 9;
    const HOSTNAME_MISMATCH: i32 = 62;
    const IP_MISMATCH: i32 = 64;
    let ca = match cfg.properties.get("ssl.ca.location") {
        Some(p) => format!("the CA in ssl.ca.location ({p})"),
        None => "the system's CAs (set ssl.ca.location)".into(),
    };
    match r.as_raw() {
        EXPIRED => match not_after {
            Some(t) => format!("server certificate expired on {}", t.format("%Y-%m-%d")),
            None => "server certificate expired".into(),
        },
        NOT_YET_VALID => "server certificate not yet valid".into(),
        HOSTNAME_MISMATCH | IP_MISMATCH => {
            format!("server certificate is not valid for host {host} (hostname mismatch)")
        }
        _ => format!("server certificate not trusted by {ca}: {}", r.error_string()),
    }
}

/// The words for a connection that failed, from what librdkafka reported
/// (`reason`, already free of secrets) and, for TLS failures, a handshake
/// of our own. `None`: nothing better than librdkafka's own error.
pub fn explain(cfg: &ClusterConfig, reason: &str, probe: impl FnOnce() -> Handshake) -> Option<String> {
    let alias = &cfg.alias;
    let sec = security_of(cfg);
    if reason.contains("SASL authentication error") || reason.contains("Authentication failed") {
        let mech = sec.mechanism.as_deref().unwrap_or("SASL");
        let user = sec.user.as_deref().unwrap_or("(no sasl.username)");
        return Some(format!("authentication failed on {alias}: {mech} user {user}"));
    }
    let tls_failed = is_security_failure(reason);
    if tls_failed && uses_tls(&sec) {
        return Some(match probe() {
            Handshake::Certificate { problem: Some(p), .. } => format!("TLS failed on {alias}: {p}"),
            Handshake::Certificate { problem: None, .. } => format!("TLS failed on {alias}: {}", tls_tail(reason)),
            Handshake::NoTls => format!(
                "TLS failed on {alias}: no TLS at {} (a listener without TLS? security.protocol is {})",
                cfg.bootstrap, sec.protocol
            ),
            Handshake::Unreachable(e) => format!("{alias} unreachable: {e}"),
        });
    }
    // Not about security: still a failed metadata request, in words.
    if reason.contains("Connection refused") {
        return Some(format!("metadata: {alias} unreachable: connection refused at {}", cfg.bootstrap));
    }
    if reason.contains("Failed to resolve") {
        return Some(format!("metadata: {alias} unreachable: cannot resolve {}", cfg.bootstrap));
    }
    None
}

/// A failure librdkafka would retry until the deadline although retrying
/// cannot help: credentials or TLS.
pub fn is_security_failure(reason: &str) -> bool {
    reason.contains("SASL authentication error")
        || reason.contains("Authentication failed")
        || reason.contains("SSL")
        || reason.contains("certificate")
}

/// The part of librdkafka's TLS error that says what went wrong.
fn tls_tail(reason: &str) -> String {
    let r = reason.rsplit_once("SSL routines::").map_or(reason, |(_, t)| t);
    r.split(" (after").next().unwrap_or(r).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(props: &[(&str, &str)]) -> ClusterConfig {
        ClusterConfig {
            side: crate::model::Side::Dc,
            alias: "dc".into(),
            bootstrap: "127.0.0.1:1".into(),
            properties: props.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            secrets: Default::default(),
            kube: None,
            apps: crate::config::AppsBackend::None,
            cert_warn_days: 30,
        }
    }

    #[test]
    fn security_names_protocol_mechanism_and_user() {
        let c = cfg(&[
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "kdrill"),
        ]);
        let s = security_of(&c);
        assert_eq!(
            (s.protocol.as_str(), s.mechanism.as_deref(), s.user.as_deref()),
            ("SASL_SSL", Some("SCRAM-SHA-512"), Some("kdrill"))
        );
        assert_eq!(security_of(&cfg(&[])).protocol, "PLAINTEXT");
        assert_eq!(security_of(&cfg(&[])).mechanism, None);
    }

    #[test]
    fn authentication_failures_are_named_with_mechanism_and_user() {
        let c = cfg(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "kdrill"),
        ]);
        let reason = "sasl_ssl://127.0.0.1:19094/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512";
        let text = explain(&c, reason, || Handshake::NoTls);
        assert_eq!(text.as_deref(), Some("authentication failed on dc: SCRAM-SHA-512 user kdrill"));
    }

    #[test]
    fn a_closed_port_is_unreachable() {
        let c = cfg(&[]);
        let text =
            explain(&c, "Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT)", || {
                Handshake::NoTls
            });
        assert_eq!(text.as_deref(), Some("metadata: dc unreachable: connection refused at 127.0.0.1:1"));
        assert!(matches!(handshake(&c, Duration::from_secs(1)), Handshake::Unreachable(_)));
    }
}
