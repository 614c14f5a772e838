"""The fakes' own contract: what they publish, what they refuse, how observations time out."""

from __future__ import annotations

import asyncio
import ssl
import time

import aiohttp
import jwt
import pytest
from botframework.connector.auth import JwtTokenExtractor

from tests.adapters.teams_fakes.conftest import APP_ID
from tests.fakes.teams import activities
from tests.fakes.teams.connector import FakeConnector
from tests.fakes.teams.identity import BOT_FRAMEWORK_ISSUER, FakeIdentityProvider


async def test_metadata_and_keys_look_like_bot_framework_s(identity: FakeIdentityProvider) -> None:
    tls = ssl.create_default_context(cafile=identity.ca_bundle_path)
    async with aiohttp.ClientSession() as session:
        async with session.get(identity.openid_metadata_url, ssl=tls) as response:
            metadata = await response.json()
        async with session.get(metadata["jwks_uri"], ssl=tls) as response:
            keys = (await response.json())["keys"]

    assert metadata["issuer"] == BOT_FRAMEWORK_ISSUER
    assert metadata["jwks_uri"].startswith(identity.base_url)
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    [key] = keys
    assert (key["kty"], key["kid"], key["endorsements"]) == (
        "RSA",
        identity.signing_key.kid,
        ["msteams"],
    )


async def test_rotation_publishes_the_new_key_and_signs_with_it(
    identity: FakeIdentityProvider,
) -> None:
    old = identity.signing_key
    new = identity.rotate_signing_key()
    tls = ssl.create_default_context(cafile=identity.ca_bundle_path)
    async with (
        aiohttp.ClientSession() as session,
        session.get(identity.base_url + "/v1/.well-known/keys", ssl=tls) as response,
    ):
        kids = [key["kid"] for key in (await response.json())["keys"]]

    assert kids == [new.kid, old.kid] == identity.published_kids
    token = identity.mint_channel_token(APP_ID, "https://smba.example/amer/")
    assert jwt.get_unverified_header(token)["kid"] == new.kid
    identity.rotate_signing_key(keep_previous=False)
    assert len(identity.published_kids) == 1
    assert identity.jwks_fetches == 1


async def test_held_metadata_is_answered_once_released(identity: FakeIdentityProvider) -> None:
    identity.hold_metadata(seconds=30.0)
    tls = ssl.create_default_context(cafile=identity.ca_bundle_path)
    async with aiohttp.ClientSession() as session:
        fetch = asyncio.create_task(session.get(identity.openid_metadata_url, ssl=tls))
        await identity.next_held_metadata()
        assert identity.holding_metadata == 1 and not fetch.done()

        identity.release_metadata()
        async with await asyncio.wait_for(fetch, timeout=5.0) as response:
            assert response.status == 200
    assert identity.holding_metadata == 0
    assert identity.metadata_fetches == 1


async def test_failing_metadata_answers_the_status_until_mended(
    identity: FakeIdentityProvider,
) -> None:
    tls = ssl.create_default_context(cafile=identity.ca_bundle_path)
    async with aiohttp.ClientSession() as session:
        identity.fail_metadata(503)
        async with session.get(identity.openid_metadata_url, ssl=tls) as response:
            assert response.status == 503
        identity.fail_metadata(None)
        async with session.get(identity.openid_metadata_url, ssl=tls) as response:
            assert response.status == 200


def test_channel_token_carries_the_connector_claims(identity: FakeIdentityProvider) -> None:
    token = identity.mint_channel_token(APP_ID, "https://smba.example/amer/")

    public_key = identity.signing_key.private_key.public_key()
    claims = jwt.decode(token, public_key, algorithms=["RS256"], audience=APP_ID)
    assert jwt.get_unverified_header(token)["kid"] == identity.signing_key.kid
    assert claims["iss"] == BOT_FRAMEWORK_ISSUER
    assert claims["serviceurl"] == "https://smba.example/amer/"
    assert claims["nbf"] <= time.time() < claims["exp"]


def test_forged_token_reuses_the_published_kid(identity: FakeIdentityProvider) -> None:
    token = identity.mint_forged_token(APP_ID, "https://smba.example/amer/")

    assert jwt.get_unverified_header(token)["kid"] == identity.signing_key.kid
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token,
            identity.signing_key.private_key.public_key(),
            algorithms=["RS256"],
            audience=APP_ID,
        )


async def test_connector_refuses_tokens_the_identity_provider_did_not_issue(
    connector: FakeConnector,
) -> None:
    url = connector.service_url + "v3/conversations/a:1/activities"
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer made-up"}):
            async with session.post(url, json={"type": "message"}, headers=headers) as response:
                assert response.status == 401

    assert [call.authorized for call in connector.calls] == [False, False]
    assert connector.activities == []


async def test_waiting_for_an_activity_that_never_comes_times_out(
    connector: FakeConnector,
) -> None:
    with pytest.raises(TimeoutError, match="no activity in conversation 'a:1'"):
        await connector.next_activity("a:1", timeout=0.05)


def test_stopping_forgets_botbuilder_s_cached_keys() -> None:
    # botbuilder caches keys per metadata URL for a day; a later provider may get the same port.
    with FakeIdentityProvider() as identity:
        url = identity.openid_metadata_url
        JwtTokenExtractor.get_open_id_metadata(url)
        assert url in JwtTokenExtractor.metadataCache

    assert url not in JwtTokenExtractor.metadataCache


def test_builders_share_one_envelope() -> None:
    service_url = "https://smba.example/amer/"
    built = [
        activities.personal_message("hi", service_url=service_url, tenant_id="t-1"),
        activities.channel_mention_message("hi", service_url=service_url, tenant_id="t-1"),
        activities.installation_update(service_url=service_url, tenant_id="t-1"),
        activities.members_added(service_url=service_url, tenant_id="t-1"),
        activities.adaptive_card_action("approve", service_url=service_url, tenant_id="t-1"),
        activities.card_submit({"verb": "approve"}, service_url=service_url, tenant_id="t-1"),
        activities.task_fetch(service_url=service_url, tenant_id="t-1"),
        activities.task_submit(service_url=service_url, tenant_id="t-1"),
    ]

    for activity in built:
        assert activity["serviceUrl"] == service_url
        assert activity["channelId"] == "msteams"
        assert activity["channelData"]["tenant"]["id"] == "t-1"
        assert activity["conversation"]["tenantId"] == "t-1"
        assert activity["recipient"]["id"] == f"28:{activities.DEFAULT_APP_ID}"
        assert activity["from"]["aadObjectId"] == activities.DEFAULT_AAD_OBJECT_ID
    assert len({activity["id"] for activity in built}) == len(built)
