"""`github-team`: membership (or the maintainer role) of a GitHub team for a while."""

from __future__ import annotations

import re

from core.grant_types import GrantType, Options

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
ROLES = ("member", "maintainer")


def problems(options: Options) -> list[str]:
    org, team = options.get("org"), options.get("team")
    if not isinstance(org, str) or not NAME.match(org):
        return ["a github-team grant needs `org: ORGANIZATION` (its login, e.g. acme)"]
    if not isinstance(team, str) or not NAME.match(team):
        return [
            "a github-team grant needs `team: TEAM_SLUG` (as in github.com/orgs/ORG/teams/SLUG)"
        ]
    if options.get("role", "member") not in ROLES:
        return ["a github-team grant's `role` is member or maintainer"]
    unknown = sorted(set(options) - {"org", "team", "role"})
    if unknown:
        return [f"a github-team grant takes `org`, `team` and `role`, not {', '.join(unknown)}"]
    return []


def target(options: Options) -> str:
    return f"GitHub team {options.get('org')}/{options.get('team')}"


GRANT_TYPE = GrantType("github-team", problems, target)
