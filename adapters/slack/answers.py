"""Answering Slack within its limits: on a response_url (5 answers in 30 minutes), and for
modal submissions within 3 seconds: a submission gets `budget` seconds to finish, so a refusal
shows inline on the right field; past that the modal is answered anyway and the outcome
arrives as a message."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import constants as k
from adapters.slack import render
from adapters.slack.client import failed_call
from adapters.slack.identity import SLACK_FAILURES, SlackDirectory, failure
from core.dispatcher import Dispatcher
from core.identity import Actor
from core.replies import Reply

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"[a-z0-9]{1,32}")


class Spawn(Protocol):
    """Runs work after the ack (`SlackSurface.spawn`); `bounded` work waits its turn."""

    def __call__(
        self, work: Coroutine[Any, Any, Any], *, bounded: bool = True
    ) -> asyncio.Task[Any]: ...


class Responder:
    """Answers on a request's `response_url` (ephemeral, or replacing the clicked message),
    over the surface's shared HTTP session. Slack accepts 5 answers within 30 minutes. An
    answer Slack does not take is reported to `on_failure` (the chat API error count)."""

    def __init__(
        self,
        url: str | None,
        session: aiohttp.ClientSession | None = None,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self.url = url or None
        self._session = session if session is not None and not session.closed else None
        self._on_failure = on_failure

    async def send(self, message: dict[str, Any], *, replace: bool = False) -> bool:
        if self.url is None:
            return False
        body = {**message, "replace_original": replace}
        if not replace:
            body["response_type"] = "ephemeral"
        try:
            resp = await AsyncWebhookClient(self.url, session=self._session).send_dict(body)
        except Exception as exc:  # an expired response_url must not become a second error
            log.warning("could not answer on the response_url: %s", type(exc).__name__)
            self._on_failure()
            return False
        if resp.status_code != 200:
            self._on_failure()
        return resp.status_code == 200


@dataclass(frozen=True)
class FormOutcome:
    """How a submission ends: errors for the modal's blocks, or a reply for the person."""

    errors: dict[str, str] = field(default_factory=dict)
    reply: Reply | None = None


def request_id_of(value: Any) -> str | None:
    """A button's request id, only if it looks like one: it becomes part of a typed command."""
    text = str(value or "").strip().lower()
    return text if _REQUEST_ID.fullmatch(text) else None


def placeholder(user_id: str) -> Actor:
    """Who to name in an error log before the person's email is known."""
    return Actor(f"slack:{user_id}", surface=k.SURFACE)


def user_of(body: Mapping[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def action_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    actions = body.get("actions") or [{}]
    return actions[0] if isinstance(actions[0], Mapping) else {}


def from_view(body: Mapping[str, Any]) -> bool:
    return (body.get("container") or {}).get("type") == "view"


class FormAnswers:
    """Answers modal submissions in time, then delivers the outcome where the form was opened."""

    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        client: AsyncWebClient,
        directory: SlackDirectory,
        spawn: Spawn,
        budget: float,
        publish_home: Callable[[str, str | None], Awaitable[None]],
    ) -> None:
        self.dispatcher = dispatcher
        self.client = client
        self.directory = directory
        self.spawn = spawn
        self.budget = budget
        self.publish_home = publish_home

    async def answer(
        self,
        ack: AsyncAck,
        work: Coroutine[Any, Any, FormOutcome],
        user_id: str,
        meta: Mapping[str, Any],
        *,
        slow_view: dict[str, Any] | None = None,
    ) -> None:
        """Answer the submission within the budget: inline errors, or close and reply.

        Past the budget the modal is closed (or shows `slow_view`) and the outcome, errors
        included, arrives as a message: Slack drops answers later than 3 seconds. Delivering
        the reply happens after the answer, in the background.
        """
        task = self.spawn(_never_raises(work, self.dispatcher, user_id))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(task), self.budget)
        except TimeoutError:
            if slow_view is not None:
                await ack(response_action="update", view=slow_view)
            else:
                await ack()
            # Unbounded: it only waits for `task`, which may itself be waiting for a turn.
            self.spawn(self._deliver_when_done(task, user_id, meta), bounded=False)
            return
        if outcome.errors:
            await ack(response_action="errors", errors=outcome.errors)
            return
        await ack()
        self.spawn(self._deliver(outcome, user_id, meta))

    async def _deliver_when_done(
        self, task: asyncio.Task[FormOutcome], user_id: str, meta: Mapping[str, Any]
    ) -> None:
        outcome = await task
        if outcome.errors:  # the modal is gone: say it in a message instead
            text = " ".join(dict.fromkeys(outcome.errors.values()))
            outcome = FormOutcome(reply=Reply(text, ok=False))
        await self._deliver(outcome, user_id, meta)

    async def _deliver(self, outcome: FormOutcome, user_id: str, meta: Mapping[str, Any]) -> None:
        """Where the form was opened: the channel (response_url), else a DM; Home is refreshed."""
        reply = outcome.reply
        if reply is None:
            return
        url = meta.get("url")
        delivered = False
        if isinstance(url, str) and url:
            responder = Responder(url, self.client.session, failed_call(self.client))
            delivered = await responder.send(render.reply_message(reply))
        if not delivered and not meta.get("home"):
            try:
                channel = await self.directory.dm_channel(user_id)
                await self.client.chat_postMessage(channel=channel, **render.reply_message(reply))
            except SLACK_FAILURES as exc:
                log.warning("could not DM a form's outcome to %s: %s", user_id, failure(exc))
        if meta.get("home"):
            await self.publish_home(user_id, reply.text)


async def _never_raises(
    work: Coroutine[Any, Any, FormOutcome], dispatcher: Dispatcher, user_id: str
) -> FormOutcome:
    """A bug in a submission still answers the modal (with an error id), never a Slack timeout."""
    try:
        return await work
    except Exception:
        reply = dispatcher.internal_error(placeholder(user_id), "form submission")
        return FormOutcome(reply=reply)
