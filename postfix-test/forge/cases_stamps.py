"""Class 4: forged stamps in every spelling, below the perimeter's own
Received (an outsider cannot write above it), and genuine seals lifted from
a delivered original onto another message.

With the milter up, all of it is deleted and the milter's own verdict is
recorded. With the milter down (milter_default_action = accept), a forged
stamp of our id has no valid seal: tampered; with the header_checks lines
of ``authsense postfix-config`` the forged X-Agari never arrives (source
none) while a forged Authentication-Results of our id still is tampered."""

from .mail import plain
from .table import Case, header_has, rec_source, want

MARK = "forged-claim"  # in every forged field: the milter never writes it
FORGED_SEAL = "X-Authsense-Seal: v=1; k=0badc0de; t=1764244800; c=x; h=from:to:subject; s=" + "ab" * 32


def _forged(ctx, name, desc, top, **kw):
    kw.setdefault("mailfrom", "user@fail.forgery.test")
    kw.setdefault("sender", "ceo@victim.test")
    return plain(ctx, name, desc, top=top, **kw)


def _claim(spelling):
    """An X-Agari claiming pass for everything, in SPELLING (name: value)."""
    return spelling + " spf=pass (" + MARK + ") smtp.mailfrom=ceo@victim.test smtp.helo=mail.victim.test"


def _lifted(ctx, name, same_fields):
    """The donor's stamps and seal on top of another message (another
    subject and body; with SAME_FIELDS its From, To, Date and Message-ID)."""
    fields, _raw = ctx.donor()
    keep = ("x-agari-authentication-results", "authentication-results", "x-authsense-seal")
    top = [f.name + ":" + f.raw.replace("\n", "\r\n") for f in fields if f.key in keep]
    kw = {}
    if same_fields:
        val = {f.key: f.raw.strip() for f in fields}
        kw = dict(from_hdr=["From: " + val["from"]], to=val["to"], msgid=False,
                  extra=["Message-ID: " + val["message-id"]])
    m = _forged(ctx, name, "lifted seal, other message", top, body="Another body: pay invoice 42.\r\n", **kw)
    m.extra["donor"] = next((f.value for f in fields if f.key == "subject"), "")
    return m


def _no_forgery_left(seen):
    """With the milter up, no forged field reaches the original."""
    n = sum(1 for f in seen.fields or [] if MARK in f.raw.lower())
    return want([], n == 0, "%d forged field(s) reached the original" % n)


def _seal_replaced(seen):
    errs = want([], sum(1 for f in seen.fields or [] if f.key == "x-authsense-seal") == 1,
                "not exactly one seal in the original")
    return want(errs, not header_has(seen.fields, "x-authsense-seal", "0badc0de"), "the forged seal survived")


def _pp_ignored(seen):
    """A trusted id that needs no seal (a gateway that cannot seal), forged
    below the perimeter's Received: outside the stamp's group, ignored."""
    errs = want([], rec_source(seen.rec) == "x-agari", "source %r" % rec_source(seen.rec))
    conflicts = " ".join((seen.rec or {}).get("auth", {}).get("conflicts") or [])
    return want(errs, "pp.forgery.test" in conflicts, "no note about the ignored pp.forgery.test header: %r" % conflicts)


