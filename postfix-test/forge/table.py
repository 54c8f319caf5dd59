"""The case type and the helpers case expectations use."""

from dataclasses import dataclass, field
from typing import Callable, Optional


def up(phase):
    return phase.milter


@dataclass
class Case:
    """One message of the suite.

    BUILD(ctx) returns the Msg to send. WHEN(phase) says in which phases it
    is sent (default: every phase with the milter up). STAMP maps a method
    (spf, spf_helo, dmarc, arc, dkim) to the results the milter may stamp
    for it, checked when the phase stamps that method (for dkim: every
    signature's result, and at least one signature). EXPECT(seen) returns
    the case's own violations. DOWN maps the phase's header_checks flag to
    the record's auth.source when the milter is down (None: not sent then).
    """

    name: str
    cls: str
    build: Callable
    honest: bool = False
    when: Callable = up
    stamp: dict = field(default_factory=dict)
    expect: Optional[Callable] = None
    down: Optional[dict] = None

    def sent_in(self, phase):
        if not phase.milter:
            return self.down is not None
        return self.when(phase)


@dataclass
class Seen:
    """What the checker found for one sent message."""

    ctx: object
    entry: dict
    fields: Optional[list]  # the delivered original's header (first inbox copy)
    raw: Optional[bytes]
    rec: Optional[dict]
    stamp: Optional[object]  # verdict.Stamp of the original, milter up only

    @property
    def phase(self):
        return self.ctx.phase


def rules(rec):
    return [r.get("rule") for r in (rec or {}).get("reasons") or []]


def want(errs, cond, msg):
    """Appends MSG to ERRS unless COND."""
    if not cond:
        errs.append(msg)
    return errs


def header_has(fields, name, needle):
    """Whether a top-level field NAME (any case) contains NEEDLE (any case)."""
    return any(f.key == name.lower() and needle.lower() in f.raw.lower() for f in fields or [])


def rec_source(rec):
    return ((rec or {}).get("auth") or {}).get("source")


def untrusted(rec):
    return [x.lower() for x in ((rec or {}).get("auth") or {}).get("untrusted_ids") or []]
