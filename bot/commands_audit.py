"""CLI commands over the stored data: audit export and verify, policy check, db upgrade."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from contextlib import ExitStack
from typing import TextIO

from adapters.storage.audit import SqlAuditLog
from adapters.storage.engine import make_engine, sqlite_file_missing
from adapters.storage.migrate import upgrade
from adapters.storage.roster import SqlRosterStore
from bot.settings import Settings
from core.audit import EXPORT_COLUMNS, verify_chain
from core.errors import PolicyError
from core.groups import GroupRef
from core.policy import parse_policy
from core.roster import Roster
from core.yamlread import MAX_BYTES, YamlProblem, decode


async def export(settings: Settings, args: argparse.Namespace) -> int:
    if args.out is not None and not args.out.parent.is_dir():
        print(
            f"{args.out}: cannot write (folder {args.out.parent} does not exist)", file=sys.stderr
        )
        return 1
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        log = SqlAuditLog(engine)
        with ExitStack() as stack:
            out: TextIO = (
                stack.enter_context(args.out.open("w", encoding="utf-8", newline=""))
                if args.out
                else sys.stdout
            )
            writer = csv.writer(out) if args.format == "csv" else None
            if writer:
                writer.writerow(EXPORT_COLUMNS)
            count = 0
            async for record in log.stream():
                row = record.export()
                if writer:
                    writer.writerow(
                        [
                            json.dumps(row[c], sort_keys=True) if c == "detail" else row[c]
                            for c in EXPORT_COLUMNS
                        ]
                    )
                else:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        if args.out:
            print(f"Wrote {count} events to {args.out}.", file=sys.stderr)
        return 0
    finally:
        await engine.dispose()


async def verify(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        log = SqlAuditLog(engine)
        records = await log.records()
        problem = verify_chain(records, await log.head())
        if problem:
            print(f"Audit trail TAMPERED: {problem}.", file=sys.stderr)
            return 1
        last = records[-1].hash[:16] if records else "-"
        print(f"Audit trail intact: {len(records)} events, head {last}.")
        return 0
    finally:
        await engine.dispose()


async def policy_check(settings: Settings, args: argparse.Namespace) -> int:
    try:
        with args.file.open("rb") as file:
            text = decode(file.read(MAX_BYTES + 1))  # no more than the parser would accept
    except OSError as exc:
        print(f"{args.file}: cannot read ({exc.strerror})", file=sys.stderr)
        return 1
    except YamlProblem as exc:
        print(exc.where(str(args.file)), file=sys.stderr)
        return 1
    try:
        policy = parse_policy(text, str(args.file))
    except PolicyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(
            f"{args.file}: {len(exc.problems)} problem(s); the policy was not accepted.",
            file=sys.stderr,
        )
        return 1
    print(
        f"{args.file}: OK, {len(policy.resources)} resources, {len(policy.birthright)} birthright rules."
    )
    missing = await _groups_no_provider_has(settings, policy.groups())
    for line in missing:
        print(line)
    return 0


async def _groups_no_provider_has(settings: Settings, groups: set[GroupRef]) -> list[str]:
    """Compare with the latest synced rosters, when this machine's database has any."""
    engine = make_engine(settings.database_url)
    try:
        if sqlite_file_missing(settings.database_url):
            return []
        try:
            roster = Roster.of(await SqlRosterStore(engine).latest())
        except Exception:
            return []  # no database yet: nothing to compare with
        lines = []
        for group in sorted(groups):
            if group.provider in roster.snapshots and not roster.has_group(group):
                lines.append(
                    f"warning: {group} is not in the latest {group.provider.display} roster"
                )
            elif group.provider not in roster.snapshots:
                lines.append(
                    f"note: {group} cannot be checked: {group.provider.display} has no roster yet"
                )
        return lines
    finally:
        await engine.dispose()


async def db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    try:
        before, after = await upgrade(engine)
        if before == after:
            print(f"Database already at revision {after}.")
        else:
            print(f"Database upgraded from {before or 'empty'} to revision {after}.")
        return 0
    finally:
        await engine.dispose()
