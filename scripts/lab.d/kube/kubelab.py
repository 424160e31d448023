#!/usr/bin/env python3
"""The kdrill lab's Kubernetes side: setup of the API servers, and the LAB BRIDGE.

THE LAB BRIDGE IS A TEST FIXTURE. It stands in for Strimzi's cluster operator
and for the kubelet, neither of which can run here. It keeps the objects in the
two lab API servers in step with the lab's real processes (scripts/lab), and
carries out spec changes made through the API on those processes:

  KafkaMirrorMaker2 `mm2` in dr/kafka   <->  Connect worker of flow dc-dr
  KafkaMirrorMaker2 `mm2` in dc/kafka   <->  Connect worker of flow dr-dc
  Deployment `lab-app` in <side>/apps   <->  the sample app on that side

Every action it takes on the world is one line in $LOGS/kube-bridge.log.
Standard library only (urllib, ssl, json). Shares no code with kdrill.

usage: kubelab.py --config lab-kube.json setup|bridge [--marker M]
"""
import argparse
import datetime
import hashlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

FIELD_MANAGER = "kdrill-lab"
# flow -> (side holding the CR, API version the lab creates it in)
FLOWS = {"dc-dr": ("dr", "v1"), "dr-dc": ("dc", "v1beta2")}
CR_NAME = "mm2"
KAFKA_NS = "kafka"
APPS_NS = "apps"
APP_NAME = "lab-app"
GROUP = "kafka.strimzi.io"
MM2_PATH = "/apis/kafka.strimzi.io/v1beta2/namespaces/kafka/kafkamirrormaker2s"
STRIMZI_LABELS = {
    "strimzi.io/cluster": CR_NAME,
    "strimzi.io/kind": "KafkaMirrorMaker2",
    "strimzi.io/name": f"{CR_NAME}-mirrormaker2",
    "strimzi.io/component-type": "kafka-mirror-maker-2",
    "app.kubernetes.io/instance": CR_NAME,
    "app.kubernetes.io/name": "kafka-mirror-maker-2",
    "app.kubernetes.io/part-of": f"strimzi-{CR_NAME}",
    "app.kubernetes.io/managed-by": "strimzi-cluster-operator",
}
LABEL_SELECTOR = f"strimzi.io/cluster={CR_NAME},strimzi.io/name={CR_NAME}-mirrormaker2,strimzi.io/kind=KafkaMirrorMaker2"
APP_LABELS = {"app": APP_NAME, "app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/part-of": "kdrill-lab"}
FINALIZER = "kdrill.lab/bridge"     # keeps a deleted pod visible as Terminating
TERMINATING_SECS = 2.0
RESTART_CONNECTOR = "strimzi.io/restart-connector"
RESTART_TASK = "strimzi.io/restart-connector-task"
# Strimzi's connector offsets management (see Bridge.offsets for the source).
CONNECTOR_OFFSETS = "strimzi.io/connector-offsets"
MIRRORMAKER_CONNECTOR = "strimzi.io/mirrormaker-connector"
CONNECTOR_FIELDS = (("MirrorSourceConnector", "sourceConnector"), ("MirrorCheckpointConnector", "checkpointConnector"),
                    ("MirrorHeartbeatConnector", "heartbeatConnector"))
# The CR's connector fields by the kind connector_names() uses.
KIND_FIELDS = (("source", "sourceConnector"), ("checkpoint", "checkpointConnector"), ("heartbeat", "heartbeatConnector"))
STOP_WAIT_SECS = 8.0      # a stopped connector reports STOPPED within a moment


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def connector_names(flow):
    src, tgt = flow.split("-")
    return {
        "source": f"{src}->{tgt}.MirrorSourceConnector",
        "checkpoint": f"{src}->{tgt}.MirrorCheckpointConnector",
        "heartbeat": f"{src}->{tgt}.MirrorHeartbeatConnector",
        "upstream": f"{src}->{tgt}.upstream.MirrorHeartbeatConnector",
    }


class ApiError(Exception):
    def __init__(self, code, body):
        super().__init__(f"HTTP {code}: {body[:300]}")
        self.code = code
        self.body = body


class Api:
    """A Kubernetes API server, as the lab's admin (token user in system:masters)."""

    def __init__(self, side, url, ca, token):
        self.side, self.url, self.token = side, url, token
        self.ctx = ssl.create_default_context(cafile=ca)

    def req(self, method, path, body=None, ctype="application/json", timeout=10):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        r = urllib.request.Request(self.url + path, data=data, method=method)
        r.add_header("Authorization", f"Bearer {self.token}")
        r.add_header("Accept", "application/json")
        if data is not None:
            r.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(r, context=self.ctx, timeout=timeout) as resp:
                raw = resp.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raise ApiError(e.code, e.read().decode(errors="replace")) from None

    def get(self, path):
        try:
            return self.req("GET", path)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    def create(self, path, obj):
        return self.req("POST", path, obj)

    def merge(self, path, patch):
        return self.req("PATCH", path, patch, "application/merge-patch+json")

    def apply(self, path, obj):
        q = urllib.parse.urlencode({"fieldManager": FIELD_MANAGER, "force": "true"})
        return self.req("PATCH", f"{path}?{q}", obj, "application/apply-patch+yaml")

    def delete(self, path, body=None):
        try:
            return self.req("DELETE", path, body)
        except ApiError as e:
            if e.code == 404:
                return None
            raise


def load(config):
    cfg = json.load(open(config))
    apis = {}
    for side, s in cfg["sides"].items():
        token = None
        for line in open(s["tokens"]):
            parts = line.strip().split(",")
            if len(parts) >= 2 and parts[1] == "lab-admin":
                token = parts[0]
        apis[side] = Api(side, s["url"], s["ca"], token)
    return cfg, apis


