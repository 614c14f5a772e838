"""Which Slack delivery a signed request is, so that one replayed within its signature's five
minutes (or retried by Slack, `X-Slack-Retry-Num`) runs once: bolt checks the signature and the
timestamp, not whether the same request came before."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol


class Deliveries(Protocol):
    async def first(self, key: str) -> bool:
        """Remember `key`; True unless it was seen within the window (on any replica)."""
        ...


def delivery_key(headers: Mapping[str, str], body: Any) -> str:
    """An Events API callback is its `event_id`, which Slack's retries keep while signing them
    afresh; any other request is its timestamp and signature, which a replay has to copy."""
    if isinstance(body, Mapping) and body.get("type") == "event_callback":
        event_id = body.get("event_id")
        if isinstance(event_id, str) and event_id:
            return f"slack:event:{event_id[:100]}"
    signed = (
        f"{headers.get('X-Slack-Request-Timestamp', '')}:{headers.get('X-Slack-Signature', '')}"
    )
    return f"slack:signed:{hashlib.sha256(signed.encode()).hexdigest()}"
