"""The front door under generated input, on SQLite and PostgreSQL: whatever an admin or a requester
types is answered with a reply, never an internal error or a logged traceback, and text the
grammar refuses changes nothing (no request, no mapping, no audit event)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.wiring import Bot
from core import commands as c
from core.errors import CommandError
from core.identity import Actor
from core.requests import Status
from tests.builders import make_bot
from tests.conftest import FakeClock
from tests.core.test_grammar_bounds import TEXT

INTERNAL = "Something went wrong on our side"
PEOPLE = [Actor("lead@example.com"), Actor("alice@example.com"), Actor("bob@example.com")]
HOSTILE = st.sampled_from(
    [
        "identity map slack:U" + "1" * 400 + " a@example.com",
        "identity map email:" + "a" * 300 + "@example.com b@example.com",
        "identity map slack:U0123ABCD " + "a" * 400 + "@example.com",
        "identity unmap pagerduty:" + "P" * 500,
        "request prod-db 1h INC-1 \x00",
        "deny r7k2m9p \x00",
        "request grafana-admin 1h \ud800",
        "extend r7k2m9p " + "9" * 3000 + "m",
        "request " + "x" * 3000,
        "why " + "y" * 3000,
        "oncall " + "z" * 3000,
    ]
)


async def state(bot: Bot) -> tuple[int, int, int]:
    requests = await bot.requests.with_status(*Status)
    return len(requests), len(await bot.audit.records()), len(await bot.identities.all())


@pytest.fixture
async def bot(tmp_path: Path, database_url: str, clock: FakeClock) -> AsyncIterator[Bot]:
    built = await make_bot(tmp_path, database_url, clock)
    try:
        yield built
    finally:
        await built.close()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # one bot for every example
)
@given(text=TEXT | HOSTILE, who=st.sampled_from(PEOPLE))
async def test_any_text_gets_a_reply_and_refused_text_changes_nothing(
    bot: Bot, caplog: pytest.LogCaptureFixture, text: str, who: Actor
) -> None:
    caplog.clear()
    try:
        c.parse(text)
        refused = False
    except CommandError:
        refused = True
    before = await state(bot)

    reply = await bot.dispatcher.handle(who, text)

    assert INTERNAL not in reply.text, (text, reply.text)
    assert "Traceback" not in reply.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    if refused:
        assert not reply.ok
        assert await state(bot) == before
