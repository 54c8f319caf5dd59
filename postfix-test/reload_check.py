#!/usr/bin/python3
"""Traffic and checks for postfix-test/e2e-reload (standard library only).

  reload_check.py stream OUT PORT SENDERS SECONDS MAX STOPFILE
      SENDERS threads each send messages through the perimeter smtpd on
      127.0.0.1:PORT until STOPFILE exists, SECONDS have passed or MAX
      messages each were sent, reconnecting after every 5 messages (so
      some SMTP sessions, and their milter connections, stay open across a
      reload).  One JSON line per message to OUT: sender, seq, subject,
      start and end (Unix time), reply code, or the error.
  reload_check.py send PORT SOURCE_IP SUBJECT
      one message from SOURCE_IP (a loopback address); exit 0 on 250.
  reload_check.py greet PORT SOURCE_IP
      connects from SOURCE_IP and prints the greeting's reply code.
  reload_check.py headers MAILDIR SUBJECT
      prints, as JSON, the X-Agari-Authentication-Results values of the
      delivered message with this subject (waits up to 20 s for it).
  reload_check.py verify STREAM MAILDIR RECORDS PHASES
      the stream's checks, one "PASS name" / "FAIL name why" line each:
      every message accepted, delivered once and stored by the sensor once,
      each stamped, and stamped with the methods in force (PHASES: JSON list
      of [time SIGHUP was sent, time the reload was logged, methods before,
      methods after]).
"""

import email
import email.policy
import json
import os
import smtplib
import socket
import sys
import threading
import time

HELO = "mail.pass.lab.test"
FROM = "user@pass.lab.test"
TO = "user@inbox.test"


def message(subject, extra=""):
    return (
        "From: Stream <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@e2e-reload.lab.test>\r\n"
        "Date: Thu, 27 Nov 2025 12:00:00 +0000\r\n%s\r\nReload stream message %s.\r\n"
        % (FROM, TO, subject, subject.replace(" ", "."), extra, subject)
    )


def stream_sender(n, port, deadline, max_count, stopfile, out, lock):
    seq = 0
    conn = None
    while seq < max_count and time.time() < deadline and not os.path.exists(stopfile):
        subject = "reload-stream %d-%04d" % (n, seq)
        start = time.time()
        rec = {"sender": n, "seq": seq, "subject": subject, "start": start}
        try:
            if conn is None:
                conn = smtplib.SMTP("127.0.0.1", port, local_hostname=HELO, timeout=30)
            refused = conn.sendmail(FROM, [TO], message(subject))
            rec["code"] = 250 if not refused else str(refused)
        except (smtplib.SMTPException, OSError) as e:
            rec["error"] = "%s: %s" % (type(e).__name__, e)
            conn = None
        rec["end"] = time.time()
        with lock:
            out.write(json.dumps(rec) + "\n")
            out.flush()
        seq += 1
        if conn is not None and seq % 5 == 0:
            conn.quit()
            conn = None
        time.sleep(0.25)
    if conn is not None:
        conn.quit()


def stream(path, port, senders, seconds, max_count, stopfile):
    deadline = time.time() + float(seconds)
    lock = threading.Lock()
    with open(path, "w") as out:
        threads = [
            threading.Thread(target=stream_sender,
                             args=(n, int(port), deadline, int(max_count), stopfile, out, lock))
            for n in range(int(senders))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def send(port, source, subject):
    with smtplib.SMTP("127.0.0.1", int(port), local_hostname=HELO, timeout=20,
                      source_address=(source, 0)) as s:
        refused = s.sendmail(FROM, [TO], message(subject))
    return 0 if not refused else 1


def greet(port, source):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10, source_address=(source, 0))
    with s:
        line = s.makefile("rb").readline().decode("ascii", "replace")
    print(line[:3])
    return 0


def delivered(maildir):
    """{subject: [X-Agari values of each delivered copy]} in MAILDIR/new."""
    out = {}
    new = os.path.join(maildir, "new")
    for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
        with open(os.path.join(new, name), "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.compat32)
        values = [" ".join(str(v).split()) for v in msg.get_all("X-Agari-Authentication-Results", [])]
        out.setdefault(str(msg.get("Subject", "")), []).append(values)
    return out


def headers(maildir, subject):
    end = time.time() + 20
    while time.time() < end:
        got = delivered(maildir).get(subject)
        if got:
            print(json.dumps(got[0]))
            return 0 if len(got) == 1 else 1
        time.sleep(0.1)
    print("null")
    return 1


def result(name, problems):
    if problems:
        print("FAIL %s %s" % (name, problems[0]))
        for p in problems[1:6]:
            print("    | %s" % p)
    else:
        print("PASS %s" % name)


def verify(stream_path, maildir, records_path, phases_json):
    sent = [json.loads(l) for l in open(stream_path) if l.strip()]
    recs = [json.loads(l) for l in open(records_path) if l.strip()]
    hup, done, before, after = json.loads(phases_json)
    result("stream-sent", [] if len(sent) >= 20 else ["only %d stream messages sent" % len(sent)])
    result("stream-accepted", ["%s: %s" % (m["subject"], m.get("error", m.get("code")))
                               for m in sent if m.get("code") != 250])
    boxes = delivered(maildir)
    result("stream-delivered-once", ["%s delivered %d times" % (m["subject"], len(boxes.get(m["subject"], [])))
                                     for m in sent if len(boxes.get(m["subject"], [])) != 1])
    stored = {}
    for r in recs:
        stored.setdefault(r.get("subject"), []).append(r)
    result("stream-stored-once", ["%s stored %d times" % (m["subject"], len(stored.get(m["subject"], [])))
                                  for m in sent if len(stored.get(m["subject"], [])) != 1])
    result("stream-records-trusted", ["%s: auth.source %s" % (r.get("subject"), r.get("auth", {}).get("source"))
                                      for m in sent for r in stored.get(m["subject"], [])
                                      if r.get("auth", {}).get("source") != "x-agari"])
    old, new, between, bad = 0, 0, 0, []
    for m in sent:
        copies = boxes.get(m["subject"], [])
        if len(copies) != 1 or len(copies[0]) != 1:
            bad.append("%s: stamps %r" % (m["subject"], copies))
            continue
        methods = sorted(p.split("=")[0].strip() for p in copies[0][0].split(";")[1:] if "=" in p)
        if m["end"] < hup:
            old += 1
            want = sorted(before)
        elif m["start"] > done:
            new += 1
            want = sorted(after)
        else:
            between += 1
            if methods not in (sorted(before), sorted(after)):
                bad.append("%s (during the reload): methods %r" % (m["subject"], methods))
            continue
        if methods != want:
            bad.append("%s: methods %r, expected %r" % (m["subject"], methods, want))
    if old < 5 or new < 5:
        bad.insert(0, "too few messages on either side of the reload: %d before, %d after" % (old, new))
    result("stream-stamped-with-the-methods-in-force", bad)
    print("stream: %d messages (%d before the reload, %d after, %d during)" % (len(sent), old, new, between))
    return 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "stream":
        return stream(*args) or 0
    if cmd == "send":
        return send(*args)
    if cmd == "greet":
        return greet(*args)
    if cmd == "headers":
        return headers(*args)
    if cmd == "verify":
        return verify(*args)
    sys.exit("unknown command %r" % cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
