# Prometheus plug-in for deploy/local/stack: Debian's Prometheus (2.42) with the project's rules.
# Sourced after lib.sh; defines prometheus_start, prometheus_stop, prometheus_status (see the
# contract in stack).
#
# It runs deploy/prometheus/prometheus.local.yml, rendered into .stack/prometheus/prometheus.yml
# with only paths and ports filled in, and the rule files deploy/prometheus/rules/*.yml in place.
# Scrape targets for the detector and the producer are file_sd files in .stack/prometheus/targets/:
# detector.json and producer.json are written on every start from PROMETHEUS_DETECTOR_TARGETS
# (default 127.0.0.1:8000) and PROMETHEUS_PRODUCER_TARGETS (default 127.0.0.1:8001), space or
# comma separated; set one to the empty string for no default target. Other files named
# detector*.json or producer*.json there (e.g. from a test) are scraped too, without a restart.
# `stack up prometheus` while it runs re-renders the configuration and reloads it with the rules
# (SIGHUP to the pid it checked is ours; the HTTP lifecycle API stays off).
# shellcheck shell=bash

PROMETHEUS_BIN=${PROMETHEUS_BIN:-prometheus}
PROMETHEUS_HOST=${PROMETHEUS_HOST:-127.0.0.1}
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
PROMETHEUS_RETENTION=${PROMETHEUS_RETENTION:-7d}
PROMETHEUS_START_TIMEOUT=${PROMETHEUS_START_TIMEOUT:-60}
PROMETHEUS_DETECTOR_TARGETS=${PROMETHEUS_DETECTOR_TARGETS-127.0.0.1:8000}
PROMETHEUS_PRODUCER_TARGETS=${PROMETHEUS_PRODUCER_TARGETS-127.0.0.1:8001}
PROMETHEUS_SOURCE=$STACK_ROOT/deploy/prometheus/prometheus.local.yml
PROMETHEUS_RULES=$STACK_ROOT/deploy/prometheus/rules
PROMETHEUS_DIR=$STACK_STATE/prometheus
PROMETHEUS_CONF=$PROMETHEUS_DIR/prometheus.yml
PROMETHEUS_TARGETS=$PROMETHEUS_DIR/targets
PROMETHEUS_PIDFILE=$PROMETHEUS_DIR/prometheus.pid
PROMETHEUS_LOG=$PROMETHEUS_DIR/prometheus.log
PROMETHEUS_URL=http://$PROMETHEUS_HOST:$PROMETHEUS_PORT
# Where the rendered configuration sends alerts (the same variables as services/alertmanager.sh).
PROMETHEUS_ALERTMANAGER=${ALERTMANAGER_HOST:-127.0.0.1}:${ALERTMANAGER_PORT:-9093}

# prometheus_http METHOD PATH: print the HTTP status code of one request.
prometheus_http() { http_status "$PROMETHEUS_HOST" "$PROMETHEUS_PORT" "$1" "$2"; }

# prometheus_metric NAME: the value of one of Prometheus's own metrics (bash only, no curl).
prometheus_metric() {
  # shellcheck disable=SC2016  # the inner bash expands them
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET /metrics HTTP/1.0\r\nHost: %s:%s\r\n\r\n" "$0" "$1" >&3
    cat <&3' "$PROMETHEUS_HOST" "$PROMETHEUS_PORT" 2>/dev/null |
    awk -v name="$1" '$1 == name { v = $2 } END { if (v != "") print v }'
}

# prometheus_reload PID: reload the configuration and rules with SIGHUP (the lifecycle API, which
# would let anyone who reaches the port reload or stop Prometheus, stays off); wait until
# Prometheus reports a successful reload at or after the signal.
prometheus_reload() {
  local pid=$1 since deadline=$((SECONDS + 30)) stamp
  since=$(date +%s)
  kill -HUP "$pid" || return 1
  while ((SECONDS < deadline)); do
    stamp=$(prometheus_metric prometheus_config_last_reload_success_timestamp_seconds)
    if [[ -n $stamp ]] && awk -v t="$stamp" -v s="$since" 'BEGIN { exit !(t + 0 >= s + 0) }'; then
      [[ $(prometheus_metric prometheus_config_last_reload_successful) == 1 ]]
      return
    fi
    sleep 0.3
  done
  return 1
}

# Prometheus answers that it is ready to serve queries.
prometheus_answers() {
  [[ $(prometheus_http GET /-/ready) == 200 ]]
}

# The pid of this checkout's Prometheus, if it runs.
prometheus_pid() {
  pid_alive "$PROMETHEUS_PIDFILE" "--config.file=$PROMETHEUS_CONF"
}

