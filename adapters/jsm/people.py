"""Atlassian account ids → e-mail addresses, through the site's Jira user API, cached.

JSM operations names people only by account id; the rest of the system knows people by e-mail.
The Jira user API (`/rest/api/3/user/bulk`, falling back to `/rest/api/3/user?accountId=`)
returns `emailAddress` only when the person's profile visibility allows it, so an account may
resolve to a name without an e-mail: such accounts are reported, never guessed. An admin can
map them by hand (`overrides`), which is consulted before the API.

E-mails found are cached for a day (people rarely change address, and a sync twice an hour
would otherwise ask for everyone every time); hidden or unknown accounts are asked again on
every sync, so someone who makes their e-mail visible counts from the next sync on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.jsm.client import JsmClient
from adapters.providerhttp import NotFound, RequestRejected
from adapters.providerhttp.tasks import gather_or_cancel
from core.identity import is_email, normalize_email

USER_BATCH = 50
CACHE_TTL = timedelta(hours=24)
MAX_USER_PAGES = 20


@dataclass(frozen=True, slots=True)
class Account:
    """What the site told us about one account; `email` is None when hidden or unknown."""

    account_id: str
    email: str | None = None
    name: str = ""
    found: bool = True

    @property
    def label(self) -> str:
        return f"'{self.name}' ({self.account_id})" if self.name else f"account {self.account_id}"


class AccountResolver:
    def __init__(
        self,
        client: JsmClient,
        *,
        overrides: Mapping[str, str] | None = None,
        ttl: timedelta = CACHE_TTL,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._overrides: dict[str, str] = {}
        self.set_overrides(overrides or {})
        self._ttl = ttl
        self._now = now
        self._cache: dict[str, tuple[Account, datetime]] = {}

    def set_overrides(self, overrides: Mapping[str, str]) -> None:
        """Replace the manual account id → e-mail mappings (they win over the API)."""
        self._overrides = {k.strip(): normalize_email(v) for k, v in overrides.items() if k.strip()}

    def cached(self, account_id: str) -> Account | None:
        """A fresh cached answer with an e-mail (or a manual mapping), without asking."""
        if account_id in self._overrides:
            known = self._cache.get(account_id)
            name = known[0].name if known else ""
            return Account(account_id, self._overrides[account_id], name)
        hit = self._cache.get(account_id)
        if hit and hit[0].email and self._now() - hit[1] < self._ttl:
            return hit[0]
        return None

    def account_of(self, email: str) -> str | None:
        """The account id we last saw with this e-mail, if any."""
        email = normalize_email(email)
        for account_id, mapped in self._overrides.items():
            if mapped == email:
                return account_id
        for account, _ in self._cache.values():
            if account.email == email:
                return account.account_id
        return None

    async def resolve(
        self, account_ids: Iterable[str], *, deadline: float | None = None
    ) -> dict[str, Account]:
        """Every account id's answer, asking the site only for those not cached."""
        wanted = list(dict.fromkeys(a for a in account_ids if a))
        found: dict[str, Account] = {}
        missing: list[str] = []
        for account_id in wanted:
            hit = self.cached(account_id)
            if hit is not None:
                found[account_id] = hit
            else:
                missing.append(account_id)
        batches = [missing[i : i + USER_BATCH] for i in range(0, len(missing), USER_BATCH)]
        answers = await gather_or_cancel(*(self._batch(b, deadline) for b in batches))
        stamp = self._now()
        for batch, answer in zip(batches, answers, strict=True):
            for account_id in batch:
                account = answer.get(account_id) or Account(account_id, found=False)
                self._cache[account_id] = (account, stamp)
                found[account_id] = self.cached(account_id) or account
        return found

    async def _batch(self, ids: list[str], deadline: float | None) -> dict[str, Account]:
        try:
            users = await self._bulk(ids, deadline)
        except (NotFound, RequestRejected):
            # One unknown or malformed id can fail a whole bulk call: ask one by one instead.
            users = [u for u in await gather_or_cancel(*(self._one(i, deadline) for i in ids)) if u]
        return {a.account_id: a for a in (_account(u) for u in users) if a is not None}

    async def _bulk(self, ids: list[str], deadline: float | None) -> list[dict[str, Any]]:
        users: list[dict[str, Any]] = []
        start = 0
        for _ in range(MAX_USER_PAGES):
            params = [*(("accountId", i) for i in ids), ("startAt", start),
                      ("maxResults", len(ids))]  # fmt: skip
            body = await self._client.site.get("/rest/api/3/user/bulk", params, deadline=deadline)
            page = body.get("values") if isinstance(body, dict) else None
            page = [u for u in page if isinstance(u, dict)] if isinstance(page, list) else []
            users.extend(page)
            if not page or body.get("isLast", True) is not False:
                break
            start += len(page)
        return users

    async def _one(self, account_id: str, deadline: float | None) -> dict[str, Any] | None:
        try:
            body = await self._client.site.get(
                "/rest/api/3/user", [("accountId", account_id)], deadline=deadline
            )
        except NotFound:
            return None
        return body if isinstance(body, dict) else None


def _account(user: dict[str, Any]) -> Account | None:
    account_id = user.get("accountId")
    if not isinstance(account_id, str) or not account_id:
        return None
    email = user.get("emailAddress")
    email = normalize_email(email) if isinstance(email, str) and is_email(email) else None
    name = user.get("displayName")
    return Account(account_id, email, name.strip() if isinstance(name, str) else "")
