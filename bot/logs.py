"""Log output of every command: plain lines, or one JSON object a line with
`ONCALL_ACCESS_LOG_FORMAT=json` for log pipelines. Each line carries the id of the inbound HTTP
request being handled (`X-Request-Id`, kept in a context variable, so work a request started in
the background still carries it), and secrets are masked however they got into the text.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The inbound request being handled; task-local, so concurrent requests each keep their own."""

MASK = "[redacted]"
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
_PATTERNS = (
    re.compile(r"\bxox[abeposr]-[A-Za-z0-9-]+"),  # Slack bot, user and refresh tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),  # Slack app-level tokens (Socket Mode)
    re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/=-]{8,}"),  # Authorization header values
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password in a URL
)
_SHORTEST_SECRET = 8  # shorter values would mask ordinary words


def request_id(given: str | None = None) -> str:
    """The id of an inbound request: the caller's `X-Request-Id` when it is a plausible one (a
    load balancer's, to follow one request through both logs), else a new random one."""
    if given and _GIVEN_ID.fullmatch(given):
        return given
    return secrets.token_hex(8)


class Redactor:
    """Masks known secret values (the settings' tokens, keys and passwords) and anything shaped
    like a Slack token, a bearer token or a URL's password."""

    def __init__(self, known: Iterable[str | None] = ()) -> None:
        values = {v for v in known if v and len(v) >= _SHORTEST_SECRET}
        self._known = sorted(values, key=len, reverse=True)  # a longer secret holding a shorter

    def __call__(self, text: str) -> str:
        for value in self._known:
            text = text.replace(value, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(MASK, text)
        return text


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        found = REQUEST_ID.get()
        record.request_id = found
        record.request_tag = f" [{found}]" if found else ""
        return True


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s")
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One object a line: `time` (UTC), `level`, `logger`, `message`, `request_id` (null outside
    a request), and `error` with the traceback when there is one."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            line["error"] = self._redact(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = self._redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False)


def configure(
    level: str, form: str, secret_values: Iterable[str | None], stream: TextIO = sys.stderr
) -> None:
    """Send every logger's records to `stream` in `form` (`text` or `json`), at `level`; as
    `logging.basicConfig` does, nothing changes where logging is already set up (a program
    that runs the command line inside itself, a test runner)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations report through our lines
    root = logging.getLogger()
    if root.handlers:
        return
    redact = Redactor(secret_values)
    handler = logging.StreamHandler(stream)
    handler.addFilter(_WithRequestId())
    handler.setFormatter(JsonFormatter(redact) if form == "json" else TextFormatter(redact))
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
