"""The Slack test rig: the bot built as `serve` builds it, Slack mounted through
`bot.slack_wiring`, served on loopback, and helpers to send what Slack would send."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.slack.app import SlackConfig, SlackSurface
from adapters.slack.constants import DECISION_BLOCK, EVENTS_PATH
from bot.http import make_app
from bot.slack_wiring import mount_slack
from bot.wiring import Bot
from core.dispatcher import Dispatcher
from core.requests import AccessRequest, Status
from tests.builders import make_bot
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, HttpReply, payloads, send_signed, serve
from tests.fakes.slack.constants import SIGNING_SECRET

ALICE, BOB, LEAD, NOBODY = "UALICE0001", "UBOB000001", "ULEAD00001", "UNOBODY001"


@dataclass
class SlackRig:
    url: str
    fake: FakeSlackApi
    bot: Bot
    surface: SlackSurface
    console: list[str] = field(default_factory=list)

    async def send(self, built: tuple[bytes, str], **kwargs: Any) -> HttpReply:
        body, content_type = built
        return await send_signed(self.url, body, content_type, secret=SIGNING_SECRET, **kwargs)

    async def command(
        self, text: str, *, user: str = ALICE, name: str = "cmd", **kwargs: Any
    ) -> HttpReply:
        """`/access TEXT` typed by `user` in #ops; Slack's follow-ups land on `response_url:NAME`."""
        url = self.fake.response_url(name, channel="C0FAKECHN1", user=user)
        return await self.send(
            payloads.slash_command(text, user_id=user, response_url=url, **kwargs)
        )

    async def answer(self, name: str = "cmd") -> str:
        """The text of the next ephemeral answer on `response_url:NAME`."""
        call = await self.fake.next_call(f"response_url:{name}")
        return str(call.params.get("text", ""))

    async def requests(self) -> list[AccessRequest]:
        """Every request in the database, whatever its state."""
        return await self.bot.requests.with_status(*Status)

    def approval_messages(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every message the bot posted that is (or was) an approval message."""
        return {
            key: msg
            for key, msg in self.fake.messages.items()
            if "Access request" in str(msg.get("blocks"))
        }

    def dm(self, user_id: str) -> list[dict[str, Any]]:
        channel = self.fake.dm_channel_id(user_id)
        return [m for (c, _), m in self.fake.messages.items() if c == channel]

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str,
        message_key: tuple[str, str] | None = None,
        name: str = "click",
    ) -> HttpReply:
        """A button click on a message the bot posted (by `(channel, ts)`)."""
        channel, ts = message_key or ("C0FAKECHN1", "1700000000.000100")
        message = self.fake.messages.get((channel, ts))
        url = self.fake.response_url(name, channel=channel, message_ts=ts, user=user)
        return await self.send(
            payloads.block_actions(
                action_id,
                value,
                block_id=DECISION_BLOCK,
                message=message,
                message_ts=ts,
                channel_id=channel,
                user_id=user,
                response_url=url,
            )
        )


def live_buttons(message: dict[str, Any]) -> list[str]:
    """Action ids of the buttons still on a message."""
    return [
        element.get("action_id", "")
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


def text_of(message: dict[str, Any]) -> str:
    """Everything a person reads on a message: its text and every text in its blocks."""
    found: list[str] = [str(message.get("text", ""))]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(found)


@asynccontextmanager
async def start_rig(
    fake: FakeSlackApi,
    tmp: Path,
    database_url: str,
    clock: FakeClock,
    *,
    configure: Callable[[SlackConfig], SlackConfig] = lambda c: c,
    admin: Any = None,
    aliases: str = "",
    policy: str | None = None,
    roster: str | None = None,
) -> AsyncIterator[SlackRig]:
    """`aliases` is ONCALL_ACCESS_EMAIL_ALIASES, e.g. `corp.example.com=example.com`; `policy`
    and `roster` replace the builders' two-resource policy and two-group roster (YAML text)."""
    console: list[str] = []
    extra: dict[str, Any] = {"policy": policy} if policy is not None else {}
    if roster is not None:
        extra["roster"] = roster
    config = configure(
        SlackConfig(
            bot_token=fake.token,
            signing_secret=SIGNING_SECRET,
            api_url=fake.base_url,
            form_budget=2.0,
        )
    )
    bot = await make_bot(
        tmp, database_url, clock, lines=console, aliases=aliases, slack=config, **extra
    )
    assert bot.slack is not None
    app = make_app(bot)
    # The surface's front door reaches a provider admin of the test's choosing (a recording fake,
    # or none at all): the bot's own Slack surface, on a dispatcher with that admin.
    surface = SlackSurface(
        bot.slack.outbound,
        Dispatcher(bot.service, bot.syncer, connections=admin, identities=bot.identities),
        bot.clock,
        deliveries=bot.slack.deliveries,
    )
    mount_slack(bot, app, surface)
    try:
        async with serve(app) as root:
            await fake.next_call("auth.test")  # learnt at start, before any request
            yield SlackRig(f"{root}{EVENTS_PATH}", fake, bot, surface, console)
    finally:
        await bot.close()
