"""Beyond the issue's classes: injection through the values the milter
copies into its stamp. HELO (Postfix joins a multi-word EHLO argument),
the MAIL FROM local part and DKIM tags are the sender's; a value with
``;``, ``(`` or ``"`` written unquoted would add a result of the sender's
choice (``; dmarc=pass``) to the milter's own stamp. The author domain is
victim.test (p=reject), so any dmarc=pass in a record would be injected."""

from . import dkimsign as ds
from .mail import Msg, compose, plain
from .table import Case, want

INJECT = "dmarc=pass header.from=victim.test"


def _helo(ctx, name, helo):
    return plain(ctx, name, "HELO injection", helo=helo, sender="ceo@victim.test")


def _mailfrom(ctx, name, local):
    m = plain(ctx, name, "MAIL FROM injection", sender="ceo@victim.test")
    m.mailfrom = "<%s@pass.forgery.test>" % local
    return m


def _dkim_i(ctx, name):
    m = plain(ctx, name, "DKIM i= injection", sender="ceo@victim.test")
    tags = ds.good_tags()
    tags.insert(5, ("i", "x(dmarc=pass)@signed.test"))
    m.data = ds.prepend(ds.own_sign(m.data, ctx.keys, tags), m.data)
    return m


def _utf8(ctx, name):
    data = compose(ctx, name, "UTF-8 Grüße", from_hdr=["From: Jörg Müller <user@pass.forgery.test>"],
                   extra=["X-Note: naïve café"], mime=False,
                   body="Grüße aus dem Labor.\r\n").encode()
    data = data.replace(b"\r\n\r\n", b"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        b"Content-Transfer-Encoding: 8bit\r\n\r\n", 1)
    return Msg("mail.forgery.test", "user@pass.forgery.test", ["user@inbox.test"], data, options=["SMTPUTF8"])


def _no_injected_dmarc(seen):
    """The record's dmarc is what the milter stamped; never pass here."""
    got = ((seen.rec or {}).get("auth") or {}).get("dmarc") or {}
    return want([], got.get("result") != "pass", "record dmarc=pass: injected")


def _quoted(seen):
    """The milter quoted the value: a phase without dmarc stamps none."""
    errs = _no_injected_dmarc(seen)
    if seen.stamp and not seen.phase.stamps("dmarc"):
        want(errs, "dmarc" not in seen.stamp.results, "a dmarc result in the stamp: injected")
    return errs


STAMP = {"dmarc": {"fail"}}
CASES = [
    Case("helo-inject-words", "inject", lambda c: _helo(c, "helo-inject-words", "mail.forgery.test; " + INJECT),
         stamp=STAMP, expect=_quoted),
    Case("helo-inject-semicolon", "inject", lambda c: _helo(c, "helo-inject-semicolon", "x;dmarc=pass"),
         stamp=STAMP, expect=_quoted),
    Case("helo-inject-paren", "inject", lambda c: _helo(c, "helo-inject-paren", "mail.forgery.test(x"),
         stamp=STAMP, expect=_quoted),
    Case("mailfrom-inject-quoted", "inject",
         lambda c: _mailfrom(c, "mailfrom-inject-quoted", '"x;%s"' % INJECT),
         stamp={"spf": {"pass"}, "dmarc": {"fail"}}, expect=_quoted),
    Case("mailfrom-inject-escaped", "inject",
         lambda c: _mailfrom(c, "mailfrom-inject-escaped", '"x\\";dmarc=pass (y"'),
         stamp={"dmarc": {"fail"}}, expect=_quoted),
    Case("dkim-inject-i", "inject", lambda c: _dkim_i(c, "dkim-inject-i"),
         stamp={"dmarc": {"fail"}}, expect=_quoted),
    Case("utf8-smtputf8", "honest", lambda c: _utf8(c, "utf8-smtputf8"), True, stamp={"spf": {"pass"}}),
]
