"""`oncall-access policy explain | diff | test`: a policy reviewed as code, on a roster.

Each reads its files, asks the core's one decision (`core.decision` through `core.explain`,
`core.policy_diff`, `core.policy_cases`) and prints. The roster is the latest synced one in the
database (with identity mappings and aliases applied, as the bot reads it) or a roster file given
with `--roster`, whose group keys may name any provider's groups.

Exit codes: explain 0 explained; diff 0 no change in effect, 1 changes in effect; test 0 every
case passed, 1 a case failed; and 2 for all three when they cannot run (a file that cannot be
read or is invalid, no roster, an unknown resource), with one sentence a problem, never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from croniter import croniter

from adapters.rosterfile.provider import read_fixture
from adapters.storage.engine import make_engine, sqlite_file_missing
from adapters.storage.identities import SqlIdentityOverrides
from adapters.storage.migrate import upgrade
from adapters.storage.roster import SqlRosterStore
from bot.settings import Settings
from core.decision import ASSUME_FRESH
from core.durations import parse_duration
from core.errors import DomainError, PolicyError, Unavailable
from core.explain import explain as explain_for
from core.identity import is_email, normalize_email
from core.policy import Policy, parse_policy
from core.policy_cases import CaseResult, parse_cases, run_case
from core.policy_diff import diff_policies
from core.policy_diff_render import render_json, render_markdown, render_text, roster_source
from core.roster import Roster
from core.roster_cache import RosterCache
from core.timefmt import show_time, zone
from core.yamlread import MAX_BYTES, YamlProblem, decode

CHANGED, CANNOT = 1, 2


class Cannot(Exception):
    """The command cannot run; each line is one sentence for the person who ran it."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = lines


