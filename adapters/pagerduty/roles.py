"""PagerDuty user roles: API values and the names people see in the web app.

The API's `role` values predate the current names (e.g. `limited_user` is shown as Responder on
Advanced Permissions accounts); admins think in the display names, so messages use those.
"""

from __future__ import annotations

ROLE_NAMES: dict[str, str] = {
    "owner": "Account Owner",
    "admin": "Global Admin",
    "user": "Manager",
    "limited_user": "Responder",
    "observer": "Observer",
    "restricted_access": "Restricted Access",
    "read_only_user": "Stakeholder",
    "read_only_limited_user": "Limited Stakeholder",
}


def role_display(role: str | None) -> str:
    """The display name of an API role value; unknown values are shown as they are."""
    if not role:
        return "Unknown role"
    return ROLE_NAMES.get(role, role)
