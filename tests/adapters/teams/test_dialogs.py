"""Dialogs (task modules): the request form and the admin's connect form, with inline errors,
live verification through the provider admin, and secrets never sent back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from bot.provider_forms import FORMS
from core.connection_form import ProviderForm
from core.connections import ConnectForm, ConnectResult
from tests.adapters.teams.conftest import (
    ALICE,
    LEAD,
    Person,
    TeamsUnderTest,
    card_of,
    card_text,
    running_teams,
)
from tests.conftest import FakeClock
from tests.fakes.teams import activities
from tests.fakes.teams.connector import FakeConnector
from tests.fakes.teams.identity import FakeIdentityProvider

LAUNCH = {"msteams": {"type": "task/fetch"}}


async def _fetch(teams: TeamsUnderTest, person: Person, data: dict[str, Any]) -> dict[str, Any]:
    status, body = await teams.post(
        activities.task_fetch({**LAUNCH, **data}, **person.envelope(teams.service_url))
    )
    assert status == 200, body
    task: dict[str, Any] = body["task"]
    return task


async def _submit(teams: TeamsUnderTest, person: Person, data: dict[str, Any]) -> dict[str, Any]:
    status, body = await teams.post(
        activities.task_submit(data, **person.envelope(teams.service_url))
    )
    assert status == 200, body
    task: dict[str, Any] = body["task"]
    return task


def _form(task: dict[str, Any]) -> dict[str, Any]:
    assert task["type"] == "continue", task
    card = task["value"]["card"]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = card["content"]
    return content


def _inputs(content: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in content["body"] if e["type"].startswith("Input.")}


def _error_after(content: dict[str, Any], input_id: str) -> str | None:
    body = content["body"]
    index = next(i for i, e in enumerate(body) if e.get("id") == input_id)
    for element in body[index + 1 :]:
        if element["type"].startswith("Input."):
            return None
        if element["type"] == "RichTextBlock" and element["inlines"][0]["color"] == "attention":
            return "".join(run["text"] for run in element["inlines"])
    return None


async def test_request_form_offers_the_policy_resources(teams: TeamsUnderTest) -> None:
    task = await _fetch(teams, ALICE, {"form": "request"})

    assert task["value"]["title"] == "Request access"
    inputs = _inputs(_form(task))
    assert [c["value"] for c in inputs["resource"]["choices"]] == ["prod-db", "grafana-admin"]
    assert set(inputs) == {"resource", "duration", "reason"}


async def test_request_form_errors_come_back_under_their_fields(teams: TeamsUnderTest) -> None:
    task = await _submit(
        teams, ALICE, {"form": "request", "resource": "prod-db", "duration": "9h", "reason": ""}
    )

    content = _form(task)
    assert _error_after(content, "duration") == "9h is longer than the 4h maximum for prod-db."
    assert _error_after(content, "reason") == "prod-db needs a reason: `request prod-db 9h REASON`."
    assert _inputs(content)["duration"]["value"] == "9h"  # what was typed stays
    assert await teams.bot.requests.by_requester(ALICE.email) == []

    task = await _submit(
        teams,
        ALICE,
        {"form": "request", "resource": "prod-db", "duration": "2 hours", "reason": "x"},
    )
    assert (_error_after(_form(task), "duration") or "").startswith("`2 hours` is not a duration")


async def test_request_form_refusal_from_the_core_is_shown_on_the_form(
    teams: TeamsUnderTest,
) -> None:
    task = await _submit(
        teams, LEAD, {"form": "request", "resource": "prod-db", "duration": "", "reason": "x"}
    )

    content = _form(task)
    assert content["body"][0]["inlines"][0]["text"].startswith(
        "You are not in the on-call roster as lead@example.com"
    )


async def test_request_form_submits_through_the_core(teams: TeamsUnderTest) -> None:
    task = await _submit(
        teams,
        ALICE,
        {"form": "request", "resource": "prod-db", "duration": "", "reason": "2h outage INC-9"},
    )

    [request] = await teams.bot.requests.by_requester(ALICE.email)
    assert (request.resource, request.reason) == ("prod-db", "2h outage INC-9")
    assert request.duration.total_seconds() == 3600  # the default: "2h" stayed in the reason
    assert task == {
        "type": "message",
        "value": f"Request {request.id} for prod-db (1h) is waiting for approval.",
    }
    posted = [a for a in teams.connector.activities if a.attachments]
    assert any(f"Request {request.id}" in card_text(card_of(a)) for a in posted)


async def test_connect_form_is_for_admins(teams: TeamsUnderTest) -> None:
    task = await _fetch(teams, ALICE, {"form": "connect", "provider": "pagerduty"})
    assert task == {
        "type": "message",
        "value": "Only admins can do that (ONCALL_ACCESS_ADMINS).",
    }

    task = await _submit(teams, ALICE, {"form": "connect", "provider": "opsgenie", "api_key": "k"})
    assert task["type"] == "message"


async def test_connect_form_verifies_and_shows_errors_inline(teams: TeamsUnderTest) -> None:
    task = await _fetch(teams, LEAD, {"form": "connect", "provider": "pagerduty"})
    inputs = _inputs(_form(task))
    assert {"region", "auth", "api_key", "client_id", "client_secret", "subdomain"} <= set(inputs)
    assert inputs["api_key"]["style"] == "password"

    task = await _submit(teams, LEAD, {"form": "connect", "provider": "pagerduty", "region": "eu"})
    content = _form(task)
    assert _error_after(content, "api_key") == "Enter the API key."
    assert _inputs(content)["region"]["value"] == "eu"

    secret = "u+0123456789abcdef"
    task = await _submit(
        teams, LEAD, {"form": "connect", "provider": "pagerduty", "api_key": secret}
    )
    content = _form(task)
    assert "ONCALL_ACCESS_SECRET_KEY is not set" in card_text(content)
    assert secret not in json.dumps(task)


class FakeProviderAdmin:
    """Verifies nothing; remembers what it was asked."""

    def __init__(self) -> None:
        self.submitted: list[tuple[ConnectForm, str]] = []
        self.first_syncs: set[asyncio.Task[None]] = set()

    def forms(self) -> Sequence[ProviderForm]:
        return FORMS

    async def connect(
        self,
        form: ConnectForm,
        actor: str,
        *,
        when_synced: Callable[[str], Awaitable[None]] | None = None,
    ) -> ConnectResult:
        """As the bot's own: with `when_synced`, the sync summary follows the answer."""
        self.submitted.append((form, actor))
        if form.api_key == "wrong":
            return ConnectResult(False, "Opsgenie refused the API key (401).", field="api_key")
        if when_synced is None:
            return ConnectResult(True, "Connected Opsgenie. 3 schedules.", sync_summary="Synced.")
        self.first_syncs.add(asyncio.ensure_future(when_synced("First sync done. Synced.")))
        return ConnectResult(True, "Connected Opsgenie. 3 schedules.")

    async def disconnect(self, provider: str, actor: str) -> str:
        return f"Disconnected {provider}."

    async def status_lines(self) -> list[str]:
        return ["Opsgenie: connected"]


