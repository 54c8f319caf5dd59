"""Classes 2 and 3: line-length attacks on the stamp, and authserv-ids that
a transport breaking lines at 998 octets would assemble.

Postfix's virtual(8) writes the Maildir original without breaking lines;
its smtp client breaks every line over 998 octets (CRLF + space) on both
hops to the sensor, so the sensor sees what the issue describes."""

from . import dkimsign as ds
from .mail import plain
from .table import Case, header_has, untrusted, want

NOT_PASS = {"fail", "permerror", "temperror", "neutral", "policy", "none"}
LONG_HELO = ".".join(["h" * 63] * 17) + ".forgery.test"  # 1101 octets
LONG_LOCAL = "l" * 1000


def _long_helo(ctx, name):
    return plain(ctx, name, "HELO of %d octets" % len(LONG_HELO), helo=LONG_HELO)


def _long_mailfrom(ctx, name):
    return plain(ctx, name, "MAIL FROM local part of 1000 octets",
                 mailfrom=LONG_LOCAL + "@pass.forgery.test", sender="user@pass.forgery.test")


def _long_dkim_i(ctx, name, helo="mail.forgery.test", mailfrom="user@pass.forgery.test"):
    m = plain(ctx, name, "DKIM i= of 1000 octets", helo=helo, mailfrom=mailfrom,
              sender="author@signed.test")
    m.data = ds.prepend(ds.lib_sign(m.data, ctx.keys, identity="i" * 1000 + "@signed.test"), m.data)
    return m


def _long_selector(ctx, name):
    m = plain(ctx, name, "DKIM s= of about 1000 octets", sender="author@signed.test")
    sel = ".".join(["s" * 62] * 16)
    m.data = ds.prepend(ds.own_sign(m.data, ctx.keys, ds.good_tags(selector=sel)), m.data)
    return m


def _no_long_value(seen):
    """The absurd values never appear in the milter's headers."""
    errs = []
    for i in (seen.stamp.xagari + seen.stamp.ours_ar) if seen.stamp else []:
        v = seen.fields[i].raw
        want(errs, "h" * 63 not in v and LONG_LOCAL not in v and "i" * 300 not in v,
             "the milter's %s carries an absurd value" % seen.fields[i].name)
    return errs


def _straddle(ctx, name, field, before, after="x", pad="comment"):
    """FIELD: (padding) BEFORE AFTER; spf=pass, padded so that BEFORE ends
    exactly at octet 998 of the line: a transport breaking the line there
    turns BEFORE into a field of its own."""
    head = "%s: " % field
    n = 998 - len(head) - len(before)
    padding = "(" + "p" * (n - 3) + ") " if pad == "comment" else " " * n
    line = head + padding + before + after + "; spf=pass smtp.mailfrom=ceo@victim.test"
    assert line.index(before) + len(before) == 998, line.index(before)
    return plain(ctx, name, "%s%s straddling octet 998" % (before, after), top=[line],
                 mailfrom="user@fail.forgery.test", sender="ceo@victim.test")


def _gone(idval):
    def check(seen):
        kinds = ("authentication-results", "x-agari-authentication-results")
        return want([], not any(idval in f.raw for f in seen.fields or [] if f.key in kinds),
                    "the header with %r, which the milter must delete, reached the original" % idval)
    return check


def _folded_by_sender(ctx, name):
    head = "Authentication-Results: ("
    first = head + "p" * (990 - len(head)) + ")"
    return plain(ctx, name, "folded by its sender: a foreign id", top=[first + "\r\n\tmx.forgery.testx; spf=pass"],
                 mailfrom="user@fail.forgery.test", sender="ceo@victim.test")


def _kept_foreign(seen):
    errs = want([], header_has(seen.fields, "authentication-results", "mx.forgery.testx"),
                "the sender-folded foreign header was deleted (it is not ours)")
    return want(errs, "mx.forgery.testx" in untrusted(seen.rec),
                "record lacks mx.forgery.testx among untrusted ids: %r" % untrusted(seen.rec))


def _our_id_in_comment(ctx, name):
    line = "Authentication-Results: relay.forgery.test; spf=pass (" + "c" * 990 + " mx.forgery.test)"
    return plain(ctx, name, "foreign id, our id in a comment, line over 998", top=[line],
                 mailfrom="user@fail.forgery.test", sender="ceo@victim.test")


FAIL = {"spf": {"fail"}, "dmarc": {"fail"}}
TAMPERED = {False: "tampered", True: "tampered"}
# "mx.forgery.test<CRLF SP>x" inside quotes is one quoted-string, not our id.
NONE = {False: "none", True: "none"}
CASES = [
    Case("long-helo", "lines", lambda c: _long_helo(c, "long-helo"), stamp={"spf": {"pass"}},
         expect=_no_long_value),
    Case("long-mailfrom", "lines", lambda c: _long_mailfrom(c, "long-mailfrom"), stamp={"spf": {"pass"}},
         expect=_no_long_value),
    Case("long-dkim-i", "lines", lambda c: _long_dkim_i(c, "long-dkim-i"), stamp={"dkim": {"pass"}},
         expect=_no_long_value),
    Case("long-dkim-selector", "lines", lambda c: _long_selector(c, "long-dkim-selector"),
         stamp={"dkim": NOT_PASS}, expect=_no_long_value),
    Case("long-mix", "lines",
         lambda c: _long_dkim_i(c, "long-mix", helo=LONG_HELO, mailfrom=LONG_LOCAL + "@fail.forgery.test"),
         stamp={"spf": {"fail"}, "dkim": {"pass"}}, expect=_no_long_value),
    Case("straddle-ar", "straddle",
         lambda c: _straddle(c, "straddle-ar", "Authentication-Results", "mx.forgery.test"),
         stamp=FAIL, expect=_gone("mx.forgery.testx"), down=TAMPERED),
    Case("straddle-xagari", "straddle",
         lambda c: _straddle(c, "straddle-xagari", "X-Agari-Authentication-Results", "mx.forgery.test"),
         stamp=FAIL, expect=_gone("mx.forgery.testx"), down={False: "tampered", True: "none"}),
    Case("straddle-quoted", "straddle",
         lambda c: _straddle(c, "straddle-quoted", "Authentication-Results", '"mx.forgery.test', 'x"'),
         stamp=FAIL, expect=_gone("mx.forgery.testx"), down=NONE),
    Case("straddle-spaces", "straddle",
         lambda c: _straddle(c, "straddle-spaces", "Authentication-Results", "mx.forgery.test", pad="spaces"),
         stamp=FAIL, expect=_gone("mx.forgery.testx"), down=TAMPERED),
    Case("straddle-unsealed-id", "straddle",
         lambda c: _straddle(c, "straddle-unsealed-id", "Authentication-Results", "pp.forgery.test"),
         stamp=FAIL, down=TAMPERED),
    Case("our-id-in-long-comment", "straddle", lambda c: _our_id_in_comment(c, "our-id-in-long-comment"),
         stamp=FAIL, expect=_gone("relay.forgery.test")),
    Case("folded-by-sender", "straddle", lambda c: _folded_by_sender(c, "folded-by-sender"),
         stamp=FAIL, expect=_kept_foreign),
]
