"""Structural comparison against Slack's published examples."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "fakes" / "slack" / "data"


def example(name: str) -> Any:
    """Load one of the reference examples copied into ``tests/fakes/slack/data``."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def missing_keys(
    actual: Any, example: Any, path: str = "", *, opaque: Collection[str] = ()
) -> list[str]:
    """Paths of keys present in ``example`` but absent from ``actual``.

    Lists compare their first items; ``None`` stands in for any object (Slack nulls unset
    ``submit``/``close``); paths in ``opaque`` hold data keyed by ids, not fields, and are not
    descended into.
    """
    if path in opaque or actual is None:
        return []
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [path or "<root>"]
        found: list[str] = []
        for key, value in example.items():
            sub = f"{path}.{key}" if path else key
            if key not in actual:
                found.append(sub)
            else:
                found += missing_keys(actual[key], value, sub, opaque=opaque)
        return found
    if isinstance(example, list) and example and isinstance(actual, list) and actual:
        return missing_keys(actual[0], example[0], f"{path}[0]", opaque=opaque)
    return []
