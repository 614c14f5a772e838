"""Admins in Slack: connect a provider from a modal (credentials verified live by the bot's
`ProviderAdmin`, never shown back) and disconnect one after a confirm dialog. Who may is the
core's decision, asked again through the front door on every submission and click."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck

from adapters.slack import modals, render
from adapters.slack.answers import FormAnswers, FormOutcome, Responder, action_of, user_of
from adapters.slack.identity import SlackIdentityError
from core import commands
from core.dispatcher import Dispatcher
from core.identity import Actor
from core.replies import Reply


class AdminHandlers:
    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        actor: Callable[[str], Awaitable[Actor]],
        forms: FormAnswers,
    ) -> None:
        self.dispatcher = dispatcher
        self.actor = actor
        self.forms = forms

    async def on_connect_submitted(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body["view"]
        user_id = user_of(body)
        form, errors = modals.read_connect(view["state"]["values"])
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
                block = modals.CONNECT_BLOCKS.get(result.field or "", "provider")
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
        elif provider not in modals.PROVIDERS:
            reply = Reply("Which provider? `/access disconnect pagerduty|opsgenie|jsm`.", ok=False)
        else:
            message = render.disconnect_confirmation(provider, modals.PROVIDERS[provider])
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
        if provider not in modals.PROVIDERS:
            reply = Reply("Which provider? `/access disconnect pagerduty|opsgenie|jsm`.", ok=False)
        else:
            reply = await self.dispatcher.execute(actor, commands.Disconnect(provider))
        await respond.send(render.reply_message(reply), replace=True)
