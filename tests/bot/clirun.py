"""Running the `oncall-access` command line in-process, as a user would in a fresh directory.

`main([...])` is called directly (fast), with the environment and working directory of a test, so
what is asserted is what a person sees: the exit code and the printed text.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.console import repl
from bot.cli import main
from tests.builders import POLICY, roster_yaml

_SETTING_PREFIXES = ("ONCALL_ACCESS_", "SLACK_", "MICROSOFT_", "PAGERDUTY_", "OPSGENIE_", "JSM_",
                     "GRAPH_", "ENTRA_", "GITHUB_")  # fmt: skip


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def fresh_directory(monkeypatch: pytest.MonkeyPatch, folder: Path) -> str:
    """Work in `folder` with no oncall-access setting inherited; returns the database URL."""
    for name in list(os.environ):
        if name.startswith(_SETTING_PREFIXES) or name == "PORT":
            monkeypatch.delenv(name)
    monkeypatch.chdir(folder)
    url = f"sqlite+aiosqlite:///{folder / 'oncall-access.db'}"
    monkeypatch.setenv("ONCALL_ACCESS_DATABASE_URL", url)
    return url


def write_policy_and_roster(
    monkeypatch: pytest.MonkeyPatch,
    folder: Path,
    *,
    policy: str = POLICY,
    roster: str | None = None,
    now: datetime | None = None,
) -> tuple[Path, Path]:
    """The builders' policy and a roster around the real `now` (the CLI runs on the real clock)."""
    policy_path, roster_path = folder / "policy.yaml", folder / "roster.yaml"
    policy_path.write_text(policy, encoding="utf-8")
    roster_path.write_text(
        roster if roster is not None else roster_yaml(now or datetime.now(UTC)), encoding="utf-8"
    )
    monkeypatch.setenv("ONCALL_ACCESS_POLICY_FILE", str(policy_path))
    monkeypatch.setenv("ONCALL_ACCESS_ROSTER_FILE", str(roster_path))
    monkeypatch.setenv("ONCALL_ACCESS_ADMINS", "lead@example.com")
    return policy_path, roster_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    capsys.readouterr()  # only what this command prints
    code = main(list(argv))
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def feed_stdin(monkeypatch: pytest.MonkeyPatch, stream: Any) -> None:
    """Pipe `stream` to the console, as `... | oncall-access console` would.

    `run_console` binds `sys.stdin` as a default argument when it is imported, so replacing
    `sys.stdin` alone does not reach it; its default is replaced as well.
    """
    monkeypatch.setattr(sys, "stdin", stream)
    defaults = repl.run_console.__kwdefaults__
    if defaults is not None and "stdin" in defaults:
        monkeypatch.setitem(defaults, "stdin", stream)


class LiveScript:
    """Standard input typed by someone reading the output: a line may be a function of the
    transcript so far (e.g. `approve` followed by the id the bot just printed)."""

    def __init__(
        self, capsys: pytest.CaptureFixture[str], lines: Iterable[str | Callable[[str], str]]
    ) -> None:
        self._capsys = capsys
        self._lines = list(lines)
        self._seen: list[str] = []
        self._err: list[str] = []

    def isatty(self) -> bool:
        return False

    def _collect(self) -> None:
        captured = self._capsys.readouterr()
        self._seen.append(captured.out)
        self._err.append(captured.err)

    def readline(self) -> str:
        self._collect()
        if not self._lines:
            return ""
        line = self._lines.pop(0)
        return (line("".join(self._seen)) if callable(line) else line) + "\n"

    def transcript(self) -> tuple[str, str]:
        self._collect()
        return "".join(self._seen), "".join(self._err)


def answer_to(transcript: str, command: str, *, nth: int = 0) -> list[str]:
    """The lines printed in answer to the `nth` echo of `command` (up to the next prompt)."""
    lines = transcript.splitlines()
    echoes = [i for i, line in enumerate(lines) if _is_echo(line) and _echoed(line) == command]
    assert len(echoes) > nth, f"`{command}` was not run {nth + 1} times:\n{transcript}"
    start = echoes[nth] + 1
    end = next((i for i in range(start, len(lines)) if _is_echo(lines[i])), len(lines))
    return lines[start:end]


def _is_echo(line: str) -> bool:
    who, sep, _ = line.partition("> ")
    return bool(sep) and "@" in who and " " not in who


def _echoed(line: str) -> str:
    return line.partition("> ")[2]


def sql(db: Path, *statements: str) -> list[tuple[Any, ...]]:
    """Run statements directly on the SQLite file, as someone tampering with it would."""
    with closing(sqlite3.connect(db)) as conn:
        rows: list[tuple[Any, ...]] = []
        for statement in statements:
            rows = conn.execute(statement).fetchall()
        conn.commit()
    return rows


def run_async(coro: Any) -> Any:
    """Run setup that talks to the database from a plain (synchronous) CLI test."""
    return asyncio.run(coro)
