"""Slack users become people by email: looked up once and cached for a while, refused clearly
when Slack will not say who they are."""

from __future__ import annotations

from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.constants import APPROVE
from adapters.slack.identity import (
    NOT_A_PERSON,
    SlackDirectory,
    SlackIdentityError,
    SlackWorkspace,
    TtlCache,
)
from tests.adapters.slack.rig import ALICE, LEAD, NOBODY, SlackRig, start_rig
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cache_entries_expire() -> None:
    ticks = Ticks()
    cache: TtlCache[str] = TtlCache(10, now=ticks)
    cache.put("a", "alice")
    ticks.now = 9.9
    assert cache.get("a") == (True, "alice")
    ticks.now = 10.0
    assert cache.get("a") == (False, None)


def test_cache_is_bounded() -> None:
    cache: TtlCache[int] = TtlCache(10, size=2)
    for i in range(3):
        cache.put(str(i), i)
    assert cache.get("0") == (False, None)
    assert cache.get("2") == (True, 2)


async def test_users_info_is_cached_with_a_ttl(fake_slack: FakeSlackApi) -> None:
    fake_slack.add_user(ALICE, "Alice@Example.com", tz="Asia/Tokyo")
    ticks = Ticks()
    client = AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    directory = SlackDirectory(client, ttl=600, now=ticks)

    first = await directory.actor(ALICE)
    await directory.actor(ALICE)
    ticks.now = 601
    await directory.actor(ALICE)

    assert (first.email, first.tz, first.surface, first.user_key) == (
        "alice@example.com",
        "Asia/Tokyo",
        "slack",
        f"slack:{ALICE}",
    )
    assert len(fake_slack.calls("users.info")) == 2


async def test_bots_and_deactivated_accounts_are_not_people(fake_slack: FakeSlackApi) -> None:
    fake_slack.add_user("UBOT", "bot@example.com", is_bot=True)
    fake_slack.add_user("UGONE", "gone@example.com", deleted=True)
    directory = SlackDirectory(AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url))

    for user in ("UBOT", "UGONE"):
        try:
            await directory.actor(user)
        except SlackIdentityError as exc:
            assert exc.message == NOT_A_PERSON
        else:
            raise AssertionError(f"{user} was accepted")


async def test_email_lookup_caches_misses_and_dm_channels(fake_slack: FakeSlackApi) -> None:
    fake_slack.add_user(ALICE, "alice@example.com")
    directory = SlackDirectory(AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url))

    assert await directory.user_for_email("nobody@example.com") is None
    assert await directory.user_for_email("NOBODY@example.com") is None
    user = await directory.user_for_email("alice@example.com")
    assert user is not None
    channel = await directory.dm_channel(user.id)
    assert channel == await directory.dm_channel(user.id) == fake_slack.dm_channel_id(ALICE)

    assert len(fake_slack.calls("users.lookupByEmail")) == 2
    assert len(fake_slack.calls("conversations.open")) == 1


async def test_workspace_asks_auth_test_once(fake_slack: FakeSlackApi) -> None:
    workspace = SlackWorkspace(AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url))

    assert await workspace.serves(fake_slack.team_id)
    assert not await workspace.serves("T0OTHER001")
    assert not await workspace.serves(None)
    assert len(fake_slack.calls("auth.test")) == 1


async def test_slack_outage_at_start_does_not_stop_the_bot(rig: SlackRig) -> None:
    # The rig learnt the workspace at start; a failing Web API later only affects lookups.
    rig.fake.fail("users.info", "fatal_error")
    await rig.command("mine")
    assert (
        await rig.answer()
        == "Slack did not tell me who you are just now; please try again in a minute."
    )


async def test_auth_test_failing_at_start_is_retried_on_the_first_request(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    fake_slack.add_user(ALICE, "alice@example.com")
    fake_slack.fail("auth.test", "fatal_error", times=1)
    async with start_rig(fake_slack, tmp_path, sqlite_url, clock) as rig:
        await rig.command("help")
        assert "request RESOURCE" in await rig.answer()
        assert [c.ok for c in rig.fake.calls("auth.test")] == [False, True]


async def test_an_admin_mapping_stands_in_for_an_unreadable_email(rig: SlackRig) -> None:
    await rig.command("identity map slack:UNOBODY001 carol@example.com", user=LEAD, name="map")
    assert await rig.answer("map") == "Mapped slack:UNOBODY001 to carol@example.com."

    await rig.command("mine", user=NOBODY, name="mine")

    assert await rig.answer("mine") == "You have no requests. `list` shows what you may request."


async def test_approvers_are_found_through_an_admin_mapping(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    fake_slack.add_user(ALICE, "alice@example.com")
    fake_slack.add_user("UBOBCORP01", "bob@corp.example")  # not the roster's bob@example.com
    fake_slack.add_user(LEAD, "lead@example.com")
    async with start_rig(fake_slack, tmp_path, sqlite_url, clock) as rig:
        await rig.command("identity map slack:UBOBCORP01 bob@example.com", user=LEAD, name="map")
        await rig.answer("map")

        await rig.command("request prod-db 1h INC-1")
        answer = await rig.answer()
        request_id = answer.split()[1]
        await rig.fake.wait_until(lambda: len(rig.approval_messages()) == 2, what="both DMs")
        (bob_key,) = [
            k for k in rig.approval_messages() if k[0] == fake_slack.dm_channel_id("UBOBCORP01")
        ]

        await rig.click(APPROVE, request_id, user="UBOBCORP01", message_key=bob_key)

        assert f"Approved {request_id}" in await rig.answer("click")
        assert (await rig.bot.service.get(request_id)).decided_by == "bob@example.com"
