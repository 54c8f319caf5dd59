# shellcheck shell=bash
# SPDX-License-Identifier: GPL-3.0-or-later
# bench/sensor-report.sh: sourced by bench/sensor (uses its globals): the
# throughput table, the memory test (part 2) and the run's report.

# report RESULTS_TSV: markdown table + verdict lines on stdout.
report() {
    /usr/bin/python3 - "$1" <<'PY'
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
data = {}  # (sink, s, size) -> {round: (n, us, cpu_us)}
for r, sink, s, size, n, us, cpu in rows:
    data.setdefault((sink, int(s), int(size)), {})[int(r)] = (int(n), int(us), int(cpu))
label = {"sink": "(a) smtp-sink", "authsense": "(b) authsense sensor", "aiosmtpd": "(c) aiosmtpd + email",
         "alt": "(d) authsense, BENCH_ALT_BIN", "null": "(e) null sensor: authsense's server, no work",
         "discard": "(f) discard sensor: authsense, store keeps nothing"}
def rng(xs, fmt):
    xs = sorted(xs)
    return (fmt % st.median(xs)) + " (" + (fmt % xs[0]) + "–" + (fmt % xs[-1]) + ")"
def human(b):
    return "%d KiB" % (b // 1024) if b < 1 << 20 else "%d MiB" % (b >> 20)
print("| size | sessions | N | sink | msg/s, median (min–max) | MB/s | ratio to smtp-sink, same round | server CPU µs/msg |")
print("|---:|---:|---:|---|---:|---:|---:|---:|")
verdict = []
for size in sorted({k[2] for k in data}):
    for s in sorted({k[1] for k in data if k[2] == size}):
        base = data.get(("sink", s, size), {})
        for sink in ("sink", "authsense", "aiosmtpd", "alt", "null", "discard"):
            d = data.get((sink, s, size))
            if not d:
                continue
            rates = {r: n * 1e6 / us for r, (n, us, _) in d.items()}
            ratios = [rates[r] / (base[r][0] * 1e6 / base[r][1]) for r in rates if r in base]
            cpu = st.mean(c / n for (n, _, c) in d.values())
            n = "/".join(str(x) for x in sorted({v[0] for v in d.values()}))
            ratio = "1 (ref)" if sink == "sink" else rng(ratios, "%.2f")
            print("| %s | %d | %s | %s | %s | %.1f | %s | %.0f |" % (
                human(size), s, n, label[sink], rng(list(rates.values()), "%.0f"),
                st.median(rates.values()) * size / 1e6, ratio, cpu))
            if sink == "authsense" and s == 20 and size <= 1024:
                m = st.median(ratios)
                verdict.append("authsense at 20 sessions, %s: median ratio %.2f to smtp-sink "
                               "(worst round %.2f) → %s the target ≥ 0.8" % (
                                   human(size), m, min(ratios), "MEETS" if m >= 0.8 else "MISSES"))
            if sink == "null" and s == 20 and size <= 1024:
                verdict.append("floor at 20 sessions, %s: the null sensor (the sensor's server doing none of its "
                               "work) reaches %.2f × smtp-sink (worst round %.2f)" % (human(size), st.median(ratios), min(ratios)))
            if sink == "discard" and s == 20 and size <= 1024:
                verdict.append("floor with a free store at 20 sessions, %s: the discard sensor (authsense whose store "
                               "acknowledges every record without writing it) reaches %.2f × smtp-sink (worst round %.2f, "
                               "best %.2f); no store can take authsense above it" % (
                                   human(size), st.median(ratios), min(ratios), max(ratios)))
print()
for v in verdict:
    print("- " + v)
PY
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
    /usr/bin/python3 - "$RSS_JSON" "$RSS_SESSIONS" "$RSS_LIMIT_MB" "$n" <<'PY' || FAILED=1
import json, sys
r = json.load(open(sys.argv[1]))
want, limit, in_db = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ok = True
for cond, what in ((r["stored"] == want, "stored %d of %d sessions" % (r["stored"], want)),
                   (r["failed"] == 0, "%d sessions failed: %s" % (r["failed"], r["failures"][:3])),
                   (in_db == want, "the store holds %d records, expected %d" % (in_db, want)),
                   (r["vmhwm_kib"] < limit * 1024, "peak RSS (VmHWM) %.1f MiB, limit %d MiB" % (r["vmhwm_kib"] / 1024, limit))):
    print(("ok:   " if cond else "FAIL: ") + what, file=sys.stderr)
    ok &= cond
sys.exit(0 if ok else 1)
PY
}

# rss_report: markdown for part 2 on stdout.
rss_report() {
    [[ -s "${RSS_JSON:-}" ]] || { printf 'Memory test: no result.\n'; return; }
    /usr/bin/python3 - "$RSS_JSON" "$RSS_LIMIT_MB" "$RSS_SPOOL_MB" "$RSS_STORED_DB" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
limit, spool, in_db = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
mib = lambda k: "%.1f MiB" % (k / 1024)
print("| sessions × size | spool_mb | stored (store count) | attempts | replies by code | peak open sessions | GB streamed | time | peak VmRSS | VmHWM | limit |")
print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
print("| %d × %.0f MiB | %d | %d (%d) | %d | %s | %d | %.1f | %.0f s | %s | %s | %d MiB → %s |" % (
    r["sessions"], r["message_bytes"] / 2**20, spool, r["stored"], in_db, r["attempts"],
    ", ".join("%s: %d" % kv for kv in r["replies"].items()), r["peak_open_sessions"],
    r["bytes_streamed"] / 1e9, r["elapsed_s"], mib(r["peak_vmrss_kib"]), mib(r["vmhwm_kib"]),
    limit, "MEETS" if r["vmhwm_kib"] < limit * 1024 else "MISSES"))
print()
print("VmRSS over time (s, MiB): " + ", ".join("%g: %.0f" % (t, v / 1024) for t, v, _ in r["rss_timeline"]))
PY
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
