"""`oncall-access backup` and `restore`: a copy taken from a real SQLite file or a real PostgreSQL
database restores into an empty database of either kind, `audit verify` passes on it with the
same requests, mappings and settings, and it exports the very same trail; a restore never
overwrites data, and a file that is not a backup, or comes from a newer release, is refused."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from adapters.storage.migrate import head_revision
from tests.bot.clirun import run, run_async
from tests.bot.test_audit_verify import KEY, seed, tamper, url  # noqa: F401
from tests.conftest import POSTGRES_URL, SKIP_PG, _drop_postgres_database
from tests.conftest import _fresh_postgres_database as fresh_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database to restore into: a new SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'oncall-access.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_PG)
    name, pg = run_async(fresh_postgres())
    try:
        yield pg
    finally:
        run_async(_drop_postgres_database(name))


def _export(capsys: pytest.CaptureFixture[str]) -> str:
    ran = run(capsys, "audit", "export")
    assert ran.code == 0, ran.text
    return ran.out


def test_a_backup_restores_into_an_empty_database_and_verifies(
    url: str,  # noqa: F811
    target: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(tmp_path, url)
    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)
    original = _export(capsys)
    events = original.count("\n")

    made = run(capsys, "backup", "--out", str(tmp_path / "backup.db"))

    assert made.code == 0, made.text
    assert made.out == (
        f"Backed up {events} audit events and 2 requests (schema revision {head_revision()}) to "
        f"{tmp_path / 'backup.db'}.\n"
    )
    assert stat.S_IMODE((tmp_path / "backup.db").stat().st_mode) == 0o600
    monkeypatch.setenv("ONCALL_ACCESS_DATABASE_URL", target)

    restored = run(capsys, "restore", str(tmp_path / "backup.db"))

    assert restored.code == 0, restored.text
    assert restored.out.startswith(f"Restored {events} audit events and 2 requests from ")
    verified = run(capsys, "audit", "verify")
    assert verified.code == 0, verified.text
    assert f"Audit trail intact: {events} events" in verified.out
    assert "Keyed (HMAC-SHA256)" in verified.out
    assert (
        "The database matches the trail: 2 requests, 1 identity mappings, 1 audited settings."
        in verified.out
    )
    assert _export(capsys) == original


def test_restore_never_overwrites_a_database_that_holds_data(
    url: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(tmp_path, url)
    assert run(capsys, "backup", "--out", str(tmp_path / "backup.db")).code == 0
    before = _export(capsys)

    again = run(capsys, "restore", str(tmp_path / "backup.db"))

    assert again.code == 1
    assert "already holds" in again.err and "restore into an empty database" in again.err
    assert "Traceback" not in again.text
    assert _export(capsys) == before


def test_a_backup_never_overwrites_a_file(
    url: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(tmp_path, url)
    (tmp_path / "taken.db").write_text("keep me")

    ran = run(capsys, "backup", "--out", str(tmp_path / "taken.db"))

    assert ran.code == 1
    assert (
        ran.err
        == f"oncall-access: {tmp_path / 'taken.db'} already exists; a backup never overwrites a file.\n"
    )
    assert (tmp_path / "taken.db").read_text() == "keep me"


def test_a_file_that_is_not_a_backup_or_is_from_a_newer_release_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "ONCALL_ACCESS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db' / 'x.db'}"
    )
    (tmp_path / "notes.txt").write_text("not a database\n")
    with closing(sqlite3.connect(tmp_path / "newer.db")) as newer:
        newer.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        newer.execute("INSERT INTO alembic_version VALUES ('0099')")
        newer.commit()

    text = run(capsys, "restore", str(tmp_path / "notes.txt"))
    missing = run(capsys, "restore", str(tmp_path / "nowhere.db"))
    future = run(capsys, "restore", str(tmp_path / "newer.db"))

    assert (text.code, missing.code, future.code) == (1, 1, 1)
    assert "is not an oncall-access backup" in text.err
    assert "no such file" in missing.err
    assert "written by a newer oncall-access" in future.err
    assert "Traceback" not in text.text + missing.text + future.text


def test_a_tampered_database_backs_up_as_it_is_and_verify_still_names_the_change(
    url: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = seed(tmp_path, url)
    tamper(
        url, f"UPDATE requests SET requester = 'mallory@example.com' WHERE id = '{ids['asked']}'"
    )
    assert run(capsys, "backup", "--out", str(tmp_path / "backup.db")).code == 0
    monkeypatch.setenv(
        "ONCALL_ACCESS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
    )
    assert run(capsys, "restore", str(tmp_path / "backup.db")).code == 0
    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)

    verified = run(capsys, "audit", "verify")

    assert verified.code == 1
    assert f"request {ids['asked']}: requester in the database mallory@example.com" in verified.err
