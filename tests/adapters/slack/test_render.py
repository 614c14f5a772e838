"""Block Kit drawn by the pure renderers passes slack_sdk's own Block Kit checks (lengths,
counts, required fields), whatever the request's state, and never shows raw control characters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from adapters.slack import home, modals, render
from adapters.slack.constants import APPROVE, DENY
from bot.provider_forms import FORMS
from core.evidence import Evidence, Rule
from core.groups import GroupRef
from core.replies import Reply
from core.requests import AccessRequest, Status
from core.views import HomeView

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _request(status: Status = Status.PENDING, **changes: Any) -> AccessRequest:
    base = AccessRequest(
        id="r2x4k7m",
        resource="prod-db",
        requester="alice@example.com",
        duration=timedelta(hours=1),
        reason="INC-1 <script> & more",
        status=status,
        created_at=NOW,
        timeout_at=NOW + timedelta(minutes=30),
        decided_by="bob@example.com",
        decision_note="use the replica",
        granted_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        ended_at=NOW + timedelta(minutes=20),
        evidence=Evidence(
            Rule.REQUEST_ON_CALL,
            group=GroupRef.parse("pagerduty:schedule/Primary SRE"),
            shift_end=NOW + timedelta(hours=6),
        ),
    )
    return base.with_changes(**changes)


def _valid_blocks(blocks: list[dict[str, Any]]) -> None:
    assert 0 < len(blocks) <= 50
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]


def _valid_view(view: dict[str, Any]) -> None:
    View(**view).validate_json()


@pytest.mark.parametrize("status", list(Status))
def test_approval_message_in_every_state(status: Status) -> None:
    message = render.approval_message(_request(status), "Europe/Berlin", NOW)

    _valid_blocks(message["blocks"])
    buttons = [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == ([APPROVE, DENY] if status == Status.PENDING else [])
    shown = str(message)
    assert "on call for Primary SRE (PagerDuty) until 19:00 CET" in shown
    assert "<script>" not in shown and "&lt;script&gt; &amp; more" in shown


def test_state_lines_say_what_became_of_the_request() -> None:
    lines = {s: render.state_line(_request(s), "UTC", NOW) for s in Status}
    assert lines[Status.DENIED] == ":no_entry: Denied by bob@example.com: use the replica"
    assert "active until 13:00 UTC" in lines[Status.ACTIVE]
    assert lines[Status.TIMED_OUT].startswith(":hourglass: Timed out at 12:30 UTC")
    auto = render.state_line(_request(Status.ACTIVE, decided_by="system"), "UTC", NOW)
    assert "automatically (on call)" in auto


def test_extension_requests_say_what_they_extend() -> None:
    message = render.approval_message(_request(extends="r9k2m3n"), "UTC", NOW)
    assert "extend `r9k2m3n` by 1h" in str(message)


def test_long_replies_are_split_into_sections_within_limits() -> None:
    reply = Reply(
        "Your requests:", lines=tuple(f"r{i:06d}  prod-db  " + "x" * 200 for i in range(300))
    )

    message = render.reply_message(reply)

    _valid_blocks(message["blocks"])
    assert len(message["text"]) <= 3900


def test_refusals_are_marked() -> None:
    message = render.reply_message(Reply("Not on call.", ok=False))
    assert message["blocks"][0]["text"]["text"] == ":warning: Not on call."
    assert message["text"] == "Not on call."


def test_modals_pass_block_kit_checks() -> None:
    choices = [
        modals.Choice("prod-db", "Read-write " * 20, True, "", "4h", "1h", True),
        modals.Choice("grafana-admin", "", False, "You are not on call.", "2h", "1h", False),
    ]
    for view in (
        modals.request_view(choices, modals.metadata(url="https://hooks.slack.com/x")),
        modals.request_view(choices[1:], ""),
        modals.request_view([], ""),
        modals.deny_view(_request(), modals.metadata(id="r2x4k7m")),
        *(modals.connect_view(FORMS, form, "") for form in FORMS),
        modals.loading_view("Request access"),
        modals.notice_view("Connect a provider", "Only admins can do that."),
    ):
        _valid_view(view)


def test_connect_form_reads_jsm_token_into_its_own_field() -> None:
    values = {
        "provider": {"value": {"type": "static_select", "selected_option": {"value": "jsm"}}},
        "region": {"value": {"type": "static_select", "selected_option": {"value": "eu"}}},
        "api_token": {"value": {"type": "plain_text_input", "value": "tok"}},
        "site": {"value": {"type": "plain_text_input", "value": "acme.atlassian.net"}},
        "email": {"value": {"type": "plain_text_input", "value": "ops@acme.example"}},
    }

    form, errors = modals.read_connect(FORMS, values)

    assert errors == {}
    assert form is not None
    assert (form.provider, form.region, form.api_key, form.api_token, form.site) == (
        "jsm",
        "us",  # JSM has no region; the field keeps its default
        "",
        "tok",
        "acme.atlassian.net",
    )
    assert "tok" not in repr(form)


def test_home_view_passes_block_kit_checks_when_full() -> None:
    many = [_request(Status.ACTIVE, id=f"r{i:06d}") for i in range(40)]
    data = HomeView(
        active=tuple(many),
        pending=tuple(many),
        to_approve=tuple(many),
        is_admin=True,
        provider_lines=("PagerDuty: ok",),
    )

    view = home.home_view(data, "UTC", NOW, "Approved r2x4k7m.")

    assert len(view["blocks"]) <= 100
    View(**view).validate_json()
