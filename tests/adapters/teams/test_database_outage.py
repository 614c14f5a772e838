"""Teams while the access database is cut off (a real PostgreSQL behind a proxy the test cuts):
a message or a card click is answered in one clear sentence, never an error id, and works again
once the database is back, with no restart."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.errors import DATABASE_UNAVAILABLE
from core.requests import Status
from tests.adapters.teams.conftest import (
    ALICE,
    BOB,
    Person,
    TeamsUnderTest,
    card_of,
    card_text,
    running_teams,
)
from tests.conftest import FakeClock
from tests.fakes.teams.connector import FakeConnector
from tests.fakes.teams.identity import FakeIdentityProvider
from tests.tcpproxy import CuttableProxy, cut_postgres  # noqa: F401

REQUEST = 'request prod-db 2h "INC-4411 failover"'


@pytest.fixture
async def teams(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    tmp_path: Path,
    clock: FakeClock,
    cut_postgres: tuple[str, CuttableProxy],  # noqa: F811
) -> AsyncIterator[TeamsUnderTest]:
    url, _ = cut_postgres
    async with running_teams(identity, connector, tmp_path, url, clock) as under_test:
        yield under_test


@pytest.fixture
def proxy(cut_postgres: tuple[str, CuttableProxy]) -> CuttableProxy:  # noqa: F811
    return cut_postgres[1]


async def answer_to(teams: TeamsUnderTest, person: Person) -> str:
    """What the bot answered to what `person` typed (skipping notices it sent on its own), as
    text or as the card's text."""
    while (sent := await teams.next_in(person)).reply_to_id is None:
        pass
    return card_text(card_of(sent)) if sent.attachments else str(sent.text)


def assert_no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


async def test_message_during_an_outage_is_answered_in_one_sentence_then_works(
    teams: TeamsUnderTest, proxy: CuttableProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await proxy.cut()

    await teams.say(ALICE, REQUEST)

    assert await answer_to(teams, ALICE) == DATABASE_UNAVAILABLE
    assert_no_tracebacks(caplog)
    proxy.restore()
    await teams.say(ALICE, REQUEST)
    assert "is waiting for approval" in await answer_to(teams, ALICE)


async def test_card_click_during_an_outage_is_answered_on_the_card_then_works(
    teams: TeamsUnderTest, proxy: CuttableProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await teams.say(ALICE, REQUEST)
    [request] = await teams.bot.requests.by_requester(ALICE.email)
    await proxy.cut()

    card = await teams.click(BOB, "approve", {"request_id": request.id})

    assert card_text(card) == DATABASE_UNAVAILABLE
    assert_no_tracebacks(caplog)
    proxy.restore()
    assert (await teams.bot.service.get(request.id)).status == Status.PENDING
    card = await teams.click(BOB, "approve", {"request_id": request.id})
    assert (await teams.bot.service.get(request.id)).status == Status.ACTIVE
    assert "Approved by bob@example.com" in card_text(card)
