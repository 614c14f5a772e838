"""CLI commands for provider connections: connect, disconnect, status, secret-key.

Secrets are read from files (or `-` for standard input), never from arguments, so they stay out
of shell history and process listings.
"""

from __future__ import annotations

import argparse
import getpass
import shlex
import sys
from pathlib import Path

from adapters.storage.crypto import new_key
from bot.policy_source import policy_or_empty
from bot.settings import Settings
from bot.wiring import Bot, build
from core.commands import parse
from core.connections import ConnectForm
from core.identity import Actor


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    connect = sub.add_parser(
        "connect", help="connect PagerDuty, Opsgenie or JSM (verifies, stores encrypted, syncs)"
    )
    connect.add_argument("provider", choices=("pagerduty", "opsgenie", "jsm"))
    connect.add_argument(
        "--api-key-file", type=Path, help="file holding the API key (`-` for stdin)"
    )
    connect.add_argument("--region", choices=("us", "eu"), default="us")
    connect.add_argument("--client-id", default="", help="PagerDuty Scoped OAuth app client id")
    connect.add_argument(
        "--client-secret-file", type=Path, help="file holding the OAuth client secret"
    )
    connect.add_argument("--subdomain", default="", help="PagerDuty account subdomain (for OAuth)")
    connect.add_argument("--site", default="", help="JSM: SITE or SITE.atlassian.net")
    connect.add_argument("--email", default="", help="JSM: Atlassian account email")
    connect.add_argument(
        "--api-token-file", type=Path, help="JSM: file holding the Atlassian API token"
    )
    connect.add_argument(
        "--org-id", default="", help="JSM: Atlassian organization id (to read team members)"
    )
    connect.add_argument(
        "--as", dest="actor", default=None, help="who connects, for the audit trail"
    )

    disconnect = sub.add_parser("disconnect", help="remove a provider and its stored credentials")
    disconnect.add_argument("provider", choices=("pagerduty", "opsgenie", "jsm"))
    disconnect.add_argument("--as", dest="actor", default=None)

    sub.add_parser("secret-key", help="print a new key for ONCALL_ACCESS_SECRET_KEY")

    identity = sub.add_parser("identity", help="map chat or provider ids to emails by hand")
    identity_sub = identity.add_subparsers(dest="identity_command", required=True, metavar="ACTION")
    mapping = identity_sub.add_parser("map", help="KEY EMAIL, e.g. slack:U123 alice@example.com")
    mapping.add_argument(
        "key",
        help="slack:USER, teams:AAD-ID, pagerduty:USER, opsgenie:USER, jsm:ACCOUNT, email:OLD",
    )
    mapping.add_argument("email")
    unmap = identity_sub.add_parser("unmap", help="remove a mapping")
    unmap.add_argument("key")
    identity_sub.add_parser("list", help="list the mappings")
    identity.add_argument("--as", dest="actor", default=None)


def _read_secret(path: Path | None) -> str:
    if path is None:
        return ""
    if str(path) == "-":
        return sys.stdin.readline().strip()
    return path.read_text(encoding="utf-8").strip()


def _actor(args: argparse.Namespace) -> str:
    return args.actor or f"cli:{getpass.getuser()}"


async def connect(settings: Settings, args: argparse.Namespace) -> int:
    try:
        form = ConnectForm(
            provider=args.provider,
            region=args.region,
            auth="oauth_client" if args.client_id else "api_key",
            api_key=_read_secret(args.api_key_file),
            client_id=args.client_id,
            client_secret=_read_secret(args.client_secret_file),
            subdomain=args.subdomain,
            site=args.site,
            email=args.email,
            api_token=_read_secret(args.api_token_file),
            org_id=args.org_id,
        )
    except OSError as exc:
        print(f"oncall-access: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    bot = await build(settings, policy=policy_or_empty(settings.policy_file))
    try:
        assert bot.admin is not None
        result = await bot.admin.connect(form, _actor(args))
        if not result.ok:
            where = f" ({result.field.replace('_', ' ')})" if result.field else ""
            print(f"Not connected{where}: {result.message}", file=sys.stderr)
            return 1
        print(result.message)
        if result.sync_summary:
            print(result.sync_summary)
        return 0
    finally:
        await bot.close()


async def disconnect(settings: Settings, args: argparse.Namespace) -> int:
    bot = await build(
        settings, policy=policy_or_empty(settings.policy_file), load_connections=False
    )
    try:
        assert bot.admin is not None
        print(await bot.admin.disconnect(args.provider, _actor(args)))
        return 0
    finally:
        await bot.close()


async def status(settings: Settings, args: argparse.Namespace) -> int:
    bot = await build(
        settings, policy=policy_or_empty(settings.policy_file), load_connections=False
    )
    try:
        reply = await bot.dispatcher.execute(_operator(bot, settings), parse("status"))
        for line in reply.lines:
            print(line)
        return 0
    finally:
        await bot.close()


async def identity(settings: Settings, args: argparse.Namespace) -> int:
    """The same `identity` command admins type in chat, run on the server."""
    bot = await build(
        settings, policy=policy_or_empty(settings.policy_file), load_connections=False
    )
    try:
        words = ["identity", args.identity_command]
        if args.identity_command == "map":
            words += [args.key, args.email]
        elif args.identity_command == "unmap":
            words += [args.key]
        reply = await bot.dispatcher.execute(_operator(bot, settings), parse(shlex.join(words)))
        print(reply.full_text, file=sys.stdout if reply.ok else sys.stderr)
        return 0 if reply.ok else 1
    finally:
        await bot.close()


async def secret_key(settings: Settings, args: argparse.Namespace) -> int:
    print(new_key())
    return 0


def _operator(bot: Bot, settings: Settings) -> Actor:
    """Whoever runs the CLI on the server acts as an admin (recorded as the first configured
    admin, or USER@localhost)."""
    email = next(iter(sorted(settings.admins)), f"{getpass.getuser()}@localhost")
    bot.service.settings.admins = bot.service.settings.admins | {email}
    return Actor(email, surface="cli")
