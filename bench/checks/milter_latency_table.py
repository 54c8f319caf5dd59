# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/milter-latency's table: one markdown row per (config, sessions) from
the run's TSV (round, config, sessions, N, accept µs, end-to-end µs, milter
CPU µs), then a verdict line per authsense config at 1 session.

Usage: milter_latency_table.py RESULTS_TSV
"""

import statistics as st
import sys

from benchstats import rng


def main():
    path = sys.argv[1]
    rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
    data = {}  # (cfg, s) -> {round: (n, acc_us, e2e_us)}
    cpu = {}
    for r, cfg, s, n, acc, e2e, cpu_us in rows:
        data.setdefault((cfg, int(s)), {})[int(r)] = (int(n), int(acc), int(e2e))
        cpu.setdefault((cfg, int(s)), []).append(int(cpu_us) / int(n))
    label = {"base": "(a) no milter", "inet": "(b) authsense inet", "unix": "(c) authsense unix",
             "peer": "(d) pymilter peer, inet", "altinet": "(e) BENCH_ALT_BIN inet",
             "altunix": "(f) BENCH_ALT_BIN unix"}
    print("| config | sessions | N | end-to-end msg/s, median (min–max) | ratio to same-round baseline | added ms/msg vs baseline | accept msg/s (smtp-source), median | milter CPU µs/msg |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    verdict = []
    for s in (1, 20):
        base = data.get(("base", s), {})
        for cfg in ("base", "inet", "unix", "peer", "altinet", "altunix"):
            d = data.get((cfg, s))
            if not d:
                continue
            rates = {r: n * 1e6 / e2e for r, (n, acc, e2e) in d.items()}
            accs = [n * 1e6 / acc for (n, acc, e2e) in d.values()]
            ns = sorted({n for (n, _, _) in d.values()})
            ratios, added = [], []
            for r, rate in rates.items():
                if r in base:
                    bn, _, be2e = base[r]
                    brate = bn * 1e6 / be2e
                    ratios.append(rate / brate)
                    added.append(1000 * (1 / rate - 1 / brate))
            ratio_s = "1 (ref)" if cfg == "base" else rng(ratios, "%.2f")
            added_s = "—" if cfg == "base" else rng(added, "%+.2f")
            cpu_s = "—" if cfg == "base" else "%.0f" % (sum(cpu[(cfg, s)]) / len(cpu[(cfg, s)]))
            print("| %s | %d | %s | %s | %s | %s | %.0f | %s |" % (label[cfg], s, "/".join(map(str, ns)),
                  rng(list(rates.values()), "%.0f"), ratio_s, added_s, st.median(accs), cpu_s))
            if cfg in ("inet", "unix", "altinet", "altunix") and s == 1:
                m = st.median(ratios)
                verdict.append("%s at 1 session: median ratio %.2f, worst round %.2f → %s"
                               % (label[cfg], m, min(ratios), "MEETS ≥ 0.9" if m >= 0.9 else "MISSES ≥ 0.9"))
    print()
    for v in verdict:
        print("- " + v)


if __name__ == "__main__":
    main()
