# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/sensor's store check: the records (authsense messages --json on
stdin) since the start of a measurement are exactly WANT, each fully read
(the trusted stamp, the original client, size, URLs, the attachment).

Usage: ... | sensor_store_check.py WANT SIZE   (exit status 1 with the reason)
"""

import json
import sys


def main():
    want, size = int(sys.argv[1]), int(sys.argv[2])
    recs = [json.loads(l) for l in sys.stdin if l.strip()]
    bad = []
    for r in recs:
        a, o = r["auth"], r["original"]
        if a["source"] != "x-agari" or (a["spf"] or {}).get("result") != "pass":
            bad.append("stamp not read: %s %s" % (a["source"], a["spf"]))
        elif o.get("client_ip") != "192.0.2.10" or o.get("mailfrom") != "user@pass.lab.test":
            bad.append("original %s" % o)
        elif abs(r["size"] - size) > 4 or len(r["urls"]) != 2:
            bad.append("size %d urls %d" % (r["size"], len(r["urls"])))
        elif size >= 4096 and (len(r["attachments"]) != 1 or len(r["attachments"][0]["sha256"]) != 64):
            bad.append("attachments %s" % r["attachments"])
    if len(recs) != want or bad:
        sys.exit("store: %d records since the start of the measurement, expected %d; %d incomplete%s"
                 % (len(recs), want, len(bad), (": " + bad[0]) if bad else ""))


if __name__ == "__main__":
    main()
