"""Reading results: the milter's stamp in a delivered original (with
python3-authres, a parser independent of authsense) and the sensor's record.

Both become the same shape, a dict::

    {"spf": "pass", "spf_helo": "pass", "dmarc": "fail", "arc": "none",
     "dkim": [{"result": "pass", "d": "signed.test", "i": "@signed.test", "b": "abc"}]}

with a method left out when the header (or record) does not carry it.
"""

import authres

SINGLE = ("spf", "spf_helo", "dmarc", "arc")
MAX_LINE = 998


def parse_value(value):
    """The authres object of an (unfolded) Authentication-Results value."""
    return authres.AuthenticationResultsHeader.parse("Authentication-Results: " + value)


def _props(r):
    return {("%s.%s" % (p.type, p.name)).lower(): p.value for p in r.properties}


def results_of(header, xagari=False):
    """The results dict of a parsed header. The X-Agari stamp's one spf
    result is the MAIL FROM identity's (its smtp.helo is a property);
    Authentication-Results reports the HELO identity as its own result."""
    out = {}
    for r in header.results:
        m, p = r.method.lower(), _props(r)
        res = str(r.result).lower()
        if m == "spf":
            helo = not xagari and "smtp.helo" in p and "smtp.mailfrom" not in p
            key = "spf_helo" if helo else "spf"
            out.setdefault(key, res)
        elif m == "dkim":
            out.setdefault("dkim", []).append(
                {"result": res, "d": p.get("header.d"), "i": p.get("header.i"), "b": p.get("header.b")})
        elif m in ("dmarc", "arc", "iprev"):
            out.setdefault(m, res)
    return out


def authserv_id(value):
    """The authserv-id authres reads in VALUE, or None when it cannot parse it."""
    try:
        return str(parse_value(value).authserv_id)
    except Exception:  # noqa: BLE001 - any parse error: not readable
        return None


class Stamp:
    """The milter's own headers in a delivered original.

    FIELDS are the top-level fields, topmost first. With the milter up,
    every X-Agari field and every Authentication-Results of our id that
    arrives was written by the milter (it deletes incoming ones)."""

    def __init__(self, fields, ours):
        self.ours = ours.lower()
        self.xagari = [i for i, f in enumerate(fields) if f.key == "x-agari-authentication-results"]
        self.ours_ar = [i for i, f in enumerate(fields) if f.key == "authentication-results"
                        and (authserv_id(f.value) or "").lower() == self.ours]
        self.seals = [i for i, f in enumerate(fields) if f.key == "x-authsense-seal"]
        self.received = [i for i, f in enumerate(fields) if f.key == "received"]
        self.fields = fields
        self.errors = []
        self.results = self._read()

    def _read(self):
        merged = {}
        for i in self.xagari[:1] + self.ours_ar[:1]:
            f = self.fields[i]
            try:
                h = parse_value(f.value)
            except Exception as e:  # noqa: BLE001
                self.errors.append("authres cannot parse the milter's %s: %s: %s (%r)"
                                   % (f.name, type(e).__name__, e, f.value[:300]))
                continue
            if str(h.authserv_id).lower() != self.ours:
                self.errors.append("the milter's %s has authserv-id %r" % (f.name, str(h.authserv_id)))
            for k, v in results_of(h, xagari=f.key.startswith("x-agari")).items():
                if k not in merged:
                    merged[k] = v
                elif merged[k] != v and k != "dkim":
                    self.errors.append("X-Agari and our Authentication-Results disagree on %s: %r vs %r"
                                       % (k, merged[k], v))
        return merged

    def long_lines(self):
        """Lines of the milter's headers longer than 998 octets."""
        bad = []
        for i in self.xagari + self.ours_ar + self.seals:
            for ln in self.fields[i].lines:
                if len(ln.encode()) > MAX_LINE:
                    bad.append("%s line of %d octets" % (self.fields[i].name, len(ln.encode())))
        return bad


def record_results(rec):
    """The results dict of a sensor record."""
    auth = rec.get("auth") or {}
    out = {}
    for k in SINGLE:
        m = auth.get(k)
        if m:
            out[k] = (m.get("result") or "").lower()
    for m in auth.get("dkim") or []:
        p = {k.lower(): v for k, v in (m.get("props") or [])}
        out.setdefault("dkim", []).append({"result": (m.get("result") or "").lower(),
                                           "d": p.get("header.d"), "i": p.get("header.i"),
                                           "b": p.get("header.b")})
    return out


def same_signature(a, b):
    """Whether two dkim entries describe the same signature (header.d, and
    header.i / header.b where both name one)."""
    if (a.get("d") or "").lower() != (b.get("d") or "").lower():
        return False
    for k in ("i", "b"):
        if a.get(k) and b.get(k) and a[k] != b[k]:
            return False
    return True


def invariants(milter, rec):
    """The promise, for one message: MILTER is the milter's results (empty
    when it did not stamp), REC the record. Returns the violations."""
    got = record_results(rec)
    tampered = (rec.get("auth") or {}).get("source") == "tampered"
    errs = []
    for k in SINGLE:
        if got.get(k) == "pass" and milter.get(k) != "pass":
            errs.append("record has %s=pass, the milter stamped %s" % (k, milter.get(k, "nothing")))
        # The HELO identity's own result is recorded only when the stamp
        # reports it separately (Authentication-Results alone): not erasable.
        if k != "spf_helo" and not tampered and milter.get(k, "none") != "none" and got.get(k) != milter[k]:
            errs.append("the milter's %s=%s is erased: the record has %s" % (k, milter[k], got.get(k)))
    for sig in got.get("dkim", []):
        if sig["result"] == "pass" and not any(
                m["result"] == "pass" and same_signature(m, sig) for m in milter.get("dkim", [])):
            errs.append("record has dkim=pass for %r that the milter did not pass" % sig)
    errs.extend(dmarc_author(rec))
    if not tampered:
        for m in milter.get("dkim", []):
            if m["result"] != "none" and not any(
                    s["result"] == m["result"] and same_signature(m, s) for s in got.get("dkim", [])):
                errs.append("the milter's dkim=%s for %s is erased" % (m["result"], m.get("d")))
    return errs


def dmarc_author(rec):
    """A DMARC pass recorded for the copy must name one of the copy's own
    authors: a pass for another domain (a From the transport rewrote) is a
    pass the copy's reader never got."""
    dmarc = (rec.get("auth") or {}).get("dmarc") or {}
    if (dmarc.get("result") or "").lower() != "pass":
        return []
    props = {k.lower(): v for k, v in (dmarc.get("props") or [])}
    domain = (props.get("header.from") or "").lower()
    mailboxes = rec.get("authors") or ([rec["from"]] if rec.get("from") else [])
    authors = [(m.get("address") or "").rsplit("@", 1)[-1].lower() for m in mailboxes]
    if domain in authors:
        return []
    return ["record has dmarc=pass for header.from=%s, not an author of the copy %s" % (domain, authors)]
