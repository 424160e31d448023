//! kdrill on the lab's SASL_SSL listeners (SCRAM-SHA-512 over TLS, one lab
//! CA per cluster, `scripts/lab up` starts them beside plaintext): it sees
//! both clusters and MM2's footprint there exactly as over plaintext, says
//! in words why a connection fails (wrong password, untrusted CA, hostname
//! mismatch, expired certificate, a listener without TLS, nothing
//! listening), shows the security in use and the certificate's expiry, and
//! never lets a password out: not in `check`, its JSON, the debug log,
//! config errors or the console's screens.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kdrill::collect::kafka::cluster::ClusterPoller;
use kdrill::config::{Config, parse};
use kdrill::model::{Link, OffsetsSource, Side};
use support::{GroupMember, Protocol, lab, unique};

/// What `scripts/lab up` wrote about the secure listeners.
struct Secure {
    dc: String,
    dr: String,
    dc_ca: String,
    dr_ca: String,
    password_file: String,
    /// MM2's own user's password: its worker reaches both clusters over
    /// SASL_SSL, reading it through Connect's FileConfigProvider.
    mm2_password_file: String,
    dir: PathBuf,
}

fn secure() -> Secure {
    let l = lab();
    let env = std::fs::read_to_string(l.dir.join("lab.env")).unwrap_or_default();
    let get = |k: &str| {
        env.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).map(str::to_owned).unwrap_or_else(|| {
            panic!(
                "{k} missing from {}/lab.env: the lab runs without its SASL_SSL listener (started by an older \
                 scripts/lab); restart it: scripts/lab down; scripts/lab up",
                l.dir.display()
            )
        })
    };
    Secure {
        dc: get("KDRILL_LAB_DC_SECURE_BOOTSTRAP"),
        dr: get("KDRILL_LAB_DR_SECURE_BOOTSTRAP"),
        dc_ca: get("KDRILL_LAB_DC_CA_FILE"),
        dr_ca: get("KDRILL_LAB_DR_CA_FILE"),
        password_file: get("KDRILL_LAB_KDRILL_PASSWORD_FILE"),
        mm2_password_file: get("KDRILL_LAB_MM2_PASSWORD_FILE"),
        dir: l.dir.clone(),
    }
}

fn rest_urls() -> (String, String) {
    let env = std::fs::read_to_string(lab().dir.join("lab.env")).unwrap_or_default();
    let get = |k: &str| env.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or_default().to_owned();
    (get("KDRILL_LAB_MM2_DC_DR_REST"), get("KDRILL_LAB_MM2_DR_DC_REST"))
}

/// The shared part of both configurations: MM2, replication, timing.
fn rest_of_config() -> String {
    let (dc_dr, dr_dc) = rest_urls();
    format!(
        "[[mm2]]\nsource = \"dc\"\ntarget = \"dr\"\nflavour = \"strimzi\"\nconnect_url = \"{dc_dr}\"\n\
         [[mm2]]\nsource = \"dr\"\ntarget = \"dc\"\nflavour = \"strimzi\"\nconnect_url = \"{dr_dc}\"\n\
         [replication]\npolicy = \"identity\"\nheartbeats = \"mirrored\"\n\
         [timing]\npoll_interval = \"1s\"\nhold_window = \"5s\"\nstale_after = \"10s\"\nrate_window = \"10s\"\n"
    )
}

/// One secure cluster table; `secret` is the TOML of its password source.
fn secure_cluster(side: &str, bootstrap: &str, ca: &str, secret: &str, extra: &str) -> String {
    format!(
        "[clusters.{side}]\nbootstrap = \"{bootstrap}\"\n{extra}\n[clusters.{side}.properties]\n\
         \"security.protocol\" = \"SASL_SSL\"\n\"sasl.mechanisms\" = \"SCRAM-SHA-512\"\n\
         \"sasl.username\" = \"kdrill\"\n\"ssl.ca.location\" = \"{ca}\"\n\
         [clusters.{side}.secrets]\n\"sasl.password\" = {secret}\n"
    )
}

fn secure_text(s: &Secure, dc_secret: &str) -> String {
    let dr_secret = format!("{{ file = \"{}\" }}", s.password_file);
    format!(
        "{}{}{}",
        secure_cluster("dc", &s.dc, &s.dc_ca, dc_secret, ""),
        secure_cluster("dr", &s.dr, &s.dr_ca, &dr_secret, ""),
        rest_of_config()
    )
}

fn plain_text() -> String {
    let l = lab();
    format!("[clusters.dc]\nbootstrap = \"{}\"\n[clusters.dr]\nbootstrap = \"{}\"\n{}", l.dc, l.dr, rest_of_config())
}

