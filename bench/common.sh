# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# bench/common.sh: the small helpers every benchmark script uses (sourced
# after postfix-test/lib.sh): messages, time, CPU of a process, and the
# fork-free polls of a Postfix queue and an smtp-sink dump directory that
# run while a measurement is being timed.

BENCH_COMMON_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# say MSG...: a line on stderr.
say() { printf '%s\n' "$*" >&2; }

# bench_open_sleepfd: open SLEEPFD, a pipe nobody writes to, for nap.
bench_open_sleepfd() { exec {SLEEPFD}<> <(:); }

# nap SECONDS: sleep without forking (a read on SLEEPFD that times out).
nap() { read -r -t "$1" -u "$SLEEPFD" _ || true; }

# now_us: the wall clock in microseconds.
now_us() { local t=$EPOCHREALTIME; printf '%s\n' "${t/./}"; }

# bench_cpu_ticks PID: user+system CPU of PID (all threads) in clock ticks,
# or 0 when PID is empty or gone.
bench_cpu_ticks() {
    local pid=$1 stat rest
    local -a f
    [[ -n "$pid" && -r /proc/$pid/stat ]] || { echo 0; return; }
    stat=$(</proc/"$pid"/stat)
    rest=${stat##*) }            # fields from 3 on (comm may contain spaces)
    read -r -a f <<<"$rest"
    echo $((f[11] + f[12]))      # utime (14) + stime (15)
}

# queue_empty BASE: no message file anywhere in the Postfix queue of BASE
# (pure bash, no fork: this is polled while timing).
queue_empty() {
    local q=$1/queue
    local -a f
    shopt -s nullglob
    f=("$q"/maildrop/* "$q"/incoming/* "$q"/active/* "$q"/hold/* "$q"/deferred/*/*)
    shopt -u nullglob
    ((${#f[@]} == 0))
}

# sink_count DIR: how many files smtp-sink has dumped into DIR.
sink_count() {
    local -a f
    shopt -s nullglob
    f=("$1"/*)
    shopt -u nullglob
    printf '%s\n' "${#f[@]}"
}

# bench_py NAME ARGS...: bench/checks/NAME.py (the reports' tables and
# checks), writing no __pycache__ into the tree.
bench_py() {
    local name=$1
    shift
    PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$BENCH_COMMON_DIR/checks/$name.py" "$@"
}
