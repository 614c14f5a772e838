"""A resource's grants as one receipt: which of them were given, and which taken back.

A resource with one grant keeps that granter's receipt as it is. With several, the receipt is
`{"parts": [...]}`, one entry per grant in policy order: the granter's receipt once given (None
until then), with `revoked_with` added once taken back. A grant or revoke that failed part way
is stored with its progress, so a retry finishes exactly what is left and never repeats or skips
a part, on any replica, after any restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Part = dict[str, Any] | None
REVOKED = "revoked_with"


def parts_of(receipt: Mapping[str, Any] | None) -> list[Part]:
    """The parts a stored receipt holds (a single grant's receipt is one part)."""
    if not receipt:
        return []
    listed = receipt.get("parts")
    if isinstance(listed, list) and "type" not in receipt:
        return [dict(p) if isinstance(p, dict) else None for p in listed]
    return [dict(receipt)]


def receipt_of(parts: Sequence[Part]) -> dict[str, Any] | None:
    """The receipt to store for `parts`: a lone given grant's own receipt, else the list."""
    if not any(p is not None for p in parts):
        return None
    if len(parts) == 1 and parts[0] is not None:
        return parts[0]
    return {"parts": list(parts)}


def given(parts: Sequence[Part]) -> list[int]:
    """The indexes of parts given and not yet taken back."""
    return [i for i, p in enumerate(parts) if p is not None and REVOKED not in p]


def any_given(receipt: Mapping[str, Any] | None) -> bool:
    return bool(given(parts_of(receipt)))
