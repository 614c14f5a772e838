"""`oncall-access policy diff | explain | test` as a reviewer runs them: real policy changes on a
roster, what each format says, the exit codes (diff: 0 no change in effect, 1 changes, 2 cannot;
test: 0 pass, 1 fail, 2 cannot), and broken or hostile files answered in a sentence."""

from __future__ import annotations

import io
import json
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from tests.bot.clirun import (
    Ran,
    answer_to,
    feed_stdin,
    fresh_directory,
    run,
    write_policy_and_roster,
)
from tests.bot.test_hostile_files import HOSTILE

REPO = Path(__file__).resolve().parents[2]
AT = "2026-11-23T10:00:00Z"  # alice is primary, bob secondary, erin and dave escalation levels

BASE = dedent(
    """\
    version: 1
    defaults: {default_duration: 1h, max_duration: 8h}
    resources:
      prod-db:
        description: Read-write on the production database
        request: {on_call: ["file:schedule/Primary SRE"]}
        approve:
          on_call: ["file:escalation_policy/Platform"]
          people: ["lead@example.com"]
        max_duration: 4h
      grafana-admin:
        request: {on_call: ["file:schedule/Primary SRE"]}
        approve: {auto_if_on_call: true, people: ["lead@example.com"]}
      staging-shell:
        request: {members: ["file:team/Platform"]}
        approve: {people: ["lead@example.com"]}
    """
)

