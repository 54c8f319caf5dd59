"""The extraction differential test (docs/extraction.md): every corpus
message goes through a real `authsense sensor` over SMTP, and each field
of its stored record is compared with what Python's `email` package reads
(oracle.py).

    diff.py --port PORT --bin AUTHSENSE_BIN --db DB --docs docs/extraction.md FILE...

Prints one line per disagreement, then agreement per field (N/N). Exits 1
when a disagreement is not listed in the "Known disagreements" table of
docs/extraction.md (or a listed one no longer happens), 0 otherwise.
"""

import argparse
import hashlib
import json
import os
import re
import smtplib
import subprocess
import sys

import oracle

FIELDS = [
    "from_address",
    "from_name",
    "to",
    "cc",
    "subject",
    "msg_id",
    "attachment_count",
    "attachment_name",
    "attachment_type",
    "attachment_size",
    "attachment_sha256",
    "urls",
]


def wire_form(raw):
    """`raw` as an MTA delivers it: CRLF line ends, ending in CRLF."""
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    return raw


def send(port, raw):
    """Sends `raw` to the sensor; returns the uid of its 250 reply."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("diff.test")
        smtp.mail("diff@sender.test")
        smtp.rcpt("rcpt@diff.test")
        code, reply = smtp.data(raw)
    text = reply.decode("utf-8", "replace")
    match = re.search(r"stored as (\S+)", text)
    if code != 250 or not match:
        raise RuntimeError(f"sensor answered {code} {text}")
    return match.group(1)


def records(binary, db):
    out = subprocess.run(
        [binary, "messages", "--db", db, "--json", "--limit", "1000000"],
        check=True,
        capture_output=True,
    ).stdout
    recs = (json.loads(line) for line in out.decode().splitlines() if line.strip())
    return {r["uid"]: r for r in recs}


def ours(rec):
    """The compared fields of a stored record."""
    frm = rec.get("from") or {}
    return {
        "from_address": frm.get("address"),
        "from_name": frm.get("name"),
        "to": [m["address"] for m in rec.get("to", []) if m.get("address")],
        "cc": [m["address"] for m in rec.get("cc", []) if m.get("address")],
        "subject": rec.get("subject"),
        "msg_id": rec.get("msg_id"),
        "attachments": [
            {
                "name": a.get("name") or None,
                "type": a["mime_type"],
                "size": a["size"],
                "sha256": a["sha256"],
                "depth": a.get("depth", 0),
            }
            for a in rec.get("attachments", [])
        ],
        "urls": sorted({(u["url"], u.get("depth", 0)) for u in rec.get("urls", [])}),
    }


def compare(mine, want):
    """{field: (ours, oracle)} for each disagreeing field; the attachment
    fields are compared only when both list the same number."""
    diffs = {}
    for f in ("from_address", "from_name", "to", "cc", "subject", "msg_id", "urls"):
        if mine[f] != want[f]:
            diffs[f] = (mine[f], want[f])
    a, b = mine["attachments"], want["attachments"]
    if isinstance(b, oracle.OracleError):
        diffs["attachment_count"] = (a, b)
        return diffs, False
    if len(a) != len(b):
        diffs["attachment_count"] = (
            [(x["type"], x["name"]) for x in a],
            [(x["type"], x["name"]) for x in b],
        )
        return diffs, False
    for key in ("name", "type", "size", "sha256"):
        pairs = [(x[key], y[key]) for x, y in zip(a, b) if x[key] != y[key] or x["depth"] != y["depth"]]
        if pairs:
            diffs["attachment_" + key] = ([p[0] for p in pairs], [p[1] for p in pairs])
    return diffs, True


def known(docs):
    """(file, field) pairs of the "Known disagreements" table."""
    out = set()
    section = False
    with open(docs, encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                section = line.strip() == "## Known disagreements"
            m = re.match(r"\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|", line)
            if section and m:
                out.add((m.group(1), m.group(2)))
    return out


def label(path):
    """A corpus file's name in the report: its package's folder and name."""
    parts = path.split(os.sep)
    for root, tag in (("test_email", "cpython"), ("bounce", "flufl"), ("enmime", "enmime"),
                      ("dkim", "dkim"), ("extraction-probes", "probe")):
        if root in parts:
            return f"{tag}/{parts[-1]}"
    return parts[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--docs", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    # (uid, name, octets); two identical files are one stored record
    # (the store keeps a retried copy once) under one uid.
    sent = []
    for path in args.files:
        with open(path, "rb") as f:
            raw = wire_form(f.read())
        sent.append((send(args.port, raw), label(path), raw))
    stored = records(args.bin, args.db)
    agree = {f: 0 for f in FIELDS}
    total = {f: 0 for f in FIELDS}
    seen = set()
    oracle_errors = []
    for uid, name, raw in sorted(sent, key=lambda s: s[1]):
        rec = stored[uid]
        if rec.get("body_sha256") != hashlib.sha256(raw).hexdigest():
            raise RuntimeError(f"{name}: the sensor stored other octets than were sent")
        diffs, same_count = compare(ours(rec), oracle.read(raw))
        fields = FIELDS if same_count else FIELDS[:7] + ["urls"]
        for f in fields:
            total[f] += 1
            agree[f] += f not in diffs
        for f, (mine, want) in sorted(diffs.items()):
            if isinstance(want, oracle.OracleError):
                total[f] -= 1
                oracle_errors.append(f"{name} {f}: {want.why}")
                continue
            seen.add((name, f))
            print(f"DIFF {name} {f}: ours={mine!r} oracle={want!r}")
    listed = known(args.docs)
    new = sorted(seen - listed)
    gone = sorted(k for k in listed - seen if k[0].split("/")[0] in {label(p).split("/")[0] for p in args.files})
    for line in oracle_errors:
        print(f"ORACLE ERROR (field not compared) {line}")
    print(f"\n{len(sent)} messages")
    for f in FIELDS:
        print(f"  {f:18} {agree[f]}/{total[f]}")
    for name, f in new:
        print(f"NEW disagreement, not in docs/extraction.md: {name} {f}")
    for name, f in gone:
        print(f"LISTED in docs/extraction.md but no longer a disagreement: {name} {f}")
    failed = len(new) + len(gone)
    print(f"extraction-diff: {len(sent) - len({n for n, _ in new + gone})} passed, "
          f"{len({n for n, _ in new + gone})} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
