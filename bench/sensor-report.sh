# shellcheck shell=bash
# SPDX-License-Identifier: GPL-3.0-or-later
# bench/sensor-report.sh: sourced by bench/sensor (uses its globals): the
# throughput table, the memory test (part 2) and the run's report.

# report RESULTS_TSV: markdown table + verdict lines on stdout.
report() {
    bench_py sensor_table "$1"
}

# shellcheck disable=SC2034  # FAILED, RSS_* are read by bench/sensor
# rss_test: part 2 (sets RSS_JSON, RSS_CMD, RSS_CONFIG; FAILED=1 on a failed check).
rss_test() {
    local msg=$LAB/msg-rss.eml db=$LAB/rss.db cfg=$LAB/rss.toml n
    /usr/bin/python3 "$HERE/sensor-mkmsg" $((RSS_MB << 20)) "$msg" --crlf >/dev/null || lab_die "sensor-mkmsg for the memory test failed"
    write_sensor_config "$cfg" "${PORT[rss]}" "$db" "spool_mb = $RSS_SPOOL_MB"
    RSS_CONFIG=$(grep -v '^#' "$cfg")
    start_authsense rss "${PORT[rss]}" "$cfg" "$LAB/rss-sensor.log"
    RSS_JSON=$LAB/rss.json
    RSS_CMD="bench/sensor-flood --port ${PORT[rss]} --sessions $RSS_SESSIONS --message <${RSS_MB} MiB copy> --pid <sensor pid> --sources 5 --deadline $RSS_DEADLINE"
    say "memory test: $RSS_SESSIONS sessions x $RSS_MB MiB, spool_mb = $RSS_SPOOL_MB"
    timeout $((RSS_DEADLINE + 120)) /usr/bin/python3 "$HERE/sensor-flood" --port "${PORT[rss]}" \
        --sessions "$RSS_SESSIONS" --message "$msg" --pid "${PID[rss]}" --sources 5 \
        --deadline "$RSS_DEADLINE" --out "$RSS_JSON" >"$LAB/rss.out" 2>"$LAB/rss.err" ||
        { cat "$LAB/rss.err" >&2; FAILED=1; say "FAIL: memory test: sensor-flood failed"; return; }
    n=$("$AUTHSENSE_BIN" messages --db "$db" --limit $((RSS_SESSIONS + 1000)) --json | grep -c '"uid"')
    RSS_STORED_DB=$n
    bench_py sensor_rss check "$RSS_JSON" "$RSS_SESSIONS" "$RSS_LIMIT_MB" "$n" || FAILED=1
}

# rss_report: markdown for part 2 on stdout.
rss_report() {
    [[ -s "${RSS_JSON:-}" ]] || { printf 'Memory test: no result.\n'; return; }
    bench_py sensor_rss table "$RSS_JSON" "$RSS_LIMIT_MB" "$RSS_SPOOL_MB" "$RSS_STORED_DB"
}

# write_md TABLE RSS_MD T_BENCH ELAPSED: this run's report (bench/results/), on stdout.
write_md() {
    local NULL_IN="" DISCARD_IN=""
    [[ " ${SINKS[*]} " == *" null "* ]] && NULL_IN=1
    [[ " ${SINKS[*]} " == *" discard "* ]] && DISCARD_IN=1
    local rev dirty sha
    rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    dirty=$(git -C "$REPO" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l)
    sha=$(sha256sum "$AUTHSENSE_BIN" | cut -c1-12)
    cat <<EOF
## Run $BENCH_RUN_UTC — bench/sensor

- Host: $(nproc) CPUs (\`nproc\`), $(uname -sr), Debian $(cat /etc/debian_version 2>/dev/null), Postfix $(postconf -h -d mail_version 2>/dev/null) (smtp-source, smtp-sink), aiosmtpd $(/usr/bin/python3 -c 'import aiosmtpd; print(aiosmtpd.__version__)'), Python $(/usr/bin/python3 -c 'import platform; print(platform.python_version())'); store on $(df --output=fstype "$LAB" | tail -n1) ($(findmnt -no SOURCE -T "$LAB" 2>/dev/null)).
- Load average (1/5/15 min) at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg). Other work on the machine is not controlled; compare ratios within a run.
- authsense: \`$AUTHSENSE_BIN\` (sha256 $sha…); repository HEAD $rev$( ((dirty > 0)) && printf ', with %d uncommitted path(s) in src/ or Cargo.*' "$dirty"). Sensor config: defaults (WAL, synchronous=FULL, group commit) + listen, hostname, \`trusted_authserv_ids = ["$AUTHSERV_ID"]\`, \`spool_mb = $THROUGHPUT_SPOOL_MB\` (so that 100 sessions × 1 MiB in flight are not deferred with 452, which smtp-source cannot retry; part 2 uses the default 64).
- $ROUNDS rounds, sink order rotated every round; warm-up of S messages before each measurement. Throughput part $3 s, whole run $4 s.

\`\`\`
${ALT_BIN:+BENCH_ALT_BIN=$ALT_BIN }BENCH_SINKS="${SINKS[*]}" BENCH_SIZES="${SIZES[*]}" BENCH_SESSIONS="${SESSIONS[*]}" BENCH_N="${NSPEC[*]}" BENCH_ROUNDS=$ROUNDS BENCH_RSS=$RSS BENCH_RSS_SESSIONS=$RSS_SESSIONS BENCH_RSS_MB=$RSS_MB BENCH_RSS_SPOOL_MB=$RSS_SPOOL_MB bench/sensor
# each measurement, identical for every sink (PORT: a=${PORT[sink]} smtp-sink, b=${PORT[authsense]} authsense, c=${PORT[aiosmtpd]} aiosmtpd${ALT_BIN:+, d=${PORT[alt]} alt}${NULL_IN:+, e=${PORT[null]} null}${DISCARD_IN:+, f=${PORT[discard]} discard}):
smtp-source -N -s S -m N -F msg-SIZE.txt -M $HELO -f $SENDER -t xTAG.$RCPT 127.0.0.1:PORT   # TAG = r<round>-<sink>-s<S>-<size>, + "-warm" for the warm-up
smtp-sink -c -u nobody -h sink.lab.test 127.0.0.1:${PORT[sink]} 1024
$AUTHSENSE_BIN sensor --config authsense.toml${ALT_BIN:+
$ALT_BIN sensor --config alt.toml   # d: the same config, another build (sha256 $(sha256sum "$ALT_BIN" 2>/dev/null | cut -c1-12)…)}
/usr/bin/python3 bench/sensor-aiosmtpd ${PORT[aiosmtpd]} COUNT_FILE${NULL_IN:+
$NULL_BIN --listen 127.0.0.1:${PORT[null]} --count-file COUNT_FILE   # e: examples/null_sensor}${DISCARD_IN:+
$DISCARD_BIN --config discard.toml --count-file COUNT_FILE   # f: examples/discard_sensor, the settings of authsense.toml on its own port and database}
\`\`\`

$1

EOF
    if [[ -n "$2" ]]; then
        # shellcheck disable=SC2016  # backquotes are markdown
        printf 'Memory: %s sessions at once, each streaming a %s MiB copy (base64 attachment) to a second sensor with\n\n```toml\n%s\n```\n\n```\n%s\n```\n\n%s\n\n' \
            "$RSS_SESSIONS" "$RSS_MB" "$RSS_CONFIG" "$RSS_CMD" "$2"
    fi
}
