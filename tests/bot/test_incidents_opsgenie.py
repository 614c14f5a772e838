"""Incident-aware access on Opsgenie, end to end on a fake Opsgenie over HTTP: whoever responds
to an open incident on a resource's services (named as a responder, or in a responder team) may
have it, at once where the policy says so; the access ends when the incident is resolved or the
requester stops responding, found by polling (Opsgenie has no webhook here). A provider that
fails is one sentence, never a grant."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.console.notifier import ConsoleNotifier
from adapters.storage.crypto import new_key
from bot.cli import main
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.wiring import Bot, build
from core.connections import ConnectForm
from core.identity import Actor
from core.incident_watch import POLL_EVERY, POLL_LIMIT
from core.policy import parse_policy
from core.requests import AccessRequest, Status
from tests.conftest import FakeClock
from tests.fakes.opsgenie import FakeOpsgenie, Service, Team, User

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
POLICY = """
version: 1
resources:
  checkout-db:
    description: Read-write on the checkout database
    request: {incident: ["opsgenie:service/Checkout API"]}
    approve: {auto_if_incident: true, people: ["lead@example.com"]}
    max_duration: 4h
  payments-db:
    request: {incident: ["opsgenie:service/Payments"]}
    approve: {people: ["lead@example.com"]}
  ghost-db:
    request: {incident: ["opsgenie:service/Nope"]}
    approve: {people: ["lead@example.com"]}
