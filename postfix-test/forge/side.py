"""Global checks beside the messages: alert mail (class 7), the web UI's
Host check and the refused-connection log (class 8), the status page."""

import http.client
import json
import os
import re
import subprocess
import time

from .mail import refuse_probe

REFUSED_LINE = "connection refused: address not in sensor.allow"


def load_alerts(d):
    """The alert mails smtp-sink captured in D: dicts with rcpts, subject, text."""
    out = []
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        with open(os.path.join(d, name), "rb") as f:
            text = f.read().decode("utf-8", "replace").replace("\r\n", "\n")
        subj = re.search(r"^Subject: (.*)$", text, re.M)
        out.append({"path": name, "text": text, "subject": subj.group(1) if subj else "",
                    "rcpts": [r.lower() for r in re.findall(r"^X-Rcpt-Args: <([^>]*)>", text, re.M)]})
    return out


def alert_kind(alerts, uid):
    """'direct' when a threat alert names UID, 'digest' when a digest lists
    it, else None."""
    if not uid:
        return None
    for a in alerts:
        if "digest:" not in a["subject"] and re.search(r"^Record: +id \d+, uid %s$" % re.escape(uid), a["text"], re.M):
            return "direct"
    for a in alerts:
        if "digest:" in a["subject"] and re.search(r"\buid %s:" % re.escape(uid), a["text"]):
            return "digest"
    return None


def warned(alerts, token):
    """Recipients of the warnings about the message with TOKEN."""
    return sorted(r for a in alerts if "Caution:" in a["subject"] and token in a["text"] for r in a["rcpts"])


def wait_alerts(alert_dir, uids, seconds):
    """Waits (bounded) until every uid in UIDS is alerted or digested."""
    deadline = time.time() + seconds
    while True:
        alerts = load_alerts(alert_dir)
        missing = [u for u in uids if alert_kind(alerts, u) is None]
        if not missing or time.time() > deadline:
            return alerts, missing


def alert_checks(conf, alerts, records, missing):
    """(name, errors) pairs for the alert mail as a whole."""
    admin = conf["admin"].lower()
    bad = sorted({r for a in alerts for r in a["rcpts"] if r != admin and not r.endswith("@inbox.test")})
    warn_bad = sorted({r for a in alerts if "Caution:" in a["subject"] for r in a["rcpts"]
                       if not r.endswith("@inbox.test")})
    mal = [r for r in records if r.get("verdict") == "malicious"]
    return [
        ("alerts/every-malicious-record-alerted-or-digested",
         ["%d of %d malicious records in no alert and no digest: %s" % (len(missing), len(mal), missing[:10])]
         if missing or not mal else []),
        ("alerts/recipients-only-admin-or-org", ["alert mail to %r" % bad] if bad else []),
        ("alerts/warnings-only-org-envelope-recipients", ["warnings to %r" % warn_bad] if warn_bad else []),
        ("alerts/some-alerts-and-digests", [] if any("digest:" in a["subject"] for a in alerts)
         and any("digest:" not in a["subject"] for a in alerts) else ["want both threat alerts and a digest"]),
    ]


def _get(port, host):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.putrequest("GET", "/api/status", skip_host=True)
        c.putheader("Host", host)
        c.endheaders()
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def web_checks(conf):
    port = conf["web_port"]
    cases = [("evil.example", 421), ("evil.example:%d" % port, 421), ("127.0.0.1.evil.example", 421),
             ("127.0.0.1:%d" % port, 200), ("localhost:%d" % port, 200)]
    errs = []
    for host, want in cases:
        try:
            got = _get(port, host)
        except OSError as e:
            got = "error %s" % e
        if got != want:
            errs.append("Host: %s answered %s, want %s" % (host, got, want))
    return [("web/host-check", errs)]


def refused_checks(conf, n=50):
    """N connections from an address outside [sensor] allow: each refused
    with 554, one WARN line for the address (with a count), all counted."""
    errs = []
    greetings = []
    for _ in range(n):
        try:
            greetings.append(refuse_probe(conf["sensor_port"], conf["refused_ip"]))
        except OSError as e:
            greetings.append("error %s" % e)
    bad = [g for g in greetings if not g.startswith("554")]
    if bad:
        errs.append("%d of %d connections not refused with 554: %r" % (len(bad), n, bad[:3]))
    time.sleep(0.5)
    with open(conf["sensor_log"], errors="replace") as f:
        lines = [ln for ln in f if REFUSED_LINE in ln and conf["refused_ip"] in ln]
    if len(lines) != 1 or "refusals=" not in lines[0]:
        errs.append("%d refused-connection log lines for %s, want 1 with refusals=: %r"
                    % (len(lines), conf["refused_ip"], lines[:3]))
    metric = _metric(conf["web_port"], "authsense_sensor_refused_total")
    if metric is None or metric < n:
        errs.append("authsense_sensor_refused_total = %r, want at least %d" % (metric, n))
    return [("sensor/refused-connections-logged-once", errs)]


def _metric(port, name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
    except OSError:
        return None
    finally:
        c.close()
    vals = [float(m) for m in re.findall(r"^%s(?:\{[^}]*\})? ([0-9.e+]+)$" % name, body, re.M)]
    return sum(vals) if vals else None


def status_checks(conf, records):
    """The status page counts the tampered copies of the perimeter."""
    out = subprocess.run([conf["authsense"], "status", "--db", conf["db"], "--json"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return [("status/tampered-counted", ["authsense status failed: %s" % out.stderr[:300]])]
    st = json.loads(out.stdout)
    gws = [g for g in st.get("gateways", []) if g.get("gateway_ip") == "127.0.0.1"]
    n = sum(1 for r in records if (r.get("auth") or {}).get("source") == "tampered"
            and (r.get("gateway") or {}).get("ip") == "127.0.0.1")
    errs = []
    if not gws:
        errs.append("no gateway 127.0.0.1 on the status page: %s" % out.stdout[:500])
    elif n == 0:
        errs.append("no tampered record of gateway 127.0.0.1 to count")
    else:
        g = gws[0]
        if g.get("tampered") != n or not g.get("share_tampered") or g.get("state") == "green":
            errs.append("gateway 127.0.0.1: tampered=%r share_tampered=%r state=%r, with %d tampered records"
                        % (g.get("tampered"), g.get("share_tampered"), g.get("state"), n))
    return [("status/tampered-counted", errs)]
