"""Incident-aware access on JSM operations, end to end on a fake Atlassian site over HTTP:
whoever responds to an open alert of a resource's teams (its owner, a user responder, or a
member of a responder team) may have it, at once where the policy says so; the access ends when
the alert closes or the requester stops responding, found by polling. A provider that fails is
one sentence, never a grant."""

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
from tests.fakes.jsm import Alert, FakeJsm, Participant, Team, User

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
POLICY = """
version: 1
resources:
  checkout-db:
    description: Read-write on the checkout database
    request: {incident: ["jsm:team/Checkout"]}
    approve: {auto_if_incident: true, people: ["lead@example.com"]}
    max_duration: 4h
  payments-db:
    request: {incident: ["jsm:team/Payments"]}
    approve: {people: ["lead@example.com"]}
  ghost-db:
    request: {incident: ["jsm:team/Nope"]}
    approve: {people: ["lead@example.com"]}
"""
NOT_CHECKED = (
    "Your alerts on Checkout (JSM) could not be checked just now (the provider did "
    "not answer in time, or is not connected); try again in a moment."
)
NOT_RESPONDING = "You are not assigned to an open alert on Checkout (JSM)."


@dataclass
class World:
    bot: Bot
    jsm: FakeJsm
    clock: FakeClock
    alice: User
    bob: User
    carol: User
    checkout: Team
    payments: Team
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
        """One polling pass once every alert behind a grant is due again."""
        self.clock.advance(POLL_EVERY)
        return await scheduler.poll_incidents()

    def label(self, alert: Alert) -> str:
        return f'JSM alert #{alert.tiny_id} "{alert.message}"'


