#!/usr/bin/env python3
"""Drive headless chromium through chromedriver (W3C WebDriver over HTTP,
standard library only) against authsense's web UI: load the status page,
the message list and message detail pages, assert their elements, save
screenshots and check the PNGs.  Used by postfix-test/e2e-web.

Prints "PASS <check>" / "FAIL <check> <why>" and "N passed, M failed";
exits 1 if anything failed.
"""
import argparse
import base64
import json
import struct
import sys
import urllib.request
import zlib

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
STATE_RGB = {"green": (0x2E, 0x8B, 0x57), "yellow": (0xD4, 0xA0, 0x17), "red": (0xC0, 0x39, 0x2B)}
results = {"pass": 0, "fail": 0}


def check(name, ok, why=""):
    if ok:
        results["pass"] += 1
        print(f"PASS {name}")
    else:
        results["fail"] += 1
        print(f"FAIL {name} {why}")
    return ok


def http(method, url, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Browser:
    def __init__(self, webdriver, chromium):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1400,900"]}}}}
        status, body = http("POST", f"{webdriver}/session", caps, timeout=60)
        if status != 200:
            raise SystemExit(f"FAIL webdriver-session {status} {body[:500]!r}")
        self.base = f"{webdriver}/session/{json.loads(body)['value']['sessionId']}"

    def cmd(self, method, path, body=None):
        status, raw = http(method, self.base + path, body)
        value = json.loads(raw)["value"]
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status} {value}")
        return value

    def go(self, url):
        self.cmd("POST", "/url", {"url": url})

    def find(self, css):
        found = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [e[ELEMENT] for e in found]

    def text(self, eid):
        return self.cmd("GET", f"/element/{eid}/text")

    def attr(self, eid, name):
        return self.cmd("GET", f"/element/{eid}/attribute/{name}")

    def title(self):
        return self.cmd("GET", "/title")

    def screenshot(self, path):
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return png

    def quit(self):
        try:
            self.cmd("DELETE", "")
        except Exception:  # the session may already be gone
            pass


def png_pixels(png):
    """(width, height, rows of RGB tuples) of an 8-bit RGB/RGBA PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", data[:10])
            assert depth == 8 and ctype in (2, 6), f"unsupported PNG {depth}/{ctype}"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw, stride, prev, rows = zlib.decompress(idat), width * bpp, None, []
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        prev = prev or bytearray(stride)
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def check_png(name, png, colour=None):
    w, h, rows = png_pixels(png)
    colours = {p for row in rows[::4] for p in row[::4]}
    check(f"{name}-png-size", len(png) > 10_000 and w >= 800 and h >= 600,
          f"{len(png)} bytes, {w}x{h}")
    check(f"{name}-png-not-blank", len(colours) > 20, f"{len(colours)} colours")
    if colour:
        n = sum(1 for row in rows for p in row if p == colour)
        check(f"{name}-png-state-colour", n > 50, f"{n} pixels of {colour}")


def main():
    ap = argparse.ArgumentParser()
    for a in ("web", "webdriver", "chromium", "shots", "hostile", "gateway", "helo"):
        ap.add_argument("--" + a, required=True)
    args = ap.parse_args()

    status, body = http("GET", f"{args.web}/api/status")
    report = json.loads(body)
    gw = next((g for g in report["gateways"] if g["gateway_ip"] == args.gateway), None)
    check("api-status-gateway", status == 200 and gw is not None, body[:300])
    if gw is None:
        return
    check("api-status-counts", gw["total"] == 3 and gw["x_agari"] == 3 and gw["helo"] == args.helo,
          json.dumps(gw)[:400])
    state = gw["state"]
    check("api-status-milter-counters", any("authsense_milter_messages_total" in m[0]
                                             for m in report.get("milter") or []), str(report.get("milter")))
    _, metrics = http("GET", f"{args.web}/metrics")
    try:
        from prometheus_client.parser import text_string_to_metric_families
        names = {f.name for f in text_string_to_metric_families(metrics.decode())}
        check("metrics-parse", {"authsense_milter_messages", "authsense_sensor_messages",
                                "authsense_alerts_sent"} <= names, sorted(names)[:20])
        # The milter's DNS: hickory's cache counters and lookup latency.
        check("metrics-dns-cache", {"hickory_resolver_cache_miss", "hickory_resolver_cache_miss_duration_seconds"} <= names,
              [n for n in names if n.startswith("hickory")])
    except ImportError:
        check("metrics-parse", False, "python3-prometheus-client missing (install-deps)")
    _, body = http("GET", f"{args.web}/api/messages?subject=Invoice")
    hostile = json.loads(body)["messages"]
    check("api-hostile-stored", len(hostile) == 1 and hostile[0]["subject"] == args.hostile, body[:300])
    _, body = http("GET", f"{args.web}/api/messages?spf=fail")
    failed = json.loads(body)["messages"]
    check("api-spf-fail-filter", len(failed) == 1 and failed[0]["subject"] == "Password reset", body[:300])

    b = Browser(args.webdriver, args.chromium)
    try:
        b.go(args.web + "/")
        rows = b.find(f'tr.gateway[data-ip="{args.gateway}"]')
        check("status-gateway-row", len(rows) == 1, f"{len(rows)} rows")
        badge = b.find(f'tr.gateway[data-ip="{args.gateway}"] span.state')
        cls = b.attr(badge[0], "class") if badge else ""
        check("status-state-class", cls == f"state state-{state}", cls)
        row_text = b.text(rows[0]) if rows else ""
        check("status-row-fields", args.helo in row_text and "100%" in row_text, row_text)
        check("status-milter-table", len(b.find("table#milter tr")) > 1)
        png = b.screenshot(f"{args.shots}/status.png")
        check_png("status", png, STATE_RGB[state])

        b.go(args.web + "/messages")
        check("messages-rows", len(b.find("tr.message")) == 3)
        check_png("messages", b.screenshot(f"{args.shots}/messages.png"))

        b.go(f"{args.web}/messages/{hostile[0]['id']}")
        field = lambda f: (b.find(f"#message-{f}") or [None])[0]
        subject = field("subject")
        check("detail-subject-as-text", subject is not None and b.text(subject) == args.hostile,
              subject and b.text(subject))
        check("detail-script-not-run", b.title() != "pwned" and not b.find("main img"), b.title())
        for f, want in (("source", "x-agari"), ("spf", "pass"), ("gateway", args.gateway),
                        ("sender", "user@pass.lab.test"), ("rcpt", "bob@example.net")):
            el = field(f)
            got = b.text(el) if el else None
            check(f"detail-{f}", got is not None and want in got, repr(got))
        check_png("detail", b.screenshot(f"{args.shots}/detail.png"))

        b.go(f"{args.web}/messages/{failed[0]['id']}")
        el = field("spf")
        check("detail-spf-fail", el is not None and b.text(el).startswith("fail"), el and b.text(el))
    finally:
        b.quit()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report, never hang or pass silently
        check("web-check", False, repr(e))
    print(f"{results['pass']} passed, {results['fail']} failed")
    sys.exit(1 if results["fail"] or not results["pass"] else 0)
