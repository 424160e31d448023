//! The lab's Kubernetes (`scripts/lab kube`) for tests: two real API
//! servers (dc https://127.0.0.1:16443, dr :26443) holding Strimzi's
//! `KafkaMirrorMaker2` and a Deployment `apps/lab-app` per side, kept in
//! step with the real processes by the lab's bridge.
//!
//! * [`kube_lab`] brings it up once per test process and says where its
//!   kubeconfig and audit logs are.
//! * [`Admin`] is the test's own hands (what an operator does with
//!   kubectl): a real `kube` client on the `*-admin` contexts, independent
//!   of kdrill's collector.
//! * [`Fault`] sets a bridge fault and clears every fault when dropped;
//!   [`Paused`] SIGSTOPs a lab process and SIGCONTs it when dropped.
//! * [`AuditMark`] reads the audit log lines written since it was taken.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Config};
use serde_json::{Value, json};

use kdrill::model::Side;

use super::lab;

/// Where the running Kubernetes lab keeps what tests read.
#[derive(Clone, Debug)]
pub struct KubeLab {
    pub kubeconfig: PathBuf,
    /// Audit log per side, indexed by `Side::index`.
    pub audit_logs: [PathBuf; 2],
    pub bridge_log: PathBuf,
}

/// Runs `scripts/lab kube up` once per test process (idempotent, it takes
/// the lab's kube lock) after [`lab`], and reads `scripts/lab kube env`.
/// Bounded by `KDRILL_LAB_KUBE_UP_TIMEOUT` seconds (default 1200: a cold
/// start builds kube-apiserver from source).
pub fn kube_lab() -> &'static KubeLab {
    static KUBE: OnceLock<KubeLab> = OnceLock::new();
    KUBE.get_or_init(|| {
        let l = lab();
        let secs = std::env::var("KDRILL_LAB_KUBE_UP_TIMEOUT").ok().and_then(|v| v.parse().ok()).unwrap_or(1200);
        if let Err(e) = l.run(&["kube", "up"], Duration::from_secs(secs)) {
            panic!(
                "the Kubernetes lab did not come up: {e}\nlogs: {}/logs/ (kube-apiserver-dc.log, kube-apiserver-dr.log, kube-etcd.log, kube-bridge.log)",
                l.dir.display()
            );
        }
        let env = l.run(&["kube", "env"], Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
        let vars: BTreeMap<&str, &str> = env.lines().filter_map(|line| line.split_once('=')).collect();
        let path = |key: &str| {
            vars.get(key)
                .map(PathBuf::from)
                .unwrap_or_else(|| panic!("`scripts/lab kube env` does not say {key}:\n{env}"))
        };
        KubeLab {
            kubeconfig: path("KUBECONFIG"),
            audit_logs: [path("KDRILL_LAB_KUBE_DC_AUDIT_LOG"), path("KDRILL_LAB_KUBE_DR_AUDIT_LOG")],
            bridge_log: path("KDRILL_LAB_KUBE_BRIDGE_LOG"),
        }
    })
}

/// The lab's kubeconfig context name of `side` (`dc`, `dr`).
pub fn context(side: Side) -> &'static str {
    match side {
        Side::Dc => "dc",
        Side::Dr => "dr",
    }
}

pub const MM2_NAME: &str = "mm2";
pub const MM2_NAMESPACE: &str = "kafka";
pub const APP_NAME: &str = "lab-app";
pub const APP_NAMESPACE: &str = "apps";

fn mm2_resource(version: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kafka.strimzi.io", version, "KafkaMirrorMaker2"),
        "kafkamirrormaker2s",
    )
}

/// The test's own client on both sides, as the lab's admin.
pub struct Admin {
    rt: tokio::runtime::Runtime,
    clients: [Client; 2],
}

impl Admin {
    pub fn connect() -> Admin {
        let k = kube_lab();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"));
        let connect = |side: Side| {
            let ctx = format!("{}-admin", context(side));
            let file = Kubeconfig::read_from(&k.kubeconfig)
                .unwrap_or_else(|e| panic!("kubeconfig {}: {e}", k.kubeconfig.display()));
            let options = KubeConfigOptions { context: Some(ctx.clone()), ..Default::default() };
            let config = rt
                .block_on(Config::from_custom_kubeconfig(file, &options))
                .unwrap_or_else(|e| panic!("context {ctx}: {e}"));
            let _in_rt = rt.enter();
            Client::try_from(config).unwrap_or_else(|e| panic!("context {ctx}: {e}"))
        };
        let clients = [connect(Side::Dc), connect(Side::Dr)];
        Admin { rt, clients }
    }

