"""What several harnesses read: header fields, Authentication-Results values
(python3-authres, a parser independent of authsense) and JSON lines."""

import json
import re

import authres


def header_fields(data):
    """(lower-case name, unfolded value, raw field) of the top-level header
    fields of the message bytes DATA (CRLF or LF line ends)."""
    text = data.replace(b"\r\n", b"\n")  # smtp-sink writes LF
    head = text.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    out = []
    for raw in re.split(r"\n(?![ \t])", head):
        if not raw:
            continue  # the end of a header block without a body
        name, _, value = raw.partition(":")
        out.append((name.strip().lower(), value.replace("\n", ""), raw))
    return out


def file_fields(path):
    """header_fields() of the file PATH."""
    with open(path, "rb") as f:
        return header_fields(f.read())


def parse_ar(value):
    """The authres object of an (unfolded) Authentication-Results value."""
    return authres.AuthenticationResultsHeader.parse("Authentication-Results: " + value)


def props(result):
    """{(ptype, property): value} of one authres result."""
    return {(p.type, p.name): p.value for p in result.properties}


def claimed_id(value):
    """The authserv-id a header value claims: authres's reading, or (when
    it cannot parse the value) the first token."""
    try:
        return str(parse_ar(value).authserv_id)
    except Exception:  # noqa: BLE001 - unparsable: the first token
        m = re.match(r"\s*([^\s;()]+)", value)
        return m.group(1) if m else ""


def read_jsonl(path):
    """The JSON objects of a JSON-lines file (``authsense messages --json``)."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
