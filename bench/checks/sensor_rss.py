# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/sensor's memory test (part 2), from bench/sensor-flood's JSON.

  sensor_rss.py check RSS_JSON SESSIONS LIMIT_MB IN_DB
      "ok:"/"FAIL:" lines on stderr; exit 1 if a check failed.
  sensor_rss.py table RSS_JSON LIMIT_MB SPOOL_MB IN_DB
      the markdown table and the VmRSS timeline on stdout.
"""

import json
import sys


def mib(kib):
    """KiB as "N.N MiB"."""
    return "%.1f MiB" % (kib / 1024)


def check(args):
    """Every session stored, none failed, the store holds them, peak RSS under the limit."""
    r = json.load(open(args[0]))
    want, limit, in_db = int(args[1]), int(args[2]), int(args[3])
    ok = True
    for cond, what in ((r["stored"] == want, "stored %d of %d sessions" % (r["stored"], want)),
                       (r["failed"] == 0, "%d sessions failed: %s" % (r["failed"], r["failures"][:3])),
                       (in_db == want, "the store holds %d records, expected %d" % (in_db, want)),
                       (r["vmhwm_kib"] < limit * 1024, "peak RSS (VmHWM) %.1f MiB, limit %d MiB" % (r["vmhwm_kib"] / 1024, limit))):
        print(("ok:   " if cond else "FAIL: ") + what, file=sys.stderr)
        ok &= cond
    return 0 if ok else 1


def table(args):
    """The report's markdown for part 2."""
    r = json.load(open(args[0]))
    limit, spool, in_db = int(args[1]), int(args[2]), int(args[3])
    print("| sessions × size | spool_mb | stored (store count) | attempts | replies by code | peak open sessions | GB streamed | time | peak VmRSS | VmHWM | limit |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    print("| %d × %.0f MiB | %d | %d (%d) | %d | %s | %d | %.1f | %.0f s | %s | %s | %d MiB → %s |" % (
        r["sessions"], r["message_bytes"] / 2**20, spool, r["stored"], in_db, r["attempts"],
        ", ".join("%s: %d" % kv for kv in r["replies"].items()), r["peak_open_sessions"],
        r["bytes_streamed"] / 1e9, r["elapsed_s"], mib(r["peak_vmrss_kib"]), mib(r["vmhwm_kib"]),
        limit, "MEETS" if r["vmhwm_kib"] < limit * 1024 else "MISSES"))
    print()
    print("VmRSS over time (s, MiB): " + ", ".join("%g: %.0f" % (t, v / 1024) for t, v, _ in r["rss_timeline"]))
    return 0


if __name__ == "__main__":
    commands = {"check": check, "table": table}
    if len(sys.argv) != 6 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    sys.exit(commands[sys.argv[1]](sys.argv[2:]))
