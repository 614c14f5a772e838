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
from core.groups import GroupRef
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
    rule = ev.get("rule", "")
    group = GroupRef.parse(ev["group"]).display if ev.get("group") else ""
    if rule.endswith("on_call") and group:
        end = ev.get("shift_end")
        until = f" until {show_time(datetime.fromisoformat(end), tz, now)}" if end else " (no end)"
        return f"on call for {group}{until}"
    if rule == "request.members" and group:
        return f"member of {group}"
    if rule == "request.people":
        return "named in the policy"
    if rule == "fallback.provider_disconnected":
        return "not checked: the on-call provider is disconnected, so named approvers decide"
    if rule == "fallback.roster_stale":
        return "not checked: the on-call roster is out of date, so named approvers decide"
    if rule == "fallback.unknown_person":
        return "not in the on-call roster under this email, so named approvers decide"
    return "anyone may request it"


def describe_request(request: AccessRequest, tz: str = "UTC", now: datetime | None = None) -> str:
    reason = f' "{request.reason}"' if request.reason else ""
    return (
        f"{request.requester} requests {request.resource} for {format_duration(request.duration)}{reason} "
        f"({request.id}); {evidence_sentence(request, tz, now)}."
    )
