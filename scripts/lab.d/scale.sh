# shellcheck shell=bash
# Extra brokers for measuring kdrill at production scale (scripts/lab scale).
#
# A Kafka broker keeps one open file per partition it leads (its active log
# segment), and a lab machine may allow a process only ~20,000 (`ulimit -n`,
# which an unprivileged lab cannot raise): 100,000 partitions need a cluster
# of several brokers. `scale up N` adds broker-only nodes 2..N to each
# cluster's KRaft quorum (plaintext listener only, the same authorizer);
# `scale down` stops them, unregisters them and deletes their data. Bench
# topics are spread over every broker; the lab's own topics stay on node 1.

# Extra broker K of SIDE listens on PORT[SIDE] + 50 + K: clear of every other
# lab port and of a second lab shifted by a multiple of 100.
scale_port() { echo $(( ${PORT[$1]} + 50 + $2 )); }
JVM_SCALE_BROKER=(-Xms256m -Xmx1g)
SCALE_MAX=9

scale_brokers() {  # SIDE: the extra broker numbers that have a data dir
  local d
  for d in "$STATE/$1"/scale-*; do [[ -d "$d" ]] && echo "${d##*scale-}"; done | sort -n
}

scale_start() {  # SIDE K
  local side="$1" k="$2" name="broker-$1-$2" port dir props
  port="$(scale_port "$side" "$k")"
  dir="$STATE/$side/scale-$k" props="$CONF/broker-$side-$k.properties"
  alive "$name" && return 0
  port_open "$port" && die "port 127.0.0.1:$port is taken by a process this lab did not start"
  [[ -f "$STATE/$side/cluster.id" ]] || die "cluster $side was never formatted: run scripts/lab up first"
  mkdir -p "$dir/data" "$CONF"
  {
    echo "# Broker-only node $k of cluster $side (scripts/lab scale): joins node 1's quorum."
    echo "process.roles=broker"
    echo "node.id=$k"
    echo "controller.quorum.bootstrap.servers=127.0.0.1:${CPORT[$side]}"
    echo "listeners=PLAINTEXT://127.0.0.1:$port"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$port"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "controller.listener.names=CONTROLLER"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    echo "allow.everyone.if.no.acl.found=true"
    echo "super.users=User:ANONYMOUS"
    echo "log.dirs=$dir/data"
    echo "auto.create.topics.enable=false"
    echo "num.partitions=1"
    echo "default.replication.factor=1"
    echo "min.insync.replicas=1"
    # The same internal topic sizes as node 1: a group's coordinator leads
    # partition hash(group) % the partitions of __consumer_offsets, which a
    # broker counts from the topic if it exists when the broker starts and
    # from its own config otherwise; one that counted Kafka's default of 50
    # where the topic has 1 would answer NOT_COORDINATOR for most groups.
    echo "offsets.topic.replication.factor=1"
    echo "offsets.topic.num.partitions=1"
    echo "transaction.state.log.replication.factor=1"
    echo "transaction.state.log.min.isr=1"
    echo "transaction.state.log.num.partitions=1"
    echo "share.coordinator.state.topic.replication.factor=1"
    echo "share.coordinator.state.topic.min.isr=1"
    echo "share.coordinator.state.topic.num.partitions=1"
    echo "group.initial.rebalance.delay.ms=0"
    echo "log.segment.bytes=16777216"
  } >"$props"
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    run_tool_class kafka.tools.StorageTool format -t="$(cat "$STATE/$side/cluster.id")" -c "$props" \
      >"$LOGS/format-$side-$k.log" 2>&1 || die "formatting broker $side-$k failed, see $LOGS/format-$side-$k.log"
  fi
  java_cmd "$name" "${JVM_SCALE_BROKER[@]}" -Dkdrill.log.level=WARN -- kafka.Kafka "$props"
  spawn "$name" "${CMD[@]}"
  log "started $name (pid $(cat "$RUN/$name.pid")) on 127.0.0.1:$port, log $LOGS/$name.log"
  local deadline=$(( $(now) + WAIT_BROKER ))
  until port_open "$port" && grep -q "Kafka Server started" "$LOGS/$name.log" 2>/dev/null; do
    alive "$name" || die "broker $side-$k exited during start-up; read $LOGS/$name.log"
    (( $(now) < deadline )) || die "broker $side-$k not ready after ${WAIT_BROKER}s; read $LOGS/$name.log"
    sleep 0.3
  done
}

scale_up() {  # N: brokers per cluster, node 1 included
  local n="$1" side k pids=() failed=0
  [[ "$n" =~ ^[0-9]+$ ]] && (( n >= 2 && n <= SCALE_MAX )) || die "usage: scripts/lab scale up N (2..$SCALE_MAX brokers per cluster)"
  for side in dc dr; do
    alive "broker-$side" || die "broker $side is not running: scripts/lab up first"
  done
  ensure_jars
  # Formatting is a JVM start each: all in parallel, then the brokers.
  for side in dc dr; do
    for (( k = 2; k <= n; k++ )); do ( scale_start "$side" "$k" ) & pids+=($!); done
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  (( failed == 0 )) || die "an extra broker did not come up (see the messages above)"
  log "scale: $n brokers per cluster (extra ones on 127.0.0.1:$(scale_port dc 2).. and $(scale_port dr 2)..)"
}

scale_down() {
  local side k
  for side in dc dr; do
    for k in $(scale_brokers "$side"); do stop_proc "broker-$side-$k" TERM & done
  done
  wait
  for side in dc dr; do
    for k in $(scale_brokers "$side"); do
      # A stopped broker stays registered (fenced) until told otherwise.
      if alive "broker-$side"; then
        run_tool_class org.apache.kafka.tools.ClusterTool unregister \
          --bootstrap-server "127.0.0.1:${PORT[$side]}" --id "$k" >/dev/null 2>&1 \
          || log "could not unregister node $k of $side (already gone?)"
      fi
      rm -rf "$STATE/$side/scale-$k" "$CONF/broker-$side-$k.properties"
    done
  done
  log "scale: back to one broker per cluster"
}

scale_main() {
  case "${1:-}" in
    up) [[ $# -eq 2 ]] || die "usage: scripts/lab scale up N"; with_lock; scale_up "$2" ;;
    down) [[ $# -eq 1 ]] || die "usage: scripts/lab scale down"; with_lock; scale_down ;;
    *) die "usage: scripts/lab scale up N|down" ;;
  esac
}
