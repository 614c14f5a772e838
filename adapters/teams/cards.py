"""Adaptive Cards (version 1.5, what Teams renders for bots) as pure functions of core values.

Nothing here talks to Teams: each function returns the card as a dict, so tests validate every
card against the Adaptive Cards 1.5 schema and assert what a person would read on it.

Buttons: decisions are ``Action.Execute`` (Universal Actions; the verb names the decision and
``data.request_id`` the request), each with an ``Action.Submit`` fallback for clients without
Universal Actions, which then arrives as a message whose ``value`` carries ``verb`` too.
Dialogs open with ``Action.Submit`` whose ``data.msteams.type`` is ``task/fetch``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.teams import fit
from core.connection_form import SAFEKEEPING, FieldKind, ProviderForm
from core.durations import format_duration
from core.identity import SYSTEM
from core.replies import Reply, evidence_sentence
from core.requests import AccessRequest, Status
from core.timefmt import show_time

Card = dict[str, Any]

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
VERSION = "1.5"
MAX_REFRESH_USERS = 60  # Teams runs an automatic refresh for at most this many users

# Verbs of Action.Execute (and ``verb`` of the Action.Submit fallbacks).
APPROVE, DENY, REFRESH = "approve", "deny", "refresh"
DISCONNECT, KEEP_CONNECTED = "disconnect", "keep_connected"

# ``form`` of dialog launchers and dialog submits.
REQUEST_FORM, CONNECT_FORM = "request", "connect"


def card(body: Sequence[Card], actions: Sequence[Card] = (), **extra: Any) -> Card:
    content: Card = {"type": "AdaptiveCard", "version": VERSION, "body": list(body)}
    if actions:
        content["actions"] = list(actions)
    content.update(extra)
    return content


def text(value: str, **style: Any) -> Card:
    return {"type": "TextBlock", "text": value, "wrap": True, **style}


# TextRun style; everything else styles the RichTextBlock around it.
_RUN_STYLE = frozenset({"color", "fontType", "isSubtle", "italic", "size", "weight"})
_ONE_LINE = re.compile(r"\s+")


def words(*runs: str | tuple[str, Mapping[str, Any]], **style: Any) -> Card:
    """Text someone typed, or a sentence quoting it, as a RichTextBlock: its TextRuns render no
    markdown, so a reason cannot draw bold, links or lists, and on one line it cannot draw a line
    that looks like the card's own. A run is a string or (string, its own TextRun style)."""
    shared = {k: v for k, v in style.items() if k in _RUN_STYLE}
    inlines: list[Card] = []
    for run in runs:
        value, own = (run, {}) if isinstance(run, str) else run
        inlines.append({"type": "TextRun", "text": _ONE_LINE.sub(" ", value), **shared, **own})
    block = {k: v for k, v in style.items() if k not in _RUN_STYLE}
    return {"type": "RichTextBlock", "inlines": inlines, **block}


def notice(value: str, ok: bool = False) -> Card:
    """A sentence that stands out: a refusal, an inline form error, a result."""
    return words(value, color="good" if ok else "attention", weight="bolder")


def facts(pairs: Sequence[tuple[str, str]]) -> Card:
    return {
        "type": "FactSet",
        "facts": [{"title": title, "value": value} for title, value in pairs if value],
    }


def execute(title: str, verb: str, data: Mapping[str, Any], **extra: Any) -> Card:
    """``Action.Execute`` with an ``Action.Submit`` fallback carrying the same verb and data."""
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": dict(data),
        "fallback": {"type": "Action.Submit", "title": title, "data": {**data, "verb": verb}},
        **extra,
    }


def open_dialog(title: str, form: str, **data: Any) -> Card:
    """A button that asks the bot for a dialog (``task/fetch``) showing ``form``."""
    return {
        "type": "Action.Submit",
        "title": title,
        "data": {"msteams": {"type": "task/fetch"}, "form": form, **data},
    }


# -- approvals ---------------------------------------------------------------------------------


def approval_card(
    request: AccessRequest,
    *,
    required: int = 1,
    tz: str = "UTC",
    now: datetime | None = None,
    message: str | None = None,
    refresh_user_ids: Sequence[str] = (),
) -> Card:
    """The approval card: who asks for what, for how long, why, and why they may.

    Pending: a deny-reason input and Approve / Deny. Decided: the outcome, no buttons left.
    ``message`` is shown on top (a refusal or a stale click, for the person who clicked).
    """
    body: list[Card] = []
    if message:
        body.append(notice(message))
    title = f"Access request {request.id}"
    extends = getattr(request, "extends", None)
    if extends:
        title = f"More time for {extends} (request {request.id})"
    body.append(text(title, size="medium", weight="bolder", style="heading"))
    body.append(
        facts(
            [
                ("Requester", request.requester),
                ("Resource", request.resource),
                ("Duration", format_duration(request.duration)),
                ("On-call evidence", evidence_sentence(request, tz, now)),
            ]
        )
    )
    # Fact values render markdown; the reason is what the requester typed, so it is a TextRun.
    body.append(words(("Reason: ", {"weight": "bolder"}), request.reason or "(none given)"))
    body.append(words(status_sentence(request, required=required, tz=tz, now=now), weight="bolder"))
    if request.status != Status.PENDING:
        return card(body)
    body.append(
        {
            "type": "Input.Text",
            "id": "reason",
            "label": "Comment (if you deny: the reason the requester sees)",
            "placeholder": "optional",
            "maxLength": 500,
        }
    )
    data = {"request_id": request.id}
    actions = [
        execute("Approve", APPROVE, data),
        execute("Deny", DENY, data),
    ]
    extra: dict[str, Any] = {}
    if refresh_user_ids:
        # Whoever opens a copy later sees the current state, not a stale pending card.
        extra["refresh"] = {
            "action": {"type": "Action.Execute", "verb": REFRESH, "data": data},
            "userIds": list(dict.fromkeys(refresh_user_ids))[:MAX_REFRESH_USERS],
        }
    return card(body, actions, **extra)


