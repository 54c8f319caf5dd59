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
import types

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


def want(errs, label, got, exp):
    """Adds "LABEL = GOT, expected EXP" to ERRS unless GOT == EXP."""
    if got != exp:
        errs.append("%s = %r, expected %r" % (label, got, exp))


def send_failure(sc, name, what):
    """The FAIL line of a case whose message was not accepted (its .rc is
    not 0, the end of its .swaks below), or None."""
    rc = open(os.path.join(sc, name + ".rc")).read().strip()
    if rc == "0":
        return None
    swaks = open(os.path.join(sc, name + ".swaks"), errors="replace").read().splitlines()
    return "FAIL %s %s rc=%s\n" % (name, what, rc) + "".join("    | %s\n" % l for l in swaks[-8:])


def verdict(name, errs):
    """The case's PASS line, or its FAIL line with the other errors below."""
    if errs:
        return "FAIL %s %s\n" % (name, errs[0]) + "".join("    | %s\n" % e for e in errs[1:])
    return "PASS %s\n" % name


def stamps_of(m):
    """The unfolded X-Agari and Authentication-Results values of message M."""
    xa = [unfold(v) for v in m.get_all("X-Agari-Authentication-Results") or []]
    ar = [unfold(v) for v in m.get_all("Authentication-Results") or []]
    return xa, ar


def the_record(recs, name, run, errs):
    """The one record of case NAME in this RUN, or None (with an error)."""
    mine = [r for r in recs if r.get("subject") == "lab %s %s" % (name, run)]
    if len(mine) != 1:
        errs.append("%d sensor records, expected 1" % len(mine))
        return None
    return mine[0]


def mailbox_errors(errs, m, c, authserv, foreign):
    """The mailbox copy M of case C: the stamp and Authentication-Results
    its kind expects."""
    xa, ar = stamps_of(m)
    spf = c.spf
    if c.kind in ("plain", "forged", "ds-noar"):
        if xa != [c.stamp]:
            errs.append("mailbox X-Agari %r, expected exactly [%r]" % (xa, c.stamp))
    if c.kind in ("plain", "forged"):
        ours = [a for a in ar if a.startswith(authserv + ";")]
        if len(ours) != 1 or ("spf=%s " % spf) not in ours[0] + " ":
            errs.append("mailbox Authentication-Results %r, expected one of ours with spf=%s" % (ar, spf))
    if c.kind == "trusted":
        upstream = "%s; spf=pass smtp.mailfrom=%s smtp.helo=upstream.doc.test" % (authserv, c.sender)
        if xa != [upstream] or ar:
            errs.append("trusted relay: headers changed: X-Agari %r AR %r, expected only the upstream's %r"
                        % (xa, ar, upstream))
    if c.kind == "auth":
        if xa or ar:
            errs.append("authenticated: X-Agari %r / AR %r left, expected forged ones deleted and no stamp"
                        % (xa, ar))
    if c.kind == "ds-noar" and ar:
        errs.append("downstream should have stripped AR, mailbox has %r" % ar)
    if c.kind == "ds-noxagari":
        if xa or not any(a.startswith(authserv + ";") and "spf=%s " % spf in a + " " for a in ar):
            errs.append("downstream: X-Agari %r (expected none), AR %r (expected ours, spf=%s)" % (xa, ar, spf))
    if c.kind == "ds-foreign":
        if xa or not ar or not all(a.startswith(foreign + ";") for a in ar):
            errs.append("downstream: X-Agari %r (expected none), AR %r (expected only %s)" % (xa, ar, foreign))


