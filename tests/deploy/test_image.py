"""The Dockerfile and .dockerignore: a pinned base, a non-root user, a health check on /healthz,
and a build context holding what the build copies and nothing else (no .git, no virtualenv, no
local database, no .env with secrets)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _args() -> dict[str, str]:
    return dict(arg.split("=", 1) for kind, arg in _instructions() if kind == "ARG" and "=" in arg)


def test_every_stage_starts_from_an_exactly_pinned_base() -> None:
    args = _args()
    bases = [
        re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], arg.split()[0])
        for kind, arg in _instructions()
        if kind == "FROM"
    ]
    assert len(bases) == 2
    for (
        base
    ) in bases:  # python:3.11.14-slim-bookworm or ...@sha256:<digest>, never python:3.11-slim
        assert re.fullmatch(r"[\w./-]+(:\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?", base), base
        assert re.search(r":\d+\.\d+\.\d+|@sha256:", base), base


def test_runtime_runs_as_a_non_root_user_with_a_health_check() -> None:
    steps = _instructions()
    final = steps[max(i for i, (kind, _) in enumerate(steps) if kind == "FROM") :]
    users = [arg for kind, arg in final if kind == "USER"]
    assert users, "the runtime stage never leaves root"
    assert users[-1].split(":")[0] not in ("root", "0")
    (healthcheck,) = [arg for kind, arg in final if kind == "HEALTHCHECK"]
    assert "/healthz" in healthcheck
    assert ("ENTRYPOINT", '["oncall-access"]') in final


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/")
        regex = fnmatch.translate(glob).replace(".*", "[^/]*")
        if glob.startswith("**/"):
            regex = "(.*/)?" + fnmatch.translate(glob[3:]).replace(".*", "[^/]*")
        if any(re.fullmatch(regex, c) for c in candidates):
            ignored = not negate
    return ignored


def test_build_context_holds_what_the_build_copies_and_no_secrets_or_clutter() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [  # every source of a COPY from the context (all words but the destination)
        source
        for kind, arg in _instructions()
        if kind == "COPY" and "--from" not in arg
        for source in arg.split()[:-1]
    ]
    assert {"pyproject.toml", "core", "adapters", "bot"} <= set(copied)
    for path in ["core/audit.py", "bot/demo/policy.yaml",
                 "adapters/storage/migrations/versions/0001_initial.py", *copied]:  # fmt: skip
        assert not _ignored(path, patterns), path
    for path in [".git/config", ".venv/bin/python", "tests/conftest.py", ".env", "bot/.env",
                 "oncall-access.db", "oncall-access.db-wal", "deploy/compose.yaml",
                 "core/__pycache__/audit.cpython-311.pyc", "bench/fuzz.py"]:  # fmt: skip
        assert _ignored(path, patterns), path
