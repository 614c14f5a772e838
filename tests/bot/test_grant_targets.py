"""Entra ID, Okta and GitHub as grant targets through the bot as `serve` wires it: connected by an
admin (verified live, sealed at rest, audited), used by a resource whose grants give and take
back memberships on a real SQLite file, shown in `status` with their health, and disconnected."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from adapters.console.notifier import ConsoleNotifier
from adapters.storage.crypto import new_key
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.wiring import Bot, build
from core.commands import parse
from core.connections import ConnectForm
from core.identity import Actor
from core.policy import parse_policy
from core.requests import Status
from tests.builders import roster_yaml
from tests.conftest import FakeClock
from tests.fakes.github import FakeGitHub
from tests.fakes.graph import FakeGraph
from tests.fakes.okta import FakeOkta

TENANT = "6b9f1c0e-4a53-4c1e-9f7e-1d2c3b4a5f60"
CLIENT = "0e5ac3d2-7f1b-4a8e-b0c9-112233445566"
SECRET = "graph-secret-value"
ADMIN = Actor("lead@example.com")


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph() as fake:
        fake.add_app(TENANT, CLIENT, secret=SECRET)
        yield fake


@pytest.fixture
async def okta() -> AsyncIterator[FakeOkta]:
    async with FakeOkta() as fake:
        yield fake


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub() as fake:
        yield fake


def policy(group: str, okta_group: str) -> str:
    return dedent(
        f"""
        version: 1
        resources:
          prod-access:
            request: {{on_call: ["file:schedule/Primary SRE"]}}
            approve: {{auto_if_on_call: true, people: ["lead@example.com"]}}
            max_duration: 2h
            grant:
              - {{type: entra-group, group: "{group}"}}
              - {{type: okta-group, group: "{okta_group}"}}
              - {{type: github-team, org: acme, team: sre-oncall}}
        """
    )


async def bot_for(
    tmp_path: Path,
    clock: FakeClock,
    graph: FakeGraph,
    github: FakeGitHub,
    policy_text: str,
    lines: list[str],
) -> Bot:
    roster = tmp_path / "roster.yaml"
    roster.write_text(roster_yaml(clock.now()))
    settings = Settings(
        ONCALL_ACCESS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        ONCALL_ACCESS_ROSTER_FILE=str(roster),
        ONCALL_ACCESS_ADMINS="lead@example.com",
        ONCALL_ACCESS_SECRET_KEY=(tmp_path / "key").read_text(),
        GRAPH_API_URL=graph.url,
        ENTRA_LOGIN_URL=graph.url,
        GITHUB_API_URL=github.url,
        _env_file=None,  # type: ignore[call-arg]
    )
    bot = await build(
        settings,
        policy=parse_policy(policy_text, "policy.yaml"),
        clock=clock,
        notifiers=[ConsoleNotifier(lines.append)],
    )
    assert (await bot.syncer.sync(bot.providers[0])).ok
    return bot


async def test_three_targets_connected_granted_revoked_and_shown_in_status(
    tmp_path: Path, clock: FakeClock, graph: FakeGraph, okta: FakeOkta, github: FakeGitHub
) -> None:
    (tmp_path / "key").write_text(new_key())
    alice_graph = graph.add_user("alice@example.com")
    sre = graph.add_group("SRE break-glass")
    alice_okta = okta.add_user("alice@example.com")
    okta_group = okta.add_group("SRE On-call")
    okta_token = okta.add_token()
    github.add_account("alice-gh", org="acme")
    team = github.add_team("acme", "sre-oncall")
    github_token = github.add_token()
    lines: list[str] = []
    bot = await bot_for(tmp_path, clock, graph, github, policy(sre.id, okta_group.name), lines)
    try:
        assert bot.admin is not None
        connected = [
            await bot.admin.connect(
                ConnectForm("entra", tenant=TENANT, client_id=CLIENT, client_secret=SECRET),
                ADMIN.email,
            ),
            await bot.admin.connect(
                ConnectForm("okta", org_url=okta.url, api_token=okta_token), ADMIN.email
            ),
            await bot.admin.connect(
                ConnectForm("github", org="acme", api_token=github_token), ADMIN.email
            ),
        ]
        assert all(c.ok for c in connected), [c.message for c in connected]
        assert connected[0].message.startswith("Connected Microsoft Entra ID for grants.")
        with sqlite3.connect(tmp_path / "bot.db") as db:
            sealed = " ".join(r[0] for r in db.execute("SELECT secret FROM provider_connections"))
        assert SECRET not in sealed and okta_token not in sealed and github_token not in sealed
        trail = " ".join(str(r.detail) for r in await bot.audit.records())
        assert SECRET not in trail and okta_token not in trail and github_token not in trail

        reply = await bot.dispatcher.execute(
            ADMIN, parse("identity map github:alice-gh alice@example.com")
        )
        assert reply.ok, reply.text

        status = await bot.dispatcher.execute(ADMIN, parse("status"))
        text = "\n".join(status.lines)
        assert "Microsoft Entra ID (for grants): connected" in text
        assert f"Grant target Entra ID group {sre.id}: OK" in text
        assert "Grant target Okta group SRE On-call: OK" in text
        assert "Grant target GitHub team acme/sre-oncall: OK" in text

        approved = await bot.service.request(
            Actor("alice@example.com"), "prod-access", timedelta(minutes=30), "INC-7"
        )
        granted = await bot.service.get(approved.id)
        assert granted.status == Status.ACTIVE, lines
        assert alice_graph.id in sre.members
        assert alice_okta.id in okta_group.members
        assert team.members == {"alice-gh": "member"}

        clock.advance(timedelta(minutes=31))
        await Scheduler(bot).run_lifecycle()
        assert (await bot.service.get(approved.id)).status == Status.EXPIRED
        assert sre.members == set() and okta_group.members == set() and team.members == {}
    finally:
        await bot.close()


async def test_a_wrong_secret_stores_nothing_and_a_disconnected_target_refuses_in_a_sentence(
    tmp_path: Path, clock: FakeClock, graph: FakeGraph, okta: FakeOkta, github: FakeGitHub
) -> None:
    (tmp_path / "key").write_text(new_key())
    graph.add_user("alice@example.com")
    sre = graph.add_group("SRE break-glass")
    lines: list[str] = []
    text = dedent(
        f"""
        version: 1
        resources:
          prod-access:
            request: {{on_call: ["file:schedule/Primary SRE"]}}
            approve: {{auto_if_on_call: true, people: ["lead@example.com"]}}
            grant: {{type: entra-group, group: "{sre.id}"}}
        """
    )
    bot = await bot_for(tmp_path, clock, graph, github, text, lines)
    try:
        assert bot.admin is not None
        wrong = await bot.admin.connect(
            ConnectForm("entra", tenant=TENANT, client_id=CLIENT, client_secret="nope-nope"),
            ADMIN.email,
        )
        assert not wrong.ok and wrong.field == "client_secret"
        assert "AADSTS7000215" in wrong.message and "nope-nope" not in wrong.message
        assert await bot.admin.store.providers() == []

        status = "\n".join((await bot.dispatcher.execute(ADMIN, parse("status"))).lines)
        assert "Microsoft Entra ID is not connected" in status  # the target's health says why

        ok = await bot.admin.connect(
            ConnectForm("entra", tenant=TENANT, client_id=CLIENT, client_secret=SECRET),
            ADMIN.email,
        )
        assert ok.ok
        message = await bot.admin.disconnect("entra", ADMIN.email)
        assert message.startswith("Disconnected Microsoft Entra ID")
        approved = await bot.service.request(
            Actor("alice@example.com"), "prod-access", timedelta(minutes=30), ""
        )
        assert (await bot.service.get(approved.id)).status == Status.APPROVED  # retried later
        assert any("Microsoft Entra ID is not connected" in line for line in lines), lines
        assert sre.members == set()
    finally:
        await bot.close()
