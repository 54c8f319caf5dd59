# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/sensor's throughput table: one markdown row per (size, sessions,
sink) from the run's TSV (round, sink, sessions, size, N, µs, server CPU µs),
then the verdict and floor lines at 20 sessions.

Usage: sensor_table.py RESULTS_TSV
"""

import statistics as st
import sys

from benchstats import rng


def human(b):
    """A byte count as KiB or MiB."""
    return "%d KiB" % (b // 1024) if b < 1 << 20 else "%d MiB" % (b >> 20)


def main():
    rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
    data = {}  # (sink, s, size) -> {round: (n, us, cpu_us)}
    for r, sink, s, size, n, us, cpu in rows:
        data.setdefault((sink, int(s), int(size)), {})[int(r)] = (int(n), int(us), int(cpu))
    label = {"sink": "(a) smtp-sink", "authsense": "(b) authsense sensor", "aiosmtpd": "(c) aiosmtpd + email",
             "alt": "(d) authsense, BENCH_ALT_BIN", "null": "(e) null sensor: authsense's server, no work",
             "discard": "(f) discard sensor: authsense, store keeps nothing"}
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


if __name__ == "__main__":
    main()
