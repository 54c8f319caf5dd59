#!/usr/bin/env python3
"""Writes the DKIM fixtures of tests/dkim_strict.rs.

Each `<case>.eml` is one message with one DKIM-Signature whose cryptography
is valid for the keys in `records.txt`, and whose tag-list is either well
formed (rsa-sha256, ed25519-sha256) or carries exactly one defect that a
lenient verifier overlooks (rsa-sha1, no a=, a duplicated tag, ...). The
test checks that mail-auth alone passes every one of them, so the verdicts
authsense gives come from its own strict reading.

Signing follows RFC 6376 (relaxed/relaxed, sections 3.4.2, 3.4.4, 3.7) and
RFC 8463 (ed25519-sha256 signs the SHA-256 of the header hash input). Keys
are made once (rsa.pem: RSA 2048, ed25519.pem; both PKCS#8) and reused, so
rerunning gives the same files. Requires the `cryptography` package.

    python3 tests/data/dkim-strict/make.py
"""

import base64
import hashlib
import os
import re

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "strict.example"
HEADERS = [
    ("From", " Alice <alice@strict.example>"),
    ("To", " bob@example.net"),
    ("Subject", " strict tag-lists"),
    ("Date", " Tue, 14 Nov 2023 22:13:20 +0000"),
    ("Message-ID", " <strict-1@strict.example>"),
]
BODY = "Hello,\r\n\r\nThis message is signed one way or another.\r\n"
SIGNED = "h=from:to:subject:date:message-id"
COMMON = "c=relaxed/relaxed; d=strict.example; t=1700000000"

# (case, key, body/header hash, tag-list with {bh} and {b} placeholders)
CASES = [
    ("rsa-sha256", "rsa", "sha256", f"v=1; a=rsa-sha256; {COMMON}; s=rsa; {SIGNED}; bh={{bh}}; b={{b}}"),
    ("ed25519-sha256", "ed", "sha256", f"v=1; a=ed25519-sha256; {COMMON}; s=ed; {SIGNED}; bh={{bh}}; b={{b}}"),
    ("rsa-sha1", "rsa", "sha1", f"v=1; a=rsa-sha1; {COMMON}; s=rsa; {SIGNED}; bh={{bh}}; b={{b}}"),
    ("no-a", "rsa", "sha256", f"v=1; {COMMON}; s=rsa; {SIGNED}; bh={{bh}}; b={{b}}"),
    ("dup-tag", "rsa", "sha256", f"v=1; a=rsa-sha256; {COMMON}; s=rsa; s=rsa; {SIGNED}; bh={{bh}}; b={{b}}"),
    ("empty-spec", "rsa", "sha256", f"v=1; a=rsa-sha256; {COMMON}; s=rsa;; {SIGNED}; bh={{bh}}; b={{b}}"),
    ("upper-name", "rsa", "sha256", f"v=1; a=rsa-sha256; {COMMON}; S=rsa; {SIGNED}; bh={{bh}}; b={{b}}"),
    ("bad-name", "rsa", "sha256", f"v=1; a=rsa-sha256; {COMMON}; s=rsa; _x=1; {SIGNED}; bh={{bh}}; b={{b}}"),
    ("no-from", "rsa", "sha256", f"v=1; a=rsa-sha256; {COMMON}; s=rsa; h=to:subject:date; bh={{bh}}; b={{b}}"),
    ("no-v", "rsa", "sha256", f"a=rsa-sha256; {COMMON}; s=rsa; {SIGNED}; bh={{bh}}; b={{b}}"),
]


def key(path, make):
    full = os.path.join(HERE, path)
    if not os.path.exists(full):
        pem = make().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with open(full, "wb") as f:
            f.write(pem)
    with open(full, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def relaxed_header(name, value):
    value = re.sub(r"[ \t]+", " ", value.replace("\r\n", "")).strip()
    return name.lower().strip() + ":" + value


def relaxed_body(body):
    lines = [re.sub(r"[ \t]+", " ", re.sub(r"[ \t]+$", "", l)) for l in body.split("\r\n")]
    text = "\r\n".join(lines).rstrip("\r\n")
    return text + "\r\n" if text else ""


def sign(keys, kind, alg, template):
    bh = base64.b64encode(hashlib.new(alg, relaxed_body(BODY).encode()).digest()).decode()
    unsigned = template.format(bh=bh, b="")
    names = re.search(r"(?:^|;)\s*h=([^;]*)", unsigned).group(1).split(":")
    data = "".join(
        relaxed_header(n, v) + "\r\n"
        for want in names
        for n, v in HEADERS
        if n.lower() == want.strip().lower()
    )
    data = (data + relaxed_header("DKIM-Signature", " " + unsigned)).encode()
    if kind == "ed":
        sig = keys["ed"].sign(hashlib.sha256(data).digest())
    else:
        h = hashes.SHA1() if alg == "sha1" else hashes.SHA256()
        sig = keys["rsa"].sign(data, padding.PKCS1v15(), h)
    return "DKIM-Signature: " + template.format(bh=bh, b=base64.b64encode(sig).decode())


def main():
    keys = {
        "rsa": key("rsa.pem", lambda: rsa.generate_private_key(65537, 2048)),
        "ed": key("ed25519.pem", ed25519.Ed25519PrivateKey.generate),
    }
    spki = keys["rsa"].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    raw = keys["ed"].public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    with open(os.path.join(HERE, "records.txt"), "w", newline="\n") as f:
        f.write(f"rsa._domainkey.{DOMAIN} v=DKIM1; k=rsa; p={base64.b64encode(spki).decode()}\n")
        f.write(f"ed._domainkey.{DOMAIN} v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}\n")
    message = "".join(f"{n}:{v}\r\n" for n, v in HEADERS) + "\r\n" + BODY
    for case, kind, alg, template in CASES:
        with open(os.path.join(HERE, f"{case}.eml"), "w", newline="") as f:
            f.write(sign(keys, kind, alg, template) + "\r\n" + message)


if __name__ == "__main__":
    main()
