"""`oncall-access prune` with ONCALL_ACCESS_RETENTION: the oldest events and the finished
requests only they mention go, and the trail stays verifiable: `audit verify` passes, says where
the trail now starts, still compares what was kept (requests still active, identity mappings) with
what the removed events established, and finds events removed without a recorded cut. On a real
SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.identity import Actor
from tests.bot.clirun import run, run_async
from tests.bot.test_audit_verify import KEY, _bot, tamper, url  # noqa: F401
from tests.conftest import FakeClock

ALICE, BOB, LEAD = (Actor(f"{n}@example.com") for n in ("alice", "bob", "lead"))


async def _history(folder: Path, database_url: str) -> dict[str, str]:
    """700 days ago: a grant given back, an identity mapping, and an approved grant still
    recorded as active; 500 days ago: a grant given back; now: a grant."""
    ids: dict[str, str] = {}
    for label, days in (("old", 700), ("middle", 500), ("new", 0)):
        clock = FakeClock(datetime.now(UTC) - timedelta(days=days, minutes=10))
        bot = await _bot(folder, database_url, KEY, clock)
        try:
            granted = await bot.dispatcher.handle(ALICE, "request grafana-admin 30m")
            assert granted.request, granted.text
            ids[label] = granted.request.id
            if label == "new":
                continue
            clock.advance(timedelta(minutes=1))
            assert (await bot.dispatcher.handle(ALICE, f"revoke {granted.request.id}")).ok
            if label == "old":
                mapped = await bot.dispatcher.handle(
                    LEAD, "identity map slack:U0OLD0001 dave@example.com"
                )
                assert mapped.ok, mapped.text
                asked = await bot.dispatcher.handle(ALICE, 'request prod-db 1h "INC-1"')
                assert asked.request, asked.text
                assert (await bot.dispatcher.handle(BOB, f"approve {asked.request.id}")).ok
                ids["still-active"] = asked.request.id
        finally:
            await bot.close()
    return ids


def history(folder: Path, database_url: str) -> dict[str, str]:
    return run_async(_history(folder, database_url))  # type: ignore[no-any-return]


def _events(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    ran = run(capsys, "audit", "export")
    assert ran.code == 0, ran.text
    return [json.loads(line) for line in ran.out.splitlines()]


@pytest.fixture(autouse=True)
def keyed(url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """After `url` has cleared the environment: the CLI runs with the key the trail was made with."""
    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)


def test_pruning_removes_old_finished_requests_and_the_trail_still_verifies(
    url: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = history(tmp_path, url)
    before = _events(capsys)
    old = [
        e for e in before if str(e["at"]) < (datetime.now(UTC) - timedelta(days=600)).isoformat()
    ]
    monkeypatch.setenv("ONCALL_ACCESS_RETENTION", "600d")

    pruned = run(capsys, "prune", "--archive", str(tmp_path / "archive.jsonl"))

    assert pruned.code == 0, pruned.text
    assert pruned.out.startswith(
        f"Removed {len(old)} audit events (up to event {old[-1]['seq']}) and 1 finished requests"
    ), pruned.out
    archived = [json.loads(line) for line in (tmp_path / "archive.jsonl").read_text().splitlines()]
    assert archived == old
    after = _events(capsys)
    assert after[0]["seq"] == old[-1]["seq"] + 1  # type: ignore[operator]
    assert after[-1]["event"] == "audit.pruned"
    assert after[-1]["detail"]["through_hash"] == old[-1]["hash"]  # type: ignore[index]
    verified = run(capsys, "audit", "verify")
    assert verified.code == 0, verified.text
    assert f"Events 1-{old[-1]['seq']} were removed by retention" in verified.out
    assert (
        "The database matches the trail: 3 requests, 1 identity mappings, 0 audited settings."
        in verified.out
    )
    mine = run(capsys, "identity", "list")
    assert "dave@example.com" in mine.out
    assert ids["old"] not in json.dumps(after[:-1])


def test_a_second_cut_builds_on_the_first_and_kept_rows_are_still_checked(
    url: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = history(tmp_path, url)
    monkeypatch.setenv("ONCALL_ACCESS_RETENTION", "600d")
    assert run(capsys, "prune").code == 0
    monkeypatch.setenv("ONCALL_ACCESS_RETENTION", "400d")

    second = run(capsys, "prune")

    assert second.code == 0, second.text
    assert "and 1 finished requests" in second.out
    verified = run(capsys, "audit", "verify")
    assert verified.code == 0, verified.text
    assert "The database matches the trail: 2 requests, 1 identity mappings" in verified.out
    tamper(
        url,
        f"UPDATE requests SET duration_seconds = 86400 WHERE id = '{ids['still-active']}'",
        "UPDATE kv SET value = '\"dave@evil.example\"' WHERE key = 'identity:slack:U0OLD0001'",
    )
    tampered = run(capsys, "audit", "verify")
    assert tampered.code == 1
    assert f"request {ids['still-active']}: duration_seconds in the database 86400" in tampered.err
    assert "identity mapping slack:U0OLD0001: in the database dave@evil.example" in tampered.err


def test_events_removed_without_a_recorded_cut_are_found(
    url: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history(tmp_path, url)
    monkeypatch.setenv("ONCALL_ACCESS_RETENTION", "600d")
    assert run(capsys, "prune").code == 0
    events = _events(capsys)
    hidden = events[2]  # two more events removed, and the recorded start moved past them
    tamper(
        url,
        f"DELETE FROM audit_events WHERE seq <= {hidden['seq']}",
        "UPDATE kv SET value = '"
        + json.dumps({"seq": hidden["seq"], "hash": hidden["hash"]})
        + "' WHERE key = 'audit:start'",
    )

    verified = run(capsys, "audit", "verify")

    assert verified.code == 1
    assert (
        f"Audit trail TAMPERED: events up to {hidden['seq']} are missing and no audit.pruned "
        "event records their removal" in verified.err
    )
    refused = run(capsys, "prune")
    assert refused.code == 1
    assert "does not verify" in refused.err and "nothing was removed" in refused.err


def test_dry_run_says_what_would_go_and_changes_nothing(
    url: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history(tmp_path, url)
    before = _events(capsys)
    monkeypatch.setenv("ONCALL_ACCESS_RETENTION", "600d")

    ran = run(capsys, "prune", "--dry-run", "--archive", str(tmp_path / "archive.jsonl"))

    assert ran.code == 0, ran.text
    assert ran.out.startswith("Would remove ") and ran.out.endswith("Nothing was changed.\n")
    assert _events(capsys) == before
    assert not (tmp_path / "archive.jsonl").exists()


def test_a_checkpoint_from_before_the_cut_still_checks(
    url: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history(tmp_path, url)
    assert run(capsys, "audit", "checkpoint", "--out", str(tmp_path / "head.json")).code == 0
    monkeypatch.setenv("ONCALL_ACCESS_RETENTION", "600d")
    assert run(capsys, "prune").code == 0

    verified = run(capsys, "audit", "verify", "--checkpoint", str(tmp_path / "head.json"))

    assert verified.code == 0, verified.text
    assert "is still in the trail (signed with key id" in verified.out


def test_without_the_setting_nothing_is_removed(
    url: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    history(tmp_path, url)
    before = _events(capsys)

    ran = run(capsys, "prune")

    assert ran.code == 2
    assert "ONCALL_ACCESS_RETENTION is not set, so everything is kept" in ran.err
    assert _events(capsys) == before


def test_export_of_a_period_holds_exactly_the_events_of_that_period(
    url: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    history(tmp_path, url)
    everything = _events(capsys)
    now = datetime.now(UTC)
    since, until = now - timedelta(days=600), now - timedelta(days=400)
    in_berlin = until.astimezone(timezone(timedelta(hours=1))).isoformat()  # same instant

    ran = run(capsys, "audit", "export", "--since", since.isoformat(), "--until", in_berlin)

    assert ran.code == 0, ran.text
    period = [json.loads(line) for line in ran.out.splitlines()]
    expected = [e for e in everything if since.isoformat() <= _utc(e["at"]) < until.isoformat()]
    assert period == expected
    assert {e["request_id"] for e in period if e["request_id"]} and len(period) < len(everything)
    day = run(capsys, "audit", "export", "--since", since.date().isoformat(), "--format", "csv")
    assert day.code == 0 and day.out.count("\n") > len(period)
    with pytest.raises(SystemExit) as bad:
        run(capsys, "audit", "export", "--since", "last tuesday")
    assert bad.value.code == 2
    assert "`last tuesday` is not a date or time" in capsys.readouterr().err


def _utc(at: object) -> str:
    return datetime.fromisoformat(str(at).replace("Z", "+00:00")).isoformat()
