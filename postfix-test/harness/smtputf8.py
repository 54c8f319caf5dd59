"""e2e-sensor: send one message with MAIL FROM ... SMTPUTF8 (swaks cannot
send that parameter), the SMTP dialogue on stderr.

  smtputf8.py PORT HELO SENDER RCPTS MESSAGE_FILE   (RCPTS comma-separated)
"""

import smtplib
import sys


def main(port, helo, sender, rcpts, path):
    with open(path, "rb") as f:
        data = f.read()
    with smtplib.SMTP("127.0.0.1", int(port), local_hostname=helo, timeout=20) as s:
        s.set_debuglevel(1)
        refused = s.sendmail(sender, rcpts.split(","), data, mail_options=["SMTPUTF8"])
    if refused:
        return "refused: %r" % refused
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
