"""The request form reaches every resource: up to 100 in a static menu (Slack's limit), past
that a menu whose options load from `/slack/events` as the person types, answered to signed
`block_suggestion` requests by the real bolt app; option values stay within 150 characters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.views import View

from adapters.slack.constants import RESOURCE_MENU
from core.policy import RESOURCE_NAME_MAX
from tests.adapters.slack.rig import ALICE, LEAD, SlackRig, start_rig
from tests.conftest import FakeClock
from tests.fakes.slack import FakeSlackApi, payloads

LONG = "x" * (RESOURCE_NAME_MAX - 4)


def many_resources(count: int) -> str:
    """`count` resources anyone may request, with long names, emoji and CJK descriptions."""
    lines = ["version: 1", "resources:"]
    for i in range(count):
        name = f"res-{i:03d}" if i % 10 else f"{LONG}{i:03d}"
        lines += [
            f"  {name}:",
            f'    description: "数据库 🛢️ replica {i} ' + "long words " * 10 + '"',
            '    approve: {people: ["lead@example.com"]}',
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
async def big_rig(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> AsyncIterator[SlackRig]:
    fake_slack.add_user(ALICE, "alice@example.com")
    fake_slack.add_user(LEAD, "lead@example.com")
    async with start_rig(
        fake_slack, tmp_path, sqlite_url, clock, policy=many_resources(120)
    ) as rig:
        yield rig


async def _request_form(rig: SlackRig) -> dict[str, Any]:
    await rig.command("")
    await rig.fake.next_call("views.open")
    updated = await rig.fake.next_call("views.update")
    view: dict[str, Any] = updated.params["view"]
    return view


def _resource_element(view: dict[str, Any]) -> dict[str, Any]:
    [block] = [b for b in view["blocks"] if b.get("block_id") == "resource"]
    element: dict[str, Any] = block["element"]
    return element


def _options(answer: dict[str, Any]) -> list[dict[str, Any]]:
    if "option_groups" in answer:
        return [o for group in answer["option_groups"] for o in group["options"]]
    found: list[dict[str, Any]] = answer["options"]
    return found


async def _suggest(rig: SlackRig, view: dict[str, Any], typed: str) -> dict[str, Any]:
    reply = await rig.send(
        payloads.block_suggestion(
            RESOURCE_MENU, typed, block_id="resource", view=view, user_id=ALICE
        )
    )
    assert reply.status == 200, reply.text
    answer: dict[str, Any] = reply.json()
    return answer


async def test_past_100_resources_the_menu_loads_options_as_people_type(
    big_rig: SlackRig,
) -> None:
    view = await _request_form(big_rig)
    View(**view).validate_json()  # slack_sdk's own limits
    element = _resource_element(view)
    assert element["type"] == "external_select" and element["action_id"] == RESOURCE_MENU
    assert "120 resources" in element["placeholder"]["text"]

    everything = await _suggest(big_rig, view, "")
    [group] = everything["option_groups"]
    assert group["label"]["text"] == "First 100 of 120: type more to narrow"
    assert len(group["options"]) == 100

    narrowed = await _suggest(big_rig, view, "RES-11")
    values = [o["value"] for o in _options(narrowed)]
    assert values == [f"res-{i}" for i in (111, 112, 113, 114, 115, 116, 117, 118, 119)]

    by_description = await _suggest(big_rig, view, "replica 119 ")
    assert [o["value"] for o in _options(by_description)] == ["res-119"]

    long_one = await _suggest(big_rig, view, LONG[:10])
    for option in _options(long_one):
        assert len(option["value"]) <= 150 and len(option["text"]["text"]) <= 75
    assert f"{LONG}110" in [o["value"] for o in _options(long_one)]


async def test_a_resource_past_the_100th_can_be_requested_from_the_form(
    big_rig: SlackRig,
) -> None:
    view = await _request_form(big_rig)
    [option] = _options(await _suggest(big_rig, view, "res-119"))
    state = {
        "resource": {
            RESOURCE_MENU: {"type": "external_select", "selected_option": option},
        },
        "duration": {"value": payloads.plain_text_input("30m")},
        "reason": {"value": payloads.plain_text_input("INC-1")},
    }

    reply = await big_rig.send(payloads.view_submission(state, view=view, user_id=ALICE))

    assert (reply.status, reply.text) == (200, "")
    await big_rig.fake.wait_until(lambda: bool(big_rig.fake.calls("response_url:cmd")))
    [request] = await big_rig.requests()
    assert (request.resource, request.reason) == ("res-119", "INC-1")


async def test_up_to_100_resources_stay_in_a_static_menu(
    fake_slack: FakeSlackApi, tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    fake_slack.add_user(ALICE, "alice@example.com")
    async with start_rig(
        fake_slack, tmp_path, sqlite_url, clock, policy=many_resources(100)
    ) as rig:
        view = await _request_form(rig)

    View(**view).validate_json()
    element = _resource_element(view)
    assert element["type"] == "static_select" and len(element["options"]) == 100
    assert all(len(o["value"]) <= 150 for o in element["options"])
