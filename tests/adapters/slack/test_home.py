"""The App Home tab: my active access with Give back, my pending requests, approvals waiting
for me, provider status for admins; actions taken there publish it again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.slack.constants import APPROVE, GIVE_BACK, OPEN_REQUEST_FORM, WITHDRAW
from tests.adapters.slack.fake_admin import FakeProviderAdmin
from tests.adapters.slack.rig import ALICE, BOB, LEAD, SlackRig, start_rig, text_of
from tests.adapters.slack.test_approvals import _request_prod_db
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, payloads


async def _open_home(rig: SlackRig, user: str) -> dict[str, Any]:
    before = len(rig.fake.calls("views.publish"))
    reply = await rig.send(payloads.app_home_opened(user, channel_id=rig.fake.dm_channel_id(user)))
    assert reply.status == 200
    await rig.fake.wait_until(
        lambda: len(rig.fake.calls("views.publish")) > before, what="home published"
    )
    return rig.fake.home_views[user]


def _buttons(view: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for block in view["blocks"]:
        elements = block.get("elements", []) if block["type"] == "actions" else []
        if block.get("accessory"):
            elements = [block["accessory"]]
        found += [(e["action_id"], e.get("value", "")) for e in elements if e["type"] == "button"]
    return found


async def _click_in_home(rig: SlackRig, user: str, action_id: str, value: str) -> dict[str, Any]:
    before = len(rig.fake.calls("views.publish"))
    await rig.send(
        payloads.block_actions(action_id, value, view=rig.fake.home_views[user], user_id=user)
    )
    await rig.fake.wait_until(
        lambda: len(rig.fake.calls("views.publish")) > before, what="home published again"
    )
    return rig.fake.home_views[user]


async def test_home_shows_pending_requests_and_approvals_waiting(rig: SlackRig) -> None:
    request_id = await _request_prod_db(rig)

    alice_home = await _open_home(rig, ALICE)
    bob_home = await _open_home(rig, BOB)

    assert (WITHDRAW, request_id) in _buttons(alice_home)
    assert (OPEN_REQUEST_FORM, "home") in _buttons(alice_home)
    assert "Nothing is waiting for you." in text_of(alice_home)
    assert (APPROVE, request_id) in _buttons(bob_home)
    assert "on call for Primary SRE (roster file) until 14:00 EST" in text_of(bob_home)


async def test_approving_from_home_decides_and_republishes(rig: SlackRig) -> None:
    request_id = await _request_prod_db(rig)
    await _open_home(rig, BOB)

    home = await _click_in_home(rig, BOB, APPROVE, request_id)

    assert f"Approved {request_id}" in text_of(home)
    assert (APPROVE, request_id) not in _buttons(home)
    assert (await rig.bot.service.get(request_id)).status == "active"


async def test_give_back_from_home_revokes(rig: SlackRig) -> None:
    await rig.command("request grafana-admin 30m")  # on call: approved at once
    answer = await rig.answer()
    assert answer.startswith("Approved at once"), answer
    request_id = answer.rsplit("(", 1)[1].rstrip(").")
    home = await _open_home(rig, ALICE)
    assert (GIVE_BACK, request_id) in _buttons(home)
    assert "30m left" in text_of(home)

    home = await _click_in_home(rig, ALICE, GIVE_BACK, request_id)

    assert f"Revoked {request_id}" in text_of(home)
    assert (GIVE_BACK, request_id) not in _buttons(home)
    assert (await rig.bot.service.get(request_id)).status == "revoked"


async def test_withdraw_from_home_cancels(rig: SlackRig) -> None:
    request_id = await _request_prod_db(rig)
    await _open_home(rig, ALICE)

    home = await _click_in_home(rig, ALICE, WITHDRAW, request_id)

    assert f"Cancelled {request_id}" in text_of(home)
    assert (await rig.bot.service.get(request_id)).status == "cancelled"
    await rig.fake.wait_until(lambda: len(rig.fake.calls("chat.update")) >= 2, what="updates")


async def test_request_button_on_home_opens_the_request_form(rig: SlackRig) -> None:
    await _open_home(rig, ALICE)

    await rig.send(
        payloads.block_actions(
            OPEN_REQUEST_FORM, "home", view=rig.fake.home_views[ALICE], user_id=ALICE
        )
    )

    await rig.fake.next_call("views.open")
    updated = await rig.fake.next_call("views.update")
    assert rig.fake.views[updated.params["view_id"]]["callback_id"] == "access.request_form"


async def test_admins_see_provider_status(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    fake_slack.add_user(ALICE, "alice@example.com")
    fake_slack.add_user(LEAD, "lead@example.com")
    async with start_rig(fake_slack, tmp_path, sqlite_url, clock, admin=FakeProviderAdmin()) as rig:
        lead_home = await _open_home(rig, LEAD)
        alice_home = await _open_home(rig, ALICE)

    assert "PagerDuty: last good sync 4m ago" in text_of(lead_home)
    assert "Providers" not in text_of(alice_home)


async def test_messages_tab_publishes_nothing(rig: SlackRig) -> None:
    reply = await rig.send(
        payloads.app_home_opened(ALICE, tab="messages", channel_id=rig.fake.dm_channel_id(ALICE))
    )

    assert reply.status == 200
    await _open_home(rig, ALICE)  # events are handled in order of arrival
    assert len(rig.fake.calls("views.publish")) == 1
