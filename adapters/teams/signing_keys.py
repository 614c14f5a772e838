"""The keys the Bot Connector signs activities with, fetched from its OpenID metadata.

botbuilder 4.17.1 keeps them for a day, fetches them with blocking ``requests`` calls on the event
loop, and raises ``IndexError`` on a key id it has not cached before its own refresh-on-unknown-key
path can run: once Microsoft signs with a new key, Teams is refused until the daily refresh. Here
an unknown key id triggers one asynchronous fetch, shared by every lookup waiting for it, and at
most one per ``min_interval``, so tokens with made-up key ids cannot start a fetch storm. A failed
fetch keeps the last good keys.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = ["ChannelKey", "ChannelSigningKeys", "KeysUnavailable"]

_log = logging.getLogger(__name__)

MAX_AGE_S = 24 * 3600.0
"""Keys are fetched again after a day even when none is missing, so a withdrawn key stops
counting (Microsoft: refresh at least every 24 hours)."""

MIN_INTERVAL_S = 300.0
"""Fewest seconds between two fetches started by unknown key ids: made-up ids cost at most one
fetch per interval, and a key first used within it is accepted once it has passed."""

RETRY_INTERVAL_S = 30.0
"""Fewest seconds between two fetches after a failed one."""

FETCH_DEADLINE_S = 10.0
"""A fetch (metadata, then keys) that takes longer has failed; lookups waiting for it go on."""


@dataclass(frozen=True)
class ChannelKey:
    """A published RSA signing key and the channels it is endorsed for."""

    kid: str
    public_key: RSAPublicKey
    endorsements: frozenset[str]


class KeysUnavailable(Exception):
    """No key was ever fetched, so no token can be checked: an outage, not a refusal."""


class ChannelSigningKeys:
    """Keys by id from ``metadata_url`` (its ``jwks_uri``), fetched with httpx.

    ``tls`` defaults to httpx's trust (``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, else certifi), built
    here so that no fetch loads certificates on the event loop; ``clock`` is monotonic seconds.
    Lookups that need a fetch while one is under way wait for that one; lookups of known keys
    never wait.
    """

    def __init__(
        self,
        metadata_url: str,
        *,
        max_age: float = MAX_AGE_S,
        min_interval: float = MIN_INTERVAL_S,
        retry_interval: float = RETRY_INTERVAL_S,
        deadline: float = FETCH_DEADLINE_S,
        tls: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metadata_url = metadata_url
        self._max_age = max_age
        self._min_interval = min_interval
        self._retry_interval = retry_interval
        self._deadline = deadline
        self._tls = tls if tls is not None else httpx.create_ssl_context()
        self._clock = clock
        self._keys: dict[str, ChannelKey] = {}
        self._fetched_at: float | None = None  # the last good fetch
        self._attempted_at: float | None = None  # the last fetch, good or not
        self._refreshed_at: float | None = None  # the last fetch started for an unknown key id
        self._failures = 0  # failed fetches since the last good one
        self._pending: asyncio.Future[None] | None = None

    async def get(self, kid: str) -> ChannelKey | None:
        """The key published under ``kid``, or None. Raises ``KeysUnavailable`` while no fetch
        has ever succeeded."""
        if self._due():
            # Fetched (or joined) for this lookup: the keys are as fresh as they can be.
            await self._fetch(for_unknown_key=False)
            key = self._keys.get(kid)
        else:
            key = self._keys.get(kid)
            if key is None and self._may_refresh():
                await self._fetch(for_unknown_key=True)
                key = self._keys.get(kid)
        if key is None and self._fetched_at is None:
            raise KeysUnavailable(f"no signing keys could be fetched from {self.metadata_url}")
        return key

    def _due(self) -> bool:
        """No keys yet, or a day old: fetch, or join the fetch under way."""
        if self._fetched_at is not None and self._clock() - self._fetched_at < self._max_age:
            return False
        return self._pending is not None or self._retry_allowed()

    def _may_refresh(self) -> bool:
        """An unknown key id: join the fetch under way, or start one unless an unknown key id
        already did so within ``min_interval``."""
        if self._pending is not None:
            return True
        now = self._clock()
        if self._refreshed_at is not None and now - self._refreshed_at < self._min_interval:
            return False
        return self._retry_allowed()

    def _retry_allowed(self) -> bool:
        return not self._failures or (
            self._attempted_at is not None
            and self._clock() - self._attempted_at >= self._retry_interval
        )

    async def _fetch(self, *, for_unknown_key: bool) -> None:
        if self._pending is None:
            self._attempted_at = self._clock()
            if for_unknown_key:
                self._refreshed_at = self._attempted_at
            self._pending = asyncio.ensure_future(self._fetch_and_keep())
        # Shielded: a caller that gives up (its client went away) does not cancel the others' fetch.
        await asyncio.shield(self._pending)

    async def _fetch_and_keep(self) -> None:
        try:
            async with (
                asyncio.timeout(self._deadline),
                httpx.AsyncClient(verify=self._tls, timeout=self._deadline) as client,
            ):
                metadata = await _get_json(client, self.metadata_url)
                jwks_uri = metadata.get("jwks_uri")
                if not isinstance(jwks_uri, str) or not jwks_uri:
                    raise ValueError("the OpenID metadata has no jwks_uri")
                keys = _usable_keys(await _get_json(client, jwks_uri))
        except (httpx.HTTPError, ValueError, TimeoutError) as exc:
            self._failed(exc)
        else:
            self._keep(keys)
        finally:
            self._pending = None

    def _keep(self, keys: dict[str, ChannelKey]) -> None:
        if self._failures:
            _log.info(
                "Bot Framework signing keys fetched again from %s after %d failed attempts",
                self.metadata_url,
                self._failures,
            )
        self._keys, self._fetched_at, self._failures = keys, self._clock(), 0

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        reason = _reason(exc)
        if self._failures == 1:  # once per streak: a down endpoint is one fact, not one per try
            _log.warning(
                "could not fetch the Bot Framework signing keys from %s (%s); %s",
                self.metadata_url,
                reason,
                "keeping the last good keys"
                if self._keys
                else "until they are fetched, Teams activities are answered 503",
            )
        else:
            _log.debug("signing keys still unavailable (attempt %d): %s", self._failures, reason)


def _reason(exc: Exception) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url}"
    return f"{type(exc).__name__}: {exc}"


async def _get_json(client: httpx.AsyncClient, url: str) -> Mapping[str, Any]:
    response = await client.get(url)
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return body


def _usable_keys(jwks: Mapping[str, Any]) -> dict[str, ChannelKey]:
    """RS256 signing keys by id; others are skipped, none at all is a failed fetch."""
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise ValueError("the key set has no keys list")
    keys: dict[str, ChannelKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid, endorsements = entry.get("kid"), entry.get("endorsements") or []
        if not isinstance(kid, str) or not isinstance(endorsements, list):
            continue
        try:
            public_key = jwt.PyJWK(entry, algorithm="RS256").key
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        if not isinstance(public_key, RSAPublicKey):
            continue
        keys[kid] = ChannelKey(kid, public_key, frozenset(map(str, endorsements)))
    if not keys:
        raise ValueError("the key set holds no usable RS256 signing key")
    return keys
