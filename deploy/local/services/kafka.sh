# Kafka plug-in for deploy/local/stack: the real Apache Kafka broker, KRaft, one node that is both
# broker and controller, run from the jars that deploy/kafka/pom.xml fetches from Maven Central.
# Sourced after lib.sh; defines kafka_start, kafka_stop, kafka_status (see the contract in stack).
# shellcheck shell=bash

KAFKA_POM=$STACK_ROOT/deploy/kafka/pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")
KAFKA_LIBS=${KAFKA_LIBS_DIR:-$STACK_STATE/lib/kafka-$KAFKA_VERSION}
KAFKA_HOST=${KAFKA_HOST:-127.0.0.1}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
KAFKA_DIR=$STACK_STATE/kafka
KAFKA_PIDFILE=$KAFKA_DIR/kafka.pid
KAFKA_CONF=$KAFKA_DIR/server.properties
KAFKA_CONSOLE_LOG=$KAFKA_DIR/logs/console.log
KAFKA_SERVER_LOG=$KAFKA_DIR/logs/server.log
KAFKA_SECURE=${KAFKA_SECURE:-0}
if [[ $KAFKA_SECURE == 1 ]]; then
  # shellcheck source=deploy/local/kafka-secure.sh
  source "$STACK_ROOT/deploy/local/kafka-secure.sh"
  KAFKA_PIDFILE=$KAFKA_DIR/kafka.pid
  KAFKA_CONF=$KAFKA_DIR/server.properties
  KAFKA_CONSOLE_LOG=$KAFKA_DIR/logs/console.log
  KAFKA_SERVER_LOG=$KAFKA_DIR/logs/server.log
fi
KAFKA_BOOTSTRAP=$KAFKA_HOST:$KAFKA_PORT

# --- the jars ------------------------------------------------------------------------------

# The jars are there and were fetched with the current pom.
kafka_libs_ready() {
  [[ -f $KAFKA_LIBS/.complete ]] && [[ $(<"$KAFKA_LIBS/.complete") == "$(sha256sum <"$KAFKA_POM")" ]]
}

# Fetch the broker's jars from Maven Central into $KAFKA_LIBS (quick when ~/.m2 has them).
kafka_fetch_libs() {
  command -v mvn >/dev/null || die "maven is missing: run deploy/local/install-deps"
  say "kafka: fetching Kafka $KAFKA_VERSION jars with Maven into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"
  mvn -q -B -Dstyle.color=never -f "$KAFKA_POM" -Dkafka.libs.dir="$KAFKA_LIBS" package || die "maven could not fetch Kafka's jars"
  sha256sum <"$KAFKA_POM" >"$KAFKA_LIBS/.complete"
}

