"""`policy check` bounds resource names: they are typed in chat and are the values of Slack menu
options (at most 150 characters), so a name longer than 64 characters is refused on its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.policy import RESOURCE_NAME_MAX
from tests.bot.clirun import fresh_directory, run


def test_policy_check_refuses_a_resource_name_over_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh_directory(monkeypatch, tmp_path)
    longest, too_long = "a" * RESOURCE_NAME_MAX, "数" * (RESOURCE_NAME_MAX + 1)
    (tmp_path / "names.yaml").write_text(
        "version: 1\nresources:\n"
        f"  {longest}:\n    approve: {{people: [lead@example.com]}}\n"
        f"  {too_long}:\n    approve: {{people: [lead@example.com]}}\n",
        encoding="utf-8",
    )

    ran = run(capsys, "policy", "check", "names.yaml")

    assert ran.code == 1
    [problem] = [line for line in ran.err.splitlines() if line.startswith("names.yaml:5: ")]
    bound = f"at most {RESOURCE_NAME_MAX} characters (this one has {RESOURCE_NAME_MAX + 1})"
    assert bound in problem
    assert "1 problem(s)" in ran.err
    assert longest not in ran.err
