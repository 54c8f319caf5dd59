"""e2e-milter-kill: the message stream.

  kill_sender.py PORT PHASE OUT STOPFILE LIMIT [SEQ...]

One SMTP session per message, 4 at a time.  Without SEQs: each thread
starts at most one message per 40 ms (tempfails are fast: without a pace
the outages would flood the run), until STOPFILE exists (at most LIMIT
messages).  With SEQs: exactly those, at full speed.  Appends one line per
message to OUT: "seq start end code" (code: 250, the SMTP error code, or
ERR:<exception>).
"""

import concurrent.futures
import itertools
import os
import smtplib
import sys
import threading
import time


def send(port, phase, seq):
    msg = (f"From: <user@pass.lab.test>\r\nTo: <user@inbox.test>\r\nSubject: kill {phase} {seq}\r\n"
           f"Message-ID: <{phase}.{seq}@kill.lab.test>\r\nX-Kill-Seq: {phase}.{seq}\r\n\r\nmessage {seq}\r\n")
    t0 = time.time()
    try:
        with smtplib.SMTP("127.0.0.1", int(port), local_hostname="mail.pass.lab.test", timeout=60) as s:
            s.sendmail("user@pass.lab.test", ["user@inbox.test"], msg)
        code = "250"
    except smtplib.SMTPRecipientsRefused as e:
        code = str(next(iter(e.recipients.values()))[0])
    except smtplib.SMTPResponseException as e:
        code = str(e.smtp_code)
    except Exception as e:  # noqa: BLE001 - any other outcome is reported as such
        code = "ERR:" + type(e).__name__
    return f"{seq} {t0:.6f} {time.time():.6f} {code}\n"


def main(port, phase, out, stop, limit, seqs):
    lock = threading.Lock()
    counter = iter(seqs) if seqs else itertools.count(1)

    def worker(f):
        while True:
            with lock:
                seq = next(counter, None)
            if seq is None or seq > limit or (not seqs and os.path.exists(stop)):
                return
            t0 = time.time()
            line = send(port, phase, seq)
            with lock:
                f.write(line)
                f.flush()
            if not seqs:
                time.sleep(max(0.0, 0.04 - (time.time() - t0)))

    with open(out, "a") as f, concurrent.futures.ThreadPoolExecutor(4) as ex:
        for r in [ex.submit(worker, f) for _ in range(4)]:
            r.result()


if __name__ == "__main__":
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    port, phase, out, stop, limit = sys.argv[1:6]
    main(port, phase, out, stop, int(limit), [int(s) for s in sys.argv[6:]])