# Java 17 or newer is on the PATH.
kafka_check_java() {
  local major
  command -v java >/dev/null || die "java is missing: run deploy/local/install-deps"
  major=$(java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1)
  [[ ${major:-0} -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17 or newer, found '${major:-none}'"
}

# Run a Kafka tool class (storage format, topics ...) with quiet logging.
kafka_tool() {
  java -Xmx256m -Dlog4j2.configurationFile="$KAFKA_DIR/tools-log4j2.properties" \
    -cp "$KAFKA_LIBS/*" "$@"
}

# --- configuration -------------------------------------------------------------------------

# Write server.properties and the log4j2 files; rewritten on every start so env overrides apply.
kafka_write_config() {
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  cat >"$KAFKA_CONF" <<EOF
# Written by deploy/local/stack on every start; edit services/kafka.sh instead.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
$(kafka_listeners)
log.dirs=$KAFKA_DIR/data
# Small single-node test box.
num.network.threads=2
num.io.threads=4
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=104857600
EOF
  kafka_write_log4j "$KAFKA_DIR/log4j2.properties" INFO "appender.out.type = RollingFile
appender.out.fileName = \${sys:kafka.logs.dir}/server.log
appender.out.filePattern = \${sys:kafka.logs.dir}/server.log.%i
appender.out.policies.type = Policies
appender.out.policies.size.type = SizeBasedTriggeringPolicy
appender.out.policies.size.size = 10MB
appender.out.strategy.type = DefaultRolloverStrategy
appender.out.strategy.max = 3"
  kafka_write_log4j "$KAFKA_DIR/tools-log4j2.properties" WARN "appender.out.type = Console
appender.out.target = SYSTEM_ERR"
}

# The listener lines of server.properties (plaintext, or the secured set of kafka-secure.sh).
kafka_listeners() {
  if [[ $KAFKA_SECURE == 1 ]]; then kafka_secure_config; return; fi
  cat <<EOF
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
EOF
}

# kafka_write_log4j FILE LEVEL APPENDER_LINES: a Log4j 2 config with one appender named out.
kafka_write_log4j() {
  cat >"$1" <<EOF
status = warn
appender.out.name = out
$3
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = $2
rootLogger.appenderRef.out.ref = out
EOF
}

# Format the storage once, with a fresh cluster id (22 chars of URL-safe base64, as Kafka's).
kafka_format_storage() {
  [[ -f $KAFKA_DIR/data/meta.properties ]] && return 0
  local id=-
  while [[ $id == -* ]]; do  # a leading "-" reads as an option; Kafka's own ids avoid it too
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  say "kafka: formatting storage in $KAFKA_DIR/data (cluster id $id)"
  local scram=()
  [[ $KAFKA_SECURE == 1 ]] && mapfile -t scram < <(kafka_secure_scram_args)
  kafka_tool kafka.tools.StorageTool format -t "$id" -c "$KAFKA_CONF" "${scram[@]}" \
    >>"$KAFKA_CONSOLE_LOG" 2>&1 ||
    { show_log_tail "$KAFKA_CONSOLE_LOG" 20; die "kafka: storage format failed"; }
}

# --- probes --------------------------------------------------------------------------------

# The pid of this checkout's broker, if it runs.
kafka_pid() {
  pid_alive "$KAFKA_PIDFILE" "kafka.Kafka $KAFKA_CONF"
}

# The broker accepts a connection and answers a metadata request.
kafka_answers() {
  port_open "$KAFKA_HOST" "$KAFKA_PORT" || return 1
  if [[ $KAFKA_SECURE == 1 ]]; then kafka_secure_answers; return; fi
  local py=$STACK_ROOT/.venv/bin/python
  if [[ -x $py ]] && "$py" -c 'import kafka' 2>/dev/null; then
    timeout 20 "$py" -c 'import sys; from kafka import KafkaAdminClient as A
a = A(bootstrap_servers=sys.argv[1], request_timeout_ms=5000); a.describe_cluster(); a.close()' \
      "$KAFKA_BOOTSTRAP" >/dev/null 2>&1
  else
    timeout 30 java -Xmx128m -Dlog4j2.level=OFF -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$KAFKA_BOOTSTRAP" --list >/dev/null 2>&1
  fi
}

# Fail when a port we need is held by something that is not this stack's broker.
kafka_check_ports_free() {
  local port
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" ${KAFKA_MTLS_PORT:+"$KAFKA_MTLS_PORT"}; do
    if port_open "$KAFKA_HOST" "$port"; then
      die "kafka: $KAFKA_HOST:$port is in use by another process; stop it or set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
    fi
  done
}

# --- the contract --------------------------------------------------------------------------

kafka_start() {
  local pid t0=$EPOCHREALTIME
  if pid=$(kafka_pid); then
    wait_ready kafka "$pid" "$KAFKA_START_TIMEOUT" "$KAFKA_BOOTSTRAP" 0.5 || return 1
    say "kafka: already running (pid $pid) on $KAFKA_BOOTSTRAP"
    return 0
  fi
  kafka_check_ports_free
  kafka_check_java
  kafka_libs_ready || kafka_fetch_libs
  [[ $KAFKA_SECURE == 1 ]] && kafka_secure_credentials
  kafka_write_config
  kafka_format_storage
  say "kafka: starting Kafka $KAFKA_VERSION on $KAFKA_BOOTSTRAP (logs in $KAFKA_DIR/logs)"
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS holds several JVM flags
  start_daemon "$KAFKA_PIDFILE" "$KAFKA_CONSOLE_LOG" java $KAFKA_HEAP_OPTS \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KAFKA_DIR/logs" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF"
  pid=$(<"$KAFKA_PIDFILE")
  if ! wait_ready kafka "$pid" "$KAFKA_START_TIMEOUT" "$KAFKA_BOOTSTRAP" 0.5; then
    show_log_tail "$KAFKA_CONSOLE_LOG" 20
    show_log_tail "$KAFKA_SERVER_LOG" 40
    kafka_stop >/dev/null
    return 1
  fi
  [[ $KAFKA_SECURE == 1 ]] && kafka_secure_grant
  say "kafka: up on $KAFKA_BOOTSTRAP (pid $pid) after $(seconds_since "$t0")s"
}

kafka_stop() { stop_service kafka "$KAFKA_PIDFILE" 60; }

kafka_status() { service_status kafka "$KAFKA_BOOTSTRAP" "$KAFKA_SERVER_LOG"; }
