"""Reads the roster file (format in the README) into a snapshot, synced like any provider.

A file with errors fails the sync with every problem named by line, and the previous snapshot
stays in force. The file is read and parsed in a worker thread: a large file never stalls the
event loop that answers Slack and Teams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import RosterError
from core.groups import GroupRef, Provider
from core.identity import Person, is_email, normalize_email
from core.ports import FetchResult
from core.roster import Group, RosterSnapshot, Shift
from core.yamlpos import line_of
from core.yamlread import MAX_BYTES, YamlProblem, decode, excerpt, load, shorten

MAX_PROBLEMS = 50  # listed; past that, a count


class FileRosterProvider:
    provider = Provider.FILE

    def __init__(self, path: Path, now: Callable[[], datetime]) -> None:
        self._path = path
        self._now = now

    async def fetch(self) -> FetchResult:
        snapshot = await asyncio.to_thread(read_roster, self._path, self._now())
        return FetchResult(snapshot, api_calls=0)

    async def confirm_on_call(self, email: str, group: GroupRef, now: datetime) -> Shift | None:
        snapshot = (await self.fetch()).snapshot
        covering = [s for s in snapshot.shifts_of(email, group) if s.covers(now)]
        return covering[0] if covering else None


def read_roster(path: Path, taken_at: datetime) -> RosterSnapshot:
    """The roster file's snapshot; RosterError when it cannot be read or has errors."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_BYTES + 1)  # no more than the parser would accept
        text = decode(raw)
    except OSError as exc:
        raise RosterError(f"Cannot read the roster file {path}: {exc.strerror}.") from None
    except YamlProblem as exc:
        raise RosterError(exc.where(str(path))) from None
    return parse_roster(text, str(path), taken_at)


