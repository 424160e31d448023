# The lab's Kubernetes part: `scripts/lab kube build|up|down|status|env|fault`.
# Sourced by scripts/lab (uses its STATE, RUN, LOGS, CACHE, OFF, spawn,
# stop_proc, pid_of, alive, die, log, now, with_lock, write_env).
#
# Two kube-apiservers on loopback (dc, dr), one etcd (a --etcd-prefix per
# side), certificates from openssl, token users + RBAC, an audit log per side,
# Strimzi's CRDs (io.strimzi:api), and the lab bridge (kubelab.py), a test
# fixture that stands in for Strimzi's operator and the kubelet.
# See scripts/lab.d/README.md, section "Kubernetes".

KUBE_DIR_SRC="$LABD/kube"
KUBE_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
STRIMZI_VERSION="$(sed -n 's:.*<strimzi.version>\(.*\)</strimzi.version>.*:\1:p' "$KUBE_DIR_SRC/pom.xml")"
# Binaries live in a directory named after the versions and the go.mod/go.sum
# content: editing a go.mod builds afresh, nothing else ever rebuilds.
KUBE_SUM="$(cat "$KUBE_DIR_SRC"/apiserver/go.mod "$KUBE_DIR_SRC"/apiserver/go.sum \
  "$KUBE_DIR_SRC"/etcd/go.mod "$KUBE_DIR_SRC"/etcd/go.sum | sha256sum | cut -c1-12)"
KUBE_BIN="$CACHE/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-$KUBE_SUM"
CRDS_SUM="$(cat "$KUBE_DIR_SRC/pom.xml" "$KUBE_DIR_SRC/StrimziCrds.java" | sha256sum | cut -c1-12)"
CRDS_DIR="$CACHE/strimzi-crds-$STRIMZI_VERSION-$CRDS_SUM"

KSTATE="$STATE/kube"
KPKI="$KSTATE/pki"
KUBECONFIG_FILE="$KSTATE/kubeconfig"
FAULTS_FILE="$KSTATE/faults"
BRIDGE_HEARTBEAT="$KSTATE/bridge.heartbeat"
declare -A KPORT=([dc]=$((16443 + OFF)) [dr]=$((26443 + OFF)))   # API servers (https)
ETCD_PORT=$((12379 + OFF))        # client (http)
ETCD_PEER_PORT=$((12380 + OFF))
WAIT_KUBE="${KDRILL_LAB_WAIT_KUBE:-90}"
WAIT_KUBE_BUILD="${KDRILL_LAB_WAIT_KUBE_BUILD:-7200}"
KUBE_FAULTS=(ready-with-failed-task delete-pods)

# ---------------------------------------------------------------- build
# go build, niced: a cold kube-apiserver is ~11 CPU-minutes.
kube_go_build() {  # kube_go_build MODULE_DIR OUT PACKAGE [LDFLAGS]
  local dir="$1" out="$2" pkg="$3" ldflags="${4:-}" t0
  command -v go >/dev/null || die "go not found: needed to build $(basename "$out") (scripts/lab.d/kube/)"
  t0=$(now)
  log "building $(basename "$out") from $dir (cold: minutes; log $KUBE_BIN/build-$(basename "$out").log)"
  if ! (cd "$dir" && nice -n "${KDRILL_LAB_BUILD_NICE:-19}" go build -mod=readonly -trimpath \
      -ldflags "-s -w $ldflags" -o "$out.tmp.$$" "$pkg") >"$KUBE_BIN/build-$(basename "$out").log" 2>&1; then
    rm -f "$out.tmp.$$"
    tail -20 "$KUBE_BIN/build-$(basename "$out").log" >&2
    die "building $(basename "$out") failed, see $KUBE_BIN/build-$(basename "$out").log"
  fi
  mv -f "$out.tmp.$$" "$out"
  log "built $(basename "$out") in $(( $(now) - t0 ))s"
}

