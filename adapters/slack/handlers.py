"""What happens on each Slack request once bolt has acknowledged it: identify the person,
call the core through the dispatcher, and answer ephemerally (response_url), in a modal, or on
the Home tab. The `on_*(body, respond)` methods run in the background after the ack; the
`on_*_submitted(ack, body)` ones answer modals within Slack's 3 seconds (see `answers`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import home, modals, render
from adapters.slack.admin import AdminHandlers
from adapters.slack.answers import (
    FormAnswers,
    FormOutcome,
    Responder,
    Spawn,
    action_of,
    from_view,
    placeholder,
    request_id_of,
    user_of,
)
from adapters.slack.identity import (
    NO_EMAIL,
    SLACK_FAILURES,
    SlackDirectory,
    SlackIdentityError,
    failure,
)
from core import commands
from core.dispatcher import CONNECT_ON_SERVER, Dispatcher
from core.durations import format_duration, parse_duration
from core.errors import DomainError
from core.identity import Actor
from core.ports import Clock
from core.replies import Reply
from core.requests import Status
from core.views import HomeView

log = logging.getLogger(__name__)

FORM_TITLES = {"request": "Request access", "connect": "Connect a provider"}


class SlackHandlers:
    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        client: AsyncWebClient,
        directory: SlackDirectory,
        clock: Clock,
        budget: float,
        spawn: Spawn,
    ) -> None:
        self.dispatcher = dispatcher
        self.client = client
        self.directory = directory
        self.clock = clock
        self.forms = FormAnswers(
            dispatcher=dispatcher,
            client=client,
            directory=directory,
            spawn=spawn,
            budget=budget,
            publish_home=self.publish_home,
        )
        self.admin_handlers = AdminHandlers(
            dispatcher=dispatcher, actor=self.actor, forms=self.forms, client=client
        )

    async def actor(self, user_id: str) -> Actor:
        """Who clicked or typed, as the core's front door resolves them (mappings, admin rights);
        a profile without a readable email is explained in Slack's terms."""
        claimed = await self.directory.actor(user_id)
        try:
            return await self.dispatcher.resolve(claimed)
        except DomainError:
            if not claimed.email:
                raise SlackIdentityError(NO_EMAIL) from None
            raise

    # --- /access --------------------------------------------------------------------------------

    async def on_command(self, command: dict[str, Any], respond: Responder) -> None:
        text = str(command.get("text") or "").strip()
        user_id = str(command.get("user_id") or "")
        trigger_id = command.get("trigger_id")
        meta = modals.metadata(url=command.get("response_url"))
        try:
            match _form_wanted(text):
                case "request" | "connect" as kind:
                    await self._open_form(kind, user_id, trigger_id, meta, respond)
                case commands.Disconnect(provider=str(provider)):
                    await self.admin_handlers.confirm_disconnect(user_id, provider, respond)
                case _:
                    actor = await self.actor(user_id)
                    await self._respond(respond, await self.dispatcher.handle(actor, text))
        except SlackIdentityError as exc:
            await self._respond(respond, Reply(exc.message, ok=False))
        except Exception:
            await self._respond(respond, self.dispatcher.internal_error(placeholder(user_id), text))

    async def _open_form(
        self,
        kind: str,
        user_id: str,
        trigger_id: str | None,
        meta: str,
        respond: Responder | None,
    ) -> None:
        """Open a waiting modal at once (the trigger expires in 3 s), then fill it in; if Slack
        would not open it, answer in text instead."""
        title = FORM_TITLES[kind]
        opened: dict[str, Any] | None = None
        if trigger_id:
            try:
                resp = await self.client.views_open(
                    trigger_id=trigger_id, view=modals.loading_view(title)
                )
                opened = resp.get("view")
            except SLACK_FAILURES as exc:
                log.warning("could not open the %s form: %s", kind, failure(exc))
        try:
            actor = await self.actor(user_id)
            view, refusal = await self._form_view(kind, actor, meta)
        except SlackIdentityError as exc:
            actor, view, refusal = None, None, Reply(exc.message, ok=False)
        except Exception:
            reply = self.dispatcher.internal_error(placeholder(user_id), f"{kind} form")
            actor, view, refusal = None, None, reply
        if opened is not None:
            shown = view or modals.notice_view(title, refusal.text if refusal else "")
            await self.client.views_update(
                view_id=opened["id"], hash=opened.get("hash"), view=shown
            )
        elif respond is not None:
            if refusal is None and actor is not None:
                typed = "list" if kind == "request" else "status"
                refusal = await self.dispatcher.handle(actor, typed)
            if refusal is not None:
                await self._respond(respond, refusal)

    async def _form_view(
        self, kind: str, actor: Actor, meta: str
    ) -> tuple[dict[str, Any] | None, Reply | None]:
        """The form for this person, or the reply saying why they get none.

        The dispatcher decides (who may connect is the core's call); the surface draws the form
        the reply asks for."""
        reply = await self.dispatcher.handle(actor, kind)
        if reply.open_form != kind:
            return None, reply
        if kind == "connect":
            refusal = await self.dispatcher.connect_refusal(actor)
            if refusal:
                return None, Reply(refusal, ok=False)
            forms = reply.forms or tuple(self.dispatcher.views.connection_forms())
            if not forms:
                return None, Reply(CONNECT_ON_SERVER, ok=False)
            return modals.connect_view(forms, forms[0], meta), None
        return modals.request_view(await self._choices(actor), meta), None

    async def _choices(self, actor: Actor) -> list[modals.Choice]:
        return [
            modals.Choice(
                name=choice.name,
                description=choice.description,
                allowed=choice.allowed,
                why=choice.why,
                max_duration=format_duration(choice.max_duration),
                default_duration=format_duration(choice.default_duration),
                reason_required=choice.reason_required,
            )
            for choice in await self.dispatcher.resource_choices(actor)
        ]

    # --- approval buttons ---------------------------------------------------------------------

    async def on_approve(self, body: dict[str, Any], respond: Responder) -> None:
        request_id = request_id_of(action_of(body).get("value"))
        if request_id is None:
            return
        await self._act(body, respond, commands.Approve(request_id))

    async def on_give_back(self, body: dict[str, Any], respond: Responder) -> None:
        request_id = request_id_of(action_of(body).get("value"))
        if request_id is not None:
            await self._act(body, respond, commands.Revoke(request_id))

    async def on_withdraw(self, body: dict[str, Any], respond: Responder) -> None:
        request_id = request_id_of(action_of(body).get("value"))
        if request_id is not None:
            await self._act(body, respond, commands.Cancel(request_id))

    async def _act(
        self, body: dict[str, Any], respond: Responder, command: commands.Command
    ) -> None:
        """A button is the same command as typed text: the core decides, the clicker is answered."""
        user_id = user_of(body)
        try:
            actor = await self.actor(user_id)
            reply = await self.dispatcher.execute(actor, command)
        except SlackIdentityError as exc:
            reply = Reply(exc.message, ok=False)
        except Exception:
            reply = self.dispatcher.refusal(placeholder(user_id), type(command).__name__)
        if from_view(body):
            await self.publish_home(user_id, notice=reply.text)
        else:
            await self._respond(respond, reply)

    async def on_deny(self, body: dict[str, Any], respond: Responder) -> None:
        """Deny asks for an optional reason in a modal; a decided request answers with its state."""
        request_id = request_id_of(action_of(body).get("value"))
        if request_id is None:
            return
        user_id = user_of(body)
        reply: Reply | None = None
        try:
            actor = await self.actor(user_id)
            request = (await self.dispatcher.request_card(actor, request_id)).request
            if request.status != Status.PENDING:
                reply = Reply(render.state_line(request, actor.tz, self.clock.now()), ok=False)
            else:
                meta = modals.metadata(
                    id=request_id, url=body.get("response_url"), home=from_view(body)
                )
                await self.client.views_open(
                    trigger_id=body["trigger_id"], view=modals.deny_view(request, meta)
                )
        except SlackIdentityError as exc:
            reply = Reply(exc.message, ok=False)
        except SLACK_FAILURES as exc:
            log.warning("could not open the deny form: %s", failure(exc))
            reply = Reply(f"Slack did not open the form; type `/access deny {request_id} REASON`.")
        except Exception:
            reply = self.dispatcher.refusal(placeholder(user_id), f"deny {request_id}")
        if reply is not None:
            if from_view(body):
                await self.publish_home(user_id, notice=reply.text)
            else:
                await self._respond(respond, reply)

    async def on_deny_submitted(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body["view"]
        meta = modals.read_metadata(view)
        user_id = user_of(body)
        reason = modals.read_deny(view["state"]["values"])
        request_id = request_id_of(meta.get("id")) or ""

        async def deny() -> FormOutcome:
            try:
                actor = await self.actor(user_id)
            except SlackIdentityError as exc:
                return FormOutcome(errors={"reason": exc.message})

            reply = await self.dispatcher.execute(actor, commands.Deny(request_id, reason))
            return FormOutcome(reply=reply) if reply.ok else FormOutcome({"reason": reply.text})

        await self.forms.answer(ack, deny(), user_id, meta)

    # --- request form -------------------------------------------------------------------------

    async def on_open_request_form(self, body: dict[str, Any], respond: Responder) -> None:
        user_id = user_of(body)
        meta = modals.metadata(home=from_view(body))
        try:
            await self._open_form("request", user_id, body.get("trigger_id"), meta, None)
        except Exception:
            reply = self.dispatcher.internal_error(placeholder(user_id), "request form")
            await self.publish_home(user_id, notice=reply.text)

    async def on_resource_options(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The request form's resource menu, as the person types (Slack waits 3 seconds): what
        they may request now, narrowed by what they typed."""
        try:
            choices = await self._choices(await self.actor(user_of(body)))
        except SlackIdentityError:
            choices = []
        except Exception:
            log.exception("could not list resources for the request form's menu")
            choices = []
        await ack(**modals.resource_options(choices, str(body.get("value") or "")))

    async def on_request_submitted(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body["view"]
        meta = modals.read_metadata(view)
        user_id = user_of(body)
        form = modals.read_request(view["state"]["values"])
        await self.forms.answer(ack, self._submit_request(user_id, form), user_id, meta)

    async def _submit_request(self, user_id: str, form: modals.RequestForm) -> FormOutcome:
        """The same `Request` command as typed text; a refusal lands on the field it is about."""
        try:
            actor = await self.actor(user_id)
        except SlackIdentityError as exc:
            return FormOutcome(errors={"resource": exc.message})
        if not form.resource:
            return FormOutcome(errors={"resource": "Choose a resource."})
        duration: timedelta | None = None
        if form.duration:
            try:
                duration = parse_duration(form.duration)
            except DomainError as exc:
                return FormOutcome(errors={"duration": exc.message})
        command = commands.Request(form.resource, duration, form.reason)
        reply = await self.dispatcher.execute(actor, command)
        if reply.ok or reply.request is not None:
            return FormOutcome(reply=reply)
        return FormOutcome(errors=reply.fields or {"resource": reply.text})

    async def _respond(self, respond: Responder, reply: Reply) -> None:
        await respond.send(render.reply_message(reply))

    # --- Home tab -----------------------------------------------------------------------------

    async def on_home_opened(self, body: dict[str, Any], respond: Responder) -> None:
        event = body.get("event") or {}
        if event.get("tab", "home") == "home":
            await self.publish_home(str(event.get("user") or ""))

    async def publish_home(self, user_id: str, notice: str | None = None) -> None:
        now = self.clock.now()
        try:
            actor = await self.actor(user_id)
            data = await self.dispatcher.home(actor)
            view = home.home_view(data, actor.tz, now, notice)
        except SlackIdentityError as exc:
            view = home.home_view(HomeView(), "UTC", now, exc.message)
        except Exception:
            reply = self.dispatcher.refusal(placeholder(user_id), "home")
            view = home.home_view(HomeView(), "UTC", now, reply.text)
        try:
            await self.client.views_publish(user_id=user_id, view=view)
        except SLACK_FAILURES as exc:
            log.warning("could not publish the Home tab of %s: %s", user_id, failure(exc))


def _form_wanted(text: str) -> str | commands.Command | None:
    """`request` with no resource (or nothing at all) and `connect` open forms; `disconnect X`
    asks for confirmation; the rest is answered by the dispatcher (None: it could not parse)."""
    if not text:
        return "request"
    try:
        parsed = commands.parse(text)
    except DomainError:
        return None  # the dispatcher answers with the same sentence
    match parsed:
        case commands.Request(resource=None):
            return "request"
        case commands.Connect():
            return "connect"
    return parsed
