"""Incident-aware access end to end, on a fake PagerDuty over HTTP: whoever is assigned to an
open incident on a resource's services may have it (at once where the policy says so), the
incident is the evidence and the reason, and the access ends when the incident resolves or moves
to someone else, by a signed v3 webhook within seconds or by polling where none came. Forged,
unsigned, stale and replayed deliveries change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from adapters.storage.crypto import new_key
from bot.http import make_app
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.wiring import Bot, build
from core.connections import ConnectForm
from core.identity import Actor
from core.incident_watch import POLL_EVERY, POLL_LIMIT
from core.policy import parse_policy
from core.requests import AccessRequest, Status
from tests.conftest import FakeClock
from tests.fakes.pagerduty import FakePagerDuty, User
from tests.fakes.pagerduty.incidents import IncidentRecord, Service, deliver, signature

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
SECRET = "whsec-current-0123456789abcdef"
OLD_SECRET = "whsec-previous-0123456789abcdef"
POLICY = """
version: 1
resources:
  checkout-db:
    description: Read-write on the checkout database
    request: {incident: ["pagerduty:service/Checkout API"]}
    approve: {auto_if_incident: true, people: ["lead@example.com"]}
    max_duration: 4h
  payments-db:
    request: {incident: ["pagerduty:service/Payments"]}
    approve: {people: ["lead@example.com"]}
    end_on_reassign: false
  ghost-db:
    request: {incident: ["pagerduty:service/Nope"]}
    approve: {people: ["lead@example.com"]}