"""
NOT_CHECKED = (
    "Your incidents on Checkout API (Opsgenie) could not be checked just now (the provider did "
    "not answer in time, or is not connected); try again in a moment."
)


@dataclass
class World:
    bot: Bot
    og: FakeOpsgenie
    clock: FakeClock
    alice: User
    bob: User
    carol: User
    sre: Team
    checkout: Service
    payments: Service
    lines: list[str]
    sync_summary: str

    async def say(self, email: str, text: str) -> str:
        return (await self.bot.dispatcher.handle(Actor(email), text)).full_text

    async def request(self, email: str, text: str) -> AccessRequest:
        reply = await self.bot.dispatcher.handle(Actor(email), text)
        assert reply.ok and reply.request is not None, reply.text
        return reply.request

    async def status(self, request_id: str) -> Status:
        return (await self.bot.service.get(request_id)).status

    async def poll_after(self, scheduler: Scheduler) -> int:
        """One polling pass once every incident behind a grant is due again."""
        self.clock.advance(POLL_EVERY)
        return await scheduler.poll_incidents()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock(NOW)
    async with FakeOpsgenie(now=clock.now) as og:
        alice = og.add_user("alice@example.com", "Alice")
        bob = og.add_user("bob@example.com", "Bob")
        carol = og.add_user("carol@example.com", "Carol")
        og.add_user("lead@example.com", "Lead")
        sre = og.add_team("SRE", [(carol, "user")])
        checkout = og.add_service("Checkout API", sre)
        payments = og.add_service("Payments", sre)
        og.add_service("Search", sre)
        settings = Settings(
            ONCALL_ACCESS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            ONCALL_ACCESS_SECRET_KEY=new_key(),
            ONCALL_ACCESS_ADMINS="admin@example.com",
            OPSGENIE_API_URL=og.url,
            _env_file=None,  # type: ignore[call-arg]
        )
        lines: list[str] = []
        bot = await build(
            settings,
            policy=parse_policy(POLICY, "policy.yaml"),
            clock=clock,
            notifiers=[ConsoleNotifier(lines.append)],
        )
        try:
            assert bot.admin is not None
            connected = await bot.admin.connect(
                ConnectForm("opsgenie", api_key="testkey"), "admin@example.com"
            )
            assert connected.ok, connected.message
            yield World(
                bot,
                og,
                clock,
                alice,
                bob,
                carol,
                sre,
                checkout,
                payments,
                lines,
                connected.sync_summary,
            )
        finally:
            await bot.close()


def _label(world: World, incident_id: str) -> str:
    i = world.og.incidents[incident_id]
    return f'Opsgenie incident #{i.tiny_id} "{i.message}"'


async def test_a_responder_gets_access_at_once_with_the_incident_as_evidence(
    world: World,
) -> None:
    incident = world.og.open_incident([world.checkout], "Checkout is down", [world.alice], NOW)

    reply = await world.bot.dispatcher.handle(Actor("alice@example.com"), "request checkout-db 2h")

    assert reply.ok, reply.text
    label = _label(world, incident.id)
    assert reply.text.startswith(f"Approved at once (you are assigned to {label})")
    assert reply.request is not None and reply.request.reason == label
    approved = [r for r in await world.bot.audit.records() if r.event == "request.approved"]
    evidence = approved[-1].detail["evidence"]
    assert evidence["rule"] == "approve.auto_if_incident"
    assert evidence["incident"]["url"].endswith(f"/incident/detail/{incident.id}")
    assert any(label in line for line in world.lines)


async def test_a_member_of_a_responder_team_responds_too(world: World) -> None:
    world.og.open_incident([world.checkout], "Checkout is slow", [world.sre], NOW)

    granted = await world.request("carol@example.com", "request checkout-db 1h")

    assert granted.status == Status.ACTIVE


async def test_someone_not_responding_is_refused_and_the_service_is_named(world: World) -> None:
    world.og.open_incident([world.checkout], "Checkout is down", [world.bob], NOW)
    world.og.open_incident([world.payments], "Payments fail", [world.alice], NOW)  # elsewhere

    reply = await world.bot.dispatcher.handle(Actor("alice@example.com"), "request checkout-db")

    assert not reply.ok
    assert reply.text == "You are not assigned to an open incident on Checkout API (Opsgenie)."


async def test_a_resolved_incident_qualifies_nobody(world: World) -> None:
    incident = world.og.open_incident([world.checkout], "Checkout is down", [world.alice], NOW)
    world.og.resolve_incident(incident, NOW)

    reply = await world.bot.dispatcher.handle(Actor("alice@example.com"), "request checkout-db")

    assert reply.text == "You are not assigned to an open incident on Checkout API (Opsgenie)."


async def test_a_resolve_in_the_middle_of_a_grant_ends_the_access(world: World) -> None:
    incident = world.og.open_incident([world.checkout], "Checkout is down", [world.alice], NOW)
    request = await world.request("alice@example.com", "request checkout-db 2h")
    scheduler = Scheduler(world.bot)
    assert await world.poll_after(scheduler) == 0  # still open, still responding

    world.clock.advance(timedelta(minutes=40))
    world.og.resolve_incident(incident, world.clock.now())
    assert await world.poll_after(scheduler) == 1

    assert await world.status(request.id) == Status.REVOKED
    events = [r.event for r in await world.bot.audit.records() if r.request_id == request.id]
    assert events[-2:] == ["access.incident_ended", "access.revoked"]
    label = _label(world, incident.id)
    assert any(f"{label} was resolved" in line and request.id in line for line in world.lines)


async def test_a_closed_incident_ends_the_access_too(world: World) -> None:
    incident = world.og.open_incident([world.checkout], "Checkout is down", [world.alice], NOW)
    request = await world.request("alice@example.com", "request checkout-db 2h")

    world.og.resolve_incident(incident, NOW, close=True)
    assert await world.poll_after(Scheduler(world.bot)) == 1

    assert await world.status(request.id) == Status.REVOKED


async def test_a_responder_removed_from_the_incident_loses_the_access(world: World) -> None:
    incident = world.og.open_incident([world.checkout], "Checkout is down", [world.alice], NOW)
    request = await world.request("alice@example.com", "request checkout-db 2h")

    world.og.set_responders(incident, [world.bob], NOW)
    assert await world.poll_after(Scheduler(world.bot)) == 1

    assert await world.status(request.id) == Status.REVOKED
    assert any("reassigned away from alice@example.com" in line for line in world.lines)


async def test_the_approvers_click_checks_the_incident_again(world: World) -> None:
    incident = world.og.open_incident([world.payments], "Card payments fail", [world.alice], NOW)
    pending = await world.request("alice@example.com", "request payments-db 1h")
    assert pending.status == Status.PENDING
    world.og.resolve_incident(incident, NOW)

    reply = await world.bot.dispatcher.handle(Actor("lead@example.com"), f"approve {pending.id}")

    assert not reply.ok
    assert reply.text == (
        f"alice@example.com may no longer have payments-db: {_label(world, incident.id)} was "
        "resolved. The request was closed."
    )
    assert await world.status(pending.id) == Status.DENIED


@pytest.mark.parametrize("status", [500, 429, 402, 403], ids=["5xx", "throttled", "plan", "rights"])
async def test_a_failing_provider_is_one_sentence_and_no_access(world: World, status: int) -> None:
    world.og.open_incident([world.checkout], "Checkout is down", [world.alice], NOW)
    for _ in range(5):  # every retry the client allows fails as well
        world.og.fail("/v1/incidents", status)

    reply = await world.bot.dispatcher.handle(Actor("alice@example.com"), "request checkout-db")

    assert not reply.ok
    assert reply.text == NOT_CHECKED
    assert not [r for r in await world.bot.audit.records() if r.event == "request.created"]


async def test_a_poll_that_fails_keeps_the_access_until_one_succeeds(world: World) -> None:
    incident = world.og.open_incident([world.checkout], "Checkout is down", [world.alice], NOW)
    request = await world.request("alice@example.com", "request checkout-db 2h")
    world.og.resolve_incident(incident, NOW)
    scheduler = Scheduler(world.bot)
    for _ in range(5):
        world.og.fail(f"/v1/incidents/{incident.id}", 503)

    assert await world.poll_after(scheduler) == 0
    assert await world.status(request.id) == Status.ACTIVE
    assert await world.poll_after(scheduler) == 1
    assert await world.status(request.id) == Status.REVOKED


async def test_open_incidents_are_read_across_pages(world: World) -> None:
    for n in range(130):  # the newest first: alice's is on the second page
        world.og.open_incident(
            [world.payments], f"Noise {n}", [world.bob], NOW + timedelta(seconds=n)
        )
    world.og.open_incident([world.checkout], "Checkout is down", [world.alice], NOW)

    granted = await world.request("alice@example.com", "request checkout-db 1h")

    assert granted.status == Status.ACTIVE
    pages = world.og.requests_to("/v1/incidents")
    assert [r.param("offset") for r in pages[-2:]] == ["0", "100"]
    assert all(r.param("query") == "status:open" for r in pages)


async def test_why_and_oncall_name_the_incident(world: World) -> None:
    incident = world.og.open_incident([world.checkout], "Checkout is down", [world.alice], NOW)
    label = _label(world, incident.id)

    why = await world.say("alice@example.com", "why checkout-db")
    oncall = await world.say("bob@example.com", "oncall")

    assert f"✓ You are assigned to {label} on Checkout API (Opsgenie)." in why
    assert f"Checkout API (Opsgenie): {label} (open), assigned to alice@example.com" in oncall
    assert "Payments (Opsgenie): no open incident" in oncall


async def test_a_policy_naming_a_service_opsgenie_lacks_is_reported(world: World) -> None:
    assert "The policy names groups this provider does not have: opsgenie:service/Nope" in (
        world.sync_summary
    )


async def test_policy_check_knows_opsgenie_services_and_names_the_missing_one(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "new.yaml"
    path.write_text(POLICY, encoding="utf-8")
    monkeypatch.setenv("ONCALL_ACCESS_DATABASE_URL", world.bot.settings.database_url)
    capsys.readouterr()

    code = await asyncio.to_thread(main, ["policy", "check", str(path)])  # the CLI's own loop

    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{path}: OK, 3 resources" in out
    assert "warning: opsgenie:service/Nope is not in the latest Opsgenie roster" in out
    assert "Checkout API" not in out and "Payments" not in out


async def test_polling_asks_a_bounded_number_of_incidents_per_tick(world: World) -> None:
    people = [world.og.add_user(f"r{i}@example.com", f"R{i}") for i in range(POLL_LIMIT + 5)]
    await world.bot.syncer.sync_all()
    for person in people:
        world.og.open_incident([world.checkout], f"Shard {person.full_name} down", [person], NOW)
        granted = await world.request(person.username, "request checkout-db 1h")
        assert granted.status == Status.ACTIVE
    scheduler = Scheduler(world.bot)

    def asked() -> int:
        return len(world.og.requests_to("/v1/incidents/*"))

    await world.poll_after(scheduler)
    assert asked() == POLL_LIMIT
    await scheduler.poll_incidents()
    assert asked() == POLL_LIMIT + 5
    await scheduler.poll_incidents()
    assert asked() == POLL_LIMIT + 5
