"""Checkpoints: the trail's head written down outside the database, signed with the audit key.

Whoever can write the database can delete the last events together with the recorded head, or
replace the whole trail; only a copy of the head kept elsewhere shows it. A checkpoint names the
seq and hash of the head when it was taken; a later trail must still hold that event, unchanged.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.audit import GENESIS, AuditKeys, AuditRecord, canonical, format_time

FORMAT = "oncall-access-audit-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, or signed with a key that is not configured
    (not proof of tampering either way)."""


class TamperedCheckpoint(ValueError):
    """A signed checkpoint whose content no longer matches its signature."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    key_id: str | None  # None: unsigned (no audit key was configured)


def make_checkpoint(head: tuple[int, str] | None, at: datetime, keys: AuditKeys) -> dict[str, Any]:
    """The checkpoint of a trail whose head is `head` (None: an empty trail), signed with the
    newest key when there is one."""
    seq, hash_ = head or (0, GENESIS)
    body: dict[str, Any] = {"format": FORMAT, "seq": seq, "hash": hash_, "at": format_time(at)}
    key = keys.signing
    body["key_id"] = key.id if key else None
    body["signature"] = key.sign(canonical(body)) if key else None
    return body


def render(checkpoint: dict[str, Any]) -> str:
    return json.dumps(checkpoint, indent=2, sort_keys=True) + "\n"


def read_checkpoint(text: str, keys: AuditKeys) -> Checkpoint:
    """The checkpoint in `text`, its signature checked. Raises `CheckpointError` when it cannot
    be read or checked, and `TamperedCheckpoint` when its signature does not match."""
    try:
        data = json.loads(text)
    except ValueError:
        raise CheckpointError("not a checkpoint (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"not a checkpoint (no format {FORMAT})")
    seq, hash_, at = data.get("seq"), data.get("hash"), data.get("at")
    key_id, signature = data.get("key_id"), data.get("signature")
    if not (isinstance(seq, int) and seq >= 0 and isinstance(hash_, str) and isinstance(at, str)):
        raise CheckpointError("not a checkpoint (seq, hash or at missing)")
    if key_id is None:
        return Checkpoint(seq, hash_, at, None)
    key = keys.find(str(key_id))
    if key is None:
        raise CheckpointError(f"signed with audit key id {key_id}, which is not configured")
    body = {k: v for k, v in data.items() if k != "signature"}
    if not isinstance(signature, str) or not hmac.compare_digest(
        key.sign(canonical(body)), signature
    ):
        raise TamperedCheckpoint("its signature does not match: the file was altered")
    return Checkpoint(seq, hash_, at, str(key_id))


def check_against(
    checkpoint: Checkpoint, records: Sequence[AuditRecord], start: tuple[int, str] | None = None
) -> str | None:
    """Why the trail no longer holds the checkpointed head, or None when it does. `start` is
    where a retention cut left the trail: a checkpoint at the cut must match it, an older one has
    nothing left to compare with."""
    if checkpoint.seq == 0:
        return None
    if start is not None and checkpoint.seq <= start[0]:
        if checkpoint.seq == start[0] and not hmac.compare_digest(start[1], checkpoint.hash):
            return (
                f"event {checkpoint.seq} is not the one checkpointed at {checkpoint.at}: "
                "the trail was replaced or rewritten"
            )
        return None
    found = next((r for r in records if r.seq == checkpoint.seq), None)
    if found is None:
        last = max((r.seq for r in records), default=0)
        return (
            f"the trail ends at event {last}, but it reached event {checkpoint.seq} "
            f"at {checkpoint.at}: events were dropped"
        )
    if not hmac.compare_digest(found.hash, checkpoint.hash):
        return (
            f"event {checkpoint.seq} is not the one checkpointed at {checkpoint.at}: "
            "the trail was replaced or rewritten"
        )
    return None
