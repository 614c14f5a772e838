"""`policy migrate --from opsgenie --to jsm`: text in, text out, what could not move listed."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.storage.engine import make_engine
from adapters.storage.migrate import upgrade
from adapters.storage.roster import SqlRosterStore
from bot.policy_migrate import add_parser, migrate, migrate_policy_text
from bot.settings import Settings
from core.audit import AuditEvent
from core.groups import GroupRef, Provider
from core.policy import parse_policy
from core.roster import Group, RosterSnapshot

POLICY = """\
version: 1
# Opsgenie groups below; keep this comment: opsgenie:schedule/Primary SRE
defaults: {default_duration: 1h, max_duration: 8h}
resources:
  prod-db:
    description: Read-write (was opsgenie:team/Platform in 2025)
    request:
      on_call: ["opsgenie:schedule/Primary SRE", 'opsgenie:schedule/Night''s Watch']  # both
      members:
        - opsgenie:team/Platform   # trailing comment stays
        - pagerduty:schedule/Primary SRE
    approve:
      on_call: [opsgenie:schedule/Secondary SRE, opsgenie:team/Platform]
      people: ["lead@example.com"]
  grafana-admin:
    request:
      on_call: [
        "opsgenie:schedule/Primary SRE",
        opsgenie:schedule/Secondary SRE,
      ]
    approve: {people: [lead@example.com]}
    grant: {type: record}
birthright:
  - {resource: grafana-admin, on_call: ["opsgenie:schedule/Primary SRE"]}
"""

EXPECTED = """\
version: 1
# Opsgenie groups below; keep this comment: opsgenie:schedule/Primary SRE
defaults: {default_duration: 1h, max_duration: 8h}
resources:
  prod-db:
    description: Read-write (was opsgenie:team/Platform in 2025)
    request:
      on_call: ["jsm:schedule/Primary SRE", 'jsm:schedule/Night''s Watch']  # both
      members:
        - jsm:team/Platform   # trailing comment stays
        - pagerduty:schedule/Primary SRE
    approve:
      on_call: [jsm:schedule/Secondary SRE, jsm:team/Platform]
      people: ["lead@example.com"]
  grafana-admin:
    request:
      on_call: [
        "jsm:schedule/Primary SRE",
        jsm:schedule/Secondary SRE,
      ]
    approve: {people: [lead@example.com]}
    grant: {type: record}
birthright:
  - {resource: grafana-admin, on_call: ["jsm:schedule/Primary SRE"]}