# prometheus_write_targets NAME "HOST:PORT ...": write targets/NAME.json atomically (or remove it).
prometheus_write_targets() {
  local name=$1 file=$PROMETHEUS_TARGETS/$1.json target quoted=()
  for target in ${2//,/ }; do
    [[ $target =~ ^[A-Za-z0-9._-]+:[0-9]+$ ]] ||
      die "prometheus: bad $name target '$target' (want HOST:PORT); fix PROMETHEUS_${name^^}_TARGETS"
    quoted+=("\"$target\"")
  done
  if ((${#quoted[@]} == 0)); then
    rm -f "$file"
    return 0
  fi
  printf '[{"targets": [%s]}]\n' "$(IFS=,; printf '%s' "${quoted[*]}")" >"$file.tmp"
  mv -f "$file.tmp" "$file"
}

# Render prometheus.local.yml: absolute rule path, targets folder and ports; nothing else changes.
prometheus_render_config() {
  local rendered
  [[ -f $PROMETHEUS_SOURCE ]] || die "prometheus: no $PROMETHEUS_SOURCE"
  rendered=$(sed -e "s#^\(  - \)rules/\*\.yml\$#\1\"$PROMETHEUS_RULES/*.yml\"#" \
    -e "s#\.\./\.\./\.stack/prometheus/targets/#$PROMETHEUS_TARGETS/#" \
    -e "s#\"127\.0\.0\.1:9093\"#\"$PROMETHEUS_ALERTMANAGER\"#" \
    -e "s#\"127\.0\.0\.1:9090\"#\"$PROMETHEUS_HOST:$PROMETHEUS_PORT\"#" "$PROMETHEUS_SOURCE")
  if ! grep -qF "\"$PROMETHEUS_RULES/*.yml\"" <<<"$rendered" || grep -qF '../../.stack' <<<"$rendered"; then
    die "prometheus: $PROMETHEUS_SOURCE no longer has the paths this script renders (rules/*.yml, ../../.stack/prometheus/targets/)"
  fi
  printf '# Rendered from %s by deploy/local/services/prometheus.sh; edit that file instead.\n%s\n' \
    "$PROMETHEUS_SOURCE" "$rendered" >"$PROMETHEUS_CONF"
}

# Write the configuration and the default targets, and check them with promtool.
prometheus_prepare() {
  command -v "$PROMETHEUS_BIN" >/dev/null || die "prometheus is missing: run deploy/local/install-deps"
  mkdir -p "$PROMETHEUS_DIR/data" "$PROMETHEUS_TARGETS"
  prometheus_write_targets detector "$PROMETHEUS_DETECTOR_TARGETS"
  prometheus_write_targets producer "$PROMETHEUS_PRODUCER_TARGETS"
  prometheus_render_config
  if command -v promtool >/dev/null; then
    local out
    out=$(promtool check config "$PROMETHEUS_CONF" 2>&1) ||
      { warn "$out"; die "prometheus: the configuration or the rules are invalid (see above)"; }
  fi
}

prometheus_start() {
  local pid t0=$EPOCHREALTIME
  prometheus_prepare
  if pid=$(prometheus_pid); then
    wait_ready prometheus "$pid" "$PROMETHEUS_START_TIMEOUT" "$PROMETHEUS_URL" || return 1
    prometheus_reload "$pid" ||
      { show_log_tail "$PROMETHEUS_LOG" 20; warn "prometheus: reload failed"; return 1; }
    say "prometheus: already running (pid $pid) on $PROMETHEUS_URL; configuration and rules reloaded"
    return 0
  fi
  if port_open "$PROMETHEUS_HOST" "$PROMETHEUS_PORT"; then
    die "prometheus: $PROMETHEUS_HOST:$PROMETHEUS_PORT is in use by another process (Debian's prometheus service?); stop it or set PROMETHEUS_PORT"
  fi
  say "prometheus: starting $("$PROMETHEUS_BIN" --version 2>&1 | head -n 1 | cut -d' ' -f1-3) on $PROMETHEUS_URL (log $PROMETHEUS_LOG)"
  launch prometheus "$PROMETHEUS_START_TIMEOUT" "$PROMETHEUS_URL" "$PROMETHEUS_PIDFILE" \
    "$PROMETHEUS_LOG" "$PROMETHEUS_BIN" \
    --config.file="$PROMETHEUS_CONF" \
    --storage.tsdb.path="$PROMETHEUS_DIR/data" \
    --storage.tsdb.retention.time="$PROMETHEUS_RETENTION" \
    --web.listen-address="$PROMETHEUS_HOST:$PROMETHEUS_PORT" \
    --web.external-url="$PROMETHEUS_URL" || return 1
  pid=$(<"$PROMETHEUS_PIDFILE")
  say "prometheus: up on $PROMETHEUS_URL (pid $pid) after $(seconds_since "$t0")s"
}

prometheus_stop() { stop_service prometheus "$PROMETHEUS_PIDFILE" 30; }

prometheus_status() { service_status prometheus "$PROMETHEUS_URL" "$PROMETHEUS_LOG"; }
