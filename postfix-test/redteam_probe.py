#!/usr/bin/env python3
"""Cases of postfix-test/redteam-probe: `send PORT` sends them through the
perimeter; `check RECORDS SINKDIR` compares each sensor record with the
stamp the milter wrote into the delivered original (smtp-sink dump) and
prints PASS/FAIL lines and "N/M held"."""
import json
import os
import re
import smtplib
import sys

HELO = "mail.attacker.test"
SENDER = "a@attacker.test"
RCPT = "user@inbox.test"
LIMIT = 998  # Postfix smtp_line_length_limit


def message(name, lines, body, subject_last=False):
    own = (b"To: " + RCPT.encode() + b"\r\n"
           b"Subject: rt " + name.encode() + b"\r\n"
           b"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
           b"Message-ID: <" + name.encode() + b"@rt.test>\r\n")
    head = own + b"".join(lines) if subject_last else b"".join(lines) + own
    return head + b"\r\n" + body


def from_two_breaks():
    """Milter: `"P1\\" <victim> (" <attacker> (P2\\))` is one mailbox,
    attacker. After Postfix inserts CRLF SP after each backslash (column
    998 of each line), `"P1\\<CR><LF> "` closes the quoted string: the
    mailbox is victim and the rest a comment."""
    head = b'From: "'
    p1 = b"a" * (LIMIT - len(head) - 1)
    mid = b'" <x@victim.test> (" <a@attacker.test> ('
    p2 = b"b" * (LIMIT - 1 - len(mid) - 1)
    return head + p1 + b"\\" + mid + p2 + b"\\))\r\n"


U = "\u00e9".encode()


def from_two_breaks_kspace():
    """The same trick with the first break placed by white space before the
    colon (RFC 5322 §4.5 obsolete syntax), which the milter never sees.
    Held: Postfix stores the field as `From:` without that white space."""
    name = b"From" + b" " * 990 + b': "'
    p1 = b"a" * (LIMIT - len(name) - 1)
    mid = b'" <x@victim.test> (" <a@attacker.test> ('
    p2 = b"b" * (LIMIT - 1 - len(mid) - 1)
    return name + p1 + b"\\" + mid + p2 + b"\\))\r\n"


def ar_kspace_straddle():
    """`mx.rt.test1` (a foreign id the milter keeps) padded before the
    colon so that the transport would break between `mx.rt.test` and `1`
    (our id and a version, which the strict grammar trusts) while the
    milter computes a short line. Held: Postfix drops the padding."""
    head = b"Authentication-Results"
    tail = b": mx.rt.test"
    pad = b" " * (LIMIT - len(head) - len(tail))
    return (head + pad + tail + b"1; spf=pass smtp.mailfrom=x@victim.test; "
            b"dmarc=pass header.from=victim.test\r\n")


FROM = b"From: a@attacker.test\r\n"
UTF8_BODY = (b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
             b"Content-Transfer-Encoding: 8bit\r\n")
CASES = [
    # name, header lines, kind ("honest" copies must be sealed and believed;
    # "attack" copies must not record what the milter did not compute), options
    ("honest", [b"From: A <a@attacker.test>\r\n"], "honest", {}),
    ("from-two-breaks", [from_two_breaks()], "attack", {}),
    ("from-two-breaks-kspace", [from_two_breaks_kspace()], "attack", {}),
    ("ar-kspace-straddle", [FROM, ar_kspace_straddle()], "attack", {}),
    # 400 To fields: the seal's h= list is over 998 octets.
    ("many-to", [FROM] + [b"To: u%d@inbox.test\r\n" % i for i in range(400)], "honest", {}),
    # A HELO shaped like a TCP-info comment: Postfix writes it as `??[...]?`.
    ("helo-received", [FROM], "attack", {"helo": "mail.attacker.test ([198.51.100.66])"}),
    ("eightbit-body", [FROM, UTF8_BODY], "honest",
     {"body": b"caf" + U + b"\r\n", "mail": ["BODY=8BITMIME"]}),
    # "Subject: " + 600 x U+00E9: Postfix breaks inside a character.
    ("utf8-long-subject", [FROM, b"Subject: " + U * 600 + b"\r\n"], "honest",
     {"mail": ["BODY=8BITMIME"], "subject_last": True}),
    # Postfix ends the header at the first line that is not a field.
    ("nonheader-line", [FROM, b"X-Junk no colon\r\nFrom: x@victim.test\r\n"], "attack",
     {"subject_last": True}),
    ("nul-in-from", [b"From: a@attacker.test\x00, x@victim.test\r\n"], "attack", {}),
    ("bare-cr-from", [b"From: a@attacker.test\rFrom: x@victim.test\r\n"], "attack", {}),
]
# With the milter stopped (milter_default_action = accept) and the
# header_checks of `authsense postfix-config`: forged stamps and seals must
# not arrive, in any spelling (held: Postfix removes white space before the
# colon before header_checks see the field).
VICTIM = b"From: x@victim.test\r\n"
DOWN = [
    ("down-xagari", [VICTIM, b"X-Agari-Authentication-Results: mx.rt.test; spf=pass\r\n"], "down", {}),
    ("down-xagari-space-colon",
     [VICTIM, b"X-Agari-Authentication-Results : mx.rt.test; spf=pass\r\n"], "down", {}),
    ("down-seal-tab-colon", [VICTIM, b"X-Authsense-Seal\t: v=1\r\n"], "down", {}),
]