def record_errors(errs, r, c, authserv, blackhole, foreign):
    """The sensor's record R of case C: envelope, trusted source and
    original client as its kind expects."""
    auth = r.get("auth") or {}
    orig = r.get("original") or {}
    want(errs, "rcptto", r.get("rcptto"), [c.rcpt])
    want(errs, "mailfrom (the copy's return path)", r.get("mailfrom"), blackhole)
    want(errs, "sensor", r.get("_db"), "a")
    spf_got = (auth.get("spf") or {}).get("result")
    if c.kind in ("plain", "forged", "ds-noar"):
        want(errs, "auth.source", auth.get("source"), "x-agari")
    if c.kind == "ds-noxagari":
        want(errs, "auth.source", auth.get("source"), "authentication-results")
    if c.kind in ("plain", "forged", "ds-noar", "ds-noxagari"):
        want(errs, "auth.authserv_id", auth.get("authserv_id"), authserv)
        want(errs, "auth.spf.result", spf_got, c.spf)
        want(errs, "auth.untrusted_ids", auth.get("untrusted_ids"), [])
        want(errs, "original.mailfrom", orig.get("mailfrom"), c.mailfrom)
        want(errs, "original.helo", orig.get("helo"), c.helo)
        want(errs, "original.client_ip", orig.get("client_ip"), c.ip)
    if c.kind == "trusted":
        want(errs, "auth.source", auth.get("source"), "x-agari")
        want(errs, "auth.spf.result", spf_got, "pass")
        want(errs, "original.helo", orig.get("helo"), "upstream.doc.test")
    if c.kind == "auth":
        want(errs, "auth.source", auth.get("source"), "none")
    if c.kind == "ds-foreign":
        want(errs, "auth.source", auth.get("source"), "none")
        want(errs, "auth.untrusted_ids", auth.get("untrusted_ids"), [foreign])
        want(errs, "auth.spf", auth.get("spf"), None)


def no_bounces(sc, pf):
    """The no-bounces line: the queues drained, no bounce or expiry logged."""
    qerr = os.path.join(sc, "queue.err")
    bad = maillog_problems(pf)
    if os.path.exists(qerr) or bad:
        return ("FAIL no-bounces %s\n" % ("queue not empty" if os.path.exists(qerr) else "bounce/expiry in maillog")
                + "".join("    | %s\n" % l for l in bad[:10]))
    return "PASS no-bounces\n"


def cases(sc, run, pf, ds, authserv, blackhole, foreign):
    """Every case of cases.txt (mailbox copy and record), the DKIM cases,
    and no bounces: the lines go to SCDIR/check.out."""
    recs = records(sc)
    out = []
    for entry in open(os.path.join(sc, "cases.txt")).read().split("\n"):
        if not entry.strip():
            continue
        name, ip, port, helo, sender, rcpt, spf, kind = entry.split("|")
        failed = send_failure(sc, name, "swaks")
        if failed:
            out.append(failed)
            continue
        mailfrom = "postmaster@" + helo if sender == "<>" else sender
        c = types.SimpleNamespace(name=name, ip=ip, helo=helo, sender=sender, rcpt=rcpt, spf=spf, kind=kind,
                                  mailfrom=mailfrom,
                                  stamp="%s; spf=%s smtp.mailfrom=%s smtp.helo=%s" % (authserv, spf, mailfrom, helo))
        errs = []
        dom = rcpt.split("@")[1]
        base = pf if dom == "inbox.test" else ds
        boxes = mailbox_copies(os.path.join(base, "mail", dom, rcpt.split("@")[0]), name)
        if len(boxes) != 1:
            errs.append("%d mailbox copies in %s/mail/%s, expected 1" % (len(boxes), base, dom))
        else:
            mailbox_errors(errs, boxes[0], c, authserv, foreign)
        r = the_record(recs, name, run, errs)
        if r is not None:
            record_errors(errs, r, c, authserv, blackhole, foreign)
            if errs:
                errs.append("record: " + json.dumps(r, sort_keys=True)[:1500])
        out.append(verdict(name, errs))
    out.extend(dkim_cases(sc, run, pf, authserv, blackhole, recs))
    out.append(no_bounces(sc, pf))
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


def method(errs, label, mi, result, props, source):
    """One method's entry MI of a record: result, source, and PROPS among
    its properties."""
    mi = mi or {}
    want(errs, label + ".result", mi.get("result"), result)
    want(errs, label + ".source", mi.get("source"), source)
    have = [tuple(p) for p in mi.get("props") or []]
    for p in props:
        if p not in have:
            errs.append("%s.props %r lack %r" % (label, have, p))


