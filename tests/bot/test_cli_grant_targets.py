"""The command line for grant targets, as an admin runs it on the server: `policy check` knows the
three types and names a wrong option on its line; `connect github|okta|entra` reads secrets from
files, verifies live against the fake services, stores them sealed and never prints them;
`status` shows them; `disconnect` removes them."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.storage.crypto import new_key
from tests.bot.clirun import run
from tests.fakes.github import FakeGitHub
from tests.fakes.graph import FakeGraph
from tests.fakes.okta import FakeOkta

GOOD = """\
version: 1
resources:
  prod-access:
    approve: {people: ["lead@example.com"]}
    grant:
      - {type: entra-group, group: "6b9f1c0e-4a53-4c1e-9f7e-1d2c3b4a5f60"}
      - {type: okta-group, group: "SRE On-call"}
      - {type: github-team, org: acme, team: sre-oncall, role: maintainer}
"""

BAD = """\
version: 1
resources:
  prod-access:
    approve: {people: ["lead@example.com"]}
    grant:
      - {type: entra-group, group: "SRE"}
      - {type: okta-group}
      - {type: github-team, org: acme, team: sre-oncall, role: owner}
"""


def test_policy_check_knows_the_three_types_and_names_each_wrong_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(BAD)
    good = run(capsys, "policy", "check", "good.yaml")
    assert good.code == 0, good.text
    bad = run(capsys, "policy", "check", "bad.yaml")
    assert bad.code == 1
    by_line = {
        int(line.split(":")[1]): line
        for line in bad.err.splitlines()
        if re.match(r"bad\.yaml:\d+: ", line)
    }
    assert sorted(by_line) == [6, 7, 8], bad.err
    assert "must be the group's object id" in by_line[6]
    assert "needs `group: ID_OR_NAME`" in by_line[7]
    assert "`role` is member or maintainer" in by_line[8]


async def cli(env: dict[str, str], cwd: Path, *argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *argv, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeGraph, FakeOkta, FakeGitHub]]:
    async with FakeGraph() as graph, FakeOkta() as okta, FakeGitHub() as github:
        yield graph, okta, github


async def test_connect_status_and_disconnect_from_the_command_line(
    tmp_path: Path, fakes: tuple[FakeGraph, FakeOkta, FakeGitHub]
) -> None:
    graph, okta, github = fakes
    graph.add_app("contoso.onmicrosoft.com", "app-client-id", secret="graph-secret")
    okta_token = okta.add_token()
    github_token = github.add_token()
    github.add_team("acme", "sre-oncall")
    (tmp_path / "graph.secret").write_text("graph-secret\n")
    (tmp_path / "okta.token").write_text(okta_token + "\n")
    (tmp_path / "github.token").write_text(github_token + "\n")
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("ONCALL_ACCESS_", "GRAPH_", "ENTRA_", "GITHUB_"))
    }  # fmt: skip
    env.update(
        ONCALL_ACCESS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        ONCALL_ACCESS_SECRET_KEY=new_key(),
        GRAPH_API_URL=graph.url,
        ENTRA_LOGIN_URL=graph.url,
        GITHUB_API_URL=github.url,
    )

    code, out, err = await cli(
        env, tmp_path, "connect", "entra", "--tenant", "contoso.onmicrosoft.com",
        "--client-id", "app-client-id", "--client-secret-file", "graph.secret",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("Connected Microsoft Entra ID for grants.")
    code, out, err = await cli(
        env, tmp_path, "connect", "okta", "--org-url", okta.url, "--api-token-file", "okta.token"
    )
    assert code == 0, err
    code, out, err = await cli(
        env, tmp_path, "connect", "github", "--org", "acme", "--token-file", "github.token"
    )
    assert code == 0, err
    assert github_token not in out + err

    code, out, _ = await cli(env, tmp_path, "status")
    assert code == 0
    for name in ("Microsoft Entra ID", "Okta", "GitHub"):
        assert f"{name} (for grants): connected" in out
    assert "graph-secret" not in out and okta_token not in out

    (tmp_path / "wrong.token").write_text("github_pat_wrong\n")
    code, out, err = await cli(
        env, tmp_path, "connect", "github", "--org", "acme", "--token-file", "wrong.token"
    )
    assert code == 1 and "Not connected" in err and "github_pat_wrong" not in out + err
    assert "Traceback" not in err

    code, out, _ = await cli(env, tmp_path, "disconnect", "okta")
    assert code == 0 and out.startswith("Disconnected Okta")
    code, out, _ = await cli(env, tmp_path, "status")
    assert "Okta (for grants)" not in out and "GitHub (for grants): connected" in out
