"""Hostile or broken policy and roster files: `policy check`, the policy reload and the roster
file sync each answer with one short sentence naming the file and line, never a traceback or a
192 MB error, and read the file off the event loop so Slack and Teams are still answered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from adapters.rosterfile.provider import FileRosterProvider
from bot.scheduler import Scheduler
from tests.bot.clirun import fresh_directory, run
from tests.builders import POLICY, make_bot
from tests.conftest import FakeClock
from tests.core.test_yamlread import laughs

DUPLICATE_RESOURCE = (
    POLICY
    + """\
  prod-db:
    request: {people: ["mallory@example.com"]}
    approve: {auto_if_on_call: false, people: ["mallory@example.com"]}
"""
)
HOSTILE: dict[str, bytes] = {
    "laughs": ("version: 1\n" + laughs()).encode(),
    "duplicate": DUPLICATE_RESOURCE.encode(),
    "huge-int": b"version: " + b"9" * 5000 + b"\n",
    "not-utf8": b"version: 1\nresources:\n  caf\xe9: {}\n",
    "deep": b"version: 1\nresources: " + b"[" * 50_000 + b"\n",
    "nul": b"version: 1\n\x00\n",
    "no-date": b"version: 1\nresources:\n  x: {description: 2026-02-30}\n",
}
SECOND_PROD_DB = DUPLICATE_RESOURCE.splitlines().index("  prod-db:", 5) + 1
LINE = {
    "duplicate": SECOND_PROD_DB,
    "huge-int": 1,
    "not-utf8": 3,
    "deep": 2,
    "nul": 2,
    "no-date": 3,
}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fresh_directory(monkeypatch, tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", list(HOSTILE))
def test_policy_check_refuses_a_hostile_file_in_a_sentence(
    name: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "policy.yaml").write_bytes(HOSTILE[name])

    ran = run(capsys, "policy", "check", "policy.yaml")

    assert ran.code == 1
    assert "Traceback" not in ran.text
    assert len(ran.err) < 500, ran.err[:500]
    first = ran.err.splitlines()[0]
    assert first.startswith(f"policy.yaml:{LINE.get(name, 1)}: "), ran.err


def test_a_second_resource_of_the_same_name_is_refused_not_swapped_in(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "policy.yaml").write_text(DUPLICATE_RESOURCE)

    ran = run(capsys, "policy", "check", "policy.yaml")

    assert ran.code == 1
    first = DUPLICATE_RESOURCE.splitlines().index("  prod-db:") + 1
    assert (
        f"policy.yaml:{SECOND_PROD_DB}: the key `prod-db` is written twice (first on line {first})"
        in ran.err
    )


async def turns_of_the_loop_while(work: Awaitable[Any]) -> tuple[int, Any]:
    """How often the event loop ran other work while `work` ran (1: it was blocked throughout)."""
    task = asyncio.ensure_future(work)
    turns = 0
    while not task.done():
        turns += 1
        await asyncio.sleep(0)
    return turns, task.result()


def big_valid_policy() -> str:
    resource = '  r{i}:\n    request: {{people: ["a@example.com"]}}\n    approve: {{people: ["b@example.com"]}}\n'
    return "version: 1\nresources:\n" + "".join(resource.format(i=i) for i in range(300))


async def test_a_hostile_policy_reload_keeps_the_old_policy_with_one_sentence(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await make_bot(tmp_path, sqlite_url, clock)
    try:
        scheduler, before = Scheduler(bot), bot.policy()
        bot.policy.path = tmp_path / "policy.yaml"
        for name, content in HOSTILE.items():
            bot.policy.path.write_bytes(content)
            caplog.clear()

            assert await scheduler.reload_policy() is False, name

            assert bot.policy() is before
            assert scheduler.policy_error and len(scheduler.policy_error) < 500
            assert not [r for r in caplog.records if r.exc_info], name
    finally:
        await bot.close()


async def test_a_policy_reload_leaves_the_event_loop_free(
    tmp_path: Path, sqlite_url: str, clock: FakeClock
) -> None:
    bot = await make_bot(tmp_path, sqlite_url, clock)
    try:
        bot.policy.path = tmp_path / "policy.yaml"
        bot.policy.path.write_text(big_valid_policy())

        turns, reloaded = await turns_of_the_loop_while(Scheduler(bot).reload_policy())

        assert reloaded is True
        assert len(bot.policy().resources) == 300
        assert turns > 1
    finally:
        await bot.close()


async def test_a_roster_file_sync_leaves_the_event_loop_free(tmp_path: Path) -> None:
    people = "".join(f"  - {{email: p{i}@example.com, name: P {i}}}\n" for i in range(1500))
    (tmp_path / "roster.yaml").write_text("people:\n" + people)
    provider = FileRosterProvider(tmp_path / "roster.yaml", FakeClock().now)

    turns, fetched = await turns_of_the_loop_while(provider.fetch())

    assert len(fetched.snapshot.people) == 1500
    assert turns > 1


ROSTERS: dict[str, bytes] = {
    "laughs": laughs().replace("a0: &a0 [lol", "people: &a0 [lol").encode(),
    "duplicate": b'groups:\n  "schedule/A": {members: [a@example.com]}\n  "schedule/A": {}\n',
    "not-utf8": b"people:\n  - {email: \xff@example.com}\n",
    "deep": b"groups: " + b"{a: " * 10_000,
    "mixed-keys": b"1: x\nfoo: y\n",
    "list-as-name": b"people:\n  - {email: a@example.com, name: &n [[1, 2], [3]]}\n",
    "list-as-time": b'groups:\n  "schedule/A":\n    on_call: [{email: a@example.com, start: [1]}]\n',
}


@pytest.mark.parametrize("name", list(ROSTERS))
async def test_a_hostile_roster_file_fails_the_sync_in_one_short_sentence(
    name: str,
    tmp_path: Path,
    sqlite_url: str,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = await make_bot(tmp_path, sqlite_url, clock)
    try:
        (tmp_path / "roster.yaml").write_bytes(ROSTERS[name])
        caplog.set_level(logging.INFO)

        outcome = await bot.syncer.sync(bot.providers[0])

        assert not outcome.ok
        assert outcome.error and len(outcome.error) < 500, (outcome.error or "")[:500]
        assert str(tmp_path / "roster.yaml") in outcome.error
        assert not [r for r in caplog.records if r.exc_info]
        [status] = [h for h in await bot.rosters.health() if h.last_error]
        assert status.last_error == outcome.error
    finally:
        await bot.close()
