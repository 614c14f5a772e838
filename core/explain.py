"""`why RESOURCE`: everything that decides one person's access to one resource at one instant,
as the lines chat shows. Pure, so `policy explain` on the server says exactly what chat says, for
any person and any instant the roster covers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.decision import ASSUME_FRESH, Outcome, decide
from core.durations import format_duration
from core.incident_rules import auto_if_incident
from core.policy import Policy, Resource
from core.replies import Reply, incident_sentence
from core.roster import Roster
from core.rules import Reason, Verdict, approvers_now
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
    incident: Verdict | None = None,
) -> Reply:
    """The rule that applies to `email` at `at`, whether they are (not) on call and until when,
    whether they would be approved at once, who could approve, the durations, the roster's age.

    `incident` is the provider's live answer for `request.incident` (None: not asked, as on the
    server, where incidents of another instant cannot be read)."""
    decision = decide(res, email, roster, at, max_age)
    verdict = decision.request
    rule = res.request
    by_incident = incident is not None and incident.allowed
    if incident is not None and (
        by_incident
        or (
            not verdict.allowed
            and (
                incident.reason is Reason.INCIDENT_UNCHECKED
                or not (rule.on_call or rule.members or rule.people)
            )
        )
    ):
        verdict = incident
    lines = [f"{'✓' if verdict.allowed else '✗'} {verdict.sentence(tz, at)}"]
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
    if rule.incident:
        lines.append(_incident_rule(res, incident))
    if decision.manual:
        why = (
            "the on-call roster is out of date"
            if decision.manual == "roster_stale"
            else f"you are not in the on-call roster as {decision.person}"
        )
        lines.append(f"A request would go to the named approvers ({why}).")
    if incident is not None and by_incident:
        if auto_if_incident(res, incident).allowed:
            lines.append(
                "You would be approved at once (you are assigned to the incident and "
                "auto_if_incident is on)."
            )
        elif decision.outcome != Outcome.AUTO_APPROVED:
            need = res.approve.required
            who = decision.approvers or tuple(approvers_now(res, email, roster, at, max_age))
            lines.append(
                f"Needs {need} approval{'s' if need > 1 else ''}; who can approve now: "
                f"{', '.join(who) or 'nobody'}."
            )
        found = incident.evidence.incident
        if found is not None and res.ends_with_incident:
            moved = " or moves to someone else" if res.end_on_reassign else ""
            lines.append(
                f"Access would end when {found.label} resolves{moved}, "
                "and when its time is up at the latest."
            )
    elif verdict.allowed or decision.manual:
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


def _incident_rule(res: Resource, incident: Verdict | None) -> str:
    names = ", ".join(g.display for g in res.request.incident)
    rule = f"Rule: assigned to an open incident on {names}"
    if incident is None:
        return f"{rule}: asked live when a request is made."
    if incident.evidence.incident is not None:
        return f"{rule}: you are, {incident_sentence(incident.evidence.incident)}."
    if incident.reason is Reason.INCIDENT_UNCHECKED:
        return f"{rule}: could not be checked just now."
    return f"{rule}: you are not."
