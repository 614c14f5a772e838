"""Modal views (request, deny, connect) and reading what people typed into them, as pure
functions. Block ids are the form's field names, so an error about a field lands on its block.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.slack import constants as k
from adapters.slack.render import context, esc, literal, plain, section
from core.connection_form import (
    SAFEKEEPING,
    FieldKind,
    ProviderForm,
    choose_provider_error,
    form_of,
)
from core.connections import ConnectForm
from core.durations import format_duration
from core.requests import AccessRequest

View = dict[str, Any]
StateValues = Mapping[str, Mapping[str, Mapping[str, Any]]]

VALUE = "value"
"""action_id of the input elements: one element per block, so the block id names the field."""
STATIC_MENU_MAX = 100
"""Options a static menu may hold; past that, the resource menu loads them as people type."""
LISTED_REFUSALS = 20
"""Resources listed on the request form with why they cannot be requested now."""


def _modal(
    callback_id: str,
    title: str,
    blocks: list[dict[str, Any]],
    *,
    submit: str | None = None,
    close: str = "Cancel",
    metadata: str = "",
) -> View:
    view: View = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, 24),
        "close": plain(close, 24),
        "blocks": blocks,
        "private_metadata": metadata[:3000],
    }
    if submit:
        view["submit"] = plain(submit, 24)
    return view


def metadata(**fields: Any) -> str:
    """`private_metadata`: what the submission needs to answer where the form was opened."""
    return json.dumps({k: v for k, v in fields.items() if v}, separators=(",", ":"))


def read_metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    try:
        found = json.loads(view.get("private_metadata") or "{}")
    except (ValueError, TypeError, RecursionError):  # not ours: bad JSON, not text, `[[[…`
        return {}
    return found if isinstance(found, dict) else {}


def loading_view(title: str, text: str = "One moment…") -> View:
    """Opened at once so the 3-second `trigger_id` is used before anything slow happens."""
    return _modal(
        k.LOADING, title, [section(f":hourglass_flowing_sand: {esc(text)}")], close="Close"
    )


def notice_view(title: str, text: str) -> View:
    """A modal that only says something (a refusal, a result); nothing to submit."""
    return _modal(k.NOTICE, title, [section(esc(text))], close="Close")


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
    action_id: str = VALUE,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": {**element, "action_id": action_id},
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _text_input(
    placeholder: str = "", *, multiline: bool = False, max_length: int = 3000
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "multiline": multiline,
        "max_length": max_length,
    }
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return element


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def _select(options: Mapping[str, str], initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "options": [_option(v, t) for v, t in list(options.items())[:100]],
    }
    if initial:
        element["initial_option"] = _option(initial, options[initial])
    return element


def _value(values: StateValues, block_id: str) -> str:
    """What the block's one element holds (typed, or the value of the option chosen)."""
    actions = values.get(block_id) or {}
    state = actions.get(VALUE) or next(iter(actions.values()), None) or {}
    if not isinstance(state, Mapping):
        return ""
    selected = state.get("selected_option")
    if isinstance(selected, Mapping):
        return str(selected.get("value") or "")
    return str(state.get("value") or "").strip()


# --- request ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """One resource as this person sees it now: may they request it, and why (not)."""

    name: str
    description: str
    allowed: bool
    why: str
    max_duration: str
    default_duration: str
    reason_required: bool


@dataclass(frozen=True, slots=True)
class RequestForm:
    resource: str
    duration: str
    reason: str


def request_view(choices: Sequence[Choice], meta: str) -> View:
    """Only what may be requested now is selectable; the rest is listed with the reason why not."""
    allowed = [c for c in choices if c.allowed]
    refused = [c for c in choices if not c.allowed]
    blocks: list[dict[str, Any]] = []
    if allowed:
        if len(allowed) <= STATIC_MENU_MAX:
            options = {c.name: _label(c) for c in allowed}
            initial = allowed[0].name if len(allowed) == 1 else None
            blocks.append(_input("resource", "Resource", _select(options, initial)))
        else:  # a static menu would drop every resource past the 100th without a word
            menu = {
                "type": "external_select",
                "min_query_length": 0,
                "placeholder": plain(f"Type to search {len(allowed)} resources", 150),
            }
            blocks.append(_input("resource", "Resource", menu, action_id=k.RESOURCE_MENU))
        blocks.append(
            _input(
                "duration",
                "Duration",
                _text_input("e.g. 30m, 2h, 1h30m", max_length=20),
                optional=True,
                hint=_duration_hint(allowed),
            )
        )
        needs_reason = [c.name for c in allowed if c.reason_required]
        blocks.append(
            _input(
                "reason",
                "Reason",
                _text_input("e.g. INC-4411 failover", multiline=True, max_length=1000),
                optional=True,
                hint=_reason_hint(needs_reason, len(allowed)),
            )
        )
    else:
        blocks.append(section("You may not request anything right now."))
    if refused:
        lines = [f"✗ *{esc(c.name)}*: {esc(c.why)}" for c in refused[:LISTED_REFUSALS]]
        if len(refused) > LISTED_REFUSALS:
            more = len(refused) - LISTED_REFUSALS
            lines.append(f"and {more} more: `/access list` says why")
        blocks.append(context(*_context_texts(lines)))
    if not choices:
        blocks = [section("The policy defines no resources.")]
    return _modal(
        k.REQUEST_FORM,
        "Request access",
        blocks,
        submit="Request" if allowed else None,
        close="Cancel" if allowed else "Close",
        metadata=meta,
    )


