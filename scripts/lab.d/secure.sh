# The lab's SASL_SSL listener, wired as production is: SCRAM-SHA-512 over
# TLS, one lab CA per cluster, users kdrill, mm2 and app. It runs BESIDE the
# plaintext listener on every broker, so nothing plaintext changes.
# Sourced by scripts/lab; needs STATE, OFF, LOGS, run_tool_class, log, die.

declare -A SPORT=([dc]=$((19094 + OFF)) [dr]=$((29094 + OFF)))  # SASL_SSL listeners
SECURE="$STATE/secure"         # CAs, broker key stores, password files
SCRAM_MECHANISM=SCRAM-SHA-512
SCRAM_USERS=(kdrill mm2 app)

# One password per user, the same on both clusters, random per lab (kept
# across restarts: it lives in the state dir). Alphanumeric: it is written
# into `--add-scram` and `--add-config` arguments.
secure_passwords() {
  mkdir -p "$SECURE"; chmod 700 "$SECURE"
  local u f
  for u in "${SCRAM_USERS[@]}"; do
    f="$SECURE/$u.password"
    [[ -s "$f" ]] && continue
    local tmp="$f.tmp.$BASHPID"
    (umask 077; python3 -c 'import secrets,string; a=string.ascii_letters+string.digits; print("".join(secrets.choice(a) for _ in range(24)), end="")' >"$tmp")
    mv -f "$tmp" "$f"
  done
}

# The CA of SIDE and the broker's certificate signed by it (SAN IP:127.0.0.1
# only: a client that names the broker "localhost" sees a hostname mismatch,
# which the tests rely on). EC keys: openssl makes them in milliseconds.
# The broker reads its key and chain from one PEM file (ssl.keystore.type=PEM).
secure_certs() {
  local side="$1" d="$SECURE"
  [[ -s "$d/broker-$side.keystore.pem" ]] && return 0
  mkdir -p "$d"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  {
    openssl req -x509 "${ec[@]}" -keyout "$d/ca-$side.key" -out "$d/ca-$side.pem" \
      -days 3650 -subj "/CN=kdrill lab $side CA" \
      && openssl req "${ec[@]}" -keyout "$d/broker-$side.key" -out "$d/broker-$side.csr" \
        -subj "/CN=127.0.0.1/O=kdrill lab $side" \
      && printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/broker-$side.ext" \
      && openssl x509 -req -in "$d/broker-$side.csr" -CA "$d/ca-$side.pem" -CAkey "$d/ca-$side.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 825 -extfile "$d/broker-$side.ext" -out "$d/broker-$side.pem"
  } >"$LOGS/certs-$side.log" 2>&1 || die "making the $side lab CA and broker certificate failed, see $LOGS/certs-$side.log"
  cat "$d/broker-$side.key" "$d/broker-$side.pem" >"$d/broker-$side.keystore.pem.tmp"
  mv -f "$d/broker-$side.keystore.pem.tmp" "$d/broker-$side.keystore.pem"
  log "made lab CA and broker certificate for $side in $d"
}

# Everything the broker of SIDE needs before it is formatted and started.
secure_prepare() {
  secure_passwords
  secure_certs "$1"
}

# `StorageTool format` arguments that create every lab user at format time.
secure_format_args() {
  local u
  for u in "${SCRAM_USERS[@]}"; do
    printf '%s\n' "--add-scram" "$SCRAM_MECHANISM=[name=$u,password=$(cat "$SECURE/$u.password")]"
  done
}

# A data dir formatted before the secure listener existed has no users:
# create them once through the plaintext listener (idempotent, marked).
secure_users_ensure() {
  local side="$1" marker_file="$STATE/$1/scram.created" u
  [[ -f "$marker_file" ]] && return 0
  for u in "${SCRAM_USERS[@]}"; do
    run_tool_class kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:${PORT[$side]}" --alter \
      --entity-type users --entity-name "$u" \
      --add-config "$SCRAM_MECHANISM=[password=$(cat "$SECURE/$u.password")]" \
      >>"$LOGS/scram-$side.log" 2>&1 || die "creating SCRAM user $u on $side failed, see $LOGS/scram-$side.log"
  done
  touch "$marker_file"
  log "created SCRAM users ${SCRAM_USERS[*]} on $side"
}

# The secure listener answers: its port is open (the broker opens every
# listener before it logs "Kafka Server started"). A broker still running
# with a configuration from before this listener existed is judged as before.
secure_ready() {
  grep -q '^listeners=.*SASL_SSL' "$CONF/broker-$1.properties" 2>/dev/null || return 0
  port_open "${SPORT[$1]}"
}

