"""Teams connector failures are counted on `/metrics` (`oncall_access_chat_api_errors_total`),
read over HTTP from the app the Teams surface is mounted on."""

from __future__ import annotations

import socket

from tests.adapters.teams.conftest import ALICE, TeamsUnderTest
from tests.fakes.teams import activities
from tests.scrape import scrape


def _closed_port_url() -> str:
    """A loopback address nothing listens on: the connector there cannot be reached."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/amer/"


async def test_a_reply_the_connector_cannot_take_is_counted_as_a_teams_api_error(
    teams: TeamsUnderTest,
) -> None:
    root = str(teams.client.make_url(""))
    assert (await scrape(root)).value("oncall_access_chat_api_errors_total", surface="teams") == 0
    await teams.say(ALICE, "help")
    await teams.next_in(ALICE)  # answered through the reachable connector: nothing counted
    assert (await scrape(root)).value("oncall_access_chat_api_errors_total", surface="teams") == 0

    envelope = {**ALICE.envelope(teams.service_url), "service_url": _closed_port_url()}
    status, _ = await teams.post(activities.personal_message("help", **envelope))

    assert status < 500
    after = await scrape(root)
    assert after.value("oncall_access_chat_api_errors_total", surface="teams") >= 1
    assert after.value("oncall_access_chat_api_errors_total", surface="slack") == 0


async def test_a_member_lookup_the_connector_cannot_answer_is_counted_too(
    teams: TeamsUnderTest,
) -> None:
    root = str(teams.client.make_url(""))
    envelope = {**ALICE.envelope(teams.service_url), "service_url": _closed_port_url()}

    # Alice's first message: who she is must be asked of the connector, which is unreachable;
    # then the one-sentence apology cannot be delivered either.
    status, _ = await teams.post(activities.personal_message("help", **envelope))

    assert status < 500
    errors = (await scrape(root)).value("oncall_access_chat_api_errors_total", surface="teams")
    assert errors == 2  # the member lookup and the apology