    fn run<T>(&self, what: &str, f: impl Future<Output = Result<T, kube::Error>>) -> T {
        match self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(20), f).await }) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => panic!("{what}: {e}"),
            Err(_) => panic!("{what}: no answer within 20 s"),
        }
    }

    fn client(&self, side: Side) -> Client {
        self.clients[side.index()].clone()
    }

    /// `kafka/mm2` of `side` read as `version` (`v1`, `v1beta2`), as JSON.
    pub fn mm2(&self, side: Side, version: &str) -> Value {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client(side), MM2_NAMESPACE, &mm2_resource(version));
        let obj = self.run(&format!("get {side} kafkamirrormaker2 {MM2_NAME}"), api.get(MM2_NAME));
        serde_json::to_value(obj).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Merge-patches `spec.replicas` of `side`'s `kafka/mm2`.
    pub fn scale_mm2(&self, side: Side, replicas: i64) {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client(side), MM2_NAMESPACE, &mm2_resource("v1"));
        let patch = Patch::Merge(json!({ "spec": { "replicas": replicas } }));
        self.run(
            &format!("patch {side} kafkamirrormaker2 {MM2_NAME} replicas {replicas}"),
            api.patch(MM2_NAME, &PatchParams::default(), &patch),
        );
    }

    /// Merge-patches `side`'s `kafka/mm2` as `version` with `patch` as it is
    /// (no resourceVersion added): the API server's own answer.
    pub fn try_patch_mm2(&self, side: Side, version: &str, patch: Value) -> Result<Value, kube::Error> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client(side), MM2_NAMESPACE, &mm2_resource(version));
        let answer = self.rt.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(20),
                api.patch(MM2_NAME, &PatchParams::default(), &Patch::Merge(patch)),
            )
            .await
        });
        answer
            .unwrap_or_else(|_| panic!("patch {side} kafkamirrormaker2 {MM2_NAME}: no answer within 20 s"))
            .map(|o| serde_json::to_value(o).unwrap_or_else(|e| panic!("{e}")))
    }

    /// Merge-patches `side`'s `kafka/mm2` as `version`.
    pub fn patch_mm2(&self, side: Side, version: &str, patch: Value) {
        if let Err(e) = self.try_patch_mm2(side, version, patch) {
            panic!("patch {side} kafkamirrormaker2 {MM2_NAME}: {e}");
        }
    }

    /// Deletes ConfigMap `namespace/name` of `side`, if there.
    pub fn delete_config_map(&self, side: Side, namespace: &str, name: &str) {
        let api: Api<ConfigMap> = Api::namespaced(self.client(side), namespace);
        let gone = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(20), api.delete(name, &Default::default())).await
        });
        match gone {
            Ok(Ok(_)) | Ok(Err(kube::Error::Api(_))) => {}
            Ok(Err(e)) => panic!("delete {side} configmap {namespace}/{name}: {e}"),
            Err(_) => panic!("delete {side} configmap {namespace}/{name}: no answer within 20 s"),
        }
    }

    /// `spec.replicas` of `side`'s `apps/lab-app`.
    pub fn app_replicas(&self, side: Side) -> i32 {
        let api: Api<Deployment> = Api::namespaced(self.client(side), APP_NAMESPACE);
        let d = self.run(&format!("get {side} deployment {APP_NAME}"), api.get(APP_NAME));
        d.spec.replicas.unwrap_or(1)
    }

    /// Merge-patches `spec.replicas` of `side`'s `apps/lab-app`.
    pub fn scale_app(&self, side: Side, replicas: i32) {
        let api: Api<Deployment> = Api::namespaced(self.client(side), APP_NAMESPACE);
        let patch = Patch::Merge(json!({ "spec": { "replicas": replicas } }));
        self.run(
            &format!("patch {side} deployment {APP_NAME} replicas {replicas}"),
            api.patch(APP_NAME, &PatchParams::default(), &patch),
        );
    }

    /// Whether `side`'s API server answers a version request within 2 s.
    pub fn answers(&self, side: Side) -> bool {
        let client = self.client(side);
        let asked =
            self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), client.apiserver_version()).await });
        asked.is_ok_and(|answer| answer.is_ok())
    }

    /// Names of the pods Strimzi's labels mark as `kafka/mm2`'s.
    pub fn mm2_pods(&self, side: Side) -> Vec<String> {
        let api: Api<Pod> = Api::namespaced(self.client(side), MM2_NAMESPACE);
        let lp = ListParams::default().labels(&format!("strimzi.io/cluster={MM2_NAME}"));
        let pods = self.run(&format!("list {side} MM2 pods"), api.list(&lp));
        pods.items.into_iter().filter_map(|p| p.metadata.name).collect()
    }
}

