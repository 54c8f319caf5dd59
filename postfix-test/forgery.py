#!/usr/bin/python3
"""The adversarial suite of postfix-test/e2e-forgery: the case table,
sending, checking (issue 17, "What it must show" 1).

  forgery.py keys CONF ZONE_IN ZONE_OUT   DKIM keys; ZONE_IN + key records -> ZONE_OUT
  forgery.py send CONF PHASE_JSON         send the phase's cases, append to the ledger
  forgery.py check CONF                   check every sent message and the global checks

CONF is the lab's forgery.json, written by e2e-forgery. The cases are in
forge/cases_*.py, the checks in forge/check.py and forge/side.py.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from forge import (cases_alerts, cases_dkim, cases_from, cases_honest,  # noqa: E402
                   cases_inject, cases_journal, cases_lines, cases_stamps, check, dkimsign, side)
from forge.mail import Ctx, Phase, read_originals, read_records, send  # noqa: E402

CASES = (cases_honest.CASES + cases_journal.CASES + cases_lines.CASES + cases_stamps.CASES
         + cases_from.CASES + cases_dkim.CASES + cases_inject.CASES + cases_alerts.CASES)
BY_NAME = {c.name: c for c in CASES}
DONOR = "spf-pass"
DONOR_PHASES = ("spf-ar-hc", "all-ar", "spf-ar")  # milter down: a donor with our AR


def _donor(ctx):
    """Returns a function giving a delivered, sealed original of the
    honest DONOR case (this phase's; with the milter down an earlier
    phase's that has our Authentication-Results); it sets ctx.donor_token."""
    cache = {}

    def donor():
        if "d" in cache:
            return cache["d"]
        if ctx.phase.milter:
            wanted = [ctx.token(DONOR)]
        else:
            wanted = ["[fg:%s:%s:%s]" % (p, DONOR, ctx.conf["run"]) for p in DONOR_PHASES]
        deadline = time.time() + 30
        while True:
            originals = read_originals(ctx.conf["maildir"])
            tok = next((t for t in wanted if originals.get(t)), None)
            if tok:
                _path, fields, raw = originals[tok][0]
                ctx.donor_token = tok
                cache["d"] = (fields, raw)
                return cache["d"]
            if time.time() > deadline:
                raise RuntimeError("no delivered donor original %s within 30 s" % wanted)
            time.sleep(0.2)
    return donor


def cmd_keys(conf, zone_in, zone_out):
    dkimsign.make_keys(conf["keys"], zone_in, zone_out)


def cmd_send(conf, phase_json):
    phase = Phase.from_json(phase_json)
    ctx = Ctx(conf, phase, keys=dkimsign.load_keys(conf["keys"]))
    ctx.donor = _donor(ctx)
    sent = failed = 0
    with open(conf["ledger"], "a") as ledger:
        for case in CASES:
            if not case.sent_in(phase):
                continue
            entry = {"phase": phase.to_dict(), "case": case.name, "cls": case.cls, "honest": case.honest,
                     "token": ctx.token(case.name)}
            try:
                msg = case.build(ctx)
            except Exception as e:  # noqa: BLE001 - reported as the case's failure
                entry.update(route="none", rcpts=[], error="could not build: %s: %s" % (type(e).__name__, e))
            else:
                entry.update(route=msg.route, rcpts=msg.rcpts, mailfrom=msg.mailfrom[:80], **msg.extra)
                entry["error"] = send(conf, msg)
            sent += 1
            failed += 1 if entry["error"] else 0
            ledger.write(json.dumps(entry) + "\n")
    print("phase %s: %d messages sent, %d not accepted" % (phase.name, sent, failed))


def _records(conf):
    out = subprocess.run([conf["authsense"], "messages", "--db", conf["db"], "--json", "--limit", "100000"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit("authsense messages failed: %s" % out.stderr[:500])
    with open(conf["records"], "w") as f:
        f.write(out.stdout)
    return [json.loads(ln) for ln in out.stdout.splitlines() if ln.strip()]


def _report(name, errs, extra=(), applied=()):
    if not errs:
        print("PASS %s%s" % (name, " [%s]" % " ".join(applied) if applied else ""))
        return True
    print("FAIL %s: %s" % (name, errs[0]))
    for e in list(errs[1:]) + list(extra):
        print("    | %s" % e)
    return False


def cmd_check(conf):
    with open(conf["ledger"]) as f:
        entries = [json.loads(ln) for ln in f if ln.strip()]
    flat = _records(conf)
    records = read_records(conf["records"])
    originals = read_originals(conf["maildir"])
    uids = [r["uid"] for r in flat if r.get("verdict") == "malicious"]
    alerts, missing = side.wait_alerts(conf["alert_dir"], uids, 40)
    held = {}
    for entry in entries:
        ctx = Ctx(conf, check.phase_of(entry))
        ctx.alerted = lambda uid: side.alert_kind(alerts, uid)
        ctx.warned = lambda tok: side.warned(alerts, tok)
        case = BY_NAME[entry["case"]]
        errs, applied = check.check_entry(case, ctx, entry, originals, records)
        name = "%s/%s" % (entry["phase"]["name"], entry["case"])
        ok = _report(name, errs, check.details(entry, originals, records) if errs else (), applied)
        kind = "honest" if case.honest else "adversarial"
        n_ok, n = held.get(kind, (0, 0))
        held[kind] = (n_ok + ok, n + 1)
    globals_ = (side.alert_checks(conf, alerts, flat, missing) + side.web_checks(conf)
                + side.refused_checks(conf) + side.status_checks(conf, flat))
    g_ok = sum(_report(name, errs) for name, errs in globals_)
    a_ok, a_n = held.get("adversarial", (0, 0))
    h_ok, h_n = held.get("honest", (0, 0))
    classes = sorted({e["cls"] for e in entries})
    print("messages: %d/%d adversarial and %d/%d honest held; %d/%d global checks; classes: %s"
          % (a_ok, a_n, h_ok, h_n, g_ok, len(globals_), ", ".join(classes)))
    total, ok = a_n + h_n + len(globals_), a_ok + h_ok + g_ok
    print("%d/%d held" % (ok, total))
    return 0 if ok == total else 1


def main(argv):
    if len(argv) < 3 or argv[1] not in ("keys", "send", "check"):
        sys.exit(__doc__)
    with open(argv[2]) as f:
        conf = json.load(f)
    if argv[1] == "keys":
        return cmd_keys(conf, argv[3], argv[4])
    if argv[1] == "send":
        return cmd_send(conf, argv[3])
    return cmd_check(conf)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
