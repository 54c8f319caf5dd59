"""Class 5: author-domain tricks (RFC 5322 §3.4, RFC 7489 §6.6.1).

victim.test publishes p=reject and its SPF fails for the lab's client; the
envelope sender passes SPF for forgery.test, another organisational
domain, so nothing aligns with victim.test. Every From trick must give a
failing DMARC result (fail or permerror), never none or pass."""

from .mail import plain
from .table import Case, rules, want

BAD = {"fail", "permerror"}


def _from(ctx, name, desc, fields):
    return plain(ctx, name, desc, from_hdr=fields)


def _authors(seen):
    """Addresses of the record's authors (lowercase)."""
    return [(a.get("address") or "").lower() for a in (seen.rec or {}).get("authors") or []]


def _ambiguous(seen):
    return want([], "ambiguous-from" in rules(seen.rec), "no ambiguous-from rule: %r" % rules(seen.rec))


def _author_is_victim(seen):
    """The author's domain is read without the CFWS around it."""
    got = _authors(seen)
    return want([], any(a.endswith("@victim.test") for a in got), "authors %r lack the victim.test address" % got)


def _both(*checks):
    def check(seen):
        return [e for c in checks for e in c(seen)]
    return check


DMARC = {"dmarc": BAD}
CASES = [
    Case("from-space-domain", "from",
         lambda c: _from(c, "from-space-domain", "From a@ victim.test", ["From: a@ victim.test"]),
         stamp={"dmarc": {"fail"}}, expect=_author_is_victim),
    Case("from-comment-domain", "from",
         lambda c: _from(c, "from-comment-domain", "From a@(comment)victim.test", ["From: a@(comment)victim.test"]),
         stamp={"dmarc": {"fail"}}, expect=_author_is_victim),
    Case("from-folded-domain", "from",
         lambda c: _from(c, "from-folded-domain", "From folded inside the address",
                         ["From: Boss <boss\r\n @\r\n victim.test>"]),
         stamp={"dmarc": {"fail"}}, expect=_author_is_victim),
    Case("two-from-fields", "from",
         lambda c: _from(c, "two-from-fields", "two From fields",
                         ["From: user@pass.forgery.test", "From: ceo@victim.test"]),
         stamp=DMARC, expect=_ambiguous),
    Case("two-addresses", "from",
         lambda c: _from(c, "two-addresses", "one From with two addresses",
                         ["From: user@pass.forgery.test, CEO <ceo@victim.test>"]),
         stamp=DMARC, expect=_both(_ambiguous, _author_is_victim)),
    Case("from-group", "from",
         lambda c: _from(c, "from-group", "From as a group", ["From: Board: ceo@victim.test, cfo@victim.test;"]),
         stamp=DMARC, expect=_ambiguous),
    Case("from-empty-group", "from",
         lambda c: _from(c, "from-empty-group", "From an empty group", ["From: undisclosed-authors:;"]),
         stamp={"dmarc": {"permerror"}}, expect=_ambiguous),
    Case("no-from", "from", lambda c: _from(c, "no-from", "no From at all", []),
         stamp={"dmarc": {"permerror"}}, expect=_ambiguous),
    Case("from-display-address", "from",
         lambda c: _from(c, "from-display-address", "an address in the display name",
                         ['From: "user@pass.forgery.test" <ceo@victim.test>']),
         stamp={"dmarc": {"fail"}}, expect=_author_is_victim),
    Case("from-encoded-word", "from",
         lambda c: _from(c, "from-encoded-word", "an encoded address in the display name",
                         ["From: =?utf-8?q?user=40pass=2Eforgery=2Etest?= <ceo@victim.test>"]),
         stamp={"dmarc": {"fail"}}, expect=_author_is_victim),
    Case("from-quoted-local", "from",
         lambda c: _from(c, "from-quoted-local", "a quoted local part with an @",
                         ['From: "user@pass.forgery.test"@victim.test']),
         stamp={"dmarc": {"fail"}}, expect=_author_is_victim),
    Case("from-upper-dot", "from",
         lambda c: _from(c, "from-upper-dot", "upper case and a trailing dot", ["From: CEO@VICTIM.TEST."]),
         stamp=DMARC),
    Case("from-route", "from",
         lambda c: _from(c, "from-route", "an obsolete source route",
                         ["From: <@pass.forgery.test:ceo@victim.test>"]),
         stamp=DMARC),
]
