"""Slack request signing (v0), computed the way Slack does, for signing test requests.

Slack signs the raw body bytes: ``v0=hex(HMAC-SHA256(secret, b"v0:" + ts + b":" + body))``.
Re-encoding a form body after signing breaks the signature, so builders hand out bytes and
these helpers sign exactly those bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
MAX_CLOCK_SKEW_SECONDS = 300
"""Slack's documented replay window; verifiers reject timestamps further off than this."""


def signature(body: bytes, secret: str, timestamp: int) -> str:
    """Return the ``X-Slack-Signature`` value (``v0=<hex>``) for ``body`` sent at ``timestamp``."""
    basestring = b"v0:" + str(timestamp).encode("ascii") + b":" + body
    digest = hmac.new(secret.encode("utf-8"), basestring, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def sign(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """Return the two signing headers Slack adds to a request carrying ``body``."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(body, secret, timestamp),
    }


def signed_headers(
    body: bytes,
    content_type: str,
    secret: str,
    *,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Return ``Content-Type`` plus signing headers; ``timestamp`` defaults to now.

    Verifiers compare the timestamp with their own clock, so "now" is the only value a real
    server accepts; pass an old one to provoke the replay check.
    """
    ts = int(time.time()) if timestamp is None else timestamp
    return {"Content-Type": content_type, **sign(body, secret, ts)}
