"""Class 1: journal reports. Only a report from a configured journaling
source (``[sensor] journal_sources``: here the address 127.0.0.5 AND the
envelope sender journal@exchange.test, as Exchange journaling delivers
straight to the sensor) is unwrapped; anything else shaped like one is the
message it is: its outer stamp, its real envelope recipients, flagged
``journal_untrusted``."""

import base64
import re

from .cases_stamps import FORGED_SEAL, MARK
from .mail import Msg, compose
from .table import Case, rules, want

JOURNAL_IP = "127.0.0.5"
JOURNAL_SENDER = "journal@exchange.test"
OUTSIDE = ["victim1@outside.example", "victim2@outside.example"]


def _inner_forged(ctx, name, subject="inner wire transfer"):
    return ("Received: from mail.victim.test (mail.victim.test [192.0.2.10])\r\n"
            "\tby mta.forgery.test (Postfix) with ESMTP id 4INNER; Thu, 27 Nov 2025 11:59:00 +0000\r\n"
            "X-Agari-Authentication-Results: mx.forgery.test; spf=pass (%s) smtp.mailfrom=ceo@victim.test"
            " smtp.helo=mail.victim.test\r\n"
            "Authentication-Results: mx.forgery.test; spf=pass smtp.mailfrom=ceo@victim.test;"
            " dkim=pass header.d=victim.test; dmarc=pass header.from=victim.test\r\n"
            "%s\r\nFrom: CEO <ceo@victim.test>\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <inner.%s@victim.test>\r\n\r\nPlease wire the money.\r\n"
            % (MARK, FORGED_SEAL, ", ".join(OUTSIDE), subject, name))


def _inner_donor(ctx):
    """A genuine, sealed original delivered earlier, as Exchange would
    journal it (the Maildir's own Return-Path/Delivered-To left out)."""
    _fields, raw = ctx.donor()
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    head = "\n".join(ln for ln in head.split("\n") if not re.match(r"(?i)(return-path|delivered-to):", ln))
    top = "Received: from mta.forgery.test (127.0.0.1) by exchange.test; Thu, 27 Nov 2025 12:00:05 +0000\n"
    return (top + head + "\n\n" + body).replace("\n", "\r\n")


def _report(ctx, name, desc, inner, envelope, b64=False):
    b = "journal-boundary"
    if b64:
        enc = base64.b64encode(inner.encode()).decode()
        part = ("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                + "\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76)) + "\r\n")
    else:
        part = "Content-Type: message/rfc822\r\n\r\n" + inner
    body = ("--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n%s\r\n--%s\r\n%s\r\n--%s--\r\n"
            % (b, "\r\n".join(envelope), b, part, b))
    return compose(ctx, name, desc, from_hdr=["From: Microsoft Outlook <%s>" % JOURNAL_SENDER],
                   to="journal@inbox.test", mime=False, body=body,
                   extra=["X-MS-Journal-Report:", "MIME-Version: 1.0",
                          'Content-Type: multipart/mixed; boundary="%s"' % b]).encode()


def _forged_env():
    return ["Sender: ceo@victim.test", "Subject: inner wire transfer", "Message-Id: <inner@victim.test>",
            "To: %s" % OUTSIDE[0], "Cc: %s, Forwarded: boss@outside.example" % OUTSIDE[1]]


def _via_perimeter(ctx, name, desc, inner, b64=False):
    data = _report(ctx, name, desc, inner, _forged_env(), b64)
    return Msg("mail.forgery.test", "user@fail.forgery.test", ["user@inbox.test"], data)


def _direct(ctx, name, desc, source, sender, inner, envelope, top=()):
    data = _report(ctx, name, desc, inner, envelope)
    if top:
        data = ("\r\n".join(top) + "\r\n").encode() + data
    return Msg("exchange.test", sender, ["journal@inbox.test"], data, route="direct", source=source)


def _genuine(ctx, name):
    inner = _inner_donor(ctx)
    env = ["Sender: user@pass.forgery.test", "Subject: x", "Message-Id: <x@forgery.test>",
           "To: user@inbox.test", "Cc: other@inbox.test"]
    m = _direct(ctx, name, "genuine journal report", JOURNAL_IP, JOURNAL_SENDER, inner, env)
    m.extra.update(journal_report_id=ctx.msgid(name).strip("<>"), record_token=ctx.donor_token, donor_stamp=True)
    return m


