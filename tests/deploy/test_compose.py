"""deploy/compose.yaml: valid against the Compose Specification's JSON schema, ordered so that
PostgreSQL is healthy before the migrations and the migrations are done before two replicas
start, and its settings, run as Compose would run them (minus the containers), give two ready
replicas on the demo roster and policy."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from jsonschema import Draft7Validator

from core.policy import parse_policy
from tests.bot.serving import eventually
from tests.conftest import POSTGRES_URL, SKIP_PG

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMA = ROOT / "tests" / "reference" / "compose" / "compose-spec.json"


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8")))


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}` and `${NAME:-default}` (the forms the file uses)."""

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        return env.get(name) or default

    return re.sub(r"\$\{(\w+)(:-([^}]*))?\}", sub, value)


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(_compose())
    ]
    assert problems == []


def test_the_schema_check_catches_a_misspelt_key() -> None:
    compose = _compose()
    compose["services"]["oncall-access"]["depends_onn"] = compose["services"]["oncall-access"].pop(
        "depends_on"
    )
    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    assert any("depends_onn" in e.message for e in validator.iter_errors(compose))


def test_migrations_run_once_after_postgres_is_healthy_and_before_two_replicas() -> None:
    services = _compose()["services"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "healthcheck" in services["postgres"]
    bot = services["oncall-access"]
    assert bot["command"] == ["serve"]
    assert bot["deploy"]["replicas"] == 2
    assert bot["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert "profiles" in services["console"]  # a tool, not started by `up`


def test_demo_policy_is_accepted_and_names_only_groups_of_the_demo_roster() -> None:
    policy = parse_policy((DEPLOY / "demo" / "policy.yaml").read_text(encoding="utf-8"))
    roster = yaml.safe_load((DEPLOY / "demo" / "roster.yaml").read_text(encoding="utf-8"))
    named = {f"{g.provider.value}:{g.kind}/{g.name}" for g in policy.groups()}
    assert named <= {f"file:{group}" for group in roster["groups"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def _ready(url: str, process: asyncio.subprocess.Process, log: Path) -> dict[str, Any]:
    async def answer() -> dict[str, Any] | None:
        if process.returncode is not None:
            raise AssertionError(f"replica exited: {_tail(log)}")
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{url}/readyz") as resp:
                return dict(await resp.json()) if resp.status == 200 else None
        except aiohttp.ClientError:
            return None

    found: dict[str, Any] = await eventually(answer, within=60, what=f"{url} ready")
    return found


async def test_compose_settings_migrate_once_and_start_two_ready_replicas(
    tmp_path: Path,
) -> None:
    """What `docker compose up` runs, without Docker: the `migrate` command, then the replicas'
    command with the service's environment (no .env, so every default applies) and its bind
    mount resolved to deploy/demo; only the database host is this machine's PostgreSQL."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_PG)
    from tests.conftest import _drop_postgres_database, _fresh_postgres_database

    services = _compose()["services"]
    bot = services["oncall-access"]
    env = {k: _interpolate(str(v), {}) for k, v in bot["environment"].items()}
    assert env["ONCALL_ACCESS_DATABASE_URL"] == (
        "postgresql://oncall:oncall-demo@postgres:5432/oncall_access"
    )
    mounts = {m["target"]: DEPLOY / m["source"] for m in bot["volumes"]}
    for name, value in env.items():
        for target, source in mounts.items():
            if value.startswith(target + "/"):
                env[name] = str(source / value.removeprefix(target + "/"))
    name, url = await _fresh_postgres_database()
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("ONCALL_", "SLACK_", "MICROSOFT_"))
    }
    env = {**inherited, **env, "ONCALL_ACCESS_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    processes: list[asyncio.subprocess.Process] = []
    try:
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", *services["migrate"]["command"],
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(migrate.communicate(), 60)
        assert migrate.returncode == 0, out.decode()
        assert "upgraded from empty to revision" in out.decode()
        urls = []
        for replica in range(bot["deploy"]["replicas"]):
            port = _free_port()
            log = tmp_path / f"replica-{replica}.log"
            with log.open("wb") as sink:
                processes.append(
                    await asyncio.create_subprocess_exec(
                        *(sys.executable, "-m", "bot.cli", *bot["command"], "--host", "127.0.0.1"),
                        cwd=tmp_path,
                        env={**env, "PORT": str(port)},
                        stdout=sink,
                        stderr=asyncio.subprocess.STDOUT,
                    )
                )
            urls.append((f"http://127.0.0.1:{port}", processes[-1], log))
        for replica_url, process, log in urls:
            ready = await _ready(replica_url, process, log)
            assert ready == {"ready": True, "checks": {"database": "ok", "roster:file": "ok"}}
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()
        await _drop_postgres_database(name)
