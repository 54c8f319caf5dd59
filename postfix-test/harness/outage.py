"""e2e-sensor: the queue while the sensor is down.

  outage.py QUEUE_JSON BLACKHOLE RCPTS

QUEUE_JSON is ``postqueue -j`` output taken during the outage: exactly one
queued message (the copy), in the deferred queue, with the black hole as
its sender and the original recipients (RCPTS, comma-separated).  Prints
one line per problem (nothing when all is well); the exit status is 0.
"""

import sys

from harness.common import read_jsonl


def problems(msgs, blackhole, rcpts):
    if len(msgs) != 1:
        return ["during the outage: %d queued messages, expected 1 (the copy): %r" % (len(msgs), msgs)]
    m = msgs[0]
    out = []
    if m.get("queue_name") != "deferred":
        out.append("during the outage: copy is in queue %r, expected deferred" % m.get("queue_name"))
    if m.get("sender") != blackhole:
        out.append("during the outage: queued copy's sender is %r, expected the black hole %r"
                   % (m.get("sender"), blackhole))
    got = sorted(r.get("address") for r in m.get("recipients", []))
    if got != sorted(rcpts):
        out.append("during the outage: queued copy's recipients %r, expected %r" % (got, sorted(rcpts)))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    for line in problems(read_jsonl(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")):
        print(line)
