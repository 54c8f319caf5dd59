"""Class 7: alert abuse. A flood of malicious junk from one domain must not
silence the alert about a malicious message from another (budgets per
sender domain, a digest instead of a dropped alert), a forged
Auto-Submitted / X-Authsense-Alert does not keep a malicious message from
being alerted, and recipient warnings go only to org_domains envelope
recipients (the global checks in ``side`` cover every alert mail)."""

from .mail import plain
from .table import Case, want

ALERT_PHASE = "all-ar"
FLOOD = 8
FORGED_TAG = ["Auto-Submitted: auto-generated",
              "X-Authsense-Alert: 1764244800.1f2e.1; " + "0" * 64]


def _bad(ctx, name, dom, extra=(), rcpts=("user@inbox.test",)):
    return plain(ctx, name, "malicious mail from %s" % dom, mailfrom="user@" + dom,
                 sender="boss@" + dom, extra=extra, rcpts=rcpts)


def in_alert_phase(phase):
    return phase.milter and phase.name == ALERT_PHASE


def _malicious(seen):
    v = (seen.rec or {}).get("verdict")
    return want([], v == "malicious", "verdict %r, the alert cases need malicious" % v)


def _alerted(how):
    """The record's uid is in a threat alert (HOW direct) or in one or a
    digest (HOW any)."""
    def check(seen):
        errs = _malicious(seen)
        got = seen.ctx.alerted((seen.rec or {}).get("uid"))
        ok = got == "direct" if how == "direct" else got in ("direct", "digest")
        return want(errs, ok, "alert for this record: %s, want %s" % (got, how))
    return check


def _warned(seen):
    errs = _alerted("any")(seen)
    tok = seen.ctx.token(seen.entry["case"])
    to = seen.ctx.warned(tok)
    return want(errs, to == ["user@inbox.test"], "recipient warnings went to %r, want only user@inbox.test" % to)


def _flood(i):
    name = "junk-flood-%d" % i
    return Case(name, "alerts", lambda c: _bad(c, name, "junk.test"), when=in_alert_phase,
                stamp={"spf": {"fail"}, "dmarc": {"fail"}}, expect=_alerted("any"))


CASES = [_flood(i) for i in range(1, FLOOD + 1)] + [
    Case("evil-after-flood", "alerts", lambda c: _bad(c, "evil-after-flood", "evil.test"), when=in_alert_phase,
         stamp={"spf": {"fail"}, "dmarc": {"fail"}}, expect=_alerted("direct")),
    Case("evil-forged-alert-tag", "alerts",
         lambda c: _bad(c, "evil-forged-alert-tag", "evil.test", extra=FORGED_TAG), when=in_alert_phase,
         stamp={"spf": {"fail"}}, expect=_alerted("any")),
    Case("evil-outside-recipient", "alerts",
         lambda c: _bad(c, "evil-outside-recipient", "evil.test",
                        rcpts=("user@inbox.test", "outsider@outside.example")),
         when=in_alert_phase, stamp={"spf": {"fail"}}, expect=_warned),
]
