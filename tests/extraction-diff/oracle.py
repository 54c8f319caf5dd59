"""The oracle of the extraction differential test: what Python's `email`
package (policy `default`) reads from a message, in the shape of the
fields of an authsense record (docs/extraction.md).

Only the standard library is used. The attachment rule and the URL finder
are the record's own definitions (src/sensor/extract/parts.rs, urls.rs),
written again here independently; what is compared is how the message is
read: its structure, its header fields, its decoded octets.
"""

import hashlib
import html
import re
from email import policy
from email.generator import BytesGenerator
from email.parser import BytesParser
from io import BytesIO

POLICY = policy.default
# Writing a forwarded message back out: as it was read, CRLF line ends, no
# refolding, no "From " mangling.
RAW_POLICY = policy.default.clone(linesep="\r\n", refold_source="none")

URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"'`]+")
ATTR_RE = re.compile(
    r"""\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE
)
TAG_RE = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
TRAILING = ".,;:!?)]}'\""


def parse(raw):
    """The message `raw` (bytes) as Python's email package reads it."""
    return BytesParser(policy=POLICY).parsebytes(raw)


def _address(addr):
    if not addr.username and not addr.domain:
        return None
    return addr.addr_spec


def _addresses(msg, name):
    out = []
    for value in msg.get_all(name) or []:
        for addr in getattr(value, "addresses", ()):
            spec = _address(addr)
            if spec is not None:
                out.append(spec)
    return out


def _first_from(msg):
    value = msg.get("from")
    addrs = getattr(value, "addresses", ()) if value is not None else ()
    if not addrs:
        return None, None
    first = addrs[0]
    return _address(first), (first.display_name or None)


def _msg_id(msg):
    value = msg.get("message-id")
    if value is None:
        return None
    text = str(value).strip()
    if text.startswith("<"):
        text = text[1:].split(">", 1)[0]
    text = text.strip()
    return text or None


def _raw_message(inner):
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=RAW_POLICY).flatten(inner)
    return out.getvalue()


def _filename(part):
    try:
        name = part.get_filename()
    except (ValueError, LookupError, TypeError):
        return None
    return name or None


def _leaf_bytes(part):
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _text(part, octets):
    charset = part.get_content_charset() or "us-ascii"
    try:
        return octets.decode(charset, "replace")
    except LookupError:
        return octets.decode("utf-8", "replace")


def urls_in_text(text):
    """URLs with an authority in plain text, trailing punctuation dropped."""
    out = []
    for m in URL_RE.finditer(text):
        url = m.group(0).rstrip(TRAILING)
        if "://" in url and url.split("://", 1)[1]:
            out.append(url)
    return out


def urls_in_html(text):
    """URLs of href/src attributes and of the text between tags."""
    out = []
    for m in TAG_RE.finditer(text):
        tag = m.group(0)
        if tag.startswith("<!--"):
            continue
        for a in ATTR_RE.finditer(tag):
            value = html.unescape(next(g for g in a.groups() if g is not None)).strip()
            if re.match(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/?#\\]", value):
                out.append(value)
    out.extend(urls_in_text(html.unescape(TAG_RE.sub(" ", text))))
    return out


def _walk(part, depth, found):
    ctype = part.get_content_type()
    if ctype in ("message/rfc822", "message/global") and part.is_multipart():
        inner = part.get_payload(0)
        raw = _raw_message(inner)
        found["attachments"].append(_attachment(part, ctype, raw, depth))
        _walk(inner, depth + 1, found)
        return
    if part.get_content_maintype() == "message" and part.is_multipart():
        return  # message/delivery-status and the like: no MIME parts
    if part.is_multipart():
        for sub in part.get_payload():
            _walk(sub, depth, found)
        return
    text = ctype in ("text/plain", "text/html")
    name = _filename(part)
    listed = (
        part.get_content_disposition() == "attachment"
        or ctype in ("message/rfc822", "message/global")
        or (name is not None and part.get_content_maintype() != "text")
    )
    if not (listed or text):
        return
    octets = _leaf_bytes(part)
    if listed:
        found["attachments"].append(_attachment(part, ctype, octets, depth))
    if text:
        body = _text(part, octets)
        urls = urls_in_html(body) if ctype == "text/html" else urls_in_text(body)
        found["urls"].extend((u, depth) for u in urls)


def _attachment(part, ctype, octets, depth):
    return {
        "name": _filename(part),
        "type": ctype,
        "size": len(octets),
        "sha256": hashlib.sha256(octets).hexdigest(),
        "depth": depth,
    }


class OracleError:
    """A field Python's email package raised an exception on: not compared."""

    def __init__(self, exc):
        self.why = f"{type(exc).__name__}: {exc}"

    def __repr__(self):
        return f"<oracle error {self.why}>"


def _safe(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # the oracle's own failure, reported
        return OracleError(exc)


def _subject(msg):
    subject = msg.get("subject")
    return str(subject).strip() if subject is not None else None


def read(raw):
    """The record fields of message `raw` as the oracle reads them; a field
    the oracle cannot read is an OracleError."""
    msg = parse(raw)
    first = _safe(_first_from, msg)
    if isinstance(first, OracleError):
        from_addr = from_name = first
    else:
        from_addr, from_name = first
    found = {"attachments": [], "urls": []}
    walked = _safe(_walk, msg, 0, found)
    urls = []
    for url, depth in found["urls"]:
        if (url, depth) not in urls:
            urls.append((url, depth))
    return {
        "from_address": from_addr,
        "from_name": from_name,
        "to": _safe(_addresses, msg, "to"),
        "cc": _safe(_addresses, msg, "cc"),
        "subject": _safe(_subject, msg),
        "msg_id": _safe(_msg_id, msg),
        "attachments": walked if isinstance(walked, OracleError) else found["attachments"],
        "urls": walked if isinstance(walked, OracleError) else sorted(set(urls)),
    }
