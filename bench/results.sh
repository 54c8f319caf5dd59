# shellcheck shell=bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# bench/results.sh: where a benchmark run's report goes.  Sourced by
# bench/milter, bench/milter-direct, bench/milter-latency, bench/sensor,
# bench/sensor-threads and bench/fleet.
#
# Every run writes one new file, bench/results/YYYY-MM-DD-HHMM-<bench>.md
# (UTC; the same time as the report's "Run" heading), and never touches
# BENCHMARKS.md, which is written by hand from those files.
#   BENCH_SAVE [1]   0: write nothing (BENCH_APPEND=0, the older name, too)
#   BENCH_RESULTS_DIR [<repo>/bench/results]

BENCH_RESULTS_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# bench_results_open BENCH: sets BENCH_RUN_UTC ("2026-11-28 16:21 UTC", for
# the report's heading) and BENCH_RESULTS_FILE (a path no other run has
# taken, or "" when saving is off).  Returns 1 if the directory cannot be
# created.
bench_results_open() {
    local dir=${BENCH_RESULTS_DIR:-$BENCH_RESULTS_HOME/results} now base n
    printf -v now '%(%s)T' -1
    # shellcheck disable=SC2034 # read by the scripts that source this file
    BENCH_RUN_UTC=$(date -u -d "@$now" '+%Y-%m-%d %H:%M UTC')
    BENCH_RESULTS_FILE=""
    [[ "${BENCH_SAVE:-${BENCH_APPEND:-1}}" == 0 ]] && return 0
    mkdir -p "$dir" || { printf 'bench: cannot create %s\n' "$dir" >&2; return 1; }
    base=$dir/$(date -u -d "@$now" '+%Y-%m-%d-%H%M')-$1
    BENCH_RESULTS_FILE=$base.md
    # Two runs of one benchmark in the same minute: -2, -3, ...
    n=2
    while [[ -e "$BENCH_RESULTS_FILE" ]] && ((n < 100)); do
        BENCH_RESULTS_FILE=$base-$n.md
        n=$((n + 1))
    done
    [[ ! -e "$BENCH_RESULTS_FILE" ]] || { printf 'bench: no free name for %s\n' "$base.md" >&2; return 1; }
}

# bench_results_save: stdin (the report) into BENCH_RESULTS_FILE, and says
# where on stderr; reads and discards stdin when saving is off.
bench_results_save() {
    if [[ -z "${BENCH_RESULTS_FILE:-}" ]]; then
        cat >/dev/null
        printf 'report not saved (BENCH_SAVE=0)\n' >&2
        return 0
    fi
    cat >"$BENCH_RESULTS_FILE" || { printf 'bench: cannot write %s\n' "$BENCH_RESULTS_FILE" >&2; return 1; }
    printf 'wrote %s\n' "$BENCH_RESULTS_FILE" >&2
}
