"""The checks for every sent message: the promise (no method recorded
``pass`` that the milter did not pass; no result the milter stamped
erased unless the copy is recorded as tampered), the milter's headers in
the delivered original, and each case's own expectation."""

import json

from .mail import Phase
from .table import Seen, rec_source, rules
from .verdict import MAX_LINE, Stamp, invariants

XAGARI = "X-Agari-Authentication-Results"


def pick_records(entry, records):
    """The records of ENTRY: by subject token; a genuine journal report's
    record by its report Message-ID."""
    recs = records.get(entry.get("record_token") or entry["token"], [])
    rid = entry.get("journal_report_id")
    if rid:
        return [r for r in recs if (r.get("journal") or {}).get("report_msg_id") == rid]
    return [r for r in recs if not r.get("journal")]


def _stamp_shape(phase, st, fields):
    """The milter's headers in an original delivered with the milter up."""
    errs = list(st.errors)
    if len(st.xagari) != 1:
        return errs + ["%d X-Agari fields in the original, want the milter's one" % len(st.xagari)]
    x = st.xagari[0]
    if st.received and x > min(st.received):
        errs.append("the stamp sits below the perimeter's Received (index %d)" % x)
    want_ar = 1 if phase.ar else 0
    if len(st.ours_ar) != want_ar:
        errs.append("%d Authentication-Results of ours, want %d" % (len(st.ours_ar), want_ar))
    elif want_ar and st.ours_ar[0] != x + 1:
        errs.append("our Authentication-Results is not directly below the stamp")
    if len(st.seals) != 1:
        errs.append("%d seals in the original, want 1" % len(st.seals))
    errs += st.long_lines()
    f = fields[x]
    if len(XAGARI) + 1 + len(f.raw.replace("\n", "").encode()) <= MAX_LINE and len(f.lines) != 1:
        errs.append("the stamp is folded although it fits one line: %r" % f.raw)
    return errs


def _stamp_results(case, phase, st):
    errs = []
    for method, allowed in case.stamp.items():
        if method == "spf_helo" and not phase.ar:
            continue
        if not phase.stamps(method.replace("_helo", "")):
            continue
        got = st.results.get(method)
        if method == "dkim":
            res = [s["result"] for s in got or []]
            if not res or any(r not in allowed for r in res):
                errs.append("the milter stamped dkim %r, want each in %s" % (res, sorted(allowed)))
        elif got not in allowed:
            errs.append("the milter stamped %s=%s, want one of %s" % (method, got, sorted(allowed)))
    return errs


def _record_up(entry, rec, ours):
    auth = rec.get("auth") or {}
    errs = []
    if auth.get("source") != "x-agari" or auth.get("sealed") is not True or auth.get("tamper"):
        errs.append("record auth.source=%r sealed=%r tamper=%r: the milter's sealed stamp was not believed"
                    % (auth.get("source"), auth.get("sealed"), auth.get("tamper")))
    if (auth.get("authserv_id") or "").lower() != ours:
        errs.append("record authserv_id %r" % auth.get("authserv_id"))
    if auth.get("received_above") != 1:
        errs.append("record received_above=%r, want 1 (the copy smtpd's hop)" % auth.get("received_above"))
    if entry["route"] != "direct" and sorted(rec.get("rcptto") or []) != sorted(entry["rcpts"]):
        errs.append("record rcptto %r, want the envelope's %r" % (rec.get("rcptto"), entry["rcpts"]))
    return errs


def _record_down(case, phase, rec, fields):
    want = case.down[phase.hc]
    got = rec_source(rec)
    errs = [] if got == want else ["milter down (header_checks %s): auth.source %r, want %r"
                                   % ("on" if phase.hc else "off", got, want)]
    if got == "tampered" and ("tampered-stamp" not in rules(rec) or not (rec.get("auth") or {}).get("tamper")):
        errs.append("tampered without the tampered-stamp rule and a reason: %r" % rules(rec))
    if phase.hc:
        left = [f.name for f in fields or [] if f.key in ("x-agari-authentication-results", "x-authsense-seal")]
        if left:
            errs.append("header_checks let through: %r" % left)
    return errs


def _delivered(entry, originals):
    got = {}
    for path, _f, _r in originals:
        user = path.split("/inbox.test/")[-1].split("/")[0]
        got[user] = got.get(user, 0) + 1
    errs = []
    for r in entry["rcpts"]:
        if r.endswith("@inbox.test") and got.get(r.split("@")[0], 0) != 1:
            errs.append("%d originals for %s, want 1" % (got.get(r.split("@")[0], 0), r))
    return errs


def check_entry(case, ctx, entry, originals, records):
    """The violations for one sent message (empty: it held), and the names
    of the checks that were applied."""
    phase = ctx.phase
    if entry.get("error"):
        return ["not accepted: %s" % entry["error"]], ["accepted"]
    mine = originals.get(entry["token"], [])
    recs = pick_records(entry, records)
    applied = ["accepted", "one-record"]
    errs = []
    if entry["route"] != "direct":
        applied.append("delivered")
        errs += _delivered(entry, mine)
    if len(recs) != 1:
        return errs + ["%d records, want 1" % len(recs)], applied
    rec = recs[0]
    fields, raw, stamp = (mine[0][1], mine[0][2], None) if mine else (None, None, None)
    if entry["route"] != "direct" and phase.milter and fields is not None:
        stamp = Stamp(fields, ctx.ours)
        applied += ["stamp-shape", "stamp-results"]
        errs += _stamp_shape(phase, stamp, fields) + _stamp_results(case, phase, stamp)
    elif entry.get("donor_stamp"):
        donor = originals.get(entry["record_token"], [])
        stamp = Stamp(donor[0][1], ctx.ours) if donor else None
        errs += [] if donor else ["the journaled donor original is missing"]
    applied.append("no-false-pass+nothing-erased")
    errs += invariants(stamp.results if stamp else {}, rec)
    if phase.milter and (entry["route"] != "direct" or entry.get("donor_stamp")):
        applied.append("sealed-and-believed")
        errs += _record_up(entry, rec, ctx.ours)
    elif not phase.milter:
        applied.append("milter-down-source")
        errs += _record_down(case, phase, rec, fields)
    if case.expect and (phase.milter or entry["route"] == "direct"):
        applied.append("case")
        errs += case.expect(Seen(ctx, entry, fields, raw, rec, stamp))
    return errs, applied


def details(entry, originals, records):
    """Lines that help to understand a failure."""
    out = []
    for r in pick_records(entry, records)[:1]:
        out.append("record.auth: " + json.dumps(r.get("auth"), sort_keys=True)[:1500])
        out.append("record: verdict=%r reasons=%r rcptto=%r" % (r.get("verdict"), rules(r), r.get("rcptto")))
    for path, fields, _raw in originals.get(entry["token"], [])[:1]:
        out.append("original %s:" % path)
        for f in fields[:12]:
            out.append("  %s:%s" % (f.name, f.raw[:400].replace("\n", "\n    ")))
    return out


def phase_of(entry):
    return Phase.from_json(json.dumps(entry["phase"]))