"""


@dataclass
class World:
    bot: Bot
    pd: FakePagerDuty
    clock: FakeClock
    url: str
    alice: User
    bob: User
    checkout: Service
    payments: Service
    lines: list[str]
    sync_summary: str

    async def say(self, email: str, text: str) -> str:
        reply = await self.bot.dispatcher.handle(Actor(email), text)
        return reply.full_text

    async def request(self, email: str, text: str) -> AccessRequest:
        reply = await self.bot.dispatcher.handle(Actor(email), text)
        assert reply.ok and reply.request is not None, reply.text
        return reply.request

    async def status(self, request_id: str) -> Status:
        return (await self.bot.service.get(request_id)).status


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock(NOW)
    async with FakePagerDuty(api_keys={"pd-key"}, now=clock.now) as pd:
        alice = pd.add_user("Alice", "alice@example.com")
        bob = pd.add_user("Bob", "bob@example.com")
        pd.add_user("Lead", "lead@example.com")
        checkout = pd.add_service("Checkout API")
        payments = pd.add_service("Payments")
        pd.add_service("Search")
        settings = Settings(
            ONCALL_ACCESS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            ONCALL_ACCESS_SECRET_KEY=new_key(),
            ONCALL_ACCESS_ADMINS="admin@example.com",
            PAGERDUTY_API_URL=pd.url,
            PAGERDUTY_WEBHOOK_SECRET=f"{SECRET},{OLD_SECRET}",
            _env_file=None,  # type: ignore[call-arg]
        )
        lines: list[str] = []
        from adapters.console.notifier import ConsoleNotifier

        bot = await build(
            settings,
            policy=parse_policy(POLICY, "policy.yaml"),
            clock=clock,
            notifiers=[ConsoleNotifier(lines.append)],
        )
        server = TestServer(make_app(bot))
        await server.start_server()
        try:
            assert bot.admin is not None
            connected = await bot.admin.connect(
                ConnectForm("pagerduty", api_key="pd-key"), "admin@example.com"
            )
            assert connected.ok, connected.message
            url = str(server.make_url("/webhooks/pagerduty"))
            yield World(
                bot, pd, clock, url, alice, bob, checkout, payments, lines, connected.sync_summary
            )
        finally:
            await server.close()
            await bot.close()


async def _granted(world: World, incident: IncidentRecord) -> AccessRequest:
    request = await world.request("alice@example.com", "request checkout-db 2h")
    assert request.status == Status.ACTIVE
    assert request.evidence.incident is not None
    assert request.evidence.incident.id == incident.id
    return request


async def test_a_responder_gets_access_at_once_with_the_incident_as_evidence_and_reason(
    world: World,
) -> None:
    incident = world.pd.trigger(world.checkout, "Checkout is down", [world.alice])

    reply = await world.bot.dispatcher.handle(Actor("alice@example.com"), "request checkout-db 2h")

    assert reply.ok, reply.text
    label = f'PagerDuty incident #{incident.number} "Checkout is down"'
    assert reply.text.startswith(f"Approved at once (you are assigned to {label})")
    assert reply.request is not None and reply.request.reason == label
    approved = [r for r in await world.bot.audit.records() if r.event == "request.approved"]
    evidence = approved[-1].detail["evidence"]
    assert evidence["rule"] == "approve.auto_if_incident"
    assert evidence["incident"]["number"] == incident.number
    assert evidence["incident"]["url"].endswith(f"/incidents/{incident.id}")
    assert any(label in line for line in world.lines)  # the requester's notice names it too


async def test_someone_not_assigned_is_refused_and_the_services_are_named(world: World) -> None:
    world.pd.trigger(world.checkout, "Checkout is down", [world.bob])

    reply = await world.bot.dispatcher.handle(Actor("alice@example.com"), "request checkout-db")

    assert not reply.ok
    assert reply.text == "You are not assigned to an open incident on Checkout API (PagerDuty)."


async def test_a_resolve_in_the_middle_of_a_grant_ends_the_access_within_seconds(
    world: World,
) -> None:
    incident = world.pd.trigger(world.checkout, "Checkout is down", [world.alice])
    request = await _granted(world, incident)
    world.clock.advance(timedelta(minutes=40))

    body = world.pd.resolve(incident)
    answer = await deliver(world.url, body, signature(body, SECRET))

    assert (answer.status, answer.body.get("acted")) == (202, 1)
    assert await world.status(request.id) == Status.REVOKED
    events = [r.event for r in await world.bot.audit.records() if r.request_id == request.id]
    assert events[-2:] == ["access.incident_ended", "access.revoked"]
    assert any("was resolved" in line and request.id in line for line in world.lines)


async def test_a_reassignment_away_from_the_requester_ends_the_access(world: World) -> None:
    incident = world.pd.trigger(world.checkout, "Checkout is down", [world.alice])
    request = await _granted(world, incident)

    body = world.pd.reassign(incident, [world.bob])
    answer = await deliver(world.url, body, signature(body, OLD_SECRET))  # a rotating secret

    assert answer.status == 202
    assert await world.status(request.id) == Status.REVOKED
    assert any("reassigned away from alice@example.com" in line for line in world.lines)


async def test_reassignment_keeps_the_access_where_the_policy_says_so(world: World) -> None:
    incident = world.pd.trigger(world.payments, "Card payments fail", [world.alice])
    pending = await world.request("alice@example.com", "request payments-db 1h")
    approved = await world.request("lead@example.com", f"approve {pending.id}")
    assert approved.status == Status.ACTIVE

    body = world.pd.reassign(incident, [world.bob])
    answer = await deliver(world.url, body, signature(body, SECRET))

    assert (answer.status, answer.body.get("acted")) == (202, 0)
    assert await world.status(pending.id) == Status.ACTIVE


@pytest.mark.parametrize(
    "header",
    [None, "", "v1=" + "0" * 64, "v0=whatever", "garbage,,,"],
    ids=["unsigned", "empty", "wrong-signature", "other-version", "garbage"],
)
async def test_a_forged_delivery_is_refused_and_changes_nothing(
    world: World, header: str | None
) -> None:
    incident = world.pd.trigger(world.checkout, "Checkout is down", [world.alice])
    request = await _granted(world, incident)
    body = world.pd.resolve(incident)

    answer = await deliver(world.url, body, header)

    assert answer.status == 401
    assert answer.body["error"] == "The delivery is not signed with this subscription's secret."
    assert await world.status(request.id) == Status.ACTIVE


async def test_a_delivery_signed_with_another_secret_is_refused(world: World) -> None:
    incident = world.pd.trigger(world.checkout, "Checkout is down", [world.alice])
    request = await _granted(world, incident)
    body = world.pd.resolve(incident)

    answer = await deliver(world.url, body, signature(body, "someone-elses-secret"))

    assert answer.status == 401
    assert await world.status(request.id) == Status.ACTIVE


async def test_a_replayed_delivery_runs_once_and_a_stale_one_not_at_all(world: World) -> None:
    first = world.pd.trigger(world.checkout, "Checkout is down", [world.alice])
    request = await _granted(world, first)
    resolved = world.pd.resolve(first)
    assert (await deliver(world.url, resolved, signature(resolved, SECRET))).status == 202
    assert await world.status(request.id) == Status.REVOKED

    again = await deliver(world.url, resolved, signature(resolved, SECRET))
    assert (again.status, again.body.get("repeat")) == (200, True)

    second = world.pd.trigger(world.checkout, "Checkout is down again", [world.alice])
    later = await _granted(world, second)
    captured = world.pd.resolve(second)
    world.pd.incidents[second.id].status = "triggered"  # reopened: still being worked
    world.clock.advance(timedelta(minutes=11))
    stale = await deliver(world.url, captured, signature(captured, SECRET))
    assert stale.status == 400
    assert await world.status(later.id) == Status.ACTIVE


async def test_polling_ends_the_access_when_no_webhook_came(world: World) -> None:
    incident = world.pd.trigger(world.checkout, "Checkout is down", [world.alice])
    request = await _granted(world, incident)
    scheduler = Scheduler(world.bot)
    assert await scheduler.poll_incidents() == 0  # still open and assigned

    world.pd.resolve(incident)  # the delivery is lost
    assert await scheduler.poll_incidents() == 0  # asked about moments ago
    world.clock.advance(POLL_EVERY)
    assert await scheduler.poll_incidents() == 1

    assert await world.status(request.id) == Status.REVOKED
    asked = world.pd.requests_to(f"/incidents/{incident.id}")
    assert len(asked) == 2


async def test_the_approvers_click_checks_the_incident_again(world: World) -> None:
    incident = world.pd.trigger(world.payments, "Card payments fail", [world.alice])
    pending = await world.request("alice@example.com", "request payments-db 1h")
    assert pending.status == Status.PENDING
    world.pd.resolve(incident)  # resolved before anyone approved

    reply = await world.bot.dispatcher.handle(Actor("lead@example.com"), f"approve {pending.id}")

    assert not reply.ok
    label = f'PagerDuty incident #{incident.number} "Card payments fail"'
    assert reply.text == (
        f"alice@example.com may no longer have payments-db: {label} was resolved. "
        "The request was closed."
    )
    assert await world.status(pending.id) == Status.DENIED


async def test_why_and_oncall_name_the_incident(world: World) -> None:
    incident = world.pd.trigger(world.checkout, "Checkout is down", [world.alice])
    label = f'PagerDuty incident #{incident.number} "Checkout is down"'

    why = await world.say("alice@example.com", "why checkout-db")
    oncall = await world.say("bob@example.com", "oncall")

    assert f"✓ You are assigned to {label} on Checkout API (PagerDuty)." in why
    assert "You would be approved at once (you are assigned to the incident" in why
    assert f"Access would end when {label} resolves or moves to someone else" in why
    assert f"Checkout API (PagerDuty): {label} (triggered), assigned to alice@example.com" in oncall
    assert "Payments (PagerDuty): no open incident" in oncall
    # listed before the rotas, so a long list of groups cannot push them out of the message
    assert oncall.index("Open incidents (live):") < oncall.index("Payments (PagerDuty)")
    assert oncall.index("Payments (PagerDuty)") < oncall.index("On call:")


async def test_a_policy_naming_a_service_pagerduty_lacks_is_reported(world: World) -> None:
    assert "The policy names groups this provider does not have: pagerduty:service/Nope" in (
        world.sync_summary
    )


async def test_polling_asks_a_bounded_number_of_incidents_per_tick(world: World) -> None:
    people = [world.pd.add_user(f"R{i}", f"r{i}@example.com") for i in range(POLL_LIMIT + 5)]
    await world.bot.syncer.sync_all()  # the new responders' emails
    for person in people:
        world.pd.trigger(world.checkout, f"Shard {person.name} down", [person])
        granted = await world.request(person.email or "", "request checkout-db 1h")
        assert granted.status == Status.ACTIVE
    scheduler = Scheduler(world.bot)
    world.clock.advance(POLL_EVERY)

    def asked() -> int:
        return len([r for r in world.pd.requests if r.path.startswith("/incidents/")])

    await scheduler.poll_incidents()
    assert asked() == POLL_LIMIT
    await scheduler.poll_incidents()
    assert asked() == POLL_LIMIT + 5  # the rest, the ones never asked about first
    await scheduler.poll_incidents()
    assert asked() == POLL_LIMIT + 5  # nothing is due again before POLL_EVERY


def _signed_event(event: object) -> bytes:
    import json

    return json.dumps({"event": event}).encode()


HOSTILE = [
    b"[]",
    b"not json at all",
    b"\xff\xfe\x00 not utf-8",
    b'{"event": []}',
    b"[" * 5000 + b"]" * 5000,
    _signed_event({"id": 5}),
    _signed_event({"id": "e1", "occurred_at": 12, "event_type": "incident.resolved"}),
    _signed_event({"id": "e2", "occurred_at": "yesterday", "event_type": "incident.resolved"}),
    _signed_event(
        {"id": "e3", "occurred_at": NOW.isoformat(), "event_type": "incident.resolved", "data": 7}
    ),
    _signed_event(
        {
            "id": "e4",
            "occurred_at": NOW.isoformat(),
            "event_type": "incident.reassigned",
            "data": {"id": "P1", "status": "nonsense", "service": {"summary": "Checkout API"}},
        }
    ),
    _signed_event(
        {
            "id": "e5" * 500,
            "occurred_at": NOW.isoformat(),
            "event_type": "incident.resolved",
            "data": {"id": "P1", "status": "resolved", "service": 5, "assignees": [1, None]},
        }
    ),
]


@pytest.mark.parametrize("body", HOSTILE, ids=[f"hostile-{i}" for i in range(len(HOSTILE))])
async def test_signed_nonsense_is_a_4xx_or_ignored_and_never_ends_access(
    world: World, body: bytes
) -> None:
    incident = world.pd.trigger(world.checkout, "Checkout is down", [world.alice])
    request = await _granted(world, incident)

    answer = await deliver(world.url, body, signature(body, SECRET))

    assert 400 <= answer.status < 500 or answer.body.get("acted") == 0, answer
    assert await world.status(request.id) == Status.ACTIVE
