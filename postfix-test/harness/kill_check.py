"""e2e-milter-kill: the verdict of one phase.

  kill_check.py PHASE MODE DIR SINK AUTHSERV_ID

MODE is the smtpd's milter_default_action (tempfail or accept).  DIR holds
the phase's events (up/kill/down/spawn with times), results and retry
(kill_sender.py output); SINK the smtp-sink's dump files.  Prints an info
line and one PASS/FAIL line per check (up to 10 examples under a FAIL).
"""

import glob
import re
import sys

INF = float("inf")


class Timeline:
    """When the milter was up and down (from DIR/events)."""

    def __init__(self, path):
        with open(path) as f:
            self.ev = [(k, float(t)) for k, t in (line.split() for line in f)]
        ev = self.ev
        self.kills = [t for k, t in ev if k == "kill"]
        self.ups = [t for k, t in ev if k == "up"]
        self.up = [(t, next((u for k, u in ev if k == "kill" and u > t), INF)) for t in self.ups]
        self.down = [(t, next(u for k, u in ev if k == "spawn" and u > t)) for k, t in ev if k == "down"]


def within(a, b, spans):
    return any(lo <= a and b <= hi for lo, hi in spans)


def rows(path):
    """seq -> (start, end, code) of a sender's output."""
    r = {}
    with open(path) as f:
        for line in f:
            seq, a, b, code = line.split()
            r[int(seq)] = (float(a), float(b), code)
    return r


def sink_copies(sink, phase, authserv):
    """{"": {seq: [(stamps, exact stamps)]}, "-retry": {...}} of the phase's copies at the sink."""
    stamp = (f"X-Agari-Authentication-Results: {authserv}; spf=pass smtp.mailfrom=user@pass.lab.test "
             "smtp.helo=mail.pass.lab.test")
    out = {"": {}, "-retry": {}}
    for path in glob.glob(f"{sink}/*"):
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read().replace("\r", "").split("\n\n", 1)[0]
        m = re.search(rf"^X-Kill-Seq: {re.escape(phase)}(-retry)?\.(\d+)$", head, re.M)
        if m:
            lines = re.sub(r"\n[ \t]+", " ", head).split("\n")
            any_stamp = [x for x in lines if x.lower().startswith("x-agari-authentication-results:")]
            exact = [x for x in any_stamp if x == stamp]
            out[m.group(1) or ""].setdefault(int(m.group(2)), []).append((len(any_stamp), len(exact)))
    return out


class Verdict:
    """The problems found, by check."""

    def __init__(self, mode, tl, sent, retry, copies):
        self.mode, self.tl, self.sent, self.retry = mode, tl, sent, retry
        self.at_sink, self.retry_sink = copies[""], copies["-retry"]
        self.bad = {}
        self.codes = {}

    def fail(self, check, seq, why):
        self.bad.setdefault(check, []).append(f"#{seq}: {why}")

    def accepted(self, seq, a, b, copies):
        tl = self.tl
        if len(copies) != 1:
            self.fail("accepted-delivered-once", seq, f"250 but {len(copies)} copies at the sink")
        elif copies[0][0] > 1:
            self.fail("never-stamped-twice", seq, f"{copies[0][0]} stamps")
        elif copies[0][0] == 1 and copies[0][1] != 1:
            self.fail("stamp-text", seq, "stamp is not the expected text")
        elif self.mode == "tempfail" and copies[0][0] != 1:
            self.fail("tempfail-mode-250-is-stamped", seq, "accepted without a stamp")
        elif self.mode == "accept" and within(a, b, tl.down) and copies[0][0] != 0:
            self.fail("outage-unstamped", seq, "stamped though sent while the milter was down")
        if copies and within(a, b, tl.up) and copies[0][0] != 1:
            self.fail("up-stamped", seq, "sent while the milter was up, not stamped")

    def tempfailed(self, seq, a, b, code, copies):
        if copies:
            self.fail("tempfailed-not-delivered", seq, f"{code} but {len(copies)} copies at the sink")
        if within(a, b, self.tl.up):
            self.fail("up-accepted", seq, f"{code} though sent while the milter was up")
        r = self.retry.get(seq)
        rc = self.retry_sink.get(seq, [])
        if not r or r[2] != "250" or len(rc) != 1 or rc[0][1] != 1:
            self.fail("tempfailed-retry-accepted", seq, f"resent: {r and r[2]}, {len(rc)} copies")

    def run(self):
        for seq, (a, b, code) in sorted(self.sent.items()):
            key = code[0] if code[0] in "245" else code
            self.codes[key] = self.codes.get(key, 0) + 1
            copies = self.at_sink.get(seq, [])
            if code == "250":
                self.accepted(seq, a, b, copies)
            elif code.startswith("4") and self.mode == "tempfail":
                self.tempfailed(seq, a, b, code, copies)
            else:
                self.fail("only-250-or-4xx" if self.mode == "tempfail" else "only-250", seq, f"answer {code}")
        self.after = [s for s, (a, b, c) in self.sent.items() if a > self.tl.ups[-1]]
        for seq in self.after:
            if self.sent[seq][2] != "250" or [c[1] for c in self.at_sink.get(seq, [])] != [1]:
                self.fail("stamps-resume", seq, "sent after the last restart, not accepted with one stamp")
        for seq in set(self.at_sink) - set(self.sent):
            self.fail("nothing-unsent-delivered", seq, "at the sink but never sent")
        if not self.after:
            self.fail("stamps-resume", "-", "no message sent after the last restart")
        # The kills must have hit traffic, or the phase proved nothing.
        hit = self.codes.get("4", 0) if self.mode == "tempfail" else sum(
            self.at_sink.get(s, [(1, 1)])[0][0] == 0 for s in self.sent)
        if hit == 0:
            self.fail("outage-hit-traffic", "-", "no message was tempfailed/unstamped: the kills missed the traffic")

    def checks(self):
        c = ["accepted-delivered-once", "never-stamped-twice", "stamp-text", "up-stamped", "stamps-resume",
             "nothing-unsent-delivered"]
        if self.mode == "tempfail":
            c += ["tempfail-mode-250-is-stamped", "tempfailed-not-delivered", "up-accepted",
                  "tempfailed-retry-accepted", "only-250-or-4xx"]
        else:
            c += ["outage-unstamped", "only-250"]
        return c + ["outage-hit-traffic"]


def main(phase, mode, d, sink, authserv):
    tl = Timeline(f"{d}/events")
    sent = rows(f"{d}/results")
    v = Verdict(mode, tl, sent, rows(f"{d}/retry"), sink_copies(sink, phase, authserv))
    v.run()
    vals = sent.values()
    n_up = sum(within(a, b, tl.up) for a, b, _ in vals)
    n_down = sum(within(a, b, tl.down) for a, b, _ in vals)
    n_hit = sum(any(a < t < b for t in tl.kills) for a, b, _ in vals)
    print(f"info: {phase} ({mode}): {len(sent)} messages, answers {v.codes}, {len(tl.kills)} kills, "
          f"{n_up} sent entirely while up, {n_down} entirely during an outage, "
          f"{n_hit} in flight at a kill, {len(v.after)} after the last restart")
    for c in v.checks():
        if c in v.bad:
            print(f"FAIL {phase}-{c} {len(v.bad[c])} messages")
            for why in v.bad[c][:10]:
                print(f"    | {why}")
        else:
            print(f"PASS {phase}-{c}")


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
