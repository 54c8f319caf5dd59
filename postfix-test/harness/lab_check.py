"""Checks of postfix-test/lab: the mailbox copy's headers and the sensors' records
(lab.d/scenarios.sh runs them with ``lab_py lab_check ...``).

  lab_check cases    SCDIR RUN PF DS AUTHSERV_ID BLACKHOLE FOREIGN_ID  -> SCDIR/check.out
                    (SCDIR/cases.txt, then the DKIM/DMARC cases of SCDIR/dkim-cases.txt)
  lab_check failover SCDIR RUN COUNT PF     (prints problems; nothing = pass)
  lab_check lb       SCDIR RUN COUNT PF     (prints problems; writes SCDIR/lb.split)
"""
import email
import email.policy
import glob
import json
import os
import re
import sys

from harness.common import read_jsonl


def records(sc):
    """The records the scenarios dumped (records.jsonl, one per line)."""
    return read_jsonl(os.path.join(sc, "records.jsonl"))


def mailbox_copies(maildir, name):
    out = []
    for f in glob.glob(os.path.join(maildir, "new", "*")):
        raw = open(f, "rb").read()
        if re.search(rb"^X-Lab-Case: " + re.escape(name.encode()) + rb"\r?$", raw, re.M):
            out.append(email.message_from_bytes(raw, policy=email.policy.compat32))
    return out


def unfold(v):
    return " ".join(str(v).split())


def maillog_problems(pf):
    bad = []
    for line in open(os.path.join(pf, "maillog"), errors="replace"):
        if re.search(r"status=(bounced|expired)|sender non-delivery notification|postfix/bounce\[", line):
            bad.append(line.rstrip())
    return bad


