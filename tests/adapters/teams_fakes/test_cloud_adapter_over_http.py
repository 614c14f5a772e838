"""``CloudAdapter`` + ``build_bot_framework_authentication`` against the fake Teams endpoints.

Everything goes over real HTTP on 127.0.0.1: signed activities in, replies out to the fake
connector with tokens from the fake identity provider.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)

from adapters.teams.auth import AppType
from tests.adapters.teams_fakes.conftest import (
    APP_ID,
    TENANT_ID,
    BotUnderTest,
    running_bot,
)
from tests.fakes.teams import activities
from tests.fakes.teams.activities import DEFAULT_TENANT_ID, DEFAULT_USER_ID
from tests.fakes.teams.connector import REFERENCE_USER, FakeConnector, TeamsMember
from tests.fakes.teams.identity import (
    BOT_FRAMEWORK_SCOPE,
    FakeIdentityProvider,
    generate_signing_key,
)

# -- inbound authentication -------------------------------------------------------------------


async def test_signed_message_is_answered_through_the_connector(
    bot_on_any_route: BotUnderTest,
) -> None:
    bot = bot_on_any_route
    activity = activities.personal_message("hello", service_url=bot.connector.service_url)

    status, _ = await bot.post(activity)

    assert status == 201  # botbuilder's answer to any accepted non-invoke activity
    sent = await bot.connector.next_activity(activity["conversation"]["id"])
    assert sent.text == "echo: hello"
    assert sent.reply_to_id == activity["id"]
    assert bot.identity.is_issued_access_token(sent.token)
    [token_request] = bot.identity.token_requests
    assert (token_request.tenant, token_request.client_id, token_request.scope) == (
        "botframework.com",
        APP_ID,
        BOT_FRAMEWORK_SCOPE,
    )
    assert token_request.access_token == sent.token
    assert ("GET", "/v1/.well-known/keys") in bot.identity.served


async def test_outbound_token_is_reused_across_turns(bot: BotUnderTest) -> None:
    for text in ("one", "two"):
        await bot.post(activities.personal_message(text, service_url=bot.connector.service_url))
        assert (await bot.connector.next_activity()).text == f"echo: {text}"

    assert len(bot.identity.token_requests) == 1


def _missing(bot: BotUnderTest, service_url: str) -> str:
    return ""


def _expired(bot: BotUnderTest, service_url: str) -> str:
    return "Bearer " + bot.identity.mint_channel_token(APP_ID, service_url, expired=True)


def _forged(bot: BotUnderTest, service_url: str) -> str:
    return "Bearer " + bot.identity.mint_forged_token(APP_ID, service_url)


def _unknown_key(bot: BotUnderTest, service_url: str) -> str:
    key = generate_signing_key()
    return "Bearer " + bot.identity.mint_channel_token(APP_ID, service_url, signing_key=key)


def _wrong_audience(bot: BotUnderTest, service_url: str) -> str:
    token = bot.identity.mint_channel_token(APP_ID, service_url, audience="some-other-bot")
    return "Bearer " + token


def _wrong_issuer(bot: BotUnderTest, service_url: str) -> str:
    token = bot.identity.mint_channel_token(APP_ID, service_url, issuer="https://evil.example")
    return "Bearer " + token


def _other_service_url(bot: BotUnderTest, service_url: str) -> str:
    other = "https://smba.trafficmanager.net/amer/"
    return "Bearer " + bot.identity.mint_channel_token(APP_ID, other)


def _not_bearer(bot: BotUnderTest, service_url: str) -> str:
    return "Basic " + bot.identity.mint_channel_token(APP_ID, service_url)


def _not_a_jwt(bot: BotUnderTest, service_url: str) -> str:
    return "Bearer not-a-jwt"


def _without_expiry(bot: BotUnderTest, service_url: str) -> str:
    return "Bearer " + bot.identity.mint_channel_token(APP_ID, service_url, claims={"exp": None})


def _not_yet_valid(bot: BotUnderTest, service_url: str) -> str:
    later = int(time.time()) + 3600
    token = bot.identity.mint_channel_token(APP_ID, service_url, claims={"nbf": later})
    return "Bearer " + token


def _several_audiences(bot: BotUnderTest, service_url: str) -> str:
    audiences = [APP_ID, "some-other-bot"]
    token = bot.identity.mint_channel_token(APP_ID, service_url, claims={"aud": audiences})
    return "Bearer " + token


def _unsigned_alg_none(bot: BotUnderTest, service_url: str) -> str:
    return "Bearer " + bot.identity.mint_channel_token(APP_ID, service_url, algorithm="none")


def _rs512(bot: BotUnderTest, service_url: str) -> str:
    # The channel's metadata lists RS256 only.
    return "Bearer " + bot.identity.mint_channel_token(APP_ID, service_url, algorithm="RS512")


@pytest.mark.parametrize(
    "authorization",
    [
        _missing,
        _expired,
        _forged,
        _unknown_key,
        _wrong_audience,
        _wrong_issuer,
        _other_service_url,
        _not_bearer,
        _not_a_jwt,
        _without_expiry,
        _not_yet_valid,
        _several_audiences,
        _unsigned_alg_none,
        _rs512,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
async def test_unauthenticated_activity_is_refused_with_401(
    bot_on_any_route: BotUnderTest, authorization: Callable[[BotUnderTest, str], str]
) -> None:
    bot = bot_on_any_route
    service_url = bot.connector.service_url
    activity = activities.personal_message("hello", service_url=service_url)

    status, _ = await bot.post(activity, authorization=authorization(bot, service_url))

    assert status == 401
    assert bot.connector.calls == []
    assert bot.identity.token_requests == []


async def test_key_not_endorsed_for_the_channel_is_refused(bot: BotUnderTest) -> None:
    activity = activities.personal_message("hello", service_url=bot.connector.service_url)
    activity["channelId"] = "webchat"  # the published key is endorsed for "msteams" only

    status, _ = await bot.post(activity)

    assert status == 401
    assert bot.connector.calls == []


async def test_activity_naming_no_channel_is_refused(bot: BotUnderTest) -> None:
    activity = activities.personal_message("hello", service_url=bot.connector.service_url)
    del activity["channelId"]  # no channel, so no endorsement to check the key against

    status, _ = await bot.post(activity)

    assert status == 401
    assert bot.connector.calls == []


# -- activity kinds -----------------------------------------------------------------------------


async def test_channel_mention_reaches_the_thread_it_came_from(bot: BotUnderTest) -> None:
    activity = activities.channel_mention_message("status", service_url=bot.connector.service_url)

    status, _ = await bot.post(activity)

    assert status == 201
    sent = await bot.connector.next_activity(activity["conversation"]["id"])
    assert ";messageid=" in sent.conversation_id
    assert sent.text == "echo: status"


async def test_card_submit_fallback_arrives_as_message_value(bot: BotUnderTest) -> None:
    activity = activities.card_submit(
        {"verb": "approve", "request_id": "r-1"},
        reply_to_id="1700000000000",
        service_url=bot.connector.service_url,
    )

    status, _ = await bot.post(activity)

    assert status == 201
    sent = await bot.connector.next_activity()
    assert sent.text == 'submitted: {"verb": "approve", "request_id": "r-1"}'


@pytest.mark.parametrize(
    "build",
    [activities.installation_update, activities.members_added],
    ids=["installationUpdate", "conversationUpdate"],
)
async def test_lifecycle_activities_are_accepted(
    bot: BotUnderTest, build: Callable[..., dict[str, Any]]
) -> None:
    status, _ = await bot.post(build(service_url=bot.connector.service_url))

    assert status == 201


async def test_adaptive_card_action_answers_in_the_http_response(bot: BotUnderTest) -> None:
    activity = activities.adaptive_card_action(
        "approve", {"request_id": "r-1"}, service_url=bot.connector.service_url
    )

    status, body = await bot.post(activity)

    assert status == 200
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["body"] == [{"type": "TextBlock", "text": "echo: approve"}]
    assert bot.connector.activities == []


@pytest.mark.xfail(
    reason="botbuilder-integration-aiohttp 4.17.1: CloudAdapter.process re-serializes the dict "
    "body ActivityHandler already serialized and answers 500 (same trace as "
    "microsoft/teams-sdk#2547); adapters/teams/route.py avoids it",
    raises=AssertionError,
)
async def test_stock_process_fails_invoke_bodies(
    identity: FakeIdentityProvider, connector: FakeConnector
) -> None:
    async with running_bot(identity, connector, route="stock") as bot:
        activity = activities.adaptive_card_action("approve", service_url=connector.service_url)
        status, _ = await bot.post(activity)

    assert status == 200


async def test_task_fetch_and_submit_answer_in_the_http_response(bot: BotUnderTest) -> None:
    service_url = bot.connector.service_url

    status, fetched = await bot.post(activities.task_fetch({"kind": "pd"}, service_url=service_url))
    assert status == 200
    assert fetched["task"]["type"] == "continue"
    assert fetched["task"]["value"]["title"] == "Echo"
    assert fetched["task"]["value"]["card"]["contentType"] == (
        "application/vnd.microsoft.card.adaptive"
    )

    status, submitted = await bot.post(
        activities.task_submit({"token": "x"}, service_url=service_url)
    )
    assert status == 200
    assert submitted == {"task": {"type": "message", "value": 'submitted: {"token": "x"}'}}


# -- outbound calls (proactive, updates, roster) ------------------------------------------------


def _personal_reference(connector: FakeConnector) -> ConversationReference:
    inbound = activities.personal_message("hi", service_url=connector.service_url)
    return TurnContext.get_conversation_reference(Activity().deserialize(inbound))


async def _continue(bot: BotUnderTest, callback: Callable[[TurnContext], Awaitable[None]]) -> None:
    async def with_channel_data(turn_context: TurnContext) -> None:
        # A continuation activity has no channelData, and TeamsInfo needs it (to find a team).
        turn_context.activity.channel_data = {"tenant": {"id": DEFAULT_TENANT_ID}}
        await callback(turn_context)

    await bot.adapter.continue_conversation(
        _personal_reference(bot.connector), with_channel_data, bot_app_id=APP_ID
    )


async def test_proactive_conversation_is_created_then_messaged(bot: BotUnderTest) -> None:
    parameters = ConversationParameters(
        is_group=False,
        bot=ChannelAccount(id=f"28:{APP_ID}"),
        members=[ChannelAccount(id=DEFAULT_USER_ID)],
        tenant_id=DEFAULT_TENANT_ID,
    )

    async def notify(turn_context: TurnContext) -> None:
        await turn_context.send_activity("your access expires in 5 minutes")

    await bot.adapter.create_conversation(
        APP_ID, notify, parameters, "msteams", bot.connector.service_url, None
    )

    created = await bot.connector.next_conversation()
    assert created.member_ids == [DEFAULT_USER_ID]
    assert created.tenant_id == DEFAULT_TENANT_ID
    sent = await bot.connector.next_activity(created.conversation_id)
    assert sent.text == "your access expires in 5 minutes"


async def test_sent_card_can_be_updated_in_place(bot: BotUnderTest) -> None:
    async def send_then_update(turn_context: TurnContext) -> None:
        sent = await turn_context.send_activity("pending approval")
        assert sent is not None
        replacement = Activity(type="message", id=sent.id, text="approved by Larry")
        await turn_context.update_activity(replacement)

    await _continue(bot, send_then_update)

    original = await bot.connector.next_activity()
    update = await bot.connector.next_update(original.conversation_id)
    assert (update.activity_id, update.text) == (original.activity_id, "approved by Larry")
    assert bot.identity.is_issued_access_token(update.token)


async def test_get_member_returns_email_and_upn(bot: BotUnderTest) -> None:
    bot.connector.add_member(REFERENCE_USER)
    found: list[Any] = []

    async def look_up(turn_context: TurnContext) -> None:
        found.append(await TeamsInfo.get_member(turn_context, DEFAULT_USER_ID))

    await _continue(bot, look_up)

    [member] = found
    assert (member.email, member.user_principal_name, member.tenant_id) == (
        REFERENCE_USER.email,
        REFERENCE_USER.user_principal_name,
        REFERENCE_USER.tenant_id,
    )
    # The REST field is "objectId"; botbuilder's model reads "aadObjectId", so it stays empty.
    assert member.aad_object_id is None


async def test_unknown_member_is_a_404(bot: BotUnderTest) -> None:
    errors: list[BaseException] = []

    async def look_up(turn_context: TurnContext) -> None:
        try:
            await TeamsInfo.get_member(turn_context, "29:nobody")
        except Exception as exc:
            errors.append(exc)

    await _continue(bot, look_up)

    [error] = errors
    assert "MemberNotFoundInConversation" in str(error) or "404" in str(error)


async def test_paged_members_follow_the_continuation_token(bot: BotUnderTest) -> None:
    for n in range(120):
        bot.connector.add_member(
            TeamsMember(
                id=f"29:user-{n}",
                name=f"User {n}",
                aad_object_id=f"00000000-0000-4000-8000-{n:012d}",
                email=f"user{n}@fabrikam.com",
                user_principal_name=f"user{n}@fabrikam.com",
                tenant_id=DEFAULT_TENANT_ID,
            )
        )
    pages: list[Any] = []

    async def roster(turn_context: TurnContext) -> None:
        token = None
        while True:
            page = await TeamsInfo.get_paged_members(turn_context, token, page_size=10)
            pages.append(page)
            token = page.continuation_token
            if not token:
                return

    await _continue(bot, roster)

    assert [len(page.members) for page in pages] == [50, 50, 20]  # Teams' minimum page is 50


# -- identity settings --------------------------------------------------------------------------


async def test_single_tenant_bot_gets_its_token_from_its_tenant(
    identity: FakeIdentityProvider, connector: FakeConnector
) -> None:
    async with running_bot(
        identity, connector, app_type=AppType.SINGLE_TENANT, tenant_id=TENANT_ID
    ) as bot:
        await bot.post(activities.personal_message("hi", service_url=connector.service_url))
        sent = await connector.next_activity()

    [token_request] = identity.token_requests
    assert token_request.tenant == TENANT_ID
    assert token_request.access_token == sent.token


async def test_wrong_app_password_fails_the_turn_with_401(
    identity: FakeIdentityProvider, connector: FakeConnector
) -> None:
    async with running_bot(identity, connector, app_password="wrong") as bot:
        activity = activities.personal_message("hi", service_url=connector.service_url)
        status, _ = await bot.post(activity)

    # MSAL's refusal surfaces as PermissionError, which CloudAdapter maps to 401 like a bad
    # inbound token: a misconfigured password looks like an auth failure to Teams.
    assert status == 401
    [token_request] = identity.token_requests
    assert token_request.access_token is None
    assert connector.calls == []
