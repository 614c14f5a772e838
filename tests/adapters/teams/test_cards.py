"""Every card the Teams surface sends validates against the Adaptive Cards 1.5 schema, and the
small pure pieces (mention stripping, message references) do what their callers rely on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botbuilder.schema import Activity, ConversationAccount, ConversationReference
from jsonschema import Draft6Validator

from adapters.pagerduty.form import FORM as PAGERDUTY
from adapters.teams import cards
from adapters.teams.handler import command_text
from adapters.teams.references import message_ref, parse_message_ref
from bot.provider_forms import FORMS
from core.evidence import Evidence, Rule
from core.groups import GroupRef
from core.ports import MessageRef
from core.replies import Reply
from core.requests import AccessRequest, Status
from tests.reference_files import REFERENCE

SCHEMA = REFERENCE / "teams" / "adaptive-card.schema.1.5.0.json"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def validator() -> Draft6Validator:
    return Draft6Validator(json.loads(SCHEMA.read_text()))


def _request(status: Status, **changes: Any) -> AccessRequest:
    request = AccessRequest(
        id="r7k2m9p",
        resource="prod-db",
        requester="alice@example.com",
        duration=timedelta(hours=2),
        reason="INC-4411 failover",
        status=status,
        created_at=NOW,
        timeout_at=NOW + timedelta(minutes=30),
        evidence=Evidence(
            Rule.REQUEST_ON_CALL,
            group=GroupRef.parse("pagerduty:schedule/Primary SRE"),
            shift_end=NOW + timedelta(hours=6),
        ),
    )
    return request.with_changes(**changes)


def _all_cards() -> dict[str, cards.Card]:
    found: dict[str, cards.Card] = {}
    for status in Status:
        decided = {
            "decided_by": "bob@example.com",
            "decision_note": "freeze",
            "expires_at": NOW + timedelta(hours=2),
        }
        found[f"approval-{status.value}"] = cards.approval_card(
            _request(status, **({} if status == Status.PENDING else decided)),
            now=NOW,
            refresh_user_ids=["29:bob"],
            message="You cannot decide your own request.",
        )
    found["reply-lines"] = cards.reply_card(Reply("Resources:", lines=("✓ a", "✗ b")))
    found["reply-request"] = cards.reply_card(Reply("Waiting.", request=_request(Status.PENDING)))
    found["reply-request-form"] = cards.reply_card(Reply("Which?", open_form="request"))
    found["reply-connect-form"] = cards.reply_card(
        Reply("Connect", open_form="connect", forms=FORMS)
    )
    found["confirm-disconnect"] = cards.confirm_disconnect_card("pagerduty", "PagerDuty")
    found["result"] = cards.result_card("Done.", ok=False)
    found["link"] = cards.link_card("Authorize", "Open", "https://example.com/authorize")
    found["request-form"] = cards.request_form(
        [cards.ResourceChoice("prod-db", "Production", "1h", "4h")],
        values={"resource": "prod-db", "duration": "9h"},
        errors={"duration": "at most 4h", "reason": "needs a reason"},
        message="You are not on call.",
    )
    for form in FORMS:
        found[f"connect-{form.provider}"] = cards.connect_form(
            form, values={"region": "eu"}, errors={"api_key": "bad", "elsewhere": "x"}
        )
    return found


@pytest.mark.parametrize("name", sorted(_all_cards()))
def test_card_validates_against_adaptive_cards_1_5(validator: Draft6Validator, name: str) -> None:
    content = _all_cards()[name]

    errors = sorted(validator.iter_errors(content), key=lambda e: list(e.path))

    assert [f"{list(e.path)}: {e.message}" for e in errors] == []
    assert content["version"] == "1.5"


def test_decided_card_has_no_buttons_and_says_who_decided() -> None:
    denied = cards.approval_card(
        _request(Status.DENIED, decided_by="bob@example.com", decision_note="freeze")
    )

    assert "actions" not in denied
    assert denied["body"][-1]["inlines"][0]["text"] == "Denied by bob@example.com: freeze"


def test_refresh_names_at_most_sixty_users() -> None:
    many = [f"29:user-{n}" for n in range(70)]

    content = cards.approval_card(_request(Status.PENDING), refresh_user_ids=many)

    assert content["refresh"]["userIds"] == many[:60]
    assert content["refresh"]["action"]["verb"] == "refresh"


def test_secrets_are_never_filled_back_into_the_connect_form() -> None:
    content = cards.connect_form(
        PAGERDUTY, values={"api_key": "u+secret", "client_secret": "s3", "client_id": "id-1"}
    )

    text = json.dumps(content)
    assert "u+secret" not in text and "s3" not in text
    assert '"value": "id-1"' in text


def _mention(text: str, entity_text: str) -> Activity:
    return Activity().deserialize(
        {
            "type": "message",
            "text": text,
            "recipient": {"id": "28:bot", "name": "On-call Access"},
            "entities": [
                {
                    "type": "mention",
                    "text": entity_text,
                    "mentioned": {"id": "28:bot", "name": "On-call Access"},
                }
            ],
        }
    )


@pytest.mark.parametrize(
    ("text", "entity_text", "expected"),
    [
        (
            "<at>On-call Access</at> request prod-db 2h",
            "<at>On-call Access</at>",
            "request prod-db 2h",
        ),
        ("<at>On-call Access</at>&nbsp;access list", "<at>@On-call Access</at>", "list"),
        ("/access request prod-db", "", "request prod-db"),
        ("/request prod-db", "", "request prod-db"),
        ("approve r1 <at>Bob</at>", "<at>On-call Access</at>", "approve r1 <at>Bob</at>"),
    ],
)
def test_command_text_drops_the_bots_mention_and_the_prefix(
    text: str, entity_text: str, expected: str
) -> None:
    assert command_text(_mention(text, entity_text)) == expected


def test_message_ref_round_trips_and_ignores_other_surfaces() -> None:
    reference = ConversationReference(
        channel_id="msteams",
        service_url="https://smba.example/amer/",
        conversation=ConversationAccount(id="a:1", tenant_id="t-1"),
    )

    ref = message_ref(reference, "1700000000000", "Europe/Berlin")
    parsed = parse_message_ref(ref)

    assert parsed is not None
    again, activity_id, tz = parsed
    assert (again.conversation.id, again.service_url, activity_id, tz) == (
        "a:1",
        "https://smba.example/amer/",
        "1700000000000",
        "Europe/Berlin",
    )
    assert parse_message_ref(MessageRef("slack", ref.ref)) is None
    assert parse_message_ref(MessageRef("teams", "not json")) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<AT>On-call Access</AT> list", "list"),
        ("<at>On-call Access</at> approve r1 <at unclosed", "approve r1 <at unclosed"),
        ("<at>On-call Access</at> deny r1 x<at>y", "deny r1 x<at>y"),
    ],
)
def test_command_text_reads_mentions_in_any_case_and_keeps_unclosed_tags(
    text: str, expected: str
) -> None:
    assert command_text(_mention(text, "<at>On-call Access</at>")) == expected


def test_command_text_reads_hostile_mention_markup_in_linear_time() -> None:
    # Thousands of unclosed `<at` tags in the text and the entity took seconds with a lazy regex.
    hostile = "<at>On-call Access</at> " + "<at " * 1990
    assert command_text(_mention(hostile, "<at " * 1990)).startswith("<at <at")
    assert command_text(_mention("x" * 30_000, "")) == "x" * 30_000  # unread: the parser refuses
