"""A resource that lists several grants: all are given, all taken back; a grant or revoke that
fails part way is retried for exactly the part left, reported, and never left half-done.

The world: grafana-admin is given as a `record` and a `webhook` grant (two fake granters);
alice is on call, so her requests are approved at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.dispatcher import Dispatcher
from core.groups import Provider
from core.identity import Actor
from core.lifecycle import Lifecycle
from core.policy import parse_policy
from core.ports import TargetHealth
from core.requests import Status
from core.service import AccessService, AccessSettings, RosterCache
from core.sync import RosterSyncer
from tests.core.builders import PRIMARY, group, shift, snapshot
from tests.core.fakes import (
    FakeAuditLog,
    FakeClock,
    FakeNotifier,
    FakeRecordGranter,
    FakeRequestStore,
    FakeRosterProvider,
    FakeRosterStore,
    PortFailure,
)

NOW = datetime(2031, 3, 4, 12, tzinfo=UTC)
ALICE, ADMIN = "alice@example.com", "admin@example.com"
POLICY = parse_policy(
    """\
version: 1
resources:
  grafana-admin:
    request: {on_call: ["pagerduty:schedule/Primary SRE"]}
    approve: {auto_if_on_call: true, people: [lead@example.com]}
    grant:
      - {type: record}
      - {type: webhook, url: "https://automation.example.com/access", secret_env: HOOK}
"""
)


class CheckedRecordGranter(FakeRecordGranter):
    """A fake granter whose target can be checked live, as `status` does."""

    health = TargetHealth(True, "grants can be given")

    async def check(self, spec: dict[str, Any]) -> TargetHealth:
        return self.health


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(NOW)
        self.audit = FakeAuditLog()
        self.store = FakeRequestStore(self.audit)
        roster = snapshot(
            NOW - timedelta(minutes=5),
            group(
                PRIMARY,
                members=[ALICE],
                shifts=[shift(ALICE, NOW - timedelta(hours=4), NOW + timedelta(hours=4))],
            ),
        )
        self.rosters = FakeRosterStore(self.audit, [roster])
        self.notifier = FakeNotifier()
        self.first, self.second = FakeRecordGranter(), CheckedRecordGranter()
        provider = FakeRosterProvider(Provider.PAGERDUTY, lambda: roster)
        self.service = AccessService(
            policy=lambda: POLICY,
            store=self.store,
            audit=self.audit,
            roster=RosterCache(self.rosters),
            granters={"record": self.first, "webhook": self.second},
            notifier=self.notifier,
            clock=self.clock,
            settings=AccessSettings(
                roster_max_age=timedelta(minutes=45), admins=frozenset({ADMIN})
            ),
            providers=lambda: [provider],
        )
        syncer = RosterSyncer(
            lambda: [provider], self.rosters, self.notifier, self.clock, lambda: POLICY
        )
        self.dispatcher = Dispatcher(self.service, syncer)
        self.lifecycle = Lifecycle(self.service)

    async def request(self, duration: str = "1h") -> str:
        reply = await self.dispatcher.handle(Actor(ALICE), f"request grafana-admin {duration}")
        assert reply.request is not None, reply.text
        return reply.request.id

    async def status(self) -> str:
        reply = await self.dispatcher.handle(Actor(ADMIN), "status")
        return "\n".join([reply.text, *reply.lines])

    async def later(self, delta: timedelta) -> dict[str, int]:
        self.clock.advance(delta)
        return await self.lifecycle.run_all()


async def test_every_grant_is_given_and_every_one_taken_back_at_the_end() -> None:
    world = World()
    rid = await world.request("1h")
    active = await world.store.get(rid)
    assert active is not None and active.status == Status.ACTIVE
    assert [g.request_id for g in world.first.granted] == [rid]
    assert [g.request_id for g in world.second.granted] == [rid]
    assert world.second.granted[0].spec["url"] == "https://automation.example.com/access"

    await world.later(timedelta(hours=1, seconds=1))
    ended = await world.store.get(rid)
    assert ended is not None and ended.status == Status.EXPIRED
    assert len(world.first.revoked) == len(world.second.revoked) == 1
    expired = world.audit.of("access.expired")[0]
    assert expired.detail["granter"] == {"parts": [{"recorded": rid}, {"recorded": rid}]}


async def test_a_grant_failing_part_way_is_reported_and_retried_for_the_part_left() -> None:
    world = World()
    world.second.fail_on["grant"] = PortFailure("target down")
    rid = await world.request("1h")

    waiting = await world.store.get(rid)
    assert waiting is not None and waiting.status == Status.APPROVED
    assert len(world.first.granted) == 1  # given, and remembered
    (alert,) = world.notifier.alerts
    assert "webhook: PortFailure" in alert and "record" not in alert.split("failed:")[1]
    assert any("1 of 2 grants are in place" in t for t in world.notifier.told_to(ALICE))
    assert f"Grant failing: {rid}" in await world.status()

    del world.second.fail_on["grant"]
    await world.later(timedelta(minutes=1))
    active = await world.store.get(rid)
    assert active is not None and active.status == Status.ACTIVE
    assert len(world.first.granted) == 1  # not given twice
    assert len(world.second.granted) == 1
    assert f"Grant failing: {rid}" not in await world.status()


async def test_a_revoke_failing_part_way_retries_only_the_part_left() -> None:
    world = World()
    rid = await world.request("1h")
    world.second.fail_on["revoke"] = PortFailure("target down")
    await world.later(timedelta(hours=1, seconds=1))

    still = await world.store.get(rid)
    assert still is not None and still.status == Status.ACTIVE
    assert len(world.first.revoked) == 1
    assert "webhook: PortFailure" in world.notifier.alerts[-1]
    assert f"Revoke failing: {rid}" in await world.status()

    del world.second.fail_on["revoke"]
    await world.later(timedelta(minutes=1))
    ended = await world.store.get(rid)
    assert ended is not None and ended.status == Status.EXPIRED
    assert len(world.first.revoked) == 1  # taken back once, not again on the retry
    assert len(world.second.revoked) == 1


async def test_giving_up_on_a_partial_grant_takes_back_what_was_given() -> None:
    world = World()
    world.second.fail_on["grant"] = PortFailure("target down")
    rid = await world.request("30m")
    for _ in range(12):  # retries with backoff until the 30 minutes have passed
        await world.later(timedelta(minutes=5))
    ended = await world.store.get(rid)
    assert ended is not None and ended.status == Status.REVOKED
    assert len(world.first.revoked) == 1 and world.second.revoked == []
    assert world.audit.of("access.grant_abandoned")[0].detail["taking_back"] is True
    assert any("what was granted is being taken back" in t for t in world.notifier.told_to(ALICE))


async def test_revoking_while_a_partial_grant_is_retried_takes_back_what_was_given() -> None:
    world = World()
    world.second.fail_on["grant"] = PortFailure("target down")
    rid = await world.request("1h")
    reply = await world.dispatcher.handle(Actor(ALICE), f"revoke {rid}")
    assert reply.ok, reply.text
    ended = await world.store.get(rid)
    assert ended is not None and ended.status == Status.REVOKED
    assert len(world.first.revoked) == 1
    await world.later(timedelta(minutes=5))
    assert world.second.granted == []  # no retry after the revoke


async def test_status_shows_each_grant_target_health() -> None:
    world = World()
    assert (
        "Grant target webhook https://automation.example.com/access: OK, grants can be given"
        in (await world.status())
    )
    world.second.health = TargetHealth(False, "the role lacks sso:CreateAccountAssignment")
    assert "FAILING, the role lacks sso:CreateAccountAssignment" in await world.status()