# ------------------------------------------------------------------ the world
class World:
    """The lab's real processes, read the way scripts/lab reads them."""

    def __init__(self, cfg):
        self.cfg = cfg

    def pid(self, part):
        try:
            pid = int(open(os.path.join(self.cfg["run"], part + ".pid")).read().strip())
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            stat = open(f"/proc/{pid}/stat").read()
        except (OSError, ValueError):
            return None
        if f"kdrill.lab.proc={part}@{self.cfg['state']}" not in cmd:
            return None
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return None
        return pid

    def rest(self, flow, method="GET", path="/connectors?expand=status", timeout=3, body=None):
        url = f"http://127.0.0.1:{self.cfg['rest'][flow]}{path}"
        data = json.dumps(body).encode() if body is not None else (b"" if method in ("PUT", "POST") else None)
        r = urllib.request.Request(url, method=method, data=data)
        if data is not None:      # else urllib sends a form type: Connect answers 415
            r.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(r, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")
        except (OSError, ValueError):
            return None, None

    def worker(self, flow):
        """(pid or None, {connector: status} or None when REST does not answer)."""
        pid = self.pid(f"connect-{flow}")
        if pid is None:
            return None, None
        code, body = self.rest(flow)
        if code != 200 or not isinstance(body, dict):
            return pid, None
        return pid, {name: v.get("status") for name, v in body.items() if v.get("status")}

    def app(self, side):
        """(pid or None, ready)."""
        pid = self.pid(f"app-{side}")
        if pid is None:
            return None, False
        try:
            with open(os.path.join(self.cfg["logs"], f"app-{side}.log"), errors="replace") as f:
                return pid, "READY" in f.read()
        except OSError:
            return pid, False


# ------------------------------------------------------------------ objects
def mm2_spec(cfg, flow, replicas, states=None):
    """The KafkaMirrorMaker2 the lab creates for a flow, in the shape of its API version."""
    side, version = FLOWS[flow]
    src, tgt = flow.split("-")
    states = states or {}
    common = {
        "replication.policy.class": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        "replication.policy.separator": ".",
    }

    def conn(kind, extra):
        c = {"tasksMax": 1, "state": states.get(kind, "running"), "config": dict(common, **extra)}
        return c

    mirror = {
        "sourceConnector": conn("source", {"replication.factor": 1, "offset-syncs.topic.replication.factor": 1,
                                           "refresh.topics.interval.seconds": 5, "sync.topic.acls.enabled": "false"}),
        "checkpointConnector": conn("checkpoint", {"checkpoints.topic.replication.factor": 1,
                                                   "emit.checkpoints.interval.seconds": 1,
                                                   "sync.group.offsets.enabled": "true"}),
        "heartbeatConnector": conn("heartbeat", {"heartbeats.topic.replication.factor": 1,
                                                 "emit.heartbeats.interval.seconds": 1}),
        "topicsPattern": ".*",
        "topicsExcludePattern": r".*[\-\.]internal, .*\.replica, __.*, mirrormaker2-cluster-.*, mm2-.*, connect-.*",
        "groupsPattern": ".*",
        "groupsExcludePattern": "console-consumer-.*, connect-.*, __.*, mirrormaker2-cluster",
    }
    connect_config = {"config.storage.replication.factor": 1, "offset.storage.replication.factor": 1,
                      "status.storage.replication.factor": 1,
                      "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
                      "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter"}
    spec = {"version": cfg["kafka_version"], "replicas": replicas}
    if version == "v1":
        spec["target"] = {
            "alias": tgt, "bootstrapServers": cfg["bootstrap"][tgt],
            "groupId": "mirrormaker2-cluster",
            "configStorageTopic": "mirrormaker2-cluster-configs",
            "offsetStorageTopic": "mirrormaker2-cluster-offsets",
            "statusStorageTopic": "mirrormaker2-cluster-status",
            "config": connect_config,
        }
        spec["mirrors"] = [dict({"source": {"alias": src, "bootstrapServers": cfg["bootstrap"][src]}}, **mirror)]
    else:
        spec["connectCluster"] = tgt
        spec["clusters"] = [
            {"alias": src, "bootstrapServers": cfg["bootstrap"][src]},
            {"alias": tgt, "bootstrapServers": cfg["bootstrap"][tgt],
             "config": dict(connect_config, **{"group.id": "mirrormaker2-cluster",
                                               "config.storage.topic": "mirrormaker2-cluster-configs",
                                               "offset.storage.topic": "mirrormaker2-cluster-offsets",
                                               "status.storage.topic": "mirrormaker2-cluster-status"})},
        ]
        spec["mirrors"] = [dict({"sourceCluster": src, "targetCluster": tgt}, **mirror)]
    return {
        "apiVersion": f"{GROUP}/{version}", "kind": "KafkaMirrorMaker2",
        "metadata": {"name": CR_NAME, "namespace": KAFKA_NS,
                     "labels": {"app.kubernetes.io/part-of": "kdrill-lab", "kdrill.lab/flow": flow},
                     "annotations": {"kdrill.lab/note": "lab object: the lab bridge (a test fixture) plays Strimzi's operator"}},
        "spec": spec,
    }


def deployment(side, replicas):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": APP_NAME, "namespace": APPS_NS, "labels": dict(APP_LABELS)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": APP_NAME}},
            "template": {
                "metadata": {"labels": dict(APP_LABELS)},
                "spec": {"containers": [{"name": "app", "image": "kdrill-lab-app:local",
                                         "args": ["--side", side]}]},
            },
        },
    }