def _label(choice: Choice) -> str:
    return f"{choice.name} — {choice.description}" if choice.description else choice.name


def _duration_hint(allowed: Sequence[Choice]) -> str:
    if len(allowed) > 5:  # limits of many resources would not fit a hint; `why` tells each
        return "Empty for the resource's default; `/access why RESOURCE` tells its maximum."
    limits = "; ".join(
        f"{c.name}: default {c.default_duration}, max {c.max_duration}" for c in allowed
    )
    return f"Empty for the default. {limits}."


def _reason_hint(needs_reason: Sequence[str], allowed: int) -> str | None:
    if not needs_reason:
        return None
    if len(needs_reason) == allowed:
        return "Required."
    if len(needs_reason) > 10:
        return f"Required for {len(needs_reason)} of them; `/access why RESOURCE` says which."
    return f"Required for {', '.join(needs_reason)}."


def _context_texts(lines: Sequence[str]) -> list[str]:
    """Lines in context texts of at most 2,000 characters each (a context holds 10)."""
    texts: list[str] = []
    for line in lines:
        if texts and len(texts[-1]) + 1 + len(line) <= 2000:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return texts[:10]


def resource_options(choices: Sequence[Choice], query: str) -> dict[str, Any]:
    """The resource menu's options for what was typed so far (a block_suggestion answer):
    names starting with it first, then names or descriptions containing it; at most 100, with
    the count of the rest in the group's label so nobody takes the list for all there is."""
    typed = query.strip().casefold()
    allowed = [c for c in choices if c.allowed]
    first = [c for c in allowed if c.name.casefold().startswith(typed)]
    taken = {c.name for c in first}
    then = [
        c
        for c in allowed
        if c.name not in taken and (typed in c.name.casefold() or typed in c.description.casefold())
    ]
    found = first + then
    options = [_option(c.name, _label(c)) for c in found[:STATIC_MENU_MAX]]
    if len(found) <= STATIC_MENU_MAX:
        return {"options": options}
    label = f"First {STATIC_MENU_MAX} of {len(found)}: type more to narrow"
    return {"option_groups": [{"label": plain(label, 75), "options": options}]}


def read_request(values: StateValues) -> RequestForm:
    return RequestForm(
        resource=_value(values, "resource"),
        duration=_value(values, "duration"),
        reason=_value(values, "reason"),
    )


# --- deny -------------------------------------------------------------------------------------


def deny_view(request: AccessRequest, meta: str) -> View:
    """Opened straight from the click (the trigger lasts 3 seconds), so it needs no lookups."""
    reason = f' "{literal(request.reason)}"' if request.reason else ""
    summary = (
        f"Deny *{literal(request.requester)}* access to *{literal(request.resource)}* for "
        f"{format_duration(request.duration)}{reason} (`{request.id}`)?"
    )
    blocks = [
        section(summary),
        _input(
            "reason",
            "Reason (optional)",
            _text_input("Told to the requester", multiline=True, max_length=1000),
            optional=True,
        ),
    ]
    return _modal(k.DENY_FORM, "Deny request", blocks, submit="Deny", metadata=meta)


def read_deny(values: StateValues) -> str:
    return _value(values, "reason")


# --- connect ----------------------------------------------------------------------------------


def connect_view(forms: Sequence[ProviderForm], chosen: ProviderForm, meta: str) -> View:
    """The chosen provider's form under a provider menu (choosing another redraws the modal
    with that provider's fields). Secrets are typed here and never shown back."""
    menu = _select({f.provider: f.label for f in forms}, chosen.provider)
    blocks = [
        {
            **_input("provider", "Provider", menu, action_id=k.CONNECT_PROVIDER),
            "dispatch_action": True,
        }
    ]
    for f in chosen.fields:
        if f.kind is FieldKind.CHOICE:
            element = _select(dict(f.choices), f.default or None)
        else:
            element = _text_input(f.placeholder, max_length=f.max_length, multiline=f.multiline)
        blocks.append(_input(f.name, f.label, element, optional=not f.missing, hint=f.hint or None))
    blocks.append(context(SAFEKEEPING))
    return _modal(k.CONNECT_FORM, "Connect a provider", blocks, submit="Connect", metadata=meta)


def chosen_provider(forms: Sequence[ProviderForm], values: StateValues) -> ProviderForm | None:
    return form_of(forms, _value(values, "provider"))


def read_connect(
    forms: Sequence[ProviderForm], values: StateValues
) -> tuple[ConnectForm | None, dict[str, str]]:
    """The form, or the errors to show on its blocks: only blocks the chosen form has."""
    chosen = chosen_provider(forms, values)
    if chosen is None:
        return None, {"provider": choose_provider_error(forms)}
    return chosen.read({f.name: _value(values, f.name) for f in chosen.fields})


def error_block(forms: Sequence[ProviderForm], values: StateValues, field: str | None) -> str:
    """The block a connect failure belongs under: its field when the modal shows it."""
    chosen = chosen_provider(forms, values)
    return field if chosen is not None and field and chosen.field(field) else "provider"
