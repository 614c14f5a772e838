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
from bot.progress import readings, watch_sync
from bot.provider_forms import FORMS
from bot.settings import Settings
from bot.wiring import Bot, build
from core.commands import parse
from core.connection_form import FieldKind, FormField, form_of
from core.identity import Actor


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    connect = sub.add_parser(
        "connect",
        help=f"connect {_names()} (verifies, stores encrypted, syncs)",
        description="Each provider has its own options: `oncall-access connect PROVIDER --help`.",
    )
    providers = connect.add_subparsers(dest="provider", required=True, metavar="PROVIDER")
    for form in FORMS:
        one = providers.add_parser(form.provider, help=f"connect {form.label}")
        for field in form.fields:
            _add_flag(one, field)
        one.add_argument(
            "--as", dest="actor", default=None, help="who connects, for the audit trail"
        )

    disconnect = sub.add_parser("disconnect", help="remove a provider and its stored credentials")
    disconnect.add_argument("provider", choices=[f.provider for f in FORMS])
    disconnect.add_argument("--as", dest="actor", default=None)

    sub.add_parser("secret-key", help="print a new key for ONCALL_ACCESS_SECRET_KEY")

    identity = sub.add_parser("identity", help="map chat or provider ids to emails by hand")
    identity_sub = identity.add_subparsers(dest="identity_command", required=True, metavar="ACTION")
    mapping = identity_sub.add_parser("map", help="KEY EMAIL, e.g. slack:U123 alice@example.com")
    mapping.add_argument(
        "key",
        help="slack:USER, teams:AAD-ID, pagerduty:USER, opsgenie:USER, jsm:ACCOUNT, github:LOGIN, email:OLD",
    )
    mapping.add_argument("email")
    unmap = identity_sub.add_parser("unmap", help="remove a mapping")
    unmap.add_argument("key")
    identity_sub.add_parser("list", help="list the mappings")
    identity.add_argument("--as", dest="actor", default=None)


def _names() -> str:
    labels = [f.label for f in FORMS]
    return ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else "".join(labels)


def _add_flag(parser: argparse.ArgumentParser, field: FormField) -> None:
    """One flag per field of the provider's form; a secret is read from a file (or stdin),
    never typed on a command line where `ps` and the shell history would keep it."""
    if field.kind is FieldKind.SECRET:
        parser.add_argument(
            field.flag,
            dest=field.name,
            type=Path,
            metavar="FILE",
            help=f"file holding the {field.label} (`-`: stdin)",
        )
    elif field.kind is FieldKind.CHOICE:
        parser.add_argument(
            field.flag,
            dest=field.name,
            choices=[value for value, _ in field.choices],
            default=field.default,
            help=f"{field.label}: " + ", ".join(f"{v} ({label})" for v, label in field.choices),
        )
    else:
        parser.add_argument(field.flag, dest=field.name, default="", help=field.label)


def _read_secret(path: Path | None) -> str:
    if path is None:
        return ""
    if str(path) == "-":
        return sys.stdin.readline().strip()
    return path.read_text(encoding="utf-8").strip()


def _actor(args: argparse.Namespace) -> str:
    return args.actor or f"cli:{getpass.getuser()}"


async def connect(settings: Settings, args: argparse.Namespace) -> int:
    chosen = form_of(FORMS, args.provider)
    assert chosen is not None  # argparse offered only these
    try:
        typed = {
            f.name: _read_secret(getattr(args, f.name))
            if f.kind is FieldKind.SECRET
            else str(getattr(args, f.name) or "")
            for f in chosen.fields
        }
    except OSError as exc:
        print(f"oncall-access: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    form, errors = chosen.read(typed)
    if form is None:
        for name, error in errors.items():
            field = chosen.field(name)
            print(f"oncall-access: {field.flag if field else name}: {error}", file=sys.stderr)
        return 2
    bot = await build(settings, policy=policy_or_empty(settings.policy_file))
    try:
        assert bot.admin is not None
        result = await watch_sync(bot.admin.connect(form, _actor(args)), lambda: readings(bot))
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
