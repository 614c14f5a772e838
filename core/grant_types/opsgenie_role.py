"""`opsgenie-role`: an Opsgenie user role for the duration of an access."""

from __future__ import annotations

from core.grant_types import GrantType, Options

OPSGENIE_BUILT_IN_ROLES = ("admin", "user", "observer", "stakeholder")


def problems(options: Options) -> list[str]:
    role = str(options.get("role") or "").strip()
    if not role:
        return [
            "an opsgenie-role grant needs `role: NAME` (a custom user role, or admin, user, observer or stakeholder)"
        ]
    if role.lower() == "owner":
        return ["the Opsgenie owner role cannot be granted"]
    if options.get("ensure") and role.lower() in OPSGENIE_BUILT_IN_ROLES:
        return [f"`ensure` creates or updates custom roles; {role} is built in"]
    rights = options.get("rights", [])
    if not isinstance(rights, list) or not all(isinstance(r, str) for r in rights):
        return ["`rights` is a list of Opsgenie right names, e.g. [alert-action, alert-close]"]
    if str(options.get("extends", "user")).lower() not in ("user", "observer", "stakeholder"):
        return ["`extends` is user, observer or stakeholder"]
    return []


GRANT_TYPE = GrantType("opsgenie-role", problems, lambda options: "Opsgenie")