@pytest.fixture
async def world(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    policy = getattr(request, "param", POLICY)
    clock = FakeClock(NOW)
    async with FakeJsm(now=clock.now) as jsm:
        alice = jsm.add_user("alice@example.com", "Alice")
        bob = jsm.add_user("bob@example.com", "Bob")
        carol = jsm.add_user("carol@example.com", "Carol")
        jsm.add_user("lead@example.com", "Lead")
        checkout = jsm.add_team("Checkout", [carol])
        payments = jsm.add_team("Payments", [bob])
        jsm.add_team("Search", [])
        settings = Settings(
            ONCALL_ACCESS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            ONCALL_ACCESS_SECRET_KEY=new_key(),
            ONCALL_ACCESS_ADMINS="admin@example.com",
            JSM_API_URL=jsm.url,
            _env_file=None,  # type: ignore[call-arg]
        )
        lines: list[str] = []
        bot = await build(
            settings,
            policy=parse_policy(policy, "policy.yaml"),
            clock=clock,
            notifiers=[ConsoleNotifier(lines.append)],
        )
        try:
            assert bot.admin is not None
            form = ConnectForm(
                "jsm",
                site="acme",
                email="agent@example.com",
                api_token="token-1",
                org_id=jsm.org_id,
            )
            connected = await bot.admin.connect(form, "admin@example.com")
            assert connected.ok, connected.message
            yield World(
                bot, jsm, clock, alice, bob, carol, checkout, payments, lines,
                connected.sync_summary,
            )  # fmt: skip
        finally:
            await bot.close()


async def test_a_user_responder_gets_access_at_once_with_the_alert_as_evidence(
    world: World,
) -> None:
    alert = world.jsm.open_alert("Checkout is down", [world.checkout, world.alice], NOW)

    reply = await world.bot.dispatcher.handle(Actor("alice@example.com"), "request checkout-db 2h")

    assert reply.ok, reply.text
    label = world.label(alert)
    assert reply.text.startswith(f"Approved at once (you are assigned to {label})")
    assert reply.request is not None and reply.request.reason == label
    approved = [r for r in await world.bot.audit.records() if r.event == "request.approved"]
    evidence = approved[-1].detail["evidence"]
    assert evidence["rule"] == "approve.auto_if_incident"
    assert evidence["incident"]["id"] == alert.id
    assert evidence["incident"]["number"] == alert.tiny_id
    assert any(label in line for line in world.lines)


async def test_a_member_of_a_responder_team_responds_too(world: World) -> None:
    world.jsm.open_alert("Checkout is slow", [world.checkout], NOW)

    granted = await world.request("carol@example.com", "request checkout-db 1h")

    assert granted.status == Status.ACTIVE


async def test_the_alerts_owner_responds_too(world: World) -> None:
    alert = world.jsm.open_alert("Checkout is slow", [world.checkout], NOW)
    world.jsm.acknowledge_alert(alert, NOW)
    world.jsm.assign_alert(alert, world.bob, NOW)

    granted = await world.request("bob@example.com", "request checkout-db 1h")

    assert granted.status == Status.ACTIVE


async def test_someone_not_responding_is_refused_and_the_team_is_named(world: World) -> None:
    world.jsm.open_alert("Checkout is down", [world.checkout, world.bob], NOW)
    world.jsm.open_alert("Payments fail", [world.payments, world.alice], NOW)  # another team's
    world.jsm.open_alert("Paged directly", [world.alice], NOW)  # no team: on no resource
    escalation = Participant("escalation", world.jsm.new_id())
    world.jsm.open_alert("Escalated", [world.checkout, escalation], NOW)

    reply = await world.bot.dispatcher.handle(Actor("alice@example.com"), "request checkout-db")

    assert not reply.ok
    assert reply.text == NOT_RESPONDING


async def test_a_closed_alert_qualifies_nobody(world: World) -> None:
    alert = world.jsm.open_alert("Checkout is down", [world.checkout, world.alice], NOW)
    world.jsm.close_alert(alert, NOW)

    reply = await world.bot.dispatcher.handle(Actor("alice@example.com"), "request checkout-db")

    assert reply.text == NOT_RESPONDING
    listed = world.jsm.requests_to("*/v1/alerts")
    assert listed and all(r.param("query") == "status:open" for r in listed)


async def test_closing_the_alert_in_the_middle_of_a_grant_ends_the_access(world: World) -> None:
    alert = world.jsm.open_alert("Checkout is down", [world.checkout, world.alice], NOW)
    request = await world.request("alice@example.com", "request checkout-db 2h")
    scheduler = Scheduler(world.bot)
    assert await world.poll_after(scheduler) == 0  # still open, still responding

    world.clock.advance(timedelta(minutes=40))
    world.jsm.close_alert(alert, world.clock.now())
    assert await world.poll_after(scheduler) == 1

    assert await world.status(request.id) == Status.REVOKED
    events = [r.event for r in await world.bot.audit.records() if r.request_id == request.id]
    assert events[-2:] == ["access.incident_ended", "access.revoked"]
    label = world.label(alert)
    assert any(f"{label} was resolved" in line and request.id in line for line in world.lines)


async def test_a_responder_removed_from_the_alert_loses_the_access(world: World) -> None:
    alert = world.jsm.open_alert("Checkout is down", [world.checkout, world.alice], NOW)
    request = await world.request("alice@example.com", "request checkout-db 2h")

    world.jsm.set_alert_responders(alert, [world.checkout, world.bob], NOW)
    assert await world.poll_after(Scheduler(world.bot)) == 1

    assert await world.status(request.id) == Status.REVOKED
    assert any("reassigned away from alice@example.com" in line for line in world.lines)


async def test_the_approvers_click_checks_the_alert_again(world: World) -> None:
    alert = world.jsm.open_alert("Card payments fail", [world.payments], NOW)
    pending = await world.request("bob@example.com", "request payments-db 1h")
    assert pending.status == Status.PENDING
    world.jsm.close_alert(alert, NOW)

    reply = await world.bot.dispatcher.handle(Actor("lead@example.com"), f"approve {pending.id}")

    assert not reply.ok
    assert reply.text == (
        f"bob@example.com may no longer have payments-db: {world.label(alert)} was "
        "resolved. The request was closed."
    )
    assert await world.status(pending.id) == Status.DENIED


@pytest.mark.parametrize("status", [500, 429, 403, 401], ids=["5xx", "throttled", "rights", "auth"])
async def test_a_failing_provider_is_one_sentence_and_no_access(world: World, status: int) -> None:
    world.jsm.open_alert("Checkout is down", [world.checkout, world.alice], NOW)
    for _ in range(5):  # every retry the client allows fails as well
        world.jsm.fail("*/v1/alerts", status)

    reply = await world.bot.dispatcher.handle(Actor("alice@example.com"), "request checkout-db")

    assert not reply.ok
    assert reply.text == NOT_CHECKED
    assert not [r for r in await world.bot.audit.records() if r.event == "request.created"]


async def test_a_poll_that_fails_keeps_the_access_until_one_succeeds(world: World) -> None:
    alert = world.jsm.open_alert("Checkout is down", [world.checkout, world.alice], NOW)
    request = await world.request("alice@example.com", "request checkout-db 2h")
    world.jsm.close_alert(alert, NOW)
    scheduler = Scheduler(world.bot)
    for _ in range(5):
        world.jsm.fail(f"*/v1/alerts/{alert.id}", 503)

    assert await world.poll_after(scheduler) == 0
    assert await world.status(request.id) == Status.ACTIVE
    assert await world.poll_after(scheduler) == 1
    assert await world.status(request.id) == Status.REVOKED


async def test_open_alerts_are_read_across_pages(world: World) -> None:
    for n in range(130):  # the newest first: alice's is on the second page
        world.jsm.open_alert(f"Noise {n}", [world.payments, world.bob], NOW + timedelta(seconds=n))
    world.jsm.open_alert("Checkout is down", [world.checkout, world.alice], NOW)

    granted = await world.request("alice@example.com", "request checkout-db 1h")

    assert granted.status == Status.ACTIVE
    pages = world.jsm.requests_to("*/v1/alerts")
    assert [r.param("offset") for r in pages[-2:]] == ["0", "100"]
    assert all(r.param("query") == "status:open" for r in pages)


async def test_why_and_oncall_name_the_alert(world: World) -> None:
    alert = world.jsm.open_alert("Checkout is down", [world.checkout, world.alice], NOW)
    label = world.label(alert)

    why = await world.say("alice@example.com", "why checkout-db")
    oncall = await world.say("bob@example.com", "oncall")

    assert f"✓ You are assigned to {label} on Checkout (JSM)." in why
    assert f"Checkout (JSM): {label} (open), assigned to alice@example.com" in oncall
    assert "Payments (JSM): no open alert" in oncall


SAME_NAMES = (
    POLICY
    + """
  og-checkout-db:
    request: {incident: ["opsgenie:service/Checkout"]}
    approve: {people: ["lead@example.com"]}
"""
)


@pytest.mark.parametrize("world", [SAME_NAMES], indirect=True)
async def test_oncall_keeps_a_jsm_teams_alerts_off_a_same_named_service(world: World) -> None:
    alert = world.jsm.open_alert("Checkout is down", [world.checkout, world.alice], NOW)

    oncall = await world.say("bob@example.com", "oncall")

    assert f"Checkout (JSM): {world.label(alert)} (open)" in oncall
    assert "Checkout (Opsgenie): no open incident" in oncall


async def test_a_policy_naming_a_team_jsm_lacks_is_reported(world: World) -> None:
    assert "The policy names groups this provider does not have: jsm:team/Nope" in (
        world.sync_summary
    )


async def test_policy_check_knows_jsm_teams_and_names_the_missing_one(
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
    assert "warning: jsm:team/Nope is not in the latest JSM roster" in out
    assert "Checkout" not in out and "Payments" not in out


async def test_polling_asks_a_bounded_number_of_alerts_per_tick(world: World) -> None:
    people = [world.jsm.add_user(f"r{i}@example.com", f"R{i}") for i in range(POLL_LIMIT + 5)]
    await world.bot.syncer.sync_all()
    for person in people:
        world.jsm.open_alert(f"Shard {person.name} down", [world.checkout, person], NOW)
        granted = await world.request(person.email, "request checkout-db 1h")
        assert granted.status == Status.ACTIVE
    scheduler = Scheduler(world.bot)

    def asked() -> int:
        return len(world.jsm.requests_to("*/v1/alerts/*"))

    await world.poll_after(scheduler)
    assert asked() == POLL_LIMIT
    await scheduler.poll_incidents()
    assert asked() == POLL_LIMIT + 5
    await scheduler.poll_incidents()
    assert asked() == POLL_LIMIT + 5
