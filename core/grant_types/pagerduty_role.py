"""`pagerduty-role`: a PagerDuty base role or team role for the duration of an access."""

from __future__ import annotations

from core.grant_types import GrantType, Options

PAGERDUTY_BASE_ROLES = ("admin", "user", "limited_user", "observer", "restricted_access",
                        "read_only_user", "read_only_limited_user")  # fmt: skip
PAGERDUTY_TEAM_ROLES = ("observer", "responder", "manager")


def problems(options: Options) -> list[str]:
    role, team, team_role = (
        str(options.get(k) or "").strip() for k in ("role", "team", "team_role")
    )
    if bool(role) == bool(team):
        return ["a pagerduty-role grant needs either `role: ROLE` or `team: NAME` with `team_role`"]
    if role and role not in PAGERDUTY_BASE_ROLES:
        return [f"`role` is one of {', '.join(PAGERDUTY_BASE_ROLES)}, not {role!r}"]
    if team and team_role not in PAGERDUTY_TEAM_ROLES:
        return ["`team_role` is observer, responder or manager"]
    return []


GRANT_TYPE = GrantType("pagerduty-role", problems, lambda options: "PagerDuty")