ensure_kube_bins() {
  [[ -x "$KUBE_BIN/kube-apiserver" && -x "$KUBE_BIN/etcd" ]] && return 0
  mkdir -p "$KUBE_BIN"
  exec 7>>"$KUBE_BIN/.build.lock"
  flock -w "$WAIT_KUBE_BUILD" 7 || die "build lock $KUBE_BIN/.build.lock busy for ${WAIT_KUBE_BUILD}s"
  local v=k8s.io/component-base/version
  [[ -x "$KUBE_BIN/etcd" ]] || kube_go_build "$KUBE_DIR_SRC/etcd" "$KUBE_BIN/etcd" go.etcd.io/etcd/server/v3
  [[ -x "$KUBE_BIN/kube-apiserver" ]] || kube_go_build "$KUBE_DIR_SRC/apiserver" "$KUBE_BIN/kube-apiserver" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    "-X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=37 -X $v.gitTreeState=clean"
  exec 7>&-
}

# Strimzi's CRDs as JSON lines, printed by StrimziCrds.java from io.strimzi:api.
ensure_crds() {
  [[ -s "$CRDS_DIR/crds.jsonl" ]] && return 0
  mkdir -p "$CRDS_DIR"
  command -v mvn >/dev/null || die "mvn not found: needed to fetch io.strimzi:api"
  local repo=()
  [[ -n "${KDRILL_LAB_MAVEN_REPO:-}" ]] && repo=(-Dmaven.repo.local="$KDRILL_LAB_MAVEN_REPO")
  log "resolving io.strimzi:api $STRIMZI_VERSION into $CRDS_DIR"
  mvn -q -B "${repo[@]}" -f "$KUBE_DIR_SRC/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$CRDS_DIR/libs" >"$CRDS_DIR/mvn.log" 2>&1 \
    || { tail -20 "$CRDS_DIR/mvn.log" >&2; die "mvn failed, see $CRDS_DIR/mvn.log"; }
  "$JAVA" -cp "$CRDS_DIR/libs/*" "$KUBE_DIR_SRC/StrimziCrds.java" >"$CRDS_DIR/crds.jsonl.tmp" 2>"$CRDS_DIR/java.log" \
    || die "printing Strimzi's CRDs failed, see $CRDS_DIR/java.log"
  mv -f "$CRDS_DIR/crds.jsonl.tmp" "$CRDS_DIR/crds.jsonl"
}