def send(port, phase):
    for name, lines, _, opts in (CASES if phase == "up" else DOWN):
        raw = message(name, lines, opts.get("body", b"hello\r\n"), opts.get("subject_last", False))
        try:
            with smtplib.SMTP("127.0.0.1", int(port), local_hostname=opts.get("helo", HELO),
                              timeout=30) as s:
                s.sendmail(SENDER, [RCPT], raw, mail_options=opts.get("mail", []))
        except smtplib.SMTPException as e:
            print(f"{name}: not sent: {e}")


def by_msgid(data):
    m = re.search(rb"Message-ID: <([^@>]+)@rt\.test>", data)
    return m.group(1).decode() if m else None


def headers(original):
    """(name, unfolded value, raw) of the top-level header fields."""
    text = original.replace(b"\r\n", b"\n")  # smtp-sink writes LF
    head = text.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    out = []
    for raw in re.split(r"\n(?![ \t])", head):
        name, _, value = raw.partition(":")
        out.append((name.strip().lower(), value.replace("\n", ""), raw))
    return out


def stamp_results(hdrs):
    """method -> results in the milter's Authentication-Results (the first)."""
    res = {}
    for name, value, _ in hdrs:
        if name == "authentication-results" and value.strip().startswith("mx.rt.test;"):
            for part in value.split(";")[1:]:
                m = re.match(r"\s*([a-z]+)=(\S+)", part)
                if m:
                    res.setdefault(m.group(1), []).append(m.group(2))
            break
    return res


# After the authserv-id only CFWS, an optional version, then ";" (the
# sensor's strict grammar, comments left out).
OURS = re.compile(r"^\s*mx\.rt\.test(\s+\d+)?\s*;", re.I)


def problems(name, kind, r, hdrs):
    auth = r.get("auth", {})
    why = []
    ours = [h for h in hdrs if h[0] in ("authentication-results", "x-agari-authentication-results")
            and OURS.match(h[1])]
    if kind == "down":
        if any(h[0] in ("x-agari-authentication-results", "x-authsense-seal") for h in hdrs):
            why.append("a forged stamp or seal passed header_checks")
        if auth.get("source") not in ("tampered", "none"):
            why.append(f"forged stamp believed: {auth.get('source')}")
        return why
    if kind == "honest" and not (auth.get("sealed") and auth.get("source") == "x-agari"):
        why.append(f"honest copy not believed: {auth.get('source')} {auth.get('tamper')}")
    if len(ours) > 2:
        why.append(f"a header the sensor reads as ours survived the milter: {ours[2][2][:80]!r}...")
    for n, _, raw in hdrs[:12]:
        if n in ("x-authsense-seal", "x-agari-authentication-results", "authentication-results") \
                and "\n " in raw:
            why.append(f"Postfix had to break our {n} (a line over 998 octets)")
    stamp = stamp_results(hdrs)
    for method in ("spf", "dmarc"):
        got = (auth.get(method) or {}).get("result")
        if auth.get("source") != "tampered" and got == "pass" and "pass" not in stamp.get(method, []):
            why.append(f"{method}=pass recorded, the milter said {stamp.get(method)}")
    dmarc = auth.get("dmarc") or {}
    authors = [(a.get("address") or "").rsplit("@", 1)[-1].lower() for a in r.get("authors", [])]
    if auth.get("source") != "tampered" and dmarc.get("result") == "pass":
        hf = dict(dmarc.get("props", [])).get("header.from", "").lower()
        if any(d != hf for d in authors) and r.get("verdict") != "malicious":
            why.append(f"dmarc=pass for header.from={hf}, the copy's authors are {authors}, "
                       f"verdict {r.get('verdict')}")
    ip = (r.get("original") or {}).get("client_ip")
    if ip != "127.0.0.1":
        why.append(f"recorded client_ip {ip}, the perimeter's client was 127.0.0.1")
    return why


def check(records, sink):
    recs = {}
    for line in open(records):
        r = json.loads(line)
        recs[(r.get("msg_id") or "").split("@")[0]] = r
    orig = {}
    for f in os.listdir(sink):
        data = open(os.path.join(sink, f), "rb").read()
        orig[by_msgid(data)] = data
    held = 0
    for name, _, kind, _ in CASES + DOWN:
        r, o = recs.get(name), orig.get(name)
        if r is None or o is None:
            print(f"FAIL {name}: record {r is not None}, original {o is not None}")
            continue
        auth = r.get("auth", {})
        authors = [a.get("address") for a in r.get("authors", [])]
        summary = (f"source={auth.get('source')} sealed={auth.get('sealed')} "
                   f"dmarc={(auth.get('dmarc') or {}).get('result')} authors={authors} "
                   f"verdict={r.get('verdict')} score={r.get('score')}")
        why = problems(name, kind, r, headers(o))
        if why:
            print(f"FAIL {name}: HOLE: {'; '.join(why)} ({summary})")
        else:
            held += 1
            print(f"PASS {name}: {summary}")
    total = len(CASES) + len(DOWN)
    print(f"{held}/{total} held")
    return 0 if held == total else 1


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3])
    else:
        sys.exit(check(sys.argv[2], sys.argv[3]))
