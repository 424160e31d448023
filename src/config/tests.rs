//! Config parsing: valid files load, and every kind of mistake names the
//! file and the key.

use std::path::Path;

use super::{Mm2Flavour, parse};
use crate::model::{Flow, Side};

fn err(text: &str) -> String {
    match parse(text, Path::new("bad.toml")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const MINIMAL: &str = r#"
[clusters.dc]
bootstrap = "127.0.0.1:19092"
[clusters.dr]
bootstrap = "127.0.0.1:29092"
"#;

#[test]
fn the_examples_parse() {
    let text = std::fs::read_to_string("examples/lab.toml").unwrap_or_default();
    let c = parse(&text, Path::new("examples/lab.toml"));
    assert!(c.is_ok(), "examples/lab.toml: {:?}", c.err());
    let text = std::fs::read_to_string("examples/lab-kube.toml").unwrap_or_default();
    let c = parse(&text, Path::new("examples/lab-kube.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(Side::BOTH.iter().all(|s| c.cluster(*s).kube.as_ref().is_some_and(|k| k.workloads.len() == 1)));
    // The production example reads its secrets from the environment.
    let text = std::fs::read_to_string("examples/kdrill.toml").unwrap_or_default();
    let e = parse(&text, Path::new("examples/kdrill.toml")).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("clusters.dc.secrets.\"sasl.password\": environment variable KDRILL_DC_PASSWORD"), "{e}");
    // Everything else in it is valid, the Kubernetes keys included.
    let without_secrets: String =
        text.lines().filter(|l| !l.starts_with("\"sasl.password\"")).collect::<Vec<_>>().join("\n");
    let c = parse(&without_secrets, Path::new("examples/kdrill.toml")).unwrap_or_else(|e| panic!("{e}"));
    let dc = c.cluster(Side::Dc).kube.clone().unwrap_or_else(|| panic!("dc has Kubernetes"));
    assert_eq!((dc.context.as_str(), dc.workloads.len()), ("dc-prod", 2));
}

#[test]
fn defaults_follow_strimzi_and_the_target() {
    let text = format!(
        "{MINIMAL}\n[[mm2]]\nsource = \"dc\"\ntarget = \"dr\"\n[[mm2]]\nsource = \"dr\"\ntarget = \"dc\"\nflavour = \"dedicated\"\n"
    );
    let c = parse(&text, Path::new("ok.toml")).map_err(|e| e.to_string());
    let c = match c {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(c.cluster(Side::Dc).alias, "dc");
    assert_eq!(c.mm2[0].flow, Flow::DC_TO_DR);
    assert_eq!(c.mm2[0].runs_on, Side::Dr);
    assert_eq!(c.mm2[0].flavour, Mm2Flavour::Strimzi);
    assert_eq!(c.mm2[0].status_topic, "mirrormaker2-cluster-status");
    assert_eq!(c.mm2[1].group_id, "dr-mm2");
    assert_eq!(c.mm2[1].offsets_topic, "mm2-offsets.dr.internal");
    assert_eq!(c.settings.hold_window.num_seconds(), 10);
}

#[test]
fn mistakes_name_the_key() {
    let cases = [
        (format!("{MINIMAL}[timing]\nhold_window = \"ten seconds\"\n"), "hold_window"),
        (format!("{MINIMAL}[timing]\nhold_windw = \"10s\"\n"), "hold_windw"),
        (format!("{MINIMAL}[apps]\ntopics = [\"orders\", \"(\"]\n"), "apps.topics[1]"),
        (format!("{MINIMAL}[[mm2]]\nsource = \"dc\"\ntarget = \"dc\"\n"), "mm2[0]"),
        (format!("{MINIMAL}[[mm2]]\nsource = \"dc\"\ntarget = \"mars\"\n"), "mars"),
        (format!("{MINIMAL}[replication]\nseparator = \"_\"\n"), "replication.separator"),
        (format!("{MINIMAL}[timing]\npoll_interval = \"20s\"\n"), "timing.stale_after"),
        ("[clusters.dc]\nbootstrap = \"x:1\"\n".to_owned(), "dr"),
        (MINIMAL.replace("127.0.0.1:19092", ""), "clusters.dc.bootstrap"),
        (
            format!("{MINIMAL}[clusters.dc.properties]\n\"sasl.password\" = \"hunter2\"\n"),
            "clusters.dc.properties.\"sasl.password\"",
        ),
    ];
    for (text, key) in cases {
        let e = err(&text);
        assert!(e.starts_with("bad.toml: "), "{e}");
        assert!(e.contains(key), "error should name `{key}`: {e}");
        assert!(!e.contains("hunter2"), "a secret leaked into an error: {e}");
    }
}

#[test]
fn kubernetes_keys_per_side() {
    let text = r#"
[clusters.dc]
bootstrap = "127.0.0.1:19092"
[clusters.dr]
bootstrap = "127.0.0.1:29092"
kube_context = "dr"
kubeconfig = "/tmp/kubeconfig"
[[clusters.dr.workloads]]
kind = "Deployment"
namespace = "apps"
name = "orders"
[[clusters.dr.workloads]]
kind = "StatefulSet"
selector = "app=billing,tier=web"
"#;
    let c = parse(text, Path::new("ok.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.cluster(Side::Dc).kube.is_none(), "a side without kube_context is observed through Kafka alone");
    let k = c.cluster(Side::Dr).kube.clone().unwrap_or_else(|| panic!("dr has Kubernetes"));
    assert_eq!((k.context.as_str(), k.namespace.as_str()), ("dr", "kafka"), "namespace defaults to kafka");
    assert_eq!(k.workloads.len(), 2);
    assert_eq!(k.workloads[0].pick, super::WorkloadPick::Name("orders".into()));
    assert_eq!(k.workloads[1].namespace, "kafka", "a workload's namespace defaults to the side's");
    assert_eq!(k.workloads[1].pick, super::WorkloadPick::Selector("app=billing,tier=web".into()));
}

#[test]
fn kubernetes_mistakes_name_the_key() {
    let e =
        err(&MINIMAL
            .replace("bootstrap = \"127.0.0.1:29092\"", "bootstrap = \"127.0.0.1:29092\"\nnamespace = \"kafka\""));
    assert!(e.contains("clusters.dr.kube_context: missing"), "{e}");
    let with = |extra: &str| {
        MINIMAL.replace(
            "bootstrap = \"127.0.0.1:29092\"",
            &format!("bootstrap = \"127.0.0.1:29092\"\nkube_context = \"dr\"\n{extra}"),
        )
    };
    let e = err(&with("[[clusters.dr.workloads]]\nkind = \"Deployment\"\nname = \"a\"\nselector = \"app=a\""));
    assert!(e.contains("clusters.dr.workloads[0]: give name or selector, not both"), "{e}");
    let e = err(&with("[[clusters.dr.workloads]]\nkind = \"Deployment\"\nselector = \"app\""));
    assert!(e.contains("clusters.dr.workloads[0].selector: expected key=value"), "{e}");
    let e = err(&with("[[clusters.dr.workloads]]\nkind = \"Pod\"\nname = \"a\""));
    assert!(e.contains("kind"), "{e}");
    let e =
        err(&MINIMAL
            .replace("bootstrap = \"127.0.0.1:29092\"", "bootstrap = \"127.0.0.1:29092\"\nkube_context = \" \""));
    assert!(e.contains("clusters.dr.kube_context: expected a kubeconfig context"), "{e}");
}

#[test]
fn an_error_never_quotes_a_secret_written_inline() {
    let canary = "hunter2-canary";
    let cases = [
        format!("[clusters.dr.secrets]\n\"sasl.password\" = \"{canary}\"\n"),
        format!("[clusters.dr.secrets]\n\"sasl.password\" = {{ value = \"{canary}\" }}\n"),
        format!("[clusters.dr.secrets]\n\"sasl.password\" = \"{canary}\n"),
        format!("[clusters.dr.secrets]\n\"sasl.password\" = {{ env = \"{canary} }}\n"),
        format!("[clusters.dr.properties]\n\"sasl.password\" = \"{canary}\"\n"),
        format!("[clusters.dr.secrets]\n\"sasl.password\" = '''{canary}\n"),
    ];
    for extra in cases {
        let text = format!(
            "[clusters.dc]\nbootstrap = \"127.0.0.1:19092\"\n[clusters.dr]\nbootstrap = \"127.0.0.1:29092\"\n{extra}"
        );
        let e = err(&text);
        assert!(!e.contains("hunter2"), "the error quotes the secret:\n{e}\nfor:\n{extra}");
        assert!(e.contains("sasl.password"), "the error names the key:\n{e}\nfor:\n{extra}");
    }
}

#[test]
fn action_backends_default_sensibly_and_mistakes_name_their_key() {
    use super::{AppsBackend, Mm2Backend, StopMeans};
    let mm2 = |extra: &str| format!("{MINIMAL}[[mm2]]\nsource = \"dc\"\ntarget = \"dr\"\n{extra}");
    // Nothing configured: done by hand.
    let c = parse(&mm2(""), Path::new("ok.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.mm2[0].actions.backend, Mm2Backend::None);
    assert_eq!(c.cluster(Side::Dc).apps, AppsBackend::None);
    // A Connect URL: Connect REST, which can only stop connectors.
    let c = parse(&mm2("connect_url = \"http://c:8083/\""), Path::new("ok.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&c.mm2[0].actions.backend, Mm2Backend::Connect(e) if e.base_url == "http://c:8083"));
    assert_eq!(c.mm2[0].actions.stop_means, StopMeans::Connectors);
    assert_eq!(c.settings.stopped_by_connectors, vec![Flow::DC_TO_DR]);
    let e = err(&mm2("connect_url = \"http://c:8083\"\nstop_means = \"workers\""));
    assert!(e.contains("mm2[0].stop_means: the connect backend can stop connectors, not workers"), "{e}");
    let e = err(&mm2("connect_url = \"https://ops:hunter2@c:8083\""));
    assert!(e.contains("mm2[0].connect_url: no credentials in the URL") && !e.contains("hunter2"), "{e}");
    let e = err(&mm2("backend = \"kube\""));
    assert!(e.contains("mm2[0].backend: \"kube\" needs the kube_context"), "{e}");
    let e = err(&mm2("connect_url = \"http://c:8083\"\nconnect_user = \"ops\""));
    assert!(e.contains("mm2[0].connect_password: missing"), "{e}");
    let e = err(&mm2("backend = \"command\"\ncommands = { stop = [], start = [\"go\"] }"));
    assert!(e.contains("mm2[0].commands.stop: expected a command as a list"), "{e}");
    let e = err(&MINIMAL.replace(
        "bootstrap = \"127.0.0.1:19092\"",
        "bootstrap = \"127.0.0.1:19092\"\napp_commands = { stop = [\"x\"], start = [\"y\"], timeout = \"0s\" }",
    ));
    assert!(e.contains("clusters.dc.app_commands.timeout: expected a positive duration"), "{e}");
}

#[test]
fn a_canary_is_configured_per_flow_and_its_topic_is_never_an_application_s() {
    let text = format!(
        "{MINIMAL}\n[[mm2]]\nsource = \"dc\"\ntarget = \"dr\"\n[mm2.canary]\ninterval = \"2s\"\n[[mm2]]\nsource = \"dr\"\ntarget = \"dc\"\n"
    );
    let c = parse(&text, Path::new("ok.toml")).unwrap_or_else(|e| panic!("{e}"));
    let canary = c.mm2[0].canary.clone().unwrap_or_else(|| panic!("dc→dr has a canary"));
    assert_eq!((canary.topic.as_str(), canary.interval), (super::CANARY_TOPIC, std::time::Duration::from_secs(2)));
    assert_eq!(c.mm2[1].canary, None);
    // Every topic is an application's here (no apps.topics), but kdrill's own.
    let policy = crate::model::naming::ReplicationPolicy::default();
    let apps = &c.settings.classification;
    assert!(apps.is_app_topic("orders", &policy));
    for own in ["kdrill.canary", "dc.kdrill.canary", "kdrill.drill", "dr.kdrill.drill"] {
        assert!(!apps.is_app_topic(own, &policy), "{own}");
    }
    let identity = crate::model::naming::ReplicationPolicy::identity();
    assert!(!apps.is_app_topic("kdrill.canary", &identity));
    assert!(apps.is_app_topic("orders", &identity));

    let bad =
        |canary: &str| err(&format!("{MINIMAL}\n[[mm2]]\nsource = \"dc\"\ntarget = \"dr\"\n[mm2.canary]\n{canary}\n"));
    assert!(bad("topic = \"a b\"").contains("mm2[0].canary.topic = \"a b\" is not a Kafka topic name"));
    assert!(bad("interval = \"1h\"").contains("mm2[0].canary.interval: must be shorter than timing.stale_after"));
    assert!(bad("interval = \"10ms\"").contains("mm2[0].canary.interval: expected at least 100ms"));
    assert!(bad("rate = 3").contains("unknown field `rate`"), "{}", bad("rate = 3"));
    assert!(bad("interval = \"100ms\"").contains("mm2[0].canary.interval: at least 150 ms"));
    let e = err(&format!("{MINIMAL}\n[timing]\ncanary_lost_after = \"10m\"\n"));
    assert!(e.contains("timing.canary_lost_after: must be shorter than timing.canary_window"), "{e}");
}
