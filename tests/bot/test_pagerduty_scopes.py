"""PagerDuty OAuth scopes follow the policy: a policy with `pagerduty-role` grants makes the
connection ask for `users.write` / `teams.write`, a token granted less is named at connect (and
in `status`), and a policy change that needs more tells the admins to reconnect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from textwrap import dedent

import pytest

from adapters.console.notifier import ConsoleNotifier
from adapters.storage.crypto import new_key
from bot.policy_source import PolicySource, load_policy
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.wiring import Bot, build
from core.connections import ConnectForm
from core.identity import Actor
from tests.adapters.pagerduty.conftest import NOW, SmallOrg, seed_small
from tests.conftest import FakeClock
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.pagerduty.server import SCOPES

READ_ONLY = "version: 1\nresources:\n  wiki: {approve: {people: [lead@example.com]}}\n"
ROLE_GRANTS = dedent(
    """
    version: 1
    resources:
      pd-user:
        request: {on_call: ["pagerduty:schedule/Secondary SRE"]}
        approve: {auto_if_on_call: true, people: ["lead@example.com"]}
        grant: {type: pagerduty-role, role: user}
      platform-manager:
        request: {on_call: ["pagerduty:schedule/Secondary SRE"]}
        approve: {auto_if_on_call: true, people: ["lead@example.com"]}
        grant: {type: pagerduty-role, team: Platform, team_role: manager}
    """
)
APP = ConnectForm(
    "pagerduty", auth="oauth_client", client_id="cid", client_secret="csecret", subdomain="acme"
)
READS = set(SCOPES.values())


@pytest.fixture
async def pagerduty() -> AsyncIterator[tuple[FakePagerDuty, SmallOrg]]:
    async with FakePagerDuty(api_keys={"good-key"}, now=lambda: NOW) as fake:
        yield fake, seed_small(fake)


async def bot_with(tmp_path: Path, pd: FakePagerDuty, policy: str, lines: list[str]) -> Bot:
    path = tmp_path / "policy.yaml"
    path.write_text(policy)
    settings = Settings(
        ONCALL_ACCESS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        ONCALL_ACCESS_SECRET_KEY=new_key(),
        PAGERDUTY_API_URL=pd.url,
        PAGERDUTY_IDENTITY_URL=pd.url,
        ONCALL_ACCESS_ADMINS="lead@example.com",
        _env_file=None,  # type: ignore[call-arg]
    )
    return await build(
        settings,
        policy=PolicySource(load_policy(path), path),
        clock=FakeClock(NOW),
        notifiers=[ConsoleNotifier(lines.append)],
    )


def asked_scopes(pd: FakePagerDuty) -> list[str]:
    """The scopes of the last client-credentials token request, as PagerDuty received them."""
    forms = [c.form for c in pd.requests if c.path == "/oauth/token"]
    return str(forms[-1]["scope"]).split()[1:]


async def test_role_grants_ask_for_write_scopes_and_work_on_an_oauth_app(
    tmp_path: Path, pagerduty: tuple[FakePagerDuty, SmallOrg]
) -> None:
    pd, org = pagerduty
    pd.register_app("cid", "csecret", "acme", scopes=READS | {"users.write", "teams.write"})
    bot = await bot_with(tmp_path, pd, ROLE_GRANTS, [])
    try:
        assert bot.admin is not None
        result = await bot.admin.connect(APP, "lead@example.com")
        assert result.ok, result.message
        assert "did not grant" not in result.message
        assert {"users.write", "teams.write"} <= set(asked_scopes(pd))

        bob = Actor("bob@example.com")
        for resource in ("pd-user", "platform-manager"):
            reply = await bot.dispatcher.handle(bob, f"request {resource} 1h")
            assert reply.ok, reply.text
        assert (org.bob.id, "account", "limited_user", "user") in pd.role_changes
        assert (org.bob.id, "Platform", "responder", "manager") in pd.role_changes
    finally:
        await bot.close()


async def test_a_token_without_the_write_scopes_is_named_at_connect_and_in_status(
    tmp_path: Path, pagerduty: tuple[FakePagerDuty, SmallOrg]
) -> None:
    pd, _ = pagerduty
    pd.register_app("cid", "csecret", "acme", scopes=READS | {"teams.write"})
    bot = await bot_with(tmp_path, pd, ROLE_GRANTS, [])
    try:
        assert bot.admin is not None
        result = await bot.admin.connect(APP, "lead@example.com")

        assert result.ok, result.message  # the roster is readable; the grants are not
        expected = (
            "PagerDuty did not grant users.write (for the pagerduty-role grant of pd-user): "
            "add it to the OAuth app's scopes in PagerDuty"
        )
        assert expected in result.message
        assert "teams.write" not in result.message
        assert any(expected in line for line in await bot.admin.status_lines())
    finally:
        await bot.close()


async def test_a_read_only_policy_asks_for_read_scopes_only(
    tmp_path: Path, pagerduty: tuple[FakePagerDuty, SmallOrg]
) -> None:
    pd, _ = pagerduty
    pd.register_app("cid", "csecret", "acme", scopes=READS)
    bot = await bot_with(tmp_path, pd, READ_ONLY, [])
    try:
        assert bot.admin is not None
        result = await bot.admin.connect(APP, "lead@example.com")
        assert result.ok and "did not grant" not in result.message
        assert set(asked_scopes(pd)) == READS
    finally:
        await bot.close()


async def test_a_policy_change_needing_write_scopes_tells_the_admins_to_reconnect(
    tmp_path: Path, pagerduty: tuple[FakePagerDuty, SmallOrg]
) -> None:
    pd, _ = pagerduty
    pd.register_app("cid", "csecret", "acme", scopes=READS | {"users.write", "teams.write"})
    lines: list[str] = []
    bot = await bot_with(tmp_path, pd, READ_ONLY, lines)
    try:
        assert bot.admin is not None
        assert (await bot.admin.connect(APP, "lead@example.com")).ok
        (tmp_path / "policy.yaml").write_text(ROLE_GRANTS)

        assert await Scheduler(bot).reload_policy()

        [alert] = [line for line in lines if "to admins" in line]
        assert "The policy changed. PagerDuty did not grant teams.write" in alert
        assert "users.write (for the pagerduty-role grant of pd-user)" in alert
        assert "connect PagerDuty again" in alert

        assert (await bot.admin.connect(APP, "lead@example.com")).ok  # reconnecting mends it
        assert await bot.admin.scope_gap() is None
    finally:
        await bot.close()