def dkim_mailbox_errors(errs, m, c, authserv):
    """The mailbox copy of DKIM case C: the all-methods stamp (port 2525) or
    the spf-only one, and our Authentication-Results with every method."""
    xa, ar = stamps_of(m)
    if c.allm:
        if len(xa) != 1 or not re.match(c.full(False), xa[0]):
            errs.append("mailbox X-Agari %r, expected exactly one matching %r" % (xa, c.full(False)))
    elif xa != [c.spf_only]:
        errs.append("mailbox X-Agari %r, expected exactly [%r]" % (xa, c.spf_only))
    ours = [a for a in ar if a.startswith(authserv + ";")]
    if len(ours) != 1 or not re.match(c.full(True), ours[0]):
        errs.append("mailbox Authentication-Results %r, expected one of ours matching %r" % (ar, c.full(True)))


def dkim_record_errors(errs, r, c, authserv, blackhole):
    """The record of DKIM case C: spf from the stamp; dkim, dmarc and arc
    from the stamp (port 2525) or from our Authentication-Results."""
    auth = r.get("auth") or {}
    orig = r.get("original") or {}
    xsrc = "x-agari"
    msrc = "x-agari" if c.allm else "authentication-results"
    want(errs, "rcptto", r.get("rcptto"), ["user@inbox.test"])
    want(errs, "mailfrom (the copy's return path)", r.get("mailfrom"), blackhole)
    want(errs, "sensor", r.get("_db"), "a")
    want(errs, "auth.source", auth.get("source"), "x-agari")
    want(errs, "auth.authserv_id", auth.get("authserv_id"), authserv)
    want(errs, "auth.untrusted_ids", auth.get("untrusted_ids"), [])
    want(errs, "auth.conflicts", auth.get("conflicts"), [])
    method(errs, "auth.spf", auth.get("spf"), c.spf, [("smtp.mailfrom", c.sender), ("smtp.helo", c.helo)], xsrc)
    dk = auth.get("dkim") or []
    if len(dk) != 1:
        errs.append("auth.dkim has %d results, expected 1" % len(dk))
    else:
        method(errs, "auth.dkim[0]", dk[0], c.dkim,
               [("header.d", c.signer), ("header.s", DKIM_SELECTOR), ("header.b", c.bpfx)]
               + ([("header.i", c.sig_i)] if c.sig_i else []), msrc)
    method(errs, "auth.dmarc", auth.get("dmarc"), c.dmarc, [("header.from", c.hdom), ("policy.dmarc", "reject")], msrc)
    method(errs, "auth.arc", auth.get("arc"), "none", [("smtp.remote-ip", c.ip)], msrc)
    want(errs, "original.mailfrom", orig.get("mailfrom"), c.sender)
    want(errs, "original.helo", orig.get("helo"), c.helo)
    want(errs, "original.client_ip", orig.get("client_ip"), c.ip)


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
        failed = send_failure(sc, name, "send")
        if failed:
            out.append(failed)
            continue
        sig_i, bpfx = sent_signature(os.path.join(sc, name + ".eml"))
        hdom = hfrom.split("@")[1]

        def full(per_identity):
            return dkim_stamp_re(authserv, per_identity, spf, sender, helo, dkim, signer,
                                 sig_i, bpfx, dmarc, hdom, ip)

        c = types.SimpleNamespace(ip=ip, helo=helo, sender=sender, hdom=hdom, signer=signer, spf=spf, dkim=dkim,
                                  dmarc=dmarc, sig_i=sig_i, bpfx=bpfx, allm=port == ALL_METHODS_PORT, full=full,
                                  spf_only="%s; spf=%s smtp.mailfrom=%s smtp.helo=%s" % (authserv, spf, sender, helo))
        errs = []
        boxes = mailbox_copies(os.path.join(pf, "mail", "inbox.test", "user"), name)
        if len(boxes) != 1:
            errs.append("%d mailbox copies in %s/mail/inbox.test, expected 1" % (len(boxes), pf))
        else:
            dkim_mailbox_errors(errs, boxes[0], c, authserv)
        r = the_record(recs, name, run, errs)
        if r is not None:
            dkim_record_errors(errs, r, c, authserv, blackhole)
            if errs:
                errs.append("record: " + json.dumps(r, sort_keys=True)[:1500])
        out.append(verdict(name, errs))
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