VIEW = ["get", "list", "watch"]


def cluster_roles():
    def view_rules(pod_verbs):
        return [
            {"apiGroups": [""], "resources": ["pods"], "verbs": pod_verbs},
            {"apiGroups": [""], "resources": ["namespaces", "services", "events"], "verbs": VIEW},
            {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale", "statefulsets",
                                                  "statefulsets/scale", "replicasets"], "verbs": VIEW},
            {"apiGroups": [GROUP], "resources": ["kafkamirrormaker2s", "kafkamirrormaker2s/status",
                                                 "kafkas", "kafkas/status", "kafkanodepools",
                                                 "kafkaconnects", "kafkaconnectors", "kafkatopics",
                                                 "kafkausers"], "verbs": VIEW},
            {"apiGroups": ["core.strimzi.io"], "resources": ["strimzipodsets"], "verbs": VIEW},
        ]
    operator = view_rules(VIEW) + [
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale", "statefulsets",
                                              "statefulsets/scale"], "verbs": ["patch", "update"]},
        {"apiGroups": [GROUP], "resources": ["kafkamirrormaker2s"], "verbs": ["patch", "update"]},
        # Connector offsets ConfigMaps (Strimzi's alterOffsets/listOffsets).
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": VIEW + ["create", "patch", "update"]},
    ]
    return {
        "kdrill-lab-viewer": view_rules(VIEW),
        "kdrill-lab-operator": operator,
        "kdrill-lab-nolist": view_rules(["get", "watch"]),
    }


