#!/usr/bin/env python3
"""Smoke check of the lab's Kubernetes part (scripts/lab kube up must have run).

It CHANGES THE LAB: scales dr's mm2 to 0 and back (stops and restarts the real
dc->dr Connect worker), scales dc's lab-app (starts/stops the sample app on
dc), pauses and resumes a connector, sets and clears bridge faults. Run it on a
lab of your own (KDRILL_LAB_DIR + KDRILL_LAB_PORT_OFFSET), not a shared one.

usage: KDRILL_LAB_DIR=/tmp/my-lab scripts/lab.d/kube/smoke.py
Exit 0 when every check passed. Standard library only.
"""
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

STATE = os.environ.get("KDRILL_LAB_DIR", "/tmp/kdrill-lab")
CFG = json.load(open(os.path.join(STATE, "kube", "lab-kube.json")))
MM2 = "/apis/kafka.strimzi.io/{v}/namespaces/kafka/kafkamirrormaker2s/mm2"
DEP = "/apis/apps/v1/namespaces/apps/deployments/lab-app"
SRC = "dc->dr.MirrorSourceConnector"
T0 = time.time()
failures = []


def tokens(side):
    out = {}
    for line in open(CFG["sides"][side]["tokens"]):
        p = line.strip().split(",")
        out[p[1]] = p[0]
    return out


TOK = {s: tokens(s) for s in ("dc", "dr")}


def call(side, user, method, path, body=None, ctype="application/merge-patch+json"):
    s = CFG["sides"][side]
    data = None if body is None else json.dumps(body).encode()
    r = urllib.request.Request(s["url"] + path, data=data, method=method)
    r.add_header("Authorization", "Bearer " + TOK[side][user])
    if data is not None:
        r.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(r, context=ssl.create_default_context(cafile=s["ca"]), timeout=10) as resp:
            raw = resp.read().decode()
            try:
                return resp.status, json.loads(raw)
            except ValueError:
                return resp.status, raw
    except urllib.error.HTTPError as e:
        raw = e.read().decode(errors="replace")
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw


def check(what, ok, detail=""):
    print(f"[{time.time() - T0:6.1f}s] {'ok  ' if ok else 'FAIL'} {what}" + (f" ({detail})" if detail and not ok else ""))
    if not ok:
        failures.append(what)
    return ok


def wait(what, pred, timeout):
    t = time.time()
    last = None
    while time.time() - t < timeout:
        try:
            last = pred()
        except Exception as e:       # a transient refusal while processes restart
            last = f"{type(e).__name__}: {e}"
        if last is True:
            return check(f"{what} (after {time.time() - t:.1f}s)", True)
        time.sleep(0.5)
    return check(what, False, f"not within {timeout}s; last: {str(last)[:300]}")


def pid_alive(part):
    try:
        pid = int(open(os.path.join(CFG["run"], part + ".pid")).read())
        return f"kdrill.lab.proc={part}@{STATE}" in open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
    except (OSError, ValueError):
        return False


def mm2(side="dr", v="v1"):
    code, body = call(side, "viewer", "GET", MM2.format(v=v))
    assert code == 200, (code, body)
    return body


def mm2_pods(side="dr"):
    code, body = call(side, "viewer", "GET", "/api/v1/namespaces/kafka/pods?labelSelector="
                      "strimzi.io/cluster%3Dmm2,strimzi.io/kind%3DKafkaMirrorMaker2")
    assert code == 200, (code, body)
    return body["items"]


