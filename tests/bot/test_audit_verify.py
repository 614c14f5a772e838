"""`oncall-access audit verify` and `audit checkpoint` against someone who can write the database:
a keyed chain cannot be recomputed, a checkpoint shows dropped events, and rows changed behind
the trail's back are named. On a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from adapters.console.notifier import ConsoleNotifier
from adapters.storage.audit import SqlAuditLog
from adapters.storage.engine import make_engine
from adapters.storage.kv import SqlKeyValues
from bot.settings import Settings
from bot.wiring import Bot, build
from core.audit import GENESIS, AuditKey, compute_hash
from core.identity import Actor
from core.policy import parse_policy
from tests.bot.clirun import Ran, fresh_directory, run, run_async
from tests.builders import POLICY, roster_yaml
from tests.conftest import POSTGRES_URL, SKIP_PG, FakeClock, _drop_postgres_database
from tests.conftest import _fresh_postgres_database as fresh_postgres

KEY = "k" * 40
OLD_KEY = "o" * 40
CHANNEL = "teams:approvals-channel"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh directory for the CLI, and its database: a SQLite file or a PostgreSQL database."""
    sqlite = fresh_directory(monkeypatch, tmp_path)
    if request.param == "sqlite":
        yield sqlite
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_PG)
    name, pg = run_async(fresh_postgres())
    monkeypatch.setenv("ONCALL_ACCESS_DATABASE_URL", pg)
    try:
        yield pg
    finally:
        run_async(_drop_postgres_database(name))


def _verify(capsys: pytest.CaptureFixture[str], *extra: str) -> Ran:
    ran = run(capsys, "audit", "verify", *extra)
    assert "Traceback" not in ran.text, ran.text
    return ran


async def _bot(folder: Path, url: str, key: str, clock: FakeClock) -> Bot:
    """The bot as `serve` wires it with `key`, on the roster file provider, synced."""
    (folder / "roster.yaml").write_text(roster_yaml(clock.now()))
    settings = Settings(
        ONCALL_ACCESS_DATABASE_URL=url,
        ONCALL_ACCESS_ROSTER_FILE=str(folder / "roster.yaml"),
        ONCALL_ACCESS_ADMINS="lead@example.com",
        ONCALL_ACCESS_AUDIT_KEY=key,
        _env_file=None,  # type: ignore[call-arg]
    )
    told: list[str] = []
    bot = await build(
        settings,
        policy=parse_policy(POLICY, "policy.yaml"),
        clock=clock,
        notifiers=[ConsoleNotifier(told.append)],
    )
    assert (await bot.syncer.sync(bot.providers[0])).ok
    return bot


