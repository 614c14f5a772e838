"""Bounds on what an inbound request may hold, shared by every surface that parses JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def depth_at_most(value: Any, limit: int) -> bool:
    """Whether parsed JSON nests at most `limit` levels (walked without recursion, so a hostile
    body cannot exhaust the stack while it is being measured)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            node = list(node.values())
        if isinstance(node, list):
            if depth > limit:
                return False
            stack.extend((child, depth + 1) for child in node)
    return True