secure_env() {
  # Brokers still running with a configuration from before the secure
  # listener have none: say nothing of it (tests then ask for a restart).
  local side
  for side in dc dr; do
    grep -q '^listeners=.*SASL_SSL' "$CONF/broker-$side.properties" 2>/dev/null || return 0
  done
  cat <<EOF
KDRILL_LAB_DC_SECURE_BOOTSTRAP=127.0.0.1:${SPORT[dc]}
KDRILL_LAB_DR_SECURE_BOOTSTRAP=127.0.0.1:${SPORT[dr]}
KDRILL_LAB_DC_CA_FILE=$SECURE/ca-dc.pem
KDRILL_LAB_DR_CA_FILE=$SECURE/ca-dr.pem
KDRILL_LAB_SCRAM_MECHANISM=$SCRAM_MECHANISM
KDRILL_LAB_KDRILL_PASSWORD_FILE=$SECURE/kdrill.password
KDRILL_LAB_MM2_PASSWORD_FILE=$SECURE/mm2.password
KDRILL_LAB_APP_PASSWORD_FILE=$SECURE/app.password
EOF
}

# ---------------------------------------------------------------- clients
# MM2 and the sample app connect as production's do: SCRAM-SHA-512 over TLS,
# each as its own user, trusting only the CA of the cluster it talks to.

secure_bootstrap() { echo "127.0.0.1:${SPORT[$1]}"; }

# The secrets MM2's Connect worker reads through Kafka's FileConfigProvider
# (as Strimzi mounts them): worker and connector configurations, and so the
# config topic kdrill reads, hold a reference, never the password.
secure_mm2_secrets() {
  local f="$SECURE/mm2-client.properties" tmp="$SECURE/mm2-client.properties.tmp.$BASHPID" pw
  pw="$(cat "$SECURE/mm2.password")"
  (umask 077
    printf 'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="mm2" password="%s";\n' \
      "$pw" >"$tmp") && mv -f "$tmp" "$f"
}

# Java client properties reaching SIDE as mm2, each key behind PREFIX.
secure_java_client() {  # secure_java_client SIDE PREFIX
  local side="$1" p="$2"
  cat <<EOF2
${p}security.protocol=SASL_SSL
${p}sasl.mechanism=$SCRAM_MECHANISM
${p}sasl.jaas.config=\${file:$SECURE/mm2-client.properties:sasl.jaas.config}
${p}ssl.truststore.type=PEM
${p}ssl.truststore.location=$SECURE/ca-$side.pem
EOF2
}

# The worker's own clients (its group and internal topics) and those it
# gives tasks (the producer of every source task, admin, consumer), on the
# target cluster.
secure_worker_props() {  # secure_worker_props TARGET
  printf '%s\n' "# SCRAM-SHA-512 over TLS as user mm2 (scripts/lab.d/secure.sh)" \
    "config.providers=file" \
    "config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider"
  local p
  for p in "" producer. consumer. admin.; do secure_java_client "$1" "$p"; done
}

# Adds to a connector's JSON configuration the security of every cluster it
# names (source.cluster., target.cluster., producer.override.), each found
# by its bootstrap address.
secure_connector() {  # secure_connector FILE
  python3 - "$1" "$(secure_bootstrap dc)" "$(secure_bootstrap dr)" \
    "$(secure_java_client dc @)" "$(secure_java_client dr @)" <<'PY'
import json, sys
path, boot_dc, boot_dr, props_dc, props_dr = sys.argv[1:]
sides = {boot_dc: props_dc, boot_dr: props_dr}
cfg = json.load(open(path))
for prefix in ("source.cluster.", "target.cluster.", "producer.override."):
    props = sides.get(cfg.get(prefix + "bootstrap.servers"))
    if props is None:
        continue
    for line in props.splitlines():
        key, value = line.split("=", 1)
        cfg[key.replace("@", prefix, 1)] = value
with open(path + ".tmp", "w") as f:
    json.dump(cfg, f, indent=2)
PY
  mv -f "$1.tmp" "$1"
}

# librdkafka properties for the sample app on SIDE, as user app.
secure_app_config() {  # secure_app_config SIDE FILE
  local tmp="$2.tmp.$BASHPID" pw
  pw="$(cat "$SECURE/app.password")"
  (umask 077
    printf '%s\n' "security.protocol=SASL_SSL" "sasl.mechanisms=$SCRAM_MECHANISM" "sasl.username=app" \
      "sasl.password=$pw" "ssl.ca.location=$SECURE/ca-$1.pem" >"$tmp") && mv -f "$tmp" "$2"
}