def status_sentence(
    request: AccessRequest, *, required: int = 1, tz: str = "UTC", now: datetime | None = None
) -> str:
    by = request.decided_by if request.decided_by and request.decided_by != SYSTEM else ""
    match request.status:
        case Status.PENDING:
            if request.approvals:
                who = ", ".join(request.approvals)
                return f"Waiting for approval: {len(request.approvals)} of {required} ({who})."
            return "Waiting for approval."
        case Status.APPROVED:
            return f"Approved{f' by {by}' if by else ''}; the access is being granted."
        case Status.ACTIVE:
            until = f" until {show_time(request.expires_at, tz, now)}" if request.expires_at else ""
            return f"Approved{f' by {by}' if by else ''}: access granted{until}."
        case Status.DENIED:
            because = f": {request.decision_note}" if request.decision_note else "."
            return f"Denied{f' by {by}' if by else ''}{because}"
        case Status.CANCELLED:
            return "Cancelled."
        case Status.TIMED_OUT:
            return "Timed out: nobody decided in time."
        case Status.EXPIRED:
            return "Approved; the access has expired."
        case Status.REVOKED:
            return "Approved; the access was revoked."
    return request.status.value


# -- replies -----------------------------------------------------------------------------------


def needs_card(reply: Reply) -> bool:
    """Plain sentences stay text messages; lists, requests and forms become cards."""
    return bool(reply.lines or reply.request or reply.open_form)


def reply_card(reply: Reply, *, tz: str = "UTC", now: datetime | None = None) -> Card:
    """A reply as a card: its sentence, as many of its lines as fit Teams' size limit, then the
    reply's own tail for the rest ("and 312 more: narrow it with `oncall GROUP`")."""
    # Replies quote reasons and comments (lists of requests, refusals), so they are TextRuns.
    head = words(
        fit.cut(reply.text, fit.TEXT_UNITS), **({} if reply.ok else {"color": "attention"})
    )
    after: list[Card] = []
    if reply.request is not None:
        r = reply.request
        after.append(
            facts(
                [
                    ("Request", r.id),
                    ("Resource", r.resource),
                    ("Duration", format_duration(r.duration)),
                    ("Status", status_sentence(r, tz=tz, now=now)),
                ]
            )
        )
    actions: list[Card] = []
    if reply.open_form == REQUEST_FORM:
        actions.append(open_dialog("Open the request form", REQUEST_FORM))
    elif reply.open_form == CONNECT_FORM:
        actions.extend(
            open_dialog(f"Connect {form.label}", CONNECT_FORM, provider=form.provider)
            for form in reply.forms
        )
    lines = [words(fit.cut(line, fit.LINE_UNITS), spacing="small") for line in reply.lines]
    shown = _fitting(lines, fit.utf16_size(card([head, *after], actions)) + TAIL_RESERVE)
    tail = (
        [words(reply.tail(len(lines) - len(shown)), isSubtle=True)]
        if len(shown) < len(lines)
        else []
    )
    return card([head, *shown, *tail, *after], actions)


TAIL_RESERVE = 1024
"""UTF-16 bytes kept back for the tail that counts what was left out."""


def _fitting(elements: Sequence[Card], used: int, budget: int = fit.CARD_BUDGET) -> list[Card]:
    """The leading elements that fit in `budget` UTF-16 bytes beside `used` ones."""
    kept: list[Card] = []
    for element in elements:
        used += fit.utf16_size(element) + 2  # and the comma between elements
        if used > budget:
            break
        kept.append(element)
    return kept


def confirm_disconnect_card(provider: str, label: str) -> Card:
    data = {"provider": provider}
    return card(
        [
            text(f"Disconnect {label}?", size="medium", weight="bolder"),
            text(
                "Its stored credentials are removed and its roster is no longer synced; "
                "requests that relied on its on-call groups go to the people named in "
                "approve.people."
            ),
        ],
        [
            execute(f"Disconnect {label}", DISCONNECT, data),
            execute("Keep it", KEEP_CONNECTED, data),
        ],
    )


def result_card(message: str, ok: bool = True) -> Card:
    return card([words(message, **({} if ok else {"color": "attention"}))])


# -- dialogs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceChoice:
    name: str
    description: str = ""
    default_duration: str = ""
    max_duration: str = ""