def read_fixture(path: Path, taken_at: datetime) -> list[RosterSnapshot]:
    """A roster file standing in for every provider, one snapshot each: besides `KIND/NAME`, its
    group keys may name any provider's group (`pagerduty:schedule/Primary SRE`), so a policy
    written for PagerDuty can be explained, compared and tested without one."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_BYTES + 1)
        text = decode(raw)
    except OSError as exc:
        raise RosterError(f"Cannot read the roster file {path}: {exc.strerror}.") from None
    except YamlProblem as exc:
        raise RosterError(exc.where(str(path))) from None
    merged = parse_roster(text, str(path), taken_at, any_provider=True)
    by_provider: dict[Provider, dict[GroupRef, Group]] = {}
    for ref, group in merged.groups.items():
        by_provider.setdefault(ref.provider, {})[ref] = group
    if not by_provider:
        by_provider[Provider.FILE] = {}
    return [
        RosterSnapshot(provider, merged.taken_at, groups, merged.people)
        for provider, groups in by_provider.items()
    ]


def parse_roster(
    text: str, filename: str, taken_at: datetime, *, any_provider: bool = False
) -> RosterSnapshot:
    """The snapshot of a roster file's text; with `any_provider`, group keys may also be
    `PROVIDER:KIND/NAME` (the groups keep their provider; the snapshot is the file's)."""
    try:
        root, data = load(text)
    except YamlProblem as exc:
        raise RosterError(exc.where(filename)) from None
    problems: list[str] = []

    def problem(path: list[Any], message: str) -> None:
        problems.append(shorten(f"{filename}:{line_of(root, path)}: {message}"))

    if not isinstance(data, dict):
        raise RosterError(f"{filename}:1: a roster file is a mapping with `people` and `groups`")
    unknown = set(data) - {"people", "groups"}
    for key in sorted(unknown, key=str):
        problem([key], f"unknown key `{excerpt(key)}` (expected people, groups)")
    people: dict[str, Person] = {}
    raw_people = data.get("people") or []
    if not isinstance(raw_people, list):
        problem(["people"], "`people` is a list of {email, name}")
        raw_people = []
    for i, entry in enumerate(raw_people):
        if not isinstance(entry, dict) or not _is_email(entry.get("email")):
            problem(["people", i], "each person needs an `email`")
            continue
        name = entry.get("name", "")
        if isinstance(name, list | dict):
            problem(["people", i, "name"], "`name` is text")
            continue
        people[normalize_email(entry["email"])] = Person(entry["email"], str(name))
    groups: dict[GroupRef, Group] = {}
    raw_groups = data.get("groups") or {}
    if not isinstance(raw_groups, dict):
        problem(["groups"], "`groups` maps `KIND/NAME` to members and on_call")
        raw_groups = {}
    seen: dict[GroupRef, str] = {}
    for key, body in raw_groups.items():
        _, slash, name = str(key).partition("/")
        if not slash or not name.strip():
            problem(
                ["groups", key],
                f"group `{excerpt(key)}`: write KIND/NAME, like schedule/Primary SRE",
            )
            continue
        try:
            ref = (
                GroupRef.parse(str(key))
                if any_provider and _names_provider(str(key))
                else GroupRef.local(Provider.FILE, str(key))
            )
            if ref.levels is not None:
                raise ValueError("a roster names the whole group; put `level` on each shift")
        except ValueError as exc:
            problem(["groups", key], f"group `{key}`: {exc}")
            continue
        if ref in seen:
            problem(
                ["groups", key], f"group `{key}` is the same group as `{seen[ref]}`, written twice"
            )
            continue
        seen[ref] = str(key)
        body = body or {}
        if not isinstance(body, dict):
            problem(["groups", key], f"group `{key}` needs `members` and/or `on_call`")
            continue
        for extra in sorted(set(body) - {"members", "on_call"}, key=str):
            problem(
                ["groups", key, extra],
                f"unknown key `{excerpt(extra)}` (expected members, on_call)",
            )
        for listed in ("members", "on_call"):
            if body.get(listed) is not None and not isinstance(body.get(listed), list):
                problem(["groups", key, listed], f"`{listed}` is a list")
                body = {**body, listed: []}
        members = set()
        for j, m in enumerate(body.get("members") or []):
            if not _is_email(m):
                problem(["groups", key, "members", j], f"`{excerpt(m)}` is not an email address")
            else:
                members.add(normalize_email(m))
        shifts = []
        for j, entry in enumerate(body.get("on_call") or []):
            where = ["groups", key, "on_call", j]
            if not isinstance(entry, dict) or not _is_email(entry.get("email")):
                problem(where, "each on_call entry needs an `email`")
                continue
            extra = sorted(set(entry) - {"email", "start", "end", "level"}, key=str)
            if extra:
                problem(
                    where, f"unknown key `{excerpt(extra[0])}` (expected email, start, end, level)"
                )
                continue
            try:
                start, end = _time(entry.get("start")), _time(entry.get("end"))
            except ValueError as exc:
                problem(where, str(exc))
                continue
            if start and end and end <= start:
                problem(where, "`end` must be after `start`")
                continue
            level = entry.get("level")
            shifts.append(
                Shift(entry["email"], start, end, int(level) if isinstance(level, int) else None)
            )
        groups[ref] = Group(ref, frozenset(members), tuple(shifts))
    if problems:
        more = len(problems) - MAX_PROBLEMS
        shown = problems[:MAX_PROBLEMS] + ([f"… and {more} more problems"] if more > 0 else [])
        raise RosterError("The roster file has errors: " + "; ".join(shown))
    for group in groups.values():
        for email in group.members | {s.email for s in group.shifts}:
            people.setdefault(email, Person(email))
    return RosterSnapshot(Provider.FILE, taken_at.astimezone(UTC), groups, people)


def _names_provider(key: str) -> bool:
    prefix, sep, _ = key.partition(":")
    return bool(sep) and "/" not in prefix and prefix.strip().lower() in set(Provider)


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and is_email(value)


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            if isinstance(value, list | dict):
                raise ValueError
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"`{excerpt(value)}` is not a time; use ISO 8601 like 2026-11-22T00:00:00Z"
            ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
