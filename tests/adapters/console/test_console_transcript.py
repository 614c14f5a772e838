"""The console as a person uses it: commands piped to `oncall-access console --as EMAIL`, one a
line, and the transcript they read back (prompts echoed, notices addressed `» to EMAIL`)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bot.clirun import (
    LiveScript,
    answer_to,
    feed_stdin,
    fresh_directory,
    run,
    write_policy_and_roster,
)

REPO = Path(__file__).resolve().parents[3]
PRIMARY_SRE = "Primary SRE (roster file)"


@pytest.fixture(autouse=True)
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fresh_directory(monkeypatch, tmp_path)
    write_policy_and_roster(monkeypatch, tmp_path)
    return tmp_path


def _console(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    script: str,
    who: str = "alice@example.com",
) -> str:
    feed_stdin(monkeypatch, io.StringIO(script))
    ran = run(capsys, "console", "--as", who)
    assert ran.code == 0, ran.text
    assert "Traceback" not in ran.text, ran.text
    assert "Something went wrong" not in ran.out, ran.out
    return ran.out


def _request_id(transcript: str, resource: str) -> str:
    found = re.findall(rf"Request (r\w+) for {resource} \(", transcript)
    assert found, transcript
    return found[-1]


def test_request_approve_and_grant_in_one_console_session(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    script = LiveScript(
        capsys,
        [
            "as bob@example.com",
            'request prod-db 1h "INC-4411 failover"',
            "mine",
            "as lead@example.com",
            "pending",
            "as alice@example.com",
            'request prod-db 1h "INC-4411 failover"',
            "as bob@example.com",
            "pending",
            lambda seen: f"approve {_request_id(seen, 'prod-db')} go ahead",
            "as alice@example.com",
            "mine",
        ],
    )
    feed_stdin(monkeypatch, script)

    code = run(capsys, "console", "--as", "alice@example.com").code
    transcript, err = script.transcript()

    assert code == 0, transcript + err
    assert "Traceback" not in transcript + err
    # bob is on the roster but not on call for Primary SRE: one sentence, nothing created or waiting
    assert answer_to(transcript, 'request prod-db 1h "INC-4411 failover"') == [
        f"You are not on call for {PRIMARY_SRE}."
    ]
    assert answer_to(transcript, "mine") == [
        "You have no requests. `list` shows what you may request."
    ]
    assert answer_to(transcript, "pending") == ["Nothing is waiting for your approval."]
    # alice is on call: the approvers are asked, each addressed by name
    rid = _request_id(transcript, "prod-db")
    asked = answer_to(transcript, 'request prod-db 1h "INC-4411 failover"', nth=1)
    to_bob = [line for line in asked if line.startswith("  » to bob@example.com: ")]
    assert len(to_bob) == 1, asked
    assert f'alice@example.com requests prod-db for 1h "INC-4411 failover" ({rid})' in to_bob[0]
    assert f"Reply `approve {rid}` or `deny {rid} REASON`." in to_bob[0]
    assert any(line.startswith("  » to lead@example.com: ") for line in asked), asked
    assert asked[-1] == f"Request {rid} for prod-db (1h) is waiting for approval."
    assert answer_to(transcript, "as bob@example.com", nth=1) == ["You are now bob@example.com."]
    waiting = answer_to(transcript, "pending", nth=1)
    assert waiting[0] == "Waiting for you (`approve ID` or `deny ID REASON`):"
    assert any(rid in line and "alice@example.com requests prod-db" in line for line in waiting)
    # bob approves: alice is told, bob sees the decision
    approved = answer_to(transcript, f"approve {rid} go ahead")
    assert (
        f"  » to alice@example.com: Your request {rid} for prod-db was approved by "
        "bob@example.com; access for 1h."
    ) in approved
    assert approved[-1] == f"Approved {rid}: alice@example.com has prod-db for 1h."
    # alice's grant is active, with the time left
    mine = answer_to(transcript, "mine", nth=1)
    assert mine[0] == "Your requests, newest first:"
    assert re.fullmatch(rf"{rid}  prod-db  1h  active, (1h|59m) left", mine[1]), mine


def test_on_call_requester_is_approved_at_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _console(capsys, monkeypatch, "request grafana-admin 30m\nmine\n")

    answer = answer_to(out, "request grafana-admin 30m")
    assert answer[-1].startswith(
        "Approved at once (you are on call): grafana-admin is yours until "
    )
    assert any(
        line.startswith("  » to alice@example.com: Your request ")
        and "was approved automatically (you are on call); access for 30m." in line
        for line in answer
    ), answer
    assert re.search(r"  grafana-admin  30m  active, (30m|29m) left", out), out


def test_switching_to_something_that_is_not_an_email_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _console(capsys, monkeypatch, "as not-an-email\nmine\n")

    assert answer_to(out, "as not-an-email") == [
        "`not-an-email` is not an email address; try `as bob@example.com`."
    ]
    assert "alice@example.com> mine" in out  # still alice


def test_unknown_command_suggests_the_nearest_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _console(capsys, monkeypatch, "requst prod-db 1h\npendign\n")

    assert answer_to(out, "requst prod-db 1h") == [
        "I don't know `requst`. Did you mean `request`? Type `help` for the commands."
    ]
    assert "Did you mean `pending`?" in answer_to(out, "pendign")[0]


BAD_INPUT = [
    ("request prod-db 0m INC-1", "`0m` is not a positive duration."),
    ("request prod-db -1h INC-1", "`-1h` is not a duration"),
    ("request prod-db 99999d INC-1", "`99999d` is too long; the longest duration is 366d."),
    ("request prod-db 2x", "`2x` is not a duration"),
    ("request prod-db 5h INC-1", "5h is longer than the 4h maximum for prod-db."),
    ("request prod-db 1h", "prod-db needs a reason"),
    ("request prod-bd 1h INC-1", "There is no resource `prod-bd`. Did you mean `prod-db`?"),
    ("approve", "`approve` needs a request id"),
    ("approve r2345678", "There is no request `r2345678`."),
    ('request prod-db 1h "INC-1', "A quote in your command is not closed."),
]


def test_bad_input_gets_one_clear_sentence_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    script = "".join(f"{command}\n" for command, _ in BAD_INPUT) + "mine\n"

    out = _console(capsys, monkeypatch, script)

    for command, sentence in BAD_INPUT:
        answer = answer_to(out, command)
        assert len(answer) == 1, (command, answer)
        assert answer[0].startswith(sentence), (command, answer)
    assert answer_to(out, "mine") == ["You have no requests. `list` shows what you may request."]


def test_list_says_why_or_why_not_for_each_resource(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _console(capsys, monkeypatch, "list\nas bob@example.com\nlist\n")

    alice, bob = answer_to(out, "list"), answer_to(out, "list", nth=1)
    assert alice[0] == "Resources (✓ you may request now):"
    assert any(
        line.startswith("✓ prod-db (Read-write on the production database): You are on call for")
        for line in alice
    ), alice
    assert f"✗ grafana-admin: You are not on call for {PRIMARY_SRE}." in bob


def test_status_shows_the_roster_file_provider_to_an_admin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _console(
        capsys, monkeypatch, "status\nas bob@example.com\nstatus\n", who="lead@example.com"
    )

    answer = answer_to(out, "status")
    assert answer[0] == "Provider status:"
    assert any("roster file: last good sync just now" in line.lower() for line in answer), answer
    assert answer_to(out, "status", nth=1) == ["Only admins can do that (ONCALL_ACCESS_ADMINS)."]


def test_demo_in_a_real_process(tmp_path: Path) -> None:
    """The one real process: `python -m bot.cli demo --dir DIR` with a piped script."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ONCALL_ACCESS_", "SLACK_", "MICROSOFT_")) and k != "PORT"
    }
    env["PYTHONPATH"] = str(REPO)
    demo_dir = tmp_path / "demo"

    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--dir", str(demo_dir)],
        input="request grafana-admin 30m\nquit\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("You are alice@example.com, on call for Primary SRE")
    assert str(demo_dir / "demo.db") in lines[0]
    assert lines[1].startswith("Try `list`, `request grafana-admin 30m`")
    assert lines[2].startswith("Type `as bob@example.com` to play the on-call approver")
    answer = answer_to(done.stdout, "request grafana-admin 30m")
    assert answer[-1].startswith(
        "Approved at once (you are on call): grafana-admin is yours until "
    )
    assert (demo_dir / "demo.db").exists()


def test_comments_and_blank_lines_are_skipped_and_quit_ends_the_session(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _console(capsys, monkeypatch, "# who am I\n\nas BOB@Example.com\nquit\nmine\n")

    assert "# who am I" not in out
    assert answer_to(out, "as BOB@Example.com") == ["You are now bob@example.com."]
    assert "bob@example.com> quit" in out
    assert "> mine" not in out