ROSTER = dedent(
    """\
    people:
      - {email: lead@example.com, name: Lee Adams}
    groups:
      "schedule/Primary SRE":
        members: [alice@example.com, carol@example.com]
        on_call:
          - {email: alice@example.com, start: "2026-11-23T08:00:00Z", end: "2026-11-23T20:00:00Z"}
          - {email: carol@example.com, start: "2026-11-23T20:00:00Z", end: "2026-11-24T08:00:00Z"}
      "schedule/Secondary SRE":
        members: [bob@example.com, dan@example.com]
        on_call:
          - {email: bob@example.com, start: "2026-11-23T08:00:00Z", end: "2026-11-23T20:00:00Z"}
          - {email: dan@example.com, start: "2026-11-23T20:00:00Z", end: "2026-11-24T08:00:00Z"}
      "escalation_policy/Platform":
        on_call:
          - {email: erin@example.com, start: "2026-11-23T08:00:00Z", end: "2026-11-24T08:00:00Z", level: 1}
          - {email: dave@example.com, start: "2026-11-23T08:00:00Z", end: "2026-11-24T08:00:00Z", level: 2}
      "team/Platform":
        members: [alice@example.com, bob@example.com, carol@example.com]
    """
)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fresh_directory(monkeypatch, tmp_path)
    (tmp_path / "old.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    return tmp_path


def _diff(capsys: pytest.CaptureFixture[str], folder: Path, new: str, *extra: str) -> Ran:
    (folder / "new.yaml").write_text(new, encoding="utf-8")
    ran = run(
        capsys,
        "policy",
        "diff",
        "old.yaml",
        "new.yaml",
        "--roster",
        "roster.yaml",
        "--at",
        AT,
        *extra,
    )
    assert "Traceback" not in ran.text, ran.text
    return ran


def _json(capsys: pytest.CaptureFixture[str], folder: Path, new: str) -> dict[str, Any]:
    ran = _diff(capsys, folder, new, "--format", "json")
    assert ran.code == 1, ran.text
    data: dict[str, Any] = json.loads(ran.out)
    assert data["changes_effect"] is True
    return data


def _people(data: dict[str, Any], resource: str) -> set[tuple[str, str, str, str]]:
    return {
        (p["person"], p["right"], p["change"], p["since"])
        for p in data["resources"][resource]["people"]
    }


# -- policy diff ----------------------------------------------------------------------------------


def test_diff_of_a_group_added_shows_who_may_now_request_and_from_when(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = BASE.replace(
        'request: {on_call: ["file:schedule/Primary SRE"]}\n    approve:\n      on_call',
        'request: {on_call: ["file:schedule/Primary SRE", "file:schedule/Secondary SRE"]}\n'
        "    approve:\n      on_call",
        1,
    )
    assert new != BASE

    data = _json(capsys, folder, new)

    assert _people(data, "prod-db") == {
        ("bob@example.com", "request", "gained", "2026-11-23T10:00:00Z"),
        ("dan@example.com", "request", "gained", "2026-11-23T20:00:00Z"),  # his night shift
    }
    terms = data["resources"]["prod-db"]["terms"]
    assert terms == [
        {
            "key": "request.on_call",
            "old": "[file:schedule/Primary SRE]",
            "new": "[file:schedule/Primary SRE, file:schedule/Secondary SRE]",
        }
    ]
    assert data["resources"]["prod-db"]["status"] == "changed"
    assert set(data["resources"]) == {"prod-db"}  # nothing else changed
    assert data["birthright"] == []


def test_diff_of_a_level_narrowed_says_who_may_no_longer_approve(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = BASE.replace(
        'on_call: ["file:escalation_policy/Platform"]',
        'on_call: ["file:escalation_policy/Platform@1"]',
    )

    ran = _diff(capsys, folder, new)

    assert ran.code == 1, ran.text
    assert (
        "  - dave@example.com may no longer approve "
        "(on call for Platform (roster file)), now" in ran.out
    ), ran.out
    assert "erin@example.com" not in ran.out  # level 1: still an approver
    assert (
        "  term approve.on_call: [file:escalation_policy/Platform] -> "
        "[file:escalation_policy/Platform@1]" in ran.out
    )
    assert ran.out.rstrip().endswith(
        "Changes in effect: 1 change to people's rights, 1 term changed."
    )


def test_diff_of_auto_approval_turned_off_as_a_markdown_comment(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = BASE.replace("auto_if_on_call: true", "auto_if_on_call: false")

    ran = _diff(capsys, folder, new, "--format", "markdown")

    assert ran.code == 1, ran.text
    md = ran.out
    assert md.startswith("### Access policy diff: Changes in effect: 2 changes to people's rights")
    assert "#### grafana-admin (changed)" in md
    assert (
        "| ➖ | alice&#64;example.com | would no longer be approved at once | now "
        "| on call for Primary SRE (roster file) |" in md
    ), md
    assert (
        "| ➖ | carol&#64;example.com | would no longer be approved at once | from 20:00 UTC " in md
    )
    assert "| approve.auto\\_if\\_on\\_call | true | false |" in md
    assert "prod-db" not in md


def test_diff_of_a_resource_removed_lists_everyone_who_loses_it(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = BASE[: BASE.index("  staging-shell:")]

    data = _json(capsys, folder, new)

    shell = data["resources"]["staging-shell"]
    assert shell["status"] == "removed"
    assert {(p["person"], p["right"], p["change"]) for p in shell["people"]} == {
        ("alice@example.com", "request", "lost"),
        ("bob@example.com", "request", "lost"),
        ("carol@example.com", "request", "lost"),
        ("lead@example.com", "approve", "lost"),
    }
    assert data["summary"].startswith("Changes in effect: 1 resource removed, 4 changes")


def test_diff_of_a_birthright_rule_added_says_whose_grant_would_start_and_until_when(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = (
        BASE
        + 'birthright:\n  - {resource: grafana-admin, on_call: ["file:schedule/Primary SRE"]}\n'
    )

    data = _json(capsys, folder, new)

    assert data["birthright"] == [
        {
            "resource": "grafana-admin",
            "person": "alice@example.com",
            "change": "starts",
            "group": "file:schedule/Primary SRE",
            "until": "2026-11-23T20:00:00Z",
        }
    ]
    text = _diff(capsys, folder, new).out
    assert "  rule for grafana-admin: on call for (not set) -> [file:schedule/Primary SRE]" in text
    assert (
        "  + grafana-admin for alice@example.com would start "
        "(on call for file:schedule/Primary SRE) until 20:00 UTC" in text
    )


def test_diff_of_a_grant_changed_is_a_change_in_effect_nobody_gains_by(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = BASE.replace(
        "    max_duration: 4h\n",
        "    max_duration: 4h\n"
        '    grant: {type: webhook, url: "https://hooks.example.com/a", secret_env: HOOK_SECRET}\n',
    )

    data = _json(capsys, folder, new)

    assert data["resources"]["prod-db"]["people"] == []
    assert data["resources"]["prod-db"]["terms"] == [
        {
            "key": "grants",
            "old": "[{type: record}]",
            "new": "[{secret_env: HOOK_SECRET, type: webhook, url: https://hooks.example.com/a}]",
        }
    ]


def test_diff_of_a_resource_opened_to_anyone_lists_everyone_the_roster_knows(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = BASE.replace('request: {members: ["file:team/Platform"]}', "description: open")

    data = _json(capsys, folder, new)

    gained = {p["person"] for p in data["resources"]["staging-shell"]["people"]}
    assert gained == {"dan@example.com", "dave@example.com", "erin@example.com", "lead@example.com"}
    assert {p["basis"] for p in data["resources"]["staging-shell"]["people"]} == {
        "anyone may request it"
    }


def test_a_change_of_text_only_exits_0(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reordered = dedent(
        """\
        # Reordered, re-spelled, commented: the same policy in effect.
        version: 1
        defaults: {max_duration: 480m, default_duration: 60m}
        resources:
          staging-shell:
            approve: {people: ["Lead@Example.com"]}
            request: {members: ["file:team/Platform"]}
          grafana-admin:
            approve: {people: [lead@example.com], auto_if_on_call: true, required: 1}
            request: {on_call: ["file:schedule/Primary SRE"]}
          prod-db:
            description: The production database, read-write
            max_duration: 240m
            approve:
              people: ["lead@example.com"]
              on_call: ["file:escalation_policy/Platform"]
            request: {on_call: ["file:schedule/Primary SRE"]}
        """
    )

    ran = _diff(capsys, folder, reordered)

    assert ran.code == 0, ran.text
    assert "prod-db (changed)" in ran.out
    assert "  text description: 'Read-write on the production database' -> " in ran.out
    assert ran.out.rstrip().endswith("No change in effect (descriptions changed).")
    data = json.loads(_diff(capsys, folder, reordered, "--format", "json").out)
    assert data["changes_effect"] is False


def test_an_empty_old_file_stands_for_no_policy(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "old.yaml").write_text("", encoding="utf-8")

    data = _json(capsys, folder, BASE)

    assert {r["status"] for r in data["resources"].values()} == {"added"}
    assert ("alice@example.com", "approved_at_once", "gained", "2026-11-23T10:00:00Z") in _people(
        data, "grafana-admin"
    )


def test_markdown_keeps_names_from_the_files_inert(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = "schedule/<img src=x onerror=alert(1)> [click](https://evil.example) @org/admins"
    (folder / "roster.yaml").write_text(
        ROSTER
        + f'  "{hostile}":\n'
        + '    on_call:\n      - {email: mallory@example.com, start: "2026-11-23T00:00:00Z"}\n',
        encoding="utf-8",
    )
    new = BASE.replace(
        'approve: {people: ["lead@example.com"]}', f'approve: {{on_call: ["file:{hostile}"]}}'
    )

    ran = _diff(capsys, folder, new, "--format", "markdown")

    assert ran.code == 1, ran.text
    assert "mallory&#64;example.com" in ran.out
    assert "<img" not in ran.out and "[click](" not in ran.out and " @org" not in ran.out
    assert (
        "&lt;img src=x onerror=alert(1)&gt; \\[click\\](https://evil.example) &#64;org" in ran.out
    )


def test_diff_on_the_synced_roster_in_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_directory(monkeypatch, tmp_path)
    policy, _ = write_policy_and_roster(monkeypatch, tmp_path)
    (tmp_path / "new.yaml").write_text(
        policy.read_text().replace("auto_if_on_call: true", "auto_if_on_call: false")
    )

    before = run(capsys, "policy", "diff", str(policy), "new.yaml")
    assert before.code == 2, before.text
    assert before.err.strip() == (
        "The database holds no synced roster: run `oncall-access sync`, or pass --roster FILE."
    )
    assert run(capsys, "sync").code == 0

    ran = run(capsys, "policy", "diff", str(policy), "new.yaml")

    assert ran.code == 1, ran.text
    assert "on the roster from roster file synced just now." in ran.out
    assert "  - alice@example.com would no longer be approved at once" in ran.out
    same = run(capsys, "policy", "diff", str(policy), str(policy))
    assert same.code == 0 and "No change in effect" in same.out


@pytest.mark.parametrize("name", list(HOSTILE))
def test_diff_of_a_hostile_file_cannot_compare_and_says_why_in_a_line(
    name: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "new.yaml").write_bytes(HOSTILE[name])

    ran = run(capsys, "policy", "diff", "old.yaml", "new.yaml", "--roster", "roster.yaml")

    assert ran.code == 2, ran.text
    assert "Traceback" not in ran.text and ran.out == ""
    assert len(ran.err) < 800, ran.err[:800]
    assert ran.err.startswith("new.yaml:"), ran.err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("missing.yaml", "old.yaml"), "missing.yaml: cannot read the policy (No such file"),
        (("old.yaml", "old.yaml", "--at", "tomorrowish"), "--at tomorrowish: write a time like"),
        (("old.yaml", "old.yaml", "--tz", "Mars/Olympus"), "--tz Mars/Olympus: not a time zone"),
        (("old.yaml", "old.yaml", "--roster", "old.yaml"), "The roster file has errors"),
        (("old.yaml", "old.yaml", "--out", "nowhere/diff.md"), "nowhere/diff.md: cannot write"),
    ],
)
def test_diff_that_cannot_run_exits_2_with_a_sentence(
    argv: tuple[str, ...], said: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = list(argv) if "--roster" in argv else [*argv, "--roster", "roster.yaml"]

    ran = run(capsys, "policy", "diff", *full)

    assert ran.code == 2, ran.text
    assert said in ran.err, ran.err
    assert "Traceback" not in ran.text and len(ran.err.splitlines()) <= 3


# -- policy explain -------------------------------------------------------------------------------


def _explain(capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    ran = run(capsys, "policy", "explain", *argv, "--policy", "old.yaml", "--roster", "roster.yaml")
    assert "Traceback" not in ran.text, ran.text
    return ran


def test_explain_at_a_past_instant_says_the_shift_had_ended(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = _explain(capsys, "prod-db", "--as", "alice@example.com", "--at", "2026-11-23T21:30:00Z")

    assert ran.code == 0, ran.text
    assert ran.out.splitlines()[:4] == [
        "alice@example.com asking for prod-db at 21:30 UTC, on the roster file roster.yaml:",
        "Why for prod-db:",
        "✗ Your shift for Primary SRE (roster file) ended at 20:00 UTC.",
        "Rule: on call for Primary SRE (roster file): you are not.",
    ]


def test_explain_at_a_future_instant_reads_the_coming_shift(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _explain(capsys, "prod-db", "--as", "carol@example.com", "--at", AT)
    during = _explain(
        capsys,
        "prod-db",
        "--as",
        "Carol@Example.com",
        "--at",
        "2026-11-23T23:00:00+01:00",
        "--tz",
        "Europe/Berlin",
    )

    assert before.code == 0 and during.code == 0
    assert "✗ Your shift for Primary SRE (roster file) starts at 20:00 UTC." in before.out
    lines = during.out.splitlines()
    assert lines[0] == (
        "carol@example.com asking for prod-db at 23:00 CET, on the roster file roster.yaml:"
    )
    assert "✓ You are on call for Primary SRE (roster file) until Tue 24 Nov 09:00 CET." in lines
    assert (
        "Needs 1 approval; who can approve now: lead@example.com, erin@example.com, dave@example.com."
        in lines
    )
    assert "Access would end with your shift at Tue 24 Nov 09:00 CET at the latest." in lines


def test_explain_says_what_why_says_in_chat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_directory(monkeypatch, tmp_path)
    write_policy_and_roster(monkeypatch, tmp_path)
    assert run(capsys, "sync").code == 0
    for person in ("alice@example.com", "bob@example.com"):
        feed_stdin(monkeypatch, io.StringIO("why prod-db\n"))
        chat = run(capsys, "console", "--as", person)
        said_in_chat = answer_to(chat.out, "why prod-db")

        ran = run(capsys, "policy", "explain", "prod-db", "--as", person)

        assert ran.code == 0, ran.text
        explained = ran.out.splitlines()[1:]
        assert [x for x in explained if not x.startswith("Next sync")] == [
            x for x in said_in_chat if not x.startswith("Next sync")
        ]
        assert any(x.startswith("Next sync: ") for x in explained)
        assert len(explained) >= 5


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ("prod-dbb", "--as", "alice@example.com"),
            "There is no resource `prod-dbb`. Did you mean `prod-db`?",
        ),
        (("prod-db", "--as", "alice"), "--as 'alice' is not an email address."),
        (("prod-db", "--as", "alice@example.com", "--at", "+2x"), "--at +2x: write a time like"),
    ],
)
def test_explain_that_cannot_run_exits_2_with_a_sentence(
    argv: tuple[str, ...], said: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = _explain(capsys, *argv)

    assert ran.code == 2, ran.text
    assert said in ran.err and ran.out == ""


def test_explain_without_a_policy_says_how_to_give_one(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = run(capsys, "policy", "explain", "prod-db", "--as", "alice@example.com")

    assert ran.code == 2
    assert ran.err.strip() == "No policy: pass --policy FILE or set ONCALL_ACCESS_POLICY_FILE."


# -- policy test ----------------------------------------------------------------------------------


def test_the_demo_policy_tests_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_directory(monkeypatch, tmp_path)

    ran = run(capsys, "policy", "test", str(REPO / "bot" / "demo" / "policy-tests.yaml"))

    assert ran.code == 0, ran.text
    assert ran.out.splitlines()[-1].startswith("9 passed, 0 failed ("), ran.out
    assert "FAIL" not in ran.out


CASES = dedent(
    """\
    policy: old.yaml
    roster: roster.yaml
    cases:
      - name: alice is approved at once for grafana-admin
        person: alice@example.com
        resource: grafana-admin
        at: 2026-11-23T10:00:00Z
        expect: auto_approved
      - name: carol is approved at once too, though her shift starts at 20:00
        person: carol@example.com
        resource: grafana-admin
        at: 2026-11-23T10:00:00Z
        expect: auto_approved
        reason: on_call
      - name: dave approves prod-db (wrong approvers listed)
        person: alice@example.com
        resource: prod-db
        at: 2026-11-23T10:00:00Z
        expect: needs_approval
        approvers: [dave@example.com]
      - name: bob may not approve prod-db
        person: bob@example.com
        resource: prod-db
        at: 2026-11-23T10:00:00Z
        may_approve: false
    """
)


def test_policy_test_reports_each_failure_and_exits_1(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "cases.yaml").write_text(CASES, encoding="utf-8")

    ran = run(capsys, "policy", "test", "cases.yaml")

    assert ran.code == 1, ran.text
    assert ran.out.splitlines() == [
        "ok    alice is approved at once for grafana-admin",
        "FAIL  cases.yaml:9: carol is approved at once too, though her shift starts at 20:00",
        "      expected auto_approved, got refused (reason shift_not_started: "
        "Your shift for Primary SRE (roster file) starts at 20:00 UTC.)",
        "      expected reason on_call, got shift_not_started "
        "(Your shift for Primary SRE (roster file) starts at 20:00 UTC.)",
        "FAIL  cases.yaml:15: dave approves prod-db (wrong approvers listed)",
        "      expected approvers dave@example.com, got dave@example.com, erin@example.com, "
        "lead@example.com",
        "ok    bob may not approve prod-db",
        "2 passed, 2 failed (cases.yaml against old.yaml).",
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            CASES.replace("    expect: auto_approved\n", "    expect: approved\n", 1),
            "cases.yaml:8: `expect` is one of refused, auto_approved, needs_approval, no_approver, not `approved`",
        ),
        (
            CASES.replace("    person: bob", "    persn: bob"),
            "cases.yaml:22: unknown key `persn` (expected approvers, at, expect,",
        ),
        (CASES.replace("roster: roster.yaml\n", ""), "cases.yaml:3: no roster: give the file"),
        (CASES.replace("at: 2026-11-23T10:00:00Z", "at: soon", 1), "cases.yaml:7: `at` is a time"),
        (CASES.replace("roster.yaml", "gone.yaml"), "Cannot read the roster file gone.yaml"),
        (
            CASES.replace("policy: old.yaml", "policy: gone.yaml"),
            "gone.yaml: cannot read the policy",
        ),
        ("cases: {}\n", "cases.yaml:1: a policy tests file is a mapping with `cases:` (a list)"),
    ],
)
def test_a_policy_tests_file_that_cannot_run_exits_2_naming_the_line(
    text: str, said: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "cases.yaml").write_text(text, encoding="utf-8")

    ran = run(capsys, "policy", "test", "cases.yaml")

    assert ran.code == 2, ran.text
    assert said in ran.err, ran.err
    assert "Traceback" not in ran.text and ran.out == ""


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_policy_tests_file_is_refused_in_a_sentence(
    name: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "cases.yaml").write_bytes(HOSTILE[name])

    ran = run(capsys, "policy", "test", "cases.yaml")

    assert ran.code == 2, ran.text
    assert "Traceback" not in ran.text and len(ran.err) < 800
    assert ran.err.startswith("cases.yaml:"), ran.err
