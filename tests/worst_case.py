"""Realistic worst cases for the chat surfaces' size limits: 120 resources, 400 on-call groups,
2,000-character reasons, long names, emoji and CJK text (each costing Teams 2 or 4 bytes)."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.policy import RESOURCE_NAME_MAX
from tests.builders import iso

RESOURCES = 120
GROUPS = 400
PENDING = 45
LONG_NAME = "数据库-" + "replica-" * 8
REASON = ("INC-4411 主数据库故障 🔥🚨 failover <b>*bold*</b> & `code` _x_ ~y~ " * 40)[:2000]


def resource_name(i: int) -> str:
    """Every tenth is as long as a name may be, in CJK."""
    if i % 10 == 0:
        return (LONG_NAME + f"{i:03d}")[-RESOURCE_NAME_MAX:]
    return f"res-{i:03d}"


def policy_yaml(resources: int = RESOURCES) -> str:
    """Resources Alice (on call for Primary SRE) may request; the lead approves them all."""
    lines = ["version: 1", "resources:"]
    for i in range(resources):
        lines += [
            f'  "{resource_name(i)}":',
            f'    description: "データベース 🛢️ replica {i}, ' + "read-write access " * 6 + '"',
            '    request: {on_call: ["file:schedule/Primary SRE"]}',
            '    approve: {people: ["lead@example.com"]}',
            "    max_duration: 4h",
        ]
    return "\n".join(lines) + "\n"


def group_name(i: int) -> str:
    return f"Rota {i:03d} 🚨 オンコール 値班 — platform, storage and networking follow-the-sun"


def roster_yaml(now: datetime, groups: int = GROUPS) -> str:
    """Primary SRE (Alice) and Secondary SRE (Bob), then `groups - 2` more, each with someone on
    call until a shift end shown in every line."""
    start, end = iso(now - timedelta(hours=1)), iso(now + timedelta(hours=7))
    lines = ["groups:"]
    names = ["Primary SRE", "Secondary SRE", *(group_name(i) for i in range(groups - 2))]
    for n, name in enumerate(names):
        who = "alice@example.com" if n == 0 else "bob@example.com"
        if n > 1:
            who = f"on.call.engineer.with.a.long.address.{n}@example.com"
        lines += [
            f'  "schedule/{name}":',
            f"    members: [{who}]",
            "    on_call:",
            f'      - {{email: {who}, start: "{start}", end: "{end}"}}',
        ]
    return "\n".join(lines) + "\n"