"""


def refs(*texts: str) -> set[GroupRef]:
    return {GroupRef.parse(t) for t in texts}


JSM_ROSTER = refs(
    "jsm:schedule/Primary SRE",
    "jsm:schedule/secondary sre",
    "jsm:schedule/Night's Watch",
    "jsm:team/Platform Engineering",
)


def test_groups_move_by_name_and_everything_else_stays_as_written() -> None:
    new_text, unmatched = migrate_policy_text(POLICY)
    assert new_text == EXPECTED
    assert unmatched == []
    policy = parse_policy(new_text, "migrated.yaml")
    assert {g.provider for g in policy.groups()} == {Provider.JSM, Provider.PAGERDUTY}
    assert GroupRef.parse("jsm:schedule/Night's Watch") in policy.groups()


def test_checked_against_the_roster_unmatched_groups_stay_and_are_listed() -> None:
    new_text, unmatched = migrate_policy_text(POLICY, known=JSM_ROSTER)
    # the roster's spelling wins when only the case differs
    assert "jsm:schedule/secondary sre" in new_text
    assert "jsm:schedule/Secondary SRE" not in new_text
    # Platform is not in the JSM roster: left as it was, listed with its line and a hint
    assert "        - opsgenie:team/Platform   # trailing comment stays" in new_text
    assert [(u.line, u.found) for u in unmatched] == [
        (10, "opsgenie:team/Platform"),
        (13, "opsgenie:team/Platform"),
    ]
    assert "no team named 'Platform'" in unmatched[0].reason
    assert "did you mean 'Platform Engineering'" in unmatched[0].reason
    assert new_text.count("opsgenie:") == 4  # two comments' worth, two unmatched
    assert parse_policy(new_text, "migrated.yaml")


def test_explicit_mappings_escalations_and_role_grants() -> None:
    text = (
        "resources:\n"
        "  a:\n"
        "    request: {on_call: ['opsgenie:team/Platform']}\n"
        "    approve: {on_call: [opsgenie:escalation_policy/Ops@1]}\n"
        "    grant: {type: opsgenie-role, role: Responder}\n"
        "  b:\n"
        "    request: {on_call: [opsgenie:team/Gone]}\n"
    )
    mapping = {
        "opsgenie:team/Platform": "jsm:team/Platform Engineering",
        "opsgenie:team/Gone": "pagerduty:team/Gone",
    }
    new_text, unmatched = migrate_policy_text(text, mapping, known=JSM_ROSTER)
    assert "request: {on_call: ['jsm:team/Platform Engineering']}" in new_text
    assert [(u.line, u.found) for u in unmatched] == [
        (4, "opsgenie:escalation_policy/Ops@1"),
        (5, "grant type opsgenie-role"),
        (7, "opsgenie:team/Gone"),
    ]
    assert "JSM has no escalation policy groups" in unmatched[0].reason
    assert "2027-04-05" in unmatched[1].reason
    assert "is not a jsm: group" in unmatched[2].reason


def test_a_mapped_name_that_needs_quotes_gets_them() -> None:
    text = "on_call: [opsgenie:team/A]\n"
    new_text, unmatched = migrate_policy_text(text, {"opsgenie:team/A": "jsm:team/A, B"})
    assert new_text == 'on_call: ["jsm:team/A, B"]\n' and unmatched == []


async def test_the_command_checks_the_stored_jsm_roster(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(sqlite_url)
    try:
        await upgrade(engine)
        at = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
        snapshot = RosterSnapshot(Provider.JSM, at, {r: Group(r) for r in JSM_ROSTER})
        await SqlRosterStore(engine).replace(
            snapshot, AuditEvent("roster.synced", at, "system", detail={})
        )
    finally:
        await engine.dispose()
    source = tmp_path / "policy.yaml"
    source.write_text(POLICY, encoding="utf-8")
    args = _args(str(source))
    code = await migrate(Settings(_env_file=None, database_url=sqlite_url), args)  # type: ignore[call-arg]
    out, err = capsys.readouterr()
    assert code == 1  # something was left as it was
    assert out.startswith("version: 1\n") and "jsm:schedule/Primary SRE" in out
    assert f"{source}:10: opsgenie:team/Platform: the latest JSM roster has no team" in err
    assert "6 group(s) moved to JSM, 2 left as they were" in err
    assert "checked against the JSM roster synced at 2030-01-07 12:00 UTC" in err


async def test_the_command_without_a_roster_writes_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "policy.yaml", tmp_path / "jsm.yaml"
    source.write_text(POLICY, encoding="utf-8")
    missing = f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"
    args = _args(str(source), "--out", str(target))
    code = await migrate(Settings(_env_file=None, database_url=missing), args)  # type: ignore[call-arg]
    out, err = capsys.readouterr()
    assert code == 0 and out == ""
    assert target.read_text(encoding="utf-8") == EXPECTED
    assert "not checked against a JSM roster" in err
    assert not (tmp_path / "none.db").exists()  # looking did not create a database


async def test_a_malformed_map_is_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "policy.yaml"
    source.write_text(POLICY, encoding="utf-8")
    args = _args(str(source), "--map", "Platform")
    code = await migrate(Settings(_env_file=None), args)  # type: ignore[call-arg]
    assert code == 2 and "write OLD=NEW" in capsys.readouterr().err


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="oncall-access policy")
    add_parser(parser.add_subparsers(dest="policy_command"))
    return parser.parse_args(["migrate", "--from", "opsgenie", "--to", "jsm", *argv])
