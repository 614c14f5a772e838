"""CLI: `prune`, the retention run (ONCALL_ACCESS_RETENTION), meant for a daily cron job."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.storage.engine import make_engine
from adapters.storage.migrate import upgrade
from adapters.storage.retention import prune as prune_trail
from bot.settings import Settings
from core.audit import AuditRecord, format_time


def add_parser(sub: Any) -> None:
    prune = sub.add_parser(
        "prune",
        help="remove finished requests and audit events older than ONCALL_ACCESS_RETENTION",
        description="Remove the audit events older than ONCALL_ACCESS_RETENTION (e.g. 400d, 7y) "
        "and the finished requests only they mention. The trail stays verifiable: an "
        "audit.pruned event records where it now starts and carries what the removed events "
        "established. Keep the removed events with --archive FILE.",
    )
    prune.add_argument(
        "--archive",
        type=Path,
        default=None,
        metavar="FILE",
        help="first write the events to be removed to FILE (JSON lines, as `audit export`)",
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would go; change nothing")


def _archiver(path: Path) -> Any:
    def write(records: Sequence[AuditRecord]) -> None:
        with path.open("x", encoding="utf-8") as out:  # never overwrites an earlier archive
            for record in records:
                out.write(json.dumps(record.export(), ensure_ascii=False) + "\n")

    return write


async def prune(settings: Settings, args: argparse.Namespace) -> int:
    retention = settings.retention
    if retention is None:
        print(
            "oncall-access: ONCALL_ACCESS_RETENTION is not set, so everything is kept; set it "
            "(e.g. 400d or 7y) to remove older finished requests.",
            file=sys.stderr,
        )
        return 2
    if args.archive is not None:
        if args.archive.exists():
            print(
                f"{args.archive} already exists; an archive is never overwritten.", file=sys.stderr
            )
            return 1
        if not args.archive.parent.is_dir():
            print(
                f"{args.archive}: cannot write (folder {args.archive.parent} does not exist)",
                file=sys.stderr,
            )
            return 1
    now = datetime.now(UTC)
    before = now - retention
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        cut = await prune_trail(
            engine,
            settings.audit_keys,
            before=before,
            now=now,
            retention=settings.retention_text.strip(),
            archive=_archiver(args.archive) if args.archive and not args.dry_run else None,
            dry_run=args.dry_run,
        )
    except OSError as exc:  # the archive could not be written: nothing was removed
        print(
            f"{args.archive}: cannot write ({exc.strerror}); nothing was removed.", file=sys.stderr
        )
        return 1
    finally:
        await engine.dispose()
    if cut is None:
        print(f"Nothing to remove: no audit event is older than {format_time(before)}.")
        return 0
    what = (
        f"{cut.events} audit events (up to event {cut.through.seq}) and {len(cut.requests)} "
        f"finished requests older than {format_time(before)}"
    )
    if args.dry_run:
        print(f"Would remove {what}. Nothing was changed.")
        return 0
    archived = f" The removed events are in {args.archive}." if args.archive else ""
    print(
        f"Removed {what}; an audit.pruned event records the cut.{archived} Take a new checkpoint "
        "(`oncall-access audit checkpoint`)."
    )
    return 0