def cases(sc, run, pf, ds, authserv, blackhole, foreign):
    recs = records(sc)
    out = []
    for entry in open(os.path.join(sc, "cases.txt")).read().split("\n"):
        if not entry.strip():
            continue
        name, ip, port, helo, sender, rcpt, spf, kind = entry.split("|")
        errs = []
        rc = open(os.path.join(sc, name + ".rc")).read().strip()
        if rc != "0":
            swaks = open(os.path.join(sc, name + ".swaks"), errors="replace").read().splitlines()
            out.append("FAIL %s swaks rc=%s\n" % (name, rc) + "".join("    | %s\n" % l for l in swaks[-8:]))
            continue
        mailfrom = "postmaster@" + helo if sender == "<>" else sender
        stamp = "%s; spf=%s smtp.mailfrom=%s smtp.helo=%s" % (authserv, spf, mailfrom, helo)
        dom = rcpt.split("@")[1]
        base = pf if dom == "inbox.test" else ds
        boxes = mailbox_copies(os.path.join(base, "mail", dom, rcpt.split("@")[0]), name)
        if len(boxes) != 1:
            errs.append("%d mailbox copies in %s/mail/%s, expected 1" % (len(boxes), base, dom))
        else:
            m = boxes[0]
            xa = [unfold(v) for v in m.get_all("X-Agari-Authentication-Results") or []]
            ar = [unfold(v) for v in m.get_all("Authentication-Results") or []]
            if kind in ("plain", "forged", "ds-noar"):
                if xa != [stamp]:
                    errs.append("mailbox X-Agari %r, expected exactly [%r]" % (xa, stamp))
            if kind in ("plain", "forged"):
                ours = [a for a in ar if a.startswith(authserv + ";")]
                if len(ours) != 1 or ("spf=%s " % spf) not in ours[0] + " ":
                    errs.append("mailbox Authentication-Results %r, expected one of ours with spf=%s" % (ar, spf))
            if kind == "trusted":
                upstream = "%s; spf=pass smtp.mailfrom=%s smtp.helo=upstream.doc.test" % (authserv, sender)
                if xa != [upstream] or ar:
                    errs.append("trusted relay: headers changed: X-Agari %r AR %r, expected only the upstream's %r"
                                % (xa, ar, upstream))
            if kind == "auth":
                if xa or ar:
                    errs.append("authenticated: X-Agari %r / AR %r left, expected forged ones deleted and no stamp"
                                % (xa, ar))
            if kind == "ds-noar" and ar:
                errs.append("downstream should have stripped AR, mailbox has %r" % ar)
            if kind == "ds-noxagari":
                if xa or not any(a.startswith(authserv + ";") and "spf=%s " % spf in a + " " for a in ar):
                    errs.append("downstream: X-Agari %r (expected none), AR %r (expected ours, spf=%s)" % (xa, ar, spf))
            if kind == "ds-foreign":
                if xa or not ar or not all(a.startswith(foreign + ";") for a in ar):
                    errs.append("downstream: X-Agari %r (expected none), AR %r (expected only %s)" % (xa, ar, foreign))
        mine = [r for r in recs if r.get("subject") == "lab %s %s" % (name, run)]
        if len(mine) != 1:
            errs.append("%d sensor records, expected 1" % len(mine))
        else:
            r = mine[0]
            auth = r.get("auth") or {}
            orig = r.get("original") or {}

            def want(label, got, exp):
                if got != exp:
                    errs.append("%s = %r, expected %r" % (label, got, exp))

            want("rcptto", r.get("rcptto"), [rcpt])
            want("mailfrom (the copy's return path)", r.get("mailfrom"), blackhole)
            want("sensor", r.get("_db"), "a")
            spf_got = (auth.get("spf") or {}).get("result")
            if kind in ("plain", "forged", "ds-noar"):
                want("auth.source", auth.get("source"), "x-agari")
            if kind == "ds-noxagari":
                want("auth.source", auth.get("source"), "authentication-results")
            if kind in ("plain", "forged", "ds-noar", "ds-noxagari"):
                want("auth.authserv_id", auth.get("authserv_id"), authserv)
                want("auth.spf.result", spf_got, spf)
                want("auth.untrusted_ids", auth.get("untrusted_ids"), [])
                want("original.mailfrom", orig.get("mailfrom"), mailfrom)
                want("original.helo", orig.get("helo"), helo)
                want("original.client_ip", orig.get("client_ip"), ip)
            if kind == "trusted":
                want("auth.source", auth.get("source"), "x-agari")
                want("auth.spf.result", spf_got, "pass")
                want("original.helo", orig.get("helo"), "upstream.doc.test")
            if kind == "auth":
                want("auth.source", auth.get("source"), "none")
            if kind == "ds-foreign":
                want("auth.source", auth.get("source"), "none")
                want("auth.untrusted_ids", auth.get("untrusted_ids"), [foreign])
                want("auth.spf", auth.get("spf"), None)
            if errs:
                errs.append("record: " + json.dumps(r, sort_keys=True)[:1500])
        if errs:
            out.append("FAIL %s %s\n" % (name, errs[0]) + "".join("    | %s\n" % e for e in errs[1:]))
        else:
            out.append("PASS %s\n" % name)
    out.extend(dkim_cases(sc, run, pf, authserv, blackhole, recs))
    qerr = os.path.join(sc, "queue.err")
    bad = maillog_problems(pf)
    if os.path.exists(qerr) or bad:
        out.append("FAIL no-bounces %s\n" % ("queue not empty" if os.path.exists(qerr) else "bounce/expiry in maillog")
                   + "".join("    | %s\n" % l for l in bad[:10]))
    else:
        out.append("PASS no-bounces\n")
    open(os.path.join(sc, "check.out"), "w").write("".join(out))


DKIM_SELECTOR = "lab"
ALL_METHODS_PORT = "2525"


def sent_signature(eml):
    """(i=, RFC 6008 header.b = the first 8 characters of b=) of the sent
    DKIM-Signature; i is None when the signer left it out."""
    m = email.message_from_bytes(open(eml, "rb").read(), policy=email.policy.compat32)
    sig = unfold(m.get("DKIM-Signature") or "")
    tags = {}
    for t in sig.split(";"):
        if "=" in t:
            k, v = t.split("=", 1)
            tags[k.strip()] = re.sub(r"\s", "", v)
    return tags.get("i"), tags.get("b", "")[:8]


def pvalue(v):
    """RFC 8601 pvalue as written: quoted when it holds an RFC 2045 tspecial
    (a base64 '/'); an addr-spec-like header.i stays bare."""
    return '"%s"' % v if re.search(r'[()<>,;:\\"/\[\]?=]', v) else v