/// Sets the bridge fault `name`; clears all faults when dropped.
pub struct Fault;

impl Fault {
    pub fn set(name: &str) -> Fault {
        lab().run(&["kube", "fault", name], Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
        Fault
    }

    pub fn clear(self) {}
}

impl Drop for Fault {
    fn drop(&mut self) {
        if let Err(e) = lab().run(&["kube", "fault", "clear"], Duration::from_secs(30)) {
            super::note(&format!("could not clear the bridge faults: {e}"));
        }
    }
}

/// A lab process held by SIGSTOP; SIGCONT when dropped (also on panic).
pub struct Paused {
    pid: String,
    part: String,
}

impl Paused {
    /// Stops `part` (`kube-apiserver-dr`...) by its pid file, after checking
    /// the pid still carries the lab's marker for that part.
    pub fn stop(part: &str) -> Paused {
        let pid = lab_pid(part);
        signal("STOP", &pid);
        Paused { pid, part: part.to_owned() }
    }

    pub fn resume(self) {}
}

/// A lab part killed (SIGKILL by its pid file, marker checked: a crash, and
/// no graceful drain of its watches) and started
/// again by `scripts/lab kube up`, which starts only what is not running;
/// on drop too, so a failing test leaves the lab whole.
pub struct Ended {
    part: String,
    restarted: bool,
}

impl Ended {
    pub fn kill(part: &str) -> Ended {
        let pid = lab_pid(part);
        signal("KILL", &pid);
        // Gone, or a zombie nobody has reaped yet.
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |s| s.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')))
        });
        assert!(gone, "{part} (pid {pid}) still runs 10 s after SIGKILL");
        Ended { part: part.to_owned(), restarted: false }
    }

    pub fn restart(mut self) {
        self.up();
    }

    fn up(&mut self) {
        if !self.restarted {
            self.restarted = true;
            if let Err(e) = lab().run(&["kube", "up"], Duration::from_secs(120)) {
                // A panic while the test already panics would abort the
                // process and skip every other guard's cleanup.
                if std::thread::panicking() {
                    super::note(&format!("restarting {}: {e}", self.part));
                } else {
                    panic!("restarting {}: {e}", self.part);
                }
            }
        }
    }
}

impl Drop for Ended {
    fn drop(&mut self) {
        self.up();
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        signal("CONT", &self.pid);
        super::note(&format!("resumed {} (pid {})", self.part, self.pid));
    }
}

/// The pid of lab part `part` (`kube-apiserver-dr`...) from its pid file,
/// after checking the process still carries the lab's marker for it.
fn lab_pid(part: &str) -> String {
    let pid_file = lab().dir.join("run").join(format!("{part}.pid"));
    let pid =
        std::fs::read_to_string(&pid_file).unwrap_or_else(|e| panic!("{}: {e}", pid_file.display())).trim().to_owned();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains(&format!("kdrill.lab.proc={part}@")),
        "pid {pid} from {} is not the lab's {part}",
        pid_file.display()
    );
    pid
}

fn signal(sig: &str, pid: &str) {
    let status = Command::new("kill").args([&format!("-{sig}"), pid]).status();
    if !status.as_ref().is_ok_and(|s| s.success()) {
        panic!("kill -{sig} {pid} failed: {status:?}");
    }
}

/// Where each side's audit log ended when the mark was taken.
pub struct AuditMark([u64; 2]);

impl AuditMark {
    pub fn now() -> AuditMark {
        let k = kube_lab();
        AuditMark(k.audit_logs.clone().map(|p| std::fs::metadata(&p).map_or(0, |m| m.len())))
    }

    /// The audit events of `side` written since the mark (the whole file if
    /// it was rotated meanwhile).
    pub fn events_since(&self, side: Side) -> Vec<Value> {
        let path = &kube_lab().audit_logs[side.index()];
        let mut file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let len = file.metadata().map_or(0, |m| m.len());
        let from = if len >= self.0[side.index()] { self.0[side.index()] } else { 0 };
        let mut text = String::new();
        file.seek(SeekFrom::Start(from))
            .and_then(|_| file.read_to_string(&mut text))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}
