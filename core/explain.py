"""`why RESOURCE`: everything that decides one person's access to one resource at one instant,
as the lines chat shows. Pure, so `policy explain` on the server says exactly what chat says, for
any person and any instant the roster covers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.decision import ASSUME_FRESH, Outcome, decide
from core.durations import format_duration
from core.policy import Policy, Resource
from core.replies import Reply
from core.roster import Roster
from core.timefmt import show_age, show_time


def explain(
    policy: Policy,
    res: Resource,
    email: str,
    roster: Roster,
    at: datetime,
    *,
    max_age: timedelta = ASSUME_FRESH,
    tz: str = "UTC",
    next_sync: datetime | None = None,
) -> Reply:
    """The rule that applies to `email` at `at`, whether they are (not) on call and until when,
    whether they would be approved at once, who could approve, the durations, the roster's age."""
    decision = decide(res, email, roster, at, max_age)
    verdict = decision.request
    lines = [f"{'✓' if verdict.allowed else '✗'} {verdict.sentence(tz, at)}"]
    rule = res.request
    if rule.open_to_all:
        lines.append("Rule: anyone may request it.")
    if rule.people:
        lines.append(f"Rule: these people may request it: {', '.join(rule.people)}.")
    for group in rule.on_call:
        shift = roster.on_call(email, group, at)
        if shift:
            until = show_time(shift.end, tz, at) if shift.end else "further notice"
            lines.append(f"Rule: on call for {group.display}: you are, until {until}.")
        else:
            lines.append(f"Rule: on call for {group.display}: you are not.")
    for group in rule.members:
        member = roster.is_member(email, group)
        lines.append(f"Rule: member of {group.display}: you {'are' if member else 'are not'}.")
    if decision.manual:
        why = (
            "the on-call roster is out of date"
            if decision.manual == "roster_stale"
            else f"you are not in the on-call roster as {decision.person}"
        )
        lines.append(f"A request would go to the named approvers ({why}).")
    if verdict.allowed or decision.manual:
        if decision.outcome == Outcome.AUTO_APPROVED:
            lines.append(
                "You would be approved at once (you are on call and auto_if_on_call is on)."
            )
        else:
            need = res.approve.required
            lines.append(
                f"Needs {need} approval{'s' if need > 1 else ''}; who can approve now: "
                f"{', '.join(decision.approvers) or 'nobody'}."
            )
        if decision.ends_at:
            lines.append(
                f"Access would end with your shift at {show_time(decision.ends_at, tz, at)} at the latest."
            )
    lines.append(
        f"Durations: default {format_duration(policy.default_duration(res))}, "
        f"maximum {format_duration(policy.max_duration(res))}"
        + ("; a reason is required." if policy.require_reason(res) else ".")
    )
    for snap in roster.snapshots.values():
        when = (
            show_age(snap.taken_at, at)
            if snap.taken_at <= at
            else f"at {show_time(snap.taken_at, tz, at)}, after this instant"
        )
        lines.append(f"Roster from {snap.provider.display} synced {when}.")
    if next_sync:
        lines.append(f"Next sync: {show_time(next_sync, tz, at)}.")
    return Reply(f"Why for {res.name}:", ok=True, lines=tuple(lines))
