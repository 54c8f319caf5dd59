"""Composing, sending and reading the suite's messages.

Every message carries a token ``[fg:<phase>:<case>:<run>]`` at the start of
its Subject: it is how a delivered original and the sensor's record are
matched to the case that sent them.
"""

import json
import os
import re
import smtplib
import socket
from dataclasses import dataclass, field

CRLF = "\r\n"
TOKEN_RE = re.compile(r"\[fg:[^\]\s]+\]")


@dataclass
class Phase:
    """One configuration of the perimeter (see e2e-forgery)."""

    name: str
    methods: list
    ar: bool
    hc: bool
    milter: bool

    def stamps(self, method):
        """Whether the milter's headers carry METHOD in this phase."""
        return self.milter and (method in self.methods or self.ar)

    @staticmethod
    def from_json(text):
        d = json.loads(text)
        return Phase(d["name"], d["methods"], d["ar"], d["hc"], d["milter"])

    def to_dict(self):
        return dict(name=self.name, methods=self.methods, ar=self.ar, hc=self.hc, milter=self.milter)


@dataclass
class Ctx:
    """What the cases need to know about the lab (from forgery.json)."""

    conf: dict
    phase: Phase
    keys: dict = field(default_factory=dict)

    @property
    def ours(self):
        return self.conf["authserv_id"]

    def token(self, case):
        return "[fg:%s:%s:%s]" % (self.phase.name, case, self.conf["run"])

    def msgid(self, case):
        return "<%s.%s.%s@forgery.test>" % (case, self.phase.name, self.conf["run"])


@dataclass
class Msg:
    """One SMTP transaction: envelope, content and route."""

    helo: str
    mailfrom: str
    rcpts: list
    data: bytes
    route: str = "outside"  # outside | internal | direct (to the sensor)
    source: str = ""  # source address for direct delivery
    options: list = field(default_factory=list)  # MAIL FROM parameters, e.g. SMTPUTF8
    extra: dict = field(default_factory=dict)


def compose(ctx, case, desc, *, top=(), sender="user@pass.forgery.test",
            from_hdr=None, to="User <user@inbox.test>", date=True, msgid=True,
            extra=(), body=None, mime=True):
    """The message text (CRLF lines): TOP fields first (what an attacker puts
    above the usual ones), then From, To, Subject, Date, Message-ID, EXTRA,
    MIME fields and BODY. FROM_HDR is a list of whole From fields (default:
    one for SENDER); TO None leaves To out."""
    fields = list(top)
    fields += from_hdr if from_hdr is not None else ["From: Sender <%s>" % sender]
    if to is not None:
        fields.append("To: " + to)
    fields.append("Subject: %s %s" % (ctx.token(case), desc))
    if date:
        fields.append("Date: Thu, 27 Nov 2025 12:00:00 +0000")
    if msgid:
        fields.append("Message-ID: " + ctx.msgid(case))
    fields += list(extra)
    if mime:
        fields += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii"]
    text = body if body is not None else "Case %s of the forgery suite.\r\n" % case
    return CRLF.join(fields) + CRLF + CRLF + text


def plain(ctx, case, desc, *, helo="mail.forgery.test", mailfrom="user@pass.forgery.test",
          rcpts=("user@inbox.test",), **kw):
    """A Msg of compose(...) with the usual envelope."""
    kw.setdefault("sender", mailfrom or "postmaster@forgery.test")
    data = compose(ctx, case, desc, **kw).encode()
    return Msg(helo, mailfrom, list(rcpts), data)


def send(conf, msg):
    """Sends MSG; returns None or the error (a string)."""
    port = {"outside": conf["smtp_port"], "internal": conf["internal_port"],
            "direct": conf["sensor_port"]}[msg.route]
    src = (msg.source, 0) if msg.source else None
    try:
        with smtplib.SMTP("127.0.0.1", port, local_hostname=msg.helo, timeout=30,
                          source_address=src) as s:
            # A MAIL FROM already in <> is sent as it is (smtplib.quoteaddr).
            refused = s.sendmail(msg.mailfrom, msg.rcpts, msg.data, mail_options=msg.options)
            if refused:
                return "refused recipients: %r" % refused
    except (smtplib.SMTPException, OSError) as e:
        return "%s: %s" % (type(e).__name__, e)
    return None


def refuse_probe(port, source):
    """One connection from SOURCE to 127.0.0.1:PORT: the greeting line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(source, 0)) as s:
        s.settimeout(10)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(512)
            if not chunk:
                break
            data += chunk
        return data.decode("latin-1").strip()


@dataclass
class Field:
    """A header field as delivered: NAME as written (before the colon),
    RAW value (folds kept), its physical LINES (the first with the name)."""

    name: str
    raw: str
    lines: list

    @property
    def key(self):
        return self.name.strip().lower()

    @property
    def value(self):
        """Unfolded (RFC 5322 §2.2.3) and trimmed."""
        return re.sub(r"\r?\n(?=[ \t])", "", self.raw).strip()


def parse_header(raw):
    """The top-level header fields of the message bytes RAW."""
    text = raw.decode("utf-8", "replace")
    fields = []
    for line in re.split(r"\r?\n", text):
        if line == "":
            break
        if line[:1] in (" ", "\t") and fields:
            f = fields[-1]
            f.raw += "\n" + line
            f.lines.append(line)
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue  # not a field (the sender's garbage): ignored
        fields.append(Field(name, value, [line]))
    return fields


def token_of(subject):
    m = TOKEN_RE.search(subject or "")
    return m.group(0) if m else None


def read_originals(maildir_base):
    """Token -> list of (path, fields, raw) for every delivered original in
    the Maildirs under MAILDIR_BASE (domain/user/new/)."""
    out = {}
    for root, _dirs, files in os.walk(maildir_base):
        if os.path.basename(root) != "new":
            continue
        for f in sorted(files):
            path = os.path.join(root, f)
            with open(path, "rb") as fh:
                raw = fh.read()
            fields = parse_header(raw)
            subj = next((x.value for x in fields if x.key == "subject"), "")
            tok = token_of(subj)
            if tok:
                out.setdefault(tok, []).append((path, fields, raw))
    return out


def read_records(path):
    """Token -> list of records (``authsense messages --json`` lines)."""
    out = {}
    with open(path) as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                tok = token_of(r.get("subject"))
                if tok:
                    out.setdefault(tok, []).append(r)
    return out
