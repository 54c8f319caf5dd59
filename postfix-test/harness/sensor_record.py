"""e2e-sensor: the sensor's records of one case.

  sensor_record.py RECORDS SPEC

RECORDS is ``authsense messages --json`` output, SPEC a JSON object built by
e2e-sensor's check_record.  The records of a case are those with its
subject; there must be exactly spec.count of them, with distinct msg_ids,
equal to spec.msg_ids when given.  spf comes from the X-Agari stamp; dkim,
dmarc and arc from our Authentication-Results (spec.ar, as the original
showed it).  Prints the uids on success, the problems (and the first bad
record) on failure.
"""

import json
import sys

from harness.common import read_jsonl
from harness.stamps import ar_json


def get(rec, path):
    """The value at a dotted PATH (list indexes allowed), or None."""
    cur = rec
    for k in path.split("."):
        if isinstance(cur, list):
            cur = cur[int(k)] if int(k) < len(cur) else None
        elif isinstance(cur, dict):
            cur = cur.get(k)
        else:
            return None
    return cur


def seen(m):
    return None if m is None else {k: m.get(k) for k in ("result", "source", "props")}


def auth_errors(r, spec, e, want):
    """The record's auth part (problems appended to E): the stamp's spf,
    our AR's other methods."""
    want("auth.source", "x-agari")
    want("auth.authserv_id", spec["authserv_id"])
    want("auth.spf.result", spec["spf"])
    p = dict(get(r, "auth.spf.props") or [])
    if p.get("smtp.mailfrom") != spec["orig_mailfrom"] or p.get("smtp.helo") != spec["helo"]:
        e.append("auth.spf.props = %r, expected smtp.mailfrom=%s smtp.helo=%s"
                 % (get(r, "auth.spf.props"), spec["orig_mailfrom"], spec["helo"]))
    raw = get(r, "auth.raw")
    if not isinstance(raw, str) or " ".join(raw.split()) != spec["stamp"]:
        e.append("auth.raw = %r, expected the milter's stamp %r" % (raw, spec["stamp"]))
    want("auth.spf.source", "x-agari")
    # dkim, dmarc and arc are not in the X-Agari stamp (methods = ["spf"]):
    # they come from our Authentication-Results below it, as delivered.
    if not spec.get("ar"):
        e.append("no Authentication-Results of ours in the original to compare the record with")
    else:
        ar = ar_json(spec["ar"])
        got_dkim = [seen(m) for m in (get(r, "auth.dkim") or [])]
        if got_dkim != ar["dkim"]:
            e.append("auth.dkim = %r, expected from our Authentication-Results %r" % (got_dkim, ar["dkim"]))
        for method in ("dmarc", "arc"):
            if ar[method] is None or seen(get(r, "auth." + method)) != ar[method]:
                e.append("auth.%s = %r, expected from our Authentication-Results %r"
                         % (method, seen(get(r, "auth." + method)), ar[method]))
    want("auth.conflicts", [])
    want("auth.untrusted_ids", spec["untrusted"])


def analysis_errors(r, spec, e, want):
    """Analysis (docs/analysis.md): every stored copy has a verdict, a score
    that is its reasons' points capped at 10, and an SPF failure among its
    reasons when the stamp says fail or softfail.  Problems appended to E."""
    reasons = get(r, "reasons")
    if not isinstance(reasons, list):
        e.append("reasons = %r, expected a list" % (reasons,))
        reasons = []
    rules = [x.get("rule") for x in reasons]
    points = sum(x.get("points", 0) for x in reasons)
    if get(r, "verdict") not in ("trusted", "suspicious", "malicious"):
        e.append("verdict = %r, expected trusted, suspicious or malicious" % (get(r, "verdict"),))
    want("score", min(10, points))
    if spec["spf"] in ("fail", "softfail") and "auth-fail" not in rules:
        e.append("reasons %r lack auth-fail for spf=%s" % (rules, spec["spf"]))
    if any(not x.get("detail") for x in reasons):
        e.append("a reason without detail: %r" % (reasons,))


def check(r, spec):
    """The problems of one record."""
    e = []

    def want(path, expected):
        got = get(r, path)
        if got != expected:
            e.append("%s = %r, expected %r" % (path, got, expected))

    auth_errors(r, spec, e, want)
    want("original.mailfrom", spec["orig_mailfrom"])
    want("original.helo", spec["helo"])
    want("original.client_ip", "127.0.0.1")
    got = get(r, "rcptto")
    if not isinstance(got, list) or sorted(got) != sorted(spec["rcpts"]):
        e.append("rcptto = %r, expected the original recipients %r" % (got, spec["rcpts"]))
    want("mailfrom", spec["copy_mailfrom"])
    want("gateway.ip", "127.0.0.1")
    want("gateway.helo", spec["mta"])
    want("gateway.tls", spec["tls"])
    want("from.address", spec["hdr_from"])
    # Received chain: the copy hop on top, then the perimeter's own hop.
    want("path.0.from_ip", spec["copy_bind"])
    want("path.0.by_host", spec["copy_name"])
    want("path.1.from_host", spec["helo"])
    want("path.1.from_ip", "127.0.0.1")
    want("path.1.by_host", spec["mta"])
    analysis_errors(r, spec, e, want)
    return e


def main(records_path, spec_json):
    spec = json.loads(spec_json)
    mine = [r for r in read_jsonl(records_path) if r.get("subject") == spec["subject"]]
    errs = []
    if len(mine) != spec["count"]:
        errs.append("%d records with subject %r, expected %d" % (len(mine), spec["subject"], spec["count"]))
    ids = sorted(r.get("msg_id") or "" for r in mine)
    if len(set(ids)) != len(ids):
        errs.append("duplicate msg_ids among the records: %r" % ids)
    if spec.get("msg_ids") is not None and ids != sorted(spec["msg_ids"]):
        errs.append("record msg_ids %r, expected %r" % (ids, sorted(spec["msg_ids"])))
    bad = None
    for r in mine:
        e = check(r, spec)
        if e:
            errs.extend("%s: %s" % (r.get("msg_id"), x) if len(mine) > 1 else x for x in e)
            bad = bad or r
    if errs:
        print("\n".join(errs))
        if bad is not None:
            print("record: " + json.dumps(bad, sort_keys=True))
        return 1
    print("\n".join(r.get("uid", "") for r in mine))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