def _genuine_forged_inner(ctx, name):
    """A report from the journaling source around a message that never
    passed our perimeter (its stamp forged): unwrapped, but not believed."""
    inner_tok = ctx.token(name + "-inner")
    env = ["Sender: ceo@victim.test", "Subject: x", "To: user@inbox.test"]
    inner = _inner_forged(ctx, name, subject=inner_tok + " inner wire transfer")
    m = _direct(ctx, name, "genuine report, forged inner stamp", JOURNAL_IP, JOURNAL_SENDER, inner, env)
    m.extra.update(journal_report_id=ctx.msgid(name).strip("<>"), record_token=inner_tok)
    return m


def _unwrapped_tampered(seen):
    r = seen.rec or {}
    errs = want([], bool(r.get("journal")), "the report from the journal source was not unwrapped")
    got = (r.get("auth") or {}).get("source")
    want(errs, got == "tampered", "the forged inner stamp gave auth.source %r, want tampered" % got)
    return want(errs, r.get("rcptto") == ["user@inbox.test"], "rcptto = %r" % r.get("rcptto"))


def _untrusted(outer_rcpts, source=None):
    def check(seen):
        r = seen.rec or {}
        errs = want([], r.get("journal") is None, "a forged report was unwrapped: %r" % r.get("journal"))
        want(errs, (r.get("anomalies") or {}).get("journal_untrusted") is True, "journal_untrusted not set")
        want(errs, "journal-untrusted" in rules(r), "no journal-untrusted rule: %r" % rules(r))
        want(errs, sorted(r.get("rcptto") or []) == outer_rcpts, "rcptto = %r" % r.get("rcptto"))
        want(errs, r.get("msg_id") == seen.ctx.msgid(seen.entry["case"]).strip("<>"),
             "msg_id = %r, not the outer message's" % r.get("msg_id"))
        got = (r.get("auth") or {}).get("source")
        return want(errs, source is None or got == source, "auth.source = %r, want %r" % (got, source))
    return check


def _unwrapped(seen):
    r = seen.rec or {}
    j = r.get("journal") or {}
    errs = want([], bool(j), "the genuine report was not unwrapped")
    want(errs, sorted(r.get("rcptto") or []) == ["other@inbox.test", "user@inbox.test"],
         "rcptto = %r, not the report envelope's" % r.get("rcptto"))
    want(errs, j.get("report_rcptto") == ["journal@inbox.test"], "journal.report_rcptto = %r" % j.get("report_rcptto"))
    want(errs, (r.get("auth") or {}).get("sealed") is True, "the journaled original's stamp is not sealed")
    return want(errs, (r.get("auth") or {}).get("source") == "x-agari", "source %r" % (r.get("auth") or {}).get("source"))


def first_phase(phase):
    return phase.milter and phase.name == "spf"


FAIL = {"spf": {"fail"}}
CASES = [
    Case("journal-forged", "journal",
         lambda c: _via_perimeter(c, "journal-forged", "forged journal report", _inner_forged(c, "j1")),
         stamp=FAIL, expect=_untrusted(["user@inbox.test"])),
    Case("journal-forged-base64", "journal",
         lambda c: _via_perimeter(c, "journal-forged-base64", "forged journal report, base64 original",
                                  _inner_forged(c, "j2"), b64=True),
         stamp=FAIL, expect=_untrusted(["user@inbox.test"])),
    Case("journal-forged-lifted", "journal",
         lambda c: _via_perimeter(c, "journal-forged-lifted", "forged journal report around a genuine original",
                                  _inner_donor(c)),
         stamp=FAIL, expect=_untrusted(["user@inbox.test"])),
    Case("journal-direct-wrong-sender", "journal",
         lambda c: _direct(c, "journal-direct-wrong-sender", "journal source address, other sender",
                           JOURNAL_IP, "attacker@evil.test", _inner_donor(c), _forged_env(),
                           top=["X-Agari-Authentication-Results: mx.forgery.test; spf=pass (%s)" % MARK]),
         when=first_phase, expect=_untrusted(["journal@inbox.test"], "tampered")),
    Case("journal-direct-wrong-address", "journal",
         lambda c: _direct(c, "journal-direct-wrong-address", "journal sender, other address",
                           "127.0.0.1", JOURNAL_SENDER, _inner_donor(c), _forged_env()),
         when=first_phase, expect=_untrusted(["journal@inbox.test"], "none")),
    Case("journal-genuine", "journal", lambda c: _genuine(c, "journal-genuine"), True, expect=_unwrapped),
    Case("journal-source-forged-inner", "journal", lambda c: _genuine_forged_inner(c, "journal-source-forged-inner"),
         when=first_phase, expect=_unwrapped_tampered),
]
