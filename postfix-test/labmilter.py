#!/usr/bin/python3
# Stand-in milter for developing the postfix-test/ plumbing without authsense.
# It imitates authsense's header handling but does NO SPF: every stamp says
# spf=none.  Needs Debian's python3-milter (postfix-test/install-deps --standin)
# and /usr/bin/python3 (not a pyenv python).  Do not rename it to milter.py:
# that would shadow the C module "milter".
#
# Usage: /usr/bin/python3 labmilter.py inet:PORT@127.0.0.1 [authserv-id]
import os
import sys

import Milter

AUTHSERV_ID = sys.argv[2] if len(sys.argv) > 2 else "mx.lab.test"
STAMP = "X-Agari-Authentication-Results"
# Header index for the stamp (0 = top, as authsense does); for experiments only.
INSERT_INDEX = int(os.environ.get("LABMILTER_INSERT_INDEX", "0"))


class LabMilter(Milter.Base):
    def __init__(self):
        self.helo = ""
        self.mailfrom = ""
        self.seen = {}
        self.drop = []

    @Milter.noreply
    def connect(self, hostname, family, hostaddr):
        return Milter.CONTINUE

    @Milter.noreply
    def hello(self, hostname):
        self.helo = hostname
        return Milter.CONTINUE

    @Milter.noreply
    def envfrom(self, mailfrom, *args):
        self.mailfrom = mailfrom.strip("<>")
        self.seen = {}
        self.drop = []
        return Milter.CONTINUE

    @Milter.noreply
    def header(self, name, value):
        key = name.lower()
        self.seen[key] = self.seen.get(key, 0) + 1
        idx = self.seen[key]
        if key == STAMP.lower():
            self.drop.append((name, idx))
        elif key == "authentication-results":
            first = value.split(";", 1)[0].strip().split()
            if first and first[0].lower() == AUTHSERV_ID.lower():
                self.drop.append((name, idx))
        return Milter.CONTINUE

    def eom(self):
        # Delete from the highest index down so earlier indices stay valid.
        for name, idx in sorted(self.drop, key=lambda t: -t[1]):
            self.chgheader(name, idx, "")
        sender = self.mailfrom or "postmaster@" + self.helo
        self.addheader(
            STAMP,
            "%s; spf=none smtp.mailfrom=%s smtp.helo=%s" % (AUTHSERV_ID, sender, self.helo),
            INSERT_INDEX,
        )
        return Milter.ACCEPT


if __name__ == "__main__":
    Milter.factory = LabMilter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS)
    Milter.runmilter("labmilter", sys.argv[1] if len(sys.argv) > 1 else "inet:8891@127.0.0.1", 240)
