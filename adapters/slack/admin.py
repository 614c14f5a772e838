"""Admins in Slack: connect a provider from a modal (credentials verified live by the bot's
`ProviderAdmin`, never shown back) and disconnect one after a confirm dialog. Who may is the
core's decision, asked again through the front door on every submission and click."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import modals, render
from adapters.slack.answers import FormAnswers, FormOutcome, Responder, action_of, user_of
from adapters.slack.identity import SLACK_FAILURES, SlackIdentityError, failure
from core import commands
from core.connection_form import form_of
from core.dispatcher import Dispatcher
from core.identity import Actor
from core.replies import Reply

log = logging.getLogger(__name__)


class AdminHandlers:
    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        actor: Callable[[str], Awaitable[Actor]],
        forms: FormAnswers,
        client: AsyncWebClient,
    ) -> None:
        self.dispatcher = dispatcher
        self.actor = actor
        self.forms = forms
        self.client = client

    async def on_provider_chosen(self, body: dict[str, Any], _: Responder) -> None:
        """Another provider chosen on the connect form: the modal is drawn again with its fields
        (the hash makes Slack refuse the update if the modal changed meanwhile)."""
        view = body.get("view") or {}
        forms = self.dispatcher.views.connection_forms()
        chosen = modals.chosen_provider(forms, (view.get("state") or {}).get("values") or {})
        if chosen is None or not view.get("id"):
            return
        redrawn = modals.connect_view(forms, chosen, str(view.get("private_metadata") or ""))
        try:
            await self.client.views_update(view_id=view["id"], hash=view.get("hash"), view=redrawn)
        except SLACK_FAILURES as exc:
            log.warning("could not redraw the connect form: %s", failure(exc))

    async def on_connect_submitted(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body["view"]
        user_id = user_of(body)
        forms = self.dispatcher.views.connection_forms()
        values = view["state"]["values"]
        form, errors = modals.read_connect(forms, values)
        if form is None:
            await ack(response_action="errors", errors=errors)
            return

        async def connect() -> FormOutcome:
            try:
                actor = await self.actor(user_id)
            except SlackIdentityError as exc:
                return FormOutcome(errors={"provider": exc.message})
            result = await self.dispatcher.connect(actor, form)
            if not result.ok:
                block = modals.error_block(forms, values, result.field)
                return FormOutcome(errors={block: result.message})
            lines = tuple(line for line in (result.sync_summary,) if line)
            return FormOutcome(reply=Reply(result.message, lines=lines, connect=result))

        slow = modals.loading_view(
            "Connect a provider", "Connecting… you will get a direct message with the result."
        )
        await self.forms.answer(ack, connect(), user_id, {}, slow_view=slow)

    async def confirm_disconnect(self, user_id: str, provider: str, respond: Responder) -> None:
        refusal = await self.dispatcher.connect_refusal(await self.actor(user_id))
        if refusal:
            reply = Reply(refusal, ok=False)
        elif (chosen := form_of(self.dispatcher.views.connection_forms(), provider)) is None:
            reply = Reply(self._which_provider(), ok=False)
        else:
            message = render.disconnect_confirmation(provider, chosen.label)
            await respond.send(message)
            return
        await respond.send(render.reply_message(reply))

    async def on_disconnect(self, body: dict[str, Any], respond: Responder) -> None:
        """The confirmed click; who may disconnect is checked again, by the core, when it counts."""
        user_id = user_of(body)
        provider = str(action_of(body).get("value") or "")
        try:
            actor = await self.actor(user_id)
        except SlackIdentityError as exc:
            await respond.send(render.reply_message(Reply(exc.message, ok=False)))
            return
        if form_of(self.dispatcher.views.connection_forms(), provider) is None:
            reply = Reply(self._which_provider(), ok=False)
        else:
            reply = await self.dispatcher.execute(actor, commands.Disconnect(provider))
        await respond.send(render.reply_message(reply), replace=True)

    def _which_provider(self) -> str:
        names = "|".join(f.provider for f in self.dispatcher.views.connection_forms())
        return f"Which provider? `/access disconnect {names or 'PROVIDER'}`."
