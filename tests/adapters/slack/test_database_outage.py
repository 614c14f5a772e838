"""Slack while the access database is cut off (a real PostgreSQL behind a proxy the test cuts):
Slack is still acknowledged at once, the person reads one clear sentence, never an error id or
exception text, and the same action works once the database is back, with no restart."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.constants import APPROVE
from core.errors import DATABASE_UNAVAILABLE
from core.requests import Status
from tests.adapters.slack.rig import ALICE, BOB, LEAD, SlackRig, start_rig
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, payloads
from tests.tcpproxy import CuttableProxy, cut_postgres  # noqa: F401

REQUEST = "request prod-db 1h INC-1"


@pytest.fixture
async def rig(
    fake_slack: FakeSlackApi,
    tmp_path: Path,
    clock: FakeClock,
    cut_postgres: tuple[str, CuttableProxy],  # noqa: F811
) -> AsyncIterator[SlackRig]:
    fake_slack.add_user(ALICE, "alice@example.com", name="alice")
    fake_slack.add_user(BOB, "bob@example.com", name="bob")
    fake_slack.add_user(LEAD, "lead@example.com", name="lead")
    url, _ = cut_postgres
    async with start_rig(fake_slack, tmp_path, url, clock) as found:
        yield found


@pytest.fixture
def proxy(cut_postgres: tuple[str, CuttableProxy]) -> CuttableProxy:  # noqa: F811
    return cut_postgres[1]


@pytest.fixture(autouse=True)
def warnings_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)


def assert_no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r.getMessage() for r in caplog.records if r.exc_info]
    assert logged == []


async def test_slash_command_during_an_outage_is_answered_in_one_sentence_then_works(
    rig: SlackRig, proxy: CuttableProxy, caplog: pytest.LogCaptureFixture
) -> None:
    await proxy.cut()

    reply = await rig.command(REQUEST)

    assert (reply.status, reply.text) == (200, "")  # acknowledged without the database
    assert await rig.answer() == DATABASE_UNAVAILABLE
    assert_no_tracebacks(caplog)

    proxy.restore()
    await rig.command(REQUEST, name="again")
    assert "is waiting for approval" in await rig.answer("again")


async def test_approve_button_during_an_outage_is_answered_in_one_sentence_then_works(
    rig: SlackRig, proxy: CuttableProxy, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.command(REQUEST)
    request_id = (await rig.answer()).split()[1]
    await rig.fake.wait_until(lambda: len(rig.approval_messages()) >= 2, what="approval DMs")
    bob_key = next(key for key in rig.approval_messages() if key[0] == rig.fake.dm_channel_id(BOB))
    await proxy.cut()

    await rig.click(APPROVE, request_id, user=BOB, message_key=bob_key)

    assert await rig.answer("click") == DATABASE_UNAVAILABLE
    assert_no_tracebacks(caplog)
    proxy.restore()
    assert (await rig.bot.requests.get(request_id)).status == Status.PENDING  # type: ignore[union-attr]

    await rig.click(APPROVE, request_id, user=BOB, message_key=bob_key, name="again")
    assert (await rig.answer("again")).startswith(f"Approved {request_id}")


async def test_request_form_submitted_during_an_outage_is_answered_in_one_sentence(
    rig: SlackRig, proxy: CuttableProxy, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.command("")
    opened = await rig.fake.next_call("views.update")
    view: dict[str, Any] = rig.fake.views[opened.params["view_id"]]
    state = {
        "resource": {"value": payloads.static_select("prod-db")},
        "duration": {"value": payloads.plain_text_input("1h")},
        "reason": {"value": payloads.plain_text_input("INC-1")},
    }
    await proxy.cut()

    reply = await rig.send(payloads.view_submission(state, view=view, user_id=ALICE))

    # The sentence stands on the form, which keeps what was typed for a second try.
    assert reply.status == 200
    assert reply.json() == {
        "response_action": "errors",
        "errors": {"resource": DATABASE_UNAVAILABLE},
    }
    assert_no_tracebacks(caplog)
    proxy.restore()
    assert await rig.requests() == []
