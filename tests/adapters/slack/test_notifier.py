"""The Slack notifier as the scheduler and the core use it with no inbound request: timeouts,
expiry and give-back update every copy; notices and admin alerts arrive as DMs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from adapters.slack.app import SlackConfig, SlackOutbound
from adapters.slack.constants import APPROVE, DENY
from core.lifecycle import Lifecycle
from core.ports import MessageRef
from core.requests import Status
from tests.adapters.slack.rig import ALICE, BOB, LEAD, SlackRig, live_buttons, text_of
from tests.adapters.slack.test_approvals import _request_prod_db
from tests.conftest import FakeClock


async def test_timed_out_request_updates_every_copy_and_tells_the_requester(
    rig: SlackRig, clock: FakeClock
) -> None:
    request_id = await _request_prod_db(rig)
    clock.advance(timedelta(minutes=31))

    assert await Lifecycle(rig.bot.service).time_out_pending() == 1

    for message in rig.approval_messages().values():
        assert live_buttons(message) == []
        assert "Timed out at" in text_of(message)
    assert any("it timed out" in m["text"] for m in rig.dm(ALICE))
    assert (await rig.bot.service.get(request_id)).status == "timed_out"


async def test_expiry_and_give_back_update_the_copies(rig: SlackRig, clock: FakeClock) -> None:
    request_id = await _request_prod_db(rig)
    (bob_key,) = [k for k in rig.approval_messages() if k[0] == rig.fake.dm_channel_id(BOB)]
    await rig.click(APPROVE, request_id, user=BOB, message_key=bob_key)
    await rig.answer("click")
    clock.advance(timedelta(hours=1, seconds=1))

    assert await Lifecycle(rig.bot.service).expire_due_grants() == 1

    assert "Expired at" in text_of(rig.fake.messages[bob_key])
    assert any("has expired" in m["text"] for m in rig.dm(ALICE))


async def test_updates_keep_each_readers_time_zone_across_a_restart(
    rig: SlackRig, clock: FakeClock
) -> None:
    request_id = await _request_prod_db(rig)
    (bob_key,) = [k for k in rig.approval_messages() if k[0] == rig.fake.dm_channel_id(BOB)]
    request = await rig.bot.service.get(request_id)
    # A second replica (or the bot after a restart) knows nothing but the stored references.
    other = _outbound(rig, rig.surface.config)
    decided = request.with_changes(status=Status.TIMED_OUT)

    await other.notifier.request_changed(
        decided, [MessageRef("slack", f"{bob_key[0]}:{bob_key[1]}")]
    )

    assert "Timed out at 07:30 EST" in text_of(rig.fake.messages[bob_key])  # bob is in New York


async def test_tell_someone_not_in_slack_is_skipped(rig: SlackRig) -> None:
    await rig.surface.notifier.tell("stranger@example.com", "hello")

    assert rig.fake.calls("chat.postMessage") == []


async def test_admin_alerts_reach_each_admin_by_dm(rig: SlackRig) -> None:
    await rig.surface.notifier.alert_admins("Granting r2x4k7m (prod-db for alice) failed.")

    (message,) = rig.dm(LEAD)
    assert "Granting r2x4k7m (prod-db for alice) failed." in text_of(message)


async def test_an_approver_missing_from_slack_does_not_stop_the_others(
    rig: SlackRig,
) -> None:
    del rig.fake.users[LEAD]  # lead@example.com has no Slack account

    await _request_prod_db_one_copy(rig)

    (message,) = rig.dm(BOB)
    assert live_buttons(message) == [APPROVE, DENY]


async def _request_prod_db_one_copy(rig: SlackRig) -> None:
    await rig.command("request prod-db 1h INC-1")
    assert "is waiting for approval" in await rig.answer()


async def test_one_failed_approval_dm_does_not_stop_the_others(rig: SlackRig) -> None:
    rig.fake.fail("chat.postMessage", "channel_not_found", times=1)

    await rig.command("request prod-db 1h INC-1")

    assert "is waiting for approval" in await rig.answer()
    assert len(rig.approval_messages()) == 1  # the second approver still got theirs
    (request,) = await rig.requests()
    assert [surface for surface, _ in request.message_refs].count("slack") == 1


async def test_announce_goes_to_the_approvals_channel_only_when_there_is_one(
    rig: SlackRig,
) -> None:
    await rig.surface.notifier.announce("Break-glass: alice@example.com took prod-db.")
    assert rig.fake.calls("chat.postMessage") == []

    channel = _outbound(rig, replace(rig.surface.config, approvals_channel="CAPPROVALS"))
    await channel.notifier.announce("Break-glass: alice@example.com took prod-db.")

    (call,) = rig.fake.calls("chat.postMessage")
    assert call.params["channel"] == "CAPPROVALS"
    assert call.params["text"] == "Break-glass: alice@example.com took prod-db."


def _outbound(rig: SlackRig, config: SlackConfig) -> SlackOutbound:
    """Another replica's (or a restarted bot's) Slack notifier on the same database."""
    views = rig.bot.dispatcher.views
    return SlackOutbound(
        config,
        rig.bot.clock,
        admins=views.admins,
        identity=rig.bot.dispatcher.identity_map,
        kv=rig.bot.kv,
    )