def setup(cfg, apis):
    world = World(cfg)
    crds = [json.loads(line) for line in open(cfg["crds_file"]) if line.strip()]
    for side, api in apis.items():
        for crd in crds:
            crd.setdefault("metadata", {}).setdefault("labels", {})["app.kubernetes.io/part-of"] = "kdrill-lab"
            api.apply(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}",
                      dict(crd, apiVersion="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"))
        for ns in (KAFKA_NS, APPS_NS):
            api.apply(f"/api/v1/namespaces/{ns}", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            # No controller-manager: the ServiceAccount admission plugin needs `default`.
            api.apply(f"/api/v1/namespaces/{ns}/serviceaccounts/default",
                      {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}})
        for role, rules in cluster_roles().items():
            api.apply(f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{role}",
                      {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                       "metadata": {"name": role}, "rules": rules})
            user = role.split("-")[-1]
            api.apply(f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{role}",
                      {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                       "metadata": {"name": role},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                       "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    # CRDs: bounded wait until Established and the resource is served.
    deadline = time.time() + 60
    for side, api in apis.items():
        while True:
            crd = api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/kafkamirrormaker2s.kafka.strimzi.io")
            est = any(c["type"] == "Established" and c["status"] == "True"
                      for c in (crd or {}).get("status", {}).get("conditions", []))
            try:
                served = est and api.get(MM2_PATH) is not None
            except ApiError as e:      # 429 "storage is (re)initializing" for a moment
                if e.code not in (429, 503):
                    raise
                served = False
            if served:
                break
            if time.time() > deadline:
                sys.exit(f"kubelab: CRD kafkamirrormaker2s not served by API server {side} after 60s")
            time.sleep(0.3)
    # The lab's objects: created when absent (a fresh etcd each `kube up`),
    # replicas reflecting what runs now.
    for flow, (side, version) in FLOWS.items():
        api = apis[side]
        if api.get(f"{MM2_PATH}/{CR_NAME}") is None:
            pid, statuses = world.worker(flow)
            states = {}
            for kind, name in connector_names(flow).items():
                st = ((statuses or {}).get(name) or {}).get("connector", {}).get("state")
                states[kind] = {"PAUSED": "paused", "STOPPED": "stopped"}.get(st, "running")
            api.create(f"/apis/{GROUP}/{version}/namespaces/{KAFKA_NS}/kafkamirrormaker2s",
                       mm2_spec(cfg, flow, 1 if pid else 0, states))
            print(f"kubelab: created KafkaMirrorMaker2 {side}/{KAFKA_NS}/{CR_NAME} ({GROUP}/{version}, flow {flow}, replicas {1 if pid else 0})")
    for side, api in apis.items():
        if api.get(f"/apis/apps/v1/namespaces/{APPS_NS}/deployments/{APP_NAME}") is None:
            pid, _ = world.app(side)
            api.create(f"/apis/apps/v1/namespaces/{APPS_NS}/deployments", deployment(side, 1 if pid else 0))
            print(f"kubelab: created Deployment {side}/{APPS_NS}/{APP_NAME} (replicas {1 if pid else 0})")


# ------------------------------------------------------------------ bridge
class Bridge:
    def __init__(self, cfg, apis):
        self.cfg, self.apis, self.world = cfg, apis, World(cfg)
        self.actions_log = os.path.join(cfg["logs"], "kube-bridge-actions.log")
        self.inflight = {}        # key -> (Popen, description, started)
        self.handled = {}         # key -> generation carried out
        self.failed = {}          # (key, generation, verb) -> rc: never retried
        self.last_status = {}     # key -> status body last written (sans times)
        self.faults = set()
        self.errors = {}          # key -> last error text (logged once)
        self.pod_pids = {}        # pod key -> pid the pod stands for
        self.terminating = {}     # pod key -> when the bridge saw it Terminating
        self.seen_running = set() # (side, worker pid) that once served REST
        self.pending_gen = {}     # key -> generation an in-flight action serves
        self.offsets_noted = {}   # key -> last offsets message logged (once each)
        self.offsets_warning = {} # key -> (reason, message): a Warning condition, as Strimzi writes

    def log(self, msg):
        # stdout is logs/kube-bridge.log (scripts/lab spawn).
        print(f"{utcnow()} {msg}", flush=True)

    # -------------------------------------------------------------- actions
    def run_lab(self, key, args, why):
        env = dict(os.environ, **self.cfg["env"])
        out = open(self.actions_log, "a")
        out.write(f"--- {utcnow()} scripts/lab {' '.join(args)}\n")
        out.flush()
        p = subprocess.Popen([self.cfg["lab_script"]] + args, stdin=subprocess.DEVNULL,
                             stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        out.close()
        self.inflight[key] = (p, " ".join(args), time.time())
        self.log(f"{key}: {why}: running scripts/lab {' '.join(args)} (pid {p.pid})")

    def reap(self):
        for key, (p, desc, t0) in list(self.inflight.items()):
            rc = p.poll()
            if rc is None:
                continue
            del self.inflight[key]
            self.log(f"{key}: scripts/lab {desc} exited {rc} after {time.time() - t0:.1f}s"
                     + ("" if rc == 0 else f" (output in {self.actions_log})"))
            if rc != 0:
                self.failed[(key, self.pending_gen.get(key), desc)] = rc

    def connect_call(self, key, flow, method, path, why):
        code, body = self.world.rest(flow, method, path, timeout=30)
        self.log(f"{key}: {why}: {method} {path} -> HTTP {code}"
                 + ("" if code in (200, 202, 204) else f" {str(body)[:200]}"))
        return code

    # -------------------------------------------------------------- faults
    def read_faults(self):
        try:
            faults = {l.strip() for l in open(self.cfg["faults_file"]) if l.strip()}
        except OSError:
            faults = set()
        if faults != self.faults:
            self.log(f"faults: {' '.join(sorted(faults)) or 'none'} (were: {' '.join(sorted(self.faults)) or 'none'})")
            self.faults = faults

    # -------------------------------------------------------------- pods
    def sync_pods(self, api, ns, key, selector, want, make_pod, why_gone="its process is gone"):
        """want: {pod name: (phase, ready, pid)}; pods not in want terminate, then vanish."""
        lst = api.get(f"/api/v1/namespaces/{ns}/pods?labelSelector={urllib.parse.quote(selector)}")
        have = {p["metadata"]["name"]: p for p in (lst or {}).get("items", [])}
        now = time.time()
        for name, pod in have.items():
            meta = pod["metadata"]
            path = f"/api/v1/namespaces/{ns}/pods/{name}"
            if name in want and not meta.get("deletionTimestamp"):
                continue
            if not meta.get("deletionTimestamp"):
                api.delete(path)
                self.log(f"{key}: pod {ns}/{name} Terminating ({why_gone})")
                self.pod_pids.pop((api.side, ns, name), None)
                continue
            # Terminating: after a moment the "kubelet" confirms, and it goes.
            pk = (api.side, ns, name)
            since = self.terminating.setdefault(pk, now)
            if now - since >= TERMINATING_SECS:
                try:
                    api.delete(path, {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})
                    api.merge(path, {"metadata": {"finalizers": None}})
                    self.log(f"{key}: pod {ns}/{name} deleted")
                except ApiError as e:
                    if e.code != 404:
                        raise
                self.terminating.pop(pk, None)
        for name, (phase, ready, pid) in want.items():
            pod = have.get(name)
            if pod is not None and pod["metadata"].get("deletionTimestamp"):
                continue    # the old one is still terminating; recreated next round
            path = f"/api/v1/namespaces/{ns}/pods/{name}"
            pk = (api.side, ns, name)
            if pod is None:
                pod = api.create(f"/api/v1/namespaces/{ns}/pods", make_pod(name))
                self.log(f"{key}: pod {ns}/{name} created ({phase}, pid {pid})")
                self.pod_pids[pk] = pid
            st = pod.get("status", {})
            cur_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions", []))
            restarts = (st.get("containerStatuses") or [{}])[0].get("restartCount", 0)
            known = self.pod_pids.get(pk, pid)
            if known != pid:      # same pod name, new process: a container restart
                restarts += 1
            self.pod_pids[pk] = pid
            if st.get("phase") == phase and cur_ready == ready and known == pid:
                continue
            api.merge(path + "/status", {"status": pod_status(phase, ready, restarts, st)})
            if st.get("phase") != phase or cur_ready != ready:
                self.log(f"{key}: pod {ns}/{name} {phase}{' Ready' if ready else ''} (pid {pid})")

    # -------------------------------------------------------------- mm2
    def mm2(self, flow):
        side, _ = FLOWS[flow]
        api = self.apis[side]
        key = f"{side}/{KAFKA_NS}/kafkamirrormaker2/{CR_NAME}"
        cr = api.get(f"{MM2_PATH}/{CR_NAME}")
        if cr is None:
            return
        pid, statuses = self.world.worker(flow)
        names = connector_names(flow)
        gen = cr["metadata"].get("generation", 1)
        spec = cr.get("spec", {})
        status = cr.get("status") or {}
        if key not in self.handled:
            self.handled[key] = status.get("observedGeneration")

        # Restart annotations (Strimzi removes them once carried out).
        anns = cr["metadata"].get("annotations") or {}
        for ann in (RESTART_CONNECTOR, RESTART_TASK):
            if ann not in anns:
                continue
            if statuses is None:
                continue      # worker not serving REST yet: keep the annotation
            val = anns[ann]
            if ann == RESTART_CONNECTOR:
                cname, _, opts = val.partition(":")
                opts = {o.strip() for o in opts.split(",") if o.strip()}
                q = urllib.parse.urlencode({"includeTasks": str("includeTasks" in opts).lower(),
                                            "onlyFailed": str("onlyFailed" in opts).lower()})
                self.connect_call(key, flow, "POST", f"/connectors/{quote(cname)}/restart?{q}",
                                  f"annotation {ann}={val}")
            else:
                cname, _, task = val.rpartition(":")
                self.connect_call(key, flow, "POST", f"/connectors/{quote(cname)}/tasks/{task}/restart",
                                  f"annotation {ann}={val}")
            api.merge(f"{MM2_PATH}/{CR_NAME}", {"metadata": {"annotations": {ann: None}}})
            self.log(f"{key}: annotation {ann} removed")

        # Connector offsets (Strimzi's annotations; see offsets()).
        if CONNECTOR_OFFSETS in anns or MIRRORMAKER_CONNECTOR in anns:
            self.offsets(api, key, flow, spec, anns, statuses)
        elif key in self.offsets_warning:
            del self.offsets_warning[key]

        # A worker starting with --stopped: connectors the config topic still
        # holds as RUNNING are stopped as soon as its REST answers.
        if key in self.inflight and statuses is not None and self.inflight[key][1].endswith("--stopped"):
            mirror = (spec.get("mirrors") or [{}])[0]
            desired = {kind: ((mirror.get(field) or {}).get("state") or "running").lower() for kind, field in KIND_FIELDS}
            self.apply_states(key, flow, gen, names, desired, statuses, only_stop=True, wait=False)

        # Spec changes (a new generation) -> the world.
        if gen != self.handled[key] and key not in self.inflight:
            self.pending_gen[key] = gen
            want = int(spec.get("replicas", 1) or 0)
            mirror = (spec.get("mirrors") or [{}])[0]
            desired = {kind: ((mirror.get(field) or {}).get("state") or "running").lower()
                       for kind, field in KIND_FIELDS}
            verb = "stop" if want == 0 and pid else ("start" if want > 0 and not pid else None)
            # Connectors meant to be stopped are created STOPPED when the
            # worker starts (Connect's initial_state), so nothing is copied
            # before their offsets are set.
            args = ["mm2", verb, flow] + (["--stopped"] if verb == "start" and "stopped" in desired.values() else [])
            if verb and (key, gen, " ".join(args)) in self.failed:
                self.log(f"{key}: generation {gen}: {' '.join(args)} failed before; not retried")
                self.handled[key] = gen
            elif verb:
                if verb == "stop" and statuses is not None:
                    # States first: STOPPED is then persisted in Connect's
                    # config topic, and the connectors come back STOPPED.
                    self.apply_states(key, flow, gen, names, desired, statuses, only_stop=True)
                self.run_lab(key, args, f"generation {gen}: spec.replicas={want}, worker "
                             + ("running" if pid else "stopped"))
            elif want > 0 and statuses is None:
                pass      # worker starting: connector states once REST answers
            else:
                if want > 0:
                    self.apply_states(key, flow, gen, names, desired, statuses)
                    pid, statuses = self.world.worker(flow)
                self.log(f"{key}: generation {gen} carried out (spec.replicas={want})")
                self.handled[key] = gen

        # Pods, as Strimzi's StrimziPodSet would name and label them.
        want_pods = {}
        if pid and "delete-pods" not in self.faults:
            running = statuses is not None
            if running:
                self.seen_running.add((side, pid))
            # Pending until the worker first serves REST; after that a silent
            # REST (e.g. while it shuts down) is Running but not Ready.
            phase = "Running" if (side, pid) in self.seen_running else "Pending"
            want_pods[f"{CR_NAME}-mirrormaker2-0"] = (phase, running, pid)
        self.sync_pods(api, KAFKA_NS, key, LABEL_SELECTOR, want_pods,
                       lambda name: mm2_pod(name, side, flow, pid),
                       "fault delete-pods" if pid and "delete-pods" in self.faults else "its process is gone")

        # Status, the way Strimzi writes it.
        connectors = []
        if statuses is not None:
            for name in sorted(statuses):
                s = json.loads(json.dumps(statuses[name]))
                s["name"] = name
                connectors.append(s)
        fault_note = ""
        if "ready-with-failed-task" in self.faults:
            for s in connectors:
                if s["name"] == names["source"] and s.get("tasks"):
                    t = s["tasks"][0]
                    t["state"] = "FAILED"
                    t["trace"] = ("org.apache.kafka.connect.errors.ConnectException: lab fault "
                                  "ready-with-failed-task (written by the lab bridge; the real task state differs)\n"
                                  "\tat kdrill.lab.Bridge(kubelab.py)")
                    fault_note = " [fault ready-with-failed-task]"
        want = int(spec.get("replicas", 1) or 0)
        failed = [s["name"] for s in connectors if (s.get("connector") or {}).get("state") == "FAILED"]
        if key in self.inflight:
            cond = ("NotReady", "True", "Reconciling", f"scripts/lab {self.inflight[key][1]} in progress")
        elif want > 0 and not pid:
            cond = ("NotReady", "True", "PodsNotRunning",
                    f"spec.replicas={want} but the lab's Connect worker of flow {flow} is not running")
        elif want > 0 and statuses is None:
            cond = ("NotReady", "True", "ConnectRestUnavailable", f"Connect REST of flow {flow} is not answering yet")
        elif failed and not fault_note:
            cond = ("NotReady", "True", "ConnectorFailed", f"Connector(s) in FAILED state: {', '.join(failed)}")
        else:
            cond = ("Ready", "True", None, None)
        ready_pods = 1 if (pid and statuses is not None) else 0
        conditions = [{k: v for k, v in (("type", cond[0]), ("status", cond[1]),
                                         ("reason", cond[2]), ("message", cond[3])) if v is not None}]
        if key in self.offsets_warning:
            reason, message = self.offsets_warning[key]
            conditions.append({"type": "Warning", "status": "True", "reason": reason, "message": message})
        body = {
            "conditions": conditions,
            "observedGeneration": self.handled.get(key),
            "url": f"http://{CR_NAME}-mirrormaker2-api.{KAFKA_NS}.svc:8083",
            "connectors": connectors,
            "replicas": ready_pods,
            "labelSelector": LABEL_SELECTOR,
        }
        self.write_status(api, key, f"{MM2_PATH}/{CR_NAME}/status", status, body,
                          f"{cond[0]}={cond[1]}{' ' + cond[2] if cond[2] else ''} replicas={ready_pods} "
                          + ", ".join(f"{s['name']}={(s.get('connector') or {}).get('state')}"
                                      + "".join(f"/{t.get('state')}" for t in s.get("tasks", []))
                                      for s in connectors) + fault_note)

    def apply_states(self, key, flow, gen, names, desired, statuses, only_stop=False, wait=True):
        """Each connector to its desired state; with only_stop, just the stops,
        waiting (bounded) until Connect reports them STOPPED."""
        stopping = []
        desired = dict(desired)
        if "heartbeat" in desired:
            # The lab's fourth connector (upstream heartbeats, dedicated mode's
            # reverse herder) has no field of its own: it follows the heartbeat one.
            desired.setdefault("upstream", desired["heartbeat"])
        for kind, want in desired.items():
            actual = ((statuses.get(names[kind]) or {}).get("connector") or {}).get("state")
            call = None
            if want == "running" and actual in ("PAUSED", "STOPPED") and not only_stop:
                call = "resume"
            elif want == "paused" and actual in ("RUNNING", "STOPPED", "UNASSIGNED") and not only_stop:
                call = "pause"
            elif want == "stopped" and actual not in ("STOPPED", None):
                call = "stop"
            if call:
                field = dict(KIND_FIELDS).get(kind, "heartbeatConnector")
                self.connect_call(key, flow, "PUT", f"/connectors/{quote(names[kind])}/{call}",
                                  f"generation {gen}: {field}.state={want}, connector {actual}")
                if call == "stop":
                    stopping.append(names[kind])
        if not (only_stop and stopping and wait):
            return
        deadline = time.time() + STOP_WAIT_SECS
        while True:
            _, now = self.world.worker(flow)
            left = [n for n in stopping if ((now or {}).get(n) or {}).get("connector", {}).get("state") != "STOPPED"]
            if not left:
                self.log(f"{key}: generation {gen}: {', '.join(stopping)} STOPPED before the worker stops")
                return
            if time.time() > deadline:
                self.log(f"{key}: generation {gen}: still not STOPPED after {STOP_WAIT_SECS:.0f}s: {', '.join(left)}")
                return
            time.sleep(0.3)

    def offsets_note(self, key, reason, message):
        """A Warning condition as Strimzi writes it, and one log line per new message."""
        self.offsets_warning[key] = (reason, message)
        if self.offsets_noted.get(key) != message:
            self.offsets_noted[key] = message
            self.log(f"{key}: {reason}: {message}")

    def offsets(self, api, key, flow, spec, anns, statuses):
        """Strimzi's connector offsets management for KafkaMirrorMaker2, as
        Strimzi 0.44+ carries it out (proposal 083; strimzi-kafka-operator:
        api/src/main/java/io/strimzi/api/ResourceAnnotations.java,
        cluster-operator/.../assembly/KafkaMirrorMaker2AssemblyOperator.java
        getConnectorOffsetsOperation / removeConnectorOffsetsAnnotations /
        getConnectorOffsetsConfigMapEntryKey, AbstractConnectOperator.java
        manageConnectorOffsets / alterConnectorOffsets / listConnectorOffsets,
        api/.../connector/AbstractConnectorSpec.java and AlterOffsets.java):

          metadata.annotations:
            strimzi.io/connector-offsets: list | alter | reset
            strimzi.io/mirrormaker-connector: "<src>-><tgt>.Mirror...Connector"
            (both together; one alone is a Warning condition "ManageOffsets")
          spec.mirrors[].sourceConnector (or checkpointConnector, heartbeatConnector):
            alterOffsets: {fromConfigMap: {name: CM}}   read by alter
            listOffsets:  {toConfigMap:   {name: CM}}   written by list
          ConfigMap CM, data key "<connector with '->' as '--'>.json"
            (e.g. "dr--dc.MirrorSourceConnector.json"), value Connect's body
            {"offsets": [{"partition": {"cluster": "dr", "topic": "t", "partition": 0},
                          "offset": {"offset": 41}}]}

        alter and reset need the connector STOPPED ("Connector is not in STOPPED
        state" otherwise, a Warning condition, annotations kept); alter sends
        the entry as it is to PATCH /connectors/{name}/offsets. Once done both
        annotations are removed. A connector name that is not this resource's
        is ignored (Strimzi reconciles only its own connectors)."""
        action, cname = anns.get(CONNECTOR_OFFSETS), anns.get(MIRRORMAKER_CONNECTOR)
        meta_path = f"{MM2_PATH}/{CR_NAME}"
        if action is None or cname is None:
            missing = MIRRORMAKER_CONNECTOR if cname is None else CONNECTOR_OFFSETS
            self.offsets_note(key, "ManageOffsets", f"Encountered error getting connector offsets annotation. "
                              f"KafkaMirrorMaker2 resource {KAFKA_NS}/{CR_NAME} is missing annotation {missing}")
            return
        if action not in ("list", "alter", "reset"):
            self.offsets_note(key, "ManageOffsets", f"unknown {CONNECTOR_OFFSETS} value {action!r}")
            return
        if cname not in connector_names(flow).values():
            self.offsets_note(key, "ManageOffsets", f"{cname} is not a connector of this resource; nothing done")
            return
        if statuses is None:
            self.offsets_note(key, "ManageOffsets", f"{action} offsets of {cname}: Connect REST of flow {flow} "
                              "is not answering; kept for later")
            return
        mirror = (spec.get("mirrors") or [{}])[0]
        field = next((f for suffix, f in CONNECTOR_FIELDS if cname.endswith("." + suffix)), None)
        conn_spec = mirror.get(field) or {}
        reason = {"list": "ListOffsets", "alter": "AlterOffsets", "reset": "ResetOffsets"}[action]
        entry = cname.replace("->", "--") + ".json"
        path = f"/connectors/{quote(cname)}/offsets"
        if action in ("alter", "reset"):
            state = ((statuses.get(cname) or {}).get("connector") or {}).get("state")
            if state != "STOPPED":
                self.offsets_note(key, reason, f"Encountered error {action}ing connector offsets. "
                                  f"Connector is not in STOPPED state ({cname} is {state})")
                return
        if action == "alter":
            cm_name = ((conn_spec.get("alterOffsets") or {}).get("fromConfigMap") or {}).get("name")
            if not cm_name:
                self.offsets_note(key, reason, "Failed to alter the connector offsets due to missing property "
                                  f"alterOffsets in KafkaMirrorMaker2 CR ({field})")
                return
            cm = api.get(f"/api/v1/namespaces/{KAFKA_NS}/configmaps/{cm_name}")
            if cm is None or (cm.get("data") or {}).get(entry) is None:
                what = f"ConfigMap {KAFKA_NS}/{cm_name} does not exist" if cm is None else f"Data field {entry} is missing"
                self.offsets_note(key, reason, f"Encountered error fetching offsets to use in alter operation. {what}.")
                return
            try:
                body = json.loads(cm["data"][entry])
            except ValueError as e:
                self.offsets_note(key, reason, f"Failed to parse contents of {entry} as JSON: {e}")
                return
            code, answer = self.world.rest(flow, "PATCH", path, timeout=30, body=body)
        elif action == "reset":
            code, answer = self.world.rest(flow, "DELETE", path, timeout=30)
        else:
            cm_name = ((conn_spec.get("listOffsets") or {}).get("toConfigMap") or {}).get("name")
            if not cm_name:
                self.offsets_note(key, reason, "Failed to list the connector offsets due to missing property "
                                  f"listOffsets in KafkaMirrorMaker2 CR ({field})")
                return
            code, answer = self.world.rest(flow, "GET", path, timeout=30)
            if code == 200:
                cm_path = f"/api/v1/namespaces/{KAFKA_NS}/configmaps"
                text = json.dumps(answer, indent=2)
                if api.get(f"{cm_path}/{cm_name}") is None:
                    api.create(cm_path, {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": cm_name, "namespace": KAFKA_NS,
                                                      "labels": {"strimzi.io/cluster": CR_NAME}},
                                         "data": {entry: text}})
                else:
                    api.merge(f"{cm_path}/{cm_name}", {"data": {entry: text}})
        if code not in (200, 204):
            self.offsets_note(key, reason, f"Encountered error {action}ing connector offsets. "
                              f"{path} answered HTTP {code} {str(answer)[:200]}")
            return
        api.merge(meta_path, {"metadata": {"annotations": {CONNECTOR_OFFSETS: None, MIRRORMAKER_CONNECTOR: None}}})
        self.offsets_warning.pop(key, None)
        self.offsets_noted.pop(key, None)
        detail = f" from ConfigMap {KAFKA_NS}/{cm_name} key {entry}" if action != "reset" else ""
        self.log(f"{key}: offsets of {cname} {action}{'ed' if action != 'reset' else ''}{detail}: "
                 f"HTTP {code}; annotations {CONNECTOR_OFFSETS}, {MIRRORMAKER_CONNECTOR} removed")

    def write_status(self, api, key, path, old, body, summary):
        comparable = json.dumps(body, sort_keys=True)
        if self.last_status.get(key) == comparable:
            return
        # Keep lastTransitionTime while type/status hold (as Strimzi does).
        old_conds = {(c.get("type"), c.get("status")): c.get("lastTransitionTime")
                     for c in (old or {}).get("conditions", [])}
        for c in body.get("conditions", []):
            c["lastTransitionTime"] = old_conds.get((c["type"], c["status"])) or utcnow()
        api.merge(path, {"status": body})
        self.last_status[key] = comparable
        self.log(f"{key}: status {summary}")

    # -------------------------------------------------------------- apps
    def app(self, side):
        api = self.apis[side]
        key = f"{side}/{APPS_NS}/deployment/{APP_NAME}"
        path = f"/apis/apps/v1/namespaces/{APPS_NS}/deployments/{APP_NAME}"
        dep = api.get(path)
        if dep is None:
            return
        pid, ready = self.world.app(side)
        gen = dep["metadata"].get("generation", 1)
        want = int(dep.get("spec", {}).get("replicas", 1) or 0)
        status = dep.get("status") or {}
        if key not in self.handled:
            self.handled[key] = status.get("observedGeneration")
        if gen != self.handled[key] and key not in self.inflight:
            self.pending_gen[key] = gen
            verb = "stop" if want == 0 and pid else ("start" if want > 0 and not pid else None)
            if verb and (key, gen, f"apps {verb} {side}") in self.failed:
                self.log(f"{key}: generation {gen}: apps {verb} {side} failed before; not retried")
                self.handled[key] = gen
            elif verb:
                self.run_lab(key, ["apps", verb, side], f"generation {gen}: spec.replicas={want}, app "
                             + ("running" if pid else "stopped"))
            else:
                if want > 1:
                    self.log(f"{key}: generation {gen}: spec.replicas={want}; the lab runs one app process per side")
                self.log(f"{key}: generation {gen} carried out (spec.replicas={want})")
                self.handled[key] = gen
        want_pods = {}
        if pid:
            h = hashlib.sha1(f"{side}-{pid}".encode()).hexdigest()
            want_pods[f"{APP_NAME}-{TEMPLATE_HASH}-{h[:5]}"] = ("Running" if ready else "Pending", ready, pid)
        self.sync_pods(api, APPS_NS, key, "app=" + APP_NAME, want_pods, lambda name: app_pod(name, side, pid))
        n_ready = 1 if (pid and ready) else 0
        n = 1 if pid else 0
        conds = [
            {"type": "Available", "status": "True" if n_ready >= min(want, 1) else "False",
             "reason": "MinimumReplicasAvailable" if n_ready >= min(want, 1) else "MinimumReplicasUnavailable",
             "message": "Deployment has minimum availability." if n_ready >= min(want, 1)
             else "Deployment does not have minimum availability."},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": f'ReplicaSet "{APP_NAME}-{TEMPLATE_HASH}" has successfully progressed.'},
        ]
        body = {"observedGeneration": self.handled.get(key), "replicas": n, "updatedReplicas": n,
                "readyReplicas": n_ready, "availableReplicas": n_ready,
                "unavailableReplicas": max(0, want - n_ready) or None, "conditions": conds}
        self.write_status(api, key, path + "/status", status, body,
                          f"replicas={n} ready={n_ready} (spec {want})")

    # -------------------------------------------------------------- loop
    def run(self):
        self.pending_gen = {}
        self.log(f"bridge started (pid {os.getpid()}); lab state {self.cfg['state']}")
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        while not stop:
            t0 = time.time()
            self.reap()
            self.read_faults()
            for name, fn in [(f"mm2 {f}", lambda f=f: self.mm2(f)) for f in FLOWS] + \
                            [(f"app {s}", lambda s=s: self.app(s)) for s in ("dc", "dr")]:
                try:
                    fn()
                    if self.errors.pop(name, None):
                        self.log(f"{name}: recovered")
                except Exception as e:      # keep bridging the rest; log each new error once
                    msg = f"{type(e).__name__}: {e}"
                    if self.errors.get(name) != msg:
                        self.log(f"{name}: error: {msg}")
                        self.errors[name] = msg
            with open(self.cfg["heartbeat_file"], "w") as f:
                f.write(utcnow() + "\n")
            time.sleep(max(0.1, 1.0 - (time.time() - t0)))
        self.log("bridge stopped (SIGTERM)")


TEMPLATE_HASH = "6b9f7c5d4"


def quote(name):
    return urllib.parse.quote(name, safe="")


def pod_status(phase, ready, restarts, old):
    now = utcnow()
    start = old.get("startTime") or now
    cs = {"name": "main", "ready": ready, "restartCount": restarts, "started": phase == "Running",
          "image": "lab", "imageID": "", "state": {"running": {"startedAt": start}} if phase == "Running"
          else {"waiting": {"reason": "ContainerCreating"}}}
    return {
        "phase": phase, "startTime": start, "podIP": "127.0.0.1", "hostIP": "127.0.0.1",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": start},
            {"type": "Initialized", "status": "True", "lastTransitionTime": start},
            {"type": "ContainersReady", "status": "True" if ready else "False", "lastTransitionTime": now},
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now},
        ],
        "containerStatuses": [cs],
    }


