"""Builders shared by tests: policies and rosters as YAML text, and a bot built through the real
composition root on a given database with a controllable clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any

from adapters.console.notifier import ConsoleNotifier
from adapters.slack.app import SlackConfig
from bot.chat_config import ChatConfig, slack_config, teams_settings
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
    slack: SlackConfig | None = None,
    fields: Mapping[str, Any] | None = None,
) -> Bot:
    """A bot wired exactly as `serve` wires it, on the roster file provider, synced once;
    `settings` adds environment settings by name (`fields` by field name), `slack` a Slack
    surface pointed at a fake
    (else Slack and Teams come from settings, as in `serve`). It closes itself as an async
    context manager: `async with await make_bot(...) as bot:`."""
    roster_path = tmp / "roster.yaml"
    roster_path.write_text(roster if roster is not None else roster_yaml(clock.now()))  # type: ignore[attr-defined]
    chosen = Settings(
        ONCALL_ACCESS_DATABASE_URL=database_url,
        ONCALL_ACCESS_ROSTER_FILE=str(roster_path),
        ONCALL_ACCESS_ADMINS=admins,
        ONCALL_ACCESS_EMAIL_ALIASES=aliases,
        _env_file=None,  # type: ignore[call-arg]
        **(settings or {}),
    )
    if fields:
        chosen = chosen.model_copy(update=dict(fields))
    out = lines if lines is not None else []
    bot = await build(
        chosen,
        policy=parse_policy(policy, "policy.yaml"),
        clock=clock,  # type: ignore[arg-type]
        notifiers=[ConsoleNotifier(out.append)] if console else [],
        chat=ChatConfig(slack or slack_config(chosen), teams_settings(chosen)),
    )
    outcome = await bot.syncer.sync(bot.providers[0])
    assert outcome.ok, outcome.error
    return bot
