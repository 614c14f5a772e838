"""Typed commands in Teams: personal chat (with or without `access`), the `/access` slash
command, @mentions in a channel; who the sender is (email from the member info, tenant checked);
and the conversation references kept for later."""

from __future__ import annotations

import pytest

from adapters.teams.identity import NOT_A_MEMBER
from adapters.teams.references import Contact, ConversationReferences
from core.commands import HELP_TEXT
from tests.adapters.teams.conftest import (
    ALICE,
    BOB,
    GUEST,
    LEAD,
    TENANT,
    TeamsUnderTest,
    buttons,
    card_of,
    card_text,
)
from tests.fakes.teams import activities
from tests.fakes.teams.connector import TeamsMember


async def _chat_of(teams: TeamsUnderTest, email: str) -> Contact | None:
    """The personal chat the bot keeps for a person, as its notifier reads it."""
    return await ConversationReferences(teams.bot.kv, frozenset({TENANT})).person(email)


@pytest.mark.parametrize("typed", ["help", "access help", "/access help", "ACCESS help", "/help"])
async def test_personal_chat_takes_the_grammar_with_or_without_a_prefix(
    teams: TeamsUnderTest, typed: str
) -> None:
    await teams.say(ALICE, typed)

    reply = await teams.next_in(ALICE)
    assert reply.text == HELP_TEXT
    assert reply.reply_to_id is not None  # an answer to what was typed


async def test_list_is_answered_with_a_card(teams: TeamsUnderTest) -> None:
    await teams.say(ALICE, "list")

    card = card_of(await teams.next_in(ALICE))
    shown = card_text(card)
    assert shown.startswith("Resources (✓ you may request now):")
    assert "✓ prod-db (Read-write on the production database)" in shown
    assert card["version"] == "1.5"


async def test_channel_mention_is_stripped_and_answered_in_the_thread(
    teams: TeamsUnderTest,
) -> None:
    mention = await teams.mention(ALICE, "oncall Primary")

    reply = await teams.next_in(mention["conversation"]["id"])
    assert ";messageid=" in reply.conversation_id
    assert "Primary SRE (roster file): alice@example.com until" in card_text(card_of(reply))


async def test_mention_whose_entity_text_differs_from_the_message_is_still_stripped(
    teams: TeamsUnderTest,
) -> None:
    # Microsoft's own example: entity "<at>@Name</at>", message text "<at>Name</at>".
    activity = activities.channel_mention_message(
        "access help",
        **{**ALICE.envelope(teams.service_url), "conversation_id": "19:c;messageid=1"},
    )
    activity["entities"][-1]["text"] = f"<at>@{activity['recipient']['name']}</at>"
    status, _ = await teams.post(activity)

    assert status == 201
    assert (await teams.next_in("19:c;messageid=1")).text == HELP_TEXT


async def test_refused_request_is_one_sentence_and_creates_nothing(teams: TeamsUnderTest) -> None:
    await teams.say(ALICE, "request prod-db 2h")

    reply = await teams.next_in(ALICE)
    assert reply.text == "prod-db needs a reason: `request prod-db 2h REASON`."
    assert await teams.bot.requests.by_requester(ALICE.email) == []


async def test_request_without_a_resource_offers_the_request_form(teams: TeamsUnderTest) -> None:
    await teams.say(ALICE, "request")

    card = card_of(await teams.next_in(ALICE))
    [action] = card["actions"]
    assert action["type"] == "Action.Submit"
    assert action["data"] == {"msteams": {"type": "task/fetch"}, "form": "request"}


async def test_approver_email_is_normalised_from_the_member_info(teams: TeamsUnderTest) -> None:
    await teams.say(BOB, "pending")  # Teams gives "Bob@Example.com"

    reply = await teams.next_in(BOB)
    assert reply.text == "Nothing is waiting for your approval."
    contact = await _chat_of(teams, "bob@example.com")
    assert contact is not None
    assert contact.aad_object_id == BOB.member.aad_object_id  # from the activity, not REST
    assert contact.tenant_id == TENANT
    by_account = await ConversationReferences(teams.bot.kv).account(BOB.member.aad_object_id)
    assert by_account == contact


async def test_user_principal_name_stands_in_for_a_missing_email(teams: TeamsUnderTest) -> None:
    dana = TeamsMember(
        id="29:dana",
        name="Dana",
        aad_object_id="00000000-0000-4000-8000-0000000da7a0",
        email=None,
        user_principal_name="Lead@Example.com",
        tenant_id=TENANT,
    )
    teams.connector.add_member(dana)
    envelope = {
        "user_id": dana.id,
        "aad_object_id": dana.aad_object_id,
        "conversation_id": "a:dana",
        "tenant_id": TENANT,
    }

    await teams.post(
        activities.personal_message("status", service_url=teams.service_url, **envelope)
    )

    # lead@example.com is the admin: the UPN made dana that person.
    assert card_text(card_of(await teams.next_in("a:dana"))).startswith("Provider status:")


async def test_member_info_is_looked_up_once_then_cached(teams: TeamsUnderTest) -> None:
    for _ in range(3):
        await teams.say(ALICE, "mine")
        await teams.next_in(ALICE)

    lookups = [c for c in teams.connector.calls if c.method == "GET" and "/members/" in c.path]
    assert len(lookups) == 1


