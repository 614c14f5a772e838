"""CLI commands over the stored data: audit export, verify and checkpoint, policy check, db
upgrade."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import TextIO

from adapters.storage.audit import SqlAuditLog
from adapters.storage.engine import make_engine, sqlite_file_missing
from adapters.storage.identities import SqlIdentityOverrides
from adapters.storage.kv import SqlKeyValues
from adapters.storage.migrate import head_revision, pending_migrations, plan_upgrade, upgrade
from adapters.storage.requests import SqlRequestStore
from adapters.storage.roster import SqlRosterStore
from bot.progress import Meter
from bot.settings import Settings
from core.audit import EXPORT_COLUMNS, TrailCheck, check_trail
from core.audit_checkpoint import (
    Checkpoint,
    CheckpointError,
    TamperedCheckpoint,
    check_against,
    make_checkpoint,
    read_checkpoint,
    render,
)
from core.audit_state import differences, replay
from core.errors import PolicyError
from core.groups import GroupRef
from core.policy import parse_policy
from core.retention import Base, carried_at, describe, unvouched
from core.roster import Roster
from core.yamlread import MAX_BYTES, YamlProblem, decode


def moment(text: str) -> datetime:
    """A date or a time for --since/--until: ISO 8601, UTC unless it names a zone."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"`{text[:40]}` is not a date or time; use e.g. 2026-11-01 or 2026-11-01T09:00:00Z"
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


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
            head = await log.head()
            window = args.since is not None or args.until is not None
            meter = stack.enter_context(
                Meter(
                    "Exporting the audit trail",
                    "events",
                    None if window or not head else head[0],  # a period's size is not known
                )
            )
            async for record in log.stream(since=args.since, until=args.until):
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
                meter.advance()
        if args.out:
            print(f"Wrote {count} events to {args.out}.", file=sys.stderr)
        return 0
    finally:
        await engine.dispose()


async def verify(settings: Settings, args: argparse.Namespace) -> int:
    """Replay the chain, compare the database with it, and check a checkpoint if one is given.

    Exit 0: intact and matching; 1: tampered (each problem on its own line); 2: cannot be
    checked (an event or the checkpoint is keyed with a key that is not configured, or the
    checkpoint cannot be read).
    """
    keys = settings.audit_keys
    checkpoint: Checkpoint | None = None
    if args.checkpoint is not None:
        try:
            checkpoint = read_checkpoint(args.checkpoint.read_text(encoding="utf-8"), keys)
        except OSError as exc:
            print(f"{args.checkpoint}: cannot read ({exc.strerror})", file=sys.stderr)
            return 2
        except CheckpointError as exc:
            print(f"{args.checkpoint}: cannot use the checkpoint: {exc}.", file=sys.stderr)
            return 2
        except TamperedCheckpoint as exc:
            print(f"Checkpoint {args.checkpoint} TAMPERED: {exc}.", file=sys.stderr)
            return 1
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        log = SqlAuditLog(engine)
        head = await log.head()
        start = await log.start()
        base = Base(*start) if start else None
        records = []
        with Meter(
            "Reading the audit trail",
            "events",
            (head[0] - (start[0] if start else 0)) if head else 0,
        ) as meter:
            async for record in log.stream():
                records.append(record)
                meter.advance()
        check = check_trail(records, head, keys, start)
        if check.problem and check.problem.unverifiable:
            print(
                f"Audit trail cannot be verified: {check.problem}; ONCALL_ACCESS_AUDIT_KEY must "
                "hold that key (newest first, older ones after a comma).",
                file=sys.stderr,
            )
            return 2
        problems = [str(check.problem)] if check.problem else []
        cut_problem = unvouched(records, base)
        if cut_problem and not check.problem:
            problems.append(cut_problem)
        if keys and check.events and not check.keyed and not check.problem:
            problems.append(
                "no event is keyed although ONCALL_ACCESS_AUDIT_KEY is set: the trail was "
                "written or rewritten without the key (if the key was set only now, verify "
                "again after the next event)"
            )
        if checkpoint is not None:
            dropped = check_against(checkpoint, records, start)
            if dropped:
                problems.append(f"checkpoint {args.checkpoint}: {dropped}")
        trail = replay(records, carried_at(records, base))
        stored = await SqlRequestStore(engine).every()
        identities = await SqlIdentityOverrides(engine).all()
        audited = await SqlKeyValues(engine).audited()
        problems += differences(trail, stored, identities, audited)
        if problems:
            for problem in problems:
                print(f"Audit trail TAMPERED: {problem}.", file=sys.stderr)
            return 1
        last = records[-1].hash[:16] if records else "-"
        print(f"Audit trail intact: {len(records)} events, head {last}.")
        cut = describe(base, records)
        if cut:
            print(cut)
        print(_keying(check))
        if checkpoint is not None and base is not None and checkpoint.seq <= base.seq:
            print(
                f"Checkpoint {args.checkpoint}: event {checkpoint.seq} of {checkpoint.at} was "
                f"removed by retention (the trail now starts after event {base.seq}); nothing "
                "left to compare it with."
            )
        elif checkpoint is not None:
            signed = f"signed with key id {checkpoint.key_id}" if checkpoint.key_id else "unsigned"
            print(
                f"Checkpoint {args.checkpoint}: event {checkpoint.seq} of {checkpoint.at} is "
                f"still in the trail ({signed})."
            )
        partial = (
            f"; {len(trail.partial)} older requests checked for requester and resource only"
            if trail.partial
            else ""
        )
        print(
            f"The database matches the trail: {len(stored)} requests, {len(identities)} "
            f"identity mappings, {len(audited)} audited settings{partial}."
        )
        return 0
    finally:
        await engine.dispose()


