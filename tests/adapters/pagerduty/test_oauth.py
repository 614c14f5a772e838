"""Scoped OAuth: app tokens renewed before expiry, and the code flow with PKCE S256 and state."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.pagerduty import PagerDutyClient, PagerDutyRosterProvider
from adapters.pagerduty.oauth import (
    ROSTER_SCOPES,
    AuthorizationCodeFlow,
    ClientCredentialsAuth,
    TokenSet,
    UserTokenAuth,
    pkce_pair,
    s256_challenge,
)
from adapters.providerhttp import Forbidden, Unauthorized
from tests.adapters.pagerduty.conftest import NOW, seed_small
from tests.fakes.pagerduty import FakePagerDuty


class Wall:
    def __init__(self) -> None:
        self.t = 1_900_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def idp() -> FakePagerDuty:  # type: ignore[misc]
    wall = Wall()
    async with FakePagerDuty(now=lambda: NOW, wall_clock=wall) as fake:
        fake.register_app("cid", "csecret", "acme", region="eu")
        fake.wall = wall  # type: ignore[attr-defined]
        yield fake


def test_s256_matches_the_rfc_7636_example() -> None:
    assert (
        s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128 and set(verifier) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )
    assert challenge == s256_challenge(verifier) and "=" not in challenge


async def test_client_credentials_token_is_scoped_to_the_account(idp: FakePagerDuty) -> None:
    seed_small(idp)
    auth = ClientCredentialsAuth("cid", "csecret", "acme", region="eu", identity_url=idp.url,
                                 clock=idp.wall)  # type: ignore[attr-defined]  # fmt: skip
    provider = PagerDutyRosterProvider(
        PagerDutyClient(auth=auth, region="eu", base_url=idp.url), now=lambda: NOW
    )
    result = await provider.fetch()
    assert result.snapshot.groups
    (grant,) = idp.requests_to("/oauth/token")
    assert grant.form["grant_type"] == "client_credentials"
    assert grant.form["scope"] == "as_account-eu.acme " + " ".join(ROSTER_SCOPES)
    assert grant.form["client_id"] == "cid" and grant.form["client_secret"] == "csecret"
    api = [r for r in idp.requests if not r.path.startswith("/oauth")]
    assert all(r.headers["Authorization"] == api[0].headers["Authorization"] for r in api)
    assert api[0].headers["Authorization"].startswith("Bearer pdus")
    assert "csecret" not in repr(auth) and auth.token and "pdus" not in repr(auth.token)
    assert auth.missing_scopes == ()
    await provider.aclose()


async def test_app_token_is_renewed_before_it_expires_and_after_a_401(idp: FakePagerDuty) -> None:
    wall = idp.wall  # type: ignore[attr-defined]
    auth = ClientCredentialsAuth("cid", "csecret", "acme", region="eu", identity_url=idp.url,
                                 clock=wall, renew_margin=300)  # fmt: skip
    async with PagerDutyClient(auth=auth, base_url=idp.url) as client:
        await client.get("/users")
        await client.get("/users")
        assert auth.grants == 1
        wall.t += 86_400 - 301  # still valid for a little over the margin
        await client.get("/users")
        assert auth.grants == 1
        wall.t += 2  # now inside the margin: renewed before PagerDuty would refuse it
        await client.get("/users")
        assert auth.grants == 2
        idp.tokens.clear()  # revoked server-side: the 401 triggers one renewal and a retry
        await client.get("/users")
        assert auth.grants == 3
    assert [r.status for r in idp.requests if r.path == "/users"] == [200, 200, 200, 200, 401, 200]
    await auth.aclose()


async def test_missing_scopes_are_reported_by_verify(idp: FakePagerDuty) -> None:
    idp.register_app(
        "cid2", "sec2", "acme", region="us", scopes=set(ROSTER_SCOPES) - {"teams.read"}
    )
    auth = ClientCredentialsAuth("cid2", "sec2", "acme", identity_url=idp.url)
    provider = PagerDutyRosterProvider(PagerDutyClient(auth=auth, base_url=idp.url))
    verdict = await provider.verify()
    assert verdict.ok  # teams are optional
    assert (
        "not granted teams.read" in verdict.summary and "cannot read teams (403)" in verdict.summary
    )
    await provider.aclose()


async def test_wrong_client_secret_is_unauthorized(idp: FakePagerDuty) -> None:
    auth = ClientCredentialsAuth("cid", "WRONGsecret", "acme", region="eu", identity_url=idp.url)
    with pytest.raises(Unauthorized) as raised:
        await auth.authorization()
    assert "WRONGsecret" not in str(raised.value)
    await auth.aclose()


async def test_authorization_code_flow_with_pkce_state_and_rotation(idp: FakePagerDuty) -> None:
    flow = AuthorizationCodeFlow("cid", "csecret", identity_url=idp.url, clock=idp.wall)  # type: ignore[attr-defined]
    request = flow.start("https://bot.example/callback")
    url = urlsplit(request.url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == "/oauth/authorize"
    assert query["response_type"] == "code" and query["client_id"] == "cid"
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == s256_challenge(request.code_verifier)
    assert query["state"] == request.state and len(request.state) >= 32
    assert query["scope"] == " ".join(ROSTER_SCOPES)
    assert request.code_verifier not in request.url  # only the challenge travels

    callback = idp.approve(request.url)
    with pytest.raises(Forbidden):
        await flow.finish(request, {**callback, "state": "forged"})
    assert idp.requests_to("/oauth/token") == []  # nothing sent on a state mismatch

    tokens = await flow.finish(request, callback)
    (exchange,) = idp.requests_to("/oauth/token")
    assert exchange.form["code_verifier"] == request.code_verifier
    assert exchange.form["redirect_uri"] == "https://bot.example/callback"
    assert tokens.refresh_token and "oncalls.read" in tokens.scope

    rotated: list[TokenSet] = []

    async def keep(new: TokenSet) -> None:
        rotated.append(new)

    user_auth = UserTokenAuth(flow, tokens, on_rotate=keep)
    async with PagerDutyClient(auth=user_auth, base_url=idp.url) as client:
        await client.get("/users")
        idp.wall.t += 86_400  # type: ignore[attr-defined]
        await client.get("/users")  # expired: refreshed first
    assert len(rotated) == 1 and rotated[0].refresh_token != tokens.refresh_token
    with pytest.raises(Unauthorized):
        await flow.refresh(tokens)  # the old refresh token was rotated away
    await flow.aclose()


async def test_declined_consent(idp: FakePagerDuty) -> None:
    flow = AuthorizationCodeFlow("cid", "csecret", identity_url=idp.url)
    request = flow.start("https://bot.example/callback")
    with pytest.raises(Forbidden):
        await flow.finish(request, {"state": request.state, "error": "access_denied"})
    await flow.aclose()


async def test_token_endpoint_defaults_to_pagerduty_identity() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "t", "token_type": "bearer",
                                         "expires_in": 86400, "scope": "as_account-us.acme"})  # fmt: skip

    auth = ClientCredentialsAuth("cid", "sec", "acme", transport=httpx.MockTransport(handler))
    assert await auth.authorization() == "Bearer t"
    assert str(seen[0].url) == "https://identity.pagerduty.com/oauth/token"
    assert seen[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in seen[0].headers
    assert auth.missing_scopes == ROSTER_SCOPES
    await auth.aclose()
