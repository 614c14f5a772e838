"""The `oncall-access` command line. Each subcommand parses, calls, maps errors to a message and
an exit code (0 ok, 1 refused or failed, 2 bad usage or configuration); never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot import (
    commands_audit,
    commands_backup,
    commands_connect,
    commands_manifest,
    commands_manifest_teams,
    commands_policy,
    commands_retention,
    commands_run,
    logs,
    policy_migrate,
)
from bot.settings import Settings
from core.errors import DomainError, Unavailable

log = logging.getLogger("oncall_access")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="oncall-access",
        description="On-call-aware just-in-time access from Slack, Teams or a console.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help="run the HTTP server (Slack, Teams, health, metrics) and the scheduler"
    )
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 3000")

    demo = sub.add_parser(
        "demo", help="console chat on a bundled demo roster and policy (local SQLite)"
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path("oncall-access-demo"),
        help="where the demo keeps its files",
    )

    console = sub.add_parser("console", help="console chat: one command a line from stdin")
    console.add_argument(
        "--as", dest="as_email", required=True, metavar="EMAIL", help="who you are"
    )
    console.add_argument(
        "--tz", default="UTC", help="time zone for times shown (e.g. Europe/Berlin)"
    )

    sub.add_parser("sync", help="sync every roster provider now and print a summary")
    sub.add_parser("status", help="provider connections and sync health")
    commands_connect.add_parsers(sub)
    manifest = sub.add_parser("manifest", help="write a chat app's manifest / package")
    manifest_sub = manifest.add_subparsers(
        dest="manifest_command", required=True, metavar="PLATFORM"
    )
    commands_manifest_teams.add_teams_parser(manifest_sub)
    commands_manifest.add_slack_parser(manifest_sub)

    audit = sub.add_parser("audit", help="export, verify or checkpoint the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    export = audit_sub.add_parser("export", help="write every event, oldest first")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    export.add_argument(
        "--since",
        type=commands_audit.moment,
        default=None,
        metavar="WHEN",
        help="only events at or after WHEN (2026-11-01 or 2026-11-01T09:00:00Z; UTC unless a zone is given)",
    )
    export.add_argument(
        "--until",
        type=commands_audit.moment,
        default=None,
        metavar="WHEN",
        help="only events before WHEN",
    )
    verify = audit_sub.add_parser(
        "verify",
        help="check the chain and compare the database with it",
        description="Replay the hash chain (keyed with ONCALL_ACCESS_AUDIT_KEY when set), check "
        "a checkpoint, and compare requests, identity mappings and audited settings in the "
        "database with the trail. Exit 0: intact (says whether the chain is keyed); 1: "
        "tampered, one 'Audit trail TAMPERED: ...' line per problem; 2: cannot be checked (a "
        "key id that is not configured, an unreadable checkpoint).",
    )
    verify.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="FILE",
        help="fail unless the trail still holds the head recorded in FILE",
    )
    checkpoint = audit_sub.add_parser(
        "checkpoint",
        help="write the trail's head, signed with the audit key, to keep outside the database",
    )
    checkpoint.add_argument(
        "--out", type=Path, default=None, help="file to write (default: stdout)"
    )

    policy = sub.add_parser("policy", help="check, explain, compare or test a policy")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    check = policy_sub.add_parser("check", help="validate FILE; report groups no provider has")
    check.add_argument("file", type=Path)
    policy_migrate.add_parser(policy_sub)
    commands_policy.add_parsers(policy_sub)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_upgrade = db_sub.add_parser("upgrade", help="migrate the database to this release's schema")
    db_upgrade.add_argument(
        "--dry-run",
        action="store_true",
        help="say which migrations would run, and what each does; change nothing",
    )
    commands_backup.add_parsers(sub)
    commands_retention.add_parser(sub)
    return p


def _handler(
    args: argparse.Namespace,
) -> Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]:
    match args.command:
        case "serve":
            return commands_run.serve
        case "demo":
            return commands_run.demo
        case "console":
            return commands_run.console
        case "sync":
            return commands_run.sync
        case "status":
            return commands_connect.status
        case "connect":
            return commands_connect.connect
        case "disconnect":
            return commands_connect.disconnect
        case "secret-key":
            return commands_connect.secret_key
        case "identity":
            return commands_connect.identity
        case "manifest" if args.manifest_command == "teams":
            return commands_manifest_teams.teams
        case "manifest" if args.manifest_command == "slack":
            return commands_manifest.slack
        case "audit":
            return {
                "export": commands_audit.export,
                "verify": commands_audit.verify,
                "checkpoint": commands_audit.checkpoint,
            }[args.audit_command]
        case "policy" if args.policy_command == "migrate":
            return policy_migrate.migrate
        case "policy" if args.policy_command in ("explain", "diff", "test"):
            return {
                "explain": commands_policy.explain,
                "diff": commands_policy.diff,
                "test": commands_policy.test,
            }[args.policy_command]
        case "policy":
            return commands_audit.policy_check
        case "db":
            return commands_audit.db_upgrade
        case "backup":
            return commands_backup.backup
        case "restore":
            return commands_backup.restore
        case "prune":
            return commands_retention.prune
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            name = str(err["loc"][0]).upper() if err["loc"] else ""
            if name and name not in message:
                message = f"{name}: {message}"
            print(f"oncall-access: invalid setting: {message}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format, settings.secret_values())
    try:
        return asyncio.run(_handler(args)(settings, args))
    except DomainError as exc:
        print(f"oncall-access: {exc.message}", file=sys.stderr)
        return 1
    except Unavailable as exc:  # the operator gets the cause too, still without a traceback
        print(f"oncall-access: {exc.message} ({exc.detail})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
