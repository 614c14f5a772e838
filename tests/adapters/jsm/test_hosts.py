"""Which hosts the client calls: api.atlassian.com and the site by default, one override else.

There are no EU/US regions for JSM operations (the site decides), so what matters is that the
default hosts are right and that `JSM_API_URL` (`base_url`) and `site_url` are respected.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from adapters.jsm import JsmClient, normalize_site

CLOUD = "3f1c2a9e-7d4b-4c1e-9a55-0123456789ab"


def recording() -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/_edge/tenant_info":
            return httpx.Response(200, json={"cloudId": CLOUD})
        return httpx.Response(200, json={"values": [], "links": {}})

    return seen, httpx.MockTransport(handler)


@pytest.mark.parametrize(
    "site",
    ["acme", "acme.atlassian.net", "https://ACME.atlassian.net/", " acme.atlassian.net/jira "],
)
def test_site_forms_name_the_same_site(site: str) -> None:
    assert normalize_site(site) == "acme.atlassian.net"


@pytest.mark.parametrize("site", ["", "  ", "acme site", "ac_me", "-acme"])
def test_a_site_that_is_not_one_is_refused(site: str) -> None:
    with pytest.raises(ValueError):
        normalize_site(site)


@pytest.mark.parametrize(
    "site",
    [
        "evil.example.com",
        "acme.atlassian.net:8443",
        "http://acme.atlassian.net",
        "https://acme.atlassian.net.evil.example/",
        "https://evil.example/acme.atlassian.net",
    ],
)
def test_a_site_elsewhere_than_atlassian_cloud_is_refused_without_an_override(site: str) -> None:
    with pytest.raises(ValueError, match="not an Atlassian Cloud site"):
        JsmClient(site=site, email="a@example.com", api_token="t0k")


async def test_with_an_override_another_site_host_is_allowed() -> None:
    seen, transport = recording()
    async with JsmClient(site="jira.internal.example:8443", email="a@example.com", api_token="t",
                         transport=transport, base_url="https://proxy.test/") as client:  # fmt: skip
        await client.values("/v1/schedules")
    assert client.hosts.site == "jira.internal.example:8443"
    assert {r.url.host for r in seen} == {"proxy.test"}


async def test_default_hosts_and_basic_auth() -> None:
    seen, transport = recording()
    async with JsmClient(
        site="acme", email="a@example.com", api_token="t0k", transport=transport
    ) as client:
        await client.values("/v1/schedules")
    tenant, schedules = seen
    assert str(tenant.url) == "https://acme.atlassian.net/_edge/tenant_info"
    assert "Authorization" not in tenant.headers
    assert schedules.url.scheme == "https" and schedules.url.host == "api.atlassian.com"
    assert schedules.url.path == f"/jsm/ops/api/{CLOUD}/v1/schedules"
    expected = base64.b64encode(b"a@example.com:t0k").decode()
    assert schedules.headers["Authorization"] == f"Basic {expected}"
    assert "t0k" not in repr(client.api.auth)


async def test_base_url_override_serves_the_api_and_the_site() -> None:
    seen, transport = recording()
    async with JsmClient(site="acme", email="a@example.com", api_token="t", transport=transport,
                         base_url="http://proxy.test:8080/") as client:  # fmt: skip
        await client.values("/v1/schedules")
        await client.site.get("/rest/api/3/myself")
    assert [(r.url.host, r.url.port) for r in seen] == [("proxy.test", 8080)] * 3
    assert seen[0].url.path == "/_edge/tenant_info"  # tenant_info at the override's host
    assert seen[1].url.path == f"/jsm/ops/api/{CLOUD}/v1/schedules"


async def test_site_url_override_separates_the_site_from_the_api() -> None:
    seen, transport = recording()
    async with JsmClient(site="acme", email="a@example.com", api_token="t", transport=transport,
                         base_url="http://api.test", site_url="http://site.test") as client:  # fmt: skip
        await client.values("/v1/schedules")
    assert [r.url.host for r in seen] == ["site.test", "api.test"]


async def test_a_given_cloud_id_skips_the_lookup_and_paging_links_stay_on_the_api() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.params.get("offset") == "0":
            return httpx.Response(200, json={"values": [{"id": "1"}],
                                             "links": {"next": "/v1/schedules?offset=1&size=1"}})  # fmt: skip
        if request.url.params.get("offset") == "1":
            return httpx.Response(200, json={"values": [{"id": "2"}],
                                             "links": {"next": "https://evil.test/v1/x"}})  # fmt: skip
        return httpx.Response(200, json={"values": []})

    client = JsmClient(site="acme", email="a@example.com", api_token="t", cloud_id=CLOUD,
                       transport=httpx.MockTransport(handler))  # fmt: skip
    async with client:
        with pytest.raises(Exception, match="outside its API"):
            await client.values("/v1/schedules", [("expand", "rotation")])
    assert [r.url.path for r in seen] == [f"/jsm/ops/api/{CLOUD}/v1/schedules"] * 2
    assert seen[1].url.params.get("expand") == "rotation"
    assert seen[1].url.params.get("size") == "1"


def test_email_and_token_are_required() -> None:
    with pytest.raises(ValueError):
        JsmClient(site="acme", email=" ", api_token="t")
    with pytest.raises(ValueError):
        JsmClient(site="acme", email="a@example.com", api_token="")
    with pytest.raises(ValueError, match="cloud id"):
        JsmClient(site="acme", email="a@example.com", api_token="t", cloud_id="../admin")
