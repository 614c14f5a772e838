"""The `oncall-access` command line as the README describes it: what each command prints and the
exit code it ends with (0 ok, 1 refused or failed, 2 bad usage or settings), never a traceback."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp import web

from core.identity import Actor
from tests.bot.clirun import (
    Ran,
    feed_stdin,
    fresh_directory,
    run,
    run_async,
    sql,
    write_policy_and_roster,
)
from tests.builders import POLICY, make_bot
from tests.conftest import FakeClock

COLUMNS = [
    "seq",
    "at",
    "event",
    "request_id",
    "resource",
    "actor",
    "subject",
    "detail",
    "prev_hash",
    "hash",
    "key_id",
]
UTC_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fresh_directory(monkeypatch, tmp_path)
    return tmp_path


def _no_traceback(ran: Ran) -> None:
    assert "Traceback" not in ran.text, ran.text


# -- policy check ---------------------------------------------------------------------------------


def test_policy_check_accepts_a_good_file(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "policy.yaml").write_text(POLICY)

    ran = run(capsys, "policy", "check", "policy.yaml")

    assert ran.code == 0, ran.text
    assert "policy.yaml: OK, 2 resources, 0 birthright rules." in ran.out
    assert ran.err == ""


BAD_POLICY = """\
version: 1
defaults: {default_duration: 1h, max_duration: 8h}
resources:
  prod-db:
    request: {on_call: ["nope:schedule/Primary SRE"]}
    approve: {people: ["not-an-email"]}
    max_duration: 2x
    colour: blue
