"""`okta-group`: membership of an Okta group for the duration of an access."""

from __future__ import annotations

from core.grant_types import GrantType, Options
from core.yamlread import shorten


def problems(options: Options) -> list[str]:
    group = options.get("group")
    if not isinstance(group, str) or not group.strip():
        return [
            "an okta-group grant needs `group: ID_OR_NAME` (the group's id, 00g…, or its exact name)"
        ]
    if '"' in group or "\\" in group:
        return ["an okta-group grant's `group` cannot hold a quote or a backslash"]
    unknown = sorted(set(options) - {"group"})
    if unknown:
        return [f"an okta-group grant takes only `group`, not {', '.join(unknown)}"]
    return []


def target(options: Options) -> str:
    return f"Okta group {shorten(str(options.get('group', '')))}"


GRANT_TYPE = GrantType("okta-group", problems, target)
