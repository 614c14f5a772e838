"""Audit checkpoints on a schedule (`ONCALL_ACCESS_AUDIT_CHECKPOINT_DIR`): two replicas on one
database write each slot's checkpoint once, signed, in a file `audit verify --checkpoint` reads;
a trail that no longer verifies is not vouched for. On a real SQLite file and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.scheduler import Scheduler
from core.audit_checkpoint import check_against, read_checkpoint
from core.identity import Actor
from tests.builders import make_bot
from tests.conftest import FakeClock

KEY = "k" * 40


async def test_two_replicas_write_each_slot_once_and_it_verifies(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    settings = {
        "ONCALL_ACCESS_AUDIT_CHECKPOINT_DIR": str(folder),
        "ONCALL_ACCESS_AUDIT_KEY": KEY,
    }
    async with (
        await make_bot(tmp_path, database_url, clock, settings=settings) as one,
        await make_bot(tmp_path, database_url, clock, settings=settings) as two,
    ):
        replicas = [Scheduler(one), Scheduler(two)]
        alice = Actor("alice@example.com")
        assert (await one.dispatcher.handle(alice, "request grafana-admin 30m")).ok
        for replica in replicas:
            await replica.checkpoint_if_due()
        assert list(folder.iterdir()) == []  # 12:00: the first slot is 13:00

        clock.advance(timedelta(hours=1, seconds=20))
        for replica in replicas:
            await replica.checkpoint_if_due()
            await replica.checkpoint_if_due()

        [written] = list(folder.iterdir())
        assert written.name == "audit-checkpoint-20261123T130000Z.json"
        checkpoint = read_checkpoint(written.read_text(), one.settings.audit_keys)
        records = await one.audit.records()
        assert checkpoint.key_id is not None
        assert checkpoint.seq == records[-1].seq
        assert check_against(checkpoint, records) is None

        clock.advance(timedelta(hours=1))
        await replicas[1].checkpoint_if_due()
        assert len(list(folder.iterdir())) == 2


async def test_a_trail_that_does_not_verify_gets_no_checkpoint(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    settings = {"ONCALL_ACCESS_AUDIT_CHECKPOINT_DIR": str(folder), "ONCALL_ACCESS_AUDIT_KEY": KEY}
    async with await make_bot(tmp_path, sqlite_url, clock, settings=settings) as bot:
        scheduler = Scheduler(bot)
        await scheduler.checkpoint_if_due()
        assert (
            await bot.dispatcher.handle(Actor("alice@example.com"), "request grafana-admin 30m")
        ).ok
        async with bot.engine.begin() as conn:
            await conn.execute(text("UPDATE audit_events SET actor = 'mallory@example.com'"))
        clock.advance(timedelta(hours=1))

        await scheduler.checkpoint_if_due()

    assert list(folder.iterdir()) == []
    assert any("no audit checkpoint written" in r.getMessage() for r in caplog.records)


def test_a_folder_that_cannot_be_written_stops_the_start(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from bot.settings import Settings

    with pytest.raises(ValidationError, match="is not a folder this process can write"):
        Settings(
            ONCALL_ACCESS_AUDIT_CHECKPOINT_DIR=str(tmp_path / "missing"),
            _env_file=None,  # type: ignore[call-arg]
        )