def add_parsers(policy_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explain = policy_sub.add_parser(
        "explain",
        help="what `why RESOURCE` says for any person at any instant",
        description="Say what `why RESOURCE` says in chat, for EMAIL at TIME (default now), on the "
        "latest synced roster in the database or on --roster FILE. Exit 0 explained, 2 cannot.",
    )
    explain.add_argument("resource", metavar="RESOURCE")
    explain.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    explain.add_argument("--at", default=None, metavar="TIME", help=_AT_HELP)
    _common(explain)

    diff = policy_sub.add_parser(
        "diff",
        help="who gains or loses access between two policies, on the roster",
        description="Compare OLD and NEW on the latest synced roster (or --roster FILE): who "
        "gains or loses the right to request, to be approved at once and to approve, per "
        "resource; which birthright grants would start or end; which terms changed. An empty "
        "file stands for no policy. Exit 0: no change in effect (even if the text changed); "
        "1: changes in effect; 2: cannot compare.",
    )
    diff.add_argument("old", type=Path, metavar="OLD")
    diff.add_argument("new", type=Path, metavar="NEW")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    diff.add_argument("--at", default=None, metavar="TIME", help=_AT_HELP)
    diff.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    _common(diff, policy=False)

    test = policy_sub.add_parser(
        "test",
        help="run the expectations in FILE against the policy",
        description="Run table-driven expectations (person, resource, time, roster fixture, "
        "expected outcome and reason) against the policy. Exit 0: all pass; 1: a case failed; "
        "2: cannot run.",
    )
    test.add_argument("file", type=Path, metavar="FILE")
    test.add_argument(
        "--policy",
        type=Path,
        default=None,
        metavar="POLICY",
        help="the policy (default: the file's `policy:`, else ONCALL_ACCESS_POLICY_FILE)",
    )


_AT_HELP = "ISO 8601 (2026-11-24T09:00:00Z; no zone: UTC), or relative: +2h, -1d (default: now)"


def _common(parser: argparse.ArgumentParser, *, policy: bool = True) -> None:
    if policy:
        parser.add_argument(
            "--policy",
            type=Path,
            default=None,
            metavar="FILE",
            help="the policy (default: ONCALL_ACCESS_POLICY_FILE)",
        )
    parser.add_argument(
        "--roster",
        type=Path,
        default=None,
        metavar="FILE",
        help="a roster file instead of the database's latest synced roster",
    )
    parser.add_argument("--tz", default="UTC", help="time zone for times shown")


def _instant(text: str | None, now: datetime) -> datetime:
    if text is None or text.strip().lower() == "now":
        return now
    value = text.strip()
    if value[:1] in "+-":
        try:
            delta = parse_duration(value[1:])
        except DomainError:
            raise Cannot(
                f"--at {value[:40]}: write a time like 2026-11-24T09:00:00Z, or +2h, -1d."
            ) from None
        return now + delta if value[0] == "+" else now - delta
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Cannot(
            f"--at {value[:40]}: write a time like 2026-11-24T09:00:00Z, or +2h, -1d."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _read_text(path: Path, what: str) -> str:
    try:
        with path.open("rb") as file:
            return decode(file.read(MAX_BYTES + 1))
    except OSError as exc:
        raise Cannot(f"{path}: cannot read the {what} ({exc.strerror}).") from None
    except YamlProblem as exc:
        raise Cannot(exc.where(str(path))) from None


def _policy_at(path: Path, *, empty_is_none: bool = False) -> Policy:
    text = _read_text(path, "policy")
    if empty_is_none and not text.strip():
        return Policy(version=1)
    try:
        return parse_policy(text, str(path))
    except PolicyError as exc:
        raise Cannot(
            *exc.problems, f"{path}: the policy is not valid (`policy check` says more)."
        ) from None


async def _roster(settings: Settings, path: Path | None, at: datetime) -> Roster:
    """The roster to decide on: the latest synced one, or a file's, which stands for the roster
    as it is at `at` (so it is never out of date and is shown as synced then)."""
    if path is not None:
        try:
            return Roster.of(read_fixture(path, at))
        except DomainError as exc:
            raise Cannot(exc.message) from None
    no_roster = (
        "The database holds no synced roster: run `oncall-access sync`, or pass --roster FILE."
    )
    if sqlite_file_missing(settings.database_url):
        raise Cannot(no_roster)
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        keys = settings.audit_keys
        cache = RosterCache(
            SqlRosterStore(engine, keys),
            SqlIdentityOverrides(engine, keys=keys),
            settings.email_aliases,
        )
        roster = await cache.current()
    finally:
        await engine.dispose()
    if not roster.snapshots:
        raise Cannot(no_roster)
    return roster


def _cannot(exc: Cannot | DomainError | Unavailable) -> int:
    if isinstance(exc, Cannot):
        lines = exc.lines
    elif isinstance(exc, Unavailable):
        lines = (f"oncall-access: {exc.message} ({exc.detail})",)
    else:
        lines = (f"oncall-access: {exc.message}",)
    for line in lines:
        print(line, file=sys.stderr)
    return CANNOT


def _zone(tz: str) -> str:
    if zone(tz).key != tz:
        raise Cannot(f"--tz {tz[:40]}: not a time zone (e.g. UTC, Europe/Berlin).")
    return tz


async def explain(settings: Settings, args: argparse.Namespace) -> int:
    try:
        now = datetime.now(UTC)
        at, tz = _instant(args.at, now), _zone(args.tz)
        if not is_email(args.as_email):
            raise Cannot(f"--as {args.as_email[:60]!r} is not an email address.")
        path = args.policy or settings.policy_file
        if path is None:
            raise Cannot("No policy: pass --policy FILE or set ONCALL_ACCESS_POLICY_FILE.")
        policy = _policy_at(path)
        res = policy.find(args.resource)
        roster = await _roster(settings, args.roster, at)
    except (Cannot, DomainError, Unavailable) as exc:
        return _cannot(exc)
    # Now: exactly what chat says, the roster's age included. Another instant: the snapshot
    # stands in for what the provider will (or did) say then.
    live = args.at is None and args.roster is None  # what chat would say right now
    max_age = settings.roster_max_age if args.at is None else ASSUME_FRESH
    next_sync = croniter(settings.sync_schedule, now).get_next(datetime) if live else None
    email = normalize_email(args.as_email)
    reply = explain_for(policy, res, email, roster, at, max_age=max_age, tz=tz, next_sync=next_sync)
    when = show_time(at, tz, at)
    where = roster_source(roster, now, str(args.roster) if args.roster else None)
    print(f"{email} asking for {res.name} at {when}, on {where}:")
    print(reply.full_text)
    return 0


async def diff(settings: Settings, args: argparse.Namespace) -> int:
    try:
        now = datetime.now(UTC)
        at, tz = _instant(args.at, now), _zone(args.tz)
        old = _policy_at(args.old, empty_is_none=True)
        new = _policy_at(args.new, empty_is_none=True)
        if args.out is not None and not args.out.parent.is_dir():
            raise Cannot(f"{args.out}: cannot write (folder {args.out.parent} does not exist).")
        roster = await _roster(settings, args.roster, at)
    except (Cannot, DomainError, Unavailable) as exc:
        return _cannot(exc)
    found = diff_policies(old, new, roster, at)
    source = roster_source(roster, now, str(args.roster) if args.roster else None)
    names = str(args.old), str(args.new)
    if args.format == "json":
        data = render_json(found, *names, source, roster)
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "markdown":
        text = render_markdown(found, *names, source, tz)
    else:
        text = render_text(found, *names, source, tz)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return CHANGED if found.changes_effect else 0


async def test(settings: Settings, args: argparse.Namespace) -> int:
    try:
        cases = parse_cases(_read_text(args.file, "policy tests file"), str(args.file))
    except PolicyError as exc:
        return _cannot(Cannot(*exc.problems))
    except Cannot as exc:
        return _cannot(exc)
    here = args.file.parent
    try:
        if args.policy is not None:
            policy_path = args.policy
        elif cases.policy is not None:
            policy_path = here / cases.policy
        elif settings.policy_file is not None:
            policy_path = settings.policy_file
        else:
            raise Cannot(
                f"{args.file}: no policy: give it `policy: FILE`, pass --policy or set "
                "ONCALL_ACCESS_POLICY_FILE."
            )
        policy = _policy_at(policy_path)
        rosters: dict[str, Roster] = {}
        now = datetime.now(UTC)
        for name in {c.roster or cases.roster for c in cases.cases}:
            assert name is not None  # parse_cases refuses a case without a roster
            rosters[name] = await _roster(settings, here / name, now)
    except (Cannot, DomainError) as exc:
        return _cannot(exc)
    results = [run_case(c, policy, rosters[c.roster or cases.roster or ""]) for c in cases.cases]
    for result in results:
        print(_report(result, str(args.file)))
    failed = [r for r in results if not r.passed]
    print(
        f"{len(results) - len(failed)} passed, {len(failed)} failed"
        f" ({args.file} against {policy_path})."
    )
    return 1 if failed else 0


def _report(result: CaseResult, filename: str) -> str:
    case = result.case
    if result.passed:
        return f"ok    {case.name}"
    lines = [f"FAIL  {filename}:{case.line}: {case.name}"]
    lines += [f"      {failure}" for failure in result.failures]
    return "\n".join(lines)
