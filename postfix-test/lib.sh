# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR
# Sourceable helpers for the authsense Postfix/NSD lab tests.
#
#   source "$(dirname "$0")/lib.sh"
#   LAB_REPORT=counts             # (e2e scripts) a setup failure ends with "N passed, M failed"
#   lab_init                      # scratch dir in $LAB, EXIT trap that stops everything
#   nsd_start 15353               # zones from postfix-test/dns/
#   sink_start 12527 "$LAB/sink" sink.lab.test
#   milter_start milter 18891 --authserv-id mx.lab.test --nameserver 127.0.0.1:15353
#   postfix_write_config "$LAB/pf" 12525 18891 12527
#   postfix_start "$LAB/pf"
#   ...
#   pass_case NAME / fail_case NAME WHY [DETAILS]; lab_summary "$t0"
#
# This file: scratch dir, processes, ports, smtp-sink, authsense, PostgreSQL,
# NATS, the Python harness modules.  Its parts in lib.d/ (sourced below):
#   dns.sh       NSD, Unbound, the never-answering nameserver
#   postfix.sh   private Postfix instances, mailboxes, dual delivery
#   sendmail.sh  a private Sendmail 8.17 (extracted, not installed)
#   cases.sh     PASS/FAIL lines, the logs of a failed run, the summary line
#   mail.sh      case messages, swaks, what arrives at the sink, stamp checks
# The Python half is postfix-test/harness/ (lab_py MODULE ARGS).
#
# Everything listens on 127.0.0.1 only.  Every wait loop is bounded.  Every
# process that is started is recorded and stopped by PID from the EXIT trap
# (lab_cleanup); nothing is killed by name.  The trap removes $LAB, unless
# LAB_KEEP=1.

LAB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=${LAB:-}
LAB_PIDS=()      # "pid:name" of background processes, stopped in reverse order
LAB_PF_BASES=()  # Postfix instances started (stopped with postfix -c ... stop)
LAB_NSD_PIDFILE=""
LAB_PG_DIRS=()   # private PostgreSQL clusters (stopped with postfix-test/pg stop)
LAB_LOGS=()      # log files of what was started, shown by print_logs

lab_log() { printf '%s\n' "lab: $*" >&2; }

# lab_die MSG: log, call the script's lab_on_die hook if it defines one (else,
# with LAB_REPORT set, report the setup failure: lib.d/cases.sh), exit 1.
lab_die() {
    lab_log "FATAL: $*"
    if declare -F lab_on_die >/dev/null; then
        lab_on_die "$*"
    elif [[ -n "${LAB_REPORT:-}" ]]; then
        lab_report_setup_failure "$*"
    fi
    exit 1
}

# lab_require_tools TOOL...: die unless every TOOL can be run.
lab_require_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || lab_die "missing $t: run postfix-test/install-deps"
    done
}

# lab_require_root WHY
lab_require_root() {
    [[ $(id -u) -eq 0 ]] || lab_die "must run as root ($1)"
}

# lab_init: make the scratch directory and install the EXIT trap.
lab_init() {
    LAB=$(mktemp -d "${TMPDIR:-/tmp}/authsense-lab.XXXXXX") || lab_die "mktemp failed"
    # Postfix (user postfix) and smtp-sink (user nobody) must traverse it.
    chmod 755 "$LAB"
    trap lab_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# lab_register_pid PID NAME: stop PID at cleanup.
lab_register_pid() { LAB_PIDS+=("$1:$2"); }

# lab_add_log FILE: show FILE in print_logs (once).
lab_add_log() {
    [[ " ${LAB_LOGS[*]} " == *" $1 "* ]] || LAB_LOGS+=("$1")
}

# lab_pid_alive PID
lab_pid_alive() { kill -0 "$1" 2>/dev/null; }

# lab_stop_pid PID NAME [GRACE_TENTHS]: SIGTERM, wait (bounded), then SIGKILL.
lab_stop_pid() {
    local pid=$1 name=$2 grace=${3:-50} i
    lab_pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace; i++)); do
        lab_pid_alive "$pid" || return 0
        sleep 0.1
    done
    lab_log "$name (pid $pid) ignored SIGTERM for $((grace / 10))s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        lab_pid_alive "$pid" || return 0
        sleep 0.1
    done
}