def connectors_running(cr):
    st = cr.get("status") or {}
    conns = st.get("connectors") or []
    states = {c["name"]: [c["connector"]["state"]] + [t["state"] for t in c.get("tasks", [])] for c in conns}
    ok = (len(conns) >= 3 and all(s == "RUNNING" for v in states.values() for s in v)
          and st.get("observedGeneration") == cr["metadata"]["generation"]
          and any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions", [])))
    return True if ok else states


def audit(side):
    out = []
    with open(CFG["audit_logs"][side]) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def main():
    # 1. API servers answer, with the operator's token.
    for side in ("dc", "dr"):
        code, body = call(side, "operator", "GET", "/readyz")
        check(f"{side}: /readyz as operator -> 200 ok", code == 200 and body == "ok", f"{code} {body}")
        code, body = call(side, "operator", "GET", "/version")
        check(f"{side}: /version is v1.37.2", code == 200 and body.get("gitVersion") == "v1.37.2", str(body))
    # 2. The CRD, served in both versions.
    for side in ("dc", "dr"):
        for v in ("v1", "v1beta2"):
            code, body = call(side, "viewer", "GET", f"/apis/kafka.strimzi.io/{v}")
            names = [r["name"] for r in body.get("resources", [])] if code == 200 else []
            check(f"{side}: kafka.strimzi.io/{v} serves kafkamirrormaker2s", "kafkamirrormaker2s" in names, f"{code}")
    # 3. mm2 in both versions; the two shapes.
    dr1, dr2 = mm2("dr", "v1"), mm2("dr", "v1beta2")
    check("dr: mm2 reads as v1 and v1beta2 with the same spec",
          dr1["apiVersion"].endswith("/v1") and dr2["apiVersion"].endswith("/v1beta2") and dr1["spec"] == dr2["spec"])
    check("dr: mm2 has the v1 shape (target, mirrors[].source)",
          "target" in dr1["spec"] and "source" in dr1["spec"]["mirrors"][0])
    dc2 = mm2("dc", "v1beta2")
    check("dc: mm2 (dr->dc) has the v1beta2 shape (connectCluster, clusters[], mirrors[].sourceCluster)",
          dc2["spec"].get("connectCluster") == "dc" and dc2["spec"]["mirrors"][0].get("sourceCluster") == "dr")
    # 4. RBAC: viewer cannot patch, nolist cannot list pods, operator can.
    code, body = call("dr", "viewer", "PATCH", MM2.format(v="v1"), {"metadata": {"labels": {"smoke": "viewer"}}})
    check("dr: viewer patch of mm2 -> 403", code == 403 and body.get("reason") == "Forbidden", f"{code}")
    code, body = call("dr", "nolist", "GET", "/api/v1/namespaces/kafka/pods")
    check("dr: nolist list pods -> 403 with a clear message",
          code == 403 and 'cannot list resource "pods"' in body.get("message", ""), f"{code} {body}")
    code, _ = call("dr", "nolist", "GET", MM2.format(v="v1"))
    check("dr: nolist may still get mm2", code == 200, f"{code}")
    code, _ = call("dr", "viewer", "PATCH", "/api/v1/namespaces/kafka/pods/mm2-mirrormaker2-0/status", {"status": {}})
    check("dr: viewer cannot patch pod status", code == 403, f"{code}")

    # 5. The bridge: dr's mm2 mirrors the real worker.
    if not pid_alive("connect-dc-dr"):
        print("note: the dc-dr worker is not running; scaling mm2 to 1 first")
        call("dr", "operator", "PATCH", MM2.format(v="v1"), {"spec": {"replicas": 1}})
    wait("dr: mm2 status Ready, all connectors and tasks RUNNING, observedGeneration current",
         lambda: connectors_running(mm2()), 180)
    pods = mm2_pods()
    check("dr: pod mm2-mirrormaker2-0 Running with Strimzi's labels",
          [p["metadata"]["name"] for p in pods] == ["mm2-mirrormaker2-0"] and pods[0]["status"]["phase"] == "Running"
          and pods[0]["metadata"]["labels"].get("strimzi.io/name") == "mm2-mirrormaker2", str([p["metadata"]["name"] for p in pods]))
    st = mm2()["status"]
    check("dr: status has labelSelector, replicas 1, url",
          st.get("replicas") == 1 and "strimzi.io/cluster=mm2" in st.get("labelSelector", "") and st.get("url"))

    # 6. spec.replicas 0: the bridge stops the real worker, the pods go.
    code, _ = call("dr", "operator", "PATCH", MM2.format(v="v1"), {"spec": {"replicas": 0}})
    check("dr: operator patch spec.replicas=0 -> 200", code == 200, f"{code}")
    wait("dr: worker connect-dc-dr stopped", lambda: not pid_alive("connect-dc-dr"), 60)
    wait("dr: mm2 pods gone", lambda: mm2_pods() == [] or [p["metadata"]["name"] for p in mm2_pods()], 30)
    wait("dr: status replicas 0, connectors [], observedGeneration current",
         lambda: (lambda c: c["status"].get("replicas") == 0 and c["status"].get("connectors") == []
                  and c["status"].get("observedGeneration") == c["metadata"]["generation"] or c["status"])(mm2()), 30)

    # 7. Back to 1: the worker starts and the connectors come back RUNNING.
    code, _ = call("dr", "operator", "PATCH", MM2.format(v="v1"), {"spec": {"replicas": 1}})
    check("dr: operator patch spec.replicas=1 -> 200", code == 200, f"{code}")
    wait("dr: worker connect-dc-dr running again", lambda: pid_alive("connect-dc-dr"), 60)
    wait("dr: connectors RUNNING again in the CR status", lambda: connectors_running(mm2()), 180)

    # 8. Connector state through the CR (pause, then running).
    cr = mm2()
    mirrors = cr["spec"]["mirrors"]
    mirrors[0]["sourceConnector"]["state"] = "paused"
    call("dr", "operator", "PATCH", MM2.format(v="v1"), {"spec": {"mirrors": mirrors}})

    def src_state():
        c = mm2()
        s = {x["name"]: x["connector"]["state"] for x in c["status"].get("connectors", [])}
        return s.get(SRC)
    wait("dr: sourceConnector.state=paused -> PAUSED in the CR status", lambda: src_state() == "PAUSED" or src_state(), 30)
    mirrors[0]["sourceConnector"]["state"] = "running"
    call("dr", "operator", "PATCH", MM2.format(v="v1"), {"spec": {"mirrors": mirrors}})
    wait("dr: sourceConnector.state=running -> RUNNING", lambda: connectors_running(mm2()), 60)

    # 9. Restart annotation, carried out and removed.
    code, _ = call("dr", "operator", "PATCH", MM2.format(v="v1"),
                   {"metadata": {"annotations": {"strimzi.io/restart-connector": SRC + ":includeTasks"}}})
    check("dr: operator annotates strimzi.io/restart-connector", code == 200, f"{code}")
    wait("dr: the bridge restarts the connector and removes the annotation",
         lambda: "strimzi.io/restart-connector" not in (mm2()["metadata"].get("annotations") or {}), 30)
    bridge_log = open(os.path.join(CFG["logs"], "kube-bridge.log")).read()
    check("bridge log: POST .../restart?includeTasks=true", "MirrorSourceConnector/restart?includeTasks=true" in bridge_log)
    wait("dr: connectors RUNNING after the restart", lambda: connectors_running(mm2()), 60)

    # 10. Faults.
    os.system(f"KDRILL_LAB_DIR={STATE} {CFG['lab_script']} kube fault ready-with-failed-task")

    def failed_but_ready():
        st = mm2()["status"]
        tasks = [t["state"] for c in st["connectors"] if c["name"] == SRC for t in c["tasks"]]
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in st["conditions"])
        return True if ready and tasks == ["FAILED"] else st["conditions"] + [tasks]
    wait("fault ready-with-failed-task: Ready=True with a FAILED task", failed_but_ready, 15)
    os.system(f"KDRILL_LAB_DIR={STATE} {CFG['lab_script']} kube fault delete-pods")
    wait("fault delete-pods: pods gone while the worker runs",
         lambda: mm2_pods() == [] and pid_alive("connect-dc-dr") or len(mm2_pods()), 15)
    os.system(f"KDRILL_LAB_DIR={STATE} {CFG['lab_script']} kube fault clear")
    wait("faults cleared: pod back, task RUNNING",
         lambda: len(mm2_pods()) == 1 and connectors_running(mm2()) is True, 20)

    # 11. Deployment scale: 1 starts the app on dc, 0 stops it.
    code, dep = call("dc", "viewer", "GET", DEP)
    check("dc: Deployment apps/lab-app readable by viewer", code == 200, f"{code}")
    scale = "/apis/apps/v1/namespaces/apps/deployments/lab-app/scale"
    if not pid_alive("app-dc"):
        code, _ = call("dc", "operator", "PATCH", scale, {"spec": {"replicas": 1}})
        check("dc: operator scales lab-app to 1", code == 200, f"{code}")
        wait("dc: app running, Deployment readyReplicas 1", lambda: pid_alive("app-dc") and (
            call("dc", "viewer", "GET", DEP)[1].get("status", {}).get("readyReplicas") == 1), 420)
    code, _ = call("dc", "operator", "PATCH", scale, {"spec": {"replicas": 0}})
    check("dc: operator scales lab-app to 0 (scale subresource)", code == 200, f"{code}")
    wait("dc: app process stopped", lambda: not pid_alive("app-dc"), 30)
    wait("dc: lab-app pods gone, status replicas 0",
         lambda: call("dc", "viewer", "GET", "/api/v1/namespaces/apps/pods")[1]["items"] == []
         and not call("dc", "viewer", "GET", DEP)[1]["status"].get("replicas"), 30)

    # 12. The audit log counts the patches.
    time.sleep(1)
    ev = [e for e in audit("dr") if e.get("verb") == "patch" and e["user"]["username"] == "operator"
          and e.get("objectRef", {}).get("resource") == "kafkamirrormaker2s"]
    check(f"dr audit: operator's mm2 patches logged ({len(ev)})", len(ev) >= 5, str(len(ev)))
    bodies = [e.get("requestObject") for e in ev]
    check("dr audit: patch bodies recorded (spec.replicas 0 then 1)",
          {"spec": {"replicas": 0}} in bodies and {"spec": {"replicas": 1}} in bodies)
    denied = [e for e in audit("dr") if e["user"]["username"] == "viewer" and e.get("verb") == "patch"]
    check("dr audit: viewer's refused patch logged with 403",
          any(e.get("responseStatus", {}).get("code") == 403 for e in denied), str(len(denied)))
    reads_by_lab = [e for e in audit("dr") if e["user"]["username"] == "lab-admin" and e.get("verb") in ("get", "list")]
    check("dr audit: the bridge's polling reads are not logged", reads_by_lab == [], str(len(reads_by_lab)))
    dc_ev = [e for e in audit("dc") if e.get("verb") == "patch" and e["user"]["username"] == "operator"]
    check(f"dc audit: operator's scale patches logged ({len(dc_ev)})",
          any(e.get("objectRef", {}).get("subresource") == "scale" for e in dc_ev))

    print(f"smoke: {'PASS' if not failures else 'FAIL: ' + '; '.join(failures)} in {time.time() - T0:.0f}s")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
