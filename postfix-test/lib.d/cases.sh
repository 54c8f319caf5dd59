# shellcheck shell=bash
# Part of postfix-test/lib.sh (sourced by it): the e2e scripts' report.  One
# "PASS <case>" / "FAIL <case> <why>" line per check (a failure's details on
# indented lines), the logs when anything failed, and as the last line the
# summary, "N passed, M failed" (or, from a Python checker, "N/M held").
#
#   LAB_REPORT=counts|held   set before lab_init: a setup failure (lab_die)
#                            then prints "FAIL setup <why>", the logs and
#                            "N passed, M+1 failed" (held: "0/1 held")
#   LAB_LOG_LINES            lines per log in print_logs (default 80)

PASSED=0
FAILED=0

pass_case() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$1"; }

# fail_case NAME WHY [DETAIL_FILE]: the FAIL line, then DETAIL_FILE indented.
fail_case() {
    FAILED=$((FAILED + 1))
    printf 'FAIL %s %s\n' "$1" "$2"
    if [[ -n "${3:-}" && -s "$3" ]]; then
        sed 's/^/    | /' "$3"
    fi
}

# print_logs: the end of every log of LAB_LOGS (what lab_start, sink_start,
# nsd_start, postfix_start ... started, in that order), ANSI colours dropped.
print_logs() {
    local f n=${LAB_LOG_LINES:-80}
    for f in "${LAB_LOGS[@]}"; do
        [[ -s "$f" ]] || continue
        printf '%s\n' "---- $f (last $n lines) ----"
        tail -n "$n" "$f" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-400
    done
    printf '%s\n' "---- end of logs ----"
}

# check_case NAME WHY COMMAND...: PASS NAME if COMMAND succeeds, else FAIL
# NAME WHY.
check_case() {
    local name=$1 why=$2
    shift 2
    if "$@"; then pass_case "$name"; else fail_case "$name" "$why"; fi
}

# lab_report_setup_failure WHY: lab_die's report with LAB_REPORT set.
lab_report_setup_failure() {
    printf 'FAIL setup %s\n' "$1"
    print_logs
    if [[ "$LAB_REPORT" == held ]]; then
        printf '0/1 held\n'
    else
        printf '%s passed, %s failed\n' "$PASSED" "$((FAILED + 1))"
    fi
}

# lab_check_alive PID CASE WHAT: FAIL CASE unless PID still runs.
lab_check_alive() {
    lab_pid_alive "$1" || fail_case "$2" "the $3 exited during the test"
}

# lab_summary T0: the elapsed time since T0 ($SECONDS), the logs if a case
# failed, the summary line.  Status 0 only if every case passed.
lab_summary() {
    printf 'elapsed: %ss\n' "$((SECONDS - $1))"
    if ((FAILED > 0)); then
        print_logs
        [[ "${LAB_KEEP:-0}" == 1 ]] && printf 'scratch dir kept: %s\n' "$LAB"
    fi
    printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
    ((FAILED == 0))
}

# lab_milter_elapsed LOG: one info line about the authsense milter's per-message
# time from MAIL FROM to end of message (its log's elapsed_us=), or nothing.
lab_milter_elapsed() {
    grep -ao 'elapsed_us=[0-9]*' "$1" 2>/dev/null | cut -d= -f2 | sort -n |
        awk '{ v[NR] = $1 } END { if (NR) printf "info: milter MAIL..EOM per message: min %.1f ms, median %.1f ms, max %.1f ms (%d messages)\n", v[1] / 1000, v[int((NR + 1) / 2)] / 1000, v[NR] / 1000, NR }'
}