"""


def test_policy_check_names_every_problem_with_its_line(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "bad.yaml").write_text(BAD_POLICY)

    ran = run(capsys, "policy", "check", "bad.yaml")

    assert ran.code == 1
    problems = [line for line in ran.err.splitlines() if re.match(r"bad\.yaml:\d+: ", line)]
    by_line = {int(p.split(":")[1]): p for p in problems}
    assert sorted(by_line) == [5, 6, 7, 8], ran.err
    assert "`nope` is not a provider" in by_line[5]
    assert "'not-an-email' is not an email address" in by_line[6]
    assert "'2x' is not a duration" in by_line[7]
    assert "colour: unknown key" in by_line[8]
    assert "bad.yaml: 4 problem(s); the policy was not accepted." in ran.err
    assert ran.out == ""
    _no_traceback(ran)


def test_policy_check_names_the_line_of_broken_yaml(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "broken.yaml").write_text("version: 1\nresources:\n  prod-db:\n\tapprove: {}\n")

    ran = run(capsys, "policy", "check", "broken.yaml")

    assert ran.code == 1
    assert ran.err.splitlines()[0].startswith("broken.yaml:4: "), ran.err
    _no_traceback(ran)


def test_policy_check_of_a_missing_file_says_it_cannot_read_it(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = run(capsys, "policy", "check", "missing.yaml")

    assert ran.code == 1
    assert "missing.yaml: cannot read (No such file or directory)" in ran.err
    _no_traceback(ran)


def test_policy_check_reports_groups_the_synced_roster_does_not_have(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy_and_roster(monkeypatch, folder)
    assert run(capsys, "sync").code == 0
    (folder / "new.yaml").write_text(
        dedent(
            """\
            version: 1
            resources:
              prod-db:
                request: {on_call: ["file:schedule/Primary SRE"]}
                approve: {on_call: ["file:schedule/Tertiary SRE", "pagerduty:schedule/Ops"]}
            """
        )
    )

    ran = run(capsys, "policy", "check", "new.yaml")

    assert ran.code == 0, ran.text
    assert "new.yaml: OK" in ran.out
    assert "warning: file:schedule/Tertiary SRE is not in the latest roster file roster" in ran.out
    assert "note: pagerduty:schedule/Ops cannot be checked: PagerDuty has no roster yet" in ran.out
    assert "file:schedule/Primary SRE" not in ran.out


def test_policy_check_reports_a_bad_resource_name_and_the_other_problems_too(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "bad.yaml").write_text(
        dedent(
            """\
            version: 1
            resources:
              prod db:
                approve: {people: ["lead@example.com"]}
              other:
                approve: {people: ["not-an-email"]}
            """
        )
    )

    ran = run(capsys, "policy", "check", "bad.yaml")

    assert ran.code == 1
    assert "must be one word" in ran.err
    assert "bad.yaml:6: " in ran.err and "'not-an-email' is not an email address" in ran.err


# -- db upgrade and databases from a newer release ------------------------------------------------


def test_db_upgrade_creates_the_schema_then_says_it_is_current(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run(capsys, "db", "upgrade")
    again = run(capsys, "db", "upgrade")

    assert first.code == 0, first.text
    upgraded = re.fullmatch(r"Database upgraded from empty to revision (\w+)\.", first.out.strip())
    assert upgraded, first.out
    assert again.code == 0, again.text
    assert again.out.strip() == f"Database already at revision {upgraded.group(1)}."
    assert (folder / "oncall-access.db").exists()


@pytest.mark.parametrize(
    "command", [("db", "upgrade"), ("audit", "verify"), ("audit", "export"), ("sync",)]
)
def test_a_database_from_a_newer_release_is_refused_and_left_alone(
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
) -> None:
    write_policy_and_roster(monkeypatch, folder)
    assert run(capsys, "db", "upgrade").code == 0
    db = folder / "oncall-access.db"
    sql(db, "UPDATE alembic_version SET version_num = '0099'")

    ran = run(capsys, *command)

    assert ran.code == 1
    assert "schema revision 0099, written by a newer oncall-access" in ran.err
    assert "upgrade oncall-access" in ran.err
    _no_traceback(ran)
    assert sql(db, "SELECT version_num FROM alembic_version") == [("0099",)]


# -- audit export and verify ----------------------------------------------------------------------


async def _seed_trail(folder: Path, url: str) -> list[str]:
    """A roster sync, an auto-approved grant and an approved one; returns the request ids."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=123456))
    bot = await make_bot(folder, url, clock)
    try:
        alice, bob = Actor("alice@example.com"), Actor("bob@example.com")
        auto = await bot.dispatcher.handle(alice, "request grafana-admin 30m")
        clock.advance(timedelta(minutes=1))
        asked = await bot.dispatcher.handle(alice, 'request prod-db 1h "INC-4411 failover"')
        assert asked.request is not None, asked.text
        clock.advance(timedelta(minutes=2))
        approved = await bot.dispatcher.handle(bob, f"approve {asked.request.id} looks right")
        assert approved.ok, approved.text
        assert auto.request is not None, auto.text
        return [auto.request.id, asked.request.id]
    finally:
        await bot.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """One seeded trail per module; each test gets its own copy of the database file."""
    where = tmp_path_factory.mktemp("seeded")
    ids = run_async(_seed_trail(where, f"sqlite+aiosqlite:///{where / 'oncall-access.db'}"))
    return where / "oncall-access.db", ids


@pytest.fixture
def trail(folder: Path, seeded: tuple[Path, list[str]]) -> list[str]:
    template, ids = seeded
    for suffix in ("", "-wal", "-shm"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, folder / source.name)
    return ids