FAIL = {"spf": {"fail"}, "dmarc": {"fail"}}
HC = {False: "tampered", True: "none"}  # a forged X-Agari: dropped by header_checks
TAMPERED = {False: "tampered", True: "tampered"}
CASES = [
    Case("forged-xagari", "stamps",
         lambda c: _forged(c, "forged-xagari", "forged X-Agari",
                           [_claim("X-Agari-Authentication-Results: mx.forgery.test;")]),
         stamp=FAIL, expect=_no_forgery_left, down=HC),
    Case("forged-xagari-case", "stamps",
         lambda c: _forged(c, "forged-xagari-case", "forged X-Agari, other case",
                           [_claim("x-agari-authentication-results: MX.FORGERY.TEST;").upper()]),
         stamp=FAIL, expect=_no_forgery_left, down=HC),
    Case("forged-xagari-quoted", "stamps",
         lambda c: _forged(c, "forged-xagari-quoted", "forged X-Agari, quoted id",
                           [_claim('X-Agari-Authentication-Results: "mx.forgery.test";')]),
         stamp=FAIL, expect=_no_forgery_left, down=HC),
    Case("forged-xagari-comments", "stamps",
         lambda c: _forged(c, "forged-xagari-comments", "forged X-Agari, comments and version",
                           [_claim("X-Agari-Authentication-Results: (gw (1)) mx.forgery.test (v) 1 ;")]),
         stamp=FAIL, expect=_no_forgery_left, down=HC),
    Case("forged-xagari-folded", "stamps",
         lambda c: _forged(c, "forged-xagari-folded", "forged X-Agari, folded",
                           ["X-Agari-Authentication-Results:\r\n mx.forgery.test\r\n\t;\r\n spf=pass"
                            " (forged-claim) smtp.mailfrom=ceo@victim.test;\r\n dkim=pass header.d=victim.test;"
                            "\r\n dmarc=pass header.from=victim.test"]),
         stamp=FAIL, expect=_no_forgery_left, down=HC),
    Case("forged-xagari-space-colon", "stamps",
         lambda c: _forged(c, "forged-xagari-space-colon", "forged X-Agari, space before the colon",
                           [_claim("X-Agari-Authentication-Results : mx.forgery.test;")]),
         stamp=FAIL, expect=_no_forgery_left, down=HC),
    Case("forged-ar-spellings", "stamps",
         lambda c: _forged(c, "forged-ar-spellings", "forged Authentication-Results, many spellings",
                           ["Authentication-Results: mx.forgery.test; spf=pass (forged-claim) smtp.mailfrom=ceo@victim.test",
                            "authentication-results: MX.Forgery.Test 1; dmarc=pass (forged-claim) header.from=victim.test",
                            'Authentication-Results: "mx.forgery.test"; dkim=pass (forged-claim) header.d=victim.test',
                            "Authentication-Results: (c) mx.forgery.test (forged-claim) none"]),
         stamp=FAIL, expect=_no_forgery_left, down=TAMPERED),
    Case("forged-ar-unparsable", "stamps",
         lambda c: _forged(c, "forged-ar-unparsable", "forged Authentication-Results, unparsable",
                           ["Authentication-Results: (unterminated (forged-claim) mx.forgery.test; spf=pass"]),
         stamp=FAIL, expect=_no_forgery_left),
    Case("forged-unsealed-gateway", "stamps",
         lambda c: _forged(c, "forged-unsealed-gateway", "forged AR of a trusted gateway without seal",
                           ["Authentication-Results: pp.forgery.test; spf=pass smtp.mailfrom=ceo@victim.test;"
                            " dkim=pass header.d=victim.test; dmarc=pass header.from=victim.test"]),
         stamp=FAIL, expect=_pp_ignored, down=TAMPERED),
    Case("forged-trace-and-seal", "stamps",
         lambda c: _forged(c, "forged-trace-and-seal", "forged Received, stamp and seal",
                           ["Received: from mail.victim.test (mail.victim.test [192.0.2.10])\r\n"
                            "\tby mta.forgery.test (Postfix) with ESMTP id 4FAKE;\r\n"
                            "\tThu, 27 Nov 2025 11:59:00 +0000 (UTC)",
                            _claim("X-Agari-Authentication-Results: mx.forgery.test;"), FORGED_SEAL]),
         stamp=FAIL, expect=_seal_replaced, down=HC),
    Case("lifted-seal", "stamps", lambda c: _lifted(c, "lifted-seal", False),
         stamp=FAIL, expect=_seal_replaced, down=TAMPERED),
    Case("lifted-seal-same-fields", "stamps", lambda c: _lifted(c, "lifted-seal-same-fields", True),
         stamp={"spf": {"fail"}}, expect=_seal_replaced, down=TAMPERED),
    Case("forged-seal-only", "stamps",
         lambda c: plain(c, "forged-seal-only", "honest message with a forged seal", top=[FORGED_SEAL]),
         stamp={"spf": {"pass"}}, expect=_seal_replaced, down={False: "none", True: "none"}),
]