async def test_connect_success_closes_the_dialog_and_says_so_in_the_chat(
    identity: FakeIdentityProvider,
    connector: FakeConnector,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
) -> None:
    admin = FakeProviderAdmin()
    async with running_teams(
        identity, connector, tmp_path, sqlite_url, clock, admin=admin
    ) as teams:
        wrong = await _submit(
            teams,
            LEAD,
            {"form": "connect", "provider": "opsgenie", "region": "eu", "api_key": "wrong"},
        )
        task = await _submit(
            teams,
            LEAD,
            {"form": "connect", "provider": "opsgenie", "region": "eu", "api_key": "right"},
        )
        posted = [(await teams.next_in(LEAD)).text, (await teams.next_in(LEAD)).text]

    assert _error_after(_form(wrong), "api_key") == "Opsgenie refused the API key (401)."
    assert task == {"type": "message", "value": "Connected Opsgenie. 3 schedules."}
    # the dialog closes once the connection is kept; the first sync's end is told after it
    assert sorted(posted) == ["Connected Opsgenie. 3 schedules.", "First sync done. Synced."]
    form, actor = admin.submitted[-1]
    assert (form.provider, form.region, form.api_key, actor) == (
        "opsgenie",
        "eu",
        "right",
        "lead@example.com",
    )


async def test_connect_command_offers_a_form_per_provider(teams: TeamsUnderTest) -> None:
    await teams.say(LEAD, "connect")

    card = card_of(await teams.next_in(LEAD))
    assert [a["data"].get("provider") for a in card["actions"]] == [
        "pagerduty", "opsgenie", "jsm", "entra", "okta", "github",
    ]  # fmt: skip
    assert all(a["data"]["msteams"] == {"type": "task/fetch"} for a in card["actions"])


async def test_request_form_keeps_the_reason_exactly_as_typed(
    teams: TeamsUnderTest,
) -> None:
    task = await _submit(
        teams,
        ALICE,
        {
            "form": "request",
            "resource": "prod-db",
            "duration": "30m",
            "reason": "Bob’s “big” outage",
        },
    )

    assert task["type"] == "message"
    [request] = await teams.bot.requests.by_requester(ALICE.email)
    assert request.reason == "Bob’s “big” outage"  # as typed: a form field needs no quoting