def _jsonl(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    ran = run(capsys, "audit", "export", "--format", "jsonl")
    assert ran.code == 0, ran.text
    return [json.loads(line) for line in ran.out.splitlines()]


def test_audit_export_jsonl_is_one_object_a_line_oldest_first(
    trail: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    auto_id, asked_id = trail

    rows = _jsonl(capsys)

    assert all(list(row) == COLUMNS for row in rows), rows[0]
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    assert all(UTC_Z.match(str(row["at"])) for row in rows), [row["at"] for row in rows]
    assert [row["at"] for row in rows] == sorted(str(row["at"]) for row in rows)
    assert rows[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    events = [(row["event"], row["request_id"]) for row in rows]
    assert events[0] == ("roster.synced", None)
    assert ("access.granted", auto_id) in events
    assert events.index(("request.created", asked_id)) < events.index(
        ("request.approved", asked_id)
    )
    created = next(
        r for r in rows if (r["event"], r["request_id"]) == ("request.created", asked_id)
    )
    assert created["resource"] == "prod-db"
    assert created["actor"] == "alice@example.com"
    assert created["subject"] == "alice@example.com"
    assert isinstance(created["detail"], dict)
    assert created["detail"]["reason"] == "INC-4411 failover"
    assert created["detail"]["duration"] == "1h"
    assert created["detail"]["evidence"]["group"] == "file:schedule/Primary SRE"
    auto_approved = next(
        r for r in rows if (r["event"], r["request_id"]) == ("request.approved", auto_id)
    )
    assert auto_approved["actor"] == "system"
    approved = next(
        r for r in rows if (r["event"], r["request_id"]) == ("request.approved", asked_id)
    )
    assert approved["actor"] == "bob@example.com"
    assert approved["detail"]["comment"] == "looks right"


def test_audit_export_csv_has_the_same_columns_with_detail_as_json(
    trail: list[str], folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _jsonl(capsys)

    ran = run(capsys, "audit", "export", "--format", "csv", "--out", "trail.csv")

    assert ran.code == 0, ran.text
    assert f"Wrote {len(rows)} events to trail.csv." in ran.err
    text = (folder / "trail.csv").read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    assert next(reader) == COLUMNS
    records = list(reader)
    assert len(records) == len(rows)
    for record, row in zip(records, rows, strict=True):
        as_dict = dict(zip(COLUMNS, record, strict=True))
        assert json.loads(as_dict["detail"]) == row["detail"]
        assert as_dict["seq"] == str(row["seq"])
        assert as_dict["at"] == row["at"]
        assert as_dict["hash"] == row["hash"]
        assert as_dict["request_id"] == (row["request_id"] or "")


def test_audit_verify_passes_an_untouched_trail(
    trail: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    count = len(_jsonl(capsys))

    ran = run(capsys, "audit", "verify")

    assert ran.code == 0, ran.text
    assert ran.out.startswith(f"Audit trail intact: {count} events, head ")


def _swap(a: int, b: int) -> tuple[str, ...]:
    return (
        f"UPDATE audit_events SET seq = -1 WHERE seq = {a}",
        f"UPDATE audit_events SET seq = {a} WHERE seq = {b}",
        f"UPDATE audit_events SET seq = {b} WHERE seq = -1",
    )


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        pytest.param(
            ("""UPDATE audit_events SET detail = '{"reason": "routine"}' WHERE seq = 5""",),
            "event 5: its content was altered",
            id="detail-edited",
        ),
        pytest.param(
            ("UPDATE audit_events SET actor = 'mallory@example.com' WHERE seq = 3",),
            "event 3: its content was altered",
            id="actor-edited",
        ),
        pytest.param(
            ("DELETE FROM audit_events WHERE seq = 3",),
            "event 3: missing",
            id="middle-row-deleted",
        ),
        pytest.param(
            ("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)",),
            "missing (the trail ended at seq",
            id="last-row-deleted",
        ),
        pytest.param(_swap(2, 3), "event 2: ", id="two-rows-swapped"),
    ],
)
def test_audit_verify_names_the_first_bad_event(
    trail: list[str],
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: tuple[str, ...],
    first_bad: str,
) -> None:
    sql(folder / "oncall-access.db", *tamper)

    ran = run(capsys, "audit", "verify")

    assert ran.code == 1
    assert ran.err.startswith("Audit trail TAMPERED: "), ran.err
    assert first_bad in ran.err
    _no_traceback(ran)


# -- sync -----------------------------------------------------------------------------------------


def test_sync_prints_a_summary_of_the_roster_file(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy_and_roster(monkeypatch, folder)

    ran = run(capsys, "sync")

    assert ran.code == 0, ran.text
    assert ran.out.startswith("roster file: synced 2 groups, 2 people, 2 shifts in "), ran.out
    assert "(0 API calls)" in ran.out


def test_sync_of_a_broken_roster_fails_naming_the_line_and_keeps_the_last_good_one(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, roster = write_policy_and_roster(monkeypatch, folder)
    assert run(capsys, "sync").code == 0
    now = datetime.now(UTC)
    roster.write_text(
        dedent(
            f"""\
            groups:
              "schedule/Primary SRE":
                members: [carol@example.com]
                on_call:
                  - {{email: carol@example, start: "{now.isoformat()}"}}
            """
        )
    )

    ran = run(capsys, "sync")

    assert ran.code == 1
    assert f"roster file: sync failed: The roster file has errors: {roster}:5: " in ran.out
    assert "each on_call entry needs an `email`" in ran.out
    _no_traceback(ran)

    feed_stdin(monkeypatch, io.StringIO("oncall Primary\n"))
    shown = run(capsys, "console", "--as", "alice@example.com")

    assert shown.code == 0, shown.text
    assert "Primary SRE (roster file): alice@example.com until " in shown.out
    assert "carol" not in shown.out


def test_sync_without_a_roster_provider_says_what_to_set(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy_and_roster(monkeypatch, folder)
    monkeypatch.delenv("ONCALL_ACCESS_ROSTER_FILE")

    ran = run(capsys, "sync")

    assert ran.code == 1
    assert "ONCALL_ACCESS_ROSTER_FILE" in ran.err
    _no_traceback(ran)


def test_sync_works_without_a_policy_file(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy_and_roster(monkeypatch, folder)
    monkeypatch.delenv("ONCALL_ACCESS_POLICY_FILE")

    ran = run(capsys, "sync")

    assert ran.code == 0, ran.text
    assert "roster file: synced 2 groups" in ran.out


# -- settings and required files ------------------------------------------------------------------


@pytest.mark.parametrize("command", [("console", "--as", "alice@example.com"), ("serve",)])
def test_serve_and_console_without_a_policy_file_say_so(
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
) -> None:
    feed_stdin(monkeypatch, io.StringIO("list\n"))

    ran = run(capsys, *command)

    assert ran.code in (1, 2)
    assert "ONCALL_ACCESS_POLICY_FILE is not set" in ran.err
    assert ran.out == ""
    _no_traceback(ran)


def test_console_with_a_broken_policy_file_names_the_line(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy_and_roster(monkeypatch, folder, policy=BAD_POLICY)
    feed_stdin(monkeypatch, io.StringIO("list\n"))

    ran = run(capsys, "console", "--as", "alice@example.com")

    assert ran.code in (1, 2)
    assert "policy.yaml:7: " in ran.err
    _no_traceback(ran)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ONCALL_ACCESS_SYNC_SCHEDULE", "nonsense", "'nonsense' is not a cron expression"),
        ("ONCALL_ACCESS_ROSTER_MAX_AGE", "abc", "`abc` is not a duration"),
        ("ONCALL_ACCESS_ROSTER_MAX_AGE", "0m", "`0m` is not a positive duration"),
    ],
)
def test_an_invalid_setting_exits_2_naming_it(
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    message: str,
) -> None:
    write_policy_and_roster(monkeypatch, folder)
    monkeypatch.setenv(name, value)

    ran = run(capsys, "sync")

    assert ran.code == 2
    assert ran.err.startswith("oncall-access: invalid setting: "), ran.err
    assert name in ran.err and message in ran.err
    assert ran.out == ""
    _no_traceback(ran)


def test_an_invalid_setting_in_dot_env_is_refused_too(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / ".env").write_text("ONCALL_ACCESS_SYNC_SCHEDULE=every five minutes\n")

    ran = run(capsys, "db", "upgrade")

    assert ran.code == 2
    assert "ONCALL_ACCESS_SYNC_SCHEDULE 'every five minutes' is not a cron expression" in ran.err
    assert not (folder / "oncall-access.db").exists()


@pytest.mark.parametrize(
    ("name", "value"), [("ONCALL_ACCESS_TICK_SECONDS", "fast"), ("PORT", "http")]
)
def test_a_setting_of_the_wrong_type_exits_2_naming_it(
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
) -> None:
    monkeypatch.setenv(name, value)

    ran = run(capsys, "db", "upgrade")

    assert ran.code == 2
    assert ran.err.startswith(f"oncall-access: invalid setting: {name}: "), ran.err
    assert not (folder / "oncall-access.db").exists()
    _no_traceback(ran)


class _LocalSite(web.TCPSite):
    """Binds 127.0.0.1 on a free port whatever `serve` asked for (recorded), then asks for
    /healthz and sends SIGTERM, as an orchestrator stopping the container would."""

    asked: ClassVar[list[tuple[str, int]]] = []
    statuses: ClassVar[list[int]] = []
    tasks: ClassVar[list[asyncio.Task[None]]] = []

    def __init__(self, runner: web.BaseRunner, host: str, port: int, **kwargs: Any) -> None:
        self.asked.append((host, port))
        super().__init__(runner, "127.0.0.1", 0, **kwargs)

    async def start(self) -> None:
        await super().start()
        bound = self._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.tasks.append(asyncio.get_running_loop().create_task(self._probe(bound)))

    async def _probe(self, port: int) -> None:
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/healthz") as response,
            ):
                self.statuses.append(response.status)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)


def _serve(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str) -> Ran:
    monkeypatch.setattr(web, "TCPSite", _LocalSite)
    for recorded in (_LocalSite.asked, _LocalSite.statuses, _LocalSite.tasks):
        recorded.clear()

    def interrupted(signum: int, frame: object) -> None:  # if serve never handles SIGTERM
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        return run(capsys, "serve", *argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_serve_answers_healthz_and_stops_cleanly_on_sigterm(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy_and_roster(monkeypatch, folder)

    ran = _serve(capsys, monkeypatch, "--host", "127.0.0.1", "--port", "8123")

    assert ran.code == 0, ran.text
    assert _LocalSite.asked == [("127.0.0.1", 8123)]
    assert _LocalSite.statuses == [200]
    _no_traceback(ran)


def test_serve_reads_port_from_the_environment(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy_and_roster(monkeypatch, folder)
    monkeypatch.setenv("PORT", "8765")

    ran = _serve(capsys, monkeypatch)

    assert ran.code == 0, ran.text
    assert _LocalSite.asked == [("0.0.0.0", 8765)]


def test_serve_port_0_asks_for_any_free_port(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy_and_roster(monkeypatch, folder)

    ran = _serve(capsys, monkeypatch, "--host", "127.0.0.1", "--port", "0")

    assert ran.code == 0, ran.text
    assert _LocalSite.asked == [("127.0.0.1", 0)]


def test_console_as_something_that_is_not_an_email_is_bad_usage(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy_and_roster(monkeypatch, folder)
    feed_stdin(monkeypatch, io.StringIO("mine\n"))

    ran = run(capsys, "console", "--as", "bob")

    assert ran.code == 2, ran.text
    assert "bob" in ran.err and "email" in ran.err


def test_console_with_an_unknown_time_zone_is_bad_usage(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy_and_roster(monkeypatch, folder)
    feed_stdin(monkeypatch, io.StringIO("oncall\n"))

    ran = run(capsys, "console", "--as", "alice@example.com", "--tz", "Europe/Berln")

    assert ran.code == 2, ran.text
    assert "Europe/Berln" in ran.err


def test_console_shows_times_in_the_chosen_zone(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy_and_roster(monkeypatch, folder)
    feed_stdin(monkeypatch, io.StringIO("oncall Primary\n"))

    ran = run(capsys, "console", "--as", "alice@example.com", "--tz", "Asia/Tokyo")

    assert ran.code == 0, ran.text
    assert re.search(r"alice@example\.com until .*\d\d:\d\d JST", ran.out), ran.out


def test_audit_export_into_a_missing_folder_says_it_cannot_write(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = run(capsys, "audit", "export", "--out", "missing-folder/trail.jsonl")

    assert ran.code == 1
    assert "missing-folder/trail.jsonl" in ran.err
    _no_traceback(ran)


def test_demo_dir_that_is_a_file_is_refused_with_a_sentence(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "taken").write_text("not a folder")
    feed_stdin(monkeypatch, io.StringIO(""))

    ran = run(capsys, "demo", "--dir", "taken")

    assert ran.code in (1, 2)
    assert "taken" in ran.err
    _no_traceback(ran)


def test_serve_on_a_port_in_use_exits_1_with_a_sentence_in_a_real_process(
    tmp_path: Path,
) -> None:
    """The one real process of this file: what a shell sees when the port is taken."""
    (tmp_path / "policy.yaml").write_text(POLICY)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ONCALL_ACCESS_", "SLACK_", "MICROSOFT_")) and k != "PORT"
    }
    env["PYTHONPATH"] = str(REPO)
    env["ONCALL_ACCESS_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    env["ONCALL_ACCESS_POLICY_FILE"] = str(tmp_path / "policy.yaml")

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert done.returncode == 1, done
    assert str(port) in done.stderr
    assert "Traceback" not in done.stderr


def test_identity_mappings_are_made_and_listed_on_the_server(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapped = run(capsys, "identity", "map", "pagerduty:PABC123", "Alice@Example.com")
    listed = run(capsys, "identity", "list")
    unmapped = run(capsys, "identity", "unmap", "pagerduty:PABC123")
    again = run(capsys, "identity", "unmap", "pagerduty:PABC123")

    assert (
        mapped.code == 0 and mapped.out.strip() == "Mapped pagerduty:PABC123 to alice@example.com."
    )
    assert "pagerduty:PABC123 → alice@example.com" in listed.out
    assert unmapped.code == 0 and again.code == 1 and "was not mapped" in again.err


def test_status_lists_a_revoke_that_keeps_failing(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "db", "upgrade")
    db = folder / "oncall-access.db"
    sql(
        db,
        "INSERT INTO requests (id, resource, requester, duration_seconds, reason, status, created_at,"
        " timeout_at, decision_note, granted_at, expires_at, evidence, message_refs, version, kind,"
        " attempts, last_error) VALUES ('rstuck2', 'prod-db', 'alice@example.com', 3600, 'x', 'active',"
        " '2026-01-01 10:00:00', '2026-01-01 10:30:00', '', '2026-01-01 10:00:00',"
        " '2026-01-01 11:00:00', '{}', '[]', 1, 'request', 3, 'WebhookUnavailable')",
    )
    shown = run(capsys, "status")
    assert shown.code == 0
    assert (
        "Revoke failing: rstuck2 (prod-db for alice@example.com), 3 attempts, last: WebhookUnavailable"
        in shown.out
    )


def test_policy_check_refuses_a_plain_http_webhook_and_the_bots_own_secret(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "hook.yaml").write_text(
        "version: 1\nresources:\n  prod-db:\n    approve: {people: [lead@example.com]}\n"
        '    grant: {type: webhook, url: "http://hooks.example.com/x", '
        "secret_env: ONCALL_ACCESS_SECRET_KEY}\n"
    )

    ran = run(capsys, "policy", "check", "hook.yaml")

    assert ran.code == 1
    assert "hook.yaml:5: " in ran.err and "plain http only to this machine" in ran.err
    assert "secret_env ONCALL_ACCESS_SECRET_KEY is one of the bot's own settings" in ran.err
    _no_traceback(ran)
