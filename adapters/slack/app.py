"""The Slack surface assembled: one Web API client, the directory of users, the notifier, and a
bolt `AsyncApp` whose listeners hand everything to the core through the dispatcher.

Acknowledging never waits on the Web API: the bot's own identity (`auth.test`) is fetched ahead
of the first request, the workspace check uses it from memory, and every listener acks first.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import constants as k
from adapters.slack.answers import Responder
from adapters.slack.client import CountingWebClient
from adapters.slack.deliveries import Deliveries
from adapters.slack.handlers import SlackHandlers
from adapters.slack.http import ACKED, GATE, Acker, events_route, settle_checks
from adapters.slack.identity import OTHER_WORKSPACE, SlackDirectory, SlackWorkspace
from adapters.slack.notifier import KeyValues, SlackNotifier
from adapters.slack.socket import SocketModeRunner
from adapters.slack.turns import AckFirstTurns
from core.dispatcher import Dispatcher
from core.identity import IdentityMap
from core.ports import NO_METRICS, Clock, Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_API_URL = "https://slack.com/api/"
BACKGROUND_LIMIT = 64
"""Slack work running at once per replica. Each piece holds a database connection only for
moments (the pool has 10 + 20), and much of its time waits on Slack, so a few dozen at once keep
a slow Slack from slowing answers while a burst queues here instead of timing out at the pool."""


@dataclass(frozen=True)
class SlackConfig:
    """What the Slack surface needs from settings; secrets stay out of `repr` and logs."""

    bot_token: str = field(repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    api_url: str | None = None
    team_id: str | None = None
    enterprise_ids: frozenset[str] = frozenset()
    """Enterprise Grid organisations whose members may act, besides the workspace's own."""
    approvals_channel: str | None = None
    form_budget: float = 2.0
    """Seconds a modal submission may work before the modal is answered anyway (Slack waits 3)."""
    identity_ttl: float = 600.0

    @property
    def base_url(self) -> str:
        url = (self.api_url or DEFAULT_API_URL).strip()
        return url if url.endswith("/") else url + "/"


