"""``ChannelSigningKeys`` against the fake identity provider, on a clock the test moves: when keys
are fetched, how often made-up key ids may cause a fetch, and what a failing endpoint leaves."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.teams.signing_keys import (
    MAX_AGE_S,
    MIN_INTERVAL_S,
    RETRY_INTERVAL_S,
    ChannelSigningKeys,
    KeysUnavailable,
)
from tests.fakes.teams.identity import FakeIdentityProvider


class Ticks:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def keys(identity: FakeIdentityProvider, ticks: Ticks) -> ChannelSigningKeys:
    return ChannelSigningKeys(identity.openid_metadata_url, clock=ticks)


def _fetches(identity: FakeIdentityProvider) -> tuple[int, int]:
    return identity.metadata_fetches, identity.jwks_fetches


async def test_first_lookups_share_one_fetch(
    identity: FakeIdentityProvider, keys: ChannelSigningKeys
) -> None:
    found = await asyncio.gather(*(keys.get(identity.signing_key.kid) for _ in range(20)))

    assert {(k.kid, k.endorsements) for k in found if k} == {
        (identity.signing_key.kid, frozenset({"msteams"}))
    }
    assert len([k for k in found if k]) == 20
    assert _fetches(identity) == (1, 1)


async def test_a_key_published_after_the_last_fetch_is_found_with_one_more_fetch(
    identity: FakeIdentityProvider, keys: ChannelSigningKeys
) -> None:
    assert await keys.get(identity.signing_key.kid) is not None

    new = identity.rotate_signing_key()

    assert await keys.get(new.kid) is not None
    assert _fetches(identity) == (2, 2)


async def test_made_up_key_ids_cost_at_most_one_fetch_per_interval(
    identity: FakeIdentityProvider, keys: ChannelSigningKeys, ticks: Ticks
) -> None:
    assert await keys.get(identity.signing_key.kid) is not None

    async def storm() -> list[object]:
        kids = [identity.unpublished_key().kid for _ in range(200)]
        return await asyncio.gather(*(keys.get(kid) for kid in kids))

    assert await storm() == [None] * 200
    assert _fetches(identity) == (2, 2)
    ticks.advance(MIN_INTERVAL_S - 1)
    assert await storm() == [None] * 200
    assert _fetches(identity) == (2, 2)
    ticks.advance(1)
    assert await storm() == [None] * 200
    assert _fetches(identity) == (3, 3)


async def test_a_key_first_used_within_the_interval_is_found_once_it_has_passed(
    identity: FakeIdentityProvider, keys: ChannelSigningKeys, ticks: Ticks
) -> None:
    assert await keys.get(identity.signing_key.kid) is not None
    assert await keys.get(identity.unpublished_key().kid) is None  # spends the interval's fetch

    new = identity.rotate_signing_key()

    assert await keys.get(new.kid) is None
    ticks.advance(MIN_INTERVAL_S)
    assert await keys.get(new.kid) is not None
    assert _fetches(identity) == (3, 3)


async def test_keys_are_fetched_again_after_a_day_so_withdrawn_ones_stop_counting(
    identity: FakeIdentityProvider, keys: ChannelSigningKeys, ticks: Ticks
) -> None:
    old = identity.signing_key
    assert await keys.get(old.kid) is not None
    new = identity.rotate_signing_key(keep_previous=False)

    ticks.advance(MAX_AGE_S - 1)
    assert await keys.get(old.kid) is not None
    ticks.advance(1)
    assert await keys.get(old.kid) is None
    assert await keys.get(new.kid) is not None
    assert _fetches(identity) == (2, 2)


async def test_lookups_of_known_keys_do_not_wait_for_a_fetch(
    identity: FakeIdentityProvider, keys: ChannelSigningKeys
) -> None:
    known = identity.signing_key.kid
    assert await keys.get(known) is not None
    identity.hold_metadata(seconds=5.0)
    unknown = asyncio.create_task(keys.get(identity.unpublished_key().kid))
    await identity.next_held_metadata()

    async with asyncio.timeout(2.0):
        assert await keys.get(known) is not None
    assert identity.holding_metadata == 1

    identity.release_metadata()
    assert await asyncio.wait_for(unknown, timeout=5.0) is None


async def test_a_failing_endpoint_keeps_the_last_good_keys_and_is_logged_once_per_streak(
    identity: FakeIdentityProvider,
    keys: ChannelSigningKeys,
    ticks: Ticks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters.teams.signing_keys")
    kid = identity.signing_key.kid
    assert await keys.get(kid) is not None
    identity.fail_metadata(503)

    ticks.advance(MAX_AGE_S)
    assert await keys.get(kid) is not None
    for _ in range(3):
        assert await keys.get(kid) is not None  # no new attempt before the retry interval
        ticks.advance(RETRY_INTERVAL_S)
    assert await keys.get(kid) is not None
    identity.fail_metadata(None)
    ticks.advance(RETRY_INTERVAL_S)
    assert await keys.get(kid) is not None

    assert identity.metadata_fetches == 6  # the first, four failed attempts, one good
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "HTTP 503" in warnings[0] and "keeping the last good keys" in warnings[0]
    assert any(
        "fetched again" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO
    )

    identity.fail_metadata(503)  # a new streak is news again
    ticks.advance(MAX_AGE_S)
    assert await keys.get(kid) is not None
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


async def test_without_any_key_lookups_are_unavailable_and_retried_after_an_interval(
    identity: FakeIdentityProvider, keys: ChannelSigningKeys, ticks: Ticks
) -> None:
    identity.fail_metadata(503)

    for _ in range(2):
        with pytest.raises(KeysUnavailable):
            await keys.get(identity.signing_key.kid)
    assert identity.metadata_fetches == 1

    identity.fail_metadata(None)
    ticks.advance(RETRY_INTERVAL_S)
    assert await keys.get(identity.signing_key.kid) is not None
    assert identity.metadata_fetches == 2


async def test_a_fetch_past_its_deadline_has_failed(
    identity: FakeIdentityProvider, ticks: Ticks, caplog: pytest.LogCaptureFixture
) -> None:
    keys = ChannelSigningKeys(identity.openid_metadata_url, clock=ticks, deadline=0.2)
    identity.hold_metadata(seconds=30.0)

    with pytest.raises(KeysUnavailable):
        await keys.get(identity.signing_key.kid)

    identity.release_metadata()
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "no answer in time" in warning
