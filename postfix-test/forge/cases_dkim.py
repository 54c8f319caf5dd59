"""Class 6: weak crypto and lax tag-lists (RFC 8301 §3.1, RFC 6376 §3.2).

Every signature here is cryptographically valid over the message (the
honest ``dkim-own-signer`` case proves the signer); what must make it fail
is the algorithm or the syntax. The author domain signed.test publishes
p=reject and SPF that fails, so DMARC can only pass through DKIM."""

from . import dkimsign as ds
from .cases_lines import NOT_PASS
from .mail import plain
from .table import Case, want


def _signed(ctx, name, desc, tags):
    m = plain(ctx, name, desc, sender="author@signed.test")
    m.data = ds.prepend(ds.own_sign(m.data, ctx.keys, tags), m.data)
    return m


def _tags_without(name):
    return [t for t in ds.good_tags() if t[0] != name]


def _tags_dup(name):
    tags = ds.good_tags()
    i = next(i for i, t in enumerate(tags) if t[0] == name)
    return tags[:i + 1] + [tags[i]] + tags[i + 1:]


def _sha1(ctx, name):
    m = plain(ctx, name, "valid rsa-sha1 signature", sender="author@signed.test")
    m.data = ds.prepend(ds.lib_sign(m.data, ctx.keys, algo="rsa-sha1"), m.data)
    return m


def _sha1_and_sha256(ctx, name):
    m = plain(ctx, name, "rsa-sha1 and rsa-sha256 signatures", sender="author@signed.test")
    sha1 = ds.lib_sign(m.data, ctx.keys, algo="rsa-sha1")
    sha256 = ds.lib_sign(m.data, ctx.keys)
    m.data = ds.prepend(sha1, ds.prepend(sha256, m.data))
    return m


def _one_pass_one_not(seen):
    """Each signature judged on its own: exactly the rsa-sha256 one passes."""
    sigs = (seen.stamp.results.get("dkim") if seen.stamp else None) or []
    if not seen.phase.stamps("dkim"):
        return []
    n = sum(1 for s in sigs if s["result"] == "pass")
    return want([], len(sigs) == 2 and n == 1, "dkim results in the stamp: %r" % sigs)


def _arc_sha1(ctx, name):
    top = ["Authentication-Results: arc.signed.test; spf=pass smtp.mailfrom=signed.test"]
    m = plain(ctx, name, "ARC set signed rsa-sha1", top=top, sender="author@signed.test")
    m.data = ds.prepend(ds.arc_seal(m.data, ctx.keys, algo="rsa-sha1"), m.data)
    return m


DKIM_BAD = {"dkim": NOT_PASS, "dmarc": {"fail"}}
CASES = [
    Case("dkim-rsa-sha1", "dkim", lambda c: _sha1(c, "dkim-rsa-sha1"), stamp=DKIM_BAD),
    Case("dkim-sha1-and-sha256", "dkim", lambda c: _sha1_and_sha256(c, "dkim-sha1-and-sha256"),
         stamp={"dmarc": {"pass"}}, expect=_one_pass_one_not),
    Case("dkim-no-a", "dkim", lambda c: _signed(c, "dkim-no-a", "DKIM without a=", _tags_without("a")),
         stamp=DKIM_BAD),
    Case("dkim-no-v", "dkim", lambda c: _signed(c, "dkim-no-v", "DKIM without v=", _tags_without("v")),
         stamp=DKIM_BAD),
    Case("dkim-dup-d", "dkim", lambda c: _signed(c, "dkim-dup-d", "DKIM with d= twice", _tags_dup("d")),
         stamp=DKIM_BAD),
    Case("dkim-dup-h", "dkim", lambda c: _signed(c, "dkim-dup-h", "DKIM with h= twice", _tags_dup("h")),
         stamp=DKIM_BAD),
    Case("dkim-malformed-tag", "dkim",
         lambda c: _signed(c, "dkim-malformed-tag", "DKIM with a tag without =",
                           ds.good_tags()[:2] + [("junk", None)] + ds.good_tags()[2:]),
         stamp=DKIM_BAD),
    Case("arc-rsa-sha1", "dkim", lambda c: _arc_sha1(c, "arc-rsa-sha1"), stamp={"arc": {"fail", "permerror"}}),
]
