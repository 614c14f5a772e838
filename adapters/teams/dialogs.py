"""Dialogs (task modules): the request form and the admin's connect form.

A form that fails comes back with what was typed (never a secret) and the error under the
field it belongs to, as the Slack modals do; a form that succeeds closes with one sentence and
the result is also posted in the chat, where it stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botbuilder.core import CardFactory
from botbuilder.schema.teams import (
    TaskModuleContinueResponse,
    TaskModuleMessageResponse,
    TaskModuleResponse,
    TaskModuleTaskInfo,
)

from adapters.teams import cards
from core.commands import Request
from core.connection_form import FieldKind, choose_provider_error, form_of
from core.dispatcher import Dispatcher
from core.durations import format_duration, parse_duration
from core.errors import DomainError
from core.identity import Actor
from core.replies import Reply


@dataclass(frozen=True)
class DialogResult:
    response: TaskModuleResponse
    post: Reply | None = None  # what to leave in the chat as well


def continue_with(title: str, content: cards.Card) -> TaskModuleResponse:
    info = TaskModuleTaskInfo(
        title=title, height="medium", width="medium", card=CardFactory.adaptive_card(content)
    )
    return TaskModuleResponse(task=TaskModuleContinueResponse(value=info))


def close_with(message: str) -> TaskModuleResponse:
    return TaskModuleResponse(task=TaskModuleMessageResponse(value=message))


class Dialogs:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    async def fetch(self, actor: Actor, data: Mapping[str, Any]) -> DialogResult:
        form = str(data.get("form") or "")
        if form == cards.REQUEST_FORM:
            return DialogResult(continue_with("Request access", await self._request_form(actor)))
        if form == cards.CONNECT_FORM:
            refusal = await self._dispatcher.connect_refusal(actor)
            if refusal:
                return DialogResult(close_with(refusal))
            forms = self._dispatcher.views.connection_forms()
            chosen = form_of(forms, str(data.get("provider") or ""))
            if chosen is None:
                return DialogResult(close_with(choose_provider_error(forms)))
            return DialogResult(
                continue_with(f"Connect {chosen.label}", cards.connect_form(chosen))
            )
        return DialogResult(close_with("This form is no longer available; type `help`."))

    async def submit(self, actor: Actor, data: Mapping[str, Any]) -> DialogResult:
        form = str(data.get("form") or "")
        if form == cards.REQUEST_FORM:
            return await self._submit_request(actor, data)
        if form == cards.CONNECT_FORM:
            return await self._submit_connect(actor, data)
        return DialogResult(close_with("This form is no longer available; type `help`."))

    # -- request -------------------------------------------------------------------------------

    async def _request_form(self, actor: Actor, **kwargs: Any) -> cards.Card:
        choices = [
            cards.ResourceChoice(
                name=choice.name,
                description=choice.description,
                default_duration=format_duration(choice.default_duration),
                max_duration=format_duration(choice.max_duration),
            )
            for choice in await self._dispatcher.resource_choices(actor)
        ]
        return cards.request_form(choices, **kwargs)

    async def _submit_request(self, actor: Actor, data: Mapping[str, Any]) -> DialogResult:
        """The same `Request` command as typed text; a refusal comes back under its field."""
        values = {k: str(data.get(k) or "").strip() for k in ("resource", "duration", "reason")}
        errors: dict[str, str] = {}
        duration = None
        if not values["resource"]:
            errors["resource"] = "Choose a resource."
        if values["duration"]:
            try:
                duration = parse_duration(values["duration"])
            except DomainError as exc:
                errors["duration"] = exc.message
        if not errors:
            # A reason is kept exactly as typed: no round trip through the grammar's quoting.
            command = Request(values["resource"], duration, values["reason"])
            reply = await self._dispatcher.execute(actor, command)
            if reply.ok or reply.request is not None:
                return DialogResult(close_with(reply.text), post=reply)
            if not reply.fields:
                form = await self._request_form(actor, values=values, message=reply.text)
                return DialogResult(continue_with("Request access", form))
            errors.update(reply.fields)
        form = await self._request_form(actor, values=values, errors=errors)
        return DialogResult(continue_with("Request access", form))

    # -- connect -------------------------------------------------------------------------------

    async def _submit_connect(self, actor: Actor, data: Mapping[str, Any]) -> DialogResult:
        refusal = await self._dispatcher.connect_refusal(actor)
        if refusal:
            return DialogResult(close_with(refusal))
        forms = self._dispatcher.views.connection_forms()
        chosen = form_of(forms, str(data.get("provider") or ""))
        if chosen is None:
            return DialogResult(close_with(choose_provider_error(forms)))
        title = f"Connect {chosen.label}"
        typed = {k: str(v) for k, v in data.items() if isinstance(v, str | int)}
        values = {
            f.name: typed.get(f.name, "") for f in chosen.fields if f.kind is not FieldKind.SECRET
        }
        form, errors = chosen.read(typed)
        if form is None:
            return DialogResult(
                continue_with(title, cards.connect_form(chosen, values=values, errors=errors))
            )
        result = await self._dispatcher.connect(actor, form)
        if result.ok and result.authorize_url:
            content = cards.link_card(
                result.message, "Authorize in the browser", result.authorize_url
            )
            return DialogResult(continue_with(title, content))
        if result.ok:
            text = f"{result.message} {result.sync_summary}".strip()
            return DialogResult(close_with(text), post=Reply(text))
        if result.field:
            form_card = cards.connect_form(
                chosen, values=values, errors={result.field: result.message}
            )
        else:
            form_card = cards.connect_form(chosen, values=values, message=result.message)
        return DialogResult(continue_with(title, form_card))
