"""Honest baselines: what the perimeter really computes must reach the
record unchanged and sealed, through everything Postfix legitimately does
(missing fields added, long lines broken on the way to the sensor)."""

from . import dkimsign as ds
from .mail import Msg, compose, plain
from .table import Case, want

B64_LINE = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo="


def _signed(ctx, name, desc, sign, **kw):
    kw.setdefault("sender", "author@signed.test")
    m = plain(ctx, name, desc, **kw)
    m.data = ds.prepend(sign(m.data), m.data)
    return m


def _arc(ctx, name):
    top = ["Authentication-Results: arc.signed.test; spf=pass smtp.mailfrom=signed.test"]
    m = plain(ctx, name, "honest ARC set", top=top, sender="author@signed.test")
    m.data = ds.prepend(ds.arc_seal(m.data, ctx.keys), m.data)
    return m


def _long_lines(ctx, name):
    x = "X-Long-Legal: "
    to = ",\r\n ".join(["User <user@inbox.test>"] + ["friend%03d@outside.example" % i for i in range(120)])
    body = ("b" * 998 + "\r\n") * 3 + "end\r\n"
    return plain(ctx, name, "lines of exactly 998 octets, a long folded To",
                 to=to, extra=[x + "v" * (998 - len(x))], body=body)


def _long_body(ctx, name):
    body = "short line\r\n" + "w" * 1500 + "\r\n" + " ".join(["word"] * 800) + "\r\n" + "z" * 3000 + "\r\nend\r\n"
    return plain(ctx, name, "body lines over 998 (and over 2048) octets", body=body)


def _multipart(ctx, name):
    b = "fgboundary"
    body = ("--%s\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
            "--%s\r\nContent-Type: application/octet-stream; name=data.bin\r\n"
            "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=data.bin\r\n\r\n"
            "%s--%s--\r\n") % (b, b, (B64_LINE + "\r\n") * 20, b)
    data = compose(ctx, name, "multipart with a base64 attachment", mime=False,
                   extra=["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="%s"' % b],
                   body=body).encode()
    return Msg("mail.forgery.test", "user@pass.forgery.test", ["user@inbox.test"], data)


def _bare(ctx, name, route):
    m = plain(ctx, name, "no Date, Message-ID or To (%s client)" % route, date=False, msgid=False, to=None)
    m.route = route
    return m


def _internal_expect(seen):
    """Postfix adds Date and Message-ID for a local client: the seal must
    cover what it added (the milter sees the fields cleanup adds)."""
    errs = []
    keys = [f.key for f in seen.fields or []]
    want(errs, "message-id" in keys and "date" in keys,
         "Postfix added no Date/Message-ID for the internal client (fields: %s)" % keys)
    return errs


def _rcpts_expect(seen):
    got = sorted((seen.rec or {}).get("rcptto") or [])
    return want([], got == ["outsider@outside.example", "user@inbox.test"], "rcptto = %r" % got)


PASS = {"spf": {"pass"}, "dmarc": {"pass"}}
CASES = [
    Case("spf-pass", "honest", lambda c: plain(c, "spf-pass", "honest SPF pass"), True, stamp=PASS,
         down={False: "none", True: "none"}),
    Case("spf-fail", "honest", lambda c: plain(c, "spf-fail", "honest SPF fail", mailfrom="user@fail.forgery.test"),
         True, stamp={"spf": {"fail"}, "dmarc": {"fail"}}),
    Case("spf-softfail", "honest",
         lambda c: plain(c, "spf-softfail", "honest SPF softfail", mailfrom="user@softfail.forgery.test"),
         True, stamp={"spf": {"softfail"}, "dmarc": {"fail"}}),
    Case("null-sender", "honest",
         lambda c: plain(c, "null-sender", "null sender, HELO identity", mailfrom="",
                         sender="postmaster@forgery.test"), True, stamp=PASS),
    Case("dkim-rsa-sha256", "honest",
         lambda c: _signed(c, "dkim-rsa-sha256", "DKIM rsa-sha256", lambda d: ds.lib_sign(d, c.keys)),
         True, stamp={"spf": {"pass"}, "dkim": {"pass"}, "dmarc": {"pass"}}),
    Case("dkim-ed25519", "honest",
         lambda c: _signed(c, "dkim-ed25519", "DKIM ed25519-sha256",
                           lambda d: ds.lib_sign(d, c.keys, algo="ed25519-sha256")),
         True, stamp={"dkim": {"pass"}, "dmarc": {"pass"}}),
    Case("dkim-own-signer", "honest",
         lambda c: _signed(c, "dkim-own-signer", "the lax variants' signer, well-formed tags",
                           lambda d: ds.own_sign(d, c.keys, ds.good_tags())),
         True, stamp={"dkim": {"pass"}, "dmarc": {"pass"}}),
    Case("arc-rsa-sha256", "honest", lambda c: _arc(c, "arc-rsa-sha256"), True, stamp={"arc": {"pass"}}),
    Case("bare-outside", "honest", lambda c: _bare(c, "bare-outside", "outside"), True, stamp={"spf": {"pass"}}),
    Case("bare-internal", "honest", lambda c: _bare(c, "bare-internal", "internal"), True,
         stamp={"spf": {"pass"}}, expect=_internal_expect),
    Case("long-legal-lines", "honest", lambda c: _long_lines(c, "long-legal-lines"), True, stamp=PASS),
    Case("body-over-998", "honest", lambda c: _long_body(c, "body-over-998"), True, stamp=PASS),
    Case("multipart", "honest", lambda c: _multipart(c, "multipart"), True, stamp=PASS),
    Case("two-recipients", "honest",
         lambda c: plain(c, "two-recipients", "an inbox and an outside recipient",
                         rcpts=("user@inbox.test", "outsider@outside.example")),
         True, stamp=PASS, expect=_rcpts_expect),
]
