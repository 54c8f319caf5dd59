"""Test keys and DKIM/ARC signatures for the suite.

Valid signatures come from python3-dkim (rsa-sha256, ed25519-sha256, the
deprecated rsa-sha1, ARC sets). The lax ones (no ``a=``, a duplicated or
malformed tag, an absurd selector) come from ``own_sign``, a small
relaxed/relaxed rsa-sha256 signer over the same key: with well-formed tags
it must pass (the ``dkim-own-signer`` baseline proves it), so a lax variant
that does not pass fails for its syntax alone.
"""

import base64
import hashlib
import json
import re

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

DOMAIN = "signed.test"
SIGNED = ["from", "to", "subject", "date", "message-id"]


def _txt(name, value):
    """A zone TXT record, VALUE split into strings of at most 200 octets."""
    parts = [value[i:i + 200] for i in range(0, len(value), 200)]
    return "%-24s IN TXT  %s\n" % (name, " ".join('"%s"' % p for p in parts))


def make_keys(keys_path, zone_in, zone_out):
    """Fresh RSA-2048 and Ed25519 keys: private parts to KEYS_PATH (JSON),
    the zone ZONE_IN plus their DKIM key records to ZONE_OUT."""
    rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem = rk.private_bytes(serialization.Encoding.PEM,
                               serialization.PrivateFormat.TraditionalOpenSSL,
                               serialization.NoEncryption()).decode()
    rsa_pub = base64.b64encode(rk.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    ek = ed25519.Ed25519PrivateKey.generate()
    seed = ek.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    ed_pub = ek.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    with open(keys_path, "w") as f:
        json.dump({"rsa_pem": rsa_pem, "ed_seed": base64.b64encode(seed).decode()}, f)
    with open(zone_in) as f:
        zone = f.read()
    zone += "\n; --- DKIM keys made by forgery.py keys (this run only)\n"
    zone += _txt("rsa._domainkey.signed", "v=DKIM1; k=rsa; p=" + rsa_pub)
    zone += _txt("arc._domainkey.signed", "v=DKIM1; k=rsa; p=" + rsa_pub)
    zone += _txt("ed._domainkey.signed", "v=DKIM1; k=ed25519; p=" + base64.b64encode(ed_pub).decode())
    with open(zone_out, "w") as f:
        f.write(zone)


def load_keys(keys_path):
    with open(keys_path) as f:
        return json.load(f)


def lib_sign(data, keys, *, algo="rsa-sha256", identity=None, selector=None):
    """A python3-dkim signature over DATA (bytes): the DKIM-Signature
    field as a str without its final CRLF."""
    if algo == "ed25519-sha256":
        sel, key = selector or "ed", keys["ed_seed"].encode()
    else:
        sel, key = selector or "rsa", keys["rsa_pem"].encode()
    sig = dkim.sign(data, sel.encode(), DOMAIN.encode(), key,
                    identity=identity.encode() if identity else None,
                    canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[h.encode() for h in SIGNED],
                    signature_algorithm=algo.encode())
    return sig.decode().rstrip("\r\n")


def arc_seal(data, keys, *, algo="rsa-sha256"):
    """An ARC set (three fields, CRLF-joined, no final CRLF) by signed.test
    over DATA, which must carry an Authentication-Results of arc.signed.test."""
    a = dkim.ARC(data, signature_algorithm=algo.encode())
    lines = a.sign(b"arc", DOMAIN.encode(), keys["rsa_pem"].encode(), b"arc.signed.test",
                   include_headers=[h.encode() for h in SIGNED])
    return "\r\n".join(x.decode().rstrip("\r\n") for x in lines)


def _relaxed_header(name, raw):
    value = re.sub(r"\r?\n", "", raw)
    return name.strip().lower() + ":" + re.sub(r"[ \t]+", " ", value).strip()


def _relaxed_body(body):
    lines = [re.sub(rb"[ \t]+", b" ", ln).rstrip(b" ") for ln in body.split(b"\r\n")]
    while lines and lines[-1] == b"":
        lines.pop()
    return b"".join(ln + b"\r\n" for ln in lines)


def _signed_fields(head, names):
    """The header fields h= selects, each name taking the lowest unused
    instance (RFC 6376 §5.4.2)."""
    fields = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1][1] += "\r\n" + line
        else:
            name, _, value = line.partition(":")
            fields.append([name, value])
    out, used = [], set()
    for n in names:
        for i in range(len(fields) - 1, -1, -1):
            if i not in used and fields[i][0].strip().lower() == n:
                used.add(i)
                out.append(fields[i])
                break
    return out


def own_sign(data, keys, tags):
    """A relaxed/relaxed rsa-sha256 DKIM-Signature over DATA with the tag
    list TAGS ((name, value) pairs in order; ``bh`` is filled in, ``b`` is
    added last; a value None writes the name alone, a malformed tag).
    Returns the field as a str."""
    head, _, body = data.decode("utf-8", "replace").partition("\r\n\r\n")
    bh = base64.b64encode(hashlib.sha256(_relaxed_body(body.encode())).digest()).decode()
    names = next((v for k, v in tags if k == "h"), ":".join(SIGNED)).split(":")
    value = " " + "; ".join(k if v is None else "%s=%s" % (k, bh if k == "bh" else v) for k, v in tags) + "; b="
    hashed = "".join(_relaxed_header(n, v) + "\r\n" for n, v in _signed_fields(head, names))
    hashed += _relaxed_header("DKIM-Signature", value)
    key = serialization.load_pem_private_key(keys["rsa_pem"].encode(), password=None)
    sig = key.sign(hashed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return "DKIM-Signature:" + value + base64.b64encode(sig).decode()


def good_tags(selector="rsa"):
    """The tags of a well-formed own_sign signature."""
    return [("v", "1"), ("a", "rsa-sha256"), ("c", "relaxed/relaxed"), ("d", DOMAIN),
            ("s", selector), ("h", ":".join(SIGNED)), ("bh", "")]


def prepend(field, data):
    """DATA with the header field FIELD (str) on top."""
    return field.encode() + b"\r\n" + data
