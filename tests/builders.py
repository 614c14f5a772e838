"""Builders shared by tests: policies and rosters as YAML text, and a bot built through the real
composition root on a given database with a controllable clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from textwrap import dedent

from adapters.console.notifier import ConsoleNotifier
from bot.settings import Settings
from bot.wiring import Bot, build
from core.policy import parse_policy

POLICY = dedent(
    """
    version: 1
    defaults: {default_duration: 1h, max_duration: 8h, approval_timeout: 30m}
    resources:
      prod-db:
        description: Read-write on the production database
        request: {on_call: ["file:schedule/Primary SRE"]}
        approve:
          on_call: ["file:schedule/Secondary SRE"]
          people: ["lead@example.com"]
        max_duration: 4h
        require_reason: true
      grafana-admin:
        request: {on_call: ["file:schedule/Primary SRE"]}
        approve: {auto_if_on_call: true, people: ["lead@example.com"]}
        max_duration: 2h
    """
)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def roster_yaml(
    now: datetime,
    *,
    primary: str = "alice@example.com",
    secondary: str = "bob@example.com",
    extra_secondary: tuple[str, ...] = (),
) -> str:
    start, end = iso(now - timedelta(hours=1)), iso(now + timedelta(hours=7))
    lines = [
        "groups:",
        '  "schedule/Primary SRE":',
        f"    members: [{primary}]",
        "    on_call:",
        f'      - {{email: {primary}, start: "{start}", end: "{end}"}}',
        '  "schedule/Secondary SRE":',
        f"    members: [{secondary}]",
        "    on_call:",
        f'      - {{email: {secondary}, start: "{start}", end: "{end}"}}',
    ]
    for email in extra_secondary:
        lines.append(f'      - {{email: {email}, start: "{start}", end: "{end}"}}')
    return "\n".join(lines) + "\n"


async def make_bot(
    tmp: Path,
    database_url: str,
    clock: object,
    *,
    policy: str = POLICY,
    roster: str | None = None,
    admins: str = "lead@example.com",
    lines: list[str] | None = None,
    aliases: str = "",
    console: bool = True,
    settings: Mapping[str, str] | None = None,
) -> Bot:
    """A bot wired exactly as `serve` wires it, on the roster file provider, synced once;
    `settings` adds environment settings by name. It closes itself as an async context manager:
    `async with await make_bot(...) as bot:`."""
    roster_path = tmp / "roster.yaml"
    roster_path.write_text(roster if roster is not None else roster_yaml(clock.now()))  # type: ignore[attr-defined]
    settings = Settings(
        ONCALL_ACCESS_DATABASE_URL=database_url,
        ONCALL_ACCESS_ROSTER_FILE=str(roster_path),
        ONCALL_ACCESS_ADMINS=admins,
        ONCALL_ACCESS_EMAIL_ALIASES=aliases,
        _env_file=None,  # type: ignore[call-arg]
        **(settings or {}),
    )
    out = lines if lines is not None else []
    bot = await build(
        settings,
        policy=parse_policy(policy, "policy.yaml"),
        clock=clock,  # type: ignore[arg-type]
        notifiers=[ConsoleNotifier(out.append)] if console else [],
    )
    outcome = await bot.syncer.sync(bot.providers[0])
    assert outcome.ok, outcome.error
    return bot
