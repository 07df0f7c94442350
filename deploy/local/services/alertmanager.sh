# Alertmanager plug-in for deploy/local/stack: Debian's prometheus-alertmanager (0.25), one
# instance (clustering off). Sourced after lib.sh; defines alertmanager_start, alertmanager_stop,
# alertmanager_status (see the contract in stack).
#
# It runs deploy/alertmanager/alertmanager.yml, the file Compose uses, rendered into
# .stack/alertmanager/alertmanager.yml with one change: the webhook URL http://webhook:5001/
# (a host name that exists only on the Compose network) becomes ALERTMANAGER_WEBHOOK_URL, default
# http://127.0.0.1:5001/ (run `python deploy/alertmanager/webhook_log.py --host 127.0.0.1` there,
# or a test's own receiver). `stack up alertmanager` while it runs re-renders and reloads it, so
# ALERTMANAGER_WEBHOOK_URL=http://127.0.0.1:PORT/ deploy/local/stack up alertmanager
# points a running Alertmanager at another receiver.
# shellcheck shell=bash

ALERTMANAGER_BIN=${ALERTMANAGER_BIN:-prometheus-alertmanager}
ALERTMANAGER_HOST=${ALERTMANAGER_HOST:-127.0.0.1}
ALERTMANAGER_PORT=${ALERTMANAGER_PORT:-9093}
ALERTMANAGER_WEBHOOK_URL=${ALERTMANAGER_WEBHOOK_URL:-http://127.0.0.1:5001/}
ALERTMANAGER_START_TIMEOUT=${ALERTMANAGER_START_TIMEOUT:-60}
ALERTMANAGER_SOURCE=$STACK_ROOT/deploy/alertmanager/alertmanager.yml
ALERTMANAGER_COMPOSE_URL=http://webhook:5001/
ALERTMANAGER_DIR=$STACK_STATE/alertmanager
ALERTMANAGER_CONF=$ALERTMANAGER_DIR/alertmanager.yml
ALERTMANAGER_PIDFILE=$ALERTMANAGER_DIR/alertmanager.pid
ALERTMANAGER_LOG=$ALERTMANAGER_DIR/alertmanager.log
ALERTMANAGER_URL=http://$ALERTMANAGER_HOST:$ALERTMANAGER_PORT

# alertmanager_http METHOD PATH: print the HTTP status code of one request.
alertmanager_http() { http_status "$ALERTMANAGER_HOST" "$ALERTMANAGER_PORT" "$1" "$2"; }

# Alertmanager answers that it is ready.
alertmanager_answers() {
  [[ $(alertmanager_http GET /-/ready) == 200 ]]
}

# The pid of this checkout's Alertmanager, if it runs.
alertmanager_pid() {
  pid_alive "$ALERTMANAGER_PIDFILE" "--config.file=$ALERTMANAGER_CONF"
}

# Render alertmanager.yml with only the webhook URL replaced, and check it with amtool.
alertmanager_prepare() {
  command -v "$ALERTMANAGER_BIN" >/dev/null ||
    die "$ALERTMANAGER_BIN is missing: run deploy/local/install-deps"
  local url_re='^https?://[A-Za-z0-9._~:/?=%+@-]+$'  # no '#', '&', quotes or spaces: sed and YAML
  [[ $ALERTMANAGER_WEBHOOK_URL =~ $url_re ]] ||
    die "alertmanager: ALERTMANAGER_WEBHOOK_URL '$ALERTMANAGER_WEBHOOK_URL' is not a plain http(s) URL"
  grep -qF "url: $ALERTMANAGER_COMPOSE_URL" "$ALERTMANAGER_SOURCE" ||
    die "alertmanager: $ALERTMANAGER_SOURCE has no webhook 'url: $ALERTMANAGER_COMPOSE_URL' to point at the local receiver"
  mkdir -p "$ALERTMANAGER_DIR/data"
  {
    printf '# Rendered from %s by deploy/local/services/alertmanager.sh, with only\n' "$ALERTMANAGER_SOURCE"
    printf '# the webhook URL %s replaced by %s. Edit that file instead.\n' \
      "$ALERTMANAGER_COMPOSE_URL" "$ALERTMANAGER_WEBHOOK_URL"
    sed "s#url: $ALERTMANAGER_COMPOSE_URL\$#url: $ALERTMANAGER_WEBHOOK_URL#" "$ALERTMANAGER_SOURCE"
  } >"$ALERTMANAGER_CONF"
  if command -v amtool >/dev/null; then
    local out
    out=$(amtool check-config "$ALERTMANAGER_CONF" 2>&1) ||
      { warn "$out"; die "alertmanager: the configuration is invalid (see above)"; }
  fi
}

alertmanager_start() {
  local pid t0=$EPOCHREALTIME
  alertmanager_prepare
  if pid=$(alertmanager_pid); then
    wait_ready alertmanager "$pid" "$ALERTMANAGER_START_TIMEOUT" "$ALERTMANAGER_URL" || return 1
    [[ $(alertmanager_http POST /-/reload) == 200 ]] ||
      { show_log_tail "$ALERTMANAGER_LOG" 20; warn "alertmanager: reload failed"; return 1; }
    say "alertmanager: already running (pid $pid) on $ALERTMANAGER_URL; configuration reloaded (webhook $ALERTMANAGER_WEBHOOK_URL)"
    return 0
  fi
  if port_open "$ALERTMANAGER_HOST" "$ALERTMANAGER_PORT"; then
    die "alertmanager: $ALERTMANAGER_HOST:$ALERTMANAGER_PORT is in use by another process (Debian's prometheus-alertmanager service?); stop it or set ALERTMANAGER_PORT"
  fi
  say "alertmanager: starting $("$ALERTMANAGER_BIN" --version 2>&1 | head -n 1 | cut -d' ' -f1-3) on $ALERTMANAGER_URL (log $ALERTMANAGER_LOG)"
  launch alertmanager "$ALERTMANAGER_START_TIMEOUT" "$ALERTMANAGER_URL" "$ALERTMANAGER_PIDFILE" \
    "$ALERTMANAGER_LOG" "$ALERTMANAGER_BIN" \
    --config.file="$ALERTMANAGER_CONF" \
    --storage.path="$ALERTMANAGER_DIR/data" \
    --web.listen-address="$ALERTMANAGER_HOST:$ALERTMANAGER_PORT" \
    --web.external-url="$ALERTMANAGER_URL" \
    --cluster.listen-address= || return 1
  pid=$(<"$ALERTMANAGER_PIDFILE")
  say "alertmanager: up on $ALERTMANAGER_URL (pid $pid) after $(seconds_since "$t0")s; webhook $ALERTMANAGER_WEBHOOK_URL"
}

alertmanager_stop() { stop_service alertmanager "$ALERTMANAGER_PIDFILE" 30; }

alertmanager_status() { service_status alertmanager "$ALERTMANAGER_URL" "$ALERTMANAGER_LOG"; }