class SlackOutbound:
    """What the bot says in Slack on its own: the Web API client, the workspace and its directory
    of people, and the notifier. It needs nothing from the core but the mappings in force and the
    admins, so the bot builds it before the service that tells it, in one pass."""

    def __init__(
        self,
        config: SlackConfig,
        clock: Clock,
        *,
        admins: Callable[[], Iterable[str]],
        identity: Callable[[], Awaitable[IdentityMap]],
        kv: KeyValues | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.config = config
        self.client = CountingWebClient(
            metrics=metrics,
            token=config.bot_token,
            base_url=config.base_url,
            retry_handlers=[
                *async_default_handlers(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            ],
        )
        self.workspace = SlackWorkspace(self.client, config.team_id, config.enterprise_ids)
        self.directory = SlackDirectory(
            self.client, ttl=config.identity_ttl, admits=self.workspace.admits
        )
        self.notifier = SlackNotifier(
            self.client,
            self.directory,
            clock,
            admins=admins,
            approvals_channel=config.approvals_channel,
            kv=kv,
            identity=identity,
        )


class SlackSurface:
    """Everything Slack: the outbound half and the bolt app whose listeners hand what people do
    to the core through the dispatcher; mounted on the bot's aiohttp app."""

    def __init__(
        self,
        outbound: SlackOutbound,
        dispatcher: Dispatcher,
        clock: Clock,
        *,
        deliveries: Deliveries | None = None,
    ) -> None:
        self.outbound = outbound
        self.config = config = outbound.config
        self.client, self.workspace = outbound.client, outbound.workspace
        self.directory, self.notifier = outbound.directory, outbound.notifier
        self.deliveries = deliveries
        self._tasks: set[asyncio.Task[Any]] = set()
        self._turns = AckFirstTurns(BACKGROUND_LIMIT)
        self.handlers = SlackHandlers(
            dispatcher=dispatcher,
            client=self.client,
            directory=self.directory,
            clock=clock,
            budget=config.form_budget,
            spawn=self.spawn,
        )
        self.app = self._bolt_app()
        self.socket = SocketModeRunner(self.app, config.app_token) if config.app_token else None

    def _bolt_app(self) -> AsyncApp:
        # No token on this client: requests are authorized by `authorize` from the remembered
        # auth.test answer, so bolt never calls auth.test while Slack waits for an ack.
        workspace, token = self.workspace, self.config.bot_token

        async def authorize() -> AuthorizeResult:  # a plain function: bolt injects by arg name
            bot = await workspace.bot()
            return AuthorizeResult(
                enterprise_id=bot.enterprise_id,
                team_id=bot.team_id,
                bot_user_id=bot.user_id,
                bot_id=bot.bot_id,
                bot_token=token,
            )

        app = AsyncApp(
            signing_secret=self.config.signing_secret or "",
            client=AsyncWebClient(base_url=self.config.base_url),
            authorize=authorize,
            # Listeners run inline and return right after ack(); the work goes to `spawn`. This
            # answers Slack as soon as the ack is ready, instead of bolt polling every 10 ms.
            process_before_response=True,
            logger=logging.getLogger("adapters.slack.bolt"),
        )
        app.middleware(self._only_our_workspace)
        h, later = self.handlers, self._ack_then
        app.command(k.COMMAND)(later(h.on_command))
        app.action(k.APPROVE)(later(h.on_approve))
        app.action(k.DENY)(later(h.on_deny))
        app.action(k.GIVE_BACK)(later(h.on_give_back))
        app.action(k.WITHDRAW)(later(h.on_withdraw))
        app.action(k.OPEN_REQUEST_FORM)(later(h.on_open_request_form))
        app.action(k.DISCONNECT)(later(h.admin_handlers.on_disconnect))
        app.action(k.CONNECT_PROVIDER)(later(h.admin_handlers.on_provider_chosen))
        app.action(k.OPEN_LINK)(_just_ack)  # the browser opens the link; nothing else to do
        app.event("app_home_opened")(later(h.on_home_opened))
        app.options(k.RESOURCE_MENU)(h.on_resource_options)  # answers with the options itself
        # Submissions answer with errors or close the modal, so they ack themselves (in budget).
        app.view(k.REQUEST_FORM)(h.on_request_submitted)
        app.view(k.DENY_FORM)(h.on_deny_submitted)
        app.view(k.CONNECT_FORM)(h.admin_handlers.on_connect_submitted)
        return app

    async def _only_our_workspace(
        self, context: AsyncBoltContext, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Refuse, in one sentence, anything from a workspace other than the configured one."""
        try:
            ours = await self.workspace.serves(context.team_id)
        except Exception:
            log.exception("cannot tell which workspace this app serves")
            ours = False
        if ours:
            await next()
            return None
        log.warning("refused a Slack request from team %s", context.team_id)
        if body.get("command"):
            answer = {"response_type": "ephemeral", "text": OTHER_WORKSPACE}
            return BoltResponse(
                status=200,
                body=json.dumps(answer),
                headers={"content-type": "application/json"},
            )
        return BoltResponse(status=200, body="")

    def _ack_then(
        self, work: Callable[[dict[str, Any], Responder], Coroutine[Any, Any, None]]
    ) -> Callable[..., Awaitable[None]]:
        """A listener that acknowledges at once and leaves the work to a background task."""

        async def listener(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
            await ack()
            responder = Responder(body.get("response_url"), self.client.session, self.client.failed)
            job = _once(context.get(GATE), lambda: work(body, responder))
            if context.get(ACKED):  # the route acked already and runs this in a background turn
                await job
            else:
                self.spawn(job)

        listener.__name__ = getattr(work, "__name__", "listener")
        return listener

    def spawn(self, work: Coroutine[Any, Any, T], *, bounded: bool = True) -> asyncio.Task[T]:
        """Run work that outlives the request; kept referenced until done, cancelled on close.

        Acks never wait for the work, so a burst would otherwise start all of it at once and
        queue on the database pool until checkouts time out; at most `BACKGROUND_LIMIT` pieces
        run together and the rest wait their turn (long-lived loops are not `bounded`)."""
        task = asyncio.ensure_future(self._in_turn(work) if bounded else work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)
        return task

    async def _in_turn(self, work: Coroutine[Any, Any, T]) -> T:
        return await self._turns.run(work)

    def _after_ack(self, work: Coroutine[Any, Any, None]) -> None:
        """Work for a delivery the route acknowledged itself; it yields to the acks of a burst."""
        self._turns.acked()
        self.spawn(work)

    def route(self) -> Callable[[web.Request], Awaitable[web.Response]]:
        """The `POST /slack/events` handler; only with a signing secret to verify requests."""
        if not self.config.signing_secret:
            raise ValueError("the Slack HTTP route needs SLACK_SIGNING_SECRET")
        acker = Acker(self.workspace.serves, OTHER_WORKSPACE, self._after_ack)
        return events_route(self.app, self.config.signing_secret, self.deliveries, acker)

    async def start(self) -> None:
        """Learn the bot's identity and connect Socket Mode, in the background: a Slack outage
        at start must not stop the bot from serving everything else."""
        # One HTTP session (and its keep-alive connections) for every Web API call and answer.
        self.client.session = aiohttp.ClientSession()
        self.spawn(self.workspace.warm(), bounded=False)
        if self.socket is not None:
            self.spawn(self.socket.run(), bounded=False)

    async def drain(self, grace: float = 5.0) -> None:
        """Stop taking Socket Mode events, let work in flight finish (answers, grants, message
        updates) for up to `grace` seconds, then cancel what is left."""
        if self.socket is not None:
            await self.socket.close()
        await settle_checks()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self, grace: float = 5.0) -> None:
        """`drain`, then close the HTTP session the Web API calls share."""
        await self.drain(grace)
        if self.client.session is not None:
            await self.client.session.close()
            self.client.session = None


async def _once(gate: Awaitable[bool] | None, work: Callable[[], Awaitable[None]]) -> None:
    """The work of a delivery, unless the replay check says it was handled before."""
    if gate is not None and not await gate:
        log.info("ignored a Slack request already handled (a replay, or Slack retrying)")
        return
    await work()


async def _just_ack(ack: AsyncAck) -> None:
    await ack()


def _log_failure(task: asyncio.Task[Any]) -> None:
    """Handlers answer their own errors; anything that still escapes is a bug worth a log line."""
    if not task.cancelled() and task.exception() is not None:
        log.error("Slack background work failed", exc_info=task.exception())