def dkim_stamp_re(authserv, per_identity, spf, mailfrom, helo, dkim, signer, sig_i, bpfx, dmarc, hfrom_dom, ip):
    """The milter's exact header with every method, as a regex: only a
    non-pass dkim result may carry a reason= of the product's wording."""
    e = re.escape
    spf_part = ("spf=%s smtp.mailfrom=%s; spf=pass smtp.helo=%s" if per_identity
                else "spf=%s smtp.mailfrom=%s smtp.helo=%s") % (spf, mailfrom, helo)
    reason = "" if dkim == "pass" else r'(?: reason=(?:"[^"]*"|[^ ;]+))?'
    ident = "" if sig_i is None else " header.i=%s" % pvalue(sig_i)
    return ("^" + e("%s; %s; dkim=%s" % (authserv, spf_part, dkim)) + reason
            + e(" header.d=%s header.s=%s%s header.b=%s; dmarc=%s header.from=%s policy.dmarc=reject;"
                " arc=none smtp.remote-ip=%s; iprev=pass policy.iprev=%s" % (
                    signer, DKIM_SELECTOR, ident, pvalue(bpfx), dmarc, hfrom_dom, ip, ip)) + "$")


def dkim_cases(sc, run, pf, authserv, blackhole, recs):
    """Issue #5: signed messages. Port 25 (the lab's milter): X-Agari is the
    guide's spf-only stamp and dkim/dmarc/arc are in our Authentication-Results,
    from which the sensor takes them; port 2525 (the all-methods milter):
    X-Agari carries every method and the sensor takes them all from it."""
    path = os.path.join(sc, "dkim-cases.txt")
    if not os.path.exists(path):
        return []
    out = []
    for entry in open(path).read().split("\n"):
        if not entry.strip():
            continue
        name, ip, port, helo, sender, hfrom, signer, alter, spf, dkim, dmarc = entry.split("|")
        hdom = hfrom.split("@")[1]
        allm = port == ALL_METHODS_PORT
        errs = []
        rc = open(os.path.join(sc, name + ".rc")).read().strip()
        if rc != "0":
            swaks = open(os.path.join(sc, name + ".swaks"), errors="replace").read().splitlines()
            out.append("FAIL %s send rc=%s\n" % (name, rc) + "".join("    | %s\n" % l for l in swaks[-8:]))
            continue
        sig_i, bpfx = sent_signature(os.path.join(sc, name + ".eml"))
        full = lambda per_identity: dkim_stamp_re(authserv, per_identity, spf, sender, helo, dkim, signer,
                                                  sig_i, bpfx, dmarc, hdom, ip)
        spf_only = "%s; spf=%s smtp.mailfrom=%s smtp.helo=%s" % (authserv, spf, sender, helo)
        boxes = mailbox_copies(os.path.join(pf, "mail", "inbox.test", "user"), name)
        if len(boxes) != 1:
            errs.append("%d mailbox copies in %s/mail/inbox.test, expected 1" % (len(boxes), pf))
        else:
            m = boxes[0]
            xa = [unfold(v) for v in m.get_all("X-Agari-Authentication-Results") or []]
            ar = [unfold(v) for v in m.get_all("Authentication-Results") or []]
            if allm:
                if len(xa) != 1 or not re.match(full(False), xa[0]):
                    errs.append("mailbox X-Agari %r, expected exactly one matching %r" % (xa, full(False)))
            elif xa != [spf_only]:
                errs.append("mailbox X-Agari %r, expected exactly [%r]" % (xa, spf_only))
            ours = [a for a in ar if a.startswith(authserv + ";")]
            if len(ours) != 1 or not re.match(full(True), ours[0]):
                errs.append("mailbox Authentication-Results %r, expected one of ours matching %r" % (ar, full(True)))
        mine = [r for r in recs if r.get("subject") == "lab %s %s" % (name, run)]
        if len(mine) != 1:
            errs.append("%d sensor records, expected 1" % len(mine))
        else:
            r = mine[0]
            auth = r.get("auth") or {}
            orig = r.get("original") or {}

            def want(label, got, exp):
                if got != exp:
                    errs.append("%s = %r, expected %r" % (label, got, exp))

            def method(label, mi, result, props, source):
                mi = mi or {}
                want(label + ".result", mi.get("result"), result)
                want(label + ".source", mi.get("source"), source)
                have = [tuple(p) for p in mi.get("props") or []]
                for p in props:
                    if p not in have:
                        errs.append("%s.props %r lack %r" % (label, have, p))

            xsrc = "x-agari"
            msrc = "x-agari" if allm else "authentication-results"
            want("rcptto", r.get("rcptto"), ["user@inbox.test"])
            want("mailfrom (the copy's return path)", r.get("mailfrom"), blackhole)
            want("sensor", r.get("_db"), "a")
            want("auth.source", auth.get("source"), "x-agari")
            want("auth.authserv_id", auth.get("authserv_id"), authserv)
            want("auth.untrusted_ids", auth.get("untrusted_ids"), [])
            want("auth.conflicts", auth.get("conflicts"), [])
            method("auth.spf", auth.get("spf"), spf, [("smtp.mailfrom", sender), ("smtp.helo", helo)], xsrc)
            dk = auth.get("dkim") or []
            if len(dk) != 1:
                errs.append("auth.dkim has %d results, expected 1" % len(dk))
            else:
                method("auth.dkim[0]", dk[0], dkim,
                       [("header.d", signer), ("header.s", DKIM_SELECTOR), ("header.b", bpfx)]
                       + ([("header.i", sig_i)] if sig_i else []), msrc)
            method("auth.dmarc", auth.get("dmarc"), dmarc, [("header.from", hdom), ("policy.dmarc", "reject")], msrc)
            method("auth.arc", auth.get("arc"), "none", [("smtp.remote-ip", ip)], msrc)
            want("original.mailfrom", orig.get("mailfrom"), sender)
            want("original.helo", orig.get("helo"), helo)
            want("original.client_ip", orig.get("client_ip"), ip)
            if errs:
                errs.append("record: " + json.dumps(r, sort_keys=True)[:1500])
        if errs:
            out.append("FAIL %s %s\n" % (name, errs[0]) + "".join("    | %s\n" % e for e in errs[1:]))
        else:
            out.append("PASS %s\n" % name)
    return out


