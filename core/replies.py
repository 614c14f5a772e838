"""Platform-neutral replies: what to say, not how a surface draws it.

Console prints `text`; Slack and Teams render the same Reply (and the request it is about, if
any) as Block Kit or an Adaptive Card with pure functions of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.connection_form import ProviderForm
from core.connections import ConnectResult
from core.durations import format_duration
from core.evidence import Rule
from core.incidents import Incident
from core.requests import AccessRequest
from core.timefmt import show_time


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    ok: bool = True
    request: AccessRequest | None = None
    lines: tuple[str, ...] = field(default_factory=tuple)
    open_form: str | None = None  # a surface with forms opens this one (e.g. "request", "connect")
    fields: dict[str, str] = field(default_factory=dict)  # a refusal, form field by field
    connect: ConnectResult | None = None  # the outcome of a connect form, for the form to draw
    forms: tuple[ProviderForm, ...] = ()  # with open_form="connect": the providers offered
    more: str = ""
    """How to reach the lines a surface had to leave out (its message size limit): a tail
    reads `and 312 more: {more}`, e.g. "narrow it with `oncall GROUP`"."""

    def tail(self, left_out: int) -> str:
        """The line that stands for `left_out` lines a surface could not show."""
        return f"and {left_out} more: {self.more}" if self.more else f"and {left_out} more."

    @property
    def full_text(self) -> str:
        return "\n".join((self.text, *self.lines)) if self.lines else self.text


def evidence_sentence(request: AccessRequest, tz: str = "UTC", now: datetime | None = None) -> str:
    """`on call for Primary SRE (PagerDuty) until 18:00 CET`, or how else the requester qualified."""
    ev = request.evidence
    group = ev.group.display if ev.group else ""
    if ev.incident is not None:
        return incident_sentence(ev.incident)
    if ev.on_call:
        end = ev.shift_end
        until = f" until {show_time(end, tz, now)}" if end else " (no end)"
        return f"on call for {group}{until}"
    if ev.rule is Rule.REQUEST_MEMBERS and group:
        return f"member of {group}"
    return _SENTENCES.get(ev.rule, "anyone may request it")


_SENTENCES = {
    Rule.REQUEST_PEOPLE: "named in the policy",
    Rule.FALLBACK_PROVIDER_DISCONNECTED: "not checked: the on-call provider is disconnected, so named approvers decide",
    Rule.FALLBACK_ROSTER_STALE: "not checked: the on-call roster is out of date, so named approvers decide",
    Rule.FALLBACK_UNKNOWN_PERSON: "not in the on-call roster under this email, so named approvers decide",
}


def incident_sentence(incident: Incident) -> str:
    """`assigned to PagerDuty incident #1234 "Checkout is down" on Checkout API (PagerDuty),
    https://…`: every message about such a request names the incident and links it."""
    link = f", {incident.url}" if incident.url else ""
    return f"assigned to {incident.label} on {incident.service.display}{link}"


def describe_request(request: AccessRequest, tz: str = "UTC", now: datetime | None = None) -> str:
    incident = request.evidence.incident
    said = request.reason and not (incident and request.reason == incident.label)
    reason = f' "{request.reason}"' if said else ""  # an incident as the reason is said once
    return (
        f"{request.requester} requests {request.resource} for {format_duration(request.duration)}{reason} "
        f"({request.id}); {evidence_sentence(request, tz, now)}."
    )