async def _seed(folder: Path, url: str, key: str) -> dict[str, str]:
    """A sync, an auto-approved grant, an approved one, an identity mapping and an approvals
    channel; returns the request ids."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=123456))
    bot = await _bot(folder, url, key, clock)
    try:
        alice, bob, lead = (Actor(f"{n}@example.com") for n in ("alice", "bob", "lead"))
        auto = await bot.dispatcher.handle(alice, "request grafana-admin 30m")
        clock.advance(timedelta(minutes=1))
        asked = await bot.dispatcher.handle(alice, 'request prod-db 1h "INC-4411 failover"')
        assert auto.request and asked.request, (auto.text, asked.text)
        clock.advance(timedelta(minutes=2))
        assert (await bot.dispatcher.handle(bob, f"approve {asked.request.id} go")).ok
        mapped = await bot.dispatcher.handle(lead, "identity map slack:U012AB3CD carol@example.com")
        assert mapped.ok, mapped.text
        await SqlKeyValues(bot.engine, bot.settings.audit_keys).put(
            CHANNEL,
            {
                "reference": {"conversation": {"id": "19:ops"}},
                "name": "ops",
                "set_by": "lead@example.com",
            },
        )
        return {"auto": auto.request.id, "asked": asked.request.id}
    finally:
        await bot.close()


async def _revoke(folder: Path, url: str, key: str, request_id: str) -> None:
    clock = FakeClock(datetime.now(UTC) + timedelta(minutes=5))
    bot = await _bot(folder, url, key, clock)
    try:
        revoked = await bot.dispatcher.handle(Actor("alice@example.com"), f"revoke {request_id}")
        assert revoked.ok, revoked.text
    finally:
        await bot.close()


def seed(folder: Path, url: str, key: str = KEY) -> dict[str, str]:
    return run_async(_seed(folder, url, key))  # type: ignore[no-any-return]


def tamper(url: str, *statements: str) -> None:
    async def go() -> None:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    run_async(go())


def rewrite_with_plain_hashes(url: str, seq: int, **changes: Any) -> None:
    """What someone with write access but without the key would do: edit an event, then
    recompute every hash from there on with plain SHA-256 and move the head along."""

    async def go() -> None:
        engine = make_engine(url)
        try:
            records = await SqlAuditLog(engine).records()
            prev = records[seq - 2].hash if seq > 1 else GENESIS
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE audit_events SET prev_hash = 'x' || seq"))
                for record in records:
                    if record.seq < seq:
                        await conn.execute(
                            text("UPDATE audit_events SET prev_hash = :p WHERE seq = :s"),
                            {"p": record.prev_hash, "s": record.seq},
                        )
                        continue
                    event = record.as_event()
                    if record.seq == seq:
                        event = type(event)(**{**_fields(event), **changes})
                    new = compute_hash(prev, record.seq, event)
                    await conn.execute(
                        text(
                            "UPDATE audit_events SET actor = :a, prev_hash = :p, hash = :h, "
                            "key_id = NULL WHERE seq = :s"
                        ),
                        {"a": event.actor, "p": prev, "h": new, "s": record.seq},
                    )
                    prev = new
                await conn.execute(
                    text("UPDATE audit_head SET hash = :h, seq = :s"),
                    {"h": prev, "s": records[-1].seq},
                )
        finally:
            await engine.dispose()

    run_async(go())


def _fields(event: Any) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__slots__}


def test_a_clean_keyed_trail_verifies_and_says_it_is_keyed(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(tmp_path, url)
    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)

    ran = _verify(capsys)

    assert ran.code == 0, ran.text
    assert ran.out.startswith("Audit trail intact: "), ran.out
    assert "Keyed (HMAC-SHA256): events 1-" in ran.out
    assert (
        "The database matches the trail: 2 requests, 1 identity mappings, 1 audited settings."
        in ran.out
    )
    assert ran.err == ""


def test_without_a_key_verify_passes_but_says_the_chain_is_unkeyed(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(tmp_path, url, key="")

    ran = _verify(capsys)

    assert ran.code == 0, ran.text
    assert "UNKEYED: the chain is plain SHA-256" in ran.out
    assert "ONCALL_ACCESS_AUDIT_KEY" in ran.out


def test_an_actor_rewritten_with_recomputed_plain_hashes_is_found_when_keyed(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(tmp_path, url)
    rewrite_with_plain_hashes(url, 3, actor="mallory@example.com")
    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)

    ran = _verify(capsys)

    assert ran.code == 1, ran.text
    assert ran.err.startswith(
        "Audit trail TAMPERED: event 3: not keyed, though the events from 1 on are"
    ), ran.err


def test_a_whole_trail_rewritten_without_the_key_is_found(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(tmp_path, url)
    rewrite_with_plain_hashes(url, 1)
    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)

    ran = _verify(capsys)

    assert ran.code == 1, ran.text
    assert "no event is keyed although ONCALL_ACCESS_AUDIT_KEY is set" in ran.err


def test_dropping_the_last_events_with_the_head_is_found_by_a_checkpoint(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(tmp_path, url)
    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)
    taken = run(capsys, "audit", "checkpoint", "--out", "head.json")
    assert taken.code == 0, taken.text
    checkpoint = json.loads((tmp_path / "head.json").read_text())
    last = checkpoint["seq"]
    assert checkpoint["signature"] and checkpoint["key_id"]
    assert f"Checkpoint of event {last} " in taken.err
    assert _verify(capsys, "--checkpoint", "head.json").code == 0

    # the last two events (the mapping and the channel) go, and the head is moved back with them
    kept = last - 2
    tamper(
        url,
        f"DELETE FROM audit_events WHERE seq > {kept}",
        f"UPDATE audit_head SET seq = {kept}, "
        f"hash = (SELECT hash FROM audit_events WHERE seq = {kept})",
        "DELETE FROM kv WHERE key LIKE 'identity:%' OR key = 'teams:approvals-channel'",
    )
    assert _verify(capsys).code == 0  # without the checkpoint, nothing shows

    ran = _verify(capsys, "--checkpoint", "head.json")

    assert ran.code == 1, ran.text
    assert (
        f"Audit trail TAMPERED: checkpoint head.json: the trail ends at event {kept}, but it "
        f"reached event {last} at {checkpoint['at']}: events were dropped."
    ) in ran.err


def test_an_edited_checkpoint_file_is_refused(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(tmp_path, url)
    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)
    assert run(capsys, "audit", "checkpoint", "--out", "head.json").code == 0
    data = json.loads((tmp_path / "head.json").read_text())
    (tmp_path / "head.json").write_text(json.dumps({**data, "seq": data["seq"] - 2}))

    ran = _verify(capsys, "--checkpoint", "head.json")

    assert ran.code == 1
    assert "Checkpoint head.json TAMPERED: its signature does not match" in ran.err


def test_after_a_key_rotation_old_events_verify_with_the_old_key(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(tmp_path, url, key=OLD_KEY)
    run_async(_revoke(tmp_path, url, f"{KEY},{OLD_KEY}", ids["asked"]))  # after the rotation

    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", f"{KEY},{OLD_KEY}")
    ran = _verify(capsys)
    assert ran.code == 0, ran.text
    old_id, new_id = AuditKey.of(OLD_KEY).id, AuditKey.of(KEY).id
    assert f"key id {old_id}, {new_id}." in ran.out, ran.out
    exported = run(capsys, "audit", "export")
    key_ids = [json.loads(line)["key_id"] for line in exported.out.splitlines()]
    assert key_ids[0] == old_id and key_ids[-1] == new_id

    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)  # the old key dropped too early
    ran = _verify(capsys)
    assert ran.code == 2, ran.text
    assert ran.err.startswith("Audit trail cannot be verified: event 1: chained with audit key id")


def test_a_request_row_changed_behind_the_trails_back_is_named(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(tmp_path, url)
    asked = ids["asked"]
    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)
    later = "2099-01-01 15:00:00"
    tamper(
        url,
        f"UPDATE requests SET expires_at = '{later}', requester = 'mallory@example.com' "
        f"WHERE id = '{asked}'",
    )

    ran = _verify(capsys)

    assert ran.code == 1, ran.text
    lines = ran.err.splitlines()
    expires = next(line for line in lines if f"request {asked}: expires_at" in line)
    assert expires.startswith(
        f"Audit trail TAMPERED: request {asked}: expires_at in the database 2099-01-01T15:00:00"
    )
    assert "differs from the trail's 20" in expires
    assert (
        f"Audit trail TAMPERED: request {asked}: requester in the database mallory@example.com "
        "differs from the trail's alice@example.com."
    ) in lines


def test_a_request_inserted_or_deleted_behind_the_trails_back_is_named(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(tmp_path, url)
    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)
    tamper(
        url,
        f"DELETE FROM requests WHERE id = '{ids['auto']}'",
        "INSERT INTO requests (id, resource, requester, duration_seconds, reason, status, "
        "created_at, timeout_at, decision_note, evidence, message_refs, version, kind, attempts) "
        "VALUES ('rforged', 'prod-db', 'mallory@example.com', 3600, '', 'active', "
        "'2026-01-01 00:00:00', '2026-01-01 00:30:00', '', '{}', '[]', 0, 'request', 0)",
    )

    ran = _verify(capsys)

    assert ran.code == 1, ran.text
    assert "Audit trail TAMPERED: request rforged: in the database but not in the trail." in ran.err
    assert (
        f"Audit trail TAMPERED: request {ids['auto']}: in the trail but missing from the database."
    ) in ran.err


def test_an_identity_mapping_or_channel_changed_behind_the_trails_back_is_named(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(tmp_path, url)
    monkeypatch.setenv("ONCALL_ACCESS_AUDIT_KEY", KEY)
    tamper(
        url,
        """UPDATE kv SET value = '"mallory@example.com"' WHERE key LIKE 'identity:slack:%'""",
        """INSERT INTO kv (key, value, updated_at) VALUES """
        """('identity:teams:evil', '"lead@example.com"', '2026-01-01 00:00:00')""",
        """UPDATE kv SET value = '{"name": "ops", "reference": {"conversation": {"id": "19:evil"}},"""
        """ "set_by": "lead@example.com"}' WHERE key = 'teams:approvals-channel'""",
    )

    ran = _verify(capsys)

    assert ran.code == 1, ran.text
    lines = ran.err.splitlines()
    remapped = next(line for line in lines if "identity mapping slack:" in line)
    assert remapped.startswith("Audit trail TAMPERED: identity mapping slack:")
    assert remapped.endswith(
        ": in the database mallory@example.com differs from the trail's carol@example.com."
    )
    assert (
        "Audit trail TAMPERED: identity mapping teams:evil: in the database but not in the trail."
    ) in lines
    assert (
        "Audit trail TAMPERED: setting teams:approvals-channel field reference.conversation.id: "
        "in the database 19:evil differs from the trail's 19:ops."
    ) in lines
