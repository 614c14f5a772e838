"""Opsgenie's custom-role rights and what each requires, so a role is checked before it is used.

Opsgenie only lets a custom role hold a right together with the rights it builds on (closing an
alert presupposes acting on alerts) and only on top of certain base roles. A role that breaks
this cannot be created, or does not do what its name promises, so the granter explains the gap in
one sentence instead of failing on a person's access. The table is Opsgenie's own list
(Opsgenie's published `user-right-prerequisites.csv`, kept in `tests/reference/opsgenie/`: right, prerequisites, base roles).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ANY_BASE = frozenset({"observer", "stakeholder", "user"})
USER_BASE = frozenset({"user"})


@dataclass(frozen=True, slots=True)
class Right:
    requires: tuple[str, ...] = ()
    bases: frozenset[str] = USER_BASE  # base roles a custom role must extend to hold the right


RIGHTS: dict[str, Right] = {
    "who-is-on-call-show-all": Right(),
    "notification-rules-edit": Right(),
    "quiet-hours-edit": Right(),
    "alerts-access-all": Right(),
    "reports-access": Right(),
    "logs-page-access": Right(),
    "maintenance-edit": Right(),
    "contacts-edit": Right(bases=ANY_BASE),
    "profile-edit": Right(bases=ANY_BASE),
    "login-email-edit": Right(bases=ANY_BASE),
    "profile-custom-fields-edit": Right(("profile-edit",)),
    "configurations-read-only": Right(
        ("who-is-on-call-show-all", "alerts-access-all", "contacts-edit")
    ),
    "configurations-edit": Right(("configurations-read-only",)),
    "configurations-delete": Right(("configurations-edit",)),
    "billing-manage": Right(("configurations-edit",)),
    "alert-action": Right(),
    "alert-create": Right(("alert-action",)),
    "alert-add-attachment": Right(("alert-action",)),
    "alert-delete-attachment": Right(("alert-action",)),
    "alert-add-note": Right(("alert-action",)),
    "alert-acknowledge": Right(("alert-action",)),
    "alert-unacknowledge": Right(("alert-action",)),
    "alert-snooze": Right(("alert-action",)),
    "alert-escalate": Right(("alert-action",)),
    "alert-close": Right(("alert-action",)),
    "alert-delete": Right(("alert-close",)),
    "alert-take-ownership": Right(("alert-action",)),
    "alert-assign-ownership": Right(("alert-action",)),
    "alert-add-recipient": Right(("alert-action",)),
    "alert-add-team": Right(("alert-action",)),
    "alert-edit-tags": Right(("alert-action",)),
    "alert-edit-details": Right(("alert-action",)),
    "alert-custom-action": Right(("alert-action",)),
    "alert-update-priority": Right(("alert-action",)),
    "alert-acknowledge-all": Right(("alert-acknowledge",)),
    "alert-close-all": Right(("alert-close",)),
    "incident-create": Right(("alert-create",)),
    "incident-add-stakeholder": Right(("alert-add-recipient",)),
    "incident-add-responder": Right(("alert-add-recipient",)),
    "incident-resolve": Right(("alert-action",)),
    "incident-reopen": Right(("alert-action",)),
    "mass-notification-create": Right(("alert-action",)),
    "service-access-status": Right(bases=ANY_BASE),
}


def missing_rights(rights: Iterable[str]) -> list[str]:
    """Every right the given ones require, directly or not, that is not among them (nearest first)."""
    given = [r for r in rights if r in RIGHTS]
    missing: list[str] = []
    queue = list(given)
    for right in queue:  # the queue grows while it is walked: breadth first
        for needed in RIGHTS[right].requires:
            if needed not in given and needed not in missing:
                missing.append(needed)
                queue.append(needed)
    return missing


def role_problem(name: str, extends: str, rights: Sequence[str]) -> str | None:
    """One sentence saying why a custom role with these rights will not work, or None."""
    unknown = [r for r in rights if r not in RIGHTS]
    if unknown:
        return (
            f"The Opsgenie role '{name}' names {_and(unknown)}, which Opsgenie does not know as "
            f"{'a right' if len(unknown) == 1 else 'rights'}."
        )
    base = extends.lower()
    if base not in ANY_BASE:
        return (
            f"The Opsgenie role '{name}' must extend user, observer or stakeholder, not {extends}."
        )
    wrong_base = [r for r in rights if base not in RIGHTS[r].bases]
    if wrong_base:
        return (
            f"The Opsgenie role '{name}' extends {base}, but {_and(wrong_base)} "
            f"{'needs' if len(wrong_base) == 1 else 'need'} a role that extends user."
        )
    missing = missing_rights(rights)
    if not missing:
        return None
    chains = "; ".join(_chains(rights))
    return f"The Opsgenie role '{name}' lacks rights that its rights require ({chains}): add {_and(missing)}."


def _chains(rights: Sequence[str]) -> list[str]:
    """`alert-delete needs alert-close, which needs alert-action`, for each right with a gap."""
    have = set(rights)

    def chain(right: str) -> str:
        further = [n for n in RIGHTS[right].requires if n not in have]
        return f"{right}, which needs {_and([chain(n) for n in further])}" if further else right

    found = []
    for right in rights:
        gaps = [n for n in RIGHTS[right].requires if n not in have]
        if gaps:
            found.append(f"{right} needs {_and([chain(n) for n in gaps])}")
    return found


def _and(items: Sequence[str]) -> str:
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else "".join(items)
