"""Long CLI work shows its progress on a terminal and stays quiet elsewhere.

The commands run in-process as a user runs them (`main([...])`), against a fake PagerDuty serving
from its own thread (the CLI runs its own event loop); "a terminal" is a real pseudo-terminal
standing in for stderr, so rich decides exactly as it would for a person.
"""

from __future__ import annotations

import asyncio
import os
import pty
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.storage.crypto import new_key
from tests.bot.clirun import fresh_directory, run
from tests.fakes.pagerduty import FakePagerDuty, generate_org


@contextmanager
def pagerduty_in_a_thread() -> Iterator[FakePagerDuty]:
    now = datetime.now(UTC)
    fake = FakePagerDuty(api_keys={"key"}, latency=0.01, record_bodies=False)
    generate_org(fake, users=2_500, schedules=150, escalation_policies=45, seed=3, now=now)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fake.__aenter__())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(fake.__aexit__(None, None, None))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield fake
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def terminal_as_stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """stderr is a pseudo-terminal; what was drawn on it is collected (read as it comes, so a
    full terminal buffer never blocks the command)."""
    leader, follower = pty.openpty()
    drawn: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                return
            if not chunk:
                return
            drawn.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    tty = os.fdopen(follower, "w", encoding="utf-8")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stderr", tty)
    try:
        yield drawn
    finally:
        monkeypatch.setattr(sys, "stderr", sys.__stderr__)
        tty.close()
        reader.join(5)
        os.close(leader)


@pytest.fixture
def connected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[FakePagerDuty]:
    fresh_directory(monkeypatch, tmp_path)
    monkeypatch.setenv("ONCALL_ACCESS_SECRET_KEY", new_key())
    (tmp_path / "key.txt").write_text("key\n", encoding="utf-8")
    with pagerduty_in_a_thread() as fake:
        monkeypatch.setenv("PAGERDUTY_API_URL", fake.url)
        yield fake


def test_connect_and_sync_on_a_terminal_show_calls_and_records_as_they_go(
    connected: FakePagerDuty, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with terminal_as_stderr(monkeypatch) as drawn:
        ran = run(capsys, "connect", "pagerduty", "--api-key-file", "key.txt")
    assert ran.code == 0, ran.text
    shown = b"".join(drawn).decode("utf-8", "replace")
    assert "Syncing rosters" in shown and "records read" in shown and "API calls" in shown
    assert "PagerDuty: synced" in ran.out  # the summary still comes at the end

    with terminal_as_stderr(monkeypatch) as drawn:
        ran = run(capsys, "sync")
    assert ran.code == 0, ran.text
    shown = b"".join(drawn).decode("utf-8", "replace")
    assert "Syncing rosters" in shown and "API calls" in shown


def test_off_a_terminal_a_sync_prints_one_summary_line_and_nothing_else(
    connected: FakePagerDuty, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "connect", "pagerduty", "--api-key-file", "key.txt").code == 0
    ran = run(capsys, "sync")
    assert ran.code == 0, ran.text
    (line,) = ran.out.splitlines()
    assert line.startswith("PagerDuty: synced") and "API calls" in line
    assert "Syncing rosters" not in ran.err


def test_audit_export_and_verify_show_events_on_a_terminal_and_stay_quiet_elsewhere(
    connected: FakePagerDuty,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    assert run(capsys, "connect", "pagerduty", "--api-key-file", "key.txt").code == 0
    for _ in range(3):
        assert run(capsys, "sync").code == 0
    with terminal_as_stderr(monkeypatch) as drawn:
        exported = run(capsys, "audit", "export", "--out", str(tmp_path / "trail.jsonl"))
        verified = run(capsys, "audit", "verify")
    assert exported.code == 0 and verified.code == 0, exported.text + verified.text
    shown = b"".join(drawn).decode("utf-8", "replace")
    assert "Exporting the audit trail" in shown and "Reading the audit trail" in shown
    assert "events" in shown

    quiet = run(capsys, "audit", "verify")
    assert quiet.code == 0 and quiet.out.startswith("Audit trail intact: 5 events")
    assert "Reading the audit trail" not in quiet.err
