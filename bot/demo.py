"""`oncall-access demo`: the console on a bundled roster and policy, in a local SQLite file."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

from core.durations import parse_duration

_RELATIVE = re.compile(r'"now([+-])(\w+)"')


def demo_files(folder: Path, now: datetime) -> tuple[Path, Path]:
    """Write the demo policy and a roster whose shifts are placed around `now`."""
    folder.mkdir(parents=True, exist_ok=True)
    bundled = resources.files("bot") / "demo"
    policy = folder / "policy.yaml"
    roster = folder / "roster.yaml"
    policy.write_text((bundled / "policy.yaml").read_text(encoding="utf-8"), encoding="utf-8")

    def place(match: re.Match[str]) -> str:
        delta: timedelta = parse_duration(match.group(2))
        at = now + delta if match.group(1) == "+" else now - delta
        return f'"{at.replace(microsecond=0).isoformat().replace("+00:00", "Z")}"'

    roster.write_text(
        _RELATIVE.sub(place, (bundled / "roster.yaml").read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    return policy, roster


INTRO = (
    "You are alice@example.com, on call for Primary SRE (demo roster and policy, local SQLite {db}).\n"
    'Try `list`, `request grafana-admin 30m`, `request prod-db 1h "INC-1 failover"`, `oncall`, `mine`, `help`.\n'
    "Type `as bob@example.com` to play the on-call approver (`pending`, `approve ID`), `quit` to leave."
)