fn config(text: &str) -> Config {
    parse(text, Path::new("lab-secure-test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// A config file on disk, for the `kdrill` binary.
fn write_config(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}.toml", unique(name)));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// `kdrill check [--json]` on `config`: exit code, stdout, stderr.
fn check(config: &Path, json: bool, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kdrill"));
    // 10 s to settle: on a loaded machine the first poll (TLS, SCRAM) may
    // take longer than the default 5 s.
    cmd.arg("--config")
        .arg(config)
        .args(["check", "--settle", "10s"])
        .env_remove("KDRILL_CONFIG")
        .env_remove("KDRILL_LOG");
    if json {
        cmd.arg("--json");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("kdrill check: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn poller(cfg: &Config, side: Side) -> ClusterPoller {
    ClusterPoller::new(cfg.cluster(side).clone(), cfg.timing.clone(), cfg.settings.classification.clone())
}

/// Polls until the cluster is up (bounded); the poller after that poll.
fn poll_up(cfg: &Config, side: Side) -> ClusterPoller {
    let mut p = poller(cfg, side);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        p.poll();
        if matches!(p.cluster().link, Link::Up { .. }) && p.cluster().groups.is_some() && p.cluster().topics.is_some() {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{side:?} not up over {:?}: {:?}",
            cfg.cluster(side).bootstrap,
            p.cluster().link
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The first poll's error: the cluster must be `Down` with words, fast.
fn down_error(cfg: &Config, side: Side) -> String {
    let mut p = poller(cfg, side);
    let started = Instant::now();
    p.poll();
    match &p.cluster().link {
        Link::Down { error, .. } => {
            support::note(&format!("{side:?} down after {:?}: {error}", started.elapsed()));
            error.clone()
        }
        other => panic!("expected {side:?} down, got {other:?}"),
    }
}

fn names<T>(v: &[T], f: impl Fn(&T) -> String) -> BTreeSet<String> {
    v.iter().map(f).collect()
}

#[test]
fn both_clusters_and_mm2_look_the_same_over_scram_tls_as_over_plaintext() {
    let s = secure();
    let _lock = support::shared();
    // Footprint of our own: a topic with records and a group with commits
    // on dc (MM2 mirrors both to dr).
    let topic = unique("secure-orders");
    let group = unique("secure-app");
    let l = lab();
    support::create_topic(&l.dc, &topic, 3);
    support::produce(&l.dc, &topic, &[30, 20, 10]);
    let member = GroupMember::join(&l.dc, &group, &topic, Protocol::Classic, "secure-test");
    // Retried: a commit while the group still forms is refused (IllegalGeneration).
    support::wait_for("the commit", Duration::from_secs(60), || {
        member.commit(&[(&topic, 0, 15), (&topic, 1, 20), (&topic, 2, 5)])
    });

    let plain = config(&plain_text());
    let sec = config(&secure_text(&s, &format!("{{ file = \"{}\" }}", s.password_file)));
    for side in [Side::Dc, Side::Dr] {
        // Our group and topic appear in the same poll on both listeners.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let p = poll_up(&plain, side);
            let q = poll_up(&sec, side);
            let (pc, qc) = (p.cluster(), q.cluster());
            let brokers = |c: &kdrill::model::Cluster| {
                names(&c.brokers.as_ref().map(|b| b.value.clone()).unwrap_or_default(), |b| format!("{}", b.id))
            };
            let topics = |c: &kdrill::model::Cluster| {
                names(&c.topics.as_ref().map(|t| t.value.clone()).unwrap_or_default(), |t| {
                    format!("{}/{}", t.name, t.partitions.len())
                })
            };
            let groups = |c: &kdrill::model::Cluster| {
                names(&c.groups.as_ref().map(|g| g.value.clone()).unwrap_or_default(), |g| g.id.clone())
            };
            let ours = topics(qc).iter().any(|t| t.starts_with(&format!("{topic}/")));
            if ours && brokers(pc) == brokers(qc) && topics(pc) == topics(qc) && groups(pc) == groups(qc) {
                assert!(!brokers(qc).is_empty());
                // Secure: the pane's facts, never a secret.
                let security = qc.security.clone().unwrap_or_default();
                assert_eq!(
                    (security.protocol.as_str(), security.mechanism.as_deref(), security.user.as_deref()),
                    ("SASL_SSL", Some("SCRAM-SHA-512"), Some("kdrill"))
                );
                let days = security.cert_not_after.map(|t| (t - chrono::Utc::now()).num_days());
                assert!(days.is_some_and(|d| (820..=826).contains(&d)), "lab certificates last 825 days: {days:?}");
                assert_eq!(pc.security.as_ref().map(|s| s.protocol.as_str()), Some("PLAINTEXT"));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{side:?} differs over SASL_SSL:\nbrokers {:?} vs {:?}\ntopics {:?}\n vs {:?}\ngroups {:?}\n vs {:?}",
                brokers(pc),
                brokers(qc),
                topics(pc),
                topics(qc),
                groups(pc),
                groups(qc)
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    // The whole judgement, as `check --json` gives it: roles, brokers,
    // groups, MM2's connectors and the lag, over both listeners.
    let plain_file = write_config("plain", &plain_text());
    let secure_file = write_config("secure", &secure_text(&s, &format!("{{ file = \"{}\" }}", s.password_file)));
    let summary = |json: &str| -> (serde_json::Value, f64) {
        let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let sides: Vec<serde_json::Value> = v["sides"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        let groups: BTreeSet<String> = s["groups"]
                            .as_array()
                            .map(|g| g.iter().filter_map(|g| g["group"].as_str().map(str::to_owned)).collect())
                            .unwrap_or_default();
                        serde_json::json!({"side": s["side"], "reachable": s["reachable"], "role": s["role"],
                            "brokers_up": s["brokers_up"], "groups": groups})
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mm2: Vec<serde_json::Value> = v["mm2"]
            .as_array()
            .map(|a| a.iter().map(|m| serde_json::json!({"flow": m["flow"], "health": m["health"], "connectors": m["connectors"]})).collect())
            .unwrap_or_default();
        let lag = v["lag"].as_array().and_then(|a| a.first()).and_then(|l| l["total_records"].as_f64());
        (serde_json::json!({"sides": sides, "mm2": mm2}), lag.unwrap_or(-1.0))
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, p, perr) = check(&plain_file, true, &[]);
        let (_, q, qerr) = check(&secure_file, true, &[]);
        let ((pv, plag), (qv, qlag)) = (summary(&p), summary(&q));
        // Lag moves between two reads taken a second apart: a tolerance.
        let close = plag >= 0.0 && qlag >= 0.0 && (plag - qlag).abs() <= 200.0_f64.max(plag * 0.1);
        if pv == qv && close {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "check differs over SASL_SSL:\nplain {pv} lag {plag}\nsecure {qv} lag {qlag}\n{perr}{qerr}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    drop(member);
    support::delete_topics(&l.dc, &[topic]);
    let _ = std::fs::remove_file(plain_file);
    let _ = std::fs::remove_file(secure_file);
}

/// Kafka ACLs that refuse `user` Read on `__consumer_offsets` of `bootstrap`
/// (every other user may still do anything with it, as before any ACL
/// named the topic); removed when dropped.
struct OffsetsRefused {
    bootstrap: String,
    user: String,
}

impl OffsetsRefused {
    /// The `scripts/lab tool kafka-acls` calls that add (or remove) them:
    /// everyone may do anything with the topic (as before an ACL named it),
    /// `user` may not read it.
    fn acls(&self, action: &str) -> Vec<Vec<String>> {
        let deny = format!("User:{}", self.user);
        [("--allow-principal", "User:*", "All"), ("--deny-principal", &deny, "Read")]
            .into_iter()
            .map(|(flag, principal, op)| {
                let mut a: Vec<String> =
                    ["tool", "kafka-acls", "--bootstrap-server", &self.bootstrap, action, flag, principal]
                        .map(str::to_owned)
                        .to_vec();
                a.extend(["--operation", op, "--topic", "__consumer_offsets"].map(str::to_owned));
                if action == "--remove" {
                    a.push("--force".to_owned());
                }
                a
            })
            .collect()
    }

    fn refuse(bootstrap: &str, user: &str) -> OffsetsRefused {
        let r = OffsetsRefused { bootstrap: bootstrap.to_owned(), user: user.to_owned() };
        for args in r.acls("--add") {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            lab().run(&args, Duration::from_secs(120)).unwrap_or_else(|e| panic!("{e}"));
        }
        r
    }
}

impl Drop for OffsetsRefused {
    fn drop(&mut self) {
        for args in self.acls("--remove") {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            if let Err(e) = lab().run(&args, Duration::from_secs(120)) {
                eprintln!("removing a lab ACL: {e}");
            }
        }
    }
}

/// A user a Kafka ACL refuses Read on `__consumer_offsets` (as a production
/// security team may): kdrill asks each group's committed offsets with one
/// OffsetFetch instead, says why in `check` and its JSON, and the offsets
/// are those Kafka's own tool gives. kdrill's usual user still reads the
/// topic beside it.
#[test]
fn without_read_access_to_consumer_offsets_groups_are_asked_one_by_one_and_it_is_said() {
    let s = secure();
    let _lock = support::shared();
    let l = lab();
    let user = "kdrill-noread";
    let password = unique("pw").replace('-', "");
    let password_file = s.dir.join("secure").join(format!("{user}.password"));
    std::fs::write(&password_file, &password).unwrap_or_else(|e| panic!("{}: {e}", password_file.display()));
    let scram = format!("SCRAM-SHA-512=[password={password}]");
    let add_user = ["tool", "kafka-configs", "--bootstrap-server", &l.dc, "--alter", "--entity-type", "users"];
    let add_user = [&add_user[..], &["--entity-name", user, "--add-config", &scram]].concat();
    l.run(&add_user, Duration::from_secs(120)).unwrap_or_else(|e| panic!("{e}"));
    let _refused = OffsetsRefused::refuse(&l.dc, user);

    let topic = unique("noread-orders");
    let group = unique("noread-app");
    support::create_topic(&l.dc, &topic, 2);
    support::produce(&l.dc, &topic, &[30, 20]);
    let member = GroupMember::join(&l.dc, &group, &topic, Protocol::Classic, "noread-test");
    support::wait_for("the commit", Duration::from_secs(60), || member.commit(&[(&topic, 0, 12), (&topic, 1, 20)]));

    let text = secure_text(&s, &format!("{{ file = \"{}\" }}", password_file.display()));
    // DC as the refused user; DR as kdrill's usual one.
    let refused_text = text.replacen("\"sasl.username\" = \"kdrill\"", &format!("\"sasl.username\" = \"{user}\""), 1);
    let refused = config(&refused_text);
    let usual = config(&secure_text(&s, &format!("{{ file = \"{}\" }}", s.password_file)));
    let committed_of = |p: &ClusterPoller| -> Option<Vec<(String, i32, i64)>> {
        let groups = p.cluster().groups.as_ref()?;
        let g = groups.value.iter().find(|g| g.id == group)?;
        Some(g.committed.as_ref()?.iter().map(|c| (c.topic.to_string(), c.partition, c.offset)).collect())
    };
    let expected = vec![(topic.clone(), 0, 12), (topic.clone(), 1, 20)];
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut p = poller(&refused, Side::Dc);
    loop {
        p.poll();
        let source = p.cluster().offsets_source.clone();
        if committed_of(&p).as_ref() == Some(&expected)
            && matches!(&source, Some(OffsetsSource::PerGroup(why)) if why.contains("no read access to __consumer_offsets"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "as {user}: offsets {:?} from {source:?}, link {:?}",
            committed_of(&p),
            p.cluster().link
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let rows = support::describe_group_with_kafka_tool(&l.dc, &group).unwrap_or_else(|e| panic!("{e}"));
    let by_tool: Vec<(String, i32, i64)> =
        rows.iter().filter_map(|r| Some((r.topic.clone(), r.partition, r.current?))).collect();
    assert_eq!(by_tool, expected, "Kafka's own tool");
    // A first read may not reach the topic's end within one poll (it then
    // asks per group, and goes on reading): the topic is read in the end.
    let mut q = poll_up(&usual, Side::Dc);
    support::wait_for("kdrill's usual user to read the topic", Duration::from_secs(30), || {
        match &q.cluster().offsets_source {
            Some(OffsetsSource::Topic) => Ok(()),
            other => {
                let last = format!("{other:?}");
                q.poll();
                Err(last)
            }
        }
    });

    let file = write_config("noread", &refused_text);
    let (_, out, err) = check(&file, false, &[]);
    assert!(out.contains("group offsets per-group requests (no read access to __consumer_offsets)"), "{out}\n{err}");
    let (_, json, err) = check(&file, true, &[]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}\n{err}"));
    assert_eq!(
        report["sides"][0]["group_offsets"], "per-group requests (no read access to __consumer_offsets)",
        "{report}"
    );
    assert!(!json.contains(&password) && !out.contains(&password), "the password never comes out");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&password_file);
}

#[test]
fn each_connection_failure_is_said_in_words_fast() {
    let s = secure();
    let _lock = support::shared();
    let file = |p: &str| format!("{{ file = \"{p}\" }}");
    let wrong = std::env::temp_dir().join(unique("wrong-password"));
    std::fs::write(&wrong, "not-the-password").unwrap_or_else(|e| panic!("{e}"));
    let wrong = file(&wrong.display().to_string());
    let right = file(&s.password_file);
    let with_dc = |bootstrap: &str, ca: &str, secret: &str| {
        let t = format!(
            "{}{}{}",
            secure_cluster("dc", bootstrap, ca, secret, ""),
            secure_cluster("dr", &s.dr, &s.dr_ca, &right, ""),
            rest_of_config()
        );
        config(&t)
    };
    let quick = |cfg: &Config| {
        let started = Instant::now();
        let e = down_error(cfg, Side::Dc);
        assert!(started.elapsed() < Duration::from_secs(8), "took {:?}: {e}", started.elapsed());
        e
    };
    let port = |a: &str| a.rsplit_once(':').map(|(_, p)| p.to_owned()).unwrap_or_default();

    let e = quick(&with_dc(&s.dc, &s.dc_ca, &wrong));
    assert_eq!(e, "authentication failed on dc: SCRAM-SHA-512 user kdrill");

    let e = quick(&with_dc(&s.dc, &s.dr_ca, &right));
    assert!(e.starts_with("TLS failed on dc: server certificate not trusted by the CA in ssl.ca.location"), "{e}");

    let e = quick(&with_dc(&format!("localhost:{}", port(&s.dc)), &s.dc_ca, &right));
    assert_eq!(e, "TLS failed on dc: server certificate is not valid for host localhost (hostname mismatch)");

    let e = quick(&with_dc(&lab().dc, &s.dc_ca, &right));
    assert!(e.starts_with("TLS failed on dc: no TLS at "), "{e}");

    // Nothing listens on port 1.
    let e = quick(&with_dc("127.0.0.1:1", &s.dc_ca, &right));
    assert_eq!(e, "metadata: dc unreachable: connection refused at 127.0.0.1:1");

    // An expired certificate, signed by dc's lab CA, served by openssl.
    let server = ExpiredServer::start(&s);
    let e = quick(&with_dc(&server.addr, &s.dc_ca, &right));
    assert!(e.starts_with("TLS failed on dc: server certificate expired on 2020-01-"), "{e}");

    // `check` says it too, and the wrong password closes the gates: dc is
    // never observed, so nothing can be judged there.
    let wrong_file = write_config(
        "wrong",
        &format!(
            "{}{}{}",
            secure_cluster("dc", &s.dc, &s.dc_ca, &wrong, ""),
            secure_cluster("dr", &s.dr, &s.dr_ca, &right, ""),
            rest_of_config()
        ),
    );
    let (code, out, err) = check(&wrong_file, false, &[]);
    assert!(out.contains("authentication failed on dc: SCRAM-SHA-512 user kdrill"), "{out}{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Nothing judged on a side never observed: check alarms (exit 2).
    assert_eq!(code, 2, "{out}{err}");
    let (code, json, _) = check(&wrong_file, true, &[]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(code, 2);
    assert_eq!(v["standing"], "unobserved", "{json}");
    assert_eq!(v["sides"][0]["reachable"], false);
    assert_eq!(v["sides"][0]["unreachable_because"], "authentication failed on dc: SCRAM-SHA-512 user kdrill");
    assert_eq!(v["sides"][0]["security"], "SASL_SSL · SCRAM-SHA-512 · user kdrill");
    let dr_days = v["sides"][1]["cert_days_left"].as_i64();
    assert!(dr_days.is_some_and(|d| (820..=826).contains(&d)), "dr's certificate: {dr_days:?}");
    let _ = std::fs::remove_file(wrong_file);
}

/// `openssl s_server` serving a certificate that expired in 2020 (signed by
/// the lab's dc CA, for 127.0.0.1): the only thing wrong with it is its age.
struct ExpiredServer {
    child: Child,
    addr: String,
}

impl ExpiredServer {
    fn start(s: &Secure) -> ExpiredServer {
        use openssl::asn1::Asn1Time;
        use openssl::ec::{EcGroup, EcKey};
        use openssl::hash::MessageDigest;
        use openssl::nid::Nid;
        use openssl::pkey::PKey;
        use openssl::x509::extension::SubjectAlternativeName;
        use openssl::x509::{X509, X509NameBuilder};
        let ok = |r: Result<(), openssl::error::ErrorStack>| r.unwrap_or_else(|e| panic!("{e}"));
        let ca_key = std::fs::read(s.dir.join("secure").join("ca-dc.key")).unwrap_or_else(|e| panic!("{e}"));
        let ca_key = PKey::private_key_from_pem(&ca_key).unwrap_or_else(|e| panic!("{e}"));
        let ca = X509::from_pem(&std::fs::read(&s.dc_ca).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap_or_else(|e| panic!("{e}"));
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut name = X509NameBuilder::new().unwrap_or_else(|e| panic!("{e}"));
        ok(name.append_entry_by_text("CN", "127.0.0.1"));
        let name = name.build();
        let mut b = X509::builder().unwrap_or_else(|e| panic!("{e}"));
        ok(b.set_version(2));
        ok(b.set_subject_name(&name));
        ok(b.set_issuer_name(ca.subject_name()));
        ok(b.set_pubkey(&key));
        let serial =
            openssl::bn::BigNum::from_u32(4242).and_then(|n| n.to_asn1_integer()).unwrap_or_else(|e| panic!("{e}"));
        ok(b.set_serial_number(&serial));
        ok(b.set_not_before(&Asn1Time::from_unix(1_577_836_800).unwrap_or_else(|e| panic!("{e}")))); // 2020-01-01
        ok(b.set_not_after(&Asn1Time::from_unix(1_578_441_600).unwrap_or_else(|e| panic!("{e}")))); // 2020-01-08
        let san = SubjectAlternativeName::new().ip("127.0.0.1").build(&b.x509v3_context(Some(&ca), None));
        ok(b.append_extension(san.unwrap_or_else(|e| panic!("{e}"))));
        ok(b.sign(&ca_key, MessageDigest::sha256()));
        let cert = b.build();
        let dir = std::env::temp_dir().join(unique("expired"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_file, cert.to_pem().unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&key_file, key.private_key_to_pem_pkcs8().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert_file)
            .arg("-key")
            .arg(&key_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("openssl s_server: {e}"));
        let addr = format!("127.0.0.1:{port}");
        support::wait_for("openssl s_server listening", Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).map(|_| ()).map_err(|e| e.to_string())
        });
        ExpiredServer { child, addr }
    }
}

impl Drop for ExpiredServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A canary password must never come out: not in `check` (text or JSON),
/// not in the debug log, not in a config error, not on the console's
/// screens.
#[test]
fn a_canary_password_never_comes_out() {
    let s = secure();
    let _lock = support::shared();
    let canary = "CanaryPw-7f3a9b1e-never-print-me";
    let mut seen = Vec::new();
    let mut scan = |what: &str, text: &str| {
        assert!(!text.contains(canary), "the canary password appears in {what}:\n{text}");
        seen.push(what.to_owned());
    };

    // Config errors, for every way a secret may be written inline.
    let head = "[clusters.dc]\nbootstrap = \"a:1\"\n[clusters.dr]\nbootstrap = \"b:1\"\n";
    for (table, value) in [
        ("[clusters.dr.secrets]", format!("\"{canary}\"")),
        ("[clusters.dr.secrets]", format!("{{ value = \"{canary}\" }}")),
        ("[clusters.dr.secrets]", format!("\"{canary}")),
        ("[clusters.dr.properties]", format!("\"{canary}\"")),
        ("[clusters.dr.properties]", format!("\"{canary}")),
    ] {
        let text = format!("{head}{table}\n\"sasl.password\" = {value}\n");
        match parse(&text, Path::new("inline.toml")) {
            Ok(_) => panic!("an inline secret was accepted: {table} {value}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains("sasl.password"), "the error names the key: {msg}");
                scan("a config error", &msg);
            }
        }
    }

    // check and check --json with the canary as dc's password (over the
    // environment), with the debug log on.
    let state = std::env::temp_dir().join(unique("canary-state"));
    let file = write_config("canary", &secure_text(&s, "{ env = \"KDRILL_TEST_CANARY_PASSWORD\" }"));
    let state_str = state.display().to_string();
    let env =
        [("KDRILL_TEST_CANARY_PASSWORD", canary), ("KDRILL_LOG", "debug"), ("XDG_STATE_HOME", state_str.as_str())];
    let (_, out, err) = check(&file, false, &env);
    assert!(out.contains("authentication failed on dc"), "{out}{err}");
    scan("check", &out);
    scan("check's stderr", &err);
    let (_, out, err) = check(&file, true, &env);
    assert!(out.contains("authentication failed on dc"), "{out}{err}");
    scan("check --json", &out);
    scan("check --json's stderr", &err);
    let log = std::fs::read_to_string(state.join("kdrill").join("kdrill.log")).unwrap_or_default();
    assert!(log.contains("Authentication"), "the debug log has the librdkafka failure: {log}");
    scan("the debug log", &log);

    // The console's screens, observing the real clusters with the canary.
    let text = secure_text(&s, &format!("{{ file = \"{}\" }}", canary_file(canary).display()));
    let mut console = support::console::Console::start(config(&text), true);
    // Until dc's failure is on screen (bounded): each step is 250 ms.
    for _ in 0..60 {
        console.step();
        if dump(&console, 200, 50).contains("authentication failed on dc") {
            break;
        }
    }
    for key in [None, Some('?'), Some('j'), Some('l'), Some('g')] {
        if let Some(k) = key {
            console.key(ratatui::crossterm::event::KeyCode::Char(k));
            console.step();
        }
        for (w, h) in [(200, 50), (100, 30)] {
            let screen = dump(&console, w, h);
            scan(&format!("the screen after {key:?} at {w}x{h}"), &screen);
            if key.is_none() && w == 200 {
                assert!(screen.contains("authentication failed on dc"), "{screen}");
                assert!(screen.contains("security SASL_SSL · SCRAM-SHA-512 · user kdrill"), "{screen}");
            }
        }
        console.key(ratatui::crossterm::event::KeyCode::Esc);
    }
    support::note(&format!("canary absent from: {}", seen.join(", ")));
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_dir_all(state);
}

/// A console that may act, over SCRAM-SHA-512/TLS with the real password:
/// its end-to-end canary runs through MM2 over those listeners, it drives a
/// drill shared through its drill topic, and the password (and MM2's own,
/// whose configurations kdrill reads) is absent from everything it writes
/// or shows: every screen, its log, the journal, the drill topic and the
/// canary topic on both clusters, the report (Markdown and JSON), and
/// `check` (text, JSON, the debug log).
#[test]
fn a_driving_console_over_scram_tls_runs_its_canary_and_writes_its_password_nowhere() {
    let s = secure();
    // Exclusive: its drill topic is written on both clusters, where a
    // console of another scenario (no [drill] topic of that name) would
    // take the writes for an application's.
    let _lock = support::exclusive();
    let read = |f: &str| std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}")).trim().to_owned();
    let password = read(&s.password_file);
    assert!(password.len() >= 8, "the lab's kdrill password is too short to grep for");
    // MM2's too: kdrill reads MM2's configurations from its config topic.
    let mm2_password = read(&s.mm2_password_file);
    assert!(mm2_password.len() >= 8, "the lab's mm2 password is too short to grep for");
    let canary_topic = unique("kdrill-canary-tls");
    let drill_topic = unique("kdrill.drill.tls");
    let dir = std::env::temp_dir().join(unique("kdrill-secure-drive"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    struct Cleanup(Vec<String>, PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            // DC first: MM2 DC→DR would copy a topic back onto DR.
            support::delete_topics(&lab().dc, &self.0);
            support::delete_topics(&lab().dr, &self.0);
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }
    let _cleanup = Cleanup(vec![canary_topic.clone(), drill_topic.clone()], dir.clone());
    let secret = format!("{{ file = \"{}\" }}", s.password_file);
    let text = format!(
        "{}{}{}[drill]\ntopic = \"{drill_topic}\"\n",
        secure_cluster("dc", &s.dc, &s.dc_ca, &secret, ""),
        secure_cluster("dr", &s.dr, &s.dr_ca, &secret, ""),
        rest_of_config().replacen(
            "[[mm2]]\nsource = \"dr\"",
            &format!("[mm2.canary]\ntopic = \"{canary_topic}\"\ninterval = \"1s\"\n[[mm2]]\nsource = \"dr\""),
            1
        )
    );
    let journal = dir.join("journal.jsonl");
    let mut c = support::console::Console::start_shared(config(&text), false, &journal, "alice");
    c.wait("canary records through MM2, sent and read over SCRAM/TLS", 120, |c| {
        c.app
            .assessment()
            .is_some_and(|a| a.canaries.iter().any(|k| k.arrived >= 3 && k.lost == 0 && k.problem.is_none()))
    });
    c.wait("the drill topic followed on both sides", 90, |c| {
        c.shared().is_some_and(|s| s.feeds.iter().all(kdrill::share::Feed::is_following))
    });
    c.command("switchover");
    c.wait("the drill runs", 60, |c| c.app.drill_in_progress());
    for _ in 0..8 {
        c.step();
    }

    let mut seen = Vec::new();
    let mut scan = |what: &str, text: &str| {
        assert!(!text.contains(&password), "the password appears in {what}");
        assert!(!text.contains(&mm2_password), "MM2's password appears in {what}");
        seen.push(what.to_owned());
    };
    for key in [None, Some('?'), Some('j'), Some('l'), Some('g'), Some('w')] {
        if let Some(k) = key {
            c.key(ratatui::crossterm::event::KeyCode::Char(k));
            c.step();
        }
        for (w, h) in [(200, 50), (100, 30)] {
            let screen = dump(&c, w, h);
            if key.is_none() && w == 200 {
                assert!(screen.contains("canary p50"), "{screen}");
            }
            scan(&format!("the screen after {key:?} at {w}x{h}"), &screen);
        }
        c.key(ratatui::crossterm::event::KeyCode::Esc);
    }
    c.command("abort");
    c.key(ratatui::crossterm::event::KeyCode::Char('y'));
    c.wait("the drill is over", 30, |c| !c.app.drill_in_progress());
    scan("the console's state and log", &c.state());

    let journal_text = std::fs::read_to_string(&journal).unwrap_or_else(|e| panic!("{e}"));
    assert!(journal_text.contains("\"plan\":\"Switchover\""), "{journal_text}");
    scan("the journal", &journal_text);
    let recovered = kdrill::drill::journal::read(&journal).unwrap_or_else(|e| panic!("{e}"));
    let report = kdrill::report::build(&recovered).unwrap_or_else(|e| panic!("{e}"));
    scan("the report (Markdown)", &kdrill::report::to_markdown(&report));
    scan("the report (JSON)", &kdrill::report::to_json(&report));
    for (side, bootstrap) in [("DC", &lab().dc), ("DR", &lab().dr)] {
        let drill = topic_text(bootstrap, &drill_topic);
        assert!(drill.contains("alice"), "{side}'s drill topic holds the drill: {drill}");
        scan(&format!("{side}'s drill topic"), &drill);
        scan(&format!("{side}'s canary topic"), &topic_text(bootstrap, &canary_topic));
    }
    // What kdrill reads of MM2's settings names the secret, never holds it.
    let configs = topic_text(&lab().dr, "mirrormaker2-cluster-configs");
    assert!(configs.contains("source.cluster.sasl.jaas.config") && configs.contains("${file:"), "{configs}");
    scan("MM2 DC→DR's config topic", &configs);

    let state = dir.join("state");
    let file = write_config("secure-drive", &text);
    let env = [("KDRILL_LOG", "debug"), ("XDG_STATE_HOME", state.to_str().unwrap_or_default())];
    for json in [false, true] {
        let (_, out, err) = check(&file, json, &env);
        // Connected over SASL_SSL: the JSON says how; the text, that both answered.
        let connected =
            if json { out.contains("SASL_SSL · SCRAM-SHA-512 · user kdrill") } else { !out.contains("UNREACHABLE") };
        assert!(connected, "{out}{err}");
        scan(&format!("check (json: {json})"), &out);
        scan(&format!("check's stderr (json: {json})"), &err);
    }
    let log = std::fs::read_to_string(state.join("kdrill").join("kdrill.log")).unwrap_or_default();
    assert!(log.contains("DC: polled in"), "check wrote its debug log: {log}");
    scan("check's debug log", &log);
    let _ = std::fs::remove_file(file);
    support::note(&format!("the password is absent from: {}", seen.join(", ")));
}

/// Every record of `topic` (all partitions) on `bootstrap`, keys and
/// values as lossy text, read with a plain consumer on the plaintext listener.
fn topic_text(bootstrap: &str, topic: &str) -> String {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("kdrill-secure-grep"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap_or_else(|e| panic!("{topic}: {e}"));
    let mut tpl = rdkafka::TopicPartitionList::new();
    let mut left = 0;
    for p in md.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = c.fetch_watermarks(topic, p.id(), Duration::from_secs(10)).unwrap_or((0, 0));
        left += high - low;
        let _ = tpl.add_partition_offset(topic, p.id(), rdkafka::Offset::Beginning);
    }
    c.assign(&tpl).unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while left > 0 && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(500)) {
            left -= 1;
            out.push_str(&String::from_utf8_lossy(m.key().unwrap_or_default()));
            out.push(' ');
            out.push_str(&String::from_utf8_lossy(m.payload().unwrap_or_default()));
            out.push('\n');
        }
    }
    assert!(left <= 0, "{topic} on {bootstrap}: {left} records not read in 30 s");
    out
}

fn canary_file(canary: &str) -> PathBuf {
    let p = std::env::temp_dir().join(unique("canary-pw"));
    std::fs::write(&p, canary).unwrap_or_else(|e| panic!("{e}"));
    p
}

fn dump(c: &support::console::Console, w: u16, h: u16) -> String {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap_or_else(|e| panic!("{e}"));
    t.draw(|f| {
        let _ = c.app.draw(f);
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let b = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..b.area.height {
        let line: String = (0..b.area.width).map(|x| b[(x, y)].symbol().to_owned()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
