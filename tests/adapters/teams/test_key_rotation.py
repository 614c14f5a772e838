"""Microsoft's signing keys change under a running bot: ``/api/messages`` of the app as ``serve``
composes it, against the fake identity provider rotating, withholding or refusing its keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.adapters.teams.conftest import ALICE, APP_ID, TeamsUnderTest, running_teams
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, payloads, signed_headers
from tests.fakes.slack.constants import SIGNING_SECRET
from tests.fakes.slack.fixtures import fake_slack  # noqa: F401
from tests.fakes.teams import activities
from tests.fakes.teams.connector import FakeConnector
from tests.fakes.teams.identity import FakeIdentityProvider

NO_REQUESTS = "You have no requests. `list` shows what you may request."
SLACK_ALICE = "UALICE0001"


async def test_activity_signed_with_a_key_published_since_the_last_fetch_is_accepted(
    teams: TeamsUnderTest,
) -> None:
    await teams.say(ALICE, "mine")
    assert (await teams.next_in(ALICE)).text == NO_REQUESTS
    fetched = teams.identity.metadata_fetches

    teams.identity.rotate_signing_key(keep_previous=False)
    await teams.say(ALICE, "mine")

    assert (await teams.next_in(ALICE)).text == NO_REQUESTS
    assert teams.identity.metadata_fetches == fetched + 1


async def test_200_tokens_with_made_up_key_ids_cost_one_fetch(teams: TeamsUnderTest) -> None:
    await teams.say(ALICE, "mine")
    assert (await teams.next_in(ALICE)).text == NO_REQUESTS
    fetched = (teams.identity.metadata_fetches, teams.identity.jwks_fetches)
    activity = activities.personal_message(
        "request grafana-admin 30m", **ALICE.envelope(teams.service_url)
    )
    tokens = [
        teams.identity.mint_channel_token(
            APP_ID, teams.service_url, signing_key=teams.identity.unpublished_key()
        )
        for _ in range(200)
    ]

    answers = await asyncio.gather(
        *(teams.post(activity, authorization=f"Bearer {token}") for token in tokens)
    )

    assert {status for status, _ in answers} == {401}
    assert (teams.identity.metadata_fetches, teams.identity.jwks_fetches) == (
        fetched[0] + 1,
        fetched[1] + 1,
    )
    assert await teams.bot.requests.by_requester(ALICE.email) == []


async def test_without_keys_activities_get_503_and_do_nothing(teams: TeamsUnderTest) -> None:
    teams.identity.fail_metadata(503)

    status, _ = await teams.post(
        activities.personal_message(
            "request grafana-admin 30m", **ALICE.envelope(teams.service_url)
        )
    )

    assert status == 503
    assert teams.connector.calls == []
    assert await teams.bot.requests.by_requester(ALICE.email) == []


async def test_a_slow_key_endpoint_holds_only_the_teams_request(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    fake_slack: FakeSlackApi,  # noqa: F811
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
) -> None:
    fake_slack.add_user(SLACK_ALICE, "alice@example.com")
    identity.hold_metadata(seconds=5.0)
    slack = {
        "slack_bot_token": fake_slack.token,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": fake_slack.base_url,
    }
    async with running_teams(identity, connector, tmp_path, sqlite_url, clock, **slack) as teams:
        activity = activities.personal_message("mine", **ALICE.envelope(teams.service_url))
        teams_answer = asyncio.create_task(teams.post(activity))
        await identity.next_held_metadata(timeout=5.0)

        # The key fetch is held open by the fake; the rest of the app answers meanwhile.
        body, content_type = payloads.slash_command(
            "help", user_id=SLACK_ALICE, response_url=fake_slack.response_url("cmd")
        )
        async with asyncio.timeout(2.0):
            async with teams.client.get("/healthz") as health:
                assert health.status == 200
            async with teams.client.post(
                "/slack/events",
                data=body,
                headers=signed_headers(body, content_type, SIGNING_SECRET),
            ) as ack:
                assert ack.status == 200
        assert identity.holding_metadata == 1  # answered while the fetch was still held open
        assert not teams_answer.done()

        identity.release_metadata()
        status, _ = await asyncio.wait_for(teams_answer, timeout=5.0)
        assert status == 201
        assert (await teams.next_in(ALICE)).text == NO_REQUESTS
        await fake_slack.next_call("response_url:cmd")  # Slack's follow-up, after its ack
