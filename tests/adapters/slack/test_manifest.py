"""The Slack app manifest: valid against Slack's published schema, identical to the file in
`manifest/slack/`, and naming exactly the command, route and events the server handles."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from adapters.slack.constants import BOT_SCOPES, COMMAND, EVENTS
from adapters.slack.manifest import PLACEHOLDER_URL, slack_manifest
from bot import commands_manifest
from bot.settings import Settings
from tests.adapters.slack.rig import ALICE, SlackRig
from tests.fakes.slack import payloads, send_signed
from tests.fakes.slack.constants import SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = Path(__file__).parent / "data" / "manifest-schema"
REMOTE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


def _validator() -> jsonschema.Draft7Validator:
    """Slack's entry schema, with its remote references served from the local copies."""
    registry: Registry = Registry()
    for version in ("1.0.0", "2.0.0"):
        name = f"manifest.schema.{version}.json"
        schema = json.loads((SCHEMAS / name).read_text())
        registry = registry.with_resource(
            REMOTE + name, Resource.from_contents(schema, default_specification=DRAFT7)
        )
    entry = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    return jsonschema.Draft7Validator(entry, registry=registry)


def _errors(manifest: dict[str, Any]) -> list[str]:
    return [e.message for e in _validator().iter_errors(manifest)]


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http", "socket-mode"])
def test_manifest_is_valid_against_slacks_schema(socket_mode: bool) -> None:
    assert _errors(slack_manifest("https://access.example.com", socket_mode=socket_mode)) == []


def test_schema_check_is_real() -> None:
    broken = slack_manifest()
    broken["display_information"]["name"] = "x" * 36
    assert _errors(broken) != []
    v1 = json.loads((SCHEMAS / "manifest.schema.1.0.0.json").read_text())
    (error,) = jsonschema.Draft7Validator(v1).iter_errors(broken)
    assert list(error.path) == ["display_information", "name"]


def test_file_in_repository_is_what_the_code_renders() -> None:
    text = (ROOT / "manifest" / "slack" / "manifest.yaml").read_text()
    assert yaml.safe_load(text) == slack_manifest(PLACEHOLDER_URL)


def test_manifest_names_what_the_code_handles() -> None:
    found = slack_manifest("https://access.example.com/")
    (command,) = found["features"]["slash_commands"]
    assert command["command"] == COMMAND
    url = "https://access.example.com/slack/events"
    assert command["url"] == url
    assert found["settings"]["interactivity"] == {
        "is_enabled": True,
        "request_url": url,
        "message_menu_options_url": url,  # the request form's resource menu past 100
    }
    assert found["settings"]["event_subscriptions"]["request_url"] == url
    assert tuple(found["settings"]["event_subscriptions"]["bot_events"]) == EVENTS
    assert set(found["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
    assert found["features"]["app_home"]["home_tab_enabled"] is True
    assert found["features"]["app_home"]["messages_tab_enabled"] is True


async def test_manifest_urls_reach_the_handlers_of_the_running_server(rig: SlackRig) -> None:
    found = slack_manifest(rig.url.removesuffix("/slack/events"))
    (command,) = found["features"]["slash_commands"]
    settings = found["settings"]

    body, content_type = payloads.slash_command(
        "help",
        command=command["command"],
        user_id=ALICE,
        response_url=rig.fake.response_url("help"),
    )
    await send_signed(command["url"], body, content_type, secret=SIGNING_SECRET)
    assert "request RESOURCE" in await rig.answer("help")

    body, content_type = payloads.app_home_opened(ALICE, channel_id=rig.fake.dm_channel_id(ALICE))
    reply = await send_signed(
        settings["event_subscriptions"]["request_url"], body, content_type, secret=SIGNING_SECRET
    )
    assert reply.status == 200
    await rig.fake.next_call("views.publish")

    body, content_type = payloads.block_actions(
        "access.withdraw", "rnosuch", user_id=ALICE, response_url=rig.fake.response_url("click")
    )
    reply = await send_signed(
        settings["interactivity"]["request_url"], body, content_type, secret=SIGNING_SECRET
    )
    assert reply.status == 200
    assert await rig.answer("click") == "There is no request `rnosuch`."


def _run(*argv: str) -> int:
    """`oncall-access manifest ...`, parsed the way bot/cli.py builds the `manifest` command."""
    parser = argparse.ArgumentParser()
    manifest = parser.add_subparsers(dest="command").add_parser("manifest")
    commands_manifest.add_slack_parser(manifest.add_subparsers(dest="manifest_command"))
    args = parser.parse_args(["manifest", *argv])
    assert args.manifest_command == "slack"
    return asyncio.run(commands_manifest.slack(Settings(_env_file=None), args))  # type: ignore[call-arg]


def test_cli_renders_the_manifest_with_the_public_url(tmp_path: Path) -> None:
    code = _run("slack", "--base-url", "https://access.example.com", "--out", str(tmp_path))

    assert code == 0
    written = yaml.safe_load((tmp_path / "manifest.yaml").read_text())
    assert written == json.loads((tmp_path / "manifest.json").read_text())
    assert written == slack_manifest("https://access.example.com")
    assert _errors(written) == []


def test_cli_socket_mode_variant_has_no_urls(tmp_path: Path) -> None:
    assert _run("slack", "--socket-mode", "--out", str(tmp_path)) == 0

    written = yaml.safe_load((tmp_path / "manifest.yaml").read_text())
    assert written["settings"]["socket_mode_enabled"] is True
    assert "http" not in json.dumps(written).replace("https://api.slack.com", "")
    assert _errors(written) == []


@pytest.mark.parametrize("argv", [(), ("--base-url", "access.example.com")], ids=["none", "bad"])
def test_cli_refuses_a_missing_or_bad_url(
    tmp_path: Path, argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("slack", *argv, "--out", str(tmp_path)) == 2
    assert "--base-url" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_manifest_is_not_shared_state() -> None:
    slack_manifest()["features"]["slash_commands"].clear()
    assert slack_manifest()["features"]["slash_commands"]
