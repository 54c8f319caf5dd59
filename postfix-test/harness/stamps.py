"""The milter's stamp and its own Authentication-Results in a delivered
message, read with python3-authres.

  stamps.py stamp VALUE RESULT MAILFROM HELO AUTHSERV_ID
      the X-Agari stamp's value: exactly one spf result, with these
      result, smtp.mailfrom and smtp.helo, for this authserv-id
  stamps.py our-ar AUTHSERV_ID MF_RESULT MAILFROM HELO_RESULT HELO CLIENT_IP AR_OUT FILE...
      each FILE (a message, or one unfolded header field per line) has
      exactly one Authentication-Results claiming AUTHSERV_ID (any case, any
      version: forged ones are gone), directly below the single stamp; its
      spf part is exactly "spf=R smtp.mailfrom=M; spf=H smtp.helo=HELO",
      agrees with the stamp (whose spf result is the MAIL FROM identity's),
      and it has dkim, dmarc, arc and iprev results (iprev for CLIENT_IP).
      The first FILE's value goes to AR_OUT ("-": nowhere).
  stamps.py ar-json VALUE
      our Authentication-Results' dkim, dmarc and arc as the sensor's record
      holds them: JSON {dkim: [...], dmarc: {...}, arc: {...}}

Prints the problems (nothing for ar-json) and exits 1 if there are any.
"""

import json
import sys

from harness.common import claimed_id, file_fields, parse_ar, props

STAMP = "x-agari-authentication-results"


def check_stamp(value, want_result, want_mailfrom, want_helo, want_id):
    try:
        h = parse_ar(value)
    except Exception as e:  # noqa: BLE001 - report any parse failure
        return ["authres cannot parse: %s: %s" % (type(e).__name__, e)]
    errs = []
    if str(h.authserv_id) != want_id:
        errs.append("authserv-id %r != %r" % (h.authserv_id, want_id))
    if len(h.results) != 1 or h.results[0].method != "spf":
        errs.append("expected exactly one spf resinfo, got %r" % [str(r) for r in h.results])
        return errs
    r = h.results[0]
    p = props(r)
    if r.result != want_result:
        errs.append("authres: spf=%s, expected spf=%s" % (r.result, want_result))
    if p.get(("smtp", "mailfrom")) != want_mailfrom:
        errs.append("authres: smtp.mailfrom=%r, expected %r" % (p.get(("smtp", "mailfrom")), want_mailfrom))
    if p.get(("smtp", "helo")) != want_helo:
        errs.append("authres: smtp.helo=%r, expected %r" % (p.get(("smtp", "helo")), want_helo))
    return errs


def _against_stamp(mf, he, stamp_value, want_helo_result):
    """Our AR's two spf results against the stamp's one."""
    try:
        s = parse_ar(stamp_value).results[0]
    except Exception:  # noqa: BLE001 - the stamp's own check reports it
        return []
    errs = []
    sp = props(s)
    if mf.result != s.result:
        errs.append("AR spf (mailfrom) = %s, the stamp says spf=%s" % (mf.result, s.result))
    if props(mf).get(("smtp", "mailfrom")) != sp.get(("smtp", "mailfrom")):
        errs.append("AR smtp.mailfrom=%r, the stamp's %r"
                    % (props(mf).get(("smtp", "mailfrom")), sp.get(("smtp", "mailfrom"))))
    if props(he).get(("smtp", "helo")) != sp.get(("smtp", "helo")):
        errs.append("AR smtp.helo=%r, the stamp's %r" % (props(he).get(("smtp", "helo")), sp.get(("smtp", "helo"))))
    if he.result != want_helo_result:
        errs.append("AR spf (helo) = %s, expected %s" % (he.result, want_helo_result))
    return errs