# ---------------------------------------------------------------- pki, users
kube_pki() {
  command -v openssl >/dev/null || die "openssl not found: needed for the lab's certificates"
  local side d
  for side in dc dr; do
    d="$KPKI/$side"
    [[ -s "$d/server.crt" && -s "$d/sa.pub" ]] && continue
    mkdir -p "$d"
    (
      cd "$d"
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
        -subj "/CN=kdrill-lab-$side-ca" 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
        -subj "/CN=kube-apiserver-$side" 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >server.ext
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
        -days 3650 -extfile server.ext 2>/dev/null
      openssl genrsa -out sa.key 2048 2>/dev/null
      openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
      rm -f server.csr
    ) || die "openssl failed writing $d"
    chmod 600 "$d"/*.key
  done
  # Token users per side: admin (the lab itself, the bridge: system:masters),
  # operator, viewer, nolist (RBAC in kubelab.py setup).
  local u tok
  for side in dc dr; do
    [[ -s "$KSTATE/tokens-$side.csv" ]] && continue
    : >"$KSTATE/tokens-$side.csv.tmp"
    for u in admin operator viewer nolist; do
      tok="$(openssl rand -hex 16)"
      if [[ $u == admin ]]; then
        echo "$tok,lab-admin,lab-admin-$side,\"system:masters\"" >>"$KSTATE/tokens-$side.csv.tmp"
      else
        echo "$tok,$u,$u-$side,\"kdrill-lab\"" >>"$KSTATE/tokens-$side.csv.tmp"
      fi
    done
    chmod 600 "$KSTATE/tokens-$side.csv.tmp"
    mv -f "$KSTATE/tokens-$side.csv.tmp" "$KSTATE/tokens-$side.csv"
  done
}

kube_token() { grep -F ",$2,$2-$1," "$KSTATE/tokens-$1.csv" | cut -d, -f1; }

kube_write_kubeconfig() {
  local side u ctx
  {
    echo "# kdrill lab: one cluster per side, contexts <side> (operator), <side>-viewer,"
    echo "# <side>-nolist (no list on pods), <side>-admin (system:masters). Written by scripts/lab kube up."
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "current-context: dr"
    echo "clusters:"
    for side in dc dr; do
      echo "- name: $side"
      echo "  cluster:"
      echo "    server: https://127.0.0.1:${KPORT[$side]}"
      echo "    certificate-authority-data: $(base64 -w0 "$KPKI/$side/ca.crt")"
    done
    echo "users:"
    for side in dc dr; do
      for u in operator viewer nolist admin; do
        echo "- name: $side-$u"
        echo "  user:"
        echo "    token: $(kube_token "$side" "$([[ $u == admin ]] && echo lab-admin || echo "$u")")"
      done
    done
    echo "contexts:"
    for side in dc dr; do
      for u in operator viewer nolist admin; do
        [[ $u == operator ]] && ctx=$side || ctx=$side-$u
        echo "- name: $ctx"
        echo "  context: {cluster: $side, user: $side-$u, namespace: kafka}"
      done
    done
  } >"$KUBECONFIG_FILE.tmp"
  chmod 600 "$KUBECONFIG_FILE.tmp"
  mv -f "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
}

kube_write_policy() {
  # Every non-read request is logged; writes with their request and response
  # bodies (tests read back patch bodies). Reads by the lab's own admin (the
  # bridge polls every second) are not logged; other users' reads at Metadata.
  cat >"$KSTATE/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: ["system:apiserver"]
  verbs: [create, update, patch, delete, deletecollection]
- level: RequestResponse
  verbs: [create, update, patch, delete, deletecollection]
- level: None
  users: ["lab-admin", "system:apiserver"]
- level: None
  nonResourceURLs: ["/readyz*", "/livez*", "/healthz*"]
- level: Metadata
EOF
}

kube_write_config() {  # what kubelab.py reads
  python3 - "$KSTATE/lab-kube.json" <<PY
import json, sys
cfg = {
  "state": "$STATE", "run": "$RUN", "logs": "$LOGS", "kstate": "$KSTATE",
  "lab_script": "$LAB_SCRIPT", "faults_file": "$FAULTS_FILE",
  "heartbeat_file": "$BRIDGE_HEARTBEAT", "crds_file": "$CRDS_DIR/crds.jsonl",
  "kafka_version": "$KAFKA_VERSION",
  "bootstrap": {"dc": "127.0.0.1:${PORT[dc]}", "dr": "127.0.0.1:${PORT[dr]}"},
  "rest": {"dc-dr": ${REST[dc-dr]}, "dr-dc": ${REST[dr-dc]}},
  "sides": {s: {"url": "https://127.0.0.1:%d" % p, "ca": "$KPKI/%s/ca.crt" % s,
                "tokens": "$KSTATE/tokens-%s.csv" % s} for s, p in (("dc", ${KPORT[dc]}), ("dr", ${KPORT[dr]}))},
  "audit_logs": {"dc": "$LOGS/kube-audit-dc.log", "dr": "$LOGS/kube-audit-dr.log"},
  "env": {"KDRILL_LAB_DIR": "$STATE", "KDRILL_LAB_PORT_OFFSET": "$OFF", "KDRILL_LAB_CACHE": "$CACHE"},
}
json.dump(cfg, open(sys.argv[1] + ".tmp", "w"), indent=1)
PY
  mv -f "$KSTATE/lab-kube.json.tmp" "$KSTATE/lab-kube.json"
  cat >"$KSTATE/kube.env" <<EOF
KUBECONFIG=$KUBECONFIG_FILE
KDRILL_LAB_KUBE_DC_URL=https://127.0.0.1:${KPORT[dc]}
KDRILL_LAB_KUBE_DR_URL=https://127.0.0.1:${KPORT[dr]}
KDRILL_LAB_KUBE_DC_CA=$KPKI/dc/ca.crt
KDRILL_LAB_KUBE_DR_CA=$KPKI/dr/ca.crt
KDRILL_LAB_KUBE_DC_AUDIT_LOG=$LOGS/kube-audit-dc.log
KDRILL_LAB_KUBE_DR_AUDIT_LOG=$LOGS/kube-audit-dr.log
KDRILL_LAB_KUBE_BRIDGE_LOG=$LOGS/kube-bridge.log
KDRILL_LAB_KUBE_VERSION=$KUBE_VERSION
KDRILL_LAB_STRIMZI_API_VERSION=$STRIMZI_VERSION
EOF
}

# ---------------------------------------------------------------- processes
# Go binaries refuse unknown flags: the lab's marker rides in argv[0].
spawn_marked() {  # spawn_marked NAME BINARY ARGS...
  local name="$1" bin="$2"; shift 2
  spawn "$name" bash -c 'exec -a "$0" "$@"' "$(basename "$bin")[$(marker "$name")]" "$bin" "$@"
}

kube_get() {  # kube_get SIDE PATH: as the lab's admin
  curl -sf -m 5 --cacert "$KPKI/$1/ca.crt" -H "Authorization: Bearer $(kube_token "$1" lab-admin)" \
    "https://127.0.0.1:${KPORT[$1]}$2"
}
etcd_ready() { curl -sf -m 3 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; }
apiserver_ready() { [[ "$(kube_get "$1" /readyz 2>/dev/null)" == ok ]]; }
bridge_ready() {
  alive kube-bridge && [[ -f "$BRIDGE_HEARTBEAT" ]] \
    && (( $(now) - $(stat -c %Y "$BRIDGE_HEARTBEAT") < 10 ))
}

# Gone, and still gone a moment later: while `exec -a` replaces the
# marking shell, /proc/PID/cmdline can read empty for an instant.
gone() { alive "$1" && return 1; sleep 0.5; ! alive "$1"; }

kube_wait() {  # kube_wait PART CHECK...: bounded
  local part="$1"; shift
  local deadline=$(( $(now) + WAIT_KUBE ))
  until "$@"; do
    gone "$part" && die "$part exited during start-up; read $LOGS/$part.log"
    (( $(now) < deadline )) || die "$part not ready after ${WAIT_KUBE}s; read $LOGS/$part.log"
    sleep 0.3
  done
}

etcd_start() {
  alive kube-etcd && { kube_wait kube-etcd etcd_ready; return 0; }
  local p
  for p in "$ETCD_PORT" "$ETCD_PEER_PORT"; do
    port_open "$p" && die "port 127.0.0.1:$p (lab etcd) is taken by a process this lab did not start; find it with: ss -ltnp 'sport = :$p'"
  done
  # A fresh etcd means fresh objects: each `kube up` from cold starts clean.
  rm -rf "$KSTATE/etcd"
  spawn_marked kube-etcd "$KUBE_BIN/etcd" --name lab --data-dir "$KSTATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "lab=http://127.0.0.1:$ETCD_PEER_PORT" --quota-backend-bytes $((512*1024*1024)) \
    --log-level warn
  log "started kube-etcd (pid $(cat "$RUN/kube-etcd.pid")) on 127.0.0.1:$ETCD_PORT, log $LOGS/kube-etcd.log"
  kube_wait kube-etcd etcd_ready
}

apiserver_start() {
  local side="$1" name="kube-apiserver-$1"
  alive "$name" && { kube_wait "$name" apiserver_ready "$side"; return 0; }
  port_open "${KPORT[$side]}" && die "port 127.0.0.1:${KPORT[$side]} (API server $side) is taken by a process this lab did not start"
  [[ -f "$LOGS/kube-audit-$side.log" ]] && mv -f "$LOGS/kube-audit-$side.log" "$LOGS/kube-audit-$side.log.1"
  spawn_marked "$name" "$KUBE_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" --etcd-prefix="/registry-$side" \
    --bind-address=127.0.0.1 --secure-port="${KPORT[$side]}" \
    --tls-cert-file="$KPKI/$side/server.crt" --tls-private-key-file="$KPKI/$side/server.key" \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$KPKI/$side/sa.pub" --service-account-signing-key-file="$KPKI/$side/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --token-auth-file="$KSTATE/tokens-$side.csv" --anonymous-auth=false \
    --authorization-mode=RBAC \
    --audit-log-path="$LOGS/kube-audit-$side.log" --audit-policy-file="$KSTATE/audit-policy.yaml" \
    --audit-log-maxsize=200 --audit-log-maxbackup=1 \
    --enable-priority-and-fairness=false --v=1
  log "started $name (pid $(cat "$RUN/$name.pid")) on https://127.0.0.1:${KPORT[$side]}, log $LOGS/$name.log"
}

bridge_start() {
  alive kube-bridge && { kube_wait kube-bridge bridge_ready; return 0; }
  rm -f "$BRIDGE_HEARTBEAT"
  # Its stdout, logs/kube-bridge.log, is one line per action: what the world did.
  spawn kube-bridge python3 -u "$KUBE_DIR_SRC/kubelab.py" --config "$KSTATE/lab-kube.json" \
    --marker "$(marker kube-bridge)" bridge
  log "started kube-bridge (pid $(cat "$RUN/kube-bridge.pid")), actions in $LOGS/kube-bridge.log"
  kube_wait kube-bridge bridge_ready
}

# ---------------------------------------------------------------- commands
# kube up/down serialise on their own lock, not the lab's: the bridge runs
# `scripts/lab mm2|apps ...` (which take the lab lock) and must never wait
# for, or hold up, a `kube down`.
with_kube_lock() {
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 6>>"${STATE%/}.kube.lock"
  flock -w "$WAIT_LOCK" 6 || die "another scripts/lab kube still holds ${STATE%/}.kube.lock after ${WAIT_LOCK}s"
}

kube_up() {
  with_kube_lock
  local t0 side pids=() p; t0=$(now)
  ensure_kube_bins
  ensure_crds
  mkdir -p "$KSTATE" "$RUN" "$LOGS"
  kube_pki
  kube_write_kubeconfig
  kube_write_policy
  kube_write_config
  [[ -f "$FAULTS_FILE" ]] || : >"$FAULTS_FILE"
  etcd_start
  for side in dc dr; do apiserver_start "$side"; done
  for side in dc dr; do kube_wait "kube-apiserver-$side" apiserver_ready "$side"; done
  log "API servers ready after $(( $(now) - t0 ))s"
  python3 "$KUBE_DIR_SRC/kubelab.py" --config "$KSTATE/lab-kube.json" setup \
    || die "applying CRDs, RBAC and the lab's objects failed (see above)"
  bridge_start
  write_env
  log "kube up in $(( $(now) - t0 ))s; KUBECONFIG=$KUBECONFIG_FILE (contexts dc dr dc-viewer dr-viewer dc-nolist dr-nolist dc-admin dr-admin)"
}

kube_down() {
  local purge=0
  [[ "${1:-}" == --purge ]] && purge=1
  with_kube_lock
  stop_proc kube-bridge TERM
  stop_proc kube-apiserver-dc TERM & stop_proc kube-apiserver-dr TERM & wait
  stop_proc kube-etcd TERM
  rm -f "$BRIDGE_HEARTBEAT"
  if (( purge )); then rm -rf "$KSTATE"; log "purged $KSTATE"; fi
  log "kube down"
}

kube_status() {
  local ok=0 pid line side
  printf '%-18s %-8s %-6s %-24s %s\n' PART PID ALIVE ADDRESS READY
  if pid="$(pid_of kube-etcd)"; then
    etcd_ready && line=yes || { line=no; ok=1; }
  else pid=-; line="no (stopped)"; ok=1; fi
  printf '%-18s %-8s %-6s %-24s %s\n' etcd "$pid" "$([[ $pid == - ]] && echo no || echo yes)" "127.0.0.1:$ETCD_PORT" "$line"
  for side in dc dr; do
    if pid="$(pid_of "kube-apiserver-$side")"; then
      apiserver_ready "$side" && line=yes || { line="no (/readyz; log $LOGS/kube-apiserver-$side.log)"; ok=1; }
    else pid=-; line="no (stopped)"; ok=1; fi
    printf '%-18s %-8s %-6s %-24s %s\n' "apiserver $side" "$pid" "$([[ $pid == - ]] && echo no || echo yes)" "https://127.0.0.1:${KPORT[$side]}" "$line"
  done
  if pid="$(pid_of kube-bridge)"; then
    local faults; faults="$(tr '\n' ' ' <"$FAULTS_FILE" 2>/dev/null | sed 's/ *$//')"
    bridge_ready && line="yes (faults: ${faults:-none})" \
      || { line="no (no heartbeat for 10s; log $LOGS/kube-bridge.log)"; ok=1; }
  else pid=-; line="no (stopped)"; ok=1; fi
  printf '%-18s %-8s %-6s %-24s %s\n' bridge "$pid" "$([[ $pid == - ]] && echo no || echo yes)" "-" "$line"
  # What the objects say (as the lab's admin), when the API servers answer.
  for side in dc dr; do
    apiserver_ready "$side" || continue
    kube_get "$side" /apis/kafka.strimzi.io/v1beta2/namespaces/kafka/kafkamirrormaker2s/mm2 2>/dev/null \
      | python3 -c 'import json,sys
try: o = json.load(sys.stdin)
except ValueError: sys.exit()
st = o.get("status") or {}
c = ",".join("%s=%s" % (x["type"], x["status"]) + ("(%s)" % x["reason"] if x.get("reason") else "") for x in st.get("conditions", []))
n = sum(1 for x in st.get("connectors", []) if x["connector"]["state"] == "RUNNING")
print("%-18s spec.replicas=%s status: %s replicas=%s connectors RUNNING %d/%d generation %s observed %s" % (
    sys.argv[1] + "/kafka/mm2", o["spec"].get("replicas"), c or "-", st.get("replicas"), n,
    len(st.get("connectors", [])), o["metadata"].get("generation"), st.get("observedGeneration")))' "$side" || true
  done
  echo "kubeconfig: $KUBECONFIG_FILE"
  return $ok
}

kube_fault() {
  [[ $# -eq 1 ]] || die "usage: scripts/lab kube fault NAME|clear|list (NAME: ${KUBE_FAULTS[*]})"
  mkdir -p "$KSTATE"
  case "$1" in
    clear) : >"$FAULTS_FILE"; log "faults cleared" ;;
    list) cat "$FAULTS_FILE" 2>/dev/null || true ;;
    *)
      local f ok=0
      for f in "${KUBE_FAULTS[@]}"; do [[ "$1" == "$f" ]] && ok=1; done
      (( ok )) || die "unknown fault '$1' (faults: ${KUBE_FAULTS[*]}, clear, list)"
      grep -qxF "$1" "$FAULTS_FILE" 2>/dev/null || echo "$1" >>"$FAULTS_FILE"
      log "fault $1 set (the bridge acts on it within ~1s; scripts/lab kube fault clear)" ;;
  esac
}

kube_main() {
  local sub="${1:-}"; shift || true
  case "$sub" in
    build) ensure_kube_bins; ensure_crds; log "binaries in $KUBE_BIN, CRDs in $CRDS_DIR/crds.jsonl" ;;
    up) [[ $# -eq 0 ]] || die "usage: scripts/lab kube up"; kube_up ;;
    down) kube_down "$@" ;;
    status) kube_status ;;
    env) cat "$KSTATE/kube.env" 2>/dev/null || die "no $KSTATE/kube.env: run scripts/lab kube up" ;;
    fault) kube_fault "$@" ;;
    *) die "usage: scripts/lab kube build|up|down [--purge]|status|env|fault NAME" ;;
  esac
}
