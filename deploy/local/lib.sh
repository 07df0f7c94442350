# Shared shell helpers for deploy/local/stack, its service plug-ins and install-deps.
# Source it (it sets no shell options and runs nothing); every helper is a short function.
# shellcheck shell=bash

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# All state (data, logs, pids, downloaded jars) lives here; git-ignored.
# shellcheck disable=SC2034  # used by the scripts that source this file
STACK_STATE=${STACK_STATE_DIR:-$STACK_ROOT/.stack}

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }
die() { warn "error: $*"; exit 1; }

# Run a command as root: directly when root, through sudo when that exists.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

# pid_alive PIDFILE PATTERN: print the pid if it runs and its command line holds PATTERN (what we
# started). A pid that runs something else (the pid was reused) is never ours to signal: the stale
# pid file is dropped, with a message on stderr.
pid_alive() {
  local pidfile=$1 pattern=$2 pid
  [[ -n $pattern ]] || die "pid_alive $pidfile: no command-line pattern to check the process by"
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"; then
    warn "$pidfile: pid $pid runs something else (no '$pattern' in its command line); dropping the stale pid file"
    rm -f "$pidfile"
    return 1
  fi
  say "$pid"
}

# port_open HOST PORT: true when something accepts a TCP connection there.
port_open() {
  # shellcheck disable=SC2016  # expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# http_status HOST PORT METHOD PATH: print the HTTP status code of one request (bash only, no curl).
http_status() {
  # shellcheck disable=SC2016  # the inner bash expands them
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "%s %s HTTP/1.0\r\nHost: %s:%s\r\nContent-Length: 0\r\n\r\n" "$2" "$3" "$0" "$1" >&3
    read -r _ code _ <&3 && printf "%s\n" "$code"' "$@" 2>/dev/null
}

# start_daemon PIDFILE LOGFILE CMD...: run CMD detached in its own session; the pid goes to PIDFILE.
start_daemon() {
  local pidfile=$1 logfile=$2 i
  shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016  # expanded by the inner bash
  # 9>&- : the daemon must not inherit the stack's lock (see take_lock in stack).
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  for ((i = 0; i < 50; i++)); do
    [[ -s $pidfile ]] && return 0
    sleep 0.1
  done
  warn "no pid file $pidfile after 5 s"
  return 1
}

# stop_pid PID NAME [GRACE_SECONDS]: SIGTERM, wait up to GRACE_SECONDS, then SIGKILL.
stop_pid() {
  local pid=$1 name=$2 grace=${3:-30} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  warn "$name (pid $pid) still runs after ${grace}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
}

# seconds_since EPOCHREALTIME_VALUE: elapsed seconds with one decimal.
seconds_since() {
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

# show_log_tail FILE [LINES]: the end of a log, for a failure message.
show_log_tail() {
  local file=$1 lines=${2:-40}
  [[ -f $file ]] || return 0
  warn "---- last $lines lines of $file ----"
  tail -n "$lines" "$file" >&2
  warn "----"
}

# wait_ready NAME PID TIMEOUT WHERE [INTERVAL]: poll NAME_answers until it answers; fail early if
# PID dies or after TIMEOUT seconds.
wait_ready() {
  local name=$1 pid=$2 timeout=$3 where=$4 interval=${5:-0.3}
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || { warn "$name: the process exited during start-up"; return 1; }
    "${name}_answers" && return 0
    sleep "$interval"
  done
  warn "$name: not ready on $where after ${timeout}s"
  return 1
}

# launch NAME TIMEOUT WHERE PIDFILE LOG CMD...: start CMD as NAME's daemon and wait until it
# answers; when it does not, show the end of LOG, stop it and fail.
launch() {
  local name=$1 timeout=$2 where=$3 pidfile=$4 log=$5
  shift 5
  if ! start_daemon "$pidfile" "$log" "$@" || ! wait_ready "$name" "$(<"$pidfile")" "$timeout" "$where"; then
    show_log_tail "$log" 30
    "${name}_stop" >/dev/null
    return 1
  fi
}

# stop_service NAME PIDFILE GRACE_SECONDS: stop the process NAME_pid finds; drop its pid file.
stop_service() {
  local name=$1 pidfile=$2 grace=$3 pid
  if ! pid=$("${name}_pid"); then
    rm -f "$pidfile"
    say "$name: not running"
    return 0
  fi
  stop_pid "$pid" "$name" "$grace"
  rm -f "$pidfile"
  say "$name: stopped (pid $pid)"
}

# service_status NAME WHERE LOG: one line on whether NAME runs and answers; false when it does not.
service_status() {
  local name=$1 where=$2 log=$3 pid
  if ! pid=$("${name}_pid"); then
    say "$name: stopped"
    return 1
  fi
  if "${name}_answers"; then
    say "$name: running (pid $pid), answers on $where"
  else
    say "$name: running (pid $pid) but does not answer on $where; see $log"
    return 1
  fi
}
