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
from core.connections import ConnectForm, ConnectResult, ProviderAdmin
from core.dispatcher import Dispatcher
from core.durations import format_duration, parse_duration
from core.errors import DomainError
from core.identity import Actor
from core.replies import Reply
from core.requests import Status

_SECRETS = frozenset({"api_key", "client_secret", "api_token"})
_CONNECT_FIELDS = ("region", "auth", "client_id", "subdomain", "site", "email", "org_id")


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
    def __init__(self, dispatcher: Dispatcher, admin: ProviderAdmin | None) -> None:
        self._dispatcher = dispatcher
        self._admin = admin

    @property
    def _service(self) -> Any:
        return self._dispatcher.service

    async def fetch(self, actor: Actor, data: Mapping[str, Any]) -> DialogResult:
        form = str(data.get("form") or "")
        if form == cards.REQUEST_FORM:
            return DialogResult(continue_with("Request access", self._request_form()))
        if form == cards.CONNECT_FORM:
            refusal = self._connect_refusal(actor)
            if refusal:
                return DialogResult(close_with(refusal))
            provider = str(data.get("provider") or "")
            if provider not in cards.PROVIDERS:
                return DialogResult(close_with("Choose PagerDuty, Opsgenie or JSM to connect."))
            title = f"Connect {cards.PROVIDERS[provider]}"
            return DialogResult(continue_with(title, cards.connect_form(provider)))
        return DialogResult(close_with("This form is no longer available; type `help`."))

    async def submit(self, actor: Actor, data: Mapping[str, Any]) -> DialogResult:
        form = str(data.get("form") or "")
        if form == cards.REQUEST_FORM:
            return await self._submit_request(actor, data)
        if form == cards.CONNECT_FORM:
            return await self._submit_connect(actor, data)
        return DialogResult(close_with("This form is no longer available; type `help`."))

    # -- request -------------------------------------------------------------------------------

    def _request_form(self, **kwargs: Any) -> cards.Card:
        policy = self._service.policy
        choices = [
            cards.ResourceChoice(
                name=res.name,
                description=res.description or "",
                default_duration=format_duration(policy.default_duration(res)),
                max_duration=format_duration(policy.max_duration(res)),
            )
            for res in policy.resources.values()
        ]
        return cards.request_form(choices, **kwargs)

    async def _submit_request(self, actor: Actor, data: Mapping[str, Any]) -> DialogResult:
        values = {k: str(data.get(k) or "").strip() for k in ("resource", "duration", "reason")}
        errors = self._request_errors(values)
        if errors:
            form = self._request_form(values=values, errors=errors)
            return DialogResult(continue_with("Request access", form))
        service = self._service
        duration = parse_duration(values["duration"]) if values["duration"] else None

        async def request() -> Reply:
            # Straight to the service: the form's fields are already parsed, and a reason is
            # kept exactly as typed (no round trip through the command grammar's quoting).
            made = await service.request(actor, values["resource"], duration, values["reason"])
            shown = cards.status_sentence(made, tz=actor.tz, now=service.clock.now())
            text = (
                f"Request {made.id} for {made.resource} ({format_duration(made.duration)}): {shown}"
            )
            return Reply(text, ok=made.status != Status.APPROVED, request=made)

        reply = await self._dispatcher.run(actor, request)
        if not reply.ok and reply.request is None:
            form = self._request_form(values=values, message=reply.text)
            return DialogResult(continue_with("Request access", form))
        return DialogResult(close_with(reply.text), post=reply)

    def _request_errors(self, values: Mapping[str, str]) -> dict[str, str]:
        """What can be said about single fields before asking the core (which decides)."""
        if not values["resource"]:
            return {"resource": "Choose a resource."}
        try:
            res = self._service.resource(values["resource"])
        except DomainError as exc:
            return {"resource": exc.message}
        policy, errors = self._service.policy, {}
        if values["duration"]:
            try:
                duration = parse_duration(values["duration"])
            except DomainError as exc:
                errors["duration"] = exc.message
            else:
                maximum = policy.max_duration(res)
                if duration > maximum:
                    errors["duration"] = (
                        f"{res.name} can be requested for at most {format_duration(maximum)}."
                    )
        if policy.require_reason(res) and not values["reason"]:
            errors["reason"] = f"{res.name} needs a reason."
        return errors

    # -- connect -------------------------------------------------------------------------------

    def _connect_refusal(self, actor: Actor) -> str | None:
        if not self._service.settings.is_admin(actor.email):
            return "Only admins can connect providers (ONCALL_ACCESS_ADMINS)."
        if self._admin is None:
            return (
                "Connect providers on the server: `oncall-access connect pagerduty|opsgenie|jsm`."
            )
        return None

    async def _submit_connect(self, actor: Actor, data: Mapping[str, Any]) -> DialogResult:
        refusal = self._connect_refusal(actor)
        if refusal or self._admin is None:
            return DialogResult(close_with(refusal or ""))
        provider = str(data.get("provider") or "")
        if provider not in cards.PROVIDERS:
            return DialogResult(close_with("Choose PagerDuty, Opsgenie or JSM to connect."))
        fields = {k: str(data.get(k) or "").strip() for k in (*_CONNECT_FIELDS, *_SECRETS)}
        region = fields["region"] if fields["region"] in ("us", "eu") else "us"
        auth = fields["auth"] if fields["auth"] in ("api_key", "oauth_client") else "api_key"
        form = ConnectForm(
            provider=provider,  # type: ignore[arg-type]  # checked against PROVIDERS above
            region=region,  # type: ignore[arg-type]
            auth=auth,  # type: ignore[arg-type]
            api_key=fields["api_key"],
            client_id=fields["client_id"],
            client_secret=fields["client_secret"],
            subdomain=fields["subdomain"],
            site=fields["site"],
            email=fields["email"],
            org_id=fields["org_id"],
            api_token=fields["api_token"],
        )
        try:
            result = await self._admin.connect(form, actor.email)
        except DomainError as exc:
            result = ConnectResult(False, exc.message)
        except Exception:
            # Logged with an error id; the admin sees the id, never the exception text.
            result = ConnectResult(False, self._dispatcher.internal_error(actor, "connect").text)
        title = f"Connect {cards.PROVIDERS[provider]}"
        values = {k: v for k, v in fields.items() if k not in _SECRETS}
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
                provider, values=values, errors={result.field: result.message}
            )
        else:
            form_card = cards.connect_form(provider, values=values, message=result.message)
        return DialogResult(continue_with(title, form_card))