def _keying(check: TrailCheck) -> str:
    if not check.keyed:
        return (
            "UNKEYED: the chain is plain SHA-256, so anyone who can write the database can "
            "rewrite events and recompute every hash. Set ONCALL_ACCESS_AUDIT_KEY to key it, and "
            "keep checkpoints (`oncall-access audit checkpoint`) where the database's writers "
            "cannot reach."
        )
    ids = ", ".join(check.key_ids)
    last = check.head[0]
    line = f"Keyed (HMAC-SHA256): events {check.first_keyed}-{last}, key id {ids}."
    if check.unkeyed:
        first = last - check.events + 1
        line += (
            f" Events {first}-{first + check.unkeyed - 1} were written before the key was set; "
            "the keyed events after them vouch for them."
        )
    return line


async def checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    """Write the trail's head, signed with the audit key, to a file kept outside the database."""
    if args.out is not None and not args.out.parent.is_dir():
        print(
            f"{args.out}: cannot write (folder {args.out.parent} does not exist)", file=sys.stderr
        )
        return 1
    keys = settings.audit_keys
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        log = SqlAuditLog(engine)
        check = check_trail(await log.records(), await log.head(), keys, await log.start())
    finally:
        await engine.dispose()
    if check.problem:
        print(
            f"No checkpoint written: the audit trail does not verify ({check.problem}).",
            file=sys.stderr,
        )
        return 2 if check.problem.unverifiable else 1
    text = render(make_checkpoint(check.head, datetime.now(UTC), keys))
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    where = f" to {args.out}" if args.out else ""
    signed = (
        f"signed with key id {keys.signing.id}"
        if keys.signing
        else "UNSIGNED (no ONCALL_ACCESS_AUDIT_KEY)"
    )
    print(
        f"Checkpoint of event {check.head[0]} (head {check.head[1][:16]}) written{where}, {signed}.",
        file=sys.stderr,
    )
    return 0


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
    if args.dry_run:
        return await _upgrade_plan(settings)
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


async def _upgrade_plan(settings: Settings) -> int:
    """What `db upgrade` would do, read without changing anything (not even creating a file)."""
    if sqlite_file_missing(settings.database_url):
        current, head, steps = None, head_revision(), pending_migrations(None)
    else:
        engine = make_engine(settings.database_url)
        try:
            current, head, steps = await plan_upgrade(engine)
        finally:
            await engine.dispose()
    if not steps:
        print(f"Database already at revision {head}; `db upgrade` would change nothing.")
        return 0
    print(
        f"`db upgrade` would migrate the database from {current or 'empty'} to revision {head} "
        f"in {len(steps)} step(s); nothing was changed:"
    )
    for revision, summary in steps:
        print(f"  {revision}: {summary}")
    return 0
