"""CLI: `backup --out FILE` and `restore FILE` (see adapters/storage/backup.py for the format)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from adapters.storage.backup import backup as write_backup
from adapters.storage.backup import restore as read_backup
from adapters.storage.engine import make_engine
from bot.settings import Settings


def add_parsers(sub: Any) -> None:
    made = sub.add_parser(
        "backup",
        help="write a consistent copy of the database to a new file (SQLite format)",
        description="Copy the whole database, while the bot runs, into FILE: a SQLite file "
        "whatever the database (SQLite's online backup API; PostgreSQL in one read-only "
        "snapshot). It holds the audit trail and the provider credentials, sealed with "
        "ONCALL_ACCESS_SECRET_KEY: keep it as safe as the database.",
    )
    made.add_argument("--out", type=Path, required=True, metavar="FILE")
    restore = sub.add_parser(
        "restore",
        help="copy a backup into an empty database (ONCALL_ACCESS_DATABASE_URL)",
        description="Restore FILE, written by `oncall-access backup` (of this or an older "
        "release), into the database ONCALL_ACCESS_DATABASE_URL names, SQLite or PostgreSQL. "
        "The database must hold no requests and no audit events. Then run `oncall-access "
        "audit verify`.",
    )
    restore.add_argument("file", type=Path, metavar="FILE")


async def backup(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    try:
        found = await write_backup(engine, args.out)
    finally:
        await engine.dispose()
    print(
        f"Backed up {found.events} audit events and {found.requests} requests (schema revision "
        f"{found.revision}) to {args.out}."
    )
    return 0


async def restore(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    try:
        found = await read_backup(args.file, engine)
    finally:
        await engine.dispose()
    print(
        f"Restored {found.events} audit events and {found.requests} requests from {args.file} "
        f"(schema revision {found.revision}). Check it with `oncall-access audit verify`."
    )
    return 0
