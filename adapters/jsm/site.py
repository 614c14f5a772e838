"""Where one JSM operations account lives: its Atlassian site and the two hosts we call.

Atlassian splits one customer over two hosts. The operations API (schedules, on-calls,
timelines, teams) is on `api.atlassian.com` under the site's cloud id; the cloud id itself
(`/_edge/tenant_info`), the Jira user API (account id → e-mail) and the Teams API (team members)
are on the site, `SITE.atlassian.net`. There are no regions to choose: the site decides.

`JSM_API_URL` (`base_url`) replaces the API host and, unless `site_url` is given too, the site
host as well, so one override points everything at a test server or a proxy that serves both.
Without one, the site is only ever `https://SITE.atlassian.net` on the default port: the account's
email and API token are sent there, so a typed site must not be able to send them anywhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

API_HOST = "https://api.atlassian.com"
SITE_DOMAIN = ".atlassian.net"
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$")


def normalize_site(site: str, *, any_host: bool = False) -> str:
    """`acme`, `acme.atlassian.net` or `https://acme.atlassian.net/` → `acme.atlassian.net`.

    Admins paste whichever form they have at hand; all of them name the same site. Other hosts,
    ports and plain http are refused unless `any_host` (an override such as `JSM_API_URL` is set).
    """
    text = site.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() != "https" and not any_host:
            raise ValueError(f"`{site[:80]}` is not an Atlassian Cloud site (https only)")
        text = parts.netloc
    text = text.split("/", 1)[0].strip().lower().rstrip(".")
    if not text:
        raise ValueError("the Atlassian site is required (SITE or SITE.atlassian.net)")
    if not _HOST.match(text):
        raise ValueError(
            f"`{site[:80]}` is not an Atlassian site (write SITE or SITE.atlassian.net)"
        )
    name = text if "." in text or ":" in text else text + SITE_DOMAIN
    if not any_host and (":" in name or not name.endswith(SITE_DOMAIN)):
        raise ValueError(
            f"`{site[:80]}` is not an Atlassian Cloud site: only SITE.atlassian.net is called "
            "(JSM_API_URL allows another host)"
        )
    return name


@dataclass(frozen=True, slots=True)
class Hosts:
    """The site's name and the two base URLs (no trailing slash)."""

    site: str
    api_url: str
    site_url: str

    @classmethod
    def of(cls, site: str, base_url: str | None = None, site_url: str | None = None) -> Hosts:
        name = normalize_site(site, any_host=bool(base_url or site_url))
        api = (base_url or API_HOST).rstrip("/")
        return cls(name, api, (site_url or base_url or f"https://{name}").rstrip("/"))


def ops_root(cloud_id: str) -> str:
    """The API root of one site's operations data, relative to the API host.

    Paths below it start with `/v1/`, exactly as the API's own `links.next` are written, so a
    paging link is followed by putting this root in front of it.
    """
    return f"/jsm/ops/api/{cloud_id}"