# lab_remove_scratch: remove $LAB, unless LAB_KEEP=1 (then say where it is).
lab_remove_scratch() {
    [[ -n "$LAB" && -d "$LAB" ]] || return 0
    if [[ "${LAB_KEEP:-0}" == 1 ]]; then
        lab_log "kept scratch dir $LAB"
    else
        rm -rf -- "$LAB"
    fi
}

# lab_cleanup: EXIT trap.  Stops Postfix instances, then every registered
# PID, then the PostgreSQL clusters; removes the scratch dir.
lab_cleanup() {
    local rc=$? base i entry
    trap - EXIT INT TERM
    set +e
    for base in "${LAB_PF_BASES[@]}"; do
        postfix_stop "$base"
    done
    for ((i = ${#LAB_PIDS[@]} - 1; i >= 0; i--)); do
        entry=${LAB_PIDS[i]}
        lab_stop_pid "${entry%%:*}" "${entry#*:}"
    done
    LAB_PIDS=()
    for base in "${LAB_PG_DIRS[@]}"; do
        "$LAB_LIB_DIR/pg" stop "$base"
    done
    lab_remove_scratch
    exit "$rc"
}

# lab_port_open [HOST:]PORT: true if something accepts TCP connections there
# (HOST defaults to 127.0.0.1).
lab_port_open() {
    local host=127.0.0.1 port=$1
    if [[ "$1" == *:* ]]; then host=${1%:*} port=${1##*:}; fi
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# lab_require_free_port PORT NAME
lab_require_free_port() {
    if lab_port_open "$1"; then
        lab_die "127.0.0.1:$1 (for $2) is already in use; set another port"
    fi
}

# lab_wait_port [HOST:]PORT [TIMEOUT_TENTHS] [PID]: wait until the address
# accepts TCP connections.  Fails early if PID (the process that should
# listen) dies.
lab_wait_port() {
    local port=$1 tries=${2:-100} pid=${3:-} i
    [[ "$port" == *:* ]] || port=127.0.0.1:$port
    for ((i = 0; i < tries; i++)); do
        lab_port_open "$port" && return 0
        if [[ -n "$pid" ]] && ! lab_pid_alive "$pid"; then
            lab_log "process $pid exited before listening on $port"
            return 1
        fi
        sleep 0.1
    done
    lab_log "timeout: nothing listening on $port after $((tries / 10))s"
    return 1
}

# lab_start NAME CMD...: CMD in the background, its output in $LAB/NAME.log
# after a "+ CMD" line, with NO_COLOR=1 and RUST_LOG (default info).  Its
# PID is registered for cleanup and set in LAB_BG_PID; the log goes to
# print_logs.
lab_start() {
    local name=$1 log=$LAB/$1.log
    shift
    printf '+ %s\n' "$*" >>"$log"
    NO_COLOR=1 RUST_LOG=${RUST_LOG:-info} "$@" >>"$log" 2>&1 </dev/null &
    LAB_BG_PID=$!
    lab_register_pid "$LAB_BG_PID" "$name"
    lab_add_log "$log"
}

# lab_py [-t SECONDS] MODULE ARGS...: postfix-test/harness/MODULE.py
# (python3 -m harness.MODULE), writing no __pycache__ into the tree; with
# -t, killed after SECONDS.
lab_py() {
    local limit=()
    if [[ "$1" == -t ]]; then
        limit=(timeout "$2")
        shift 2
    fi
    local mod=$1
    shift
    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$LAB_LIB_DIR${PYTHONPATH:+:$PYTHONPATH}" \
        "${limit[@]}" /usr/bin/python3 -m "harness.$mod" "$@"
}

# ------------------------------------------------------------- authsense ----

# authsense_start NAME ARGS...: `$AUTHSENSE_BIN ARGS...` with lab_start (log
# $LAB/NAME.log).  Sets AUTHSENSE_PID.
authsense_start() {
    local name=$1
    shift
    [[ -x "${AUTHSENSE_BIN:-}" ]] || lab_die "authsense binary not found at ${AUTHSENSE_BIN:-} (set AUTHSENSE_BIN)"
    lab_start "$name" "$AUTHSENSE_BIN" "$@"
    AUTHSENSE_PID=$LAB_BG_PID
}

# milter_start NAME PORT ARGS...: `authsense milter --listen
# inet:127.0.0.1:PORT ARGS...`, waited for.  Sets MILTER_PID.
milter_start() {
    local name=$1 port=$2
    shift 2
    lab_require_free_port "$port" "$name"
    authsense_start "$name" milter --listen "inet:127.0.0.1:$port" "$@"
    MILTER_PID=$AUTHSENSE_PID
    lab_wait_port "$port" 100 "$MILTER_PID" || lab_die "$name not listening on 127.0.0.1:$port"
}

# sensor_start NAME PORT ARGS...: `authsense sensor --listen 127.0.0.1:PORT
# ARGS...`, waited for.  Sets SENSOR_PID.
sensor_start() {
    local name=$1 port=$2
    shift 2
    lab_require_free_port "$port" "$name"
    authsense_start "$name" sensor --listen "127.0.0.1:$port" "$@"
    SENSOR_PID=$AUTHSENSE_PID
    lab_wait_port "$port" 100 "$SENSOR_PID" || lab_die "$name not listening on 127.0.0.1:$port"
}

# ------------------------------------------------------------ smtp-sink ------

# sink_start PORT DUMPDIR GREETING_NAME: smtp-sink dumping one file per message.
# Sets SINK_PID.  The greeting name must differ from Postfix's myhostname.
sink_start() {
    local port=$1 dump=$2 name=$3
    lab_require_free_port "$port" smtp-sink
    mkdir -p "$dump"
    chown nobody "$dump"
    /usr/sbin/smtp-sink -u nobody -h "$name" -d "$dump/%Y%m%d%H%M%S." \
        "127.0.0.1:$port" 256 >"$LAB/sink-$port.log" 2>&1 &
    SINK_PID=$!
    lab_register_pid "$SINK_PID" smtp-sink
    lab_add_log "$LAB/sink-$port.log"
    lab_wait_port "$port" 50 "$SINK_PID" || { cat "$LAB/sink-$port.log" >&2; lab_die "smtp-sink not listening"; }
}

# ------------------------------------------------------ PostgreSQL, NATS -----

# pg_start PORT: a private PostgreSQL cluster in $LAB/pg on 127.0.0.1:PORT
# (postfix-test/pg; trust auth, stopped by lab_cleanup).  Sets PG_URL.
pg_start() {
    local port=$1
    lab_require_free_port "$port" postgresql
    LAB_PG_DIRS+=("$LAB/pg")
    # shellcheck disable=SC2034  # for the caller
    PG_URL=$("$LAB_LIB_DIR/pg" start "$LAB/pg" "$port") || lab_die "PostgreSQL did not start"
}

# nats_start PORT [DIR]: nats-server -js on 127.0.0.1:PORT (monitoring on
# PORT+1), JetStream store in DIR (default $LAB/nats; reuse it to restart with
# the same streams).  Sets NATS_URL and NATS_PID.
nats_start() {
    local port=$1 dir=${2:-$LAB/nats}
    lab_require_free_port "$port" nats-server
    # shellcheck disable=SC2034  # for the caller
    NATS_URL=$("$LAB_LIB_DIR/nats" start "$dir" "$port") || lab_die "nats-server did not start"
    NATS_PID=$(cat "$dir/nats.pid")
    lab_register_pid "$NATS_PID" nats-server
}

# nats_stop: stop the nats-server started by nats_start.
nats_stop() {
    [[ -n "${NATS_PID:-}" ]] && lab_stop_pid "$NATS_PID" nats-server
}

# shellcheck source=lib.d/dns.sh
source "$LAB_LIB_DIR/lib.d/dns.sh"
# shellcheck source=lib.d/postfix.sh
source "$LAB_LIB_DIR/lib.d/postfix.sh"
# shellcheck source=lib.d/sendmail.sh
source "$LAB_LIB_DIR/lib.d/sendmail.sh"
# shellcheck source=lib.d/cases.sh
source "$LAB_LIB_DIR/lib.d/cases.sh"
# shellcheck source=lib.d/mail.sh
source "$LAB_LIB_DIR/lib.d/mail.sh"