def failover(sc, run, count, pf):
    recs = records(sc)
    mine = [r for r in recs if (r.get("subject") or "").startswith("lab ordered-failover-")
            and (r.get("subject") or "").endswith(" " + run)]
    where = sorted(r["_db"] for r in mine)
    if where != ["b"] * count:
        print("copies with sensor A down: %d records, sensors %r; expected %d, all at B" % (len(mine), where, count))
    subj = sorted(r["subject"] for r in mine)
    if len(set(subj)) != len(subj):
        print("duplicated records: %r" % subj)
    for r in mine:
        if r.get("mailfrom") != "blackhole@discard.invalid" or r.get("rcptto") != ["user@inbox.test"]:
            print("record envelope %r -> %r" % (r.get("mailfrom"), r.get("rcptto")))
    for i in range(1, count + 1):
        n = len(mailbox_copies(os.path.join(pf, "mail", "inbox.test", "user"), "ordered-failover-%d" % i))
        if n != 1:
            print("ordered-failover-%d: %d mailbox copies, expected 1" % (i, n))
    for line in maillog_problems(pf):
        print("maillog: " + line)


def lb(sc, run, count, pf):
    recs = records(sc)
    mine = [r for r in recs if r.get("subject") == "lab load-balanced " + run]
    a = sum(1 for r in mine if r["_db"] == "a")
    b = sum(1 for r in mine if r["_db"] == "b")
    open(os.path.join(sc, "lb.split"), "w").write("load-balanced split: sensor A %d, sensor B %d\n" % (a, b))
    if a + b != count or a == 0 or b == 0:
        print("sensor A got %d, sensor B %d copies of %d messages; expected both > 0, sum %d" % (a, b, count, count))
    ids = [r.get("msg_id") for r in mine]
    if len(set(ids)) != len(ids):
        print("duplicated msg_ids: %d records, %d distinct" % (len(ids), len(set(ids))))
    for line in maillog_problems(pf):
        print("maillog: " + line)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "cases":
        cases(*sys.argv[2:9])
    elif what == "failover":
        failover(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif what == "lb":
        lb(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
