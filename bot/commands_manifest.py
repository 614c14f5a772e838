"""`oncall-access manifest slack --base-url URL --out DIR` (or `--socket-mode`): the Slack app
manifest with this deployment's public URL, ready to paste into Slack's "Create an app" dialog.
The Teams package is `manifest teams`, in `commands_manifest_teams.py`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from adapters.slack.manifest import slack_manifest
from bot.settings import Settings

SLACK_HEADER = """\
# Slack app manifest for oncall-access, written by `oncall-access manifest slack`.
# Create the app at https://api.slack.com/apps -> Create New App -> From a manifest, paste
# this file, install it to your workspace, then set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET
# (or SLACK_APP_TOKEN in Socket Mode). See docs/slack.md.
"""


def add_slack_parser(manifest_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`manifest slack`, beside `manifest teams` (bot/commands_manifest_teams.py)."""
    slack = manifest_sub.add_parser(
        "slack", help="write the Slack app manifest (manifest.yaml and .json) to paste into Slack"
    )
    slack.add_argument(
        "--base-url",
        default=None,
        help="where this bot is served (https), e.g. https://access.example.com",
    )
    slack.add_argument("--out", type=Path, required=True, help="directory to write into")
    slack.add_argument(
        "--socket-mode",
        action="store_true",
        help="no request URLs: events arrive over Socket Mode (SLACK_APP_TOKEN)",
    )


async def slack(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 with the files' paths printed, or 2 naming the bad option."""
    if not args.socket_mode and not args.base_url:
        print(
            "oncall-access: --base-url is required (or --socket-mode for hosts Slack cannot reach)",
            file=sys.stderr,
        )
        return 2
    try:
        found = slack_manifest(args.base_url, socket_mode=args.socket_mode)
    except ValueError as exc:
        print(f"oncall-access: --base-url: {exc}", file=sys.stderr)
        return 2
    if args.base_url and not args.socket_mode and not args.base_url.startswith("https://"):
        print("warning: Slack only sends requests to https:// URLs", file=sys.stderr)
    for path in _write_files(args.out, found):
        print(path)
    return 0


def _write_files(out: Path, found: dict[str, Any]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [
        _write(out / "manifest.yaml", SLACK_HEADER + slack_yaml(found)),
        _write(out / "manifest.json", json.dumps(found, indent=2) + "\n"),
    ]


def slack_yaml(found: dict[str, Any]) -> str:
    return yaml.safe_dump(found, sort_keys=False, allow_unicode=True, width=100)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