def _results(h, stamp_value, want_helo_result, client_ip):
    """The parsed AR's results: one spf per identity, the other methods."""
    errs = []
    spf = [r for r in h.results if r.method == "spf"]
    mf = [r for r in spf if ("smtp", "mailfrom") in props(r)]
    he = [r for r in spf if ("smtp", "helo") in props(r)]
    if len(spf) != 2 or len(mf) != 1 or len(he) != 1:
        errs.append("expected one spf result per identity (mailfrom, helo), got %r" % [str(r) for r in spf])
    elif stamp_value is not None:
        errs += _against_stamp(mf[0], he[0], stamp_value, want_helo_result)
    for method in ("dkim", "dmarc", "arc", "iprev"):
        if not any(r.method == method for r in h.results):
            errs.append("no %s= result in our Authentication-Results" % method)
    for r in h.results:
        if r.method == "iprev":
            if r.result not in ("pass", "fail", "permerror", "temperror"):
                errs.append("iprev=%s" % r.result)
            if props(r).get(("policy", "iprev")) != client_ip:
                errs.append("policy.iprev=%r, expected %r" % (props(r).get(("policy", "iprev")), client_ip))
    return errs


def check_our_ar(fields, our_id, want_mf_result, want_mailfrom, want_helo_result, want_helo, client_ip):
    """Problems with our Authentication-Results among FIELDS (header_fields
    shape), and its value (None if there is none)."""
    errs = []
    stamps = [i for i, (name, _, _) in enumerate(fields) if name == STAMP]
    ours = [(i, v.strip()) for i, (name, v, raw) in enumerate(fields)
            if ":" in raw and name == "authentication-results" and claimed_id(v).lower() == our_id.lower()]
    if len(ours) != 1:
        errs.append("%d Authentication-Results claiming %s (want exactly 1, ours): %r"
                    % (len(ours), our_id, [v for _, v in ours]))
    if not ours:
        return errs, None
    index, value = ours[0]
    if len(stamps) != 1 or index != stamps[0] + 1:
        errs.append("our Authentication-Results is header #%d, not directly below the single stamp" % (index + 1))
    spf_part = "%s; spf=%s smtp.mailfrom=%s; spf=%s smtp.helo=%s;" % (
        our_id, want_mf_result, want_mailfrom, want_helo_result, want_helo)
    if not value.startswith(spf_part):
        errs.append("our Authentication-Results does not start with %r: %r" % (spf_part, value))
    try:
        h = parse_ar(value)
    except Exception as e:  # noqa: BLE001
        return errs + ["authres cannot parse our Authentication-Results: %s: %s" % (type(e).__name__, e)], value
    stamp_value = fields[stamps[0]][1] if len(stamps) == 1 else None
    return errs + _results(h, stamp_value, want_helo_result, client_ip), value


def ar_json(value):
    """Our AR's dkim, dmarc and arc as the record holds them."""
    h = parse_ar(value)

    def m(r):
        return {"result": r.result, "source": "authentication-results",
                "props": [["%s.%s" % (p.type, p.name), p.value] for p in r.properties]}

    def first(name):
        return next((m(r) for r in h.results if r.method == name), None)

    return {"dkim": [m(r) for r in h.results if r.method == "dkim"], "dmarc": first("dmarc"), "arc": first("arc")}


def cmd_our_ar(args):
    our_id, mf_result, mailfrom, helo_result, helo, client_ip, ar_out, *files = args
    first, bad = None, 0
    for path in files:
        errs, value = check_our_ar(file_fields(path), our_id, mf_result, mailfrom, helo_result, helo, client_ip)
        if first is None and value is not None:
            first = value
        if errs:
            bad += 1
            print(("%s: " % path if len(files) > 1 else "") + "; ".join(errs))
    if ar_out != "-":
        with open(ar_out, "w") as f:
            f.write((first or "") + "\n")
    return 1 if bad else 0


def main(argv):
    cmd, args = (argv[0], argv[1:]) if argv else ("", [])
    if cmd == "stamp" and len(args) == 5:
        errs = check_stamp(*args)
        if errs:
            print("; ".join(errs))
        return 1 if errs else 0
    if cmd == "our-ar" and len(args) >= 8:
        return cmd_our_ar(args)
    if cmd == "ar-json" and len(args) == 1:
        print(json.dumps(ar_json(args[0])))
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
