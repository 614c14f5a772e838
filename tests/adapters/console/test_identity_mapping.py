"""Typed commands in the console under an address the roster does not know: a domain alias
(ONCALL_ACCESS_EMAIL_ALIASES) or an admin's `identity map email:OLD NEW` makes it the roster's
person, so the decision is the one the Slack and Teams tests see for the same person."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.console.repl import run_console
from bot.wiring import Bot
from core.identity import Actor
from core.requests import Status
from tests.builders import make_bot
from tests.conftest import FakeClock

OWN_REQUEST = "You cannot decide your own request; `cancel ID` withdraws it."


@pytest.fixture
async def bot(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> AsyncIterator[Bot]:
    built = await make_bot(tmp_path, sqlite_url, clock, aliases="corp.example.com=example.com")
    try:
        yield built
    finally:
        await built.close()


async def _type(bot: Bot, who: str, *lines: str) -> list[str]:
    """`oncall-access console --as WHO` with `lines` piped in; what it printed."""
    out: list[str] = []
    await run_console(
        bot.dispatcher, Actor(who), stdin=io.StringIO("\n".join(lines) + "\n"), write=out.append
    )
    return out


async def _requested_by_alice(bot: Bot, who: str = "alice@example.com") -> str:
    printed = await _type(bot, who, 'request prod-db 1h "INC-1"')
    assert "is waiting for approval" in printed[-1], printed
    [request] = await bot.requests.by_requester("alice@example.com")
    return request.id


async def _approvals(bot: Bot, request_id: str) -> list[str]:
    return [
        r.actor
        for r in await bot.audit.records()
        if r.request_id == request_id and r.event == "request.approved"
    ]


async def test_aliased_approver_typing_approve_is_accepted_as_his_roster_email(bot: Bot) -> None:
    request_id = await _requested_by_alice(bot)

    printed = await _type(bot, "bob@corp.example.com", f"approve {request_id}")

    assert printed[-1] == f"Approved {request_id}: alice@example.com has prod-db for 1h."
    assert (await bot.service.get(request_id)).decided_by == "bob@example.com"
    assert await _approvals(bot, request_id) == ["bob@example.com"]


async def test_an_admins_email_mapping_lets_an_old_address_approve(bot: Bot) -> None:
    request_id = await _requested_by_alice(bot)
    printed = await _type(
        bot, "lead@example.com", "identity map email:rb@old.example bob@example.com"
    )
    assert printed[-1] == "Mapped email:rb@old.example to bob@example.com."

    printed = await _type(bot, "rb@old.example", f"approve {request_id}")

    assert printed[-1] == f"Approved {request_id}: alice@example.com has prod-db for 1h."
    assert await _approvals(bot, request_id) == ["bob@example.com"]


async def test_requester_typing_approve_under_her_other_address_is_refused(bot: Bot) -> None:
    request_id = await _requested_by_alice(bot, who="alice@corp.example.com")

    printed = await _type(
        bot, "alice@example.com", f"approve {request_id}", f"deny {request_id} mine"
    )

    assert printed[1::2] == [OWN_REQUEST, OWN_REQUEST]
    assert (await bot.service.get(request_id)).status == Status.PENDING
    events = [r.event for r in await bot.audit.records() if r.request_id == request_id]
    assert events == ["request.created"]