CHOICE_UNITS = 80
"""UTF-16 code units of a resource's title in the request dialog's list."""
CHOICES_BUDGET = 52 * 1024
"""UTF-16 bytes of the request dialog's resource choices; the rest of the card fits in the
remainder of the message limit whatever was typed into it."""
LIMITS_LISTED = 5
"""Resources whose durations the dialog lists under the field; more would not be read."""


def _choice_title(resource: ResourceChoice) -> str:
    return f"{resource.name} — {resource.description}" if resource.description else resource.name


def request_form(
    resources: Sequence[ResourceChoice],
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> Card:
    """The request dialog; after a refusal it comes back with what was typed and the error
    under the field it belongs to (``errors`` keyed by input id)."""
    values, errors = values or {}, errors or {}
    body: list[Card] = []
    if message:
        body.append(notice(message))
    choices = [
        {"title": fit.cut(_choice_title(r), CHOICE_UNITS), "value": r.name} for r in resources
    ]
    kept = _fitting(choices, fit.utf16_size(choices[:0]), CHOICES_BUDGET)
    resource: Card = {
        "type": "Input.ChoiceSet",
        "id": "resource",
        "label": "Resource",
        "choices": kept,
        "isRequired": True,
        "errorMessage": "Choose a resource.",
    }
    if values.get("resource"):
        resource["value"] = values["resource"]
    body.append(resource)
    if len(kept) < len(choices):
        more = len(choices) - len(kept)
        body.append(
            text(f"and {more} more: type `request NAME` in the chat", isSubtle=True, size="small")
        )
    body.extend(_error_below("resource", errors))
    limits = "; ".join(
        f"{r.name}: default {r.default_duration}, at most {r.max_duration}"
        for r in resources[:LIMITS_LISTED]
        if r.default_duration
    )
    if len(resources) > LIMITS_LISTED:
        limits = "Empty for the resource's default; `why RESOURCE` tells its maximum."
    body.append(
        _text_input(
            "duration",
            "Duration",
            values,
            placeholder="e.g. 30m, 2h, 1h30m (empty: the default)",
            regex=r"^\s*(\d+[dhmsDHMS])*\s*$",
            errorMessage="A duration looks like 45s, 30m, 2h, 1h30m or 1d.",
        )
    )
    if limits:
        body.append(text(limits, isSubtle=True, size="small", spacing="none"))
    body.extend(_error_below("duration", errors))
    body.append(
        _text_input(
            "reason",
            "Reason",
            values,
            placeholder="e.g. INC-4411 failover",
            isMultiline=True,
            maxLength=500,
        )
    )
    body.extend(_error_below("reason", errors))
    return card(
        body, [{"type": "Action.Submit", "title": "Request", "data": {"form": REQUEST_FORM}}]
    )


def connect_form(
    form: ProviderForm,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> Card:
    """The connect dialog of one provider, drawn from its form. Secrets are never filled back."""
    values, errors = values or {}, errors or {}
    body: list[Card] = [text(f"Connect {form.label}", size="medium", weight="bolder")]
    if message:
        body.append(notice(message))
    for f in form.fields:
        if f.kind is FieldKind.CHOICE:
            body.append(_choices(f.name, f.label, f.choices, values.get(f.name) or f.default))
        else:
            extra: dict[str, Any] = {"maxLength": f.max_length}
            if f.multiline:
                extra["isMultiline"] = True
            if f.placeholder:
                extra["placeholder"] = f.placeholder
            if f.kind is FieldKind.SECRET:
                extra["style"] = "password"
            elif f.kind is FieldKind.EMAIL:
                extra["style"] = "email"
            shown = {} if f.kind is FieldKind.SECRET else values
            body.append(_text_input(f.name, f.label, shown, **extra))
        body.extend(_error_below(f.name, errors))
        if f.hint:
            body.append(text(f.hint, isSubtle=True, size="small", spacing="none"))
    # An error about a field this form does not show still has to be seen.
    body[1:1] = [notice(errors[name]) for name in errors if form.field(name) is None]
    body.append(text(SAFEKEEPING, isSubtle=True, size="small"))
    submit = {
        "type": "Action.Submit",
        "title": "Connect",
        "data": {"form": CONNECT_FORM, "provider": form.provider},
    }
    return card(body, [submit])


def link_card(message: str, title: str, url: str) -> Card:
    return card([text(message)], [{"type": "Action.OpenUrl", "title": title, "url": url}])


def _text_input(name: str, label: str, values: Mapping[str, str], **extra: Any) -> Card:
    element: Card = {"type": "Input.Text", "id": name, "label": label, **extra}
    if values.get(name):
        element["value"] = values[name]
    return element


def _choices(name: str, label: str, options: Sequence[tuple[str, str]], value: str) -> Card:
    return {
        "type": "Input.ChoiceSet",
        "id": name,
        "label": label,
        "style": "compact",
        "value": value,
        "choices": [{"title": title, "value": key} for key, title in options],
    }


def _error_below(name: str, errors: Mapping[str, str]) -> list[Card]:
    return [notice(errors[name])] if name in errors else []
