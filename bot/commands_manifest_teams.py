"""`oncall-access manifest teams --base-url URL --out DIR`: the Teams app package to upload,
with this bot's Microsoft App ID and domain filled in."""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from adapters.teams.package import domain_of, write_package
from bot.settings import Settings


def add_teams_parser(manifest_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    teams = manifest_sub.add_parser(
        "teams", help="write the Teams app package (manifest.json, icons, zip) to upload"
    )
    teams.add_argument(
        "--base-url",
        required=True,
        help="where this bot is served, e.g. https://access.example.com",
    )
    teams.add_argument("--out", type=Path, required=True, help="directory to write into")
    teams.add_argument(
        "--app-id", default=None, help="the bot's Microsoft App ID (default: MICROSOFT_APP_ID)"
    )


async def teams(settings: Settings, args: argparse.Namespace) -> int:
    app_id = (args.app_id or settings.microsoft_app_id or "").strip()
    try:
        uuid.UUID(app_id)
    except ValueError:
        print(
            "oncall-access: set MICROSOFT_APP_ID (or pass --app-id) to the bot's Microsoft App ID, "
            "a GUID like 00000000-0000-0000-0000-000000000000",
            file=sys.stderr,
        )
        return 2
    try:
        domain_of(args.base_url)
    except ValueError as exc:
        print(f"oncall-access: {exc}", file=sys.stderr)
        return 2
    archive = write_package(args.out, app_id, args.base_url)
    print(f"Wrote {args.out / 'manifest.json'}, the icons and {archive}.")
    print(f"Messaging endpoint of the bot registration: {args.base_url.rstrip('/')}/api/messages")
    print(f"Upload {archive} in Teams (Apps > Manage your apps > Upload an app).")
    return 0
