"""`entra-group`: membership of a Microsoft Entra ID group for the duration of an access."""

from __future__ import annotations

import re

from core.grant_types import GrantType, Options
from core.yamlread import shorten

GROUP_ID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def problems(options: Options) -> list[str]:
    group = options.get("group")
    if not isinstance(group, str) or not group.strip():
        return ["an entra-group grant needs `group: OBJECT_ID` (the group's object id in Entra ID)"]
    if not GROUP_ID.match(group.strip()):
        return [
            f"an entra-group grant's `group` must be the group's object id (a GUID), not {shorten(group)}"
        ]
    unknown = sorted(set(options) - {"group"})
    if unknown:
        return [f"an entra-group grant takes only `group`, not {', '.join(unknown)}"]
    return []


def target(options: Options) -> str:
    return f"Entra ID group {str(options.get('group', '')).lower()}"


GRANT_TYPE = GrantType("entra-group", problems, target)
