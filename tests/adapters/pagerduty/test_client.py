"""PagerDutyClient: hosts per region, headers and auth, pagination, the 10,000 offset cap."""

from __future__ import annotations

import json

import httpx
import pytest

from adapters.pagerduty import PagerDutyClient, Region
from adapters.pagerduty.client import ACCEPT, OffsetCapReached, bearer_auth
from adapters.providerhttp.virtualtime import VirtualTime
from tests.adapters.pagerduty.conftest import NOW, provider_for
from tests.fakes.pagerduty import FakePagerDuty, generate_org


def recorder(seen: list[httpx.Request], body: object = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=body if body is not None else {"users": [], "more": False})

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("region", "host"), [("us", "api.pagerduty.com"), ("eu", "api.eu.pagerduty.com"),
                         (Region.EU, "api.eu.pagerduty.com")],
)  # fmt: skip
async def test_region_selects_the_host(region: str, host: str) -> None:
    seen: list[httpx.Request] = []
    async with PagerDutyClient(api_key="k1", region=region, transport=recorder(seen)) as client:
        await client.get("/users")
    assert seen[0].url.scheme == "https" and seen[0].url.host == host


async def test_base_url_override_wins_over_region() -> None:
    seen: list[httpx.Request] = []
    transport = recorder(seen)
    async with PagerDutyClient(
        api_key="k1", region="eu", base_url="https://pd-proxy.internal/api/", transport=transport
    ) as client:
        await client.get("/users")
    assert str(seen[0].url) == "https://pd-proxy.internal/api/users"


async def test_headers_for_api_keys_and_oauth_tokens() -> None:
    seen: list[httpx.Request] = []
    async with PagerDutyClient(api_key="abc123", transport=recorder(seen)) as client:
        await client.get("/users", [("include[]", "teams"), ("include[]", "contact_methods")])
    async with PagerDutyClient(auth=bearer_auth("tok456"), transport=recorder(seen)) as client:
        await client.get("/users")
    first, second = seen
    assert first.headers["Authorization"] == "Token token=abc123"
    assert first.headers["Accept"] == ACCEPT == "application/vnd.pagerduty+json;version=2"
    assert first.headers["Content-Type"] == "application/json"
    assert first.url.params.get_list("include[]") == ["teams", "contact_methods"]
    assert second.headers["Authorization"] == "Bearer tok456"
    with pytest.raises(ValueError):
        PagerDutyClient()


async def test_pages_after_the_first_are_fetched_concurrently(pd: FakePagerDuty) -> None:
    for i in range(250):
        pd.add_user(f"U{i}", f"u{i}@example.com")
    async with PagerDutyClient(api_key="testkey", base_url=pd.url) as client:
        users = await client.list_all("/users", "users")
    assert len(users) == 250 and len({u["id"] for u in users}) == 250
    pages = pd.requests_to("/users")
    assert [r.param("offset") for r in pages] == ["0", "100", "200"]
    assert pages[0].param("total") == "true" and all(r.param("limit") == "100" for r in pages)


async def test_without_total_it_walks_more() -> None:
    pages = {0: ["a", "b"], 100: ["c"]}

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        body = {"teams": pages[offset], "more": offset == 0, "total": None}
        return httpx.Response(200, content=json.dumps(body))

    async with PagerDutyClient(api_key="k", transport=httpx.MockTransport(handler)) as client:
        assert await client.list_all("/teams", "teams") == ["a", "b", "c"]


async def test_offset_cap_is_reported_not_exceeded(
    pd: FakePagerDuty, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.pagerduty import client as module

    pd.offset_cap = 300
    monkeypatch.setattr(module, "OFFSET_CAP", 300)
    for i in range(450):
        pd.add_user(f"U{i}", f"u{i}@example.com")
    async with PagerDutyClient(api_key="testkey", base_url=pd.url) as client:
        with pytest.raises(OffsetCapReached) as capped:
            await client.list_all("/users", "users")
    assert len(capped.value.items) == 300 and capped.value.total == 450
    assert all(r.status == 200 for r in pd.requests)  # never sent a query PagerDuty refuses


async def test_oncalls_past_the_cap_are_read_per_policy_batch(
    pd: FakePagerDuty, vt: VirtualTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.pagerduty import client as module

    shape = generate_org(pd, users=400, schedules=150, escalation_policies=45, seed=5, now=NOW)
    pd.offset_cap = 100
    monkeypatch.setattr(module, "OFFSET_CAP", 100)
    provider = provider_for(pd, vt)
    try:
        snap = (await provider.fetch()).snapshot
    finally:
        await provider.aclose()
    assert snap.counts["shifts"] >= shape.oncall_entries
    batched = [r for r in pd.requests_to("/oncalls") if r.params("escalation_policy_ids[]")]
    assert batched and all(r.status == 200 for r in pd.requests_to("/oncalls"))
    policies = {p for r in batched for p in r.params("escalation_policy_ids[]")}
    assert policies == set(pd.policies)


async def test_from_settings_builds_api_key_and_oauth_providers() -> None:
    from adapters.pagerduty import PagerDutyRosterProvider
    from adapters.pagerduty.oauth import ClientCredentialsAuth

    by_key = PagerDutyRosterProvider.from_settings(api_key="k1", region="eu")
    assert by_key.client.base_url == "https://api.eu.pagerduty.com"
    assert await by_key.client.http.auth.authorization() == "Token token=k1"
    by_app = PagerDutyRosterProvider.from_settings(
        oauth_client_id="cid", oauth_client_secret="sec", subdomain="acme", region="eu"
    )
    auth = by_app.client.http.auth
    assert isinstance(auth, ClientCredentialsAuth)
    assert auth.requested_scope.startswith("as_account-eu.acme oncalls.read")
    assert by_app.client.base_url == "https://api.eu.pagerduty.com"
    with pytest.raises(ValueError):
        PagerDutyRosterProvider.from_settings(oauth_client_id="cid")
    await by_key.aclose()
    await by_app.aclose()
