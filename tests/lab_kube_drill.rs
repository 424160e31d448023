//! kdrill performs a whole switchover and failback on the Kubernetes lab
//! (`scripts/lab kube`): real API servers, the lab bridge standing in for
//! Strimzi's operator and the kubelet on the lab's real Kafka, MM2 and app
//! processes. The console is driven by keys only; every action goes out as
//! the Kubernetes requests it previewed (the app's Deployment scaled, MM2's
//! `KafkaMirrorMaker2` edited, the reverse flow's start offsets set through
//! Strimzi's annotation), each step completes only when observed, the
//! requests are read back from the API servers' audit logs, and the
//! independent verifier finds nothing lost and nothing duplicated.
//!
//! A read-only console holding every backend (Kubernetes with the
//! operator's rights, Connect REST, commands), pressed with every key and
//! command, sends nothing: counted at both API servers' audit logs,
//! Connect's request log, and by commands that would leave a mark.

mod support;

use std::time::Duration;

use kdrill::drill::DrillEvent;
use kdrill::model::{Flow, Side};
use ratatui::crossterm::event::KeyCode;
use serde_json::{Value, json};
use support::console::Console;
use support::kube::{Admin, AuditMark, kube_lab};

fn config(dc_context: &str, dr_context: &str) -> kdrill::config::Config {
    let kubeconfig = kube_lab().kubeconfig.display().to_string();
    let side = |context: &str| {
        format!(
            "kube_context = \"{context}\"\nkubeconfig = \"{kubeconfig}\"\nnamespace = \"kafka\"\nworkloads = [{{ kind = \"Deployment\", namespace = \"apps\", name = \"lab-app\" }}]\n"
        )
    };
    let l = support::lab();
    let text = format!(
        r#"
[clusters.dc]
bootstrap = "{}"
{}
[clusters.dr]
bootstrap = "{}"
{}
[[mm2]]
source = "dc"
target = "dr"
[[mm2]]
source = "dr"
target = "dc"
{}{}"#,
        l.dc,
        side(dc_context),
        l.dr,
        side(dr_context),
        support::LAB_APPS,
        support::LAB_DRILL_TIMING
    );
    kdrill::config::parse(&text, std::path::Path::new("lab-kube-drill.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// The changes `user` made at `side`'s API server since `mark`: verb,
/// resource/name, and the request body, in order.
fn changes(mark: &AuditMark, side: Side, user: &str) -> Vec<(String, String, Value)> {
    let writes: Vec<Value> = mark
        .events_since(side)
        .into_iter()
        .filter(|e| e["stage"] == "ResponseComplete" && e["user"]["username"] == user)
        .filter(|e| !matches!(e["verb"].as_str(), Some("get" | "list" | "watch")))
        .collect();
    // A write refused for a stale resourceVersion (409) is read again and
    // resent, by design: only those may fail, and only what succeeded counts.
    let code = |e: &Value| e["responseStatus"]["code"].as_i64().unwrap_or(0);
    let refused: Vec<i64> = writes.iter().map(code).filter(|c| !(200..300).contains(c)).collect();
    assert!(refused.iter().all(|&c| c == 409), "{side}: writes refused other than by a conflict: {refused:?}");
    writes
        .into_iter()
        .filter(|e| (200..300).contains(&code(e)))
        .map(|e| {
            let what = format!(
                "{}/{}",
                e["objectRef"]["resource"].as_str().unwrap_or("?"),
                e["objectRef"]["name"].as_str().unwrap_or("?")
            );
            (e["verb"].as_str().unwrap_or("?").to_owned(), what, e["requestObject"].clone())
        })
        .collect()
}

/// Puts the Kubernetes lab back as `scripts/lab kube up` leaves it: no app,
/// MM2 DC→DR running on DR, DR→DC at 0 on DC with its connectors running
/// (so that scaling it up, as other tests do, starts a flow).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let admin = Admin::connect();
        for side in Side::BOTH {
            admin.scale_app(side, 0);
        }
        admin.scale_mm2(Side::Dc, 0);
        for (side, version) in [(Side::Dc, "v1beta2"), (Side::Dr, "v1")] {
            let mut mm2 = admin.mm2(side, version);
            let Some(mirrors) = mm2.pointer_mut("/spec/mirrors").and_then(Value::as_array_mut) else { continue };
            for m in mirrors.iter_mut() {
                for c in ["sourceConnector", "checkpointConnector", "heartbeatConnector"] {
                    if let Some(conn) = m.get_mut(c).and_then(Value::as_object_mut) {
                        conn.insert("state".into(), json!("running"));
                    }
                }
            }
            let mirrors = mm2["spec"]["mirrors"].clone();
            admin.patch_mm2(side, version, json!({"spec": {"mirrors": mirrors}}));
        }
        admin.scale_mm2(Side::Dr, 1);
    }
}

/// The Markdown report of the drill `events` journal, as `kdrill report`
/// makes it from the journal file.
fn report_of(events: &[DrillEvent]) -> String {
    use kdrill::drill::journal::{self, Journal, Who};
    let path = std::env::temp_dir().join(format!("{}.jsonl", support::unique("kdrill-lab-drill-journal")));
    let (mut file, _) =
        Journal::open(&path, Who { user: "lab".into(), host: "lab".into() }).unwrap_or_else(|e| panic!("{e}"));
    for ev in events {
        file.append(ev).unwrap_or_else(|e| panic!("{e}"));
    }
    let recovered = journal::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_file(&path);
    kdrill::report::to_markdown(&kdrill::report::build(&recovered).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn kdrill_alone_switches_over_and_fails_back_on_kubernetes_losing_nothing() {
    let _lab = support::exclusive();
    let _restore = Restore;
    let admin = Admin::connect();
    let since_ms = chrono::Utc::now().timestamp_millis();
    // The applications run on DC, as in production.
    admin.scale_app(Side::Dc, 1);

    let mut c = Console::start(config("dc", "dr"), false);
    c.wait("DC active, DC→DR flowing, DR→DC stopped", 180, |c| {
        c.app.assessment().is_some_and(|a| {
            a.active_side() == Some(Side::Dc)
                && a.mm2.iter().any(|m| m.flow == Flow::DC_TO_DR && m.flowing.is_yes())
                && a.mm2.iter().any(|m| m.flow == Flow::DR_TO_DC && m.running.is_no())
        })
    });

    let mark = AuditMark::now();
    c.command("switchover");
    c.drive(900);
    assert!(c.app.drill().is_some_and(|d| d.is_finished()), "{}", c.state());
    assert_eq!(c.app.assessment().and_then(|a| a.active_side()), Some(Side::Dr));
    let switchover = c.timeline();
    // What the auditor gets of it: the report, from its journal alone.
    let report = report_of(&c.journal);
    for part in ["# Switchover DC→DR — finished", "| RPO | 0 records (replication DC→DR stopped, observed", "| RTO | "]
    {
        assert!(report.contains(part), "the report should say {part:?}:\n{report}");
    }
    eprintln!("{report}");

    // What arrived at the API servers, read back from their audit logs.
    let dc = changes(&mark, Side::Dc, "operator");
    let dr = changes(&mark, Side::Dr, "operator");
    // The offsets ConfigMap is applied server-side: the API server audits a
    // create when it is new (a fresh lab) and a patch when an earlier drill left it.
    let verbs = |v: &[(String, String, Value)]| {
        v.iter()
            .map(|(verb, what, _)| match verb.as_str() {
                "create" | "patch" if what.starts_with("configmaps/") => format!("apply {what}"),
                _ => format!("{verb} {what}"),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        verbs(&dr),
        vec!["patch kafkamirrormaker2s/mm2", "patch deployments/lab-app"],
        "DR: MM2 stopped, then the apps started"
    );
    assert_eq!(dr[0].2["spec"]["replicas"], json!(0));
    assert_eq!(dr[0].2["spec"]["mirrors"][0]["sourceConnector"]["state"], json!("stopped"));
    assert!(dr[0].2["metadata"]["resourceVersion"].is_string(), "sent with the version read");
    assert_eq!(
        dr[1].2,
        json!({"spec": {"replicas": 1}, "metadata": {"resourceVersion": dr[1].2["metadata"]["resourceVersion"]}}),
        "DR's apps started with the replicas recorded on DC"
    );
    assert_eq!(
        verbs(&dc),
        vec![
            "patch deployments/lab-app",
            "patch kafkamirrormaker2s/mm2",
            "apply configmaps/mm2-start-offsets",
            "patch kafkamirrormaker2s/mm2",
            "patch kafkamirrormaker2s/mm2",
        ],
        "DC: apps stopped; MM2 DR→DC up with its connectors stopped, offsets set through Strimzi, then running"
    );
    assert_eq!(dc[0].2["spec"]["replicas"], json!(0));
    assert_eq!(dc[1].2["spec"]["replicas"], json!(1), "DR→DC's workers from DC→DR's recorded count");
    let offsets: Value =
        serde_json::from_str(dc[2].2["data"]["dr--dc.MirrorSourceConnector.json"].as_str().unwrap_or("null"))
            .unwrap_or(Value::Null);
    let ended = c.journal.iter().find_map(|e| match e {
        DrillEvent::MirrorEnded { flow, ends, unknown: None, .. } if *flow == Flow::DC_TO_DR => Some(ends.clone()),
        _ => None,
    });
    let ended = ended.unwrap_or_else(|| panic!("where DC→DR ended was not recorded: {:#?}", c.journal));
    assert_eq!(offsets["offsets"].as_array().map(Vec::len), Some(ended.len()), "{offsets:#}");
    assert_eq!(dc[3].2["metadata"]["annotations"]["strimzi.io/connector-offsets"], json!("alter"));
    assert_eq!(dc[4].2["spec"]["mirrors"][0]["sourceConnector"]["state"], json!("running"));

    c.command("failback");
    c.drive(900);
    assert!(c.app.drill().is_some_and(|d| d.is_finished()), "{}", c.state());
    assert_eq!(c.app.assessment().and_then(|a| a.active_side()), Some(Side::Dc));
    eprintln!("switchover:\n  {}\nfailback:\n  {}", switchover.join("\n  "), c.timeline().join("\n  "));

    admin.scale_app(Side::Dc, 0);
    let report = support::verify_runs_since(since_ms);
    assert_eq!(report["totals"]["duplicates"], json!(0), "{report:#}");
    assert_eq!(report["totals"]["lost_by_replication"], json!(0), "{report:#}");
}

#[test]
fn a_viewers_action_is_refused_in_words_and_the_step_stays_open() {
    let _lab = support::shared();
    let mark = AuditMark::now();
    let mut c = Console::start(config("dc-viewer", "dr-viewer"), false);
    c.wait("a first observation", 60, |c| c.app.assessment().is_some());
    c.command("switchover");
    // Step 2's action is offered once the pre-flight passed (by observation
    // or, on whatever state the shared lab is in, by a typed override).
    c.pass_preflight(30);
    c.key(KeyCode::Char('n'));
    c.typed("DC");
    c.key(KeyCode::Enter);
    c.wait("the step's action answered", 60, |c| {
        c.journal.iter().any(|e| matches!(e, DrillEvent::ActionOutcome { .. }))
    });
    c.step();
    let v = c.app.drill().map(|d| d.view());
    let v = v.unwrap_or_else(|| panic!("no drill"));
    let (ok, detail) = v.steps[1].outcome.clone().unwrap_or_else(|| panic!("no outcome: {}", c.state()));
    assert!(!ok);
    for words in ["403 Forbidden (context dc-viewer)", "User \"viewer\" cannot patch", "deployments", "\"apps\""] {
        assert!(detail.contains(words), "{words:?} missing from: {detail}");
    }
    assert_eq!(v.current, Some(1), "the step stays open");
    assert!(v.blocked.is_some_and(|b| b.starts_with("the action failed: 403")), "{}", c.state());
    // At the API server: the viewer's patch was refused, nothing changed.
    let viewer: Vec<Value> = mark
        .events_since(Side::Dc)
        .into_iter()
        .filter(|e| e["stage"] == "ResponseComplete" && e["user"]["username"] == "viewer" && e["verb"] == "patch")
        .collect();
    assert!(!viewer.is_empty(), "the patch never reached the API server");
    assert!(viewer.iter().all(|e| e["responseStatus"]["code"] == 403), "{viewer:#?}");
}

#[test]
fn a_read_only_console_sends_nothing_whatever_is_pressed() {
    let _lab = support::shared();
    let mark = std::env::temp_dir().join(format!("kdrill-read-only-{}", std::process::id()));
    let _ = std::fs::remove_file(&mark);
    let touch = format!(r#"["touch", "{}"]"#, mark.display());
    let kubeconfig = kube_lab().kubeconfig.display().to_string();
    let l = support::lab();
    // Every backend, with the rights to act: DC's apps by command, DR's by
    // Kubernetes; MM2 DC→DR through Connect REST, DR→DC through Strimzi.
    let text = format!(
        r#"
[clusters.dc]
bootstrap = "{dc}"
kube_context = "dc"
kubeconfig = "{kubeconfig}"
app_commands = {{ stop = {touch}, start = {touch} }}
[clusters.dr]
bootstrap = "{dr}"
kube_context = "dr"
kubeconfig = "{kubeconfig}"
workloads = [{{ kind = "Deployment", namespace = "apps", name = "lab-app" }}]
[[mm2]]
source = "dc"
target = "dr"
backend = "connect"
connect_url = "http://127.0.0.1:28083"
[[mm2]]
source = "dr"
target = "dc"
[timing]
poll_interval = "1s"
hold_window = "1s"
"#,
        dc = l.dc,
        dr = l.dr
    );
    let cfg = kdrill::config::parse(&text, std::path::Path::new("read-only.toml")).unwrap_or_else(|e| panic!("{e}"));
    let connect_log = l.dir.join("logs").join("connect-dc-dr.log");
    let connect_mutations = || {
        std::fs::read_to_string(&connect_log)
            .unwrap_or_default()
            .lines()
            .filter(|line| ["\"PUT ", "\"POST ", "\"PATCH ", "\"DELETE "].iter().any(|m| line.contains(m)))
            .count()
    };
    let before = connect_mutations();
    let audit = AuditMark::now();
    let mut c = Console::start(cfg, true);
    c.wait("a first observation", 60, |c| c.app.assessment().is_some());
    for cmd in ["switchover", "failback", "restart dc-dr", "restart dr-dc", "abort", "fault cut-off-dc", "theme light"]
    {
        c.command(cmd);
        c.step();
    }
    let keys: Vec<KeyCode> = "nNcCaAyYsSfFrRpPwWoO1234567890?/:qQ"
        .chars()
        .map(KeyCode::Char)
        .chain([KeyCode::Enter, KeyCode::Esc, KeyCode::Tab, KeyCode::BackTab, KeyCode::Up, KeyCode::Down])
        .collect();
    for _ in 0..2 {
        for k in &keys {
            c.key(*k);
            for side in ["DC", "DR"] {
                c.typed(side);
                c.key(KeyCode::Enter);
            }
            c.key(KeyCode::Esc);
        }
        c.step();
    }
    assert_eq!(c.dispatched, 0, "a read-only console dispatches nothing");
    assert!(c.journal.is_empty(), "and journals nothing: {:?}", c.journal);
    std::thread::sleep(Duration::from_secs(2));
    assert!(!mark.exists(), "a command ran");
    assert_eq!(connect_mutations(), before, "Connect saw a mutating request");
    for side in Side::BOTH {
        assert_eq!(changes(&audit, side, "operator"), vec![], "{side}: the operator's rights were used");
    }
    // The console did read with those rights: the audit log is not empty.
    assert!(audit.events_since(Side::Dr).iter().any(|e| e["user"]["username"] == "operator"));
}