async def test_user_without_an_email_is_refused_in_one_sentence(teams: TeamsUnderTest) -> None:
    await teams.say(GUEST, "list")

    reply = await teams.next_in(GUEST)
    assert reply.text is not None and reply.text.startswith("Your Teams account has no email")
    assert await ConversationReferences(teams.bot.kv).account(GUEST.member.aad_object_id) is None


async def test_other_tenant_is_refused_before_anything_else(teams: TeamsUnderTest) -> None:
    activity = activities.personal_message(
        "list", **{**ALICE.envelope(teams.service_url), "tenant_id": "another-tenant"}
    )

    status, _ = await teams.post(activity)

    assert status == 201
    reply = await teams.next_in(ALICE)
    assert reply.text == "This bot serves another Microsoft 365 organisation."
    assert not [c for c in teams.connector.calls if "/members/" in c.path]
    assert await _chat_of(teams, ALICE.email) is None


async def test_sender_teams_does_not_know_is_told_so_in_one_sentence(
    teams: TeamsUnderTest,
) -> None:
    stranger = {
        "user_id": "29:not-in-the-directory",
        "conversation_id": "a:stranger",
        "tenant_id": TENANT,
    }

    status, _ = await teams.post(
        activities.personal_message("list", service_url=teams.service_url, **stranger)
    )

    assert status == 201
    reply = await teams.next_in("a:stranger")
    assert reply.text == NOT_A_MEMBER
    assert "404" not in reply.text and "error id" not in reply.text


async def test_connector_failure_is_answered_in_one_sentence_without_an_error_id(
    teams: TeamsUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    """A Bot Connector that fails (a proxy's plain-text 502) is the service's trouble, not a
    bug: logged in one line, no error id, no traceback."""
    teams.connector.break_conversation("a:broken")
    status, _ = await teams.post(
        activities.personal_message(
            "list",
            service_url=teams.service_url,
            user_id="29:someone",
            conversation_id="a:broken",
            tenant_id=TENANT,
        )
    )

    assert status == 201
    assert not [r for r in caplog.records if r.exc_info]
    assert any("the connector refused it" in r.getMessage() for r in caplog.records)


async def test_installing_the_app_keeps_the_chat_and_says_hello_once(
    teams: TeamsUnderTest,
) -> None:
    await teams.install(BOB)
    status, _ = await teams.post(activities.members_added(**BOB.envelope(teams.service_url)))
    assert status == 201

    hello = await teams.next_in(BOB)
    assert hello.text is not None and hello.text.startswith("Hi, I am On-call Access")
    assert [a for a in teams.connector.activities if a.conversation_id == BOB.chat] == [hello]
    contact = await _chat_of(teams, "bob@example.com")
    assert contact is not None
    assert contact.reference.conversation.id == BOB.chat
    assert contact.reference.activity_id is None  # new posts, not replies


async def test_conversation_update_alone_also_keeps_the_chat(teams: TeamsUnderTest) -> None:
    status, _ = await teams.post(activities.members_added(**LEAD.envelope(teams.service_url)))

    assert status == 201
    assert (await teams.next_in(LEAD)).text.startswith("Hi, I am On-call Access")  # type: ignore[union-attr]
    assert await _chat_of(teams, "lead@example.com") is not None


async def test_installing_in_a_team_greets_the_channel(teams: TeamsUnderTest) -> None:
    envelope = BOB.envelope(teams.service_url)
    del envelope["conversation_id"]
    activity = activities.installation_update(
        team_id="19:team", channel_id="19:general", **envelope
    )

    status, _ = await teams.post(activity)

    assert status == 201
    hello = await teams.next_in(activity["conversation"]["id"])
    assert "approvals here" in (hello.text or "")


async def test_uninstalling_forgets_the_chat(teams: TeamsUnderTest) -> None:
    await teams.install(BOB)
    status, _ = await teams.post(
        activities.installation_update("remove", **BOB.envelope(teams.service_url))
    )

    assert status == 201
    assert await _chat_of(teams, "bob@example.com") is None


async def test_disconnect_asks_for_confirmation_first(teams: TeamsUnderTest) -> None:
    await teams.say(LEAD, "access disconnect opsgenie")

    card = card_of(await teams.next_in(LEAD))
    assert card_text(card).startswith("Disconnect Opsgenie?")
    assert buttons(card) == [("Action.Execute", "disconnect"), ("Action.Execute", "keep_connected")]

    kept = await teams.click(LEAD, "keep_connected", {"provider": "opsgenie"})
    assert card_text(kept) == "Opsgenie stays connected."

    done = await teams.click(LEAD, "disconnect", {"provider": "opsgenie"})
    assert card_text(done) == "Opsgenie is not connected."


async def test_disconnect_by_someone_else_is_refused_without_a_card(
    teams: TeamsUnderTest,
) -> None:
    await teams.say(ALICE, "disconnect opsgenie")
    assert (await teams.next_in(ALICE)).text == "Only admins can do that (ONCALL_ACCESS_ADMINS)."

    refused = await teams.click(ALICE, "disconnect", {"provider": "opsgenie"})
    assert card_text(refused) == "Only admins can do that (ONCALL_ACCESS_ADMINS)."


async def test_status_is_for_admins(teams: TeamsUnderTest) -> None:
    await teams.say(LEAD, "status")
    shown = card_text(card_of(await teams.next_in(LEAD)))
    assert shown.startswith("Provider status:")
    assert "Roster file: last good sync" in shown

    await teams.say(ALICE, "status")
    assert (await teams.next_in(ALICE)).text == "Only admins can do that (ONCALL_ACCESS_ADMINS)."