def mm2_pod(name, side, flow, pid):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": KAFKA_NS, "labels": dict(STRIMZI_LABELS, **{
            "statefulset.kubernetes.io/pod-name": name, "strimzi.io/pod-name": name}),
            "annotations": {"kdrill.lab/process": f"connect-{flow} pid {pid}"},
            "finalizers": [FINALIZER]},
        "spec": {"nodeName": f"lab-{side}", "hostname": name, "subdomain": f"{CR_NAME}-mirrormaker2-api",
                 "automountServiceAccountToken": False,
                 "containers": [{"name": "main", "image": "quay.io/strimzi/kafka:lab",
                                 "ports": [{"containerPort": 8083, "name": "rest-api"}]}]},
    }


def app_pod(name, side, pid):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": APPS_NS,
                     "labels": dict(APP_LABELS, **{"pod-template-hash": TEMPLATE_HASH}),
                     "annotations": {"kdrill.lab/process": f"app-{side} pid {pid}"},
                     "finalizers": [FINALIZER]},
        "spec": {"nodeName": f"lab-{side}", "automountServiceAccountToken": False,
                 "containers": [{"name": "main", "image": "kdrill-lab-app:local"}]},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--marker", help="lets scripts/lab recognise this process by its command line")
    ap.add_argument("command", choices=["setup", "bridge"])
    a = ap.parse_args()
    cfg, apis = load(a.config)
    if a.command == "setup":
        setup(cfg, apis)
    else:
        Bridge(cfg, apis).run()


if __name__ == "__main__":
    main()
